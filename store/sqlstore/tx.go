package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// Tx is one transaction. It is not safe for concurrent use. On SQLite it
// holds the database's write lock from Begin to its end.
type Tx struct {
	c txConn
	s *Store
}

var (
	_ bot.Tx        = (*Tx)(nil)
	_ bot.LockingTx = (*Tx)(nil)
	_ bot.ClockTx   = (*Tx)(nil)
)

// Begin starts a transaction. Returns Unavailable if no connection to the
// database can be had, and Temporary if SQLite's other writer holds the
// database longer than BusyTimeout.
func (s *Store) Begin(ctx context.Context) (bot.Tx, error) {
	c, err := s.d.begin(ctx, false)
	if err != nil {
		return nil, s.wrap("sqlstore.Begin", err)
	}
	return &Tx{c: c, s: s}, nil
}

// Commit makes the transaction's writes visible. Returns Unavailable if the
// server went away, in which case the outcome is unknown.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.c.commit(ctx); err != nil {
		return t.s.wrap("sqlstore.Commit", err)
	}
	return nil
}

// Rollback abandons the transaction. After Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	if err := t.c.rollback(ctx); err != nil {
		return t.s.wrap("sqlstore.Rollback", err)
	}
	return nil
}

// claimSQL inserts the distinct IDs, in a fixed order so that concurrent
// claims of overlapping sets wait on each other instead of deadlocking, and
// returns those that were not there before.
const claimSQL = `INSERT INTO inbound_seen (channel, external_id, seen_at)
SELECT d.channel, d.external_id, $1 FROM (SELECT DISTINCT u.channel, u.external_id FROM {rows}) AS d
WHERE true ORDER BY d.channel, d.external_id
ON CONFLICT DO NOTHING
RETURNING channel, external_id`

// Claim records the messages as processed, in one statement, and reports
// which had been before, a repeat within msgs included. A concurrent
// transaction claiming the same ID makes Claim wait for it to end: exactly
// one of them sees the ID fresh.
func (t *Tx) Claim(ctx context.Context, msgs []bot.MessageID) ([]bool, error) {
	var b batch
	dup := queueClaim(&b, msgs)
	if err := t.c.send(ctx, &b); err != nil {
		return nil, t.s.wrap("sqlstore.Claim", err)
	}
	return dup, nil
}

// queueClaim queues the claim of msgs, which sets the flags it returns.
func queueClaim(b *batch, msgs []bot.MessageID) []bool {
	dup := make([]bool, len(msgs))
	if len(msgs) == 0 {
		return dup
	}
	b.query("claim", claimSQL, func(r rows) error {
		fresh := make(map[bot.MessageID]bool, len(msgs))
		var m bot.MessageID
		if err := each(r, func() error { fresh[m] = true; return nil }, &m.Channel, &m.ExternalID); err != nil {
			return err
		}
		for i, m := range msgs {
			k := bot.MessageID{Channel: bot.Channel(clean(string(m.Channel))), ExternalID: clean(m.ExternalID)}
			dup[i] = !fresh[k]
			delete(fresh, k)
		}
		return nil
	}, time.Now(), rowsOf(len(msgs)).
		text("channel", func(i int) string { return string(msgs[i].Channel) }).
		text("external_id", func(i int) string { return msgs[i].ExternalID }))
	return dup
}

