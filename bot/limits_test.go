package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
)

// startLimited runs a Service with limits on the test stores.
func startLimited(t *testing.T, e *pipelineEnv, l bot.Limits) (*bot.Service, *bot.Dispatcher) {
	t.Helper()
	svc, out := e.start(t)
	limited := bot.NewService(bot.Config{Store: e.pg, Conversations: e.rd, Book: svc.Book(), Officers: transcriptOfficers,
		Outbox: out, Now: e.clock.Now, Limits: l, Counter: e.rd})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); limited.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for !limited.Running() {
		time.Sleep(time.Millisecond)
	}
	return limited, out
}

func say(t *testing.T, e *pipelineEnv, svc *bot.Service, out *bot.Dispatcher, from, text string) ([]string, error) {
	t.Helper()
	err := svc.Handle(context.Background(), bot.Inbound{Channel: bot.SMS, ExternalID: fmt.Sprintf("lim-%d", reports.Add(1)),
		From: from, Text: text, Received: e.clock.Now()})
	waitSent(t, out)
	var bodies []string
	for _, m := range e.sent.take(from) {
		bodies = append(bodies, m.Body)
	}
	return bodies, err
}

func TestSenderRateLimit(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{PerSender: 3, Window: time.Minute})
	for i := 0; i < 3; i++ {
		if got, _ := say(t, e, svc, out, transcriptCitizen, "halo"); len(got) != 1 || strings.Contains(got[0], "tunggu") {
			t.Fatalf("message %d: replies %q, want an ordinary answer", i+1, got)
		}
	}
	got, err := say(t, e, svc, out, transcriptCitizen, "halo")
	if err != nil || len(got) != 1 || !strings.Contains(got[0], "Mohon tunggu sebentar") {
		t.Fatalf("4th message: %q, %v; want one polite pause", got, err)
	}
	for i := 0; i < 3; i++ {
		if got, err := say(t, e, svc, out, transcriptCitizen, "halo"); err != nil || len(got) != 0 {
			t.Fatalf("over the limit: replies %q, %v; want silence and no error (Twilio must not retry)", got, err)
		}
	}
	// Others are not held back, and officers never are.
	if got, _ := say(t, e, svc, out, "+6281299990077", "halo"); len(got) != 1 || strings.Contains(got[0], "tunggu") {
		t.Errorf("another sender: %q", got)
	}
	for i := 0; i < 6; i++ {
		if got, _ := say(t, e, svc, out, genoveva, "TIKET"); len(got) != 1 || !strings.HasPrefix(got[0], "Tiket Anda") {
			t.Fatalf("officer, message %d: %q", i+1, got)
		}
	}
}

// A provider delivering one message again (a lost acknowledgement) is not
// the person writing again: it does not count against their limit.
func TestRedeliveriesNotCounted(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{PerSender: 3, Window: time.Minute})
	first := bot.Inbound{Channel: bot.SMS, ExternalID: "lim-redelivered", From: transcriptCitizen, Text: "halo",
		Received: e.clock.Now()}
	for i := 0; i < 5; i++ {
		if err := svc.Handle(context.Background(), first); err != nil {
			t.Fatal(err)
		}
	}
	waitSent(t, out)
	if got := e.sent.take(transcriptCitizen); len(got) != 1 {
		t.Fatalf("one message delivered 5 times: %d replies, want 1", len(got))
	}
	for i := 2; i <= 3; i++ {
		if got, _ := say(t, e, svc, out, transcriptCitizen, "1"); len(got) == 0 || strings.Contains(got[0], "tunggu") {
			t.Fatalf("message %d: replies %q, want an ordinary answer", i, got)
		}
	}
	if got, _ := say(t, e, svc, out, transcriptCitizen, "1"); len(got) != 1 || !strings.Contains(got[0], "Mohon tunggu") {
		t.Errorf("4th message: %q, want the pause", got)
	}
}

// TestGlobalLimit checks limits.global_per_second as a per-second budget
// (issue 13: it was per minute, and 300 messages got in within 284 ms at
// 5 a second): with 5, the 6th message within a second is refused (the
// provider retries it), also half a second later; a second after the
// first five, messages are taken again. Time is the service's clock.
func TestGlobalLimit(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{GlobalPerSec: 5})
	send := func(i int) error {
		_, err := say(t, e, svc, out, fmt.Sprintf("+62812999901%02d", i), "halo")
		if err != nil && bot.KindOf(err) != bot.Temporary {
			t.Fatal(err)
		}
		return err
	}
	for i := range 5 {
		if err := send(i); err != nil {
			t.Fatalf("message %d of 5 in a second: %v", i+1, err)
		}
	}
	if err := send(5); err == nil {
		t.Fatalf("6th message in the same second taken, want refused")
	}
	e.clock.Advance(500 * time.Millisecond)
	if err := send(6); err == nil {
		t.Errorf("a message half a second later taken: the window is not a sliding second")
	}
	e.clock.Advance(501 * time.Millisecond)
	for i := 7; i < 12; i++ {
		if err := send(i); err != nil {
			t.Errorf("message %d, a second later: %v", i, err)
		}
	}
}

