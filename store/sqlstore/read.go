package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// ticketColumns are the columns tickets reads, in order.
const ticketColumns = `code, kind, status, urgent, kecamatan, answers, channel, reporter, sealed_answers, created_at, updated_at,
	assignee, backups, accepted_at, closed_at, relay, marks, next_due_at`

// Ticket returns the ticket with the code. Returns NotFound if none has it.
func (s *Store) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	return s.ticket(ctx, s.d, "sqlstore.Ticket", code, "")
}

// ticket reads one ticket through c, the SQL lock given.
func (s *Store) ticket(ctx context.Context, c conn, op, code, lock string) (bot.Ticket, error) {
	ts, err := s.tickets(ctx, c, 1, `SELECT `+ticketColumns+` FROM tickets WHERE code = $1 `+lock, code)
	if err != nil {
		return bot.Ticket{}, s.wrap(op, err)
	}
	if len(ts) == 0 {
		return bot.Ticket{}, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return ts[0], nil
}

// Tickets lists tickets matching the filter, newest first (by creation,
// then by code).
func (s *Store) Tickets(ctx context.Context, f bot.TicketFilter) ([]bot.Ticket, error) {
	var (
		q     strings.Builder
		args  []any
		where = " WHERE "
	)
	cond := func(c string, arg any) {
		args = append(args, arg)
		q.WriteString(where + c + " $" + strconv.Itoa(len(args)))
		where = " AND "
	}
	q.WriteString(`SELECT ` + ticketColumns + ` FROM tickets`)
	if f.Status != "" {
		cond("status =", string(f.Status))
	}
	if f.Kind != "" {
		cond("kind =", string(f.Kind))
	}
	if f.Assignee != "" {
		cond("assignee =", f.Assignee)
	}
	if f.Open {
		q.WriteString(where + "status <> '" + string(bot.StatusDone) + "'") // as the partial indexes say
		where = " AND "
	}
	if !f.Since.IsZero() {
		cond("created_at >=", f.Since)
	}
	q.WriteString(" ORDER BY created_at DESC, code DESC")
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	ts, err := s.tickets(ctx, s.d, f.Limit, q.String(), args...)
	if err != nil {
		return nil, s.wrap("sqlstore.Tickets", err)
	}
	return ts, nil
}

// tickets runs a query of ticketColumns and reads its tickets, opening
// what is sealed. The list is never nil.
func (s *Store) tickets(ctx context.Context, c conn, sizeHint int, sql string, args ...any) ([]bot.Ticket, error) {
	var (
		ts                      = make([]bot.Ticket, 0, max(sizeHint, 0))
		t                       bot.Ticket
		answers, private        []byte
		reporter, marks         []byte
		created, updated        time.Time
		accepted, closed, nextT time.Time
		o                       = s.opener()
	)
	err := scanEach(ctx, c, sql, args, func() error {
		var err error
		if len(t.Backups) == 0 {
			t.Backups = nil
		}
		t.CreatedAt, t.UpdatedAt, t.AcceptedAt, t.ClosedAt, t.NextDue = created, updated, accepted, closed, nextT
		if t.Marks, err = decodeMarks(marks); err != nil {
			return fmt.Errorf("ticket %s: marks: %w", t.Code, err)
		}
		if t.Answers, err = o.Answers(t.Code, answers, private); err != nil {
			return err
		}
		if t.Reporter, err = o.Text(reporter, seal.PlaceReporter, t.Code); err != nil {
			return err
		}
		ts = append(ts, t)
		return nil
	}, &t.Code, &t.Kind, &t.Status, &t.Urgent, &t.Kecamatan, &answers, &t.Channel, &reporter, &private,
		tm(&created), tm(&updated), &t.Assignee, &t.Backups, tm(&accepted), tm(&closed), &t.Relay, &marks, tm(&nextT))
	return ts, err
}

// Events returns a ticket's history in the order it was written. Returns
// NotFound if no ticket has the code.
func (s *Store) Events(ctx context.Context, code string) ([]bot.Event, error) {
	var es []bot.Event
	err := s.events(ctx, s.d, `WHERE ticket_code = $1 ORDER BY id`, []any{code}, func(e bot.Event) { es = append(es, e) })
	return es, s.found(ctx, "sqlstore.Events", code, len(es), err)
}

// events reads the events of ticket_events e that the rest of the query
// (where) selects, and gives each to add, its detail opened.
func (s *Store) events(ctx context.Context, c conn, where string, args []any, add func(bot.Event)) error {
	var (
		e      bot.Event
		detail []byte
		o      = s.opener()
	)
	return scanEach(ctx, c, `SELECT e.ticket_code, e.at, e.actor, e.type, e.detail FROM ticket_events e `+where, args,
		func() error {
			var err error
			e.Detail, err = o.Text(detail, seal.PlaceDetail, e.TicketCode)
			add(e)
			return err
		}, &e.TicketCode, tm(&e.At), &e.Actor, &e.Type, &detail)
}

// found checks the result of reading n rows of the ticket with the code:
// none may mean no such ticket (NotFound).
func (s *Store) found(ctx context.Context, op, code string, n int, err error) error {
	if err == nil && n == 0 {
		var ok bool
		if err = queryRow(ctx, s.d, `SELECT EXISTS (SELECT 1 FROM tickets WHERE code = $1)`, []any{code}, &ok); err == nil && !ok {
			return bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
		}
	}
	if err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// Attachments lists a ticket's files, oldest first (by when they were
// received, then in the order written), without their data. Returns
// NotFound if no ticket has the code.
func (s *Store) Attachments(ctx context.Context, code string) ([]bot.Attachment, error) {
	as, err := s.attachments(ctx, "NULL", `ticket_code = $1 ORDER BY received_at, id`, code)
	return as, s.found(ctx, "sqlstore.Attachments", code, len(as), err)
}

// Attachment returns one file with its data, whether or not it belongs to
// a ticket yet. Returns NotFound if there is none with the ID.
func (s *Store) Attachment(ctx context.Context, id int64) (bot.Attachment, error) {
	const op = "sqlstore.Attachment"
	as, err := s.attachments(ctx, "data", `id = $1`, id)
	if err != nil {
		return bot.Attachment{}, s.wrap(op, err)
	}
	if len(as) == 0 {
		return bot.Attachment{}, bot.E(op, bot.NotFound, fmt.Errorf("no attachment %d", id))
	}
	return as[0], nil
}

// attachments reads the files that where selects, with the column data
// ("data", or "NULL" to leave the files out), opening what is sealed.
func (s *Store) attachments(ctx context.Context, data, where string, arg any) ([]bot.Attachment, error) {
	var (
		out          []bot.Attachment
		a            bot.Attachment
		sender, file []byte
		o            = s.opener()
	)
	err := scanEach(ctx, s.d, `SELECT id, coalesce(ticket_code, ''), channel, external_id, idx, sender, kind, mime, size,
	received_at, `+data+` FROM attachments WHERE `+where, []any{arg}, func() error {
		aid := seal.AttachmentID(string(a.Channel), a.ExternalID, a.Index)
		var err error
		if a.Sender, err = o.Text(sender, seal.PlaceAttachmentSender, aid); err == nil && file != nil {
			a.Data, err = openData(s.keys, file, aid)
		}
		if err != nil {
			return fmt.Errorf("attachment %d: %w", a.ID, err)
		}
		out = append(out, a)
		return nil
	}, &a.ID, &a.TicketCode, &a.Channel, &a.ExternalID, &a.Index, &sender, &a.Kind, &a.MIME, &a.Size, tm(&a.Received), &file)
	return out, err
}

// TicketsCreated returns the tickets created in [from, to), oldest first,
// and the events of each, by ticket code, in the order they were written.
// Both are read from one snapshot of the database, so that no event is
// missing for a ticket listed. Returns Unavailable if the server cannot be
// reached, or the error of opening sealed data.
func (s *Store) TicketsCreated(ctx context.Context, from, to time.Time) ([]bot.Ticket, map[string][]bot.Event, error) {
	var (
		ts     []bot.Ticket
		events map[string][]bot.Event
	)
	err := s.inTx(ctx, true, func(c txConn) (bool, error) {
		var err error
		ts, err = s.tickets(ctx, c, 0, `SELECT `+ticketColumns+` FROM tickets
WHERE created_at >= $1 AND created_at < $2
ORDER BY created_at, code`, from, to)
		if err != nil {
			return false, err
		}
		events = make(map[string][]bot.Event, len(ts))
		return true, s.events(ctx, c, `JOIN tickets t ON e.ticket_code = t.code
WHERE t.created_at >= $1 AND t.created_at < $2
ORDER BY e.id`, []any{from, to}, func(e bot.Event) { events[e.TicketCode] = append(events[e.TicketCode], e) })
	})
	if err != nil {
		return nil, nil, s.wrap("sqlstore.TicketsCreated", err)
	}
	return ts, events, nil
}

// outboundColumns are the columns scanOutbound reads, in order.
const outboundColumns = `id, channel, recipient, body, purpose, coalesce(ticket_code, ''), attempts, created_at,
	coalesce(attachment_id, 0)`

// outboundRow scans rows of outboundColumns into m, opening what is
// sealed; call open after each Scan.
type outboundRow struct {
	m        bot.Outbound
	to, body []byte
	o        *seal.Opener
}

func (r *outboundRow) dest() []any {
	m := &r.m
	return []any{&m.ID, &m.Channel, &r.to, &r.body, &m.Purpose, &m.TicketCode, &m.Attempts, tm(&m.CreatedAt),
		&m.Attachment}
}

func (r *outboundRow) open() error {
	var err error
	if r.m.To, r.m.Body, err = r.o.Outbound(r.to, r.body, r.m.TicketCode); err != nil {
		return fmt.Errorf("outbox message %d: %w", r.m.ID, err)
	}
	return nil
}

// DueOutbound leases up to limit pending messages due at now, longest due
// first, until now+lease: concurrent senders never get the same message.
func (s *Store) DueOutbound(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]bot.Outbound, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []bot.Outbound
	r := outboundRow{o: s.opener()}
	err := s.d.lease(ctx, now, now.Add(lease), limit, r.dest(), func() (int64, error) {
		err := r.open()
		out = append(out, r.m)
		return r.m.ID, err
	})
	if err != nil {
		return nil, s.wrap("sqlstore.DueOutbound", err)
	}
	return out, nil
}

// settleSQL applies each delivery to a pending message; a message already
// settled (by another sender whose lease ran out) is left alone.
//
// "state NOT IN ('sent', 'failed')" means state = 'pending' (the column's
// CHECK), but it keeps PostgreSQL's planner from reading outbox_due_idx,
// whose predicate is state = 'pending': that partial index holds few live
// rows and, until VACUUM, every settled row's dead entry, so a plan through
// it (a bitmap scan of the whole index, chosen when the statistics are
// old) costs tens of milliseconds per batch. The primary key finds each
// row.
const settleSQL = `
UPDATE outbox AS o SET
	state = CASE WHEN u.provider_id <> '' THEN 'sent' WHEN u.retry_at IS NOT NULL THEN 'pending' ELSE 'failed' END,
	attempts = o.attempts + 1,
	sent_at = CASE WHEN u.provider_id <> '' THEN $1 ELSE o.sent_at END,
	provider_id = CASE WHEN u.provider_id <> '' THEN u.provider_id ELSE o.provider_id END,
	last_error = CASE WHEN u.provider_id <> '' THEN o.last_error ELSE u.err END,
	next_attempt_at = CASE WHEN u.provider_id = '' AND u.retry_at IS NOT NULL THEN u.retry_at ELSE o.next_attempt_at END
FROM {rows}
WHERE o.id = u.id AND o.state NOT IN ('sent', 'failed')`

// Settle records the outcomes of send attempts in one statement: sent
// (ProviderID set), retried at RetryAt (Err and RetryAt set) or failed for
// good (Err, zero RetryAt). Each attempt counts. Deliveries for unknown or
// already settled messages are ignored. Returns Conflict if a provider ID
// is already recorded for another message.
func (s *Store) Settle(ctx context.Context, ds []bot.Delivery) error {
	const op = "sqlstore.Settle"
	if len(ds) == 0 {
		return nil
	}
	for _, d := range ds {
		if d.ProviderID == "" && d.Err == "" {
			return bot.E(op, bot.Invalid, fmt.Errorf("delivery of message %d has neither provider ID nor error", d.ID))
		}
	}
	_, err := s.d.exec(ctx, settleSQL, time.Now(), rowsOf(len(ds)).
		num("id", func(i int) int64 { return ds[i].ID }).
		text("provider_id", func(i int) string { return ds[i].ProviderID }).
		text("err", func(i int) string { return ds[i].Err }).
		timeOrNull("retry_at", func(i int) time.Time { return ds[i].RetryAt }))
	if err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// RecordStatus stores a provider's delivery report. A report older than the
// one already stored is ignored, since providers may call back out of
// order. Returns NotFound if no outbox message has the provider ID.
func (s *Store) RecordStatus(ctx context.Context, providerID, status string, at time.Time) error {
	const op = "sqlstore.RecordStatus"
	n, err := s.d.exec(ctx, `
UPDATE outbox SET
	delivery_status = CASE WHEN delivery_at IS NULL OR delivery_at <= $3 THEN $2 ELSE delivery_status END,
	delivery_at = CASE WHEN delivery_at IS NULL OR delivery_at <= $3 THEN $3 ELSE delivery_at END
WHERE provider_id = $1`, providerID, clean(status), at)
	if err != nil {
		return s.wrap(op, err)
	}
	if n == 0 {
		return bot.E(op, bot.NotFound, fmt.Errorf("no outbox message with provider ID %q", providerID))
	}
	return nil
}

// Outbox lists all outbox messages, oldest first. It reads the whole table:
// for tools and tests.
func (s *Store) Outbox(ctx context.Context) ([]bot.OutboxEntry, error) {
	var (
		out []bot.OutboxEntry
		e   bot.OutboxEntry
		r   = outboundRow{o: s.opener()}
	)
	err := scanEach(ctx, s.d, `SELECT `+outboundColumns+`,
	state, coalesce(provider_id, ''), last_error, delivery_status, sent_at
FROM outbox ORDER BY id`, nil, func() error {
		if err := r.open(); err != nil {
			return err
		}
		e.Outbound = r.m
		out = append(out, e)
		return nil
	}, append(r.dest(), &e.State, &e.ProviderID, &e.LastError, &e.DeliveryStatus, tm(&e.SentAt))...)
	if err != nil {
		return nil, s.wrap("sqlstore.Outbox", err)
	}
	return out, nil
}

// OutboxStats returns how many outbox messages are waiting to be sent
// (including those waiting for a retry) and when the oldest of them was
// written; a zero time when none waits. It is cheap enough to run on every
// metrics scrape. Returns Unavailable if the server cannot be reached.
func (s *Store) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	err = queryRow(ctx, s.d, `SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'`, nil,
		&pending, tm(&oldest))
	if err != nil {
		return 0, time.Time{}, s.wrap("sqlstore.OutboxStats", err)
	}
	return pending, oldest, nil
}

// PruneSeen forgets inbound message IDs first seen before before, so that
// the dedupe table does not grow without end. Pick a cut-off well past the
// longest time a provider redelivers (days, not minutes). Returns how many
// it removed.
func (s *Store) PruneSeen(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.d.exec(ctx, `DELETE FROM inbound_seen WHERE seen_at < $1`, before)
	if err != nil {
		return 0, s.wrap("sqlstore.PruneSeen", err)
	}
	return n, nil
}
