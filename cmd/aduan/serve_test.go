package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/internal/config"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
)

const (
	testSID    = "AC00000000000000000000000000000001"
	testToken  = "secrettoken123"
	testPublic = "https://aduan.example.go.id"
	serviceNum = "+6281100000000"
	citizen    = "+6281299990001"
)

var testOfficers = []config.Officer{
	{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: config.RoleOfficer},
	{Name: "Tija Ndaka", Phone: "+6281337973213", Role: config.RoleOfficer},
	{Name: "Kepala Dinas", Phone: "+6281234567890", Role: config.RoleSupervisor},
}

// harness is a serve process's parts on the real PostgreSQL and Redis, with
// Twilio's API faked on loopback.
type harness struct {
	t      *testing.T
	cfg    *config.Config
	twilio *channeltest.FakeTwilio
	srv    *server
	web    *httptest.Server
	sids   atomic.Int64
}

// testConfig is a configuration for the test database and Redis DB, with
// every store reset.
func testConfig(t *testing.T, twilioURL string) *config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Postgres.URL = testenv.PostgresURL(t, "cmd_aduan")
	cfg.Redis.URL = testenv.RedisURL(4)
	cfg.HTTP.PublicURL = testPublic
	cfg.Twilio = config.Twilio{AccountSID: testSID, AuthToken: testToken, From: serviceNum, APIURL: twilioURL}
	cfg.Officers = testOfficers
	cfg.Outbox.PollInterval = config.Duration(50 * time.Millisecond)
	cfg.Security = testSecurity
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

// reset empties the test database and Redis DB.
func reset(t *testing.T, cfg *config.Config) {
	t.Helper()
	ctx := context.Background()
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Pool().Exec(ctx, "TRUNCATE tickets, ticket_events, inbound_seen, outbox, opt_outs, digests, conversations RESTART IDENTITY CASCADE"); err != nil {
		t.Fatal(err)
	}
	opt, err := goredis.ParseURL(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("redis: %v", err)
	}
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	fake := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := testConfig(t, fake.URL())
	reset(t, cfg)
	h := &harness{t: t, cfg: cfg, twilio: fake}
	h.srv = h.start(time.Now)
	h.web = httptest.NewServer(h.srv.handler)
	t.Cleanup(h.web.Close)
	return h
}

// start assembles and starts a server on the harness's stores.
func (h *harness) start(now func() time.Time) *server {
	h.t.Helper()
	srv, err := newServer(context.Background(), h.cfg, slog.New(slog.DiscardHandler), now)
	if err != nil {
		h.t.Fatalf("newServer: %v", err)
	}
	srv.app.start()
	h.t.Cleanup(func() {
		srv.app.stop()
		srv.close()
	})
	return srv
}

