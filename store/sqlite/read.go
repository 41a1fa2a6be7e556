package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// ticketColumns are the columns scanTickets reads, in order.
const ticketColumns = `code, kind, status, urgent, kecamatan, answers, channel, reporter, sealed_answers, created_at, updated_at,
	assignee, backups, accepted_at, closed_at, relay, marks, next_due_at`

// Ticket returns the ticket with the code. Returns NotFound if none has it.
func (s *Store) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	const op = "sqlite.Ticket"
	rows, err := s.db.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE code = ?`, code)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	ts, err := s.scanTickets(rows)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	if len(ts) == 0 {
		return bot.Ticket{}, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return ts[0], nil
}

// Tickets lists tickets matching the filter, newest first (by creation,
// then by code).
func (s *Store) Tickets(ctx context.Context, f bot.TicketFilter) ([]bot.Ticket, error) {
	const op = "sqlite.Tickets"
	var (
		q     strings.Builder
		args  []any
		where = " WHERE "
	)
	q.WriteString(`SELECT ` + ticketColumns + ` FROM tickets`)
	if f.Status != "" {
		q.WriteString(where + "status = ?")
		args = append(args, string(f.Status))
		where = " AND "
	}
	if f.Kind != "" {
		q.WriteString(where + "kind = ?")
		args = append(args, string(f.Kind))
		where = " AND "
	}
	if f.Assignee != "" {
		q.WriteString(where + "assignee = ?")
		args = append(args, f.Assignee)
		where = " AND "
	}
	if f.Open {
		q.WriteString(where + "status <> '" + string(bot.StatusDone) + "'")
		where = " AND "
	}
	if !f.Since.IsZero() {
		q.WriteString(where + "created_at >= ?")
		args = append(args, micros(f.Since))
	}
	q.WriteString(" ORDER BY created_at DESC, code DESC")
	if f.Limit > 0 {
		q.WriteString(" LIMIT ?")
		args = append(args, f.Limit)
	}
	rows, err := s.db.QueryContext(ctx, q.String(), args...)
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

// scanTickets reads rows of ticketColumns, opening what is sealed, and
// closes rows.
func (s *Store) scanTickets(rows *sql.Rows) ([]bot.Ticket, error) {
	defer rows.Close()
	var (
		ts []bot.Ticket
		o  = s.opener()
	)
	for rows.Next() {
		var (
			t                          bot.Ticket
			answers, reporter, private []byte
			created, updated           int64
			backups, marks             string
			accepted, closedAt         sql.NullInt64
			nextDue                    sql.NullInt64
		)
		if err := rows.Scan(&t.Code, &t.Kind, &t.Status, &t.Urgent, &t.Kecamatan, &answers,
			&t.Channel, &reporter, &private, &created, &updated,
			&t.Assignee, &backups, &accepted, &closedAt, &t.Relay, &marks, &nextDue); err != nil {
			return nil, err
		}
		var err error
		if backups != "[]" && backups != "" {
			if err := json.Unmarshal([]byte(backups), &t.Backups); err != nil {
				return nil, fmt.Errorf("ticket %s: backups: %w", t.Code, err)
			}
			if len(t.Backups) == 0 {
				t.Backups = nil
			}
		}
		if accepted.Valid {
			t.AcceptedAt = fromMicros(accepted.Int64)
		}
		if closedAt.Valid {
			t.ClosedAt = fromMicros(closedAt.Int64)
		}
		if nextDue.Valid {
			t.NextDue = fromMicros(nextDue.Int64)
		}
		if t.Marks, err = decodeMarks(marks); err != nil {
			return nil, fmt.Errorf("ticket %s: marks: %w", t.Code, err)
		}
		if t.Answers, err = o.Answers(t.Code, answers, private); err != nil {
			return nil, err
		}
		if t.Reporter, err = o.Text(reporter, seal.PlaceReporter, t.Code); err != nil {
			return nil, err
		}
		t.CreatedAt, t.UpdatedAt = fromMicros(created), fromMicros(updated)
		ts = append(ts, t)
	}
	return ts, rows.Err()
}

// Ticket reads the ticket with the code in the transaction
// (bot.LockingTx). The transaction holds the database's write lock from
// its start, so no other writer changes the ticket before it ends.
// Returns NotFound if no ticket has the code.
func (t *Tx) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	const op = "sqlite.Tx.Ticket"
	rows, err := t.tx.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE code = ?`, code)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	ts, err := t.s.scanTickets(rows)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	if len(ts) == 0 {
		return bot.Ticket{}, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return ts[0], nil
}

