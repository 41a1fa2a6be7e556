package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"aduan/bot"
	"aduan/internal/seal"
)

// errNoKeyring refuses every operation on personal data by a store that
// has no keyring (WithKeyring).
var errNoKeyring = bot.E("postgres", bot.Invalid, seal.ErrNoKeyring)

// sealer returns a sealer on the store's keyring, or Invalid if it has
// none.
func (s *Store) sealer(op string) (*seal.Sealer, error) {
	z, err := s.keys.Sealer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	return z, nil
}

func (s *Store) opener() *seal.Opener { return s.keys.Opener() }

// clean makes text storable as PostgreSQL text: NUL bytes are dropped and
// invalid UTF-8 becomes U+FFFD. Sealed values are bytes and could hold
// anything, but both stores give back what a text column would have.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// cleanMap returns a with every key and value cleaned; a itself when
// nothing needs it.
func cleanMap(a map[string]string) map[string]string {
	for k, v := range a {
		if clean(k) != k || clean(v) != v {
			c := make(map[string]string, len(a))
			for k, v := range a {
				c[clean(k)] = clean(v)
			}
			return c
		}
	}
	return a
}

// sealData seals an attachment's file for its ID (seal.AttachmentID). An
// empty file is sealed too: every stored file opens to what was written.
// k must not be nil.
func sealData(k *seal.Keyring, id string, data []byte) []byte {
	return k.Seal(data, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
}

// openData opens an attachment's stored file. Returns seal.ErrNoKeyring
// if k is nil.
func openData(k *seal.Keyring, stored []byte, id string) ([]byte, error) {
	if k == nil {
		return nil, seal.ErrNoKeyring
	}
	b, err := k.Open(stored, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
	if err != nil {
		return nil, fmt.Errorf("%s of %q: %w", seal.PlaceAttachmentData, id, err)
	}
	return b, nil
}
