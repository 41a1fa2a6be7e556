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

var (
	_ bot.Tx        = (*Tx)(nil)
	_ bot.LockingTx = (*Tx)(nil)
)

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
INSERT INTO tickets (code, status, urgent, kecamatan, answers, sealed_answers, updated_at, assignee, backups,
	accepted_at, closed_at, relay, marks, next_due_at, kind, channel, reporter, reporter_hash, created_at,
	submission_hash)
SELECT code, status, urgent, kecamatan, answers::jsonb, sealed_answers, updated_at, assignee, backups::text[],
	accepted_at, closed_at, relay, marks::jsonb, next_due_at, kind, channel, reporter, reporter_hash, created_at,
	submission_hash
FROM unnest($1::text::text[], $2::text::text[], $3::text::bool[], $4::text::text[], $5::text::text[],
	$6::text::bytea[], $7::text::timestamptz[], $8::text::text[], $9::text::text[], $10::text::timestamptz[],
	$11::text::timestamptz[], $12::text::bool[], $13::text::text[], $14::text::timestamptz[],
	$15::text::text[], $16::text::text[], $17::text::bytea[], $18::text::bytea[], $19::text::timestamptz[],
	$20::text::bytea[])
	AS u(code, status, urgent, kecamatan, answers, sealed_answers, updated_at, assignee, backups,
		accepted_at, closed_at, relay, marks, next_due_at, kind, channel, reporter, reporter_hash, created_at,
		submission_hash)`

	// updateTicketsSQL writes what may change of a ticket: the same first
	// fourteen parameters as insertTicketsSQL.
	updateTicketsSQL = `
UPDATE tickets t SET status = u.status, urgent = u.urgent, kecamatan = u.kecamatan, answers = u.answers::jsonb,
	sealed_answers = u.sealed_answers, updated_at = u.updated_at, assignee = u.assignee, backups = u.backups::text[],
	accepted_at = u.accepted_at, closed_at = u.closed_at, relay = u.relay, marks = u.marks::jsonb,
	next_due_at = u.next_due_at
FROM unnest($1::text::text[], $2::text::text[], $3::text::bool[], $4::text::text[], $5::text::text[],
	$6::text::bytea[], $7::text::timestamptz[], $8::text::text[], $9::text::text[], $10::text::timestamptz[],
	$11::text::timestamptz[], $12::text::bool[], $13::text::text[], $14::text::timestamptz[])
	AS u(code, status, urgent, kecamatan, answers, sealed_answers, updated_at, assignee, backups,
		accepted_at, closed_at, relay, marks, next_due_at)
WHERE t.code = u.code`

	optOutSQL = `
INSERT INTO opt_outs (address_hash, at)
SELECT h, at FROM unnest($1::text::bytea[], $2::text::timestamptz[]) AS u(h, at)
ON CONFLICT (address_hash) DO UPDATE SET at = excluded.at`

	optInSQL = `DELETE FROM opt_outs WHERE address_hash = ANY($1::text::bytea[])`

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
INSERT INTO outbox (channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, attachment_id,
	next_attempt_at)
SELECT channel, recipient, recipient_hash, body, purpose, NULLIF(ticket_code, ''), created_at, NULLIF(attachment_id, 0),
	$9::timestamptz
FROM unnest($1::text::text[], $2::text::bytea[], $3::text::bytea[], $4::text::bytea[], $5::text::text[],
	$6::text::text[], $7::text::timestamptz[], $8::text::int8[])
	WITH ORDINALITY AS u(channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, attachment_id, ord)
ORDER BY ord
RETURNING id`
)

// Apply writes the changes in one round trip and sets the ID (and, where it
// was zero, CreatedAt) of each outbox message, and the ID of each
// attachment (zero for one stored before). Attachments are written after
// the tickets, then the links are applied. Returns Conflict if a ticket
// code is taken and NotFound if an event, an attachment or a link names no
// ticket; the transaction is then aborted and must be rolled back.
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
		params, err := ticketParams(a, z, ts)
		if err != nil {
			return bot.E(op, bot.Invalid, err)
		}
		b.Queue(insertTicketsSQL, append(params,
			a.texts(len(ts), func(i int) string { return string(ts[i].Kind) }),
			a.texts(len(ts), func(i int) string { return string(ts[i].Channel) }),
			a.byteas(len(ts), func(i int) []byte { return z.Text(seal.PlaceReporter, clean(ts[i].Code), clean(ts[i].Reporter)) }),
			a.byteas(len(ts), func(i int) []byte { return z.Hash(clean(ts[i].Reporter)) }),
			a.times(len(ts), func(i int) time.Time { return ts[i].CreatedAt }),
			a.byteas(len(ts), func(i int) []byte { return z.Hash(clean(ts[i].Submission)) }),
		)...)
	}
	if us := c.Updates; len(us) > 0 {
		params, err := ticketParams(a, z, us)
		if err != nil {
			return bot.E(op, bot.Invalid, err)
		}
		b.Queue(updateTicketsSQL, params...)
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
	out, in := optOuts(c.OptOuts)
	if len(out) > 0 {
		b.Queue(optOutSQL,
			a.byteas(len(out), func(i int) []byte { return z.Hash(clean(out[i].Address)) }),
			a.times(len(out), func(i int) time.Time { return out[i].At }))
	}
	if len(in) > 0 {
		b.Queue(optInSQL, a.byteas(len(in), func(i int) []byte { return z.Hash(clean(in[i].Address)) }))
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
			a.ints(len(ms), func(i int) int64 { return ms[i].Attachment }),
			claimedUntil,
		)
	}
	t.queueAttachments(&b, a, z, c)
	queueCheckpoints(&b, a, z, t.s.keys, c)

	br := t.tx.SendBatch(ctx, &b)
	if err := t.readApply(br, c, len(out) > 0, len(in) > 0); err != nil {
		br.Close()
		return wrap(op, err)
	}
	if err := br.Close(); err != nil {
		return wrap(op, err)
	}
	return nil
}

