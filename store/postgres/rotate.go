package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"aduan/internal/seal"
)

// DefaultRotateBatch is how many rows Rotate rewrites per transaction when
// its caller does not say.
const DefaultRotateBatch = 200

// Rotate seals every personal value again under the keyring's current key,
// batch rows at a time, each batch one short transaction, so that the
// service keeps running meanwhile. It also seals values written before
// sealing began, moves their free-text answers out of the clear answers,
// and fills in missing lookup hashes. Attachments' files are read a few
// at a time (16 MiB or one file), however large the batch. A row changed
// by someone else between Rotate's read and its write is left for the next
// run. It returns how many rows of each table it rewrote (Attachments:
// files sealed again); run again, it finds nothing to do.
//
// Every replica must run with the new current key before Rotate starts,
// or they go on writing under the old one. Returns Invalid if the store
// has no keyring, and an error naming the row if a value is sealed under a
// key the keyring lacks (add it to security.old_keys).
func (s *Store) Rotate(ctx context.Context, batch int) (seal.Counts, error) {
	const op = "postgres.Rotate"
	var n seal.Counts
	z, err := s.sealer(op)
	if err != nil {
		return n, err
	}
	if batch <= 0 {
		batch = DefaultRotateBatch
	}
	r := rotation{s: s, z: z, o: s.opener(), prefix: s.keys.Prefix(), batch: batch}
	if n.Tickets, err = r.tickets(ctx); err != nil {
		return n, wrap(op, err)
	}
	if n.Events, err = r.events(ctx); err != nil {
		return n, wrap(op, err)
	}
	if n.Outbox, err = r.outbox(ctx); err != nil {
		return n, wrap(op, err)
	}
	if n.Attachments, err = r.attachments(ctx); err != nil {
		return n, wrap(op, err)
	}
	return n, nil
}

type rotation struct {
	s      *Store
	z      *seal.Sealer
	o      *seal.Opener
	prefix []byte
	batch  int
}

// stale is true for a stored value $P that is set but not sealed under
// the current key, whose prefix is $2.
func stale(col string) string {
	return `(length(` + col + `) > 0 AND substring(` + col + ` from 1 for 5) <> $2)`
}

// apply sends the updates of one page and counts the rows they changed.
func (r *rotation) apply(ctx context.Context, b *pgx.Batch) (int64, error) {
	if b.Len() == 0 {
		return 0, nil
	}
	res := r.s.pool.SendBatch(ctx, b)
	var n int64
	for range b.Len() {
		tag, err := res.Exec()
		if err != nil {
			res.Close()
			return n, err
		}
		n += tag.RowsAffected()
	}
	return n, res.Close()
}

