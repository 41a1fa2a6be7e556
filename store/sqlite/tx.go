package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// Tx is one SQLite transaction. It holds the database's write lock from
// Begin to Commit or Rollback. It is not safe for concurrent use.
type Tx struct {
	tx *sql.Tx
	s  *Store
}

var (
	_ bot.Tx        = (*Tx)(nil)
	_ bot.LockingTx = (*Tx)(nil)
)

// Begin starts a transaction, waiting up to BusyTimeout for another writer.
// Returns Temporary if the wait runs out.
func (s *Store) Begin(ctx context.Context) (bot.Tx, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, wrap("sqlite.Begin", err)
	}
	return &Tx{tx: tx, s: s}, nil
}

// Claim records the messages as processed and reports which had been
// before, a repeat within msgs included.
func (t *Tx) Claim(ctx context.Context, msgs []bot.MessageID) ([]bool, error) {
	const op = "sqlite.Claim"
	dup := make([]bool, len(msgs))
	if len(msgs) == 0 {
		return dup, nil
	}
	// In-process statements cost no round trip: one per message is as
	// fast as one for all, and plainly right about repeats.
	st, err := t.tx.PrepareContext(ctx,
		`INSERT INTO inbound_seen (channel, external_id, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer st.Close()
	now := micros(time.Now())
	for i, m := range msgs {
		res, err := st.ExecContext(ctx, clean(string(m.Channel)), clean(m.ExternalID), now)
		if err != nil {
			return nil, wrap(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, wrap(op, err)
		}
		dup[i] = n == 0
	}
	return dup, nil
}

// Apply writes the changes and sets the ID (and, where it was zero,
// CreatedAt) of each outbox message, and the ID of each attachment (zero
// for one stored before). Attachments are written after the tickets, then
// the links are applied. Returns Conflict if a ticket code is taken and
// NotFound if an event, an attachment or a link names no ticket; the
// transaction must then be rolled back.
func (t *Tx) Apply(ctx context.Context, c *bot.Changes, claimedUntil time.Time) error {
	const op = "sqlite.Apply"
	if c.Empty() {
		return nil
	}
	z, err := t.s.sealer(op)
	if err != nil {
		return err
	}
	if len(c.Tickets) > 0 {
		st, err := t.tx.PrepareContext(ctx, `
INSERT INTO tickets (code, status, urgent, kecamatan, answers, sealed_answers, updated_at, assignee, backups,
	accepted_at, closed_at, relay, marks, next_due_at, kind, channel, reporter, reporter_hash, created_at,
	submission_hash)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return wrap(op, err)
		}
		defer st.Close()
		for _, tk := range c.Tickets {
			args, err := ticketArgs(z, &tk)
			if err != nil {
				return bot.E(op, bot.Invalid, err)
			}
			code := args[0].(string)
			reporter := clone(z.Text(seal.PlaceReporter, code, clean(tk.Reporter)))
			args = append(args, clean(string(tk.Kind)), clean(string(tk.Channel)), reporter, clone(z.Hash(clean(tk.Reporter))),
				micros(tk.CreatedAt), clone(z.Hash(clean(tk.Submission))))
			if _, err = st.ExecContext(ctx, args...); err != nil {
				return wrap(op, fmt.Errorf("insert ticket %s: %w", tk.Code, err))
			}
		}
	}
	if len(c.Updates) > 0 {
		st, err := t.tx.PrepareContext(ctx, `
UPDATE tickets SET status = ?2, urgent = ?3, kecamatan = ?4, answers = ?5, sealed_answers = ?6, updated_at = ?7,
	assignee = ?8, backups = ?9, accepted_at = ?10, closed_at = ?11, relay = ?12, marks = ?13, next_due_at = ?14
WHERE code = ?1`)
		if err != nil {
			return wrap(op, err)
		}
		defer st.Close()
		for _, tk := range c.Updates {
			args, err := ticketArgs(z, &tk)
			if err != nil {
				return bot.E(op, bot.Invalid, err)
			}
			res, err := st.ExecContext(ctx, args...)
			if err != nil {
				return wrap(op, fmt.Errorf("update ticket %s: %w", tk.Code, err))
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return bot.E(op, bot.NotFound, fmt.Errorf("update ticket %s: not found", tk.Code))
			}
		}
	}
	if len(c.OptOuts) > 0 {
		last := make(map[string]int, len(c.OptOuts))
		for i, o := range c.OptOuts {
			last[o.Address] = i
		}
		for i, o := range c.OptOuts {
			if last[o.Address] != i || o.Address == "" {
				continue
			}
			hash := clone(z.Hash(clean(o.Address)))
			if o.Out {
				_, err = t.tx.ExecContext(ctx, `INSERT INTO opt_outs (address_hash, at) VALUES (?, ?)
ON CONFLICT (address_hash) DO UPDATE SET at = excluded.at`, hash, micros(o.At))
			} else {
				_, err = t.tx.ExecContext(ctx, `DELETE FROM opt_outs WHERE address_hash = ?`, hash)
			}
			if err != nil {
				return wrap(op, fmt.Errorf("record opt-out: %w", err))
			}
		}
	}
	if len(c.Events) > 0 {
		st, err := t.tx.PrepareContext(ctx,
			`INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return wrap(op, err)
		}
		defer st.Close()
		for _, e := range c.Events {
			code := clean(e.TicketCode)
			_, err := st.ExecContext(ctx, code, micros(e.At), clean(e.Actor), clean(e.Type),
				z.Text(seal.PlaceDetail, code, clean(e.Detail)))
			if err != nil {
				return wrap(op, fmt.Errorf("insert event for ticket %s: %w", e.TicketCode, err))
			}
		}
	}
	if len(c.Outbox) > 0 {
		st, err := t.tx.PrepareContext(ctx, `
INSERT INTO outbox (channel, recipient, recipient_hash, body, purpose, ticket_code, created_at, attachment_id,
	next_attempt_at)
VALUES (?, ?, ?, ?, ?, NULLIF(?, ''), ?, NULLIF(?, 0), ?)`)
		if err != nil {
			return wrap(op, err)
		}
		defer st.Close()
		var now time.Time
		for i := range c.Outbox {
			m := &c.Outbox[i]
			if m.CreatedAt.IsZero() {
				if now.IsZero() {
					now = time.Now().UTC()
				}
				m.CreatedAt = now
			}
			code := clean(m.TicketCode)
			to := clone(z.Text(seal.PlaceRecipient, code, clean(m.To)))
			hash := clone(z.Hash(clean(m.To)))
			res, err := st.ExecContext(ctx, clean(string(m.Channel)), to, hash, z.Text(seal.PlaceBody, code, clean(m.Body)),
				clean(string(m.Purpose)), code, micros(m.CreatedAt), m.Attachment, micros(claimedUntil))
			if err != nil {
				return wrap(op, fmt.Errorf("insert outbox message: %w", err))
			}
			if m.ID, err = res.LastInsertId(); err != nil {
				return wrap(op, err)
			}
		}
	}
	if err := t.applyAttachments(ctx, z, c); err != nil {
		return err
	}
	return t.saveCheckpoints(ctx, z, c)
}

// ticketArgs returns the first fourteen arguments of the ticket insert and
// update: what may change of a ticket, sealed where it is personal. The
// first is the cleaned code.
func ticketArgs(z *seal.Sealer, tk *bot.Ticket) ([]any, error) {
	code := clean(tk.Code)
	clear, private := seal.SplitAnswers(tk.Answers)
	answers, err := encodeAnswers(clear)
	if err != nil {
		return nil, fmt.Errorf("ticket %s: %w", tk.Code, err)
	}
	sealed, err := z.Answers(code, cleanMap(private))
	if err != nil {
		return nil, fmt.Errorf("ticket %s: %w", tk.Code, err)
	}
	backups := "[]"
	if len(tk.Backups) > 0 {
		phones := make([]string, len(tk.Backups))
		for i, b := range tk.Backups {
			phones[i] = clean(b)
		}
		b, err := json.Marshal(phones)
		if err != nil {
			return nil, fmt.Errorf("ticket %s: %w", tk.Code, err)
		}
		backups = string(b)
	}
	marks, err := encodeMarks(tk.Marks)
	if err != nil {
		return nil, fmt.Errorf("ticket %s: marks: %w", tk.Code, err)
	}
	return []any{code, clean(string(tk.Status)), tk.Urgent, clean(tk.Kecamatan), answers, clone(sealed),
		micros(tk.UpdatedAt), clean(tk.Assignee), backups, microsOrNull(tk.AcceptedAt), microsOrNull(tk.ClosedAt),
		tk.Relay, marks, microsOrNull(tk.NextDue)}, nil
}

// microsOrNull is micros, with NULL for the zero time.
func microsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

// encodeAnswers returns the answers as a JSON object; nil gives "{}".
func encodeAnswers(a map[string]string) (string, error) {
	if len(a) == 0 {
		return "{}", nil
	}
	cleaned := make(map[string]string, len(a))
	for k, v := range a {
		cleaned[clean(k)] = clean(v)
	}
	b, err := json.Marshal(cleaned)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// Commit makes the transaction's writes visible.
func (t *Tx) Commit(ctx context.Context) error {
	if err := t.tx.Commit(); err != nil {
		return wrap("sqlite.Commit", err)
	}
	return nil
}

// Rollback abandons the transaction. After Commit or Rollback it does
// nothing.
func (t *Tx) Rollback(ctx context.Context) error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return wrap("sqlite.Rollback", err)
	}
	return nil
}

// clone copies b, keeping nil nil and empty empty: the sealer reuses its
// buffer from one value to the next.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}
