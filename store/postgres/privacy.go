package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/internal/seal"
)

var (
	_ bot.ReporterTickets = (*Store)(nil)
	_ bot.OptOuts         = (*Store)(nil)
)

// TicketsByReporter returns the tickets filed from addr on channel ch,
// newest first, found by the address's lookup hash. Tickets whose reporter
// was erased or purged, and tickets written before sealing began that
// `aduan keys rotate` has not yet hashed, are not found. Returns Invalid if
// the store has no keyring.
func (s *Store) TicketsByReporter(ctx context.Context, ch bot.Channel, addr string) ([]bot.Ticket, error) {
	const op = "postgres.TicketsByReporter"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
WHERE reporter_hash = $1 AND channel = $2
ORDER BY created_at DESC, code DESC`, s.keys.Hash(clean(addr)), string(ch))
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows, 0)
	if err != nil {
		return nil, wrap(op, err)
	}
	return ts, nil
}

// SentTo returns the provider IDs of the messages sent to the address to on
// channel ch, oldest first: what a channel needs to take them back from
// the recipient's phone. Messages not (yet) accepted by the provider have
// no ID and are left out, and so are messages whose recipient was erased
// or purged. Returns Invalid if the store has no keyring.
func (s *Store) SentTo(ctx context.Context, ch bot.Channel, to string) ([]string, error) {
	const op = "postgres.SentTo"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	rows, err := s.pool.Query(ctx, `SELECT provider_id FROM outbox
WHERE recipient_hash = $1 AND channel = $2 AND provider_id IS NOT NULL
ORDER BY id`, s.keys.Hash(clean(to)), string(ch))
	if err != nil {
		return nil, wrap(op, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(op, err)
	}
	return ids, nil
}

// statisticAnswers keeps only the statistics of a ticket's clear answers
// ($1 is the list of their names).
const statisticAnswers = `(SELECT coalesce(jsonb_object_agg(k, v), '{}'::jsonb) FROM jsonb_each(answers) AS a(k, v)
	WHERE k = ANY($1::text[]))`

// hasPrivateAnswers is true for clear answers that are not all statistics
// (written before sealing began); $1 is the list of statistics.
const hasPrivateAnswers = `EXISTS (SELECT 1 FROM jsonb_object_keys(answers) AS a(k) WHERE NOT (k = ANY($1::text[])))`

// EraseTicket erases the personal data of the ticket with the code, on the
// reporter's request: the reporter's address, every answer that is not a
// statistic (name, description, place, ...), the detail of every event but
// status changes and earlier erasures, and the recipient and body of every
// outbox message about the ticket or to the reporter about no ticket.
// Messages still waiting to be sent are failed. It deletes the ticket's
// attachments, and those the reporter sent that belong to no ticket yet
// (on any channel: the lookup hash is the address's). The ticket keeps its
// structured fields, and gets an "erased" event by actor at at. All of it
// is one transaction. It returns how many rows it changed. Returns
// NotFound if no ticket has the code and Invalid if the store has no
// keyring. Wipe a WhatsApp chat first: SentTo no longer finds messages
// whose recipient was erased.
func (s *Store) EraseTicket(ctx context.Context, code string, at time.Time, actor string) (seal.Counts, error) {
	const op = "postgres.EraseTicket"
	var n seal.Counts
	z, err := s.sealer(op)
	if err != nil {
		return n, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var (
			ch   string
			hash []byte
		)
		err := tx.QueryRow(ctx, `SELECT channel, reporter_hash FROM tickets WHERE code = $1 FOR UPDATE`, code).Scan(&ch, &hash)
		if isNoRows(err) {
			return bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
		}
		if err != nil {
			return err
		}
		stats := seal.StatisticFields()
		tag, err := tx.Exec(ctx, `UPDATE tickets SET reporter = '\x'::bytea, reporter_hash = NULL, sealed_answers = NULL,
	answers = `+statisticAnswers+`, updated_at = GREATEST(updated_at, $3)
WHERE code = $2`, stats, code, at)
		if err != nil {
			return err
		}
		n.Tickets = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `UPDATE ticket_events SET detail = '\x'::bytea
WHERE ticket_code = $1 AND type NOT IN ('status', 'erased') AND length(detail) > 0`, code); err != nil {
			return err
		}
		n.Events = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `UPDATE outbox SET recipient = '\x'::bytea, recipient_hash = NULL, body = '\x'::bytea,
	last_error = CASE WHEN state = 'pending' THEN 'erased' ELSE last_error END,
	state = CASE WHEN state = 'pending' THEN 'failed' ELSE state END
WHERE (ticket_code = $1 OR (ticket_code IS NULL AND recipient_hash = $2 AND channel = $3))
	AND (length(recipient) > 0 OR length(body) > 0)`, code, hash, ch); err != nil {
			return err
		}
		n.Outbox = tag.RowsAffected()
		if tag, err = tx.Exec(ctx, `DELETE FROM attachments
WHERE ticket_code = $1 OR (ticket_code IS NULL AND sender_hash = $2)`, code, hash); err != nil {
			return err
		}
		n.Attachments = tag.RowsAffected()
		detail := z.Text(seal.PlaceDetail, code, "personal data erased: "+n.String())
		_, err = tx.Exec(ctx, `INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES ($1, $2, $3, 'erased', $4)`,
			code, at, clean(actor), detail)
		return err
	})
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return seal.Counts{}, err
		}
		return seal.Counts{}, wrap(op, err)
	}
	return n, nil
}

// closedSQL selects the codes of tickets done before the time parameter
// p: by when they were closed, or else their last "closed" event, or else
// their last update.
func closedSQL(p string) string {
	return `SELECT code FROM tickets t WHERE status = 'done'
	AND coalesce(t.closed_at, (SELECT max(at) FROM ticket_events e WHERE e.ticket_code = t.code AND e.type = 'closed'),
		t.updated_at) < ` + p
}

// Purge applies the retention period: for every ticket done (status
// "done") before closedBefore, it removes the reporter's address, every
// answer that is not a statistic, the detail of notes and relayed messages,
// and the recipient and body of sent or failed outbox messages about the
// ticket; it deletes the ticket's attachments; and it does the same to
// sent or failed messages about no ticket (conversation replies) written
// before closedBefore. Tickets keep their
// structured fields (kind, status, kecamatan, statistics answers, times)
// and the rest of their history. With dryRun it changes nothing and says
// what it would change. It is one transaction, and running it again
// changes nothing more.
func (s *Store) Purge(ctx context.Context, closedBefore time.Time, dryRun bool) (seal.Counts, error) {
	const op = "postgres.Purge"
	var n seal.Counts
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return n, wrap(op, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stats := seal.StatisticFields()
	tag, err := tx.Exec(ctx, `UPDATE tickets SET reporter = '\x'::bytea, reporter_hash = NULL, sealed_answers = NULL,
	answers = `+statisticAnswers+`
WHERE code IN (`+closedSQL("$2")+`)
	AND (length(reporter) > 0 OR reporter_hash IS NOT NULL OR sealed_answers IS NOT NULL OR `+hasPrivateAnswers+`)`,
		stats, closedBefore)
	if err != nil {
		return n, wrap(op, err)
	}
	n.Tickets = tag.RowsAffected()
	if tag, err = tx.Exec(ctx, `UPDATE ticket_events SET detail = '\x'::bytea
WHERE ticket_code IN (`+closedSQL("$2")+`) AND type = ANY($1::text[]) AND length(detail) > 0`,
		seal.TranscriptEvents(), closedBefore); err != nil {
		return n, wrap(op, err)
	}
	n.Events = tag.RowsAffected()
	if tag, err = tx.Exec(ctx, `UPDATE outbox SET recipient = '\x'::bytea, recipient_hash = NULL, body = '\x'::bytea
WHERE state <> 'pending' AND (length(recipient) > 0 OR length(body) > 0)
	AND (ticket_code IN (`+closedSQL("$1")+`) OR (ticket_code IS NULL AND created_at < $1))`, closedBefore); err != nil {
		return n, wrap(op, err)
	}
	n.Outbox = tag.RowsAffected()
	if tag, err = tx.Exec(ctx, `DELETE FROM attachments WHERE ticket_code IN (`+closedSQL("$1")+`)`, closedBefore); err != nil {
		return n, wrap(op, err)
	}
	n.Attachments = tag.RowsAffected()
	if dryRun {
		return n, nil // rolled back
	}
	if err := tx.Commit(ctx); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	return n, nil
}

// PurgeAttachments deletes the attachments received before receivedBefore
// that belong to no ticket: files whose report was never filed. With
// dryRun it deletes nothing and says how many it would. It returns how
// many it deleted.
func (s *Store) PurgeAttachments(ctx context.Context, receivedBefore time.Time, dryRun bool) (int64, error) {
	const op = "postgres.PurgeAttachments"
	const where = ` FROM attachments WHERE ticket_code IS NULL AND received_at < $1`
	if dryRun {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, receivedBefore).Scan(&n); err != nil {
			return 0, wrap(op, err)
		}
		return n, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE`+where, receivedBefore)
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// OptedOut reports whether the address said STOP and has not written
// since (bot.OptOuts): the service then starts nothing with it. Returns
// Invalid if the store has no keyring.
func (s *Store) OptedOut(ctx context.Context, addr string) (bool, error) {
	const op = "postgres.OptedOut"
	if s.keys == nil {
		return false, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	var out bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE address_hash = $1)`,
		s.keys.Hash(clean(addr))).Scan(&out)
	if err != nil {
		return false, wrap(op, err)
	}
	return out, nil
}

// RelayTickets returns, for each address that has one, its newest open
// ticket on which an officer wrote to the reporter (bot.Ticket.Relay), in
// one query for the whole batch, found by the addresses' lookup hashes on
// any channel. Returns Invalid if the store has no keyring.
func (s *Store) RelayTickets(ctx context.Context, addrs []string) (map[string]bot.Ticket, error) {
	const op = "postgres.RelayTickets"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	hashes := make([][]byte, len(addrs))
	for i, a := range addrs {
		hashes[i] = s.keys.Hash(clean(a))
	}
	rows, err := s.pool.Query(ctx, `SELECT `+ticketColumns+` FROM tickets
WHERE reporter_hash = ANY($1::bytea[]) AND relay AND status <> 'done'
ORDER BY created_at DESC, code DESC`, hashes)
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows, 0)
	if err != nil {
		return nil, wrap(op, err)
	}
	var out map[string]bot.Ticket
	for _, t := range ts {
		if _, seen := out[t.Reporter]; !seen {
			if out == nil {
				out = map[string]bot.Ticket{}
			}
			out[t.Reporter] = t
		}
	}
	return out, nil
}