func (r *rotation) tickets(ctx context.Context) (int64, error) {
	stats := seal.StatisticFields()
	var total int64
	after := ""
	for {
		rows, err := r.s.pool.Query(ctx, `SELECT code, reporter, sealed_answers, answers FROM tickets
WHERE code > $1 AND (`+stale("reporter")+` OR (length(reporter) > 0 AND reporter_hash IS NULL)
	OR `+stale("sealed_answers")+`
	OR EXISTS (SELECT 1 FROM jsonb_object_keys(answers) AS a(k) WHERE NOT (k = ANY($3::text[]))))
ORDER BY code LIMIT $4`, after, r.prefix, stats, r.batch)
		if err != nil {
			return total, err
		}
		type row struct {
			code                     string
			reporter, private, clear []byte
		}
		var page []row
		var x row
		_, err = pgx.ForEachRow(rows, []any{&x.code, &x.reporter, &x.private, &x.clear}, func() error {
			page = append(page, x)
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(page) == 0 {
			return total, nil
		}
		var b pgx.Batch
		for _, x := range page {
			reporter, err := r.o.Text(x.reporter, seal.PlaceReporter, x.code)
			if err != nil {
				return total, err
			}
			answers, err := r.o.Answers(x.code, x.clear, x.private)
			if err != nil {
				return total, err
			}
			clear, private := seal.SplitAnswers(answers)
			clearJSON, err := encodeAnswers(clear)
			if err != nil {
				return total, fmt.Errorf("ticket %s: %w", x.code, err)
			}
			sealedAnswers, err := r.z.Answers(x.code, cleanMap(private))
			if err != nil {
				return total, fmt.Errorf("ticket %s: %w", x.code, err)
			}
			sealedAnswers = clone(sealedAnswers)
			sealedReporter := clone(r.z.Text(seal.PlaceReporter, x.code, reporter))
			hash := clone(r.z.Hash(reporter))
			b.Queue(`UPDATE tickets SET reporter = $2, reporter_hash = $3, sealed_answers = $4, answers = $5::jsonb
WHERE code = $1 AND reporter = $6 AND sealed_answers IS NOT DISTINCT FROM $7 AND answers = $8::jsonb`,
				x.code, sealedReporter, hash, sealedAnswers, clearJSON, x.reporter, x.private, string(x.clear))
		}
		n, err := r.apply(ctx, &b)
		total += n
		if err != nil {
			return total, err
		}
		after = page[len(page)-1].code
	}
}

func (r *rotation) events(ctx context.Context) (int64, error) {
	var (
		total int64
		after int64
	)
	for {
		rows, err := r.s.pool.Query(ctx, `SELECT id, ticket_code, detail FROM ticket_events
WHERE id > $1 AND `+stale("detail")+`
ORDER BY id LIMIT $3`, after, r.prefix, r.batch)
		if err != nil {
			return total, err
		}
		var (
			b      pgx.Batch
			id     int64
			code   string
			detail []byte
			last   int64 = -1
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &code, &detail}, func() error {
			d, err := r.o.Text(detail, seal.PlaceDetail, code)
			if err != nil {
				return fmt.Errorf("event %d: %w", id, err)
			}
			b.Queue(`UPDATE ticket_events SET detail = $2 WHERE id = $1 AND detail = $3`,
				id, clone(r.z.Text(seal.PlaceDetail, code, d)), clone(detail))
			last = id
			return nil
		})
		if err != nil {
			return total, err
		}
		if last < 0 {
			return total, nil
		}
		n, err := r.apply(ctx, &b)
		total += n
		if err != nil {
			return total, err
		}
		after = last
	}
}

func (r *rotation) outbox(ctx context.Context) (int64, error) {
	var (
		total int64
		after int64
	)
	for {
		rows, err := r.s.pool.Query(ctx, `SELECT id, coalesce(ticket_code, ''), recipient, body FROM outbox
WHERE id > $1 AND (`+stale("recipient")+` OR (length(recipient) > 0 AND recipient_hash IS NULL) OR `+stale("body")+`)
ORDER BY id LIMIT $3`, after, r.prefix, r.batch)
		if err != nil {
			return total, err
		}
		var (
			b        pgx.Batch
			id       int64
			code     string
			to, body []byte
			last     int64 = -1
		)
		_, err = pgx.ForEachRow(rows, []any{&id, &code, &to, &body}, func() error {
			t, bd, err := r.o.Outbound(to, body, code)
			if err != nil {
				return fmt.Errorf("outbox message %d: %w", id, err)
			}
			b.Queue(`UPDATE outbox SET recipient = $2, recipient_hash = $3, body = $4
WHERE id = $1 AND recipient = $5 AND body = $6`,
				id, clone(r.z.Text(seal.PlaceRecipient, code, t)), clone(r.z.Hash(t)),
				clone(r.z.Text(seal.PlaceBody, code, bd)), clone(to), clone(body))
			last = id
			return nil
		})
		if err != nil {
			return total, err
		}
		if last < 0 {
			return total, nil
		}
		n, err := r.apply(ctx, &b)
		total += n
		if err != nil {
			return total, err
		}
		after = last
	}
}

// rotateBytes is about how many bytes of attachments' files Rotate reads
// at once; a file larger than that is read alone.
const rotateBytes = 16 << 20

// sealedHead is how many bytes start a sealed value with its key and
// nonce: they tell one sealing from every other, so that Rotate can check
// that a file is still the one it read without sending it back.
const sealedHead = seal.PrefixSize + 12

// sealedFile is an attachment Rotate rewrites: its AAD ID, its stored
// sender and the size of its stored file.
type sealedFile struct {
	id     int64
	aid    string
	sender []byte
	size   int64
}

func (r *rotation) attachments(ctx context.Context) (int64, error) {
	var total, after int64
	for {
		rows, err := r.s.pool.Query(ctx, `SELECT id, channel, external_id, idx, sender, length(data) FROM attachments
WHERE id > $1 AND (`+stale("sender")+` OR (length(sender) > 0 AND sender_hash IS NULL) OR `+stale("data")+`)
ORDER BY id LIMIT $3`, after, r.prefix, r.batch)
		if err != nil {
			return total, err
		}
		var (
			page    []sealedFile
			f       sealedFile
			ch, ext string
			idx     int
		)
		_, err = pgx.ForEachRow(rows, []any{&f.id, &ch, &ext, &idx, &f.sender, &f.size}, func() error {
			f.aid = seal.AttachmentID(ch, ext, idx)
			f.sender = clone(f.sender)
			page = append(page, f)
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(page) == 0 {
			return total, nil
		}
		after = page[len(page)-1].id
		for len(page) > 0 {
			k, size := 1, page[0].size
			for k < len(page) && size+page[k].size <= rotateBytes {
				size += page[k].size
				k++
			}
			n, err := r.files(ctx, page[:k])
			total += n
			if err != nil {
				return total, err
			}
			page = page[k:]
		}
	}
}

// files reads and seals again a group of attachments.
func (r *rotation) files(ctx context.Context, fs []sealedFile) (int64, error) {
	ids := make([]int64, len(fs))
	byID := make(map[int64]*sealedFile, len(fs))
	for i := range fs {
		ids[i] = fs[i].id
		byID[fs[i].id] = &fs[i]
	}
	rows, err := r.s.pool.Query(ctx, `SELECT id, data FROM attachments WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return 0, err
	}
	var (
		b    pgx.Batch
		id   int64
		data []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &data}, func() error {
		f := byID[id]
		sender, err := r.o.Text(f.sender, seal.PlaceAttachmentSender, f.aid)
		if err != nil {
			return fmt.Errorf("attachment %d: %w", id, err)
		}
		plain, err := openData(r.s.keys, data, f.aid)
		if err != nil {
			return fmt.Errorf("attachment %d: %w", id, err)
		}
		b.Queue(`UPDATE attachments SET sender = $2, sender_hash = $3, data = $4
WHERE id = $1 AND sender = $5 AND substring(data from 1 for $6) = $7`,
			id, clone(r.z.Text(seal.PlaceAttachmentSender, f.aid, sender)), clone(r.z.Hash(sender)),
			sealData(r.s.keys, f.aid, plain), f.sender, sealedHead, clone(data[:min(len(data), sealedHead)]))
		return nil
	})
	if err != nil {
		return 0, err
	}
	return r.apply(ctx, &b)
}

// clone copies b, keeping nil nil and empty empty: the sealer reuses its
// buffer, and a bytea NULL differs from an empty one.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
