package seal_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"aduan/internal/seal"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, seal.KeySize) }

func ring(t testing.TB, current []byte, old ...[]byte) *seal.Keyring {
	t.Helper()
	k, err := seal.New(current, old, key(0xEE))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	k := ring(t, key(1))
	aad := seal.AAD(nil, seal.PlaceBody, "KS-7HQ4XM")
	tests := []struct {
		name  string
		plain []byte
	}{
		{"empty", []byte{}},
		{"text", []byte("Tetangga saya dipukul suaminya")},
		{"binary", []byte{0, 0xff, 0xA1, '\n'}},
		{"long", bytes.Repeat([]byte("x"), 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := k.Seal(tt.plain, aad)
			if got, want := len(s), len(tt.plain)+seal.Overhead; got != want {
				t.Errorf("len(sealed) = %d, want %d", got, want)
			}
			if s[0] != seal.Version {
				t.Errorf("sealed[0] = %#x, want %#x", s[0], seal.Version)
			}
			if len(tt.plain) > 4 && bytes.Contains(s, tt.plain[:5]) {
				t.Errorf("sealed value contains the plaintext")
			}
			got, err := k.Open(s, aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.plain) {
				t.Errorf("Open = %q, want %q", got, tt.plain)
			}
			if !k.IsCurrent(s) {
				t.Errorf("IsCurrent = false, want true")
			}
		})
	}
}

func TestSealIsRandomized(t *testing.T) {
	k := ring(t, key(1))
	a, b := k.SealString("sama", nil), k.SealString("sama", nil)
	if bytes.Equal(a, b) {
		t.Errorf("two seals of one text are equal, want distinct nonces")
	}
}