// The statements of Apply, each over the rows of one kind of change.
const (
	insertTicketsSQL = `
INSERT INTO tickets (code, status, urgent, kecamatan, answers, sealed_answers, updated_at, assignee, backups,
	accepted_at, closed_at, relay, marks, next_due_at, kind, channel, reporter, reporter_hash, created_at,
	submission_hash)
SELECT u.code, u.status, u.urgent, u.kecamatan, u.answers, u.sealed_answers, u.updated_at, u.assignee, u.backups,
	u.accepted_at, u.closed_at, u.relay, u.marks, u.next_due_at, u.kind, u.channel, u.reporter, u.reporter_hash,
	u.created_at, u.submission_hash
FROM {rows} ORDER BY u.ord`

	// updateTicketsSQL writes what may change of a ticket: the first
	// fourteen columns of insertTicketsSQL.
	updateTicketsSQL = `
UPDATE tickets AS t SET status = u.status, urgent = u.urgent, kecamatan = u.kecamatan, answers = u.answers,
	sealed_answers = u.sealed_answers, updated_at = u.updated_at, assignee = u.assignee, backups = u.backups,
	accepted_at = u.accepted_at, closed_at = u.closed_at, relay = u.relay, marks = u.marks,
	next_due_at = u.next_due_at
FROM {rows} WHERE t.code = u.code`

	insertEventsSQL = `
INSERT INTO ticket_events (ticket_code, at, actor, type, detail)
SELECT u.ticket_code, u.at, u.actor, u.type, u.detail FROM {rows} ORDER BY u.ord`

	optOutSQL = `
INSERT INTO opt_outs (address_hash, at) SELECT u.hash, u.at FROM {rows} WHERE true
ON CONFLICT (address_hash) DO UPDATE SET at = excluded.at`

	optInSQL = `DELETE FROM opt_outs WHERE address_hash IN (SELECT u.hash FROM {rows})`

	// IDs are given as rows are inserted, in slice order, so sorting the
	// returned IDs gives them in slice order.
	insertOutboxSQL = `
INSERT INTO outbox (channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, attachment_id,
	next_attempt_at)
SELECT u.channel, u.recipient, u.recipient_hash, u.body, u.purpose, NULLIF(u.ticket_code, ''), u.created_at,
	NULLIF(u.attachment_id, 0), $1
FROM {rows} ORDER BY u.ord
RETURNING id`

	// Files are written one plain INSERT each: their sealed data goes as
	// one binary parameter, where a table of rows would send it as text. A
	// file already stored (its message delivered again after its ID was
	// pruned) is kept as it was, and gets no ID.
	insertAttachmentSQL = `
INSERT INTO attachments (ticket_code, channel, external_id, idx, sender, sender_hash, kind, mime, size, data, received_at)
VALUES (NULLIF($1, ''), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (channel, external_id, idx) DO NOTHING
RETURNING id`

	// linkSQL gives each ticket the files its reporter (hash) sent on the
	// channel since the time given that belong to no ticket yet.
	linkSQL = `
UPDATE attachments AS a SET ticket_code = u.code FROM {rows}
WHERE a.ticket_code IS NULL AND a.channel = u.channel AND a.sender_hash = u.hash AND a.received_at >= u.since`

	// missingSQL counts the rows whose code names no ticket.
	missingSQL = `SELECT count(*) FROM {rows} WHERE NOT EXISTS (SELECT 1 FROM tickets AS t WHERE t.code = u.code)`
)

