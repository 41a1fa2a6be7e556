package whatsapp_test

import (
	"fmt"
	"testing"
	"time"

	"aduan/channels/whatsapp"
)

func TestPacer(t *testing.T) {
	type step struct {
		at       time.Duration // after t0
		to       string
		limit    time.Duration
		wantWait time.Duration
		wantOK   bool
	}
	const long = time.Hour
	for _, tc := range []struct {
		name         string
		per, overall whatsapp.Rate
		steps        []step
	}{
		{"per recipient burst then interval",
			whatsapp.Rate{Interval: 2 * time.Second, Burst: 2}, whatsapp.Rate{},
			[]step{
				{0, "A", long, 0, true},
				{0, "A", long, 0, true},
				{0, "A", long, 2 * time.Second, true},
				{0, "A", long, 4 * time.Second, true},
				{0, "B", long, 0, true}, // another recipient has its own bucket
				// 1s later half a token came back: the 5th waits 6s-1s.
				{time.Second, "A", long, 5 * time.Second, true},
				// Long idle: the bucket is full again, not more.
				{time.Hour, "A", long, 0, true},
				{time.Hour, "A", long, 0, true},
				{time.Hour, "A", long, 2 * time.Second, true},
			}},
		{"overall limits all recipients",
			whatsapp.Rate{}, whatsapp.Rate{Interval: time.Second, Burst: 3},
			[]step{
				{0, "A", long, 0, true},
				{0, "B", long, 0, true},
				{0, "C", long, 0, true},
				{0, "D", long, time.Second, true},
				{0, "E", long, 2 * time.Second, true},
				{1500 * time.Millisecond, "F", long, 1500 * time.Millisecond, true},
			}},
		{"the longer wait of the two",
			whatsapp.Rate{Interval: 2 * time.Second, Burst: 2}, whatsapp.Rate{Interval: time.Second, Burst: 3},
			[]step{
				{0, "A", long, 0, true},
				{0, "A", long, 0, true},
				{0, "A", long, 2 * time.Second, true}, // per recipient 2s, overall 0
				{0, "B", long, time.Second, true},     // per recipient 0, overall 1s
				// A: -1 + 0.5 -> 3s; overall: -1 + 1 -> 1s.
				{time.Second, "A", long, 3 * time.Second, true},
			}},
		{"a wait over the limit takes nothing",
			whatsapp.Rate{Interval: 2 * time.Second, Burst: 1}, whatsapp.Rate{Interval: time.Second, Burst: 1},
			[]step{
				{0, "A", long, 0, true},
				{0, "A", time.Second, 0, false}, // would wait 2s
				{0, "A", time.Second, 0, false},
				{0, "B", long, time.Second, true},     // overall was not taken by the refusals
				{0, "A", long, 2 * time.Second, true}, // nor A's bucket
			}},
		{"no limits", whatsapp.Rate{}, whatsapp.Rate{},
			[]step{{0, "A", 0, 0, true}, {0, "A", 0, 0, true}, {0, "A", 0, 0, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := whatsapp.NewPacer(tc.per, tc.overall)
			t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			for i, s := range tc.steps {
				wait, ok := p.Reserve(s.to, t0.Add(s.at), s.limit)
				if wait != s.wantWait || ok != s.wantOK {
					t.Errorf("step %d (%s at +%v): Reserve = %v, %t; want %v, %t", i, s.to, s.at, wait, ok, s.wantWait, s.wantOK)
				}
			}
		})
	}
}

func TestPacerForgetsIdleRecipients(t *testing.T) {
	p := whatsapp.NewPacer(whatsapp.Rate{Interval: time.Second, Burst: 2}, whatsapp.Rate{})
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for i := range 1024 {
		p.Reserve(fmt.Sprintf("+62813%08d", i), t0, time.Hour)
	}
	if got := p.Recipients(); got != 1024 {
		t.Fatalf("Recipients() = %d, want 1024", got)
	}
	// An hour later every bucket is full: a new recipient sweeps them.
	p.Reserve("+6281399999999", t0.Add(time.Hour), time.Hour)
	if got := p.Recipients(); got != 1 {
		t.Errorf("Recipients() after the sweep = %d, want 1", got)
	}
}
