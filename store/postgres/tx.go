package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/internal/seal"
)

// Tx is one PostgreSQL transaction. It is not safe for concurrent use.
type Tx struct {
	tx pgx.Tx
	s  *Store
}

var _ bot.Tx = (*Tx)(nil)

// Begin starts a transaction. Returns Unavailable if no connection to the
// server can be had.
func (s *Store) Begin(ctx context.Context) (bot.Tx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, wrap("postgres.Begin", err)
	}
	return &Tx{tx: tx, s: s}, nil
}

// claimSQL inserts the distinct IDs, in a fixed order so that concurrent
// claims of overlapping sets wait on each other instead of deadlocking, and
// returns the 1-based position of the first occurrence of each ID that was
// not there before.
const claimSQL = `
WITH u AS (
	SELECT c, e, min(ord) AS ord
	FROM unnest($1::text::text[], $2::text::text[]) WITH ORDINALITY AS u(c, e, ord)
	GROUP BY c, e
), ins AS (
	INSERT INTO inbound_seen (channel, external_id)
	SELECT c, e FROM u ORDER BY c, e
	ON CONFLICT DO NOTHING
	RETURNING channel, external_id
)
SELECT u.ord FROM u JOIN ins ON ins.channel = u.c AND ins.external_id = u.e`

// Claim records the messages as processed, in one statement, and reports
// which had been before. A concurrent transaction claiming the same ID makes
// Claim wait for it to end: exactly one of them sees the ID fresh.
func (t *Tx) Claim(ctx context.Context, msgs []bot.MessageID) ([]bool, error) {
	dup := make([]bool, len(msgs))
	if len(msgs) == 0 {
		return dup, nil
	}
	for i := range dup {
		dup[i] = true
	}
	a := getArrays()
	chans := a.texts(len(msgs), func(i int) string { return string(msgs[i].Channel) })
	ids := a.texts(len(msgs), func(i int) string { return msgs[i].ExternalID })
	rows, err := t.tx.Query(ctx, claimSQL, chans, ids)
	a.release()
	if err != nil {
		return nil, wrap("postgres.Claim", err)
	}
	var ord int64
	_, err = pgx.ForEachRow(rows, []any{&ord}, func() error {
		if ord < 1 || ord > int64(len(dup)) {
			return fmt.Errorf("claim returned position %d of %d", ord, len(dup))
		}
		dup[ord-1] = false
		return nil
	})
	if err != nil {
		return nil, wrap("postgres.Claim", err)
	}
	return dup, nil
}

const (
	insertTicketsSQL = `
INSERT INTO tickets (code, kind, status, urgent, kecamatan, answers, channel, reporter, reporter_hash,
	sealed_answers, created_at, updated_at)
SELECT code, kind, status, urgent, kecamatan, answers::jsonb, channel, reporter, reporter_hash,
	sealed_answers, created_at, updated_at
FROM unnest($1::text::text[], $2::text::text[], $3::text::text[], $4::text::bool[], $5::text::text[],
	$6::text::text[], $7::text::text[], $8::text::bytea[], $9::text::bytea[], $10::text::bytea[],
	$11::text::timestamptz[], $12::text::timestamptz[])
	AS u(code, kind, status, urgent, kecamatan, answers, channel, reporter, reporter_hash, sealed_answers,
		created_at, updated_at)`

	// Rows are inserted in slice order, so IDs rise with it.
	insertEventsSQL = `
INSERT INTO ticket_events (ticket_code, at, actor, type, detail)
SELECT ticket_code, at, actor, type, detail
FROM unnest($1::text::text[], $2::text::timestamptz[], $3::text::text[], $4::text::text[], $5::text::bytea[])
	WITH ORDINALITY AS u(ticket_code, at, actor, type, detail, ord)
ORDER BY ord`

	// The id column's default is evaluated as rows are inserted, in slice
	// order, so sorting the returned IDs gives them in slice order.
	insertOutboxSQL = `
INSERT INTO outbox (channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, next_attempt_at)
SELECT channel, recipient, recipient_hash, body, purpose, NULLIF(ticket_code, ''), created_at, $8::timestamptz
FROM unnest($1::text::text[], $2::text::bytea[], $3::text::bytea[], $4::text::bytea[], $5::text::text[],
	$6::text::text[], $7::text::timestamptz[])
	WITH ORDINALITY AS u(channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, ord)
ORDER BY ord
RETURNING id`
)

