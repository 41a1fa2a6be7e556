package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
	"aduan/channels/whatsapp"
	"aduan/internal/config"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
)

const (
	gateUser = "sms"
	gatePass = "GatePass123"
	gateKey  = "gate-signing-key"
)

// gateHarness is serve with sms.provider smsgate, without Twilio, in
// front of a fake gateway phone whose webhooks reach it.
type gateHarness struct {
	t   *testing.T
	cfg *config.Config
	gw  *channeltest.FakeGateway
	srv *server
	web *httptest.Server // serves cur's handler
	cur atomic.Pointer[server]
	wa  *fakeWhatsApp // the WhatsApp channel's sender, with whatsapp.enabled
}

// gateConfig is the configuration of the gateway tests: their own
// database and Redis DB, no Twilio.
func gateConfig(t *testing.T, gatewayURL string, adjust func(*config.Config)) *config.Config {
	t.Helper()
	cfg := testConfig(t, "http://127.0.0.1:1")
	cfg.Postgres.URL = testenv.PostgresURL(t, "cmd_smsgate")
	cfg.Redis.URL = testenv.RedisURL(14)
	cfg.Twilio = config.Twilio{APIURL: config.DefaultTwilioAPIURL}
	cfg.SMS.Provider = config.ProviderSMSGate
	cfg.SMSGate.URL, cfg.SMSGate.Username, cfg.SMSGate.Password, cfg.SMSGate.SigningKey = gatewayURL, gateUser, gatePass, gateKey
	cfg.SMSGate.Limit = 0 // the fake phone has no Android limit
	if adjust != nil {
		adjust(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newGateHarness(t *testing.T, opts channeltest.GatewayOptions, adjust func(*config.Config)) *gateHarness {
	t.Helper()
	opts.Username, opts.Password, opts.SigningKey = gateUser, gatePass, gateKey
	h := &gateHarness{t: t, gw: channeltest.NewFakeGateway(t, opts), wa: newFakeWhatsApp()}
	h.cfg = gateConfig(t, h.gw.URL(), adjust)
	reset(t, h.cfg)
	h.srv = h.start()
	h.cur.Store(h.srv)
	h.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.cur.Load().handler.ServeHTTP(w, r)
	}))
	t.Cleanup(h.web.Close)
	for _, ev := range smsgate.Events {
		h.gw.AddWebhook(webhookID(ev), h.web.URL+smsgate.Path, ev)
	}
	return h
}

// start assembles and starts a server on the harness's stores; with
// whatsapp.enabled its WhatsApp sender is the harness's fake.
func (h *gateHarness) start() *server {
	h.t.Helper()
	srv, err := newServer(context.Background(), h.cfg, slog.New(slog.DiscardHandler), time.Now)
	if err != nil {
		h.t.Fatalf("newServer: %v", err)
	}
	if h.cfg.WhatsApp.Enabled {
		f := srv.senders[bot.WhatsApp].(*whatsapp.Failover)
		f.WhatsApp, f.Up = h.wa, func() bool { return true }
		srv.gateFallback.s = h.wa
	}
	srv.app.start()
	h.t.Cleanup(func() {
		srv.app.stop()
		srv.close()
	})
	return srv
}

// say makes the phone receive text from `from` (as the phone shows the
// number), wants it stored, and waits until the phone has sent want SMS
// in all; it returns those to `to`.
func (h *gateHarness) say(from, text, to string, want int) []string {
	h.t.Helper()
	if _, code := h.gw.Receive(from, text); code != http.StatusOK {
		h.t.Fatalf("sms:received %q: status %d, want 200", text, code)
	}
	return h.wait(to, want)
}

