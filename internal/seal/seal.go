// Package seal protects the personal data aduan keeps: it encrypts values
// at rest with AES-256-GCM under a ring of keys, and hashes addresses with
// HMAC-SHA256 so that they can be looked up without being stored in clear.
//
// # Keys
//
// A Keyring holds one current key, which seals, and any number of old keys,
// which only open: after a new key is made current, values sealed under an
// old one stay readable until `aduan keys rotate` has sealed them again
// under the new one. Each key is 32 random bytes, configured as base64
// (security.encryption_key, security.old_keys). A key is named by its ID:
// the first four bytes of HMAC-SHA256(key, "aduan key id v1"), so that
// nobody numbers keys by hand and two replicas with the same key agree.
//
// # Sealed format
//
//	+---------+-----------+-----------+---------------------+---------+
//	| version | key ID    | nonce     | ciphertext          | tag     |
//	| 1 byte  | 4 bytes   | 12 bytes  | len(plain) bytes    | 16 bytes|
//	+---------+-----------+-----------+---------------------+---------+
//
// The version byte is Version (0xA1). No valid UTF-8 text starts with a
// byte in 0x80..0xBF, so a sealed value is never mistaken for text written
// before sealing began, and Text can read both. Nonces are random (96
// bits): a key must not seal more than 2^32 values, which at aduan's volume
// is centuries; rotating resets the count. The additional data (aad) binds
// a value to where it is stored (a column and a row's ticket code, say), so
// that a sealed value copied to another row or column does not open.
//
// # Lookup hash
//
// Hash is HMAC-SHA256 under a lookup key of its own
// (security.lookup_key), never derived from the encryption keys: rotating
// the encryption key must not change a single hash, or every lookup by
// phone number would miss until all rows were hashed again. The lookup key
// is as secret as the encryption key (with it, anyone can test whether a
// given number wrote in) and must never change; see docs/SECURITY.md.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"
)

const (
	// Version is the first byte of every sealed value.
	Version byte = 0xA1
	// KeySize is the size of an encryption or lookup key in bytes.
	KeySize = 32
	// IDSize is the size of a key ID in bytes.
	IDSize = 4
	// PrefixSize is the size of the version byte and key ID that start a
	// sealed value.
	PrefixSize = 1 + IDSize
	// Overhead is how much longer a sealed value is than its plaintext.
	Overhead = PrefixSize + 12 + 16
	// HashSize is the size of a lookup hash in bytes.
	HashSize = sha256.Size
)

// Errors returned by Open and Text. They never include key material or
// the value.
var (
	ErrNotSealed  = errors.New("seal: value is not sealed")
	ErrUnknownKey = errors.New("seal: value is sealed under a key this keyring does not have")
	ErrCorrupt    = errors.New("seal: value does not open: corrupted, or sealed for another place")
)

// Keyring seals under its current key and opens under any of its keys. It
// is safe for concurrent use.
type Keyring struct {
	keys   []ringKey // keys[0] is the current key
	lookup []byte
	macs   sync.Pool // of hash.Hash keyed with lookup
}

type ringKey struct {
	prefix [PrefixSize]byte // version and key ID
	aead   cipher.AEAD
}

// New returns a keyring that seals under current, also opens values sealed
// under any of old, and hashes under lookup. Each key must be KeySize bytes;
// lookup must differ from every encryption key. Old keys equal to current,
// or to each other, are ignored. The keyring keeps no reference to the
// slices passed in.
func New(current []byte, old [][]byte, lookup []byte) (*Keyring, error) {
	if len(current) != KeySize {
		return nil, fmt.Errorf("seal: encryption key is %d bytes, want %d", len(current), KeySize)
	}
	if len(lookup) != KeySize {
		return nil, fmt.Errorf("seal: lookup key is %d bytes, want %d", len(lookup), KeySize)
	}
	k := &Keyring{lookup: append([]byte(nil), lookup...)}
	for i, raw := range append([][]byte{current}, old...) {
		if len(raw) != KeySize {
			return nil, fmt.Errorf("seal: old key %d is %d bytes, want %d", i, len(raw), KeySize)
		}
		if subtle.ConstantTimeCompare(raw, lookup) == 1 {
			return nil, errors.New("seal: the lookup key must differ from the encryption keys")
		}
		rk, err := newRingKey(raw)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, have := range k.keys {
			if have.prefix == rk.prefix {
				dup = true
			}
		}
		if !dup {
			k.keys = append(k.keys, rk)
		}
	}
	k.macs.New = func() any { return hmac.New(sha256.New, k.lookup) }
	return k, nil
}

func newRingKey(raw []byte) (ringKey, error) {
	block, err := aes.NewCipher(raw)
	if err != nil {
		return ringKey{}, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return ringKey{}, fmt.Errorf("seal: %w", err)
	}
	rk := ringKey{aead: aead}
	rk.prefix[0] = Version
	id := KeyID(raw)
	copy(rk.prefix[1:], id[:])
	return rk, nil
}

// KeyID returns the ID of an encryption key.
func KeyID(key []byte) [IDSize]byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("aduan key id v1"))
	var id [IDSize]byte
	copy(id[:], m.Sum(nil))
	return id
}

// Random returns a keyring of fresh random keys: for the demo and tests,
// whose data lives no longer than the process.
func Random() *Keyring {
	k, err := New(randomKey(), nil, randomKey())
	if err != nil {
		panic(err) // random keys are the right size and differ
	}
	return k
}

func randomKey() []byte {
	b := make([]byte, KeySize)
	rand.Read(b) // never fails; see crypto/rand.Read
	return b
}

// Generate returns a new random key in the form configuration takes it:
// standard base64 of KeySize bytes, as `openssl rand -base64 32` prints.
func Generate() string { return base64.StdEncoding.EncodeToString(randomKey()) }

