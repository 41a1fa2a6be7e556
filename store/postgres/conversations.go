package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/internal/seal"
)

// checkpointsSQL reads the stored version of each conversation whose
// lookup hash is in $1, and its sealed state only where that version is
// not the caller's ($2): in the common case no state crosses the wire.
// It returns the 1-based position of each conversation found.
const checkpointsSQL = `
SELECT u.ord, c.version, CASE WHEN c.version <> u.v THEN c.state END, c.version <> u.v
FROM unnest($1::text::bytea[], $2::text::int8[]) WITH ORDINALITY AS u(h, v, ord)
JOIN conversations c ON c.key_hash = u.h`

// saveCheckpointsSQL writes each checkpoint whose stored version is still
// the expected one ($2; 0: none stored yet) and returns how many it wrote.
// A row updated or inserted meanwhile by another transaction is waited
// for, then not written: the count says so.
const saveCheckpointsSQL = `
WITH u AS (
	SELECT * FROM unnest($1::text::bytea[], $2::text::int8[], $3::text::int8[], $4::text::bytea[], $5::text::bool[])
		AS u(h, expect, version, state, tomb)
), upd AS (
	UPDATE conversations c SET version = u.version, state = CASE WHEN u.tomb THEN NULL ELSE u.state END,
		updated_at = $6
	FROM u WHERE u.expect > 0 AND c.key_hash = u.h AND c.version = u.expect
	RETURNING 1
), ins AS (
	INSERT INTO conversations (key_hash, version, state, updated_at)
	SELECT h, version, CASE WHEN tomb THEN NULL ELSE state END, $6 FROM u WHERE expect = 0
	ORDER BY h
	ON CONFLICT (key_hash) DO NOTHING
	RETURNING 1
)
SELECT (SELECT count(*) FROM upd) + (SELECT count(*) FROM ins)`

// Resume claims the messages, as Claim does, and reads the checkpoints of
// cps, in one round trip (see bot.Tx.Resume). A stored state that does
// not open is returned as Lost, with a nil State.
func (t *Tx) Resume(ctx context.Context, msgs []bot.MessageID, cps []bot.Checkpoint) ([]bool, error) {
	const op = "postgres.Resume"
	if len(cps) == 0 {
		return t.Claim(ctx, msgs)
	}
	for i := range cps {
		cps[i].Found, cps[i].Stored, cps[i].State, cps[i].Lost = false, 0, nil, false
	}
	z, err := t.s.sealer(op)
	if err != nil {
		return nil, err
	}
	dup := make([]bool, len(msgs))
	a := getArrays()
	var b pgx.Batch
	if len(msgs) > 0 {
		for i := range dup {
			dup[i] = true
		}
		b.Queue(claimSQL,
			a.texts(len(msgs), func(i int) string { return string(msgs[i].Channel) }),
			a.texts(len(msgs), func(i int) string { return msgs[i].ExternalID }))
	}
	b.Queue(checkpointsSQL,
		a.byteas(len(cps), func(i int) []byte { return z.Hash(clean(cps[i].Key)) }),
		a.ints(len(cps), func(i int) int64 { return cps[i].Version }))
	br := t.tx.SendBatch(ctx, &b)
	a.release()
	if err := t.readResume(br, dup, cps); err != nil {
		br.Close()
		return nil, wrap(op, err)
	}
	if err := br.Close(); err != nil {
		return nil, wrap(op, err)
	}
	return dup, nil
}