// Apply writes the changes in one round trip and sets the ID (and, where it
// was zero, CreatedAt) of each outbox message. Returns Conflict if a ticket
// code is taken and NotFound if an event names no ticket; the transaction
// is then aborted and must be rolled back.
func (t *Tx) Apply(ctx context.Context, c *bot.Changes, claimedUntil time.Time) error {
	const op = "postgres.Apply"
	if c.Empty() {
		return nil
	}
	z, err := t.s.sealer(op)
	if err != nil {
		return err
	}
	a := getArrays()
	defer a.release()
	var b pgx.Batch
	if ts := c.Tickets; len(ts) > 0 {
		answers := make([]string, len(ts))
		private := make([]map[string]string, len(ts))
		for i := range ts {
			var (
				err   error
				clear map[string]string
			)
			clear, private[i] = seal.SplitAnswers(ts[i].Answers)
			if answers[i], err = encodeAnswers(clear); err != nil {
				return bot.E(op, bot.Invalid, fmt.Errorf("ticket %s: %w", ts[i].Code, err))
			}
		}
		var sealErr error
		sealedAnswers := a.byteas(len(ts), func(i int) []byte {
			b, err := z.Answers(clean(ts[i].Code), cleanMap(private[i]))
			if err != nil && sealErr == nil {
				sealErr = fmt.Errorf("ticket %s: %w", ts[i].Code, err)
			}
			return b
		})
		if sealErr != nil {
			return bot.E(op, bot.Invalid, sealErr)
		}
		b.Queue(insertTicketsSQL,
			a.texts(len(ts), func(i int) string { return ts[i].Code }),
			a.texts(len(ts), func(i int) string { return string(ts[i].Kind) }),
			a.texts(len(ts), func(i int) string { return string(ts[i].Status) }),
			a.bools(len(ts), func(i int) bool { return ts[i].Urgent }),
			a.texts(len(ts), func(i int) string { return ts[i].Kecamatan }),
			a.texts(len(ts), func(i int) string { return answers[i] }),
			a.texts(len(ts), func(i int) string { return string(ts[i].Channel) }),
			a.byteas(len(ts), func(i int) []byte { return z.Text(seal.PlaceReporter, clean(ts[i].Code), clean(ts[i].Reporter)) }),
			a.byteas(len(ts), func(i int) []byte { return z.Hash(clean(ts[i].Reporter)) }),
			sealedAnswers,
			a.times(len(ts), func(i int) time.Time { return ts[i].CreatedAt }),
			a.times(len(ts), func(i int) time.Time { return ts[i].UpdatedAt }),
		)
	}
	if es := c.Events; len(es) > 0 {
		b.Queue(insertEventsSQL,
			a.texts(len(es), func(i int) string { return es[i].TicketCode }),
			a.times(len(es), func(i int) time.Time { return es[i].At }),
			a.texts(len(es), func(i int) string { return es[i].Actor }),
			a.texts(len(es), func(i int) string { return es[i].Type }),
			a.byteas(len(es), func(i int) []byte { return z.Text(seal.PlaceDetail, clean(es[i].TicketCode), clean(es[i].Detail)) }),
		)
	}
	if ms := c.Outbox; len(ms) > 0 {
		var now time.Time
		for i := range ms {
			if ms[i].CreatedAt.IsZero() {
				if now.IsZero() {
					now = time.Now().UTC()
				}
				ms[i].CreatedAt = now
			}
		}
		b.Queue(insertOutboxSQL,
			a.texts(len(ms), func(i int) string { return string(ms[i].Channel) }),
			a.byteas(len(ms), func(i int) []byte { return z.Text(seal.PlaceRecipient, clean(ms[i].TicketCode), clean(ms[i].To)) }),
			a.byteas(len(ms), func(i int) []byte { return z.Hash(clean(ms[i].To)) }),
			a.byteas(len(ms), func(i int) []byte { return z.Text(seal.PlaceBody, clean(ms[i].TicketCode), clean(ms[i].Body)) }),
			a.texts(len(ms), func(i int) string { return string(ms[i].Purpose) }),
			a.texts(len(ms), func(i int) string { return ms[i].TicketCode }),
			a.times(len(ms), func(i int) time.Time { return ms[i].CreatedAt }),
			claimedUntil,
		)
	}

	br := t.tx.SendBatch(ctx, &b)
	if err := t.readApply(br, c); err != nil {
		br.Close()
		return wrap(op, err)
	}
	if err := br.Close(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// readApply reads the batch's results in the order Apply queued them.
func (t *Tx) readApply(br pgx.BatchResults, c *bot.Changes) error {
	if len(c.Tickets) > 0 {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("insert %d tickets: %w", len(c.Tickets), err)
		}
	}
	if len(c.Events) > 0 {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("insert %d events: %w", len(c.Events), err)
		}
	}
	if len(c.Outbox) == 0 {
		return nil
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("insert %d outbox messages: %w", len(c.Outbox), err)
	}
	i := 0
	var id int64
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		if i < len(c.Outbox) {
			c.Outbox[i].ID = id
		}
		i++
		return nil
	})
	if err != nil {
		return fmt.Errorf("insert %d outbox messages: %w", len(c.Outbox), err)
	}
	if i != len(c.Outbox) {
		return fmt.Errorf("insert outbox: got %d IDs, want %d", i, len(c.Outbox))
	}
	// RETURNING gives the IDs in insertion order, which is slice order;
	// should that ever not hold, the IDs still rise with slice order.
	sorted := true
	for i := 1; i < len(c.Outbox); i++ {
		sorted = sorted && c.Outbox[i-1].ID < c.Outbox[i].ID
	}
	if !sorted {
		ids := make([]int64, len(c.Outbox))
		for i := range c.Outbox {
			ids[i] = c.Outbox[i].ID
		}
		slices.Sort(ids)
		for i := range c.Outbox {
			c.Outbox[i].ID = ids[i]
		}
	}
	return nil
}

// encodeAnswers returns the answers as a JSON object; nil gives "{}". NUL
// characters are dropped: jsonb refuses them.
func encodeAnswers(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	for k, v := range a {
		if strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0 {
			clean := make(map[string]string, len(a))
			for k, v := range a {
				clean[strings.ReplaceAll(k, "\x00", "")] = strings.ReplaceAll(v, "\x00", "")
			}
			a = clean
			break
		}
	}
	b, err := json.Marshal(a)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Commit makes the transaction's writes visible. Returns Unavailable if the
// server went away, in which case the outcome is unknown.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.tx.Commit(ctx); err != nil {
		return wrap("postgres.Commit", err)
	}
	return nil
}

// Rollback abandons the transaction. After Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	if err := t.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return wrap("postgres.Rollback", err)
	}
	return nil
}
