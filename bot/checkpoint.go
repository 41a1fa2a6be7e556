package bot

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"aduan/dialog"
)

// A conversation's state lives in two places: Conversations (Redis) holds
// the fast copy, and the Store holds the checkpoint, written in the
// transaction that commits the step's effects. Each saved state has a
// version, one more at every step; Redis keeps the version with its copy,
// and Tx.Resume, in the round trip that claims the batch's messages, says
// where the store's version differs, with the store's state. The store is
// the authority: a copy that missed a step (the process killed between
// commit and Release, the connection to Redis dropped, Redis flushed) is
// never used, and the next message meets the state that follows the last
// committed step. A checkpoint is written only if the store's version is
// still the one read (Conflict otherwise: the batch is tried again).
//
// Redis keeps no versions for states saved before checkpoints existed: such
// a state is used while the store has none, and checkpointed at the next
// step.

// resume sets the conversation's state for this attempt at its batch: the
// lease's copy, unless the store's checkpoint (cps[c.cp]) is another
// version.
func (s *Service) resume(c *conv, cps []Checkpoint) {
	c.end, c.stepped, c.restored, c.save, c.saved, c.sealed = false, false, false, nil, -1, nil
	c.stored, c.version = 0, c.lease.Version
	raw, lost := c.lease.State, c.lease.Lost
	if c.cp >= 0 {
		if cp := &cps[c.cp]; cp.Found {
			c.stored, c.version = cp.Stored, cp.Stored
			if cp.Stored != c.lease.Version || c.lease.Lost {
				raw, lost, c.restored = cp.State, cp.Lost, true
				if cp.State != nil {
					c.save = cp.State
				}
			}
		}
	}
	if err := c.state.UnmarshalBinary(raw); err != nil {
		c.state = dialog.State{}
		lost = lost || raw != nil
	}
	c.lost = lost && c.cp >= 0
}

// checkpoint adds to ch the new state of every conversation a message
// moved, one version on.
func (s *Service) checkpoint(cs []*conv, ch *Changes) error {
	for _, c := range cs {
		if c.cp < 0 || !c.stepped {
			continue
		}
		cp := Checkpoint{Key: c.key, Stored: c.stored, Version: max(c.stored, c.lease.Version) + 1}
		if !c.end {
			b, err := c.state.MarshalBinary()
			if err != nil {
				return E("checkpoint", Other, err)
			}
			cp.State = b
		}
		c.version, c.save, c.saved = cp.Version, cp.State, len(ch.Checkpoints)
		ch.Checkpoints = append(ch.Checkpoints, cp)
	}
	return nil
}

// newReport returns a new identity for a report under way
// (dialog.State.Report): 96 random bits.
func newReport() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// submission is the identity of a report filed from the conversation key
// with the report identity: the same on every replay of its filing. It
// is "" for a report with no identity (begun before identities existed).
func submission(key, report, part string) string {
	if report == "" {
		return ""
	}
	return key + "\x00" + report + "\x00" + part
}

// filed returns the code of the ticket already opened for the submission,
// or "" if there is none.
func (w *work) filed(ctx context.Context, sub string) (string, error) {
	if sub == "" {
		return "", nil
	}
	code, err := w.tx.Filed(ctx, sub)
	if KindOf(err) == NotFound {
		return "", nil
	}
	return code, err
}
