package sqlstore

import (
	"context"
	"fmt"
	"strconv"

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
	const op = "sqlstore.Rotate"
	var n seal.Counts
	z, err := s.sealer(op)
	if err != nil {
		return n, err
	}
	if batch <= 0 {
		batch = DefaultRotateBatch
	}
	r := rotation{s: s, z: z, o: s.opener(), prefix: s.keys.Prefix(), batch: batch}
	for _, step := range []struct {
		n  *int64
		fn func(context.Context) (int64, error)
	}{{&n.Tickets, r.tickets}, {&n.Events, r.events}, {&n.Outbox, r.outbox}, {&n.Attachments, r.attachments}} {
		if *step.n, err = step.fn(ctx); err != nil {
			return n, s.wrap(op, err)
		}
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

// stale is true for a stored value that is set but not sealed under the
// current key, whose prefix is the parameter p.
func stale(col, p string) string {
	return `(length(` + col + `) > 0 AND substr(` + col + `, 1, ` + strconv.Itoa(seal.PrefixSize) + `) <> ` + p + `)`
}

// pages reads the rows to rewrite a page at a time, each page query's
// rows after the previous page's last key (the first argument): row is
// called for each, and returns its key; done for each page, and returns
// how many rows it rewrote.
func (r *rotation) pages(ctx context.Context, query string, args, dest []any, row func() (key any, err error),
	done func() (int64, error)) (int64, error) {
	var total int64
	for {
		var last any
		err := scanEach(ctx, r.s.d, query, args, func() error {
			var err error
			last, err = row()
			return err
		}, dest...)
		if err != nil || last == nil {
			return total, err
		}
		n, err := done()
		total += n
		if err != nil {
			return total, err
		}
		args[0] = last
	}
}

// run runs a page's rewrites in one transaction, empties b and counts the
// rows they changed.
func (r *rotation) run(ctx context.Context, b *batch) (int64, error) {
	var n int64
	for i := range *b {
		(*b)[i].count = func(k int64) error { n += k; return nil }
	}
	err := r.s.d.send(ctx, b)
	*b = (*b)[:0]
	return n, err
}

func (r *rotation) tickets(ctx context.Context) (int64, error) {
	var (
		b                        batch
		code                     string
		reporter, private, clear []byte
	)
	return r.pages(ctx, `SELECT code, reporter, sealed_answers, answers FROM tickets
WHERE code > $1 AND (`+stale("reporter", "$2")+` OR (length(reporter) > 0 AND reporter_hash IS NULL)
	OR `+stale("sealed_answers", "$2")+` OR `+moreAnswers(r.s.d.sql())+`)
ORDER BY code LIMIT $3`, []any{"", r.prefix, r.batch, names(seal.StatisticFields())},
		[]any{&code, &reporter, &private, &clear}, func() (any, error) {
			rep, err := r.o.Text(reporter, seal.PlaceReporter, code)
			if err != nil {
				return nil, err
			}
			answers, err := r.o.Answers(code, clear, private)
			if err != nil {
				return nil, err
			}
			c, p := seal.SplitAnswers(answers)
			clearJSON, err := encodeAnswers(c)
			if err != nil {
				return nil, fmt.Errorf("ticket %s: %w", code, err)
			}
			sealed, err := r.z.Answers(code, cleanMap(p))
			if err != nil {
				return nil, fmt.Errorf("ticket %s: %w", code, err)
			}
			sealed = clone(sealed)
			b.exec("rotate ticket "+code, `UPDATE tickets SET reporter = $2, reporter_hash = $3, sealed_answers = $4, answers = $5
WHERE code = $1 AND reporter = $6 AND sealed_answers IS NOT DISTINCT FROM $7 AND answers = $8`, nil,
				code, clone(r.z.Text(seal.PlaceReporter, code, rep)), clone(r.z.Hash(rep)), sealed, clearJSON,
				clone(reporter), clone(private), string(clear))
			return code, nil
		}, func() (int64, error) { return r.run(ctx, &b) })
}

func (r *rotation) events(ctx context.Context) (int64, error) {
	var (
		b      batch
		id     int64
		code   string
		detail []byte
	)
	return r.pages(ctx, `SELECT id, ticket_code, detail FROM ticket_events
WHERE id > $1 AND `+stale("detail", "$2")+`
ORDER BY id LIMIT $3`, []any{int64(0), r.prefix, r.batch}, []any{&id, &code, &detail}, func() (any, error) {
		d, err := r.o.Text(detail, seal.PlaceDetail, code)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", id, err)
		}
		b.exec("rotate event", `UPDATE ticket_events SET detail = $2 WHERE id = $1 AND detail = $3`, nil,
			id, clone(r.z.Text(seal.PlaceDetail, code, d)), clone(detail))
		return id, nil
	}, func() (int64, error) { return r.run(ctx, &b) })
}

func (r *rotation) outbox(ctx context.Context) (int64, error) {
	var (
		b        batch
		id       int64
		code     string
		to, body []byte
	)
	return r.pages(ctx, `SELECT id, coalesce(ticket_code, ''), recipient, body FROM outbox
WHERE id > $1 AND (`+stale("recipient", "$2")+` OR (length(recipient) > 0 AND recipient_hash IS NULL) OR `+stale("body", "$2")+`)
ORDER BY id LIMIT $3`, []any{int64(0), r.prefix, r.batch}, []any{&id, &code, &to, &body}, func() (any, error) {
		t, bd, err := r.o.Outbound(to, body, code)
		if err != nil {
			return nil, fmt.Errorf("outbox message %d: %w", id, err)
		}
		b.exec("rotate outbox message", `UPDATE outbox SET recipient = $2, recipient_hash = $3, body = $4
WHERE id = $1 AND recipient = $5 AND body = $6`, nil,
			id, clone(r.z.Text(seal.PlaceRecipient, code, t)), clone(r.z.Hash(t)),
			clone(r.z.Text(seal.PlaceBody, code, bd)), clone(to), clone(body))
		return id, nil
	}, func() (int64, error) { return r.run(ctx, &b) })
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

// attachments pages through the files to rewrite, and rewrites each
// page's a few at a time (rotateBytes, or one file).
func (r *rotation) attachments(ctx context.Context) (int64, error) {
	var (
		page    []sealedFile
		f       sealedFile
		ch, ext string
		idx     int
	)
	return r.pages(ctx, `SELECT id, channel, external_id, idx, sender, length(data) FROM attachments
WHERE id > $1 AND (`+stale("sender", "$2")+` OR (length(sender) > 0 AND sender_hash IS NULL) OR `+stale("data", "$2")+`)
ORDER BY id LIMIT $3`, []any{int64(0), r.prefix, r.batch}, []any{&f.id, &ch, &ext, &idx, &f.sender, &f.size},
		func() (any, error) {
			f.aid, f.sender = seal.AttachmentID(ch, ext, idx), clone(f.sender)
			page = append(page, f)
			return f.id, nil
		}, func() (int64, error) {
			var total int64
			for fs := page; len(fs) > 0; {
				k, size := 1, fs[0].size
				for k < len(fs) && size+fs[k].size <= rotateBytes {
					size += fs[k].size
					k++
				}
				n, err := r.files(ctx, fs[:k])
				total += n
				if err != nil {
					return total, err
				}
				fs = fs[k:]
			}
			page = page[:0]
			return total, nil
		})
}

// files reads and seals again a group of attachments, in one transaction.
func (r *rotation) files(ctx context.Context, fs []sealedFile) (int64, error) {
	byID := make(map[int64]*sealedFile, len(fs))
	for i := range fs {
		byID[fs[i].id] = &fs[i]
	}
	var (
		b    batch
		id   int64
		data []byte
	)
	err := scanEach(ctx, r.s.d, `SELECT id, data FROM attachments WHERE id IN (SELECT u.id FROM {rows}) ORDER BY id`,
		[]any{rowsOf(len(fs)).num("id", func(i int) int64 { return fs[i].id })}, func() error {
			f := byID[id]
			sender, err := r.o.Text(f.sender, seal.PlaceAttachmentSender, f.aid)
			if err != nil {
				return fmt.Errorf("attachment %d: %w", id, err)
			}
			plain, err := openData(r.s.keys, data, f.aid)
			if err != nil {
				return fmt.Errorf("attachment %d: %w", id, err)
			}
			b.exec("rotate attachment", `UPDATE attachments SET sender = $2, sender_hash = $3, data = $4
WHERE id = $1 AND sender = $5 AND substr(data, 1, $6) = $7`, nil,
				id, clone(r.z.Text(seal.PlaceAttachmentSender, f.aid, sender)), clone(r.z.Hash(sender)),
				sealData(r.s.keys, f.aid, plain), f.sender, sealedHead, clone(data[:min(len(data), sealedHead)]))
			return nil
		}, &id, &data)
	if err != nil {
		return 0, err
	}
	return r.run(ctx, &b)
}