// readApply reads the batch's results in the order Apply queued them.
func (t *Tx) readApply(br pgx.BatchResults, c *bot.Changes, optOut, optIn bool) error {
	if len(c.Tickets) > 0 {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("insert %d tickets: %w", len(c.Tickets), err)
		}
	}
	if len(c.Updates) > 0 {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("update %d tickets: %w", len(c.Updates), err)
		}
		if n := tag.RowsAffected(); n != int64(len(c.Updates)) {
			return bot.E("postgres.Apply", bot.NotFound, fmt.Errorf("update %d tickets: %d found", len(c.Updates), n))
		}
	}
	if len(c.Events) > 0 {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("insert %d events: %w", len(c.Events), err)
		}
	}
	if optOut {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("record opt-outs: %w", err)
		}
	}
	if optIn {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("remove opt-outs: %w", err)
		}
	}
	if len(c.Outbox) > 0 {
		if err := readOutbox(br, c); err != nil {
			return err
		}
	}
	if err := readAttachments(br, c); err != nil {
		return err
	}
	return readCheckpoints(br, c)
}

// readOutbox reads the IDs of the outbox messages Apply inserted.
func readOutbox(br pgx.BatchResults, c *bot.Changes) error {
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

// ticketParams returns the first fourteen parameters of insertTicketsSQL
// and updateTicketsSQL for ts: what may change of a ticket, sealed where it
// is personal.
func ticketParams(a *arrays, z *seal.Sealer, ts []bot.Ticket) ([]any, error) {
	answers := make([]string, len(ts))
	marks := make([]string, len(ts))
	private := make([]map[string]string, len(ts))
	for i := range ts {
		var (
			err   error
			clear map[string]string
		)
		clear, private[i] = seal.SplitAnswers(ts[i].Answers)
		if answers[i], err = encodeAnswers(clear); err != nil {
			return nil, fmt.Errorf("ticket %s: %w", ts[i].Code, err)
		}
		if marks[i], err = encodeMarks(ts[i].Marks); err != nil {
			return nil, fmt.Errorf("ticket %s: marks: %w", ts[i].Code, err)
		}
	}
	var sealErr error
	sealed := a.byteas(len(ts), func(i int) []byte {
		b, err := z.Answers(clean(ts[i].Code), cleanMap(private[i]))
		if err != nil && sealErr == nil {
			sealErr = fmt.Errorf("ticket %s: %w", ts[i].Code, err)
		}
		return b
	})
	if sealErr != nil {
		return nil, sealErr
	}
	return []any{
		a.texts(len(ts), func(i int) string { return ts[i].Code }),
		a.texts(len(ts), func(i int) string { return string(ts[i].Status) }),
		a.bools(len(ts), func(i int) bool { return ts[i].Urgent }),
		a.texts(len(ts), func(i int) string { return ts[i].Kecamatan }),
		a.texts(len(ts), func(i int) string { return answers[i] }),
		sealed,
		a.times(len(ts), func(i int) time.Time { return ts[i].UpdatedAt }),
		a.texts(len(ts), func(i int) string { return ts[i].Assignee }),
		a.texts(len(ts), func(i int) string { return textArray(ts[i].Backups) }),
		a.timesOrNull(len(ts), func(i int) time.Time { return ts[i].AcceptedAt }),
		a.timesOrNull(len(ts), func(i int) time.Time { return ts[i].ClosedAt }),
		a.bools(len(ts), func(i int) bool { return ts[i].Relay }),
		a.texts(len(ts), func(i int) string { return marks[i] }),
		a.timesOrNull(len(ts), func(i int) time.Time { return ts[i].NextDue }),
	}, nil
}

// textArray writes a text[] literal, for a column of arrays passed through
// a text[] parameter.
func textArray(l []string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, v := range l {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		for _, r := range clean(v) {
			if r == '"' || r == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}

// optOuts splits opt-outs into the addresses now out and those now in,
// each address once, as the last of its opt-outs says.
func optOuts(os []bot.OptOut) (out, in []bot.OptOut) {
	if len(os) == 0 {
		return nil, nil
	}
	last := make(map[string]int, len(os))
	for i, o := range os {
		last[o.Address] = i
	}
	for i, o := range os {
		if last[o.Address] != i || o.Address == "" {
			continue
		}
		if o.Out {
			out = append(out, o)
		} else {
			in = append(in, o)
		}
	}
	return out, in
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
