package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
)

const ticketColumns = `code, kind, status, urgent, kecamatan, answers, channel, reporter, created_at, updated_at`

// Ticket returns the ticket with the code. Returns NotFound if none has it.
func (s *Store) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	const op = "postgres.Ticket"
	rows, err := s.pool.Query(ctx, `SELECT `+ticketColumns+` FROM tickets WHERE code = $1`, code)
	if err != nil {
		return bot.Ticket{}, wrap(op, err)
	}
	ts, err := scanTickets(rows, 1)
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
	ts, err := scanTickets(rows, f.Limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	return ts, nil
}

func scanTickets(rows pgx.Rows, sizeHint int) ([]bot.Ticket, error) {
	var (
		ts      = make([]bot.Ticket, 0, max(sizeHint, 0))
		t       bot.Ticket
		answers []byte
	)
	_, err := pgx.ForEachRow(rows, []any{&t.Code, &t.Kind, &t.Status, &t.Urgent, &t.Kecamatan, &answers,
		&t.Channel, &t.Reporter, &t.CreatedAt, &t.UpdatedAt}, func() error {
		t.Answers = nil
		if len(answers) > 2 { // not "{}"
			if err := json.Unmarshal(answers, &t.Answers); err != nil {
				return fmt.Errorf("ticket %s: answers: %w", t.Code, err)
			}
		}
		t.CreatedAt, t.UpdatedAt = utc(t.CreatedAt), utc(t.UpdatedAt)
		ts = append(ts, t)
		return nil
	})
	return ts, err
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
		detail *string
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &at, &actor, &typ, &detail}, func() error {
		found = true
		if id != nil {
			es = append(es, bot.Event{TicketCode: code, At: utc(*at), Actor: *actor, Type: *typ, Detail: *detail})
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