func TestOpenRefuses(t *testing.T) {
	k := ring(t, key(1))
	aad := seal.AAD(nil, seal.PlaceReporter, "KS-1")
	good := k.SealString("+6281337785111", aad)
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 1
		return b
	}
	tests := []struct {
		name   string
		sealed []byte
		aad    []byte
		want   error
	}{
		{"other row", good, seal.AAD(nil, seal.PlaceReporter, "KS-2"), seal.ErrCorrupt},
		{"other column", good, seal.AAD(nil, seal.PlaceBody, "KS-1"), seal.ErrCorrupt},
		{"flipped ciphertext", flip(len(good) - 20), aad, seal.ErrCorrupt},
		{"flipped tag", flip(len(good) - 1), aad, seal.ErrCorrupt},
		{"flipped nonce", flip(seal.PrefixSize), aad, seal.ErrCorrupt},
		{"unknown key", flip(1), aad, seal.ErrUnknownKey},
		{"truncated", good[:seal.Overhead-1], aad, seal.ErrNotSealed},
		{"clear text", []byte("+6281337785111"), aad, seal.ErrNotSealed},
		{"nil", nil, aad, seal.ErrNotSealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := k.Open(tt.sealed, tt.aad)
			if !errors.Is(err, tt.want) {
				t.Errorf("Open error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	k1 := ring(t, key(1))
	s1 := k1.SealString("lama", nil)

	k2 := ring(t, key(2), key(1))
	if got, err := k2.Open(s1, nil); err != nil || string(got) != "lama" {
		t.Errorf("new ring Open(old value) = %q, %v; want %q, nil", got, err, "lama")
	}
	if k2.IsCurrent(s1) {
		t.Errorf("IsCurrent(old value) = true, want false")
	}
	s2 := k2.SealString("baru", nil)
	if !k2.IsCurrent(s2) || !bytes.HasPrefix(s2, k2.Prefix()) {
		t.Errorf("new value not under the current key")
	}
	if _, err := k1.Open(s2, nil); !errors.Is(err, seal.ErrUnknownKey) {
		t.Errorf("old ring Open(new value) error = %v, want %v", err, seal.ErrUnknownKey)
	}
	if k1.CurrentID() == k2.CurrentID() || len(k1.CurrentID()) != 2*seal.IDSize {
		t.Errorf("CurrentID = %q and %q, want two distinct IDs of %d hex digits", k1.CurrentID(), k2.CurrentID(), 2*seal.IDSize)
	}
	// The lookup hash does not depend on the encryption keys.
	if !bytes.Equal(k1.Hash("+6281337785111"), k2.Hash("+6281337785111")) {
		t.Errorf("Hash changed with the encryption key")
	}
}

func TestHash(t *testing.T) {
	k := ring(t, key(1))
	h := k.Hash("+6281337785111")
	if len(h) != seal.HashSize {
		t.Fatalf("len(Hash) = %d, want %d", len(h), seal.HashSize)
	}
	if !bytes.Equal(h, k.Hash("+6281337785111")) {
		t.Errorf("Hash is not deterministic")
	}
	if bytes.Equal(h, k.Hash("+6281337785112")) {
		t.Errorf("Hash of two numbers is equal")
	}
	other, err := seal.New(key(1), nil, key(0xDD))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(h, other.Hash("+6281337785111")) {
		t.Errorf("Hash under another lookup key is equal")
	}
}

func TestText(t *testing.T) {
	k := ring(t, key(1))
	aad := []byte("a")
	tests := []struct {
		name    string
		stored  []byte
		want    string
		wantErr error
	}{
		{"empty", nil, "", nil},
		{"sealed", k.SealString("rahasia", aad), "rahasia", nil},
		{"legacy clear text", []byte("ditulis sebelum enkripsi"), "ditulis sebelum enkripsi", nil},
		{"neither", []byte{0xff, 0xfe}, "", seal.ErrNotSealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Text(tt.stored, aad)
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Errorf("Text = %q, %v; want %q, %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name    string
		current []byte
		old     [][]byte
		lookup  []byte
		want    string
	}{
		{"short key", key(1)[:16], nil, key(9), "encryption key is 16 bytes"},
		{"short lookup", key(1), nil, key(9)[:31], "lookup key is 31 bytes"},
		{"short old key", key(1), [][]byte{key(2)[:5]}, key(9), "old key 1 is 5 bytes"},
		{"lookup equals key", key(1), nil, key(1), "must differ"},
		{"lookup equals old key", key(1), [][]byte{key(9)}, key(9), "must differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := seal.New(tt.current, tt.old, tt.lookup)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseKey(t *testing.T) {
	raw := key(7)
	tests := []struct {
		name, in string
		wantErr  string
	}{
		{"standard", base64.StdEncoding.EncodeToString(raw), ""},
		{"spaces", "  " + base64.StdEncoding.EncodeToString(raw) + "\n", ""},
		{"unpadded", base64.RawStdEncoding.EncodeToString(raw), ""},
		{"url alphabet", base64.URLEncoding.EncodeToString(raw), ""},
		{"too short", base64.StdEncoding.EncodeToString(raw[:16]), "16 bytes, want 32"},
		{"not base64", "kunci rahasia!", "is not base64"},
		{"empty", "", "0 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := seal.ParseKey(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseKey error = %v, want one containing %q", err, tt.wantErr)
				}
				if tt.in != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Errorf("error %q repeats the value", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, raw) {
				t.Errorf("ParseKey = %x, %v; want %x", got, err, raw)
			}
		})
	}
	g := seal.Generate()
	if b, err := seal.ParseKey(g); err != nil || len(b) != seal.KeySize {
		t.Errorf("ParseKey(Generate()) = %d bytes, %v; want %d", len(b), err, seal.KeySize)
	}
	if g == seal.Generate() {
		t.Errorf("Generate returned the same key twice")
	}
}

func TestOldKeyDuplicatesIgnored(t *testing.T) {
	k, err := seal.New(key(1), [][]byte{key(1), key(2), key(2)}, key(9))
	if err != nil {
		t.Fatal(err)
	}
	old := ring(t, key(2))
	if got, err := k.Open(old.SealString("x", nil), nil); err != nil || string(got) != "x" {
		t.Errorf("Open = %q, %v", got, err)
	}
}

func TestAppendNoAlloc(t *testing.T) {
	k := ring(t, key(1))
	plain := []byte(strings.Repeat("Tetangga dipukul. ", 10))
	aad := seal.AAD(nil, seal.PlaceBody, "KS-7HQ4XM")
	buf := make([]byte, 0, 1024)
	sealed := k.Seal(plain, aad)
	out := make([]byte, 0, 1024)
	hbuf := make([]byte, 0, seal.HashSize)
	allocs := testing.AllocsPerRun(100, func() {
		buf = k.AppendSeal(buf[:0], plain, aad)
		out, _ = k.AppendOpen(out[:0], sealed, aad)
		hbuf = k.AppendHash(hbuf[:0], "+6281337785111")
	})
	if allocs > 0 {
		t.Errorf("AppendSeal + AppendOpen + AppendHash: %.1f allocations, want 0", allocs)
	}
}

func TestCounts(t *testing.T) {
	c := seal.Counts{Tickets: 1, Events: 2, Outbox: 3}
	if c.Total() != 6 || c.String() != "tickets 1, events 2, outbox messages 3" {
		t.Errorf("Counts = %d, %q", c.Total(), c)
	}
	c.Attachments = 4
	if c.Total() != 10 || c.String() != "tickets 1, events 2, outbox messages 3, attachments 4" {
		t.Errorf("Counts = %d, %q", c.Total(), c)
	}
}

func TestPolicy(t *testing.T) {
	for _, f := range []string{"kecamatan", "violence", "age_group", "sex", "topic"} {
		if !seal.Statistic(f) {
			t.Errorf("Statistic(%q) = false, want true", f)
		}
	}
	for _, f := range []string{"description", "place", "name", "contact_time", "service", "expect", "when", "anything new"} {
		if seal.Statistic(f) {
			t.Errorf("Statistic(%q) = true, want false: free text is sealed", f)
		}
	}
	if len(seal.StatisticFields()) == 0 {
		t.Errorf("StatisticFields is empty")
	}
	for _, typ := range seal.TranscriptEvents() {
		if !seal.TranscriptEvent(typ) {
			t.Errorf("TranscriptEvent(%q) = false", typ)
		}
	}
	if seal.TranscriptEvent("status") {
		t.Errorf("TranscriptEvent(status) = true, want false")
	}
}

// BenchmarkSeal seals and opens a typical outbox body: the pipeline seals
// a few values per message, so 2,000 messages/s need well under 10,000
// seals/s.
func BenchmarkSeal(b *testing.B) {
	k := ring(b, key(1))
	plain := []byte("Terima kasih. Laporan Anda sudah kami terima dengan kode KS-7HQ4XM. Petugas akan menghubungi Anda.")
	aad := seal.AAD(nil, seal.PlaceBody, "KS-7HQ4XM")
	buf := make([]byte, 0, 512)
	out := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(plain)))
	for b.Loop() {
		buf = k.AppendSeal(buf[:0], plain, aad)
		var err error
		if out, err = k.AppendOpen(out[:0], buf, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	k := ring(b, key(1))
	buf := make([]byte, 0, seal.HashSize)
	b.ReportAllocs()
	for b.Loop() {
		buf = k.AppendHash(buf[:0], "+6281337785111")
	}
}
