package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"aduan/bot"
	"aduan/internal/seal"
)

// ticketColumns are the columns scanTickets reads, in order.
const ticketColumns = `code, kind, status, urgent, kecamatan, answers, channel, reporter, sealed_answers, created_at, updated_at,
	assignee, backups, accepted_at, closed_at, relay, marks, next_due_at`

// Ticket returns the ticket with the code. Returns NotFound if none has it.
func (s *Store) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	const op = "postgres.Ticket"
	rows, err := s.pool.Query(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE code = $1`, code)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	ts, err := s.scanTickets(rows, 1)
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
	const op = "postgres.Tickets"
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT ` + ticketColumns + ` FROM tickets`)
	where := " WHERE "
	if f.Status != "" {
		args = append(args, string(f.Status))
		q.WriteString(where + "status = $" + strconv.Itoa(len(args)))
		where = " AND "
	}
	if f.Kind != "" {
		args = append(args, string(f.Kind))
		q.WriteString(where + "kind = $" + strconv.Itoa(len(args)))
		where = " AND "
	}
	if f.Assignee != "" {
		args = append(args, f.Assignee)
		q.WriteString(where + "assignee = $" + strconv.Itoa(len(args)))
		where = " AND "
	}
	if f.Open {
		q.WriteString(where + "status <> '" + string(bot.StatusDone) + "'")
		where = " AND "
	}
	if !f.Since.IsZero() {
		args = append(args, f.Since)
		q.WriteString(where + "created_at >= $" + strconv.Itoa(len(args)))
	}
	q.WriteString(" ORDER BY created_at DESC, code DESC")
	if f.Limit > 0 {
		args = append(args, f.Limit)
		q.WriteString(" LIMIT $" + strconv.Itoa(len(args)))
	}
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows, f.Limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	return ts, nil
}

// scanTickets reads rows of ticketColumns, opening what is sealed.
func (s *Store) scanTickets(rows pgx.Rows, sizeHint int) ([]bot.Ticket, error) {
	var (
		ts                 = make([]bot.Ticket, 0, max(sizeHint, 0))
		t                  bot.Ticket
		answers, private   []byte
		reporter, marks    []byte
		accepted, closedAt pgtype.Timestamptz
		nextDue            pgtype.Timestamptz
		o                  = s.opener()
	)
	_, err := pgx.ForEachRow(rows, []any{&t.Code, &t.Kind, &t.Status, &t.Urgent, &t.Kecamatan, &answers,
		&t.Channel, &reporter, &private, &t.CreatedAt, &t.UpdatedAt,
		&t.Assignee, &t.Backups, &accepted, &closedAt, &t.Relay, &marks, &nextDue}, func() error {
		var err error
		if len(t.Backups) == 0 {
			t.Backups = nil
		}
		t.AcceptedAt, t.ClosedAt, t.NextDue = timeOf(accepted), timeOf(closedAt), timeOf(nextDue)
		if t.Marks, err = decodeMarks(marks); err != nil {
			return fmt.Errorf("ticket %s: marks: %w", t.Code, err)
		}
		if t.Answers, err = o.Answers(t.Code, answers, private); err != nil {
			return err
		}
		if t.Reporter, err = o.Text(reporter, seal.PlaceReporter, t.Code); err != nil {
			return err
		}
		t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
		ts = append(ts, t)
		return nil
	})
	return ts, err
}

// timeOf returns a nullable timestamptz in UTC; NULL is the zero time.
func timeOf(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return utc(t.Time)
}

// Ticket reads the ticket with the code and locks it until the
// transaction ends (bot.LockingTx), so that two batches changing one
// ticket take turns. Returns NotFound if no ticket has the code.
func (t *Tx) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	const op = "postgres.Tx.Ticket"
	rows, err := t.tx.Query(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE code = $1 FOR UPDATE`, code)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	ts, err := t.s.scanTickets(rows, 1)
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
	const op = "postgres.Events"
	// The join tells an unknown ticket (no row) from one without events
	// (one row of NULLs) in the same round trip.
	rows, err := s.pool.Query(ctx, `
SELECT e.id, e.at, e.actor, e.type, e.detail
FROM tickets t LEFT JOIN ticket_events e ON e.ticket_code = t.code
WHERE t.code = $1
ORDER BY e.id`, code)
	if err != nil {
		return nil, wrap(op, err)
	}
	var (
		found  bool
		es     []bot.Event
		id     *int64
		at     *time.Time
		actor  *string
		typ    *string
		detail []byte
		o      = s.opener()
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &at, &actor, &typ, &detail}, func() error {
		found = true
		if id != nil {
			d, err := o.Text(detail, seal.PlaceDetail, code)
			if err != nil {
				return err
			}
			es = append(es, bot.Event{TicketCode: code, At: utc(*at), Actor: *actor, Type: *typ, Detail: d})
		}
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if !found {
		return nil, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return es, nil
}
