package seal

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNoKeyring is the cause of every refusal by a store that was given no
// keyring: personal data is never stored, nor read, in clear.
var ErrNoKeyring = errors.New("no keyring: personal data is never stored in clear")

// noValue is an empty stored value, as opposed to NULL: nothing stored, or
// erased.
var noValue = []byte{}

// Sealer seals the values of the rows a store writes, reusing its buffers:
// each result is valid until the next call, so the caller copies it at
// once (into a statement's parameters). It is not safe for concurrent use.
type Sealer struct {
	keys *Keyring
	aad  []byte
	out  []byte
}

// Sealer returns a Sealer on k. Returns ErrNoKeyring if k is nil.
func (k *Keyring) Sealer() (*Sealer, error) {
	if k == nil {
		return nil, ErrNoKeyring
	}
	return &Sealer{keys: k, aad: make([]byte, 0, 64), out: make([]byte, 0, 512)}, nil
}

// Text seals v for the place and the row's ID. An empty v gives an empty,
// non-nil value: there is nothing to hide in nothing.
func (z *Sealer) Text(place, id, v string) []byte {
	if v == "" {
		return noValue
	}
	z.aad = AAD(z.aad[:0], place, id)
	z.out = z.keys.AppendSealString(z.out[:0], v, z.aad)
	return z.out
}

// Hash returns the lookup hash of v, or nil (NULL) for an empty v.
func (z *Sealer) Hash(v string) []byte {
	if v == "" {
		return nil
	}
	z.out = z.keys.AppendHash(z.out[:0], v)
	return z.out
}

// Answers seals private answers as a JSON object for the ticket; nil
// (NULL) when there are none.
func (z *Sealer) Answers(code string, private map[string]string) ([]byte, error) {
	if len(private) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(private)
	if err != nil {
		return nil, err
	}
	z.aad = AAD(z.aad[:0], PlaceAnswers, code)
	z.out = z.keys.AppendSeal(z.out[:0], b, z.aad)
	return z.out, nil
}

// Opener opens the values of the rows a store reads. It is not safe for
// concurrent use.
type Opener struct {
	keys *Keyring
	aad  []byte
}

// Opener returns an Opener on k. k may be nil: then an empty value still
// opens (to ""), and any other fails with ErrNoKeyring.
func (k *Keyring) Opener() *Opener { return &Opener{keys: k, aad: make([]byte, 0, 64)} }

// Text opens a stored text value of the place and row (see Keyring.Text).
func (o *Opener) Text(stored []byte, place, id string) (string, error) {
	if len(stored) == 0 {
		return "", nil
	}
	if o.keys == nil {
		return "", ErrNoKeyring
	}
	o.aad = AAD(o.aad[:0], place, id)
	v, err := o.keys.Text(stored, o.aad)
	if err != nil {
		return "", fmt.Errorf("%s of %q: %w", place, id, err)
	}
	return v, nil
}

// Outbound opens an outbox message's recipient and body.
func (o *Opener) Outbound(to, body []byte, ticketCode string) (string, string, error) {
	t, err := o.Text(to, PlaceRecipient, ticketCode)
	if err != nil {
		return "", "", err
	}
	b, err := o.Text(body, PlaceBody, ticketCode)
	if err != nil {
		return "", "", err
	}
	return t, b, nil
}

// Answers merges a ticket's clear answers (a JSON object, as stored) and
// its sealed ones. It returns nil when there are none.
func (o *Opener) Answers(code string, clear, sealed []byte) (map[string]string, error) {
	var out map[string]string
	if len(clear) > 2 { // not "{}"
		if err := json.Unmarshal(clear, &out); err != nil {
			return nil, fmt.Errorf("ticket %s: answers: %w", code, err)
		}
	}
	if len(sealed) > 0 {
		if o.keys == nil {
			return nil, ErrNoKeyring
		}
		o.aad = AAD(o.aad[:0], PlaceAnswers, code)
		b, err := o.keys.Open(sealed, o.aad)
		if err != nil {
			return nil, fmt.Errorf("ticket %s: sealed answers: %w", code, err)
		}
		if out == nil {
			out = make(map[string]string)
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, fmt.Errorf("ticket %s: sealed answers: %w", code, err)
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
