package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/internal/seal"
)

// Files are written one plain INSERT each, queued in Apply's batch: their
// sealed data goes to the server as one binary bytea parameter, where the
// text arrays of the other rows would double it in hex. A file already
// stored (its message delivered again after its ID was pruned) is kept as
// it was, and gets no ID.
const (
	insertAttachmentSQL = `
INSERT INTO attachments (ticket_code, channel, external_id, idx, sender, sender_hash, kind, mime, size, data, received_at)
VALUES (NULLIF($1, ''), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT (channel, external_id, idx) DO NOTHING
RETURNING id`

	// linkSQL applies a batch's links in one statement: it gives each
	// ticket ($1) the files its reporter (hash $3) sent on channel $2
	// since $4 that belong to no ticket yet, and counts the links that
	// name no ticket.
	linkSQL = `
WITH u AS (
	SELECT * FROM unnest($1::text::text[], $2::text::text[], $3::text::bytea[], $4::text::timestamptz[])
		AS u(code, channel, hash, since)
), linked AS (
	UPDATE attachments a SET ticket_code = u.code FROM u
	WHERE a.ticket_code IS NULL AND a.channel = u.channel AND a.sender_hash = u.hash AND a.received_at >= u.since
	RETURNING a.id
)
SELECT count(*) FROM u WHERE NOT EXISTS (SELECT 1 FROM tickets t WHERE t.code = u.code)`
)

// queueAttachments queues the insert of each file of c, sealed, and then
// each of c's links.
func (t *Tx) queueAttachments(b *pgx.Batch, a *arrays, z *seal.Sealer, c *bot.Changes) {
	for i := range c.Attachments {
		f := &c.Attachments[i]
		ch, ext, sender := clean(string(f.Channel)), clean(f.ExternalID), clean(f.Sender)
		id := seal.AttachmentID(ch, ext, f.Index)
		b.Queue(insertAttachmentSQL, clean(f.TicketCode), ch, ext, f.Index,
			clone(z.Text(seal.PlaceAttachmentSender, id, sender)), clone(z.Hash(sender)),
			clean(f.Kind), clean(f.MIME), f.Size, sealData(t.s.keys, id, f.Data), f.Received)
	}
	if ls := c.Links; len(ls) > 0 {
		b.Queue(linkSQL,
			a.texts(len(ls), func(i int) string { return clean(ls[i].TicketCode) }),
			a.texts(len(ls), func(i int) string { return clean(string(ls[i].Channel)) }),
			a.byteas(len(ls), func(i int) []byte { return z.Hash(clean(ls[i].Sender)) }),
			a.times(len(ls), func(i int) time.Time { return ls[i].Since }))
	}
}

// readAttachments reads the results of what queueAttachments queued and
// sets the ID of each file written.
func readAttachments(br pgx.BatchResults, c *bot.Changes) error {
	for i := range c.Attachments {
		f := &c.Attachments[i]
		err := br.QueryRow().Scan(&f.ID)
		if isNoRows(err) {
			f.ID = 0 // stored before
			continue
		}
		if err != nil {
			return fmt.Errorf("insert attachment %d of message %q: %w", f.Index, f.ExternalID, err)
		}
	}
	if len(c.Links) > 0 {
		var missing int
		if err := br.QueryRow().Scan(&missing); err != nil {
			return fmt.Errorf("link attachments: %w", err)
		}
		if missing > 0 {
			return bot.E("postgres.Apply", bot.NotFound, fmt.Errorf("link attachments: %d links name no ticket", missing))
		}
	}
	return nil
}

// Attachments lists a ticket's files, oldest first (by when they were
// received, then in the order written), without their data. Returns
// NotFound if no ticket has the code.
func (s *Store) Attachments(ctx context.Context, code string) ([]bot.Attachment, error) {
	const op = "postgres.Attachments"
	// The join tells an unknown ticket (no row) from one without files
	// (one row of NULLs) in the same round trip.
	rows, err := s.pool.Query(ctx, `
SELECT a.id, a.channel, a.external_id, a.idx, a.sender, a.kind, a.mime, a.size, a.received_at
FROM tickets t LEFT JOIN attachments a ON a.ticket_code = t.code
WHERE t.code = $1
ORDER BY a.received_at, a.id`, code)
	if err != nil {
		return nil, wrap(op, err)
	}
	var (
		found    bool
		out      []bot.Attachment
		id       *int64
		ch, ext  *string
		idx      *int
		sender   []byte
		kind     *string
		mime     *string
		size     *int
		received *time.Time
		o        = s.opener()
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &ch, &ext, &idx, &sender, &kind, &mime, &size, &received}, func() error {
		found = true
		if id == nil {
			return nil
		}
		a := bot.Attachment{ID: *id, TicketCode: code, Channel: bot.Channel(*ch), ExternalID: *ext, Index: *idx,
			Kind: *kind, MIME: *mime, Size: *size, Received: utc(*received)}
		var err error
		if a.Sender, err = o.Text(sender, seal.PlaceAttachmentSender, seal.AttachmentID(*ch, *ext, *idx)); err != nil {
			return fmt.Errorf("attachment %d: %w", a.ID, err)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, wrap(op, err)
	}
	if !found {
		return nil, bot.E(op, bot.NotFound, fmt.Errorf("no ticket %q", code))
	}
	return out, nil
}

// Attachment returns one file with its data, whether or not it belongs to
// a ticket yet. Returns NotFound if there is none with the ID.
func (s *Store) Attachment(ctx context.Context, id int64) (bot.Attachment, error) {
	const op = "postgres.Attachment"
	var (
		a            bot.Attachment
		sender, data []byte
	)
	err := s.pool.QueryRow(ctx, `
SELECT id, coalesce(ticket_code, ''), channel, external_id, idx, sender, kind, mime, size, data, received_at
FROM attachments WHERE id = $1`, id).Scan(&a.ID, &a.TicketCode, &a.Channel, &a.ExternalID, &a.Index, &sender,
		&a.Kind, &a.MIME, &a.Size, &data, &a.Received)
	if isNoRows(err) {
		return bot.Attachment{}, bot.E(op, bot.NotFound, fmt.Errorf("no attachment %d", id))
	}
	if err != nil {
		return bot.Attachment{}, wrap(op, err)
	}
	a.Received = utc(a.Received)
	aid := seal.AttachmentID(string(a.Channel), a.ExternalID, a.Index)
	if a.Sender, err = s.opener().Text(sender, seal.PlaceAttachmentSender, aid); err != nil {
		return bot.Attachment{}, wrap(op, fmt.Errorf("attachment %d: %w", id, err))
	}
	if a.Data, err = openData(s.keys, data, aid); err != nil {
		return bot.Attachment{}, wrap(op, fmt.Errorf("attachment %d: %w", id, err))
	}
	return a, nil
}
