package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
)

var reports atomic.Int64

// noDigest keeps the daily digest out of tests about other clocks.
func noDigest(c *bot.Config) {
	c.Clocks = bot.DefaultClocks
	c.Clocks.DigestAt = -1
}

const (
	genoveva = "+6281337785111" // officer: the first assignee
	tija     = "+6281337973213" // officer: the backup
	kepala   = "+6281234567890" // supervisor
)

// fileReport files a complete case report from the citizen and returns its
// code. danger picks "in danger now". It begins with MENU, which starts
// over also after an earlier report (where "halo" would go to that
// report's officer).
func fileReport(t *testing.T, e *pipelineEnv, svc *bot.Service, out *bot.Dispatcher, danger bool) string {
	t.Helper()
	safe := "2"
	if danger {
		safe = "1"
	}
	var code string
	for i, text := range []string{"menu", "1", "1", safe, "1", "3", "Borong", "0", "1", "Suami memukul saya.", "1", "3", "1"} {
		m := bot.Inbound{Channel: bot.SMS, ExternalID: fmt.Sprintf("%s-%d-%d", t.Name(), reports.Add(1), i), From: transcriptCitizen,
			To: "+6281100000000", Text: text, Received: e.clock.Now()}
		if err := svc.Handle(context.Background(), m); err != nil {
			t.Fatalf("handle %q: %v", text, err)
		}
	}
	waitSent(t, out)
	for _, m := range e.sent.take("") {
		if m.TicketCode != "" {
			code = m.TicketCode
		}
	}
	if code == "" {
		t.Fatal("no ticket filed")
	}
	return code
}

// officerSays sends an officer's command and drops what the service sends
// back: the clocks are what the test watches.
func officerSays(t *testing.T, e *pipelineEnv, svc *bot.Service, out *bot.Dispatcher, from, text string) {
	t.Helper()
	m := bot.Inbound{Channel: bot.SMS, ExternalID: fmt.Sprintf("cmd-%d", reports.Add(1)), From: from, Text: text,
		Received: e.clock.Now()}
	if err := svc.Handle(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	waitSent(t, out)
	sent(e)
}

func waitSent(t *testing.T, outs ...*bot.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, o := range outs {
		if err := o.Wait(ctx); err != nil {
			t.Fatalf("waiting for sends: %v", err)
		}
	}
}

// at moves the clock to start+d, runs the clocks and returns what was sent,
// as "recipient: body" lines, sorted.
func at(t *testing.T, e *pipelineEnv, start time.Time, d time.Duration, svc *bot.Service, out *bot.Dispatcher) []string {
	t.Helper()
	e.clock.Set(start.Add(d))
	if _, err := svc.RunClocks(context.Background()); err != nil {
		t.Fatalf("run clocks at +%v: %v", d, err)
	}
	waitSent(t, out)
	return sent(e)
}

func sent(e *pipelineEnv) []string {
	var out []string
	for _, m := range e.sent.take("") {
		out = append(out, m.To+": "+codeRE.ReplaceAllString(m.Body, "${1}-XXXXXX"))
	}
	sort.Strings(out)
	return out
}

func events(t *testing.T, e *pipelineEnv, code string) []string {
	t.Helper()
	evs, err := e.pg.Events(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range evs {
		if ev.Actor == "system" && ev.Type != "notified" {
			out = append(out, ev.Type+" "+ev.Detail)
		}
	}
	return out
}

func want(t *testing.T, when string, got []string, wantPrefixes ...string) {
	t.Helper()
	if len(got) != len(wantPrefixes) {
		t.Fatalf("%s: sent %d messages %q, want %d", when, len(got), got, len(wantPrefixes))
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(got[i], p) {
			t.Errorf("%s: message %d = %q, want it to start %q", when, i, got[i], p)
		}
	}
}

func TestClockFirstResponse(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, false)

	want(t, "+19m", at(t, e, start, 19*time.Minute, svc, out))
	want(t, "+20m", at(t, e, start, 20*time.Minute, svc, out), genoveva+": Pengingat: KS-XXXXXX belum diterima; batas pukul 09:30")
	want(t, "+21m again", at(t, e, start, 21*time.Minute, svc, out))
	want(t, "+30m", at(t, e, start, 30*time.Minute, svc, out), tija+": KS-XXXXXX belum diterima setelah 30 menit")
	want(t, "+59m", at(t, e, start, 59*time.Minute, svc, out))
	want(t, "+60m", at(t, e, start, 60*time.Minute, svc, out), kepala+": KS-XXXXXX belum diterima petugas setelah 1 jam")
	want(t, "+2h", at(t, e, start, 2*time.Hour, svc, out))

	if got, w := events(t, e, code), []string{"reminder first_response",
		"escalated first_response: backups Tija Ndaka", "late first_response",
		"escalated first_response: supervisors"}; strings.Join(got, "|") != strings.Join(w, "|") {
		t.Errorf("events = %q, want %q", got, w)
	}
	tk, err := e.pg.Ticket(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if _, late := tk.Marks["late_first"]; !late {
		t.Errorf("marks = %v, want late_first", tk.Marks)
	}
}

func TestAcceptStopsEscalation(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, false)
	at(t, e, start, 20*time.Minute, svc, out)
	want(t, "+30m", at(t, e, start, 30*time.Minute, svc, out), tija+": KS-XXXXXX belum diterima")
	// The backup answers the escalation.
	officerSays(t, e, svc, out, tija, "TERIMA "+code)
	want(t, "+60m after TERIMA", at(t, e, start, 60*time.Minute, svc, out))
	want(t, "+3d", at(t, e, start, 72*time.Hour, svc, out))
}

func TestClockUrgentResend(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, true)
	want(t, "+9m", at(t, e, start, 9*time.Minute, svc, out))
	all := []string{kepala + ": DARURAT! KS-XXXXXX belum diterima", genoveva + ": DARURAT!", tija + ": DARURAT!"}
	want(t, "+10m", at(t, e, start, 10*time.Minute, svc, out), all...)
	want(t, "+15m", at(t, e, start, 15*time.Minute, svc, out))
	want(t, "+20m", at(t, e, start, 20*time.Minute, svc, out), kepala+": DARURAT!", kepala+": KS-XXXXXX belum diterima petugas",
		genoveva+": DARURAT!", tija+": DARURAT!")
	officerSays(t, e, svc, out, genoveva, "terima "+code)
	want(t, "+30m after TERIMA", at(t, e, start, 30*time.Minute, svc, out))
}