func (h *gateHarness) wait(to string, want int) []string {
	h.t.Helper()
	msgs, err := h.gw.WaitFor(want, 15*time.Second)
	if err != nil {
		h.t.Fatalf("waiting for %d SMS: %v (have %d)", want, err, len(msgs))
	}
	var out []string
	for _, m := range msgs {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

func (h *gateHarness) last(to string) string {
	h.t.Helper()
	var last string
	for _, m := range h.gw.Messages() {
		if m.To == to {
			last = m.Body
		}
	}
	return last
}

// A citizen reports a case by SMS through the office's phone, writing its
// number as the phone shows it in three ways; an officer takes it, writes
// back and closes it, by SMS too.
func TestGatewayCaseReportAndOfficerWork(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, nil)
	h.gw.DeliveryReports(true)
	forms := phoneForms(citizen) // +62812..., 62812..., 0812...
	total := 0
	for i, m := range caseReport {
		total += m.replies
		h.say(forms[i%3], m.text, citizen, total)
	}
	total += 3 // the code, and the two officers' notifications
	got := h.say("081299990001", "ya", citizen, total)
	code := findCode(got[len(got)-1])
	if code == "" {
		t.Fatalf("last reply %q has no ticket code", got[len(got)-1])
	}
	tk, err := h.srv.pg.Ticket(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Reporter != citizen || tk.Channel != bot.SMS || tk.Kecamatan != "borong" {
		t.Errorf("ticket = %+v", tk)
	}
	genoveva := testOfficers[0].Phone
	if n := h.last(genoveva); !strings.Contains(n, code) || !strings.Contains(n, "Anda petugas utama") || strings.Contains(n, "dipukul") {
		t.Errorf("assignee's notification = %q", n)
	}

	total += 2
	h.say("081337785111", "terima "+strings.ToLower(code), genoveva, total)
	if r := h.last(genoveva); !strings.Contains(r, code+" Anda terima") {
		t.Errorf("TERIMA answer = %q", r)
	}
	total += 2
	h.say("6281337785111", "BALAS "+code+" Ibu, kami datang besok jam 9.", citizen, total)
	if r := h.last(citizen); !strings.Contains(r, "Ibu, kami datang besok jam 9.") {
		t.Errorf("relayed to the citizen = %q", r)
	}
	total += 2
	h.say("081299990001", "Baik, saya tunggu di rumah.", genoveva, total)
	if back := h.last(genoveva); back != "["+code+"] pelapor: Baik, saya tunggu di rumah." {
		t.Errorf("the answer back = %q", back)
	}
	total += 2
	h.say("+6281337785111", "SELESAI "+code+" Sudah didampingi ke Polres.", citizen, total)
	if p := h.last(citizen); !strings.Contains(p, "selesai ditangani") {
		t.Errorf("citizen's last message = %q", p)
	}
	if tk, _ := h.srv.pg.Ticket(context.Background(), code); tk.Status != bot.StatusDone || tk.Assignee != genoveva {
		t.Errorf("ticket after SELESAI = %+v", tk)
	}

	// Every SMS went out once, in the outbox as sent under the ID it was
	// sent with, its delivery report recorded.
	eventually(t, "the outbox settled", func() bool {
		entries, _ := h.srv.pg.Outbox(context.Background())
		for _, e := range entries {
			if e.State == "pending" {
				return false
			}
		}
		return true
	})
	sent := map[string]int{}
	for _, m := range h.gw.Messages() {
		sent[m.SID]++
	}
	entries, err := h.srv.pg.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != total {
		t.Errorf("outbox has %d messages, phone sent %d", len(entries), total)
	}
	for _, e := range entries {
		if e.State != "sent" || sent[e.ProviderID] != 1 || !smsgate.Ours(e.ProviderID) {
			t.Errorf("outbox %d: state %s, provider ID %q sent %d times", e.ID, e.State, e.ProviderID, sent[e.ProviderID])
		}
	}
	eventually(t, "every delivery report recorded", func() bool {
		entries, _ := h.srv.pg.Outbox(context.Background())
		for _, e := range entries {
			if e.DeliveryStatus != "delivered" {
				return false
			}
		}
		return true
	})
}

// The app retries a webhook until it hears 2xx, with the same event ID;
// two identical replies ("1", "1") are two events with two IDs, though
// the payload's content-derived messageId is the same.
func TestGatewayRedeliveryAndIdenticalReplies(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, nil)
	h.say(citizen, "halo", citizen, 1)
	id, code := h.gw.Receive(citizen, "1")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	h.wait(citizen, 2)
	for range 3 {
		if code := h.gw.Redeliver(id); code != 200 {
			t.Fatalf("redelivery: status %d, want 200", code)
		}
	}
	// The same text again is a new message: it answers the next question.
	h.say(citizen, "1", citizen, 3)
	h.srv.app.outbox.Wait(context.Background())
	var seen int
	if err := h.srv.pg.Pool().QueryRow(context.Background(), "SELECT count(*) FROM inbound_seen").Scan(&seen); err != nil {
		t.Fatal(err)
	}
	if seen != 3 {
		t.Errorf("%d messages seen, want 3 (halo, 1, 1)", seen)
	}
	if n := h.gw.Count(); n != 3 {
		t.Errorf("phone sent %d SMS, want one answer to each of 3 messages", n)
	}
}

// A webhook with a forged or stale signature gets 401 and changes nothing.
func TestGatewayForgedAndStaleSignatures(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, nil)
	ev := h.gw.NewReceived(h.web.URL+smsgate.Path, "081299990001", "halo")
	for _, tc := range []struct {
		label string
		key   string
		at    time.Time
	}{
		{"another key", "not-the-key", time.Now()},
		{"stale", gateKey, time.Now().Add(-10 * time.Minute)},
		{"from the future", gateKey, time.Now().Add(10 * time.Minute)},
	} {
		req := channeltest.NewGatewayRequest(context.Background(), ev.URL, tc.key, ev.Body, tc.at)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", tc.label, res.StatusCode)
		}
	}
	var seen int
	h.srv.pg.Pool().QueryRow(context.Background(), "SELECT count(*) FROM inbound_seen").Scan(&seen)
	entries, _ := h.srv.pg.Outbox(context.Background())
	if seen != 0 || len(entries) != 0 || !h.srv.gateway.phone.LastHeard().IsZero() {
		t.Errorf("after refused webhooks: %d seen, %d outbox entries, last heard %v; want nothing",
			seen, len(entries), h.srv.gateway.phone.LastHeard())
	}
	// The same event, signed as the app signs it now, is taken.
	if got := h.gw.Reorder(ev); got[0] != 200 {
		t.Fatalf("the genuine event: status %d", got[0])
	}
	if r := h.wait(citizen, 1); len(r) != 1 {
		t.Fatalf("replies %q", r)
	}
}

