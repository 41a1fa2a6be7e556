package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"aduan/bot"
)

var _ bot.ClockTx = (*Tx)(nil)

// markFormat is how a mark's time is stored: UTC at microsecond precision,
// always six fractional digits, so that marks compare as text (LateCount).
// Formatting truncates.
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
func decodeMarks(b string) (map[string]time.Time, error) {
	if len(b) <= 2 { // "{}", or nothing
		return nil, nil
	}
	var s map[string]string
	if err := json.Unmarshal([]byte(b), &s); err != nil {
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

// DueTickets returns up to limit open tickets whose NextDue is at or
// before now, earliest first (then by code) (bot.ClockTx). The transaction
// holds the database's write lock from its start, so no other transaction
// can take or change them before it ends; a rollback leaves them due.
func (t *Tx) DueTickets(ctx context.Context, now time.Time, limit int) ([]bot.Ticket, error) {
	const op = "sqlite.DueTickets"
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+ticketColumns+` FROM tickets
WHERE next_due_at IS NOT NULL AND next_due_at <= ? AND status <> 'done'
ORDER BY next_due_at, code
LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, wrap(op, err)
	}
	ts, err := t.s.scanTickets(rows)
	if err != nil {
		return nil, wrap(op, err)
	}
	return ts, nil
}

// ClaimDigest records, in the transaction, that the daily digest of day
// ("2026-11-27") is sent, and reports whether it was not before
// (bot.ClockTx). Returns Invalid for an empty day.
func (t *Tx) ClaimDigest(ctx context.Context, day string) (bool, error) {
	const op = "sqlite.ClaimDigest"
	if day == "" {
		return false, bot.E(op, bot.Invalid, fmt.Errorf("no day"))
	}
	res, err := t.tx.ExecContext(ctx, `INSERT INTO digests (day, sent_at) VALUES (?, ?) ON CONFLICT (day) DO NOTHING`,
		clean(day), micros(time.Now()))
	if err != nil {
		return false, wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap(op, err)
	}
	return n == 1, nil
}

// LateCount returns how many open tickets are marked late ("late_first" or
// "late_done") at or before now: the clocks' count of tickets past the
// service standard, for metrics. Returns Unavailable if the database
// cannot be read.
func (s *Store) LateCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM tickets
WHERE status <> 'done' AND (json_extract(marks, '$.late_first') <= ?1 OR json_extract(marks, '$.late_done') <= ?1)`,
		now.UTC().Format(markFormat)).Scan(&n)
	if err != nil {
		return 0, wrap("sqlite.LateCount", err)
	}
	return n, nil
}