// Apply writes the changes, in one round trip on PostgreSQL, and sets the
// ID (and, where it was zero, CreatedAt) of each outbox message, the ID of
// each attachment (zero for one stored before) and the Sealed state of
// each checkpoint. Attachments are written after the tickets, then the
// links are applied, and the checkpoints last. Returns Conflict if a
// ticket code or a submission is taken or a checkpoint is not at the
// version it expects, and NotFound if an update, an event, an attachment
// or a link names no ticket; the transaction is then aborted and must be
// rolled back.
func (t *Tx) Apply(ctx context.Context, c *bot.Changes, claimedUntil time.Time) error {
	const op = "sqlstore.Apply"
	if c.Empty() {
		return nil
	}
	z, err := t.s.sealer(op)
	if err != nil {
		return err
	}
	var b batch
	if ts := c.Tickets; len(ts) > 0 {
		r, err := ticketRows(z, ts)
		if err != nil {
			return bot.E(op, bot.Invalid, err)
		}
		r.text("kind", func(i int) string { return string(ts[i].Kind) }).
			text("channel", func(i int) string { return string(ts[i].Channel) }).
			bytes("reporter", func(i int) []byte { return z.Text(seal.PlaceReporter, clean(ts[i].Code), clean(ts[i].Reporter)) }).
			bytes("reporter_hash", func(i int) []byte { return z.Hash(clean(ts[i].Reporter)) }).
			time("created_at", func(i int) time.Time { return ts[i].CreatedAt }).
			bytes("submission_hash", func(i int) []byte { return z.Hash(clean(ts[i].Submission)) })
		b.exec("insert tickets", insertTicketsSQL, nil, r)
	}
	if us := c.Updates; len(us) > 0 {
		r, err := ticketRows(z, us)
		if err != nil {
			return bot.E(op, bot.Invalid, err)
		}
		b.exec("update tickets", updateTicketsSQL, func(n int64) error {
			if n != int64(len(us)) {
				return bot.E(op, bot.NotFound, fmt.Errorf("update %d tickets: %d found", len(us), n))
			}
			return nil
		}, r)
	}
	if es := c.Events; len(es) > 0 {
		b.exec("insert events", insertEventsSQL, nil, rowsOf(len(es)).
			text("ticket_code", func(i int) string { return es[i].TicketCode }).
			time("at", func(i int) time.Time { return es[i].At }).
			text("actor", func(i int) string { return es[i].Actor }).
			text("type", func(i int) string { return es[i].Type }).
			bytes("detail", func(i int) []byte { return z.Text(seal.PlaceDetail, clean(es[i].TicketCode), clean(es[i].Detail)) }))
	}
	out, in := optOuts(c.OptOuts)
	if len(out) > 0 {
		b.exec("record opt-outs", optOutSQL, nil, rowsOf(len(out)).
			bytes("hash", func(i int) []byte { return z.Hash(clean(out[i].Address)) }).
			time("at", func(i int) time.Time { return out[i].At }))
	}
	if len(in) > 0 {
		b.exec("remove opt-outs", optInSQL, nil, rowsOf(len(in)).
			bytes("hash", func(i int) []byte { return z.Hash(clean(in[i].Address)) }))
	}
	if ms := c.Outbox; len(ms) > 0 {
		b.query("insert outbox messages", insertOutboxSQL, func(r rows) error {
			return readOutboxIDs(r, ms)
		}, claimedUntil, outboxRows(z, ms))
	}
	t.s.queueAttachments(&b, z, c)
	t.s.queueCheckpoints(&b, z, c)
	if err := t.c.send(ctx, &b); err != nil {
		return t.s.wrap(op, err)
	}
	return nil
}

// outboxRows stamps ms that have no CreatedAt with now, and returns them
// as rows, sealed.
func outboxRows(z *seal.Sealer, ms []bot.Outbound) *rowset {
	var now time.Time
	for i := range ms {
		if ms[i].CreatedAt.IsZero() {
			if now.IsZero() {
				now = time.Now().UTC()
			}
			ms[i].CreatedAt = now
		}
	}
	return rowsOf(len(ms)).
		text("channel", func(i int) string { return string(ms[i].Channel) }).
		bytes("recipient", func(i int) []byte { return z.Text(seal.PlaceRecipient, clean(ms[i].TicketCode), clean(ms[i].To)) }).
		bytes("recipient_hash", func(i int) []byte { return z.Hash(clean(ms[i].To)) }).
		bytes("body", func(i int) []byte { return z.Text(seal.PlaceBody, clean(ms[i].TicketCode), clean(ms[i].Body)) }).
		text("purpose", func(i int) string { return string(ms[i].Purpose) }).
		text("ticket_code", func(i int) string { return ms[i].TicketCode }).
		time("created_at", func(i int) time.Time { return ms[i].CreatedAt }).
		num("attachment_id", func(i int) int64 { return ms[i].Attachment })
}

// readOutboxIDs sets the IDs of the outbox messages ms, as inserted. The
// IDs rise with slice order, whatever order they come back in.
func readOutboxIDs(r rows, ms []bot.Outbound) error {
	ids := make([]int64, 0, len(ms))
	var id int64
	if err := each(r, func() error { ids = append(ids, id); return nil }, &id); err != nil {
		return err
	}
	if len(ids) != len(ms) {
		return fmt.Errorf("got %d IDs, want %d", len(ids), len(ms))
	}
	slices.Sort(ids)
	for i := range ms {
		ms[i].ID = ids[i]
	}
	return nil
}

