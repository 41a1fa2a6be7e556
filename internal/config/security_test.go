package config_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"aduan/internal/config"
	"aduan/internal/seal"
)

func b64(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, seal.KeySize))
}

func TestSecurity(t *testing.T) {
	enc, old1, old2, lookup := b64(1), b64(2), b64(3), b64(9)
	c, err := config.Load(writeConfig(t, officersYAML), env(map[string]string{
		"ADUAN_ENCRYPTION_KEY":      enc,
		"ADUAN_ENCRYPTION_OLD_KEYS": " " + old1 + ", " + old2 + "\n",
		"ADUAN_LOOKUP_KEY":          lookup,
	}))
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if c.Security.EncryptionKey != enc || c.Security.LookupKey != lookup ||
		len(c.Security.OldKeys) != 2 || c.Security.OldKeys[0] != old1 || c.Security.OldKeys[1] != old2 {
		t.Errorf("security = %+v", c.Security)
	}
	if m := c.MissingSecurity(); m != nil {
		t.Errorf("MissingSecurity() = %q, want nil", m)
	}
	k, err := c.Keyring()
	if err != nil {
		t.Fatalf("Keyring() = %v", err)
	}
	oldRing, err := seal.New(bytes.Repeat([]byte{3}, seal.KeySize), nil, bytes.Repeat([]byte{9}, seal.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.Open(oldRing.SealString("lama", nil), nil); err != nil || string(got) != "lama" {
		t.Errorf("keyring cannot open what an old key sealed: %q, %v", got, err)
	}
	if !bytes.Equal(k.Hash("+6281337785111"), oldRing.Hash("+6281337785111")) {
		t.Errorf("keyring hashes under another lookup key")
	}
}

func TestSecurityErrors(t *testing.T) {
	short := base64.StdEncoding.EncodeToString([]byte("pendek"))
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string
	}{
		{"bad key", "security: {encryption_key: \"" + short + "\"}\n", nil,
			"config.yaml: line 5: security.encryption_key: is base64 of 6 bytes, want 32"},
		{"not base64", "security: {lookup_key: \"kunci rahasia!\"}\n", nil, "security.lookup_key: is not base64"},
		{"bad old key", "security: {encryption_key: \"" + b64(1) + "\", old_keys: [\"" + b64(2) + "\", \"x\"]}\n", nil,
			"security.old_keys[1]: is not base64"},
		{"bad key from env", "", map[string]string{"ADUAN_ENCRYPTION_KEY": short},
			"security.encryption_key (from ADUAN_ENCRYPTION_KEY): is base64 of 6 bytes"},
		{"bad old key from env", "", map[string]string{"ADUAN_ENCRYPTION_KEY": b64(1), "ADUAN_ENCRYPTION_OLD_KEYS": b64(2) + ",zz"},
			"security.old_keys[1] (from ADUAN_ENCRYPTION_OLD_KEYS)"},
		{"lookup is the encryption key", "security: {encryption_key: \"" + b64(1) + "\", lookup_key: \"" + b64(1) + "\"}\n", nil,
			"security.lookup_key: is the same as security.encryption_key"},
		{"lookup is an old key", "security: {encryption_key: \"" + b64(1) + "\", old_keys: [\"" + b64(2) + "\"], lookup_key: \"" + b64(2) + "\"}\n", nil,
			"security.lookup_key: is the same as security.old_keys[0]"},
		{"old keys alone", "security: {old_keys: [\"" + b64(2) + "\"]}\n", nil,
			"security.old_keys: are set but security.encryption_key is not"},
		{"retention zero", "retention: {days: 0}\n", nil, "retention.days: 0 is not positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, officersYAML+tt.yaml), env(tt.env))
			wantErr(t, err, tt.want)
			if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), b64(1)) || strings.Contains(err.Error(), b64(2)) {
				t.Errorf("err = %q repeats a key", err)
			}
		})
	}
}

func TestMissingSecurity(t *testing.T) {
	c, err := config.Load(writeConfig(t, officersYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"security.encryption_key (ADUAN_ENCRYPTION_KEY)", "security.lookup_key (ADUAN_LOOKUP_KEY)"}
	if got := c.MissingSecurity(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("MissingSecurity() = %q, want %q", got, want)
	}
	if _, err := c.Keyring(); err == nil || !strings.Contains(err.Error(), "security.encryption_key") ||
		!strings.Contains(err.Error(), "aduan keys generate") {
		t.Errorf("Keyring() error = %v, want one naming the missing keys and how to make them", err)
	}
	if c.Retention.Days != config.DefaultRetentionDays || config.DefaultRetentionDays != 90 {
		t.Errorf("retention.days = %d, want 90", c.Retention.Days)
	}
}
