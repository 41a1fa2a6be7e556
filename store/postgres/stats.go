package postgres

import (
	"context"
	"time"
)

// OutboxStats returns how many outbox messages are waiting to be sent
// (including those waiting for a retry) and when the oldest of them was
// written; a zero time when none waits. It is cheap enough to run on every
// metrics scrape. Returns Unavailable if the server cannot be reached.
func (s *Store) OutboxStats(ctx context.Context) (pending int, oldest time.Time, err error) {
	var first *time.Time
	err = s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox WHERE state = 'pending'`).
		Scan(&pending, &first)
	if err != nil {
		return 0, time.Time{}, wrap("postgres.OutboxStats", err)
	}
	if first != nil {
		oldest = utc(*first)
	}
	return pending, oldest, nil
}