// post sends a signed inbound webhook and returns the HTTP status.
func (h *harness) post(sid, from, body string) int {
	h.t.Helper()
	req := channeltest.NewWebhookRequest(context.Background(), h.web.URL, testPublic, "/webhooks/twilio", testToken,
		channeltest.InboundForm(sid, from, serviceNum, body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusOK && !strings.Contains(string(b), "<Response>") {
		h.t.Errorf("200 body = %q, want empty TwiML", b)
	}
	return resp.StatusCode
}

func (h *harness) sid() string { return fmt.Sprintf("SM%032d", h.sids.Add(1)) }

// say sends a message as from and waits for the total number of outbound
// messages to reach want; it returns the messages to from, in order.
func (h *harness) say(from, text string, want int) []string {
	h.t.Helper()
	if code := h.post(h.sid(), from, text); code != http.StatusOK {
		h.t.Fatalf("post %q: status %d, want 200", text, code)
	}
	return h.wait(from, want)
}

func (h *harness) wait(to string, want int) []string {
	h.t.Helper()
	msgs, err := h.twilio.WaitFor(want, 10*time.Second)
	if err != nil {
		h.t.Fatalf("waiting for %d outbound messages: %v (have %d)", want, err, len(msgs))
	}
	var out []string
	for _, m := range msgs {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

func (h *harness) outboxDrained() {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		entries, err := h.srv.pg.Outbox(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		pending := 0
		for _, e := range entries {
			if e.State != "sent" {
				pending++
			}
		}
		if pending == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("outbox not drained")
}

// caseReport is a whole case report, message by message, with the number
// of messages the service sends back to the citizen for each.
var caseReport = []struct {
	text    string
	replies int
}{
	{"halo", 1}, {"1", 1}, {"3", 1}, {"2", 1}, {"1 3", 1}, {"3", 1}, {"Borong", 1}, {"Desa Nggalak", 1},
	{"1", 1}, {"Tetangga saya dipukul suaminya setiap malam", 1}, {"1", 1}, {"3", 1},
}

func TestCaseReportEndToEnd(t *testing.T) {
	h := newHarness(t)
	total := 0
	for _, m := range caseReport {
		total += m.replies
		h.say(citizen, m.text, total)
	}
	total += 1 + 2 // the code, and one SMS to each of the two officers
	got := h.say(citizen, "ya", total)
	last := got[len(got)-1]
	code := bot.CodePattern.FindString(strings.Fields(strings.SplitAfter(last, "kode ")[1])[0])
	if code == "" {
		code = findCode(last)
	}
	if code == "" {
		t.Fatalf("last reply %q has no ticket code", last)
	}

	ctx := context.Background()
	tk, err := h.srv.pg.Ticket(ctx, code)
	if err != nil {
		t.Fatalf("ticket %s: %v", code, err)
	}
	if tk.Kind != bot.KindCase || tk.Status != bot.StatusReceived || tk.Kecamatan != "borong" || tk.Urgent ||
		tk.Reporter != citizen || tk.Channel != bot.SMS {
		t.Errorf("ticket = %+v", tk)
	}
	wantAnswers := map[string]string{"reporter": "witness", "safe": "yes", "violence": "physical,sexual",
		"age_group": "adult", "sex": "female", "kecamatan": "borong", "place": "Desa Nggalak", "when": "today",
		"description": "Tetangga saya dipukul suaminya setiap malam", "help": "medical", "contact": "message",
		"consent": "yes"}
	for k, v := range wantAnswers {
		if tk.Answers[k] != v {
			t.Errorf("answer %s = %q, want %q", k, tk.Answers[k], v)
		}
	}
	evs, err := h.srv.pg.Events(ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 || evs[0].Type != "created" || evs[1].Type != "notified" {
		t.Errorf("events = %+v, want created then notified", evs)
	}
	for _, o := range testOfficers {
		msgs := h.wait(o.Phone, total)
		switch o.Role {
		case config.RoleOfficer:
			if len(msgs) != 1 || !strings.Contains(msgs[0], code) || !strings.Contains(msgs[0], "Borong") ||
				!strings.Contains(msgs[0], "aman") {
				t.Errorf("officer %s got %q, want one SMS with code, kecamatan and safety", o.Name, msgs)
			}
			if strings.Contains(msgs[0], "dipukul") {
				t.Errorf("officer notification %q carries the description", msgs[0])
			}
		default:
			if len(msgs) != 0 {
				t.Errorf("supervisor got %q, want nothing", msgs)
			}
		}
	}
	for _, m := range h.twilio.Messages() {
		if m.From != serviceNum {
			t.Errorf("message sent from %q, want the service number", m.From)
		}
	}
	h.outboxDrained()
}

func findCode(s string) string {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '.' || r == ',' }) {
		if bot.CodePattern.MatchString(f) {
			return f
		}
	}
	return ""
}

func TestForgedSignatureChangesNothing(t *testing.T) {
	h := newHarness(t)
	form := channeltest.InboundForm(h.sid(), citizen, serviceNum, "halo")
	req := channeltest.NewWebhookRequest(context.Background(), h.web.URL, testPublic, "/webhooks/twilio", "wrongtoken", form)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("forged: status %d, want 403", resp.StatusCode)
	}
	var seen int
	if err := h.srv.pg.Pool().QueryRow(context.Background(), "SELECT count(*) FROM inbound_seen").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	entries, _ := h.srv.pg.Outbox(context.Background())
	if seen != 0 || len(entries) != 0 {
		t.Errorf("after a forged webhook: %d messages seen, %d outbox entries; want none", seen, len(entries))
	}
}

func TestDuplicateMessageSidMakesOneTicket(t *testing.T) {
	h := newHarness(t)
	total := 0
	for _, m := range caseReport {
		total += m.replies
		h.say(citizen, m.text, total)
	}
	sid := h.sid()
	for i := 0; i < 3; i++ { // Twilio retries the same webhook
		if code := h.post(sid, citizen, "ya"); code != http.StatusOK {
			t.Fatalf("delivery %d: status %d", i, code)
		}
	}
	h.wait(citizen, total+3)
	h.outboxDrained()
	ts, err := h.srv.pg.Tickets(context.Background(), bot.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 {
		t.Fatalf("tickets = %d, want 1", len(ts))
	}
	if n := h.twilio.Count(); n != total+3 {
		t.Errorf("outbound = %d, want %d (one set of replies)", n, total+3)
	}
}

func TestOneSendersMessagesAreSerialized(t *testing.T) {
	h := newHarness(t)
	h.say(citizen, "halo", 1)
	// Two answers at the same moment: "1" picks the case report at the menu,
	// and then "1" answers who is reporting. Handled at once, both would see
	// the menu and one answer would be lost.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if code := h.post(h.sid(), citizen, "1"); code != http.StatusOK {
				t.Errorf("status %d", code)
			}
		}()
	}
	wg.Wait()
	got := h.wait(citizen, 3)
	if len(got) != 3 || !strings.HasPrefix(got[1], "Siapa yang melapor") || !strings.HasPrefix(got[2], "Apakah Anda dalam bahaya") {
		t.Fatalf("replies = %q, want the menu, then who, then safe: one after the other", got)
	}
}

func TestRepliesKeepArrivalOrder(t *testing.T) {
	h := newHarness(t)
	// Messages from one sender posted back to back without waiting for
	// replies: each reply must follow its message, in the order sent.
	h.say(citizen, "halo", 1)
	msgs := []string{"1", "1", "2", "1", "1", "Borong", "0", "1", "cerita", "1", "1"}
	for _, m := range msgs {
		if code := h.post(h.sid(), citizen, m); code != http.StatusOK {
			t.Fatalf("status %d", code)
		}
	}
	got := h.wait(citizen, 1+len(msgs))
	wantPrefix := []string{"Dinsos", "Siapa", "Apakah", "Jenis", "Korban", "Di desa", "Nama desa", "Kapan",
		"Ceritakan", "Bantuan", "Bolehkah", "Periksa"}
	for i, p := range wantPrefix {
		if i >= len(got) || !strings.HasPrefix(got[i], p) {
			t.Fatalf("replies = %q, want them in the order %q", got, wantPrefix)
		}
	}
}

func TestTwoReplicasShareOneConversation(t *testing.T) {
	h := newHarness(t)
	other := httptest.NewServer(h.start(time.Now).handler)
	t.Cleanup(other.Close)
	h.say(citizen, "halo", 1)
	webs := []string{h.web.URL, other.URL}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := channeltest.NewWebhookRequest(context.Background(), webs[i], testPublic, "/webhooks/twilio", testToken,
				channeltest.InboundForm(h.sid(), citizen, serviceNum, "1"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("replica %d: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	got := h.wait(citizen, 3)
	if len(got) != 3 || !strings.HasPrefix(got[2], "Apakah Anda dalam bahaya") {
		t.Fatalf("replies = %q, want both answers applied one after the other", got)
	}
}

func TestOutboxIsSentAfterCrash(t *testing.T) {
	fake := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := testConfig(t, fake.URL())
	reset(t, cfg)
	h := &harness{t: t, cfg: cfg, twilio: fake}

	// The first process stores every reply and the ticket, then dies before
	// its dispatcher sends anything: only the pipeline runs.
	srv, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	ctx, crash := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { srv.app.svc.Run(ctx); close(done) }()
	srv.app.waitRunning()
	h.web = httptest.NewServer(srv.handler)
	for _, m := range append(caseReport, struct {
		text    string
		replies int
	}{"ya", 3}) {
		if code := h.post(h.sid(), citizen, m.text); code != http.StatusOK {
			t.Fatalf("post %q: %d", m.text, code)
		}
	}
	crash()
	<-done
	h.web.Close()
	srv.close()
	if n := fake.Count(); n != 0 {
		t.Fatalf("%d messages went out before the crash, want 0", n)
	}

	// The restarted process finds the outbox once the dead one's claim on
	// it has run out (here: its clock is a minute on).
	later := func() time.Time { return time.Now().Add(time.Minute) }
	h.srv = h.start(later)
	want := 0
	for _, m := range caseReport {
		want += m.replies
	}
	want += 3
	msgs, err := fake.WaitFor(want, 10*time.Second)
	if err != nil {
		t.Fatalf("after restart: %v (%d sent)", err, len(msgs))
	}
	var code string
	for _, m := range msgs {
		if c := findCode(m.Body); c != "" && m.To == citizen {
			code = c
		}
	}
	if code == "" {
		t.Fatalf("no ticket code reached the citizen after restart")
	}
	h.outboxDrained()
	if n := fake.Count(); n != want {
		t.Errorf("sent %d, want %d", n, want)
	}
}

// TestLostRedisContinuesConversation flushes Redis in the middle of a
// report: the next answer meets the checkpoint kept in PostgreSQL, and
// the report goes on.
func TestLostRedisContinuesConversation(t *testing.T) {
	h := newHarness(t)
	h.say(citizen, "halo", 1)
	h.say(citizen, "1", 2)
	opt, _ := goredis.ParseURL(h.cfg.Redis.URL)
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	got := h.say(citizen, "2", 3)
	if !strings.HasPrefix(got[2], "Apakah korban dalam bahaya") {
		t.Errorf("after Redis lost the state: reply %q, want the next question of the report", got[2])
	}
}
