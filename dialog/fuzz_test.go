package dialog_test

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"aduan/dialog"
	"aduan/dialog/flows"
)

// FuzzClean checks the input matcher's cleaning on any text: Clean gives
// valid UTF-8 without control, zero-width or direction characters, at most
// MaxInput runes other than spaces, trimmed, and cleaning twice changes
// nothing; Normalize
// gives lower-case letters and digits in words one space apart, and is
// also stable.
func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "  Ya, KIRIM!! ", "dua", "1 3", "a\x00b", "\xff\xfe", "\u200b1\u200e",
		"\u202eKIRIM", "🙏🏽 tolong", "ＹＡ", "İSTANBUL", "ǅ", "'; DROP TABLE tickets; --", "%s%d%n",
		strings.Repeat("ab ", 1500)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := dialog.Clean(s)
		if !utf8.ValidString(c) {
			t.Fatalf("Clean(%q) = %q: invalid UTF-8", s, c)
		}
		// Clean counts the runes it keeps, not the spaces between them.
		if n := utf8.RuneCountInString(strings.ReplaceAll(c, " ", "")); n > dialog.MaxInput {
			t.Fatalf("Clean(%q) keeps %d runes, want at most %d", s, n, dialog.MaxInput)
		}
		if c != strings.TrimSpace(c) || strings.Contains(c, "  ") {
			t.Fatalf("Clean(%q) = %q: not trimmed, or spaces not collapsed", s, c)
		}
		for _, r := range c {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("Clean(%q) = %q keeps %U", s, c, r)
			}
		}
		if cc := dialog.Clean(c); cc != c {
			t.Fatalf("Clean is not stable: Clean(%q) = %q, Clean of that = %q", s, c, cc)
		}
		n := dialog.Normalize(c)
		if n != strings.TrimSpace(n) || strings.Contains(n, "  ") {
			t.Fatalf("Normalize(%q) = %q: not one space between words", c, n)
		}
		for _, r := range n {
			if r != ' ' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
				t.Fatalf("Normalize(%q) = %q keeps %U", c, n, r)
			}
		}
		if nn := dialog.Normalize(n); nn != n {
			t.Fatalf("Normalize is not stable: %q, then %q", n, nn)
		}
	})
}

// FuzzHandle plays a conversation, one message per line of the input,
// through the embedded flows. Whatever is typed, Handle must not panic,
// must answer every message with non-empty replies (save STOP, which asks
// for silence, and a status lookup or a submission, which the caller
// answers: a submission with its Done text), and must leave a state that
// encodes and decodes to itself.
func FuzzHandle(f *testing.F) {
	b, err := flows.Load("")
	if err != nil {
		f.Fatalf("load flows: %v", err)
	}
	for _, s := range []string{
		"halo\n1\n1\n1\n1 3\nBorong\nTetangga saya dipukul\nya",
		"halo\n2\n1\nlambat sekali\nkemarin\nya",
		"halo\n3\nmenu\nbahasa\nkembali\nbatal",
		"tolong saya mau dibunuh",
		"STOP\nhalo\nHAPUS",
		"halo\n1\n\x00\n\xff\xfe\n\u202e1\n" + strings.Repeat("x", 10000),
		"KS-7HQ4XM\nstatus KS 7HQ4XM\ncek ks7hq4xm",
		"halo\n1\n2\n1\n1 2 3 4 5 6 7 8 9\nelar selatan\n%s%n%x\nubah\n1\nya",
		"'; DROP TABLE tickets; --\n<script>alert(1)</script>\n{{.}}\n${jndi:x}",
	} {
		f.Add(s)
	}
	start := time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, script string) {
		msgs := strings.Split(script, "\n")
		if len(msgs) > 40 {
			msgs = msgs[:40]
		}
		var st dialog.State
		now := start
		for i, m := range msgs {
			now = now.Add(time.Duration(len(m)%7) * time.Minute)
			r := b.Handle(&st, dialog.Input{Text: m, Media: len(m) % 3 / 2}, now)
			if len(r.Replies) == 0 && !r.OptOut && r.Lookup == "" && r.Submit == nil {
				t.Fatalf("message %d %q: no reply (state %+v)", i, m, st)
			}
			if r.Submit != nil && strings.TrimSpace(r.Submit.Done) == "" {
				t.Fatalf("message %d %q: a submission without its Done text", i, m)
			}
			for _, reply := range r.Replies {
				if strings.TrimSpace(reply) == "" {
					t.Fatalf("message %d %q: an empty reply among %q", i, m, r.Replies)
				}
			}
			enc, err := st.MarshalBinary()
			if err != nil {
				t.Fatalf("message %d: MarshalBinary: %v", i, err)
			}
			var back dialog.State
			if err := back.UnmarshalBinary(enc); err != nil {
				t.Fatalf("message %d: state %+v does not decode: %v", i, st, err)
			}
			if !sameState(back, st) {
				t.Fatalf("message %d: state %+v decodes as %+v", i, st, back)
			}
			if r.End {
				st = dialog.State{}
			}
		}
	})
}

// sameState compares states, an empty list equal to none.
func sameState(a, b dialog.State) bool {
	if len(a.Answers) == 0 && len(b.Answers) == 0 {
		a.Answers, b.Answers = nil, nil
	}
	if len(a.Trail) == 0 && len(b.Trail) == 0 {
		a.Trail, b.Trail = nil, nil
	}
	return reflect.DeepEqual(a, b)
}
