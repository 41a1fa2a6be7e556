package config

import (
	"fmt"
	"strconv"
	"strings"

	"aduan/internal/seal"
)

// Security holds the keys that protect personal data at rest (see
// docs/SECURITY.md). Each is base64 of 32 random bytes (`openssl rand
// -base64 32`, or `aduan keys generate`), and belongs in the environment
// or a secrets store, never in the repository.
type Security struct {
	// EncryptionKey seals personal data (AES-256-GCM). Env:
	// ADUAN_ENCRYPTION_KEY.
	EncryptionKey string `yaml:"encryption_key"`
	// OldKeys are former encryption keys: they still open what they
	// sealed, until `aduan keys rotate` has sealed it again. Env:
	// ADUAN_ENCRYPTION_OLD_KEYS, separated by commas or spaces.
	OldKeys []string `yaml:"old_keys"`
	// LookupKey keys the hashes by which phone numbers are looked up
	// (HMAC-SHA256). It must never change. Env: ADUAN_LOOKUP_KEY.
	LookupKey string `yaml:"lookup_key"`
	// SupervisorPIN, when set, must end the supervisors' summary commands
	// (REKAP 1234, TERLAMBAT 1234, PETUGAS 1234, STATUS KS-... 1234), so
	// that a supervisor's lost phone alone does not give them away. Env:
	// ADUAN_SUPERVISOR_PIN.
	SupervisorPIN string `yaml:"supervisor_pin"`
}

// Retention configures how long personal data is kept.
type Retention struct {
	// Days after a ticket is done before `aduan purge` removes its
	// transcript and personal data, keeping its structured fields.
	Days int `yaml:"days"`
}

// DefaultRetentionDays is retention.days when the key is left out.
const DefaultRetentionDays = 90

// oldKeysFromEnv applies ADUAN_ENCRYPTION_OLD_KEYS, noting each key's
// source for error messages.
func (s *Security) oldKeysFromEnv(getenv func(string) string, fromEnv map[string]string) {
	const name = "ADUAN_ENCRYPTION_OLD_KEYS"
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return
	}
	s.OldKeys = strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' })
	for i := range s.OldKeys {
		fromEnv["security.old_keys["+strconv.Itoa(i)+"]"] = name
	}
}

func (s *Security) trim() {
	s.EncryptionKey = strings.TrimSpace(s.EncryptionKey)
	s.LookupKey = strings.TrimSpace(s.LookupKey)
	for i := range s.OldKeys {
		s.OldKeys[i] = strings.TrimSpace(s.OldKeys[i])
	}
	if len(s.OldKeys) == 0 {
		s.OldKeys = nil
	}
}

// validate checks the keys that are set; MissingSecurity says which are
// missing. Errors name the key, never its value.
func (s *Security) validate() error {
	if _, err := s.parse(); err != nil {
		return err
	}
	return nil
}

// keys are the decoded keys of a Security section.
type keys struct {
	current, lookup []byte
	old             [][]byte
}

func (s *Security) parse() (keys, error) {
	var k keys
	var err error
	if s.EncryptionKey != "" {
		if k.current, err = seal.ParseKey(s.EncryptionKey); err != nil {
			return k, bad("security.encryption_key", "%v", err)
		}
	}
	if s.LookupKey != "" {
		if k.lookup, err = seal.ParseKey(s.LookupKey); err != nil {
			return k, bad("security.lookup_key", "%v", err)
		}
	}
	for i, o := range s.OldKeys {
		b, err := seal.ParseKey(o)
		if err != nil {
			return k, bad("security.old_keys["+strconv.Itoa(i)+"]", "%v", err)
		}
		k.old = append(k.old, b)
	}
	if k.lookup != nil {
		if string(k.lookup) == string(k.current) {
			return k, bad("security.lookup_key", "is the same as security.encryption_key; make a key of its own")
		}
		for i, o := range k.old {
			if string(k.lookup) == string(o) {
				return k, bad("security.lookup_key", "is the same as security.old_keys[%d]; make a key of its own", i)
			}
		}
	}
	if k.current == nil && len(k.old) > 0 {
		return k, bad("security.old_keys", "are set but security.encryption_key is not")
	}
	return k, nil
}

// MissingSecurity lists the keys that protecting personal data needs and
// that are empty: security.encryption_key and security.lookup_key. serve
// and every command that reads tickets refuse to run without them. It
// returns nil when nothing is missing.
func (c *Config) MissingSecurity() []string {
	var missing []string
	if c.Security.EncryptionKey == "" {
		missing = append(missing, "security.encryption_key (ADUAN_ENCRYPTION_KEY)")
	}
	if c.Security.LookupKey == "" {
		missing = append(missing, "security.lookup_key (ADUAN_LOOKUP_KEY)")
	}
	return missing
}

// Keyring returns the keyring the security section configures. Returns
// an error naming the missing or bad key when there is none to make.
func (c *Config) Keyring() (*seal.Keyring, error) {
	if missing := c.MissingSecurity(); len(missing) > 0 {
		return nil, fmt.Errorf("personal data cannot be protected without %s (make keys with: aduan keys generate)",
			strings.Join(missing, " and "))
	}
	k, err := c.Security.parse()
	if err != nil {
		return nil, err
	}
	return seal.New(k.current, k.old, k.lookup)
}

func (r *Retention) validate() error {
	if r.Days <= 0 {
		return bad("retention.days", "%d is not positive", r.Days)
	}
	return nil
}
