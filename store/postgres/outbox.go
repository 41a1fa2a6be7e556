package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"aduan/bot"
)

// dueSQL leases due messages: rows another sender holds locked are skipped,
// not waited for, so concurrent senders never get the same row.
const dueSQL = `
WITH due AS (
	SELECT id, next_attempt_at FROM outbox
	WHERE state = 'pending' AND next_attempt_at <= $1
	ORDER BY next_attempt_at, id
	LIMIT $3
	FOR UPDATE SKIP LOCKED
), leased AS (
	UPDATE outbox o SET next_attempt_at = $2
	FROM due WHERE o.id = due.id
	RETURNING o.id, o.channel, o.recipient, o.body, o.purpose, coalesce(o.ticket_code, '') AS ticket_code, o.attempts,
		o.created_at, coalesce(o.attachment_id, 0) AS attachment_id, due.next_attempt_at AS was_due
)
SELECT id, channel, recipient, body, purpose, ticket_code, attempts, created_at, attachment_id
FROM leased ORDER BY was_due, id`

// DueOutbound leases up to limit pending messages due at now, longest due
// first, until now+lease.
func (s *Store) DueOutbound(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]bot.Outbound, error) {
	const op = "postgres.DueOutbound"
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, dueSQL, now, now.Add(lease), limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	var (
		out      []bot.Outbound
		m        bot.Outbound
		to, body []byte
		o        = s.opener()
	)
	_, err = pgx.ForEachRow(rows, []any{&m.ID, &m.Channel, &to, &body, &m.Purpose, &m.TicketCode, &m.Attempts, &m.CreatedAt,
		&m.Attachment}, func() error {
		var err error
		if m.To, m.Body, err = o.Outbound(to, body, m.TicketCode); err != nil {
			return fmt.Errorf("outbox message %d: %w", m.ID, err)
		}
		m.CreatedAt = utc(m.CreatedAt)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// settleSQL applies each delivery to a pending message; a message already
// settled (by another sender whose lease ran out) is left alone.
//
// "state NOT IN ('sent', 'failed')" means state = 'pending' (the column's
// CHECK), but it keeps the planner from reading outbox_due_idx, whose
// predicate is state = 'pending': that partial index holds few live rows
// and, until VACUUM, every settled row's dead entry, so a plan through it
// (a bitmap scan of the whole index, chosen when the statistics are old)
// costs tens of milliseconds per batch. The primary key finds each row.
const settleSQL = `
UPDATE outbox o SET
	state = CASE WHEN d.provider_id <> '' THEN 'sent' WHEN d.retry_at IS NOT NULL THEN 'pending' ELSE 'failed' END,
	attempts = o.attempts + 1,
	sent_at = CASE WHEN d.provider_id <> '' THEN now() ELSE o.sent_at END,
	provider_id = CASE WHEN d.provider_id <> '' THEN d.provider_id ELSE o.provider_id END,
	last_error = CASE WHEN d.provider_id <> '' THEN o.last_error ELSE d.err END,
	next_attempt_at = CASE WHEN d.provider_id = '' AND d.retry_at IS NOT NULL THEN d.retry_at ELSE o.next_attempt_at END
FROM unnest($1::text::bigint[], $2::text::text[], $3::text::text[], $4::text::timestamptz[])
	AS d(id, provider_id, err, retry_at)
WHERE o.id = d.id AND o.state NOT IN ('sent', 'failed')`

// Settle records the outcomes of send attempts in one statement: sent
// (ProviderID set), retried at RetryAt (Err and RetryAt set) or failed for
// good (Err, zero RetryAt). Each attempt counts. Deliveries for unknown or
// already settled messages are ignored. Returns Conflict if a provider ID
// is already recorded for another message.
func (s *Store) Settle(ctx context.Context, ds []bot.Delivery) error {
	const op = "postgres.Settle"
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.ProviderID == "" && d.Err == "" {
			return bot.E(op, bot.Invalid, fmt.Errorf("delivery of message %d has neither provider ID nor error", d.ID))
		}
	}
	a := getArrays()
	defer a.release()
	a.open()
	for _, d := range ds {
		a.int(d.ID)
	}
	ids := a.close()
	pids := a.texts(len(ds), func(i int) string { return ds[i].ProviderID })
	errs := a.texts(len(ds), func(i int) string { return ds[i].Err })
	a.open()
	for _, d := range ds {
		a.timeOrNull(d.RetryAt)
	}
	retries := a.close()
	if _, err := s.pool.Exec(ctx, settleSQL, ids, pids, errs, retries); err != nil {
		return wrap(op, err)
	}
	return nil
}

// RecordStatus stores a provider's delivery report. A report older than the
// one already stored is ignored, since providers may call back out of
// order. Returns NotFound if no outbox message has the provider ID.
func (s *Store) RecordStatus(ctx context.Context, providerID, status string, at time.Time) error {
	const op = "postgres.RecordStatus"
	tag, err := s.pool.Exec(ctx, `
UPDATE outbox SET
	delivery_status = CASE WHEN delivery_at IS NULL OR delivery_at <= $3 THEN $2 ELSE delivery_status END,
	delivery_at = GREATEST(delivery_at, $3)
WHERE provider_id = $1`, providerID, status, at)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return bot.E(op, bot.NotFound, fmt.Errorf("no outbox message with provider ID %q", providerID))
	}
	return nil
}

// Outbox lists all outbox messages, oldest first. It reads the whole table:
// for tools and tests.
func (s *Store) Outbox(ctx context.Context) ([]bot.OutboxEntry, error) {
	const op = "postgres.Outbox"
	rows, err := s.pool.Query(ctx, `
SELECT id, channel, recipient, body, purpose, coalesce(ticket_code, ''), attempts, created_at,
	coalesce(attachment_id, 0), state, coalesce(provider_id, ''), last_error, delivery_status, sent_at
FROM outbox ORDER BY id`)
	if err != nil {
		return nil, wrap(op, err)
	}
	var (
		out      []bot.OutboxEntry
		e        bot.OutboxEntry
		sentAt   pgtype.Timestamptz
		to, body []byte
		o        = s.opener()
	)
	_, err = pgx.ForEachRow(rows, []any{&e.ID, &e.Channel, &to, &body, &e.Purpose, &e.TicketCode, &e.Attempts,
		&e.CreatedAt, &e.Attachment, &e.State, &e.ProviderID, &e.LastError, &e.DeliveryStatus, &sentAt}, func() error {
		var err error
		if e.To, e.Body, err = o.Outbound(to, body, e.TicketCode); err != nil {
			return fmt.Errorf("outbox message %d: %w", e.ID, err)
		}
		e.CreatedAt = utc(e.CreatedAt)
		e.SentAt = time.Time{}
		if sentAt.Valid {
			e.SentAt = utc(sentAt.Time)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// PruneSeen forgets inbound message IDs first seen before before, so that
// the dedupe table does not grow without end. Pick a cut-off well past the
// longest time a provider redelivers (days, not minutes). Returns how many
// it removed.
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM inbound_seen WHERE seen_at < $1`, before)
	if err != nil {
		return 0, wrap("postgres.PruneSeen", err)
	}
	return tag.RowsAffected(), nil
}
