package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"aduan/internal/seal"
)

// DefaultRotateBatch is how many rows Rotate rewrites per transaction when
// its caller does not say.
const DefaultRotateBatch = 200

// Rotate seals every personal value again under the keyring's current key,
// batch rows at a time, each batch one short transaction. It also seals
// values written before sealing began, moves their free-text answers out
// of the clear answers, and fills in missing lookup hashes. Attachments'
// files are read a few at a time (16 MiB or one file), however large the
// batch. A row changed by someone else between Rotate's read and its
// write is left for the next run. It returns how many rows of each table
// it rewrote (Attachments: files sealed again); run again, it finds
// nothing to do. Returns Invalid if the store has no keyring, and an error
// naming the row if a value is sealed under a key the keyring lacks.
func (s *Store) Rotate(ctx context.Context, batch int) (seal.Counts, error) {
	const op = "sqlite.Rotate"
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

// stale is true for a stored value that is set but not sealed under the
// current key, whose prefix is ?2. Text written before sealing began is
// stale too.
func stale(col string) string {
	return `(length(` + col + `) > 0 AND (typeof(` + col + `) <> 'blob' OR substr(` + col + `, 1, 5) <> ?2))`
}

// update is one row's rewrite.
type update struct {
	query string
	args  []any
}

// apply runs the updates of one page in one transaction and counts the
// rows they changed.
func (r *rotation) apply(ctx context.Context, us []update) (int64, error) {
	if len(us) == 0 {
		return 0, nil
	}
	tx, err := r.s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int64
	for _, u := range us {
		res, err := tx.ExecContext(ctx, u.query, u.args...)
		if err != nil {
			return 0, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, tx.Commit()
}

// page runs a query and calls row for each result, closing rows.
func page(ctx context.Context, db *sql.DB, query string, args []any, dest []any, row func() error) error {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := row(); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (r *rotation) tickets(ctx context.Context) (int64, error) {
	stats := jsonList(seal.StatisticFields())
	var total int64
	after := ""
	for {
		var (
			us                                  []update
			code                                string
			reporter, private, clear, reporter2 []byte
			last                                = ""
		)
		err := page(ctx, r.s.db, `SELECT code, reporter, sealed_answers, answers FROM tickets
WHERE code > ?1 AND (`+stale("reporter")+` OR (length(reporter) > 0 AND reporter_hash IS NULL)
	OR `+stale("sealed_answers")+`
	OR EXISTS (SELECT 1 FROM json_each(answers) AS a WHERE a.key NOT IN (SELECT value FROM json_each(?3))))
ORDER BY code LIMIT ?4`, []any{after, r.prefix, stats, r.batch}, []any{&code, &reporter, &private, &clear}, func() error {
			rep, err := r.o.Text(reporter, seal.PlaceReporter, code)
			if err != nil {
				return err
			}
			answers, err := r.o.Answers(code, clear, private)
			if err != nil {
				return err
			}
			c, p := seal.SplitAnswers(answers)
			clearJSON, err := encodeAnswers(c)
			if err != nil {
				return fmt.Errorf("ticket %s: %w", code, err)
			}
			sealedAnswers, err := r.z.Answers(code, cleanMap(p))
			if err != nil {
				return fmt.Errorf("ticket %s: %w", code, err)
			}
			sealedAnswers = clone(sealedAnswers)
			reporter2 = clone(r.z.Text(seal.PlaceReporter, code, rep))
			us = append(us, update{`UPDATE tickets SET reporter = ?2, reporter_hash = ?3, sealed_answers = ?4, answers = ?5
WHERE code = ?1 AND ifnull(CAST(reporter AS BLOB), X'') = ifnull(?6, X'') AND ifnull(CAST(sealed_answers AS BLOB), X'') = ifnull(?7, X'') AND answers IS ?8`,
				[]any{code, reporter2, clone(r.z.Hash(rep)), sealedAnswers, clearJSON, reporter, private, string(clear)}})
			last = code
			return nil
		})
		if err != nil {
			return total, err
		}
		if last == "" {
			return total, nil
		}
		n, err := r.apply(ctx, us)
		total += n
		if err != nil {
			return total, err
		}
		after = last
	}
}

func (r *rotation) events(ctx context.Context) (int64, error) {
	var total, after int64
	for {
		var (
			us     []update
			id     int64
			code   string
			detail []byte
			last   int64 = -1
		)
		err := page(ctx, r.s.db, `SELECT id, ticket_code, detail FROM ticket_events
WHERE id > ?1 AND `+stale("detail")+`
ORDER BY id LIMIT ?3`, []any{after, r.prefix, r.batch}, []any{&id, &code, &detail}, func() error {
			d, err := r.o.Text(detail, seal.PlaceDetail, code)
			if err != nil {
				return fmt.Errorf("event %d: %w", id, err)
			}
			us = append(us, update{`UPDATE ticket_events SET detail = ?2 WHERE id = ?1 AND ifnull(CAST(detail AS BLOB), X'') = ifnull(?3, X'')`,
				[]any{id, clone(r.z.Text(seal.PlaceDetail, code, d)), detail}})
			last = id
			return nil
		})
		if err != nil {
			return total, err
		}
		if last < 0 {
			return total, nil
		}
		n, err := r.apply(ctx, us)
		total += n
		if err != nil {
			return total, err
		}
		after = last
	}
}

func (r *rotation) outbox(ctx context.Context) (int64, error) {
	var total, after int64
	for {
		var (
			us       []update
			id       int64
			code     string
			to, body []byte
			last     int64 = -1
		)
		err := page(ctx, r.s.db, `SELECT id, coalesce(ticket_code, ''), recipient, body FROM outbox
WHERE id > ?1 AND (`+stale("recipient")+` OR (length(recipient) > 0 AND recipient_hash IS NULL) OR `+stale("body")+`)
ORDER BY id LIMIT ?3`, []any{after, r.prefix, r.batch}, []any{&id, &code, &to, &body}, func() error {
			t, b, err := r.o.Outbound(to, body, code)
			if err != nil {
				return fmt.Errorf("outbox message %d: %w", id, err)
			}
			us = append(us, update{`UPDATE outbox SET recipient = ?2, recipient_hash = ?3, body = ?4
WHERE id = ?1 AND ifnull(CAST(recipient AS BLOB), X'') = ifnull(?5, X'') AND ifnull(CAST(body AS BLOB), X'') = ifnull(?6, X'')`,
				[]any{id, clone(r.z.Text(seal.PlaceRecipient, code, t)), clone(r.z.Hash(t)),
					clone(r.z.Text(seal.PlaceBody, code, b)), to, body}})
			last = id
			return nil
		})
		if err != nil {
			return total, err
		}
		if last < 0 {
			return total, nil
		}
		n, err := r.apply(ctx, us)
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
// that a file is still the one it read without comparing all of it.
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
		var (
			fs      []sealedFile
			f       sealedFile
			ch, ext string
			idx     int
		)
		err := page(ctx, r.s.db, `SELECT id, channel, external_id, idx, sender, length(data) FROM attachments
WHERE id > ?1 AND (`+stale("sender")+` OR (length(sender) > 0 AND sender_hash IS NULL) OR `+stale("data")+`)
ORDER BY id LIMIT ?3`, []any{after, r.prefix, r.batch}, []any{&f.id, &ch, &ext, &idx, &f.sender, &f.size}, func() error {
			f.aid = seal.AttachmentID(ch, ext, idx)
			fs = append(fs, f)
			return nil
		})
		if err != nil {
			return total, err
		}
		if len(fs) == 0 {
			return total, nil
		}
		after = fs[len(fs)-1].id
		for len(fs) > 0 {
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
	idJSON, err := json.Marshal(ids)
	if err != nil {
		return 0, err
	}
	var (
		us   []update
		id   int64
		data []byte
	)
	err = page(ctx, r.s.db, `SELECT id, data FROM attachments WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id`,
		[]any{string(idJSON)}, []any{&id, &data}, func() error {
			f := byID[id]
			sender, err := r.o.Text(f.sender, seal.PlaceAttachmentSender, f.aid)
			if err != nil {
				return fmt.Errorf("attachment %d: %w", id, err)
			}
			plain, err := openData(r.s.keys, data, f.aid)
			if err != nil {
				return fmt.Errorf("attachment %d: %w", id, err)
			}
			us = append(us, update{`UPDATE attachments SET sender = ?2, sender_hash = ?3, data = ?4
WHERE id = ?1 AND ifnull(CAST(sender AS BLOB), X'') = ifnull(?5, X'') AND substr(data, 1, ?6) = ?7`,
				[]any{id, clone(r.z.Text(seal.PlaceAttachmentSender, f.aid, sender)), clone(r.z.Hash(sender)),
					sealData(r.s.keys, f.aid, plain), f.sender, sealedHead, clone(data[:min(len(data), sealedHead)])}})
			return nil
		})
	if err != nil {
		return 0, err
	}
	return r.apply(ctx, us)
}
