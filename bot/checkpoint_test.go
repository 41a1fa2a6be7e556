package bot_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
)

// losingRelease is Conversations whose Release, while lose is set, gives
// up the leases without saving anything and fails, as when the connection
// carrying the release drops after the batch was committed: Redis keeps
// the state of the step before.
type losingRelease struct {
	bot.Conversations
	lose atomic.Bool
}

func (c *losingRelease) Release(ctx context.Context, ls []bot.Lease) error {
	if !c.lose.Load() {
		return c.Conversations.Release(ctx, ls)
	}
	bare := make([]bot.Lease, len(ls))
	for i, l := range ls {
		bare[i] = bot.Lease{Key: l.Key, Token: l.Token, Held: l.Held}
	}
	if err := c.Conversations.Release(ctx, bare); err != nil {
		return err
	}
	return errors.New("connection reset by peer")
}

// noCheckpoints is a Store that keeps no checkpoints, to show what the
// submission's identity alone guarantees: a replayed confirmation files
// nothing new.
type noCheckpoints struct{ bot.Store }

type noCheckpointsTx struct{ bot.Tx }

func (s noCheckpoints) Begin(ctx context.Context) (bot.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	return noCheckpointsTx{tx}, err
}

func (t noCheckpointsTx) Resume(ctx context.Context, msgs []bot.MessageID, _ []bot.Checkpoint) ([]bool, error) {
	return t.Tx.Resume(ctx, msgs, nil)
}

func (t noCheckpointsTx) Apply(ctx context.Context, c *bot.Changes, until time.Time) error {
	cps := c.Checkpoints
	c.Checkpoints = nil
	err := t.Tx.Apply(ctx, c, until)
	c.Checkpoints = cps
	return err
}

func (t noCheckpointsTx) Ticket(ctx context.Context, code string) (bot.Ticket, error) {
	return t.Tx.(bot.LockingTx).Ticket(ctx, code)
}

// startWith runs a Service on store and convs, with the test's dispatcher.
func startWith(t *testing.T, e *pipelineEnv, store bot.Store, convs bot.Conversations) (*bot.Service, *bot.Dispatcher) {
	t.Helper()
	base, out := e.start(t)
	svc := bot.NewService(bot.Config{Store: store, Conversations: convs, Book: base.Book(), Officers: transcriptOfficers,
		Outbox: out, Now: e.clock.Now})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for !svc.Running() {
		time.Sleep(time.Millisecond)
	}
	return svc, out
}

// allTickets returns every ticket, newest first.
func allTickets(t *testing.T, e *pipelineEnv) []bot.Ticket {
	t.Helper()
	ts, err := e.pg.Tickets(context.Background(), bot.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestReleaseLostNextMessageMeetsCommittedState drops every save of the
// conversation state to Redis, from the answer "2" (the victim is safe)
// on: the next answer, "1 3", must be read as the kinds of violence, not
// as "1 = in danger" at the question before; no urgent ticket, no
// DARURAT; and "ya" twice files one ticket.
func TestReleaseLostNextMessageMeetsCommittedState(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	convs := &losingRelease{Conversations: e.rd}
	svc, out := startWith(t, e, e.pg, convs)
	const citizen = "+6281299990077"
	for _, text := range []string{"halo", "1", "2"} {
		if _, err := say(t, e, svc, out, citizen, text); err != nil {
			t.Fatal(err)
		}
	}
	convs.lose.Store(true)
	steps := []struct{ text, want string }{
		{"2", "Jenis kekerasan?"},
		{"1 3", "Korban adalah"},
		{"3", "Di desa/kelurahan mana"},
		{"Borong", "Nama desa"},
		{"Nggalak", "Kapan terjadi?"},
		{"1", "Ceritakan apa yang terjadi."},
		{"Kakak saya dipukul suaminya tadi malam.", "Bantuan apa"},
		{"1", "Bolehkah petugas menelepon"},
		{"1", "Periksa:"},
		{"ya", "Laporan Anda diterima dengan kode"},
		{"ya", "Pesan Anda diteruskan ke petugas"}, // after filing: to the ticket's officer, nothing filed
	}
	for _, st := range steps {
		got, err := say(t, e, svc, out, citizen, st.text)
		if err != nil {
			t.Fatalf("%q: %v", st.text, err)
		}
		if len(got) == 0 || !strings.Contains(got[0], st.want) { // the reply comes first
			t.Fatalf("%q answered %q, want %q", st.text, got, st.want)
		}
	}
	ts := allTickets(t, e)
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	if ts[0].Urgent || ts[0].Answers["safe"] != "yes" || ts[0].Answers["violence"] != "physical,sexual" {
		t.Errorf("ticket: urgent %v, safe %q, violence %q; want not urgent, yes, physical,sexual",
			ts[0].Urgent, ts[0].Answers["safe"], ts[0].Answers["violence"])
	}
	for _, m := range outbox(t, e) {
		if strings.Contains(m.Body, "DARURAT") {
			t.Errorf("sent %q to %s", m.Body, bot.Mask(m.To))
		}
	}
}

// TestReplayedConfirmationFilesOnce replays a confirmation on the state
// before it, as a lost checkpoint would (the store here keeps none, and
// Redis never gets the state after "ya"): the report's identity finds the
// ticket filed, and the person is given its code again.
func TestReplayedConfirmationFilesOnce(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	convs := &losingRelease{Conversations: e.rd}
	svc, out := startWith(t, e, noCheckpoints{e.pg}, convs)
	const citizen = "+6281299990078"
	for _, text := range []string{"halo", "2", "1", "Kantor Dinas Sosial Borong", "Saya sudah datang tiga kali.", "2",
		"Mohon segera dilayani.", "Yosef"} {
		if _, err := say(t, e, svc, out, citizen, text); err != nil {
			t.Fatal(err)
		}
	}
	convs.lose.Store(true)
	var codes []string
	for range 2 {
		got, err := say(t, e, svc, out, citizen, "ya")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || !strings.Contains(got[0], "diterima dengan kode") {
			t.Fatalf("ya answered %q, want the code", got)
		}
		codes = append(codes, codeRE.FindString(got[0]))
	}
	if codes[0] == "" || codes[0] != codes[1] {
		t.Errorf("codes %q, want the same code twice", codes)
	}
	if ts := allTickets(t, e); len(ts) != 1 {
		t.Errorf("%d tickets, want 1", len(ts))
	}
	var notified int
	for _, m := range outbox(t, e) {
		if m.Purpose == bot.PurposeNotify {
			notified++
		}
	}
	if notified == 0 || notified > 2 {
		t.Errorf("%d notifications, want those of one ticket", notified)
	}
}

func outbox(t *testing.T, e *pipelineEnv) []bot.OutboxEntry {
	t.Helper()
	ms, err := e.pg.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}
