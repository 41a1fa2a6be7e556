package seal

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"
)

// Conversation states are sealed in one format wherever they are kept
// (Redis, the stores' checkpoints): the plaintext is a form byte and the
// state, compressed with DEFLATE when that makes it smaller, sealed with
// the additional data AAD(PlaceConversation, conversation key), so that
// a state copied to another conversation does not open.
const (
	stateRaw     byte = 0 // the state as the caller gave it
	stateDeflate byte = 1 // the state compressed with DEFLATE
)

// compressFrom is the smallest state worth compressing: an unfinished
// report with a long description. Short states stay as they are.
const compressFrom = 256

// MaxState bounds an opened (decompressed) state: far above what the
// dialog keeps, and a bound on what a corrupted value can make us
// allocate.
const MaxState = 256 << 10

// ErrStateTooLarge is returned by OpenState for a state that opens to more
// than MaxState bytes.
var ErrStateTooLarge = errors.New("seal: conversation state is too large")

var (
	deflaters = sync.Pool{New: func() any {
		w, _ := flate.NewWriter(io.Discard, flate.DefaultCompression)
		return w
	}}
	inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}
)

// StateBuf is reusable memory for sealing and opening conversation states.
// The zero value is ready to use. It is not safe for concurrent use.
type StateBuf struct {
	zip []byte // one plaintext
	aad []byte // one conversation's additional data
}

// AppendState appends to dst the state of the conversation key, sealed
// under the current key, and returns the extended slice. It never fails.
func (k *Keyring) AppendState(dst []byte, b *StateBuf, key string, state []byte) []byte {
	b.zip = b.pack(state)
	b.aad = AAD(b.aad[:0], PlaceConversation, key)
	return k.AppendSeal(dst, b.zip, b.aad)
}

// StateSize is the most AppendState adds for a state of n bytes.
func StateSize(n int) int { return 1 + n + Overhead }

// OpenState opens a state AppendState sealed for the conversation key and
// returns it in a new slice. Returns the errors of Open (ErrUnknownKey for
// a state sealed under a key the keyring no longer has, ErrCorrupt for
// one altered or of another conversation), ErrCorrupt for a plaintext of
// an unknown form or that does not decompress, and ErrStateTooLarge.
func (k *Keyring) OpenState(b *StateBuf, key string, sealed []byte) ([]byte, error) {
	b.aad = AAD(b.aad[:0], PlaceConversation, key)
	p, err := k.Open(sealed, b.aad)
	if err != nil {
		return nil, err
	}
	if len(p) == 0 {
		return nil, ErrCorrupt
	}
	switch p[0] {
	case stateRaw:
		return p[1:], nil
	case stateDeflate:
		r := inflaters.Get().(io.ReadCloser)
		defer inflaters.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(p[1:]), nil); err != nil {
			return nil, ErrCorrupt
		}
		out, err := io.ReadAll(io.LimitReader(r, MaxState+1))
		if err != nil {
			return nil, ErrCorrupt
		}
		if len(out) > MaxState {
			return nil, ErrStateTooLarge
		}
		return out, nil
	}
	return nil, ErrCorrupt
}

// appender is an io.Writer that appends to a slice.
type appender struct{ b []byte }

func (a *appender) Write(p []byte) (int, error) {
	a.b = append(a.b, p...)
	return len(p), nil
}

// pack returns the plaintext to seal for state: its form byte and the
// state, compressed when that makes it smaller. It is never longer than
// 1+len(state).
func (b *StateBuf) pack(state []byte) []byte {
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
