package sqlstore

import (
	"context"
	"fmt"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// checkpointsSQL reads the stored version of each conversation whose
// lookup hash is a row's, and its sealed state only where that version is
// not the caller's (v): in the common case no state crosses the wire.
const checkpointsSQL = `
SELECT u.ord, c.version, CASE WHEN c.version <> u.v THEN c.state END
FROM {rows} JOIN conversations c ON c.key_hash = u.h`

// Resume claims the messages, as Claim does, and reads the checkpoints of
// cps, in one round trip on PostgreSQL (see bot.Tx.Resume). A stored state
// that does not open is returned as Lost, with a nil State.
func (t *Tx) Resume(ctx context.Context, msgs []bot.MessageID, cps []bot.Checkpoint) ([]bool, error) {
	const op = "sqlstore.Resume"
	var b batch
	dup := queueClaim(&b, msgs)
	if len(cps) > 0 {
		z, err := t.s.sealer(op)
		if err != nil {
			return nil, err
		}
		for i := range cps {
			cps[i].Found, cps[i].Stored, cps[i].State, cps[i].Lost = false, 0, nil, false
		}
		b.query("read checkpoints", checkpointsSQL, func(r rows) error {
			var (
				ord, version int64
				state        []byte
				buf          seal.StateBuf
			)
			return each(r, func() error {
				if ord < 1 || ord > int64(len(cps)) {
					return fmt.Errorf("checkpoints returned position %d of %d", ord, len(cps))
				}
				cp := &cps[ord-1]
				cp.Found, cp.Stored = true, version
				if version != cp.Version && state != nil {
					var err error
					if cp.State, err = t.s.keys.OpenState(&buf, clean(cp.Key), state); err != nil {
						cp.State, cp.Lost = nil, true
					}
				}
				return nil
			}, &ord, &version, &state)
		}, rowsOf(len(cps)).
			bytes("h", func(i int) []byte { return z.Hash(clean(cps[i].Key)) }).
			num("v", func(i int) int64 { return cps[i].Version }))
	}
	if err := t.c.send(ctx, &b); err != nil {
		return nil, t.s.wrap(op, err)
	}
	return dup, nil
}

// The checkpoints a batch writes: each only where the stored version is
// still the expected one (expect; 0: none stored yet). A row updated or
// inserted meanwhile by another transaction is waited for, then not
// written.
const (
	updateCheckpointsSQL = `
UPDATE conversations AS c SET version = u.version, state = u.state, updated_at = $1
FROM {rows} WHERE u.expect > 0 AND c.key_hash = u.h AND c.version = u.expect`

	insertCheckpointsSQL = `
INSERT INTO conversations (key_hash, version, state, updated_at)
SELECT u.h, u.version, u.state, $1 FROM {rows} WHERE u.expect = 0 ORDER BY u.h
ON CONFLICT (key_hash) DO NOTHING`
)

// queueCheckpoints queues the writes of c's checkpoints, sealed, last of
// the batch: the insert checks that every checkpoint was written, and
// fails with Conflict if one was not at its expected version.
func (s *Store) queueCheckpoints(b *batch, z *seal.Sealer, c *bot.Changes) {
	cps := c.Checkpoints
	if len(cps) == 0 {
		return
	}
	var buf seal.StateBuf
	for i := range cps {
		cps[i].Sealed = nil
		if cps[i].State != nil { // nil: a tombstone
			cps[i].Sealed = s.keys.AppendState(nil, &buf, clean(cps[i].Key), cps[i].State)
		}
	}
	r := rowsOf(len(cps)).
		bytes("h", func(i int) []byte { return z.Hash(clean(cps[i].Key)) }).
		num("expect", func(i int) int64 { return cps[i].Stored }).
		num("version", func(i int) int64 { return cps[i].Version }).
		bytes("state", func(i int) []byte { return cps[i].Sealed })
	var written int64
	now := time.Now()
	b.exec("save checkpoints", updateCheckpointsSQL, func(n int64) error { written = n; return nil }, now, r)
	b.exec("save checkpoints", insertCheckpointsSQL, func(n int64) error {
		if written+n != int64(len(cps)) {
			return bot.E("sqlstore.Apply", bot.Conflict, fmt.Errorf("save checkpoints: %d of %d were changed by another writer",
				int64(len(cps))-written-n, len(cps)))
		}
		return nil
	}, now, r)
}

// Filed returns the code of the ticket opened for the submission. Returns
// NotFound if there is none.
func (t *Tx) Filed(ctx context.Context, submission string) (string, error) {
	const op = "sqlstore.Filed"
	h, err := t.s.hash(op, submission)
	if err != nil {
		return "", err
	}
	var code string
	err = queryRow(ctx, t.c, `SELECT code FROM tickets WHERE submission_hash = $1`, []any{h}, &code)
	if err == errNoRows {
		return "", bot.E(op, bot.NotFound, fmt.Errorf("no ticket for the submission"))
	}
	if err != nil {
		return "", t.s.wrap(op, err)
	}
	return code, nil
}

// PurgeConversations deletes the checkpoints of conversations last written
// before before, and the tombstones of those that ended before
// tombstonesBefore (see bot.Checkpoint); with dryRun it only counts them.
// It returns how many.
func (s *Store) PurgeConversations(ctx context.Context, before, tombstonesBefore time.Time, dryRun bool) (int64, error) {
	return s.deleteOrCount(ctx, "sqlstore.PurgeConversations", dryRun,
		` FROM conversations WHERE (state IS NOT NULL AND updated_at < $1) OR (state IS NULL AND updated_at < $2)`,
		before, tombstonesBefore)
}

// ForgetConversations ends the conversations of the keys, whatever their
// state, leaving tombstones (so that no copy in Redis comes back): for
// erasing a person's data on request. Returns Invalid without a keyring.
func (s *Store) ForgetConversations(ctx context.Context, keys ...string) (int64, error) {
	const op = "sqlstore.ForgetConversations"
	z, err := s.sealer(op)
	if err != nil {
		return 0, err
	}
	n, err := s.d.exec(ctx, `UPDATE conversations SET state = NULL, version = version + 1, updated_at = $1
WHERE key_hash IN (SELECT u.h FROM {rows}) AND state IS NOT NULL`, time.Now(),
		rowsOf(len(keys)).bytes("h", func(i int) []byte { return z.Hash(clean(keys[i])) }))
	if err != nil {
		return 0, s.wrap(op, err)
	}
	return n, nil
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
	const op = "sqlstore.StaleConversations"
	if s.keys == nil {
		return 0, bot.E(op, bot.Invalid, seal.ErrNoKeyring)
	}
	var n int64
	if err := queryRow(ctx, s.d, `SELECT count(*) FROM conversations WHERE `+stale("state", "$1"), []any{s.keys.Prefix()}, &n); err != nil {
		return 0, s.wrap(op, err)
	}
	return n, nil
}