// When the service cannot store a message, the phone hears 503 and tries
// again later; nothing is lost.
func TestGatewayRetriesWhileTheServiceIsDown(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, nil)
	h.srv.app.stopSvc()
	<-h.srv.app.svcDone
	if _, code := h.gw.Receive(citizen, "halo"); code != http.StatusServiceUnavailable {
		t.Fatalf("service stopped: status %d, want 503", code)
	}
	h.srv = h.start() // serve restarted: the phone's next try reaches it
	h.cur.Store(h.srv)
	ev := h.gw.Events()
	if got := h.gw.Redeliver(ev[len(ev)-1].ID); got != 200 {
		t.Fatalf("redelivery: status %d, want 200", got)
	}
	h.wait(citizen, 1)
}

// The phone goes silent: /readyz and the metric say so, the supervisor is
// told once by WhatsApp (also by a second process), an officer's
// notification goes by WhatsApp meanwhile, and when the phone is heard
// again that is said once.
func TestGatewaySilentPhone(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, func(c *config.Config) {
		c.WhatsApp.Enabled = true
		c.SMSGate.SilentAfter = config.Duration(2 * time.Second)
		c.Outbox.Lease = config.Duration(2 * time.Second) // a held message is looked at again soon
	})
	other := h.start() // a second replica on the same stores
	kepala, genoveva := testOfficers[2].Phone, testOfficers[0].Phone
	h.say(citizen, "halo", citizen, 1)

	h.gw.Silent(true)
	// toKepala are the notices about the phone the supervisor got.
	toKepala := func() []string {
		_, bodies := h.wa.sentTo(kepala)
		var out []string
		for _, b := range bodies {
			if strings.HasPrefix(b, "aduan: HP SMS") {
				out = append(out, b)
			}
		}
		return out
	}
	eventually(t, "the supervisor told by WhatsApp", func() bool { return len(toKepala()) > 0 })
	if b := toKepala()[0]; !strings.Contains(b, "HP SMS kantor tidak menjawab sejak 2 detik") || !strings.Contains(b, "WhatsApp") {
		t.Errorf("notice = %q", b)
	}
	_, body := get(t, h.web.URL+"/readyz")
	if !strings.Contains(body, "sms gateway: silent") {
		t.Errorf("/readyz = %q, want the gateway silent", body)
	}
	_, metrics := get(t, h.web.URL+"/metrics")
	if !strings.Contains(metrics, "aduan_sms_gateway_up 0") {
		t.Errorf("metrics lack aduan_sms_gateway_up 0")
	}
	// A report filed meanwhile (on WhatsApp, the phone being silent): the
	// SMS officers' notifications go by WhatsApp.
	h.srv.app.svc.Handle(context.Background(), bot.Inbound{Channel: bot.WhatsApp, ExternalID: "wa-silent-1",
		From: waCitizen, Text: "tolong saya dipukul", Received: time.Now()})
	eventually(t, "the officer's notification by WhatsApp", func() bool {
		_, b := h.wa.sentTo(genoveva)
		return len(b) > 0 && strings.Contains(b[0], "DARURAT!")
	})
	// A citizen's message written meanwhile (as one that came by Twilio):
	// its answer waits in the outbox, untried, however long the outage.
	const waiting = "+6281299990077"
	if err := h.srv.app.svc.Handle(context.Background(), bot.Inbound{Channel: bot.SMS, ExternalID: "SM-held-1",
		From: waiting, Text: "halo", Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // both processes have seen the outage for a while; retries would have come
	if n := len(toKepala()); n != 1 {
		t.Errorf("supervisor told %d times, want once: %q", n, toKepala())
	}
	entries, _ := h.srv.pg.Outbox(context.Background())
	for _, e := range entries {
		if e.To == waiting && (e.State != "pending" || e.Attempts != 0) {
			t.Errorf("answer to the waiting citizen: state %s, %d attempts; want pending, untried", e.State, e.Attempts)
		}
	}

	// Back: the app pings every half second from now on.
	h.gw.Silent(false)
	if code := h.gw.Ping(); code != 200 {
		t.Fatalf("ping: status %d", code)
	}
	pinging, stopPinging := context.WithCancel(context.Background())
	defer stopPinging()
	go func() {
		for pinging.Err() == nil {
			h.gw.Ping()
			time.Sleep(500 * time.Millisecond)
		}
	}()
	eventually(t, "the supervisor told it is back", func() bool {
		return len(toKepala()) >= 2 && strings.Contains(toKepala()[len(toKepala())-1], "aktif lagi")
	})
	eventually(t, "both processes see it up", func() bool {
		return h.srv.gateway.phone.State() == smsgate.StateUp && other.gateway.phone.State() == smsgate.StateUp
	})
	time.Sleep(2 * time.Second)
	if n := len(toKepala()); n != 2 {
		t.Errorf("supervisor got %d messages, want 2 (down, back): %q", n, toKepala())
	}
	_, body = get(t, h.web.URL+"/readyz")
	if !strings.Contains(body, "sms gateway: up") {
		t.Errorf("/readyz = %q, want the gateway up", body)
	}
	if r := h.wait(waiting, 2); len(r) != 1 {
		t.Errorf("the waiting citizen got %q once the phone was back, want the greeting", r)
	}
}

// An SMS the phone fails to send to an officer reaches the officer by
// WhatsApp; one to a citizen is sent again by SMS, under a new ID.
func TestGatewayFailedSMS(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{}, func(c *config.Config) { c.WhatsApp.Enabled = true })
	h.gw.FailSMS("RESULT_ERROR_GENERIC_FAILURE")
	h.say(citizen, "halo", citizen, 1)
	msgs := h.gw.Messages()
	if len(msgs) != 1 || !strings.HasSuffix(msgs[0].SID, "-1") {
		t.Fatalf("phone sent %+v, want the greeting once, under its second ID", msgs)
	}
	h.gw.FailSMS("RESULT_ERROR_NO_SERVICE")
	h.srv.app.svc.Handle(context.Background(), bot.Inbound{Channel: bot.SMS, ExternalID: "x-1", From: testOfficers[0].Phone,
		Text: "TIKET", Received: time.Now()})
	eventually(t, "the officer's answer by WhatsApp", func() bool {
		_, b := h.wa.sentTo(testOfficers[0].Phone)
		return len(b) == 1
	})
}