// ParseKey decodes a configured key: base64 (standard or URL alphabet,
// padded or not) of exactly KeySize bytes, spaces around it ignored. The
// error never repeats the value.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("is base64 of %d bytes, want %d (make one with: openssl rand -base64 32)", len(b), KeySize)
			}
			return b, nil
		}
	}
	return nil, errors.New("is not base64 (make one with: openssl rand -base64 32)")
}

// CurrentID returns the ID of the current key, in hex: safe to print.
func (k *Keyring) CurrentID() string { return hex.EncodeToString(k.keys[0].prefix[1:]) }

// Prefix returns the first PrefixSize bytes of every value the current key
// seals, so that a store can find values sealed otherwise with a query.
func (k *Keyring) Prefix() []byte { return append([]byte(nil), k.keys[0].prefix[:]...) }

// IsCurrent reports whether sealed was sealed under the current key.
func (k *Keyring) IsCurrent(sealed []byte) bool {
	return len(sealed) >= PrefixSize && [PrefixSize]byte(sealed[:PrefixSize]) == k.keys[0].prefix
}

// Seal encrypts plain under the current key, bound to aad, and returns a
// new slice holding the sealed value.
func (k *Keyring) Seal(plain, aad []byte) []byte {
	return k.AppendSeal(make([]byte, 0, len(plain)+Overhead), plain, aad)
}

// AppendSeal appends the sealed value of plain to dst and returns the
// extended slice. It allocates nothing when dst has room for
// len(plain)+Overhead more bytes.
func (k *Keyring) AppendSeal(dst, plain, aad []byte) []byte {
	cur := &k.keys[0]
	dst = append(dst, cur.prefix[:]...)
	return cur.aead.Seal(dst, nil, plain, aad)
}

// SealString is Seal for text; plain is not copied.
func (k *Keyring) SealString(plain string, aad []byte) []byte {
	return k.Seal(bytesOf(plain), aad)
}

// AppendSealString is AppendSeal for text; plain is not copied.
func (k *Keyring) AppendSealString(dst []byte, plain string, aad []byte) []byte {
	return k.AppendSeal(dst, bytesOf(plain), aad)
}

// bytesOf returns the bytes of s without copying them. The cipher only
// reads its plaintext, so the string's immutability holds.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Open decrypts a sealed value bound to aad and returns its plaintext in a
// new slice. Returns ErrNotSealed for a value that is not in the sealed
// format, ErrUnknownKey if none of the keyring's keys sealed it, and
// ErrCorrupt if it was altered or aad is not what it was sealed with.
func (k *Keyring) Open(sealed, aad []byte) ([]byte, error) {
	return k.AppendOpen(nil, sealed, aad)
}

// AppendOpen is Open appending the plaintext to dst.
func (k *Keyring) AppendOpen(dst, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != Version {
		return dst, ErrNotSealed
	}
	p := [PrefixSize]byte(sealed[:PrefixSize])
	for i := range k.keys {
		if k.keys[i].prefix != p {
			continue
		}
		if dst == nil {
			dst = make([]byte, 0, len(sealed)-Overhead)
		}
		out, err := k.keys[i].aead.Open(dst, nil, sealed[PrefixSize:], aad)
		if err != nil {
			return dst, ErrCorrupt
		}
		return out, nil
	}
	return dst, ErrUnknownKey
}

// Text opens a stored text value: empty stays empty (nothing stored, or
// erased); a sealed value is opened as Open does; and a value written
// before sealing began, which is valid UTF-8 and so never starts with
// Version, is returned as it is (`aduan keys rotate` seals those).
func (k *Keyring) Text(stored, aad []byte) (string, error) {
	if len(stored) == 0 {
		return "", nil
	}
	if stored[0] != Version {
		if utf8.Valid(stored) {
			return string(stored), nil
		}
		return "", ErrNotSealed
	}
	b, err := k.Open(stored, aad)
	if err != nil {
		return "", err
	}
	return unsafe.String(unsafe.SliceData(b), len(b)), nil // b is ours alone
}

// Hash returns the lookup hash of s: HMAC-SHA256 under the lookup key.
// Equal inputs give equal hashes under every keyring with the same lookup
// key, whatever its encryption keys.
func (k *Keyring) Hash(s string) []byte {
	return k.AppendHash(make([]byte, 0, HashSize), s)
}

// AppendHash appends the lookup hash of s to dst. It allocates nothing
// when dst has room for HashSize more bytes.
func (k *Keyring) AppendHash(dst []byte, s string) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(bytesOf(s))
	dst = m.Sum(dst)
	k.macs.Put(m)
	return dst
}

// AAD builds the additional data that binds a sealed value to its place:
// the column (or other container) name, a zero byte, and the row's ID. It
// appends to dst.
func AAD(dst []byte, column, id string) []byte {
	dst = append(dst, column...)
	dst = append(dst, 0)
	return append(dst, id...)
}

// The places values are sealed for, used as the column part of AAD.
const (
	PlaceReporter     = "tickets.reporter"
	PlaceAnswers      = "tickets.sealed_answers"
	PlaceDetail       = "ticket_events.detail"
	PlaceRecipient    = "outbox.recipient"
	PlaceBody         = "outbox.body"
	PlaceConversation = "conversation"
	// An attachment's file and its sender; the ID is AttachmentID's.
	PlaceAttachmentData   = "attachments.data"
	PlaceAttachmentSender = "attachments.sender"
)

// AttachmentID is the AAD ID of an attachment: known before the row is
// written, and unique (one inbound message's files, in order).
func AttachmentID(channel, externalID string, index int) string {
	return channel + ":" + externalID + ":" + strconv.Itoa(index)
}
