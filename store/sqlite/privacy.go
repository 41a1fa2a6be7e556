package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
	const op = "sqlite.TicketsByReporter"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets
WHERE reporter_hash = ? AND channel = ?
ORDER BY created_at DESC, code DESC`, s.keys.Hash(clean(addr)), string(ch))
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows)
	if err != nil {
		return nil, wrap(op, err)
	}
	if ts == nil {
		ts = []bot.Ticket{}
	}
	return ts, nil
}

// SentTo returns the provider IDs of the messages sent to the address to on
// channel ch, oldest first: what a channel needs to take them back from
// the recipient's phone. Messages not (yet) accepted by the provider have
// no ID and are left out, and so are messages whose recipient was erased
// or purged. Returns Invalid if the store has no keyring.
func (s *Store) SentTo(ctx context.Context, ch bot.Channel, to string) ([]string, error) {
	const op = "sqlite.SentTo"
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT provider_id FROM outbox
WHERE recipient_hash = ? AND channel = ? AND provider_id IS NOT NULL
ORDER BY id`, s.keys.Hash(clean(to)), string(ch))
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, wrap(op, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return ids, nil
}

// jsonList is a list as a JSON array, for json_each.
func jsonList(l []string) string {
	b, _ := json.Marshal(l)
	return string(b)
}

// statisticAnswers keeps only the statistics of a ticket's clear answers
// (?1 is the JSON list of their names).
const statisticAnswers = `(SELECT coalesce(json_group_object(a.key, a.value), '{}') FROM json_each(answers) AS a
	WHERE a.key IN (SELECT value FROM json_each(?1)))`

// hasPrivateAnswers is true for clear answers that are not all statistics
// (written before sealing began); ?1 is the JSON list of statistics.
const hasPrivateAnswers = `EXISTS (SELECT 1 FROM json_each(answers) AS a WHERE a.key NOT IN (SELECT value FROM json_each(?1)))`

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
	const op = "sqlite.EraseTicket"
	var n seal.Counts
	z, err := s.sealer(op)
	if err != nil {
		return n, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return n, wrap(op, err)
	}
	defer tx.Rollback()
	var (
		ch   string
		hash []byte
	)
	err = tx.QueryRowContext(ctx, `SELECT channel, reporter_hash FROM tickets WHERE code = ?`, code).Scan(&ch, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return n, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	if err != nil {
		return n, wrap(op, err)
	}
	count := func(res sql.Result, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	if n.Tickets, err = count(tx.ExecContext(ctx, `UPDATE tickets SET reporter = X'', reporter_hash = NULL,
	sealed_answers = NULL, answers = `+statisticAnswers+`, updated_at = max(updated_at, ?3)
WHERE code = ?2`, jsonList(seal.StatisticFields()), code, micros(at))); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Events, err = count(tx.ExecContext(ctx, `UPDATE ticket_events SET detail = X''
WHERE ticket_code = ? AND type NOT IN ('status', 'erased') AND length(detail) > 0`, code)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Outbox, err = count(tx.ExecContext(ctx, `UPDATE outbox SET recipient = X'', recipient_hash = NULL, body = X'',
	last_error = CASE WHEN state = 'pending' THEN 'erased' ELSE last_error END,
	state = CASE WHEN state = 'pending' THEN 'failed' ELSE state END
WHERE (ticket_code = ?1 OR (ticket_code IS NULL AND recipient_hash = ?2 AND channel = ?3))
	AND (length(recipient) > 0 OR length(body) > 0)`, code, hash, ch)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Attachments, err = count(tx.ExecContext(ctx, `DELETE FROM attachments
WHERE ticket_code = ?1 OR (ticket_code IS NULL AND sender_hash = ?2)`, code, hash)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	detail := z.Text(seal.PlaceDetail, code, "personal data erased: "+n.String())
	if _, err := tx.ExecContext(ctx, `INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES (?, ?, ?, 'erased', ?)`,
		code, micros(at), clean(actor), detail); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	return n, nil
}

// closedSQL selects the codes of tickets done before ?2: by when they
// were closed, or else their last "closed" event, or else their last
// update.
const closedSQL = `SELECT code FROM tickets t WHERE status = 'done'
	AND coalesce(t.closed_at, (SELECT max(at) FROM ticket_events e WHERE e.ticket_code = t.code AND e.type = 'closed'),
		t.updated_at) < ?2`

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
	const op = "sqlite.Purge"
	var n seal.Counts
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return n, wrap(op, err)
	}
	defer tx.Rollback()
	count := func(res sql.Result, err error) (int64, error) {
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	}
	cut := micros(closedBefore)
	if n.Tickets, err = count(tx.ExecContext(ctx, `UPDATE tickets SET reporter = X'', reporter_hash = NULL,
	sealed_answers = NULL, answers = `+statisticAnswers+`
WHERE code IN (`+closedSQL+`)
	AND (length(reporter) > 0 OR reporter_hash IS NOT NULL OR sealed_answers IS NOT NULL OR `+hasPrivateAnswers+`)`,
		jsonList(seal.StatisticFields()), cut)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Events, err = count(tx.ExecContext(ctx, `UPDATE ticket_events SET detail = X''
WHERE ticket_code IN (`+closedSQL+`) AND type IN (SELECT value FROM json_each(?1)) AND length(detail) > 0`,
		jsonList(seal.TranscriptEvents()), cut)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Outbox, err = count(tx.ExecContext(ctx, `UPDATE outbox SET recipient = X'', recipient_hash = NULL, body = X''
WHERE state <> 'pending' AND (length(recipient) > 0 OR length(body) > 0)
	AND (ticket_code IN (`+closedSQL+`) OR (ticket_code IS NULL AND created_at < ?2))`,
		nil, cut)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if n.Attachments, err = count(tx.ExecContext(ctx, `DELETE FROM attachments WHERE ticket_code IN (`+closedSQL+`)`,
		nil, cut)); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	if dryRun {
		return n, nil // rolled back
	}
	if err := tx.Commit(); err != nil {
		return seal.Counts{}, wrap(op, err)
	}
	return n, nil
}

// PurgeAttachments deletes the attachments received before receivedBefore
// that belong to no ticket: files whose report was never filed. With
// dryRun it deletes nothing and says how many it would. It returns how
// many it deleted.
func (s *Store) PurgeAttachments(ctx context.Context, receivedBefore time.Time, dryRun bool) (int64, error) {
	const op = "sqlite.PurgeAttachments"
	const where = ` FROM attachments WHERE ticket_code IS NULL AND received_at < ?`
	if dryRun {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*)`+where, micros(receivedBefore)).Scan(&n); err != nil {
			return 0, wrap(op, err)
		}
		return n, nil
	}
	res, err := s.db.ExecContext(ctx, `DELETE`+where, micros(receivedBefore))
	if err != nil {
		return 0, wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}

// OptedOut reports whether the address said STOP and has not written
// since (bot.OptOuts): the service then starts nothing with it. Returns
// Invalid if the store has no keyring.
func (s *Store) OptedOut(ctx context.Context, addr string) (bool, error) {
	const op = "sqlite.OptedOut"
	if s.keys == nil {
		return false, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	var out bool
	err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM opt_outs WHERE address_hash = ?)`,
		s.keys.Hash(clean(addr))).Scan(&out)
	if err != nil {
		return false, wrap(op, err)
	}
	return out, nil
}
