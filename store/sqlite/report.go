package sqlite

import (
	"context"
	"database/sql"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

var _ bot.ReportStore = (*Store)(nil)

// TicketsCreated returns the tickets created in [from, to), oldest first,
// and the events of each, by ticket code, in the order they were written.
// Returns Unavailable if the database cannot be read.
func (s *Store) TicketsCreated(ctx context.Context, from, to time.Time) ([]bot.Ticket, map[string][]bot.Event, error) {
	const op = "sqlite.TicketsCreated"
	rows, err := s.db.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets
WHERE created_at >= ? AND created_at < ?
ORDER BY created_at, code`, micros(from), micros(to))
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows)
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	events := make(map[string][]bot.Event, len(ts))
	rows, err = s.db.QueryContext(ctx, `
SELECT e.ticket_code, e.at, e.actor, e.type, e.detail
FROM tickets t JOIN ticket_events e ON e.ticket_code = t.code
WHERE t.created_at >= ? AND t.created_at < ?
ORDER BY e.id`, micros(from), micros(to))
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	defer rows.Close()
	o := s.opener()
	for rows.Next() {
		var (
			e      bot.Event
			at     int64
			detail []byte
		)
		if err := rows.Scan(&e.TicketCode, &at, &e.Actor, &e.Type, &detail); err != nil {
			return nil, nil, wrap(op, err)
		}
		if e.Detail, err = o.Text(detail, seal.PlaceDetail, e.TicketCode); err != nil {
			return nil, nil, wrap(op, err)
		}
		e.At = fromMicros(at)
		events[e.TicketCode] = append(events[e.TicketCode], e)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, wrap(op, err)
	}
	return ts, events, nil
}

// OutboxStats returns how many outbox messages are waiting to be sent
// (including those waiting for a retry) and when the oldest of them was
// written; a zero time when none waits.
func (s *Store) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first sql.NullInt64
	err = s.db.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'`).
		Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, wrap("sqlite.OutboxStats", err)
	}
	if first.Valid {
		oldest = fromMicros(first.Int64)
	}
	return pending, oldest, nil
}
