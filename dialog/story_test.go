package dialog_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"aduan/dialog"
)

// longStory is a story of n runes as people write it: sentences, spaces,
// no line breaks.
func longStory(n int) string {
	const s = "Kakak saya dipukul suaminya pakai kayu sampai biru2, anaknya juga takut pulang. "
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(s)
	}
	return strings.TrimSpace(b.String()[:n])
}

// A long story is kept whole, however it comes: typed at the story
// question, or as the first message; a story longer than a report keeps
// is cut at MaxStory and the person is told what was kept.
func TestLongStoryKept(t *testing.T) {
	b := book(t)
	toStory := []string{"halo", "1", "2", "2", "1 3", "3", "Borong", "Desa Nggalak", "kemarin"}
	tests := []struct {
		name    string
		msgs    []string
		story   string
		cut     bool
		lastMsg string
	}{
		{"at the question, 10,005 characters", toStory, longStory(10005), false, ""},
		{"at the question, 2,500 characters", toStory, longStory(2500), false, ""},
		{"at the question, 25,000 characters", toStory, longStory(25000), true, ""},
		{"as the first message", nil, longStory(10005), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var st dialog.State
			play(t, b, &st, tt.msgs...)
			if len(tt.msgs) > 0 && st.Step != "case.what" {
				t.Fatalf("step %q, want case.what", st.Step)
			}
			r := play(t, b, &st, tt.story)
			got := st.Get("description")
			replies := strings.Join(r.Replies, "\n")
			if !tt.cut {
				if got != tt.story {
					t.Fatalf("story kept %d of %d runes", utf8.RuneCountInString(got), utf8.RuneCountInString(tt.story))
				}
				if strings.Contains(replies, "sangat panjang") {
					t.Errorf("told the story was cut: %q", replies)
				}
				return
			}
			if n := utf8.RuneCountInString(got); n > dialog.MaxStory || n < dialog.MaxStory-100 {
				t.Fatalf("story kept %d runes, want about %d", n, dialog.MaxStory)
			}
			if !strings.HasPrefix(tt.story, strings.TrimSuffix(got, "..")) {
				t.Errorf("kept text is not the story's beginning")
			}
			if !strings.Contains(replies, "Cerita Anda sangat panjang. 20.000 huruf pertama kami simpan") {
				t.Errorf("replies %q do not say what was kept", replies)
			}
		})
	}
}

// More story typed where a choice is asked is added to the story until it
// reaches MaxStory; what passes it is cut, and the person is told.
func TestStoryGrowsToItsLimit(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "halo", "1", "2", "2", "1 3", "3", "Borong", "Desa Nggalak", "kemarin", longStory(15000))
	if n := utf8.RuneCountInString(st.Get("description")); n != 15000 {
		t.Fatalf("story kept %d runes, want 15000", n)
	}
	next := st.Step
	r := play(t, b, &st, longStory(3000))
	if n := utf8.RuneCountInString(st.Get("description")); n != 18001 || st.Step != next {
		t.Fatalf("after more story: %d runes at %q, want 18001 at %q", n, st.Step, next)
	}
	r = play(t, b, &st, longStory(5000))
	if n := utf8.RuneCountInString(st.Get("description")); n > dialog.MaxStory || n < dialog.MaxStory-100 {
		t.Fatalf("story kept %d runes, want about %d", n, dialog.MaxStory)
	}
	if replies := strings.Join(r.Replies, "\n"); !strings.Contains(replies, "20.000 huruf pertama") {
		t.Errorf("replies %q do not say what was kept", replies)
	}
}
