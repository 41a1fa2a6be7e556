package sqlstore

import (
	"context"
	"fmt"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// TicketsByReporter returns the tickets filed from addr on channel ch,
// newest first, found by the address's lookup hash. Tickets whose reporter
// was erased or purged, and tickets written before sealing began that
// `aduan keys rotate` has not yet hashed, are not found. Returns Invalid if
// the store has no keyring.
func (s *Store) TicketsByReporter(ctx context.Context, ch bot.Channel, addr string) ([]bot.Ticket, error) {
	const op = "sqlstore.TicketsByReporter"
	h, err := s.hash(op, addr)
	if err != nil {
		return nil, err
	}
	ts, err := s.tickets(ctx, s.d, 0, `SELECT `+ticketColumns+` FROM tickets
WHERE reporter_hash = $1 AND channel = $2
ORDER BY created_at DESC, code DESC`, h, string(ch))
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return ts, nil
}

// LiveTickets returns, for each of addrs that has any, the tickets it
// filed from any channel that are open or were closed at or after
// closedSince, newest first (bot.LiveLookup), in one query for the whole
// batch, found by the addresses' lookup hashes. Returns Invalid if the
// store has no keyring.
func (s *Store) LiveTickets(ctx context.Context, addrs []string, closedSince time.Time) (map[string][]bot.Ticket, error) {
	const op = "sqlstore.LiveTickets"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	if len(addrs) == 0 {
		return nil, nil
	}
	ts, err := s.tickets(ctx, s.d, 0, `SELECT `+ticketColumns+` FROM tickets
WHERE reporter_hash IN (SELECT u.hash FROM {rows}) AND (status <> 'done' OR closed_at >= $1)
ORDER BY created_at DESC, code DESC`, closedSince, rowsOf(len(addrs)).
		bytes("hash", func(i int) []byte { return s.keys.Hash(clean(addrs[i])) }))
	if err != nil {
		return nil, s.wrap(op, err)
	}
	var out map[string][]bot.Ticket
	for _, t := range ts {
		if out == nil {
			out = map[string][]bot.Ticket{}
		}
		out[t.Reporter] = append(out[t.Reporter], t)
	}
	return out, nil
}

// SentTo returns the provider IDs of the messages sent to the address to on
// channel ch, oldest first: what a channel needs to take them back from
// the recipient's phone. Messages not (yet) accepted by the provider have
// no ID and are left out, and so are messages whose recipient was erased
// or purged. Returns Invalid if the store has no keyring.
func (s *Store) SentTo(ctx context.Context, ch bot.Channel, to string) ([]string, error) {
	const op = "sqlstore.SentTo"
	h, err := s.hash(op, to)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	var id string
	err = scanEach(ctx, s.d, `SELECT provider_id FROM outbox
WHERE recipient_hash = $1 AND channel = $2 AND provider_id IS NOT NULL
ORDER BY id`, []any{h, string(ch)}, func() error { ids = append(ids, id); return nil }, &id)
	if err != nil {
		return nil, s.wrap(op, err)
	}
	return ids, nil
}

// OptedOut reports whether the address said STOP and has not written
// since (bot.OptOuts): the service then starts nothing with it. Returns
// Invalid if the store has no keyring.
func (s *Store) OptedOut(ctx context.Context, addr string) (bool, error) {
	const op = "sqlstore.OptedOut"
	h, err := s.hash(op, addr)
	if err != nil {
		return false, err
	}
	var out bool
	if err := queryRow(ctx, s.d, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE address_hash = $1)`, []any{h}, &out); err != nil {
		return false, s.wrap(op, err)
	}
	return out, nil
}

// keepAnswers is a ticket's clear answers but the statistics, whose names
// are the rows' name; moreAnswers is true when there is more than them
// (answers written before sealing began).
func keepAnswers(q *sqlText) string {
	return `(SELECT coalesce(` + q.objectAgg + `(a.key, a.value), '{}') FROM ` + q.answers + `
	WHERE a.key IN (SELECT u.name FROM {rows}))`
}

func moreAnswers(q *sqlText) string {
	return `EXISTS (SELECT 1 FROM ` + q.answers + ` WHERE a.key NOT IN (SELECT u.name FROM {rows}))`
}

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
	const op = "sqlstore.EraseTicket"
	var n seal.Counts
	z, err := s.sealer(op)
	if err != nil {
		return n, err
	}
	q := s.d.sql()
	err = s.inTx(ctx, false, func(c txConn) (bool, error) {
		var (
			ch   string
			hash []byte
		)
		err := queryRow(ctx, c, `SELECT channel, reporter_hash FROM tickets WHERE code = $1 `+q.forUpdate, []any{code}, &ch, &hash)
		if err == errNoRows {
			return false, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
		}
		if err != nil {
			return false, err
		}
		if n.Tickets, err = c.exec(ctx, `UPDATE tickets SET reporter = $3, reporter_hash = NULL, sealed_answers = NULL,
	answers = `+keepAnswers(q)+`, updated_at = CASE WHEN updated_at < $2 THEN $2 ELSE updated_at END
WHERE code = $1`, code, at, empty, names(seal.StatisticFields())); err != nil {
			return false, err
		}
		if n.Events, err = c.exec(ctx, `UPDATE ticket_events SET detail = $2
WHERE ticket_code = $1 AND type NOT IN ('status', 'erased') AND length(detail) > 0`, code, empty); err != nil {
			return false, err
		}
		if n.Outbox, err = c.exec(ctx, `UPDATE outbox SET recipient = $4, recipient_hash = NULL, body = $4,
	last_error = CASE WHEN state = 'pending' THEN 'erased' ELSE last_error END,
	state = CASE WHEN state = 'pending' THEN 'failed' ELSE state END
WHERE (ticket_code = $1 OR (ticket_code IS NULL AND recipient_hash = $2 AND channel = $3))
	AND (length(recipient) > 0 OR length(body) > 0)`, code, hash, ch, empty); err != nil {
			return false, err
		}
		if n.Attachments, err = c.exec(ctx, `DELETE FROM attachments
WHERE ticket_code = $1 OR (ticket_code IS NULL AND sender_hash = $2)`, code, hash); err != nil {
			return false, err
		}
		_, err = c.exec(ctx, `INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES ($1, $2, $3, 'erased', $4)`,
			code, at, clean(actor), z.Text(seal.PlaceDetail, code, "personal data erased: "+n.String()))
		return true, err
	})
	if err != nil {
		return seal.Counts{}, s.wrap(op, err)
	}
	return n, nil
}

// closedSQL selects the codes of tickets done before $1: by when they were
// closed, or else their last "closed" event, or else their last update.
const closedSQL = `SELECT code FROM tickets t WHERE status = 'done'
	AND coalesce(t.closed_at, (SELECT max(at) FROM ticket_events e WHERE e.ticket_code = t.code AND e.type = 'closed'),
		t.updated_at) < $1`

// Purge applies the retention period: for every ticket done (status
// "done") before closedBefore, it removes the reporter's address, every
// answer that is not a statistic, the detail of notes and relayed messages,
// and the recipient and body of sent or failed outbox messages about the
// ticket; it deletes the ticket's attachments; and it does the same to
// sent or failed messages about no ticket (conversation replies) written
// before closedBefore. Tickets keep their structured fields (kind, status,
// kecamatan, statistics answers, times) and the rest of their history.
// With dryRun it changes nothing and says what it would change. It is one
// transaction, and running it again changes nothing more.
func (s *Store) Purge(ctx context.Context, closedBefore time.Time, dryRun bool) (seal.Counts, error) {
	var n seal.Counts
	q := s.d.sql()
	err := s.inTx(ctx, false, func(c txConn) (bool, error) {
		var err error
		if n.Tickets, err = c.exec(ctx, `UPDATE tickets SET reporter = $2, reporter_hash = NULL, sealed_answers = NULL,
	answers = `+keepAnswers(q)+`
WHERE code IN (`+closedSQL+`)
	AND (length(reporter) > 0 OR reporter_hash IS NOT NULL OR sealed_answers IS NOT NULL OR `+moreAnswers(q)+`)`,
			closedBefore, empty, names(seal.StatisticFields())); err != nil {
			return false, err
		}
		if n.Events, err = c.exec(ctx, `UPDATE ticket_events SET detail = $2
WHERE ticket_code IN (`+closedSQL+`) AND type IN (SELECT u.name FROM {rows}) AND length(detail) > 0`,
			closedBefore, empty, names(seal.TranscriptEvents())); err != nil {
			return false, err
		}
		if n.Outbox, err = c.exec(ctx, `UPDATE outbox SET recipient = $2, recipient_hash = NULL, body = $2
WHERE state <> 'pending' AND (length(recipient) > 0 OR length(body) > 0)
	AND (ticket_code IN (`+closedSQL+`) OR (ticket_code IS NULL AND created_at < $1))`, closedBefore, empty); err != nil {
			return false, err
		}
		n.Attachments, err = c.exec(ctx, `DELETE FROM attachments WHERE ticket_code IN (`+closedSQL+`)`, closedBefore)
		return !dryRun, err // a dry run is rolled back
	})
	if err != nil {
		return seal.Counts{}, s.wrap("sqlstore.Purge", err)
	}
	return n, nil
}

// PurgeAttachments deletes the attachments received before receivedBefore
// that belong to no ticket: files whose report was never filed. With
// dryRun it deletes nothing and says how many it would. It returns how
// many it deleted.
func (s *Store) PurgeAttachments(ctx context.Context, receivedBefore time.Time, dryRun bool) (int64, error) {
	return s.deleteOrCount(ctx, "sqlstore.PurgeAttachments", dryRun,
		` FROM attachments WHERE ticket_code IS NULL AND received_at < $1`, receivedBefore)
}

// deleteOrCount deletes the rows of the query from ("FROM ... WHERE ...")
// or, with dryRun, counts them. It returns how many.
func (s *Store) deleteOrCount(ctx context.Context, op string, dryRun bool, from string, args ...any) (int64, error) {
	var (
		n   int64
		err error
	)
	if dryRun {
		err = queryRow(ctx, s.d, `SELECT count(*)`+from, args, &n)
	} else {
		n, err = s.d.exec(ctx, `DELETE`+from, args...)
	}
	if err != nil {
		return 0, s.wrap(op, err)
	}
	return n, nil
}