func TestClockDone(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, false)
	officerSays(t, e, svc, out, genoveva, "TERIMA "+code)
	want(t, "+5d", at(t, e, start, 5*24*time.Hour, svc, out))
	want(t, "+6d", at(t, e, start, 6*24*time.Hour, svc, out), genoveva+": Pengingat: KS-XXXXXX harus selesai paling lambat 04/12 09:00")
	want(t, "+7d", at(t, e, start, 7*24*time.Hour+time.Minute, svc, out), kepala+": KS-XXXXXX melewati batas 7 hari")
	want(t, "+8d", at(t, e, start, 8*24*time.Hour, svc, out))
	if got := events(t, e, code); strings.Join(got, "|") != "reminder done|late done|escalated done: supervisors" {
		t.Errorf("events = %q", got)
	}
}

func TestClosedTicketHasNoClock(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, false)
	officerSays(t, e, svc, out, genoveva, "SELESAI "+code+" dirujuk ke puskesmas")
	want(t, "+8d", at(t, e, start, 8*24*time.Hour, svc, out))
}

func TestClocksTwoReplicasRace(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	other, otherOut := e.start(t, noDigest)
	start := e.clock.Now()
	for i := 0; i < 3; i++ {
		fileReport(t, e, svc, out, false)
	}
	e.clock.Set(start.Add(31 * time.Minute))
	var wg sync.WaitGroup
	for _, s := range []*bot.Service{svc, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.RunClocks(context.Background()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitSent(t, out, otherOut)
	got := sent(e)
	// each of three tickets: a reminder to its assignee and an escalation to its backup, once
	if len(got) != 6 {
		t.Fatalf("sent %d messages, want 6 (each action once):\n%s", len(got), strings.Join(got, "\n"))
	}
}

// failingStore makes the first transaction's Apply fail, as a replica
// dying in the middle of a clock run would leave it: nothing committed.
type failingStore struct {
	bot.Store
	once sync.Once
}

type failingTx struct {
	bot.Tx
	fail bool
}

func (s *failingStore) Begin(ctx context.Context) (bot.Tx, error) {
	tx, err := s.Store.Begin(ctx)
	if err != nil {
		return nil, err
	}
	ft := &failingTx{Tx: tx}
	s.once.Do(func() { ft.fail = true })
	return ft, nil
}

func (t *failingTx) Apply(ctx context.Context, c *bot.Changes, until time.Time) error {
	if t.fail {
		return errors.New("the process died")
	}
	return t.Tx.Apply(ctx, c, until)
}

func (t *failingTx) DueTickets(ctx context.Context, now time.Time, limit int) ([]bot.Ticket, error) {
	return t.Tx.(bot.ClockTx).DueTickets(ctx, now, limit)
}

func (t *failingTx) ClaimDigest(ctx context.Context, day string) (bool, error) {
	return t.Tx.(bot.ClockTx).ClaimDigest(ctx, day)
}

func TestClocksRestartMidRun(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, noDigest)
	start := e.clock.Now()
	code := fileReport(t, e, svc, out, false)
	e.clock.Set(start.Add(20 * time.Minute))
	dying := bot.NewService(bot.Config{Store: &failingStore{Store: e.pg}, Conversations: e.rd, Book: svc.Book(),
		Officers: transcriptOfficers, Outbox: out, Now: e.clock.Now})
	if _, err := dying.RunClocks(context.Background()); err == nil {
		t.Fatal("the dying run reported no error")
	}
	waitSent(t, out)
	want(t, "after the dying run", sent(e))
	want(t, "after restart", at(t, e, start, 20*time.Minute, svc, out), genoveva+": Pengingat")
	want(t, "once more", at(t, e, start, 21*time.Minute, svc, out))
	if got := events(t, e, code); len(got) != 1 {
		t.Errorf("events = %q, want one reminder", got)
	}
}

func TestDailyDigest(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t)
	other, otherOut := e.start(t)
	fileReport(t, e, svc, out, false)
	digests := func(when time.Time) []string {
		t.Helper()
		e.clock.Set(when)
		var wg sync.WaitGroup
		for _, s := range []*bot.Service{svc, other} { // two replicas at once
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := s.RunClocks(context.Background()); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		waitSent(t, out, otherOut)
		var ds []string
		for _, m := range sent(e) {
			if strings.Contains(m, "Ringkasan") {
				ds = append(ds, m)
			}
		}
		return ds
	}
	// transcriptStart is 09:00 WITA on the 27th: that day's digest is due.
	want(t, "09:00 on the 27th", digests(transcriptStart), kepala+": Ringkasan 27/11: baru 1, terbuka 1")
	want(t, "10:00 on the 27th", digests(transcriptStart.Add(time.Hour)))
	want(t, "06:59 on the 28th", digests(time.Date(2026, 11, 28, 6, 59, 0, 0, bot.WITA)))
	want(t, "07:00 on the 28th", digests(time.Date(2026, 11, 28, 7, 0, 0, 0, bot.WITA)), kepala+": Ringkasan 28/11")
}
