package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"aduan/internal/seal"
)

// DefaultRotateBatch is how many rows Rotate rewrites per transaction when
// its caller does not say.
const DefaultRotateBatch = 200

// Rotate seals every personal value again under the keyring's current key,
// batch rows at a time, each batch one short transaction. It also seals
// values written before sealing began, moves their free-text answers out
// of the clear answers, and fills in missing lookup hashes. A row changed
// by someone else between Rotate's read and its write is left for the
// next run. It returns how many rows it rewrote; run again, it finds
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
