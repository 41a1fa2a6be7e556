package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/internal/config"
	"aduan/internal/faultproxy"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

// TestStateSurvivesReleaseFaults is issue 13's first failure, reproduced
// through a real `aduan serve` process with signed Twilio webhooks, its
// Redis behind a proxy that fails the writes of conversation state:
//
//   - the connection carrying the release of the answer "2" (the victim
//     is safe) is dropped, so that Redis keeps the question before; the
//     next answer, "1 3", must be read as the kinds of violence: no urgent
//     ticket, no DARURAT;
//   - the release of the next answer is held at the proxy, and the
//     process killed (-9) between its commit and that release; restarted,
//     it gets Twilio's retry of that webhook (a duplicate, answered 200)
//     and the next answer meets the committed step;
//   - the release of the confirmation "ya" is dropped too, and "ya" sent
//     again: one ticket.
func TestStateSurvivesReleaseFaults(t *testing.T) {
	bin := aduanBinary(t)
	fake := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := config.Default()
	cfg.Postgres.URL = testenv.PostgresURL(t, "cmd_fault")
	cfg.Redis.URL = testenv.RedisURL(13)
	reset(t, cfg)
	proxy := faultproxy.Start(t, strings.TrimPrefix(strings.Split(cfg.Redis.URL, "/")[2], "redis://"))
	file := filepath.Join(t.TempDir(), "aduan.yaml")
	yaml := fmt.Sprintf(`http:
  listen: "127.0.0.1:0"
  public_url: %q
postgres:
  url: %q
redis:
  url: "redis://%s/13"
twilio:
  from: %q
  api_url: %q
officers:
  - {name: Genoveva Lindung, phone: "+6281337785111", role: officer}
  - {name: Tija Ndaka, phone: "+6281337973213", role: officer}
  - {name: Kepala Dinas, phone: "+6281234567890", role: supervisor}
conversation:
  lease_ttl: 1s
log:
  level: info
  format: json
outbox:
  lease: 2s
  poll_interval: 50ms
`, testPublic, cfg.Postgres.URL, proxy.Addr(), serviceNum, fake.URL())
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), runMainEnv+"=1", "ADUAN_TWILIO_ACCOUNT_SID="+testSID, "ADUAN_TWILIO_AUTH_TOKEN="+testToken,
		"ADUAN_ENCRYPTION_KEY="+testSecurity.EncryptionKey, "ADUAN_LOOKUP_KEY="+testSecurity.LookupKey)
	client := &http.Client{Transport: channeltest.LoopbackOnly(&http.Transport{}), Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()

	const from = "+6281299990055"
	serve := startServe(t, bin, file, env)
	seq := 0
	// post delivers the webhook with the SID, as Twilio does, and returns
	// its status (0: no answer).
	post := func(sid, text string) int {
		req := channeltest.NewWebhookRequest(context.Background(), "http://"+serve.addr, testPublic, "/webhooks/twilio",
			testToken, channeltest.InboundForm(sid, from, serviceNum, text))
		resp, err := client.Do(req)
		if err != nil {
			return 0
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// expect sends text and waits for a reply to the citizen that says
	// want. (A reply sent just before a kill -9 and not yet recorded is
	// sent again after the restart, as docs/OPERATIONS.md says: it may
	// come in between.)
	expect := func(text, want string) {
		t.Helper()
		before := len(repliesTo(fake, from))
		seq++
		sid := fmt.Sprintf("SM%032d", seq)
		for try := 0; ; try++ { // Twilio retries what was not answered 200
			if code := post(sid, text); code == http.StatusOK {
				break
			} else if try == 20 {
				t.Fatalf("%q: status %d after %d tries\n%s", text, code, try, serve.output())
			}
			time.Sleep(500 * time.Millisecond)
		}
		for deadline := time.Now().Add(20 * time.Second); ; {
			got := repliesTo(fake, from)[before:]
			for _, r := range got {
				if strings.Contains(r, want) {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q answered %q, want %q\n%s", text, got, want, serve.output())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	release := []byte(redis.ReleaseSHA())

	expect("halo", "Pilih:")
	expect("1", "Siapa yang melapor?")
	expect("2", "Apakah korban dalam bahaya")
	proxy.Drop(release)
	expect("2", "Jenis kekerasan?")
	proxy.Reset()
	if proxy.Dropped() == 0 {
		t.Fatal("no release was dropped")
	}
	expect("1 3", "Korban adalah")

	// Kill -9 between the commit of "3" and its release.
	held := proxy.Hold(release)
	seq++
	sid := fmt.Sprintf("SM%032d", seq)
	answered := make(chan int, 1)
	go func() { answered <- post(sid, "3") }()
	select {
	case <-held:
	case <-time.After(20 * time.Second):
		t.Fatalf("the release of \"3\" never came\n%s", serve.output())
	}
	if err := serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-serve.done
	if code := <-answered; code == http.StatusOK {
		t.Fatalf("webhook answered 200 by a process killed before it released")
	}
	proxy.Reset()
	serve = startServe(t, bin, file, env)
	for try := 0; post(sid, "3") != http.StatusOK; try++ { // Twilio's retry: a duplicate now
		if try == 20 {
			t.Fatalf("retry of \"3\" not answered 200\n%s", serve.output())
		}
		time.Sleep(500 * time.Millisecond)
	}
	expect("Borong", "Nama desa")
	expect("Nggalak", "Kapan terjadi?")
	expect("1", "Ceritakan apa yang terjadi.")
	expect("Kakak sy dipukul suaminya td mlm sampai berdarah", "Bantuan apa")
	expect("1", "Bolehkah petugas menelepon")
	expect("3", "Periksa:")
	proxy.Drop(release)
	expect("ya", "Laporan Anda diterima dengan kode")
	proxy.Reset()
	expect("ya", "Pesan Anda diteruskan ke petugas") // after filing: to its officer, nothing filed again

	pg, err := sqlstore.OpenPostgres(context.Background(), cfg.Postgres.URL, sqlstore.WithKeyring(testKeyring(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	ts, err := pg.Tickets(context.Background(), bot.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 {
		t.Fatalf("%d tickets, want 1", len(ts))
	}
	tk := ts[0]
	if tk.Urgent || tk.Answers["safe"] != "yes" || tk.Answers["violence"] != "physical,sexual" || tk.Answers["age_group"] == "" {
		t.Errorf("ticket: urgent %v, answers %v; want not urgent, safe yes, violence physical,sexual", tk.Urgent, tk.Answers)
	}
	for _, m := range fake.Messages() {
		if strings.Contains(m.Body, "DARURAT") {
			t.Errorf("sent to %s: %q", bot.Mask(m.To), m.Body)
		}
	}
}

// repliesTo lists the bodies of the messages the fake Twilio received
// for to, in order.
func repliesTo(f *channeltest.FakeTwilio, to string) []string {
	var out []string
	for _, m := range f.Messages() {
		if m.To == to {
			out = append(out, m.Body)
		}
	}
	return out
}

// testKeyring is the keyring of testSecurity.
func testKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	enc, err := seal.ParseKey(testSecurity.EncryptionKey)
	if err != nil {
		t.Fatal(err)
	}
	lookup, err := seal.ParseKey(testSecurity.LookupKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := seal.New(enc, nil, lookup)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
