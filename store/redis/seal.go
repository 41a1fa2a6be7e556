package redis

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"sync"
	"unsafe"

	"aduan/bot"
	"aduan/internal/seal"
)

// errNoKeyring refuses to keep conversation state without a keyring.
var errNoKeyring = fmt.Errorf("Options.Keyring is nil: %w", seal.ErrNoKeyring)

// The first byte of a sealed state's plaintext says how the rest is
// written.
const (
	stateRaw     byte = 0 // the state as the caller gave it
	stateDeflate byte = 1 // the state compressed with DEFLATE
)

// compressFrom is the smallest state worth compressing: an unfinished
// report with a long description. Short states stay as they are.
const compressFrom = 256

// maxState bounds a decompressed state: far above what the dialog keeps.
const maxState = 64 << 10

var (
	deflaters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(io.Discard, flate.DefaultCompression)
		return w
	}}
	inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
)

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// sealStates seals the state each held lease saves into b.sealed, one
// value per lease (nil where nothing is saved), all in b.sealBuf.
func (c *Conversations) sealStates(b *scratch, ls []bot.Lease) {
	need := 0
	for i := range ls {
		if l := &ls[i]; l.Held && !l.Delete && l.Save != nil {
			need += 1 + len(l.Save) + seal.Overhead
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
		b.zip = b.pack(l.Save)
		b.aad = seal.AAD(b.aad[:0], seal.PlaceConversation, l.Key)
		start := len(b.sealBuf)
		b.sealBuf = c.keys.AppendSeal(b.sealBuf, b.zip, b.aad)
		b.sealed[i] = b.sealBuf[start:len(b.sealBuf):len(b.sealBuf)]
	}
}

// pack returns the plaintext to seal for state: its form byte and the
// state, compressed when that makes it smaller. It is never longer than
// 1+len(state).
func (b *scratch) pack(state []byte) []byte {
	out := append(b.zip[:0], stateRaw)
	if len(state) < compressFrom {
		return append(out, state...)
	}
	w := deflaters.Get().(*flate.Writer)
	a := appender{b: append(out[:0], stateDeflate)}
	w.Reset(&a)
	_, err := w.Write(state)
	if err == nil {
		err = w.Close()
	}
	deflaters.Put(w)
	if err == nil && len(a.b) < 1+len(state) {
		return a.b
	}
	return append(append(a.b[:0], stateRaw), state...)
}

// open opens the sealed state v of the conversation key. A state that
// does not open reads as none (nil): the conversation starts over.
func (c *Conversations) open(b *scratch, key, v string) []byte {
	b.aad = seal.AAD(b.aad[:0], seal.PlaceConversation, key)
	p, err := c.keys.Open(unsafe.Slice(unsafe.StringData(v), len(v)), b.aad) // read only
	if err != nil || len(p) == 0 {
		return nil
	}
	switch p[0] {
	case stateRaw:
		return p[1:]
	case stateDeflate:
		r := inflaters.Get().(io.ReadCloser)
		defer inflaters.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(p[1:]), nil); err != nil {
			return nil
		}
		out, err := io.ReadAll(io.LimitReader(r, maxState))
		if err != nil {
			return nil
		}
		return out
	}
	return nil
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

// Forget deletes the state of each conversation key, in one round trip,
// whoever holds its lease: for erasing a person's data on request. A
// conversation under way starts over at its next message. Returns Invalid
// without a keyring and Unavailable if the server cannot be reached.
func (c *Conversations) Forget(ctx context.Context, keys ...string) error {
	if c.keys == nil {
		return bot.E("redis.Forget", bot.Invalid, errNoKeyring)
	}
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = c.StateKey(k)
	}
	if err := c.client.Del(ctx, names...).Err(); err != nil {
		return bot.E("redis.Forget", kindOf(err), err)
	}
	return nil
}
