package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/whatsapp"
	"aduan/internal/config"
	"aduan/internal/testenv"
)

// waCitizen and waOther write to the service on WhatsApp.
const (
	waCitizen = "+6281299990002"
	waOther   = "+6281299990003"
)

// fakeWhatsApp stands in for the WhatsApp channel's sender (WhatsApp's
// servers are outside the machine): it records what it sends and wipes.
type fakeWhatsApp struct {
	fail  bool // every send fails, as when WhatsApp refuses
	wiped chan wipeCall

	mu    sync.Mutex
	n     int
	sent  []bot.Outbound
	ids   map[string][]string // the IDs given to the messages sent to each address
	wipes []wipeCall
}

type wipeCall struct {
	to  string
	ids []string
}

var (
	_ bot.Sender = (*fakeWhatsApp)(nil)
	_ bot.Wiper  = (*fakeWhatsApp)(nil)
)

func newFakeWhatsApp() *fakeWhatsApp {
	return &fakeWhatsApp{ids: map[string][]string{}, wiped: make(chan wipeCall, 16)}
}

func (f *fakeWhatsApp) Send(ctx context.Context, m bot.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	if f.fail {
		return "", bot.E("fake whatsapp", bot.Temporary, errors.New("not delivered"))
	}
	f.n++
	id := fmt.Sprintf("3EB0%016X", f.n)
	f.ids[m.To] = append(f.ids[m.To], id)
	return id, nil
}

func (f *fakeWhatsApp) Wipe(ctx context.Context, to string, ids []string) error {
	c := wipeCall{to: to, ids: slices.Clone(ids)}
	f.mu.Lock()
	f.wipes = append(f.wipes, c)
	f.mu.Unlock()
	f.wiped <- c
	return nil
}

// sentTo returns the IDs of the messages sent to addr, and the bodies.
func (f *fakeWhatsApp) sentTo(addr string) (ids, bodies []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.sent {
		if m.To == addr {
			bodies = append(bodies, m.Body)
		}
	}
	return slices.Clone(f.ids[addr]), bodies
}

func (f *fakeWhatsApp) wipeCalls() []wipeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.wipes)
}

