package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"aduan/bot"
)

var _ bot.ClockTx = (*Tx)(nil)

// markFormat is how a mark's time is stored: UTC at microsecond precision,
// always six fractional digits, so that marks compare as text too (as the
// SQLite store compares them). Formatting truncates.
const markFormat = "2006-01-02T15:04:05.000000Z07:00"

// encodeMarks returns the marks as a JSON object of times; none gives
// "{}".
func encodeMarks(m map[string]time.Time) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	s := make(map[string]string, len(m))
	for k, v := range m {
		s[clean(k)] = v.UTC().Format(markFormat)
	}
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// decodeMarks reads what encodeMarks wrote; an empty object gives nil.
func decodeMarks(b []byte) (map[string]time.Time, error) {
	if len(b) <= 2 { // "{}", or nothing
		return nil, nil
	}
	var s map[string]string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, err
	}
	if len(s) == 0 {
		return nil, nil
	}
	m := make(map[string]time.Time, len(s))
	for k, v := range s {
		t, err := time.Parse(markFormat, v)
		if err != nil {
			return nil, fmt.Errorf("mark %q: %w", k, err)
		}
		m[k] = t.UTC()
	}
	return m, nil
}

// dueTicketsSQL takes the open tickets due at $1 that no other transaction
// holds, in due order, through tickets_next_due_idx. The rows are locked
// before the limit counts them, so a transaction gets its limit's worth
// while enough remain unlocked.
const dueTicketsSQL = `SELECT ` + ticketColumns + ` FROM tickets
WHERE next_due_at <= $1 AND status <> 'done'
ORDER BY next_due_at, code
LIMIT $2
FOR UPDATE SKIP LOCKED`

// DueTickets locks and returns up to limit open tickets whose NextDue is
// at or before now, earliest first (then by code), skipping tickets that
// other transactions hold (bot.ClockTx): two replicas running their clocks
// at once never get the same ticket. The locks last until the transaction
// ends; a rollback leaves the tickets due for the next run. Returns
// Unavailable if the server cannot be reached, or the error of opening
// sealed data.
func (t *Tx) DueTickets(ctx context.Context, now time.Time, limit int) ([]bot.Ticket, error) {
	const op = "postgres.DueTickets"
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.tx.Query(ctx, dueTicketsSQL, now, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := t.s.scanTickets(rows, limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	return ts, nil
}

// ClaimDigest records, in the transaction, that the daily digest of day
// ("2026-11-27") is sent, and reports whether this transaction is the
// first to claim it (bot.ClockTx). Two transactions claiming the same day
// at once: the second waits for the first and gets true only if the first
// rolls back. Returns Invalid for an empty day.
func (t *Tx) ClaimDigest(ctx context.Context, day string) (bool, error) {
	const op = "postgres.ClaimDigest"
	if day == "" {
		return false, bot.E(op, bot.Invalid, fmt.Errorf("no day"))
	}
	tag, err := t.tx.Exec(ctx, `INSERT INTO digests (day, sent_at) VALUES ($1, now()) ON CONFLICT (day) DO NOTHING`,
		clean(day))
	if err != nil {
		return false, wrap(op, err)
	}
	return tag.RowsAffected() == 1, nil
}

// LateCount returns how many open tickets are marked late ("late_first" or
// "late_done") at or before now: the clocks' count of tickets past the
// service standard, for metrics. It reads every open ticket's marks, which
// is cheap at the service's volume. Returns Unavailable if the server
// cannot be reached.
func (s *Store) LateCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM tickets
WHERE status <> 'done' AND marks ?| '{late_first,late_done}'::text[]
	AND ((marks->>'late_first')::timestamptz <= $1 OR (marks->>'late_done')::timestamptz <= $1)`, now).Scan(&n)
	if err != nil {
		return 0, wrap("postgres.LateCount", err)
	}
	return n, nil
}