// queueAttachments queues the insert of each file of c, sealed, and then
// c's links, with the check that each names a ticket.
func (s *Store) queueAttachments(b *batch, z *seal.Sealer, c *bot.Changes) {
	for i := range c.Attachments {
		f := &c.Attachments[i]
		ch, ext, sender := clean(string(f.Channel)), clean(f.ExternalID), clean(f.Sender)
		id := seal.AttachmentID(ch, ext, f.Index)
		b.query(fmt.Sprintf("insert attachment %d of message %q", f.Index, f.ExternalID), insertAttachmentSQL,
			func(r rows) error {
				f.ID = 0 // stored before, unless a row comes back
				return each(r, none, &f.ID)
			},
			clean(f.TicketCode), ch, ext, f.Index, clone(z.Text(seal.PlaceAttachmentSender, id, sender)),
			clone(z.Hash(sender)), clean(f.Kind), clean(f.MIME), f.Size, sealData(s.keys, id, f.Data), f.Received)
	}
	ls := c.Links
	if len(ls) == 0 {
		return
	}
	links := func() *rowset {
		return rowsOf(len(ls)).
			text("code", func(i int) string { return ls[i].TicketCode }).
			text("channel", func(i int) string { return string(ls[i].Channel) }).
			bytes("hash", func(i int) []byte { return z.Hash(clean(ls[i].Sender)) }).
			time("since", func(i int) time.Time { return ls[i].Since })
	}
	b.exec("link attachments", linkSQL, nil, links())
	b.query("link attachments", missingSQL, func(r rows) error {
		var missing int64
		if err := each(r, none, &missing); err != nil {
			return err
		}
		if missing > 0 {
			return bot.E("sqlstore.Apply", bot.NotFound, fmt.Errorf("%d links name no ticket", missing))
		}
		return nil
	}, links())
}

// ticketRows returns the first fourteen columns of insertTicketsSQL and
// updateTicketsSQL for ts: what may change of a ticket, sealed where it
// is personal.
func ticketRows(z *seal.Sealer, ts []bot.Ticket) (*rowset, error) {
	answers := make([]string, len(ts))
	marks := make([]string, len(ts))
	sealed := make([][]byte, len(ts))
	for i := range ts {
		var err error
		clear, private := seal.SplitAnswers(ts[i].Answers)
		if answers[i], err = encodeAnswers(clear); err != nil {
			return nil, fmt.Errorf("ticket %s: %w", ts[i].Code, err)
		}
		if marks[i], err = encodeMarks(ts[i].Marks); err != nil {
			return nil, fmt.Errorf("ticket %s: marks: %w", ts[i].Code, err)
		}
		b, err := z.Answers(clean(ts[i].Code), cleanMap(private))
		if err != nil {
			return nil, fmt.Errorf("ticket %s: %w", ts[i].Code, err)
		}
		sealed[i] = clone(b)
	}
	return rowsOf(len(ts)).
		text("code", func(i int) string { return ts[i].Code }).
		text("status", func(i int) string { return string(ts[i].Status) }).
		flag("urgent", func(i int) bool { return ts[i].Urgent }).
		text("kecamatan", func(i int) string { return ts[i].Kecamatan }).
		json("answers", func(i int) string { return answers[i] }).
		bytes("sealed_answers", func(i int) []byte { return sealed[i] }).
		time("updated_at", func(i int) time.Time { return ts[i].UpdatedAt }).
		text("assignee", func(i int) string { return ts[i].Assignee }).
		list("backups", func(i int) []string { return ts[i].Backups }).
		timeOrNull("accepted_at", func(i int) time.Time { return ts[i].AcceptedAt }).
		timeOrNull("closed_at", func(i int) time.Time { return ts[i].ClosedAt }).
		flag("relay", func(i int) bool { return ts[i].Relay }).
		json("marks", func(i int) string { return marks[i] }).
		timeOrNull("next_due_at", func(i int) time.Time { return ts[i].NextDue }), nil
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

// encodeAnswers returns the answers as a JSON object, cleaned; nil gives
// "{}".
func encodeAnswers(a map[string]string) (string, error) { return encodeJSON(cleanMap(a)) }

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
	return encodeJSON(s)
}