// aduan smsgate register installs the webhooks idempotently and removes
// other registrations of aduan's URL; status shows them and the phone.
func TestSMSGateCommands(t *testing.T) {
	h := newGateHarness(t, channeltest.GatewayOptions{Cloud: true}, func(c *config.Config) {
		c.SMSGate.Auth = config.AuthJWT
		c.SMSGate.SilentAfter = config.Duration(10 * time.Second) // shares what it heard every second
	})
	for _, w := range h.gw.Webhooks() {
		h.gw.AddWebhook(w.ID, "https://old.example/hook", w.Event)
	}
	url := h.web.URL + smsgate.Path
	h.gw.AddWebhook("by-hand", url, smsgate.EventReceived)
	file := filepath.Join(t.TempDir(), "aduan.yaml")
	var officers []map[string]string
	for _, o := range testOfficers {
		officers = append(officers, map[string]string{"name": o.Name, "phone": o.Phone, "role": o.Role})
	}
	b, _ := json.Marshal(map[string]any{
		"officers": officers, "http": map[string]any{"public_url": h.web.URL},
		"postgres": map[string]any{"url": h.cfg.Postgres.URL}, "redis": map[string]any{"url": h.cfg.Redis.URL},
		"sms": map[string]any{"provider": "smsgate"}, "smsgate": map[string]any{"url": h.gw.URL(), "username": gateUser, "auth": "jwt"},
	})
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ADUAN_SMSGATE_PASSWORD": gatePass, "ADUAN_SMSGATE_SIGNING_KEY": gateKey}
	out, _, err := runCmd(t, "", env, "smsgate", "register", "--config", file)
	if err != nil {
		t.Fatalf("register: %v\n%s", err, out)
	}
	if !strings.Contains(out, "removed   sms:received") || strings.Count(out, "registered") != len(smsgate.Events) {
		t.Errorf("register said:\n%s", out)
	}
	hooks := h.gw.Webhooks()
	if len(hooks) != len(smsgate.Events) {
		t.Fatalf("webhooks after register: %+v", hooks)
	}
	for _, w := range hooks {
		if w.URL != url || w.ID != webhookID(w.Event) {
			t.Errorf("webhook %+v", w)
		}
	}
	out, _, err = runCmd(t, "", env, "smsgate", "register", "--config", file)
	if err != nil || strings.Count(out, "unchanged") != len(smsgate.Events) {
		t.Errorf("register again: %v\n%s", err, out)
	}

	h.gw.Ping()
	eventually(t, "the ping shared", func() bool {
		last, _ := (gatewayBeacon{h.srv.rd.Client()}).Last(context.Background())
		return !last.IsZero()
	})
	out, _, err = runCmd(t, "", env, "smsgate", "status", "--config", file)
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, want := range []string{"health:     pass", "battery 94%", "sms:delivered  " + url, "last heard: 20", "ago)"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	h.gw.SetHealth("fail")
	if out, _, err = runCmd(t, "", env, "smsgate", "status", "--config", file); err == nil || !strings.Contains(out, "health:     fail") {
		t.Errorf("status of a failing phone: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "", nil, "smsgate", "status", "--config", file); err == nil || !strings.Contains(err.Error(), "smsgate.password") {
		t.Errorf("without the password: %v", err)
	}
}

// A real `aduan serve` is killed (kill -9) after the phone accepted an
// answer and before it reported it sent; the phone sends it meanwhile and
// cannot report it. The next serve sends the outbox message again with
// the same ID: the phone, which has it, sends nothing more, and the outbox
// records it sent once.
func TestGatewayKill9BetweenAcceptAndReport(t *testing.T) {
	bin := aduanBinary(t)
	gw := channeltest.NewFakeGateway(t, channeltest.GatewayOptions{Username: gateUser, Password: gatePass, SigningKey: gateKey})
	_, cfg := processStores(t, "cmd_smsgate_kill", 15)
	file := writeServeConfig(t, filepath.Join(t.TempDir(), "aduan.yaml"), cfg.Postgres.URL, cfg.Redis.URL, "http://127.0.0.1:1",
		twoOfficers, "", "log:\n  level: info\n  format: json\noutbox:\n  lease: 2s\n  poll_interval: 50ms\n"+
			"sms:\n  provider: smsgate\nsmsgate:\n  url: \""+gw.URL()+"\"\n  username: "+gateUser+"\n  limit: 0\n")
	env := append(serveEnv(), "ADUAN_SMSGATE_PASSWORD="+gatePass, "ADUAN_SMSGATE_SIGNING_KEY="+gateKey)
	hook := func(p *process) {
		for _, ev := range smsgate.Events {
			gw.AddWebhook(webhookID(ev), "http://"+p.addr+smsgate.Path, ev)
		}
	}
	first := startServe(t, bin, file, env)
	hook(first)
	gw.Hold()
	if _, code := gw.Receive("081299990001", "halo"); code != http.StatusOK {
		t.Fatalf("sms:received: status %d", code)
	}
	eventually(t, "the answer handed to the phone", func() bool { return gw.Requests("POST /messages") >= 1 })
	first.cmd.Process.Kill()
	<-first.done
	gw.Release() // the phone sends it; its report finds no one
	if n := gw.Count(); n != 1 {
		t.Fatalf("phone sent %d SMS, want 1", n)
	}

	second := startServe(t, bin, file, env)
	hook(second)
	keys, err := testSecurityConfig().Keyring()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.OpenPostgres(context.Background(), cfg.Postgres.URL, sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var entries []bot.OutboxEntry
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("outbox %+v\nfirst:\n%s\nsecond:\n%s", entries, first.output(), second.output())
		}
	})
	eventually(t, "the outbox message recorded sent", func() bool {
		entries, _ = pg.Outbox(context.Background())
		return len(entries) == 1 && entries[0].State == "sent"
	})
	if n := gw.Count(); n != 1 || entries[0].ProviderID != gw.Messages()[0].SID {
		t.Errorf("phone sent %d SMS (want 1); outbox provider ID %q, phone's %q", n, entries[0].ProviderID, gw.Messages()[0].SID)
	}
	if n := gw.Requests("POST /messages"); n != 2 {
		t.Errorf("the message was posted %d times, want twice (before the kill, and again after it)", n)
	}
	if code := second.stop(); code != 0 {
		t.Errorf("exit code %d\n%s", code, second.output())
	}
}