// Events returns a ticket's history in the order it was written. Returns
// NotFound if no ticket has the code.
func (s *Store) Events(ctx context.Context, code string) ([]bot.Event, error) {
	const op = "sqlite.Events"
	rows, err := s.db.QueryContext(ctx, `
SELECT e.id, e.at, e.actor, e.type, e.detail
FROM tickets t LEFT JOIN ticket_events e ON e.ticket_code = t.code
WHERE t.code = ?
ORDER BY e.id`, code)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var (
		found bool
		es    []bot.Event
		o     = s.opener()
	)
	for rows.Next() {
		found = true
		var (
			id         sql.NullInt64
			at         sql.NullInt64
			actor, typ sql.NullString
			detail     []byte
		)
		if err := rows.Scan(&id, &at, &actor, &typ, &detail); err != nil {
			return nil, wrap(op, err)
		}
		if id.Valid {
			d, err := o.Text(detail, seal.PlaceDetail, code)
			if err != nil {
				return nil, wrap(op, err)
			}
			es = append(es, bot.Event{TicketCode: code, At: fromMicros(at.Int64), Actor: actor.String, Type: typ.String, Detail: d})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	if !found {
		return nil, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return es, nil
}

// DueOutbound leases up to limit pending messages due at now, longest due
// first, until now+lease.
func (s *Store) DueOutbound(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]bot.Outbound, error) {
	const op = "sqlite.DueOutbound"
	if limit <= 0 {
		return nil, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `
SELECT id, channel, recipient, body, purpose, coalesce(ticket_code, ''), attempts, created_at,
	coalesce(attachment_id, 0)
FROM outbox
WHERE state = 'pending' AND next_attempt_at <= ?
ORDER BY next_attempt_at, id
LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	var (
		out []bot.Outbound
		o   = s.opener()
	)
	for rows.Next() {
		var (
			m        bot.Outbound
			created  int64
			to, body []byte
		)
		if err := rows.Scan(&m.ID, &m.Channel, &to, &body, &m.Purpose, &m.TicketCode, &m.Attempts, &created,
			&m.Attachment); err != nil {
			rows.Close()
			return nil, wrap(op, err)
		}
		var err error
		if m.To, m.Body, err = o.Outbound(to, body, m.TicketCode); err != nil {
			rows.Close()
			return nil, wrap(op, fmt.Errorf("outbox message %d: %w", m.ID, err))
		}
		m.CreatedAt = fromMicros(created)
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(out))
	for i, m := range out {
		ids[i] = m.ID
	}
	idJSON, _ := json.Marshal(ids)
	if _, err := tx.ExecContext(ctx, `UPDATE outbox SET next_attempt_at = ? WHERE id IN (SELECT value FROM json_each(?))`,
		micros(now.Add(lease)), string(idJSON)); err != nil {
		return nil, wrap(op, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// Settle records the outcomes of send attempts: sent (ProviderID set),
// retried at RetryAt (Err and RetryAt set) or failed for good (Err, zero
// RetryAt). Each attempt counts. Deliveries for unknown or already settled
// messages are ignored. Returns Conflict if a provider ID is already
// recorded for another message.
func (s *Store) Settle(ctx context.Context, ds []bot.Delivery) error {
	const op = "sqlite.Settle"
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.ProviderID == "" && d.Err == "" {
			return bot.E(op, bot.Invalid, fmt.Errorf("delivery of message %d has neither provider ID nor error", d.ID))
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	sent, err := tx.PrepareContext(ctx, `
UPDATE outbox SET state = 'sent', attempts = attempts + 1, sent_at = ?, provider_id = ?
WHERE id = ? AND state = 'pending'`)
	if err != nil {
		return wrap(op, err)
	}
	defer sent.Close()
	failed, err := tx.PrepareContext(ctx, `
UPDATE outbox SET
	state = CASE WHEN ? THEN 'pending' ELSE 'failed' END,
	attempts = attempts + 1,
	last_error = ?,
	next_attempt_at = CASE WHEN ? THEN ? ELSE next_attempt_at END
WHERE id = ? AND state = 'pending'`)
	if err != nil {
		return wrap(op, err)
	}
	defer failed.Close()
	now := micros(time.Now())
	for _, d := range ds {
		if d.ProviderID != "" {
			_, err = sent.ExecContext(ctx, now, clean(d.ProviderID), d.ID)
		} else {
			retry := !d.RetryAt.IsZero()
			_, err = failed.ExecContext(ctx, retry, clean(d.Err), retry, micros(d.RetryAt), d.ID)
		}
		if err != nil {
			return wrap(op, fmt.Errorf("settle message %d: %w", d.ID, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// RecordStatus stores a provider's delivery report. A report older than the
// one already stored is ignored, since providers may call back out of
// order. Returns NotFound if no outbox message has the provider ID.
func (s *Store) RecordStatus(ctx context.Context, providerID, status string, at time.Time) error {
	const op = "sqlite.RecordStatus"
	res, err := s.db.ExecContext(ctx, `
UPDATE outbox SET
	delivery_status = CASE WHEN delivery_at IS NULL OR delivery_at <= ?1 THEN ?2 ELSE delivery_status END,
	delivery_at = CASE WHEN delivery_at IS NULL OR delivery_at <= ?1 THEN ?1 ELSE delivery_at END
WHERE provider_id = ?3`, micros(at), clean(status), providerID)
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return bot.E(op, bot.NotFound, fmt.Errorf("no outbox message with provider ID %q", providerID))
	}
	return nil
}

// Outbox lists all outbox messages, oldest first. It reads the whole table:
// for tools and tests.
func (s *Store) Outbox(ctx context.Context) ([]bot.OutboxEntry, error) {
	const op = "sqlite.Outbox"
	rows, err := s.db.QueryContext(ctx, `
SELECT id, channel, recipient, body, purpose, coalesce(ticket_code, ''), attempts, created_at,
	coalesce(attachment_id, 0), state, coalesce(provider_id, ''), last_error, delivery_status, sent_at
FROM outbox ORDER BY id`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var (
		out []bot.OutboxEntry
		o   = s.opener()
	)
	for rows.Next() {
		var (
			e        bot.OutboxEntry
			created  int64
			sentAt   sql.NullInt64
			to, body []byte
		)
		if err := rows.Scan(&e.ID, &e.Channel, &to, &body, &e.Purpose, &e.TicketCode, &e.Attempts, &created,
			&e.Attachment, &e.State, &e.ProviderID, &e.LastError, &e.DeliveryStatus, &sentAt); err != nil {
			return nil, wrap(op, err)
		}
		var err error
		if e.To, e.Body, err = o.Outbound(to, body, e.TicketCode); err != nil {
			return nil, wrap(op, fmt.Errorf("outbox message %d: %w", e.ID, err))
		}
		e.CreatedAt = fromMicros(created)
		if sentAt.Valid {
			e.SentAt = fromMicros(sentAt.Int64)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// PruneSeen forgets inbound message IDs first seen before before. Returns
// how many it removed.
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM inbound_seen WHERE seen_at < ?`, micros(before))
	if err != nil {
		return 0, wrap("sqlite.PruneSeen", err)
	}
	return res.RowsAffected()
}