// encodeJSON returns m as a JSON object; an empty one gives "{}".
func encodeJSON(m map[string]string) (string, error) {
	if len(m) == 0 {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	return string(b), err
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

// Ticket reads the ticket with the code and locks it until the
// transaction ends (bot.LockingTx), so that two batches changing one
// ticket take turns (SQLite's transaction holds the whole database).
// Returns NotFound if no ticket has the code.
func (t *Tx) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	return t.s.ticket(ctx, t.c, "sqlstore.Tx.Ticket", code, t.s.d.sql().forUpdate)
}

// LockTickets reads the tickets with the codes (bot.TicketsLocker), in one
// query, and locks them until the transaction ends, in the order of their
// codes (so that two transactions locking several take them in the same
// order). Codes no ticket has are left out. Returns Unavailable if the
// server cannot be reached, or the error of opening sealed data.
func (t *Tx) LockTickets(ctx context.Context, codes []string) ([]bot.Ticket, error) {
	const op = "sqlstore.Tx.LockTickets"
	if len(codes) == 0 {
		return nil, nil
	}
	ts, err := t.s.tickets(ctx, t.c, len(codes), `SELECT `+ticketColumns+` FROM tickets
WHERE code IN (SELECT u.name FROM {rows}) ORDER BY code `+t.s.d.sql().forUpdate, names(codes))
	if err != nil {
		return nil, t.s.wrap(op, err)
	}
	return ts, nil
}

// dueTicketsSQL takes the open tickets due at $1 that no other transaction
// holds, in due order, through tickets_next_due_idx. PostgreSQL locks the
// rows before the limit counts them, so a transaction gets its limit's
// worth while enough remain unlocked.
const dueTicketsSQL = `SELECT ` + ticketColumns + ` FROM tickets
WHERE next_due_at <= $1 AND status <> 'done'
ORDER BY next_due_at, code
LIMIT $2 `

// DueTickets locks and returns up to limit open tickets whose NextDue is
// at or before now, earliest first (then by code), skipping tickets that
// other transactions hold (bot.ClockTx): two replicas running their clocks
// at once never get the same ticket. The locks last until the transaction
// ends; a rollback leaves the tickets due for the next run. Returns
// Unavailable if the server cannot be reached, or the error of opening
// sealed data.
func (t *Tx) DueTickets(ctx context.Context, now time.Time, limit int) ([]bot.Ticket, error) {
	if limit <= 0 {
		return nil, nil
	}
	ts, err := t.s.tickets(ctx, t.c, limit, dueTicketsSQL+t.s.d.sql().skipLocked, now, limit)
	if err != nil {
		return nil, t.s.wrap("sqlstore.DueTickets", err)
	}
	return ts, nil
}

// ClaimDigest records, in the transaction, that the daily digest of day
// ("2026-11-27") is sent, and reports whether this transaction is the
// first to claim it (bot.ClockTx). Two transactions claiming the same day
// at once: the second waits for the first and gets true only if the first
// rolls back. Returns Invalid for an empty day.
func (t *Tx) ClaimDigest(ctx context.Context, day string) (bool, error) {
	const op = "sqlstore.ClaimDigest"
	if day == "" {
		return false, bot.E(op, bot.Invalid, fmt.Errorf("no day"))
	}
	n, err := t.c.exec(ctx, `INSERT INTO digests (day, sent_at) VALUES ($1, $2) ON CONFLICT (day) DO NOTHING`,
		clean(day), time.Now())
	if err != nil {
		return false, t.s.wrap(op, err)
	}
	return n == 1, nil
}

// lateSQL counts the open tickets marked late at or before $1 (in
// markFormat: marks compare as text).
const lateSQL = `SELECT count(*) FROM tickets
WHERE status <> 'done' AND (marks ->> 'late_first' <= $1 OR marks ->> 'late_done' <= $1)`

// LateCount returns how many open tickets are marked late ("late_first" or
// "late_done") at or before now: the clocks' count of tickets past the
// service standard, for metrics. It reads every open ticket's marks, which
// is cheap at the service's volume. Returns Unavailable if the server
// cannot be reached.
func (s *Store) LateCount(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := queryRow(ctx, s.d, lateSQL, []any{now.UTC().Format(markFormat)}, &n); err != nil {
		return 0, s.wrap("sqlstore.LateCount", err)
	}
	return n, nil
}
