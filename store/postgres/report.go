package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/internal/seal"
)

var _ bot.ReportStore = (*Store)(nil)

const (
	ticketsCreatedSQL = `SELECT ` + ticketColumns + ` FROM tickets
WHERE created_at >= $1 AND created_at < $2
ORDER BY created_at, code`

	eventsCreatedSQL = `
SELECT e.ticket_code, e.at, e.actor, e.type, e.detail
FROM tickets t JOIN ticket_events e ON e.ticket_code = t.code
WHERE t.created_at >= $1 AND t.created_at < $2
ORDER BY e.id`
)

// TicketsCreated returns the tickets created in [from, to), oldest first,
// and the events of each, by ticket code, in the order they were written.
// Both are read in one round trip from one snapshot of the database, so
// that no event is missing for a ticket listed. Returns Unavailable if the
// server cannot be reached, or the error of opening sealed data.
func (s *Store) TicketsCreated(ctx context.Context, from, to time.Time) ([]bot.Ticket, map[string][]bot.Event, error) {
	const op = "postgres.TicketsCreated"
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	defer tx.Rollback(ctx)
	var b pgx.Batch
	b.Queue(ticketsCreatedSQL, from, to)
	b.Queue(eventsCreatedSQL, from, to)
	br := tx.SendBatch(ctx, &b)
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return nil, nil, wrap(op, err)
	}
	ts, err := s.scanTickets(rows, 0)
	if err != nil {
		br.Close()
		return nil, nil, wrap(op, err)
	}
	events := make(map[string][]bot.Event, len(ts))
	rows, err = br.Query()
	if err != nil {
		br.Close()
		return nil, nil, wrap(op, err)
	}
	var (
		e      bot.Event
		detail []byte
		o      = s.opener()
	)
	_, err = pgx.ForEachRow(rows, []any{&e.TicketCode, &e.At, &e.Actor, &e.Type, &detail}, func() error {
		var err error
		if e.Detail, err = o.Text(detail, seal.PlaceDetail, e.TicketCode); err != nil {
			return err
		}
		e.At = utc(e.At)
		events[e.TicketCode] = append(events[e.TicketCode], e)
		return nil
	})
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, wrap(op, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, wrap(op, err)
	}
	return ts, events, nil
}
