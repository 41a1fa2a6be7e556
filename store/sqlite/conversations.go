package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// Resume claims the messages, as Claim does, and reads the checkpoints of
// cps (see bot.Tx.Resume). A stored state that does not open is returned
// as Lost, with a nil State.
func (t *Tx) Resume(ctx context.Context, msgs []bot.MessageID, cps []bot.Checkpoint) ([]bool, error) {
	const op = "sqlite.Resume"
	dup, err := t.Claim(ctx, msgs)
	if err != nil || len(cps) == 0 {
		return dup, err
	}
	z, err := t.s.sealer(op)
	if err != nil {
		return nil, err
	}
	st, err := t.tx.PrepareContext(ctx, `SELECT version, CASE WHEN version <> ? THEN state END FROM conversations WHERE key_hash = ?`)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer st.Close()
	var buf seal.StateBuf
	for i := range cps {
		cp := &cps[i]
		cp.Found, cp.Stored, cp.State, cp.Lost = false, 0, nil, false
		var sealed []byte
		err := st.QueryRowContext(ctx, cp.Version, z.Hash(clean(cp.Key))).Scan(&cp.Stored, &sealed)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, wrap(op, err)
		}
		cp.Found = true
		if cp.Stored != cp.Version && sealed != nil {
			if cp.State, err = t.s.keys.OpenState(&buf, clean(cp.Key), sealed); err != nil {
				cp.State, cp.Lost = nil, true
			}
		}
	}
	return dup, nil
}

// saveCheckpoints writes c's checkpoints, each only if the stored version
// is the expected one. Returns Conflict if one is not.
func (t *Tx) saveCheckpoints(ctx context.Context, z *seal.Sealer, c *bot.Changes) error {
	const op = "sqlite.Apply"
	if len(c.Checkpoints) == 0 {
		return nil
	}
	now := micros(time.Now())
	var buf seal.StateBuf
	for i := range c.Checkpoints {
		cp := &c.Checkpoints[i]
		key := clean(cp.Key)
		var state []byte
		if cp.State != nil {
			state = t.s.keys.AppendState(nil, &buf, key, cp.State)
		}
		cp.Sealed = state
		hash := clone(z.Hash(key))
		var (
			res sql.Result
			err error
		)
		if cp.Stored == 0 {
			res, err = t.tx.ExecContext(ctx, `INSERT INTO conversations (key_hash, version, state, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (key_hash) DO NOTHING`, hash, cp.Version, state, now)
		} else {
			res, err = t.tx.ExecContext(ctx, `UPDATE conversations SET version = ?, state = ?, updated_at = ?
WHERE key_hash = ? AND version = ?`, cp.Version, state, now, hash, cp.Stored)
		}
		if err != nil {
			return wrap(op, fmt.Errorf("save checkpoint: %w", err))
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return bot.E(op, bot.Conflict, fmt.Errorf("save checkpoint: changed by another writer"))
		}
	}
	return nil
}

// Filed returns the code of the ticket opened for the submission. Returns
// NotFound if there is none.
func (t *Tx) Filed(ctx context.Context, submission string) (string, error) {
	const op = "sqlite.Filed"
	z, err := t.s.sealer(op)
	if err != nil {
		return "", err
	}
	var code string
	err = t.tx.QueryRowContext(ctx, `SELECT code FROM tickets WHERE submission_hash = ?`, z.Hash(clean(submission))).Scan(&code)
	if errors.Is(err, sql.ErrNoRows) {
		return "", bot.E(op, bot.NotFound, fmt.Errorf("no ticket for the submission"))
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return code, nil
}

// PurgeConversations deletes the checkpoints of conversations last written
// before before, and the tombstones of those that ended before
// tombstonesBefore; with dryRun it only counts them. It returns how many.
func (s *Store) PurgeConversations(ctx context.Context, before, tombstonesBefore time.Time, dryRun bool) (int64, error) {
	const op = "sqlite.PurgeConversations"
	const where = ` FROM conversations WHERE (state IS NOT NULL AND updated_at < ?) OR (state IS NULL AND updated_at < ?)`
	if dryRun {
		var n int64
		if err := s.db.QueryRowContext(ctx, `SELECT count(*)`+where, micros(before), micros(tombstonesBefore)).Scan(&n); err != nil {
			return 0, wrap(op, err)
		}
		return n, nil
	}
	res, err := s.db.ExecContext(ctx, `DELETE`+where, micros(before), micros(tombstonesBefore))
	if err != nil {
		return 0, wrap(op, err)
	}
	return res.RowsAffected()
}

// ForgetConversations ends the conversations of the keys, leaving
// tombstones: for erasing a person's data on request. Returns Invalid
// without a keyring.
func (s *Store) ForgetConversations(ctx context.Context, keys ...string) (int64, error) {
	const op = "sqlite.ForgetConversations"
	z, err := s.sealer(op)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, k := range keys {
		res, err := s.db.ExecContext(ctx, `UPDATE conversations SET state = NULL, version = version + 1, updated_at = ?
WHERE key_hash = ? AND state IS NOT NULL`, micros(time.Now()), z.Hash(clean(k)))
		if err != nil {
			return n, wrap(op, err)
		}
		m, _ := res.RowsAffected()
		n += m
	}
	return n, nil
}

// StaleConversations counts the stored conversation states sealed under a
// key other than the current one (see postgres.Store.StaleConversations).
// Returns Invalid without a keyring.
func (s *Store) StaleConversations(ctx context.Context) (int64, error) {
	const op = "sqlite.StaleConversations"
	if s.keys == nil {
		return 0, bot.E(op, bot.Invalid, seal.ErrNoKeyring)
	}
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM conversations WHERE length(state) > 0 AND substr(state, 1, 5) <> ?`,
		s.keys.Prefix()).Scan(&n)
	if err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}