// TestGlobalLimitBatch sends 8 messages at once, so that they come as one
// batch: 5 are taken, 3 refused.
func TestGlobalLimitBatch(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{GlobalPerSec: 5})
	var (
		wg   sync.WaitGroup
		busy atomic.Int32
	)
	for i := range 8 {
		wg.Go(func() {
			err := svc.Handle(context.Background(), bot.Inbound{Channel: bot.SMS, ExternalID: fmt.Sprintf("burst-%d", i),
				From: fmt.Sprintf("+62812999902%02d", i), Text: "halo", Received: e.clock.Now()})
			if bot.KindOf(err) == bot.Temporary {
				busy.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	waitSent(t, out)
	if got := busy.Load(); got != 3 {
		t.Errorf("%d of 8 refused with a budget of 5 a second, want 3", got)
	}
}

func TestLookupLimit(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := startLimited(t, e, bot.Limits{Lookups: 2, LookupWindow: time.Hour})
	for i := 0; i < 3; i++ {
		say(t, e, svc, out, transcriptCitizen, "cek tiket")
		got, _ := say(t, e, svc, out, transcriptCitizen, "KS-ABCDEF")
		want := "tidak ditemukan"
		if i == 2 {
			want = "Terlalu banyak permintaan"
		}
		if len(got) != 1 || !strings.Contains(got[0], want) {
			t.Errorf("lookup %d: %q, want %q", i+1, got, want)
		}
	}
}

// refusing fails every send to one number for good, as Twilio does for an
// invalid or unsubscribed number.
type refusing struct {
	*recorder
	to string
}

func (r refusing) Send(ctx context.Context, m bot.Outbound) (string, error) {
	if m.To == r.to {
		return "", bot.E("send", bot.Permanent, fmt.Errorf("refused"))
	}
	return r.recorder.Send(ctx, m)
}

func TestFailedNotificationTellsSupervisors(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, _ := e.start(t)
	sender := refusing{recorder: e.sent, to: genoveva}
	out := bot.NewDispatcher(bot.DispatcherConfig{Store: e.pg, Now: e.clock.Now, PollInterval: time.Hour,
		Senders: map[bot.Channel]bot.Sender{bot.SMS: sender, bot.WhatsApp: sender}})
	failing := bot.NewService(bot.Config{Store: e.pg, Conversations: e.rd, Book: svc.Book(), Officers: transcriptOfficers,
		Outbox: out, Now: e.clock.Now, Clocks: func() bot.Clocks { c := bot.DefaultClocks; c.DigestAt = -1; return c }()})
	out.SetGaveUp(failing.NotifyFailed)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out.Run(ctx) }()
	go func() { defer wg.Done(); failing.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for !failing.Running() {
		time.Sleep(time.Millisecond)
	}
	code := fileReport(t, e, failing, out, false)
	waitSent(t, out)
	var alerts []bot.Outbound
	for _, m := range e.sent.take("") {
		if m.Purpose == bot.PurposeAlert {
			alerts = append(alerts, m)
		}
	}
	// Outcomes are recorded a moment after the sends.
	var entries []bot.OutboxEntry
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var err error
		if entries, err = e.pg.Outbox(context.Background()); err != nil {
			t.Fatal(err)
		}
		settled := true
		for _, en := range entries {
			settled = settled && en.State != "pending"
		}
		if settled {
			break
		}
	}
	var failed, alerted int
	for _, en := range entries {
		if en.To == genoveva && en.State == "failed" {
			failed++
		}
		if en.Purpose == bot.PurposeAlert && en.To == kepala && strings.Contains(en.Body, code) {
			alerted++
			if en.Channel != bot.WhatsApp {
				t.Errorf("alert went by %s, the channel that failed; want the other one", en.Channel)
			}
		}
	}
	if failed != 1 || alerted != 1 {
		t.Errorf("failed notifications %d, alerts to the supervisor %d; want 1 and 1 (alerts seen late: %d)", failed, alerted, len(alerts))
	}
}