func (t *Tx) readResume(br pgx.BatchResults, dup []bool, cps []bot.Checkpoint) error {
	if len(dup) > 0 {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("claim: %w", err)
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
			return fmt.Errorf("claim: %w", err)
		}
	}
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	var (
		ord, version int64
		state        []byte
		differs      bool
		buf          seal.StateBuf
	)
	_, err = pgx.ForEachRow(rows, []any{&ord, &version, &state, &differs}, func() error {
		if ord < 1 || ord > int64(len(cps)) {
			return fmt.Errorf("checkpoints returned position %d of %d", ord, len(cps))
		}
		cp := &cps[ord-1]
		cp.Found, cp.Stored = true, version
		if differs && state != nil {
			var err error
			if cp.State, err = t.s.keys.OpenState(&buf, clean(cp.Key), state); err != nil {
				cp.State, cp.Lost = nil, true
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("read checkpoints: %w", err)
	}
	return nil
}

// queueCheckpoints queues the write of c's checkpoints, sealed.
func queueCheckpoints(b *pgx.Batch, a *arrays, z *seal.Sealer, keys *seal.Keyring, c *bot.Changes) {
	cps := c.Checkpoints
	if len(cps) == 0 {
		return
	}
	var buf seal.StateBuf
	b.Queue(saveCheckpointsSQL,
		a.byteas(len(cps), func(i int) []byte { return z.Hash(clean(cps[i].Key)) }),
		a.ints(len(cps), func(i int) int64 { return cps[i].Stored }),
		a.ints(len(cps), func(i int) int64 { return cps[i].Version }),
		a.byteas(len(cps), func(i int) []byte {
			cps[i].Sealed = nil
			if cps[i].State == nil {
				return nil
			}
			cps[i].Sealed = keys.AppendState(nil, &buf, clean(cps[i].Key), cps[i].State)
			return cps[i].Sealed
		}),
		a.bools(len(cps), func(i int) bool { return cps[i].State == nil }),
		time.Now().UTC())
}

// readCheckpoints reads the result of what queueCheckpoints queued.
// Returns Conflict if a checkpoint was not at its expected version.
func readCheckpoints(br pgx.BatchResults, c *bot.Changes) error {
	if len(c.Checkpoints) == 0 {
		return nil
	}
	var n int64
	if err := br.QueryRow().Scan(&n); err != nil {
		return fmt.Errorf("save %d checkpoints: %w", len(c.Checkpoints), err)
	}
	if n != int64(len(c.Checkpoints)) {
		return bot.E("postgres.Apply", bot.Conflict,
			fmt.Errorf("save checkpoints: %d of %d were changed by another writer", int64(len(c.Checkpoints))-n, len(c.Checkpoints)))
	}
	return nil
}

// Filed returns the code of the ticket opened for the submission. Returns
// NotFound if there is none.
func (t *Tx) Filed(ctx context.Context, submission string) (string, error) {
	const op = "postgres.Filed"
	z, err := t.s.sealer(op)
	if err != nil {
		return "", err
	}
	var code string
	err = t.tx.QueryRow(ctx, `SELECT code FROM tickets WHERE submission_hash = $1`, z.Hash(clean(submission))).Scan(&code)
	if isNoRows(err) {
		return "", bot.E(op, bot.NotFound, fmt.Errorf("no ticket for the submission"))
	}
	if err != nil {
		return "", wrap(op, err)
	}
	return code, nil
}

// PurgeConversations deletes the checkpoints of conversations last written
// before before, and the tombstones of those that ended before
// tombstonesBefore (see bot.Checkpoint); with dryRun it only counts them.
// It returns how many.
func (s *Store) PurgeConversations(ctx context.Context, before, tombstonesBefore time.Time, dryRun bool) (int64, error) {
	const op = "postgres.PurgeConversations"
	const where = ` FROM conversations WHERE (state IS NOT NULL AND updated_at < $1) OR (state IS NULL AND updated_at < $2)`
	if dryRun {
		var n int64
		if err := s.pool.QueryRow(ctx, `SELECT count(*)`+where, before, tombstonesBefore).Scan(&n); err != nil {
			return 0, wrap(op, err)
		}
		return n, nil
	}
	tag, err := s.pool.Exec(ctx, `DELETE`+where, before, tombstonesBefore)
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// ForgetConversations ends the conversations of the keys, whatever their
// state, leaving tombstones (so that no copy in Redis comes back): for
// erasing a person's data on request. Returns Invalid without a keyring.
func (s *Store) ForgetConversations(ctx context.Context, keys ...string) (int64, error) {
	const op = "postgres.ForgetConversations"
	z, err := s.sealer(op)
	if err != nil {
		return 0, err
	}
	a := getArrays()
	defer a.release()
	tag, err := s.pool.Exec(ctx, `UPDATE conversations SET state = NULL, version = version + 1, updated_at = $2
WHERE key_hash = ANY($1::text::bytea[]) AND state IS NOT NULL`,
		a.byteas(len(keys), func(i int) []byte { return z.Hash(clean(keys[i])) }), time.Now().UTC())
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// StaleConversations counts the stored conversation states sealed under a
// key other than the current one. `aduan keys rotate` cannot seal them
// again: a state is bound to its conversation key, which the store keeps
// only as a hash. Each is sealed under the current key at the
// conversation's next step, and expires with it (conversation.state_ttl):
// keep an old key configured at least that long after rotating, or those
// conversations are told they were lost. Returns Invalid without a
// keyring.
func (s *Store) StaleConversations(ctx context.Context) (int64, error) {
	const op = "postgres.StaleConversations"
	if s.keys == nil {
		return 0, bot.E(op, bot.Invalid, seal.ErrNoKeyring)
	}
	var n int64
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM conversations
WHERE length(state) > 0 AND substring(state from 1 for 5) <> $1`, s.keys.Prefix()).Scan(&n); err != nil {
		return 0, wrap(op, err)
	}
	return n, nil
}
