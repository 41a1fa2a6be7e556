package bot_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"aduan/bot"
	"aduan/dialog"
)

// storyOf returns a story of n characters, of words of varying length,
// some of them outside GSM-7 (which halves what an SMS holds).
func storyOf(n int, unicode bool) string {
	words := []string{"Suami", "kakak", "saya", "memukul", "dengan", "kayu", "setiap", "malam", "anak-anaknya", "takut"}
	if unicode {
		words = append(words, "ketakutan😢")
	}
	var b strings.Builder
	for i := 0; utf8.RuneCountInString(b.String()) < n+20; i++ {
		b.WriteString(words[i%len(words)] + " ")
	}
	return strings.TrimSpace(string([]rune(b.String())[:n]))
}

var partHead = regexp.MustCompile(`^[A-Z]{2}-[2-9A-HJ-NP-Z]{6} \(\d+/\d+\)$`)
var partFoot = regexp.MustCompile(`^\(\d+/\d+\) INFO [A-Z]{2}-[2-9A-HJ-NP-Z]{6} \d+ untuk lanjut$`)

// TestInfoParts (issue 15, point 9; issue 13's 10,005-character story):
// a story told in one long message is kept whole; INFO KODE gives the
// first part and INFO KODE n the next ones, each within three SMS
// segments, together the whole story, also when it is not GSM-7; asking
// past the last part says how many there are. A long message written
// after filing is kept whole in the ticket, and its officer gets its
// beginning, within three SMS segments, and where to read the rest.
func TestInfoParts(t *testing.T) {
	for _, unicode := range []bool{false, true} {
		t.Run(fmt.Sprintf("unicode=%v", unicode), func(t *testing.T) {
			e := newPipelineEnv(t)
			e.reset(t)
			svc, out := e.start(t)
			story := storyOf(10005, unicode)
			for _, text := range []string{story, "1", "2", "1", "3", "Borong", "0", "1", "0", "1", "3", "1"} {
				if _, err := say(t, e, svc, out, transcriptCitizen, text); err != nil {
					t.Fatal(err)
				}
			}
			ts := allTickets(t, e)
			if len(ts) != 1 {
				t.Fatalf("%d tickets, want 1", len(ts))
			}
			if ts[0].Answers["description"] != story {
				t.Fatalf("description of %d runes, want the whole %d-rune story",
					len([]rune(ts[0].Answers["description"])), len([]rune(story)))
			}
			code := ts[0].Code
			var text []string
			for n := 1; ; n++ {
				got, err := say(t, e, svc, out, genoveva, fmt.Sprintf("INFO %s %d", code, n))
				if err != nil || len(got) != 1 {
					t.Fatalf("INFO %d: %q, %v", n, got, err)
				}
				if strings.Contains(got[0], " bagian: INFO ") {
					if n < 3 || !strings.Contains(got[0], fmt.Sprintf("hanya %d bagian", n-1)) {
						t.Fatalf("INFO %d: %q", n, got[0])
					}
					break
				}
				if s := dialog.Segments(got[0]); s > bot.InfoSegments {
					t.Errorf("part %d is %d SMS segments, over %d", n, s, bot.InfoSegments)
				}
				for _, l := range strings.Split(got[0], "\n") {
					if !partHead.MatchString(l) && !partFoot.MatchString(l) {
						text = append(text, l)
					}
				}
			}
			all := strings.Join(strings.Fields(strings.Join(text, " ")), " ")
			if !strings.Contains(all, "Cerita: "+story) {
				t.Errorf("the parts together do not hold the whole story:\n%s", all)
			}

			more := storyOf(3000, unicode)
			got, err := say(t, e, svc, out, transcriptCitizen, more)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := e.pg.Events(context.Background(), code)
			if err != nil {
				t.Fatal(err)
			}
			if last := evs[len(evs)-1]; last.Type != "relay_in" || last.Detail != more {
				t.Errorf("last event %s of %d runes, want relay_in with the whole %d-rune message",
					last.Type, len([]rune(last.Detail)), len([]rune(more)))
			}
			var told []string // what the officers got
			for _, b := range got {
				if strings.HasPrefix(b, "["+code+"] pelapor: ") {
					told = append(told, b)
				}
			}
			if len(told) == 0 {
				t.Fatalf("no officer got the message: %q", got)
			}
			body := told[0]
			if dialog.Segments(body) > bot.InfoSegments || !strings.HasSuffix(body, "(lengkap: INFO "+code+")") ||
				!strings.Contains(body, more[:100]) {
				t.Errorf("officer got %q (%d segments), want the message's beginning within %d and where to read it whole",
					body, dialog.Segments(body), bot.InfoSegments)
			}
		})
	}
}

// TestLimitNeverHoldsBackDanger (issue 15, point 7): over the per-sender
// limit, words of danger are taken (and answered), other messages are not;
// a reporter with an open ticket, writing at rest, is never held back.
func TestLimitNeverHoldsBackDanger(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{PerSender: 3, Window: time.Minute})
	const sender = "+6281299990055"
	for _, text := range []string{"halo", "kak", "sy", "di rumah"} {
		if _, err := say(t, e, svc, out, sender, text); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := say(t, e, svc, out, sender, "skrg"); len(got) != 0 {
		t.Fatalf("over the limit: %q, want nothing", got)
	}
	for _, text := range []string{"tolong", "dia mau bunuh sy, tolong"} {
		got, err := say(t, e, svc, out, sender, text)
		if err != nil || len(got) == 0 || !strings.Contains(got[0], "110") {
			t.Errorf("%q over the limit: %q, %v; want the emergency numbers", text, got, err)
		}
	}
	ts := allTickets(t, e)
	if len(ts) != 1 || !ts[0].Urgent {
		t.Fatalf("tickets: %+v, want one urgent", ts)
	}
	// The report under way goes on its urgent ticket: not held back either.
	for _, text := range []string{"1", "1", "1"} {
		if got, _ := say(t, e, svc, out, sender, text); len(got) == 0 {
			t.Errorf("%q for the urgent report: no answer", text)
		}
	}
}

// TestFirstNotificationHasNoNumber (issue 15, point 8): the reporter agreed
// to be called; the notification carries neither their number nor their
// story, INFO shows the number and the hours.
func TestFirstNotificationHasNoNumber(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t)
	story := "Suami saya memukul saya dengan kayu tadi malam."
	var code string
	for _, text := range []string{"halo", "1", "1", "2", "1", "3", "Borong", "0", "1", story, "1", "2", "sore 16-18", "1"} {
		if _, err := say(t, e, svc, out, transcriptCitizen, text); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range outbox(t, e) {
		if m.Purpose == bot.PurposeNotify {
			code = m.TicketCode
			if strings.Contains(m.Body, "81299990001") || strings.Contains(m.Body, "memukul") {
				t.Errorf("notification %q carries the number or the story", m.Body)
			}
		}
	}
	got, err := say(t, e, svc, out, genoveva, "INFO "+code)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "Telepon: "+transcriptCitizen+" (sore 16-18)") {
		t.Errorf("INFO = %q, %v; want the number and the hours", got, err)
	}
}