// newWhatsAppHarness assembles a serve process with whatsapp.enabled on
// PostgreSQL and Redis. No device is paired, so the real channel stands
// unpaired; the WhatsApp sender inside the failover is replaced by fake,
// and with up the failover takes WhatsApp to be connected. prepare, when
// not nil, adjusts the server before it starts.
func newWhatsAppHarness(t *testing.T, officers []config.Officer, fake *fakeWhatsApp, up bool, prepare func(*server)) *harness {
	t.Helper()
	tw := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := testConfig(t, tw.URL())
	// A database and Redis DB of their own: the WhatsApp channel's tables
	// and connection lease stay apart from the other serve tests'.
	cfg.Postgres.URL = testenv.PostgresURL(t, "cmd_whatsapp")
	cfg.Redis.URL = testenv.RedisURL(13)
	cfg.WhatsApp.Enabled = true
	if officers != nil {
		cfg.Officers = officers
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	reset(t, cfg)
	srv, err := newServer(context.Background(), cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	f, ok := srv.senders[bot.WhatsApp].(*whatsapp.Failover)
	if !ok {
		srv.close()
		t.Fatalf("WhatsApp sender = %T, want *whatsapp.Failover", srv.senders[bot.WhatsApp])
	}
	if f.SMS != srv.senders[bot.SMS] || f.IsStaff == nil || f.Up == nil {
		t.Errorf("failover = %+v, want SMS as the fallback, IsStaff and Up set", f)
	}
	f.WhatsApp = fake
	if up {
		f.Up = func() bool { return true }
	}
	if prepare != nil {
		prepare(srv)
	}
	srv.app.start()
	t.Cleanup(func() {
		srv.app.stop()
		srv.close()
	})
	h := &harness{t: t, cfg: cfg, twilio: tw, srv: srv}
	h.web = httptest.NewServer(srv.handler)
	t.Cleanup(h.web.Close)
	return h
}

// whatsapp hands the pipeline a WhatsApp message, as the channel does, and
// returns once it is stored.
func (h *harness) whatsapp(from, text string) {
	h.t.Helper()
	m := bot.Inbound{Channel: bot.WhatsApp, ExternalID: fmt.Sprintf("3EB0%020d", h.sids.Add(1)), From: from,
		To: serviceNum, Text: text, Received: time.Now()}
	if err := h.srv.app.svc.Handle(context.Background(), m); err != nil {
		h.t.Fatalf("handle %q: %v", text, err)
	}
}

func TestWhatsAppHapusWipesChat(t *testing.T) {
	tests := []struct {
		label string
		// wipe makes the waiting wipe run: its delay passes, or the
		// process stops.
		wipe func(t *testing.T, h *harness, fire chan time.Time)
	}{
		{"after the delay", func(t *testing.T, h *harness, fire chan time.Time) { close(fire) }},
		{"at shutdown", func(t *testing.T, h *harness, fire chan time.Time) {
			if err := h.srv.app.wipes.stop(context.Background()); err != nil {
				t.Fatalf("stop wipes: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			fake := newFakeWhatsApp()
			fire := make(chan time.Time)
			h := newWhatsAppHarness(t, nil, fake, true, func(s *server) {
				s.app.wipes.after = func(time.Duration) <-chan time.Time { return fire }
			})
			h.whatsapp(waOther, "halo")
			h.whatsapp(waCitizen, "halo")
			h.whatsapp(waCitizen, "1")
			h.whatsapp(waCitizen, "HAPUS")
			h.outboxDrained()
			if calls := fake.wipeCalls(); len(calls) != 0 {
				t.Fatalf("wiped %v before the delay passed, want nothing yet", calls)
			}
			tt.wipe(t, h, fire)
			var got wipeCall
			select {
			case got = <-fake.wiped:
			case <-time.After(10 * time.Second):
				t.Fatal("no wipe within 10s of HAPUS's delay")
			}
			want, bodies := fake.sentTo(waCitizen)
			if len(bodies) != 3 || !strings.Contains(bodies[0], "HAPUS=hapus chat") ||
				!strings.HasPrefix(bodies[2], "Pesan-pesan kami sedang dihapus") {
				t.Fatalf("sent to the citizen %q, want the greeting (promising HAPUS), a question and the end (deleting)", bodies)
			}
			if got.to != waCitizen || !slices.Equal(got.ids, want) {
				t.Errorf("Wipe(%s, %q), want Wipe(%s, %q): every message sent to that chat", bot.Mask(got.to), got.ids,
					bot.Mask(waCitizen), want)
			}
			if calls := fake.wipeCalls(); len(calls) != 1 {
				t.Errorf("wipes = %d, want 1", len(calls))
			}
		})
	}
}

func TestWhatsAppHapusBySMSWipesNothing(t *testing.T) {
	fake := newFakeWhatsApp()
	h := newWhatsAppHarness(t, nil, fake, true, nil)
	h.say(citizen, "halo", 1)
	h.say(citizen, "HAPUS", 2)
	if err := h.srv.app.wipes.stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if calls := fake.wipeCalls(); len(calls) != 0 {
		t.Errorf("wipes after HAPUS by SMS = %v, want none: SMS cannot be recalled", calls)
	}
}

func TestWhatsAppOfficerFallsBackToSMS(t *testing.T) {
	officers := slices.Clone(testOfficers)
	officers[0].Channel = config.ChannelWhatsApp
	waOfficer := officers[0].Phone
	tests := []struct {
		label     string
		fail, up  bool
		wantTried bool // WhatsApp was tried for the officer first
	}{
		{"send fails", true, true, true},
		{"channel down", false, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			fake := newFakeWhatsApp()
			fake.fail = tt.fail
			h := newWhatsAppHarness(t, officers, fake, tt.up, nil)
			// A cry for help opens an urgent ticket at once: two replies to
			// the citizen, and a notification to each of the three staff.
			h.say(citizen, "tolong", 5)
			h.outboxDrained()
			if got := h.wait(waOfficer, 5); len(got) != 1 || !strings.Contains(got[0], "Tiket baru") {
				t.Errorf("SMS to the WhatsApp officer = %q, want the notification", got)
			}
			_, tried := fake.sentTo(waOfficer)
			if got := len(tried) > 0; got != tt.wantTried {
				t.Errorf("WhatsApp tried for the officer = %v, want %v", got, tt.wantTried)
			}
			entries, err := h.srv.pg.Outbox(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range entries {
				if e.To != waOfficer {
					continue
				}
				found = true
				if e.Channel != bot.WhatsApp || e.State != "sent" || !strings.HasPrefix(e.ProviderID, "SM") {
					t.Errorf("outbox to the officer = channel %s, state %s, provider ID %q; want whatsapp, sent, an SMS ID",
						e.Channel, e.State, e.ProviderID)
				}
			}
			if !found {
				t.Error("no outbox message to the WhatsApp officer")
			}
		})
	}
}

func TestWhatsAppDownTellsSupervisors(t *testing.T) {
	h := newWhatsAppHarness(t, nil, newFakeWhatsApp(), false, nil)
	h.srv.whatsappDown("logged out (401): the device was unlinked; pair again with aduan whatsapp pair")
	msgs, err := h.twilio.WaitFor(1, 10*time.Second)
	if err != nil {
		t.Fatalf("waiting for the supervisors' SMS: %v", err)
	}
	h.outboxDrained()
	msgs = h.twilio.Messages()
	if len(msgs) != 1 || msgs[0].To != "+6281234567890" {
		t.Fatalf("sent %d messages (%+v), want one to the supervisor", len(msgs), msgs)
	}
	if b := msgs[0].Body; !strings.Contains(b, "WhatsApp") || !strings.Contains(b, "SMS tetap berjalan") {
		t.Errorf("supervisor SMS = %q, want it to say WhatsApp is down and SMS works", b)
	}
}

func TestWhatsAppDownToldOnceAcrossProcesses(t *testing.T) {
	h := newWhatsAppHarness(t, nil, newFakeWhatsApp(), false, nil)
	// A second process on the same PostgreSQL and Redis: a restart, or a
	// replica that took the WhatsApp connection over.
	other, err := newServer(context.Background(), h.cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	other.app.start()
	t.Cleanup(func() {
		other.app.stop()
		other.close()
	})
	const reason = "temporary ban: sent to too many people"
	// notices counts the SMS to the supervisor in the outbox: whatsappDown
	// has committed its own before it returns.
	notices := func() int {
		t.Helper()
		entries, err := h.srv.pg.Outbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range entries {
			if e.To == "+6281234567890" {
				n++
			}
		}
		return n
	}
	// markTTL is what is left of the outage mark in Redis.
	markTTL := func() time.Duration {
		t.Helper()
		ttl, err := h.srv.rd.Client().TTL(context.Background(), string(whatsappOutage)).Result()
		if err != nil {
			t.Fatal(err)
		}
		return ttl
	}
	// A told outage is marked for days; one being told, for minutes, so
	// that a process dying before it writes the SMS silences no outage
	// for long.
	told := func(when string) {
		t.Helper()
		if ttl := markTTL(); ttl <= downClaimTTL || ttl > downNoticeTTL {
			t.Errorf("mark expires in %v %s, want about %v", ttl, when, downNoticeTTL)
		}
	}

	// Each process's channel tells of the same outage once.
	h.srv.whatsappDown(reason)
	told("after the notice")
	other.whatsappDown(reason)
	told("after the second process saw the outage")
	if got := notices(); got != 1 {
		t.Errorf("supervisor notices after two processes saw one outage = %d, want 1", got)
	}
	// Connected again (in either process): the next outage is told again,
	// once.
	other.whatsappUp()
	if ttl := markTTL(); ttl != -2 { // Redis: no such key
		t.Errorf("mark expires in %v once connected, want no mark", ttl)
	}
	if !other.claimDownNotice(context.Background(), whatsappOutage, "banned") {
		t.Fatal("claimDownNotice with no mark = false, want true")
	}
	if ttl := markTTL(); ttl <= 0 || ttl > downClaimTTL {
		t.Errorf("mark expires in %v after the claim, before the notice, want at most %v", ttl, downClaimTTL)
	}
	other.unclaimDownNotice(context.Background(), whatsappOutage)
	other.whatsappDown(reason)
	told("after the second outage's notice")
	h.srv.whatsappDown(reason)
	if got := notices(); got != 2 {
		t.Errorf("supervisor notices after a second outage = %d, want 2", got)
	}
	// Redis unreachable: the outage is told anyway, though already told.
	other.rd.Close()
	other.whatsappDown(reason)
	if got := notices(); got != 3 {
		t.Errorf("supervisor notices with Redis unreachable = %d, want 3", got)
	}
	if _, err := h.twilio.WaitFor(3, 10*time.Second); err != nil {
		t.Fatalf("waiting for the supervisor's SMS: %v", err)
	}
	h.outboxDrained()
	if got := h.twilio.Count(); got != 3 {
		t.Errorf("SMS sent = %d, want 3", got)
	}
}

func TestWhatsAppDownText(t *testing.T) {
	tests := []struct {
		state, reason, want string
	}{
		{"logged_out", "logged out (401): the device was unlinked", "aduan whatsapp pair"},
		{"banned", "temporary ban", "diblokir"},
		{"replaced", "stream replaced", "program lain"},
		{"down", "WhatsApp refuses this client version: update aduan (whatsmeow)", "perbarui aduan"},
		{"down", "unknown refusal", "lihat log"},
	}
	for _, tt := range tests {
		t.Run(tt.state+" "+tt.want, func(t *testing.T) {
			got := whatsappDownText(tt.state, tt.reason)
			if !strings.Contains(got, tt.want) || !strings.Contains(got, "SMS tetap berjalan") {
				t.Errorf("text = %q, want it to say %q and that SMS works", got, tt.want)
			}
			if n := len(got); n > 160 {
				t.Errorf("text is %d characters, want one SMS (160)", n)
			}
		})
	}
}

func TestWhatsAppStateInReadyzAndMetrics(t *testing.T) {
	h := newWhatsAppHarness(t, nil, newFakeWhatsApp(), false, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, body := get(t, h.web.URL+"/readyz")
		if body == "postgres: ok\nredis: ok\nwhatsapp: unpaired\n" {
			if code != 200 {
				t.Errorf("GET /readyz = %d, want 200: WhatsApp unpaired does not stop SMS", code)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /readyz = %d %q, want 200 and whatsapp: unpaired", code, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, body := get(t, h.web.URL+"/metrics")
	for _, want := range []string{`aduan_whatsapp_state{state="unpaired"} 1`, `aduan_whatsapp_state{state="disabled"} 0`} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
