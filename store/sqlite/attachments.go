package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"aduan/bot"
	"aduan/internal/seal"
)

// applyAttachments writes c's files, sealed, and then applies c's links.
// A file already stored (its message delivered again after its ID was
// pruned) is kept as it was, and gets no ID.
func (t *Tx) applyAttachments(ctx context.Context, z *seal.Sealer, c *bot.Changes) error {
	const op = "sqlite.Apply"
	if len(c.Attachments) > 0 {
		st, err := t.tx.PrepareContext(ctx, `
INSERT INTO attachments (ticket_code, channel, external_id, idx, sender, sender_hash, kind, mime, size, data, received_at)
VALUES (NULLIF(?, ''), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (channel, external_id, idx) DO NOTHING`)
		if err != nil {
			return wrap(op, err)
		}
		defer st.Close()
		for i := range c.Attachments {
			f := &c.Attachments[i]
			ch, ext, sender := clean(string(f.Channel)), clean(f.ExternalID), clean(f.Sender)
			id := seal.AttachmentID(ch, ext, f.Index)
			res, err := st.ExecContext(ctx, clean(f.TicketCode), ch, ext, f.Index,
				clone(z.Text(seal.PlaceAttachmentSender, id, sender)), clone(z.Hash(sender)),
				clean(f.Kind), clean(f.MIME), f.Size, sealData(t.s.keys, id, f.Data), micros(f.Received))
			if err != nil {
				return wrap(op, fmt.Errorf("insert attachment %d of message %q: %w", f.Index, f.ExternalID, err))
			}
			n, err := res.RowsAffected()
			if err != nil {
				return wrap(op, err)
			}
			f.ID = 0 // stored before
			if n == 1 {
				if f.ID, err = res.LastInsertId(); err != nil {
					return wrap(op, err)
				}
			}
		}
	}
	for _, l := range c.Links {
		code := clean(l.TicketCode)
		res, err := t.tx.ExecContext(ctx, `UPDATE attachments SET ticket_code = ?1
WHERE ticket_code IS NULL AND channel = ?2 AND sender_hash = ?3 AND received_at >= ?4`,
			code, clean(string(l.Channel)), clone(z.Hash(clean(l.Sender))), micros(l.Since))
		if err != nil {
			return wrap(op, fmt.Errorf("link attachments to ticket %s: %w", l.TicketCode, err))
		}
		if n, err := res.RowsAffected(); err != nil || n > 0 {
			if err != nil {
				return wrap(op, err)
			}
			continue // the foreign key vouches for the ticket
		}
		var found bool
		if err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tickets WHERE code = ?)`, code).Scan(&found); err != nil {
			return wrap(op, err)
		}
		if !found {
			return bot.E(op, bot.NotFound, fmt.Errorf("link attachments: no ticket %q", l.TicketCode))
		}
	}
	return nil
}

// Attachments lists a ticket's files, oldest first (by when they were
// received, then in the order written), without their data. Returns
// NotFound if no ticket has the code.
func (s *Store) Attachments(ctx context.Context, code string) ([]bot.Attachment, error) {
	const op = "sqlite.Attachments"
	rows, err := s.db.QueryContext(ctx, `
SELECT a.id, a.channel, a.external_id, a.idx, a.sender, a.kind, a.mime, a.size, a.received_at
FROM tickets t LEFT JOIN attachments a ON a.ticket_code = t.code
WHERE t.code = ?
ORDER BY a.received_at, a.id`, code)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var (
		found bool
		out   []bot.Attachment
		o     = s.opener()
	)
	for rows.Next() {
		found = true
		var (
			id, idx, size, received sql.NullInt64
			ch, ext, kind, mime     sql.NullString
			sender                  []byte
		)
		if err := rows.Scan(&id, &ch, &ext, &idx, &sender, &kind, &mime, &size, &received); err != nil {
			return nil, wrap(op, err)
		}
		if !id.Valid {
			continue
		}
		a := bot.Attachment{ID: id.Int64, TicketCode: code, Channel: bot.Channel(ch.String), ExternalID: ext.String,
			Index: int(idx.Int64), Kind: kind.String, MIME: mime.String, Size: int(size.Int64), Received: fromMicros(received.Int64)}
		if a.Sender, err = o.Text(sender, seal.PlaceAttachmentSender, seal.AttachmentID(ch.String, ext.String, a.Index)); err != nil {
			return nil, wrap(op, fmt.Errorf("attachment %d: %w", a.ID, err))
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
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
	const op = "sqlite.Attachment"
	var (
		a            bot.Attachment
		sender, data []byte
		received     int64
	)
	err := s.db.QueryRowContext(ctx, `
SELECT id, coalesce(ticket_code, ''), channel, external_id, idx, sender, kind, mime, size, data, received_at
FROM attachments WHERE id = ?`, id).Scan(&a.ID, &a.TicketCode, &a.Channel, &a.ExternalID, &a.Index, &sender,
		&a.Kind, &a.MIME, &a.Size, &data, &received)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.Attachment{}, bot.E(op, bot.NotFound, fmt.Errorf("no attachment %d", id))
	}
	if err != nil {
		return bot.Attachment{}, wrap(op, err)
	}
	a.Received = fromMicros(received)
	aid := seal.AttachmentID(string(a.Channel), a.ExternalID, a.Index)
	if a.Sender, err = s.opener().Text(sender, seal.PlaceAttachmentSender, aid); err != nil {
		return bot.Attachment{}, wrap(op, fmt.Errorf("attachment %d: %w", id, err))
	}
	if a.Data, err = openData(s.keys, data, aid); err != nil {
		return bot.Attachment{}, wrap(op, fmt.Errorf("attachment %d: %w", id, err))
	}
	return a, nil
}

// sealData seals an attachment's file for its ID (seal.AttachmentID). An
// empty file is sealed too: every stored file opens to what was written.
// k must not be nil.
func sealData(k *seal.Keyring, id string, data []byte) []byte {
	return k.Seal(data, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
}

// openData opens an attachment's stored file. Returns seal.ErrNoKeyring
// if k is nil.
func openData(k *seal.Keyring, stored []byte, id string) ([]byte, error) {
	if k == nil {
		return nil, seal.ErrNoKeyring
	}
	b, err := k.Open(stored, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
	if err != nil {
		return nil, fmt.Errorf("%s of %q: %w", seal.PlaceAttachmentData, id, err)
	}
	return b, nil
}
