package redis

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"aduan/bot"
	"aduan/internal/seal"
)

// errNoKeyring refuses to keep conversation state without a keyring.
var errNoKeyring = fmt.Errorf("Options.Keyring is nil: %w", seal.ErrNoKeyring)

// A state is stored as stateMark, the uvarint version of the state (see
// bot.Lease.Version), then the state sealed by seal.Keyring.AppendState.
// A state saved before versions existed is the sealed state alone (it
// starts with seal.Version) and reads as version 0.
const stateMark byte = 'v'

// sealStates seals the state each held lease saves into b.sealed, one
// value per lease (nil where nothing is saved), all in b.sealBuf.
func (c *Conversations) sealStates(b *scratch, ls []bot.Lease) {
	need := 0
	for i := range ls {
		if l := &ls[i]; l.Held && !l.Delete && l.Save != nil {
			need += 1 + binary.MaxVarintLen64 + max(seal.StateSize(len(l.Save)), len(l.Sealed))
		}
	}
	// Room for all of them at once: the slices handed to the commands
	// must not move.
	if cap(b.sealBuf) < need {
		b.sealBuf = make([]byte, 0, need)
	}
	b.sealBuf = b.sealBuf[:0]
	if cap(b.sealed) < len(ls) {
		b.sealed = make([]arg, len(ls))
	}
	b.sealed = b.sealed[:len(ls)]
	for i := range ls {
		l := &ls[i]
		b.sealed[i] = nil
		if !l.Held || l.Delete || l.Save == nil {
			continue
		}
		start := len(b.sealBuf)
		b.sealBuf = append(b.sealBuf, stateMark)
		b.sealBuf = binary.AppendUvarint(b.sealBuf, uint64(max(l.Version, 0)))
		if l.Sealed != nil && c.keys.IsCurrent(l.Sealed) {
			b.sealBuf = append(b.sealBuf, l.Sealed...) // sealed by the store's checkpoint
		} else {
			b.sealBuf = c.keys.AppendState(b.sealBuf, &b.state, l.Key, l.Save)
		}
		b.sealed[i] = b.sealBuf[start:len(b.sealBuf):len(b.sealBuf)]
	}
}

// open opens the stored state v of the conversation key and returns it
// with its version. A state that does not open reads as none (nil), with
// lost set: the conversation's checkpoint, if any, decides.
func (c *Conversations) open(b *scratch, key, v string) (state []byte, version int64, lost bool) {
	p := unsafe.Slice(unsafe.StringData(v), len(v)) // read only
	if len(p) > 0 && p[0] == stateMark {
		n, size := binary.Uvarint(p[1:])
		if size <= 0 || n > math.MaxInt64 {
			return nil, 0, true
		}
		version, p = int64(n), p[1+size:]
	}
	state, err := c.keys.OpenState(&b.state, key, p)
	if err != nil {
		return nil, version, true
	}
	return state, version, false
}

// hashedKey appends prefix and the hashed form of a conversation key to
// dst, using *h as scratch for the hash.
func (c *Conversations) hashedKey(dst []byte, h *[]byte, prefix, key string) []byte {
	*h = c.keys.AppendHash((*h)[:0], key)
	dst = append(dst, prefix...)
	return base64.RawURLEncoding.AppendEncode(dst, (*h)[:hashedKeySize*3/4])
}

// StateKey returns the Redis key that holds the state of the conversation
// key, for tools and tests. It needs a keyring.
func (c *Conversations) StateKey(key string) string {
	var h []byte
	return string(c.hashedKey(nil, &h, c.convPrefix, key))
}

// LeaseKey returns the Redis key that holds the lease of the conversation
// key, for tools and tests. It needs a keyring.
func (c *Conversations) LeaseKey(key string) string {
	var h []byte
	return string(c.hashedKey(nil, &h, c.leasePrefix, key))
}
