package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/internal/config"
)

// testSecurity holds the test configuration's keys: fixed, and used
// nowhere else.
var testSecurity = config.Security{
	EncryptionKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x11}, 32)),
	LookupKey:     base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x22}, 32)),
}

// safeBuffer is a log sink safe for the server's goroutines.
type safeBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *safeBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *safeBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLoggedHarness is newHarness with the server logging to log.
func newLoggedHarness(t *testing.T, log *slog.Logger) *harness {
	t.Helper()
	fake := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := testConfig(t, fake.URL())
	cfg.Log.Level = "debug"
	reset(t, cfg)
	h := &harness{t: t, cfg: cfg, twilio: fake}
	srv, err := newServer(context.Background(), cfg, log, time.Now)
	if err != nil {
		t.Fatalf("newServer: %v", err)
	}
	srv.app.start()
	t.Cleanup(func() {
		srv.app.stop()
		srv.close()
	})
	h.srv = srv
	h.web = httptest.NewServer(srv.handler)
	t.Cleanup(h.web.Close)
	return h
}

// eventually polls cond until it holds, failing t after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 15s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sentTo returns the bodies of the messages sent to addr so far.
func (h *harness) sentTo(addr string) []string {
	var out []string
	for _, m := range h.twilio.Messages() {
		if m.To == addr {
			out = append(out, m.Body)
		}
	}
	return out
}

// send posts text from addr, wants it taken, and waits until addr got
// more messages than it had.
func (h *harness) send(from, text string) []string {
	h.t.Helper()
	before := len(h.sentTo(from))
	if code := h.post(h.sid(), from, text); code != 200 {
		h.t.Fatalf("post %q from %s: status %d, want 200", text, bot.Mask(from), code)
	}
	eventually(h.t, "a reply to "+text, func() bool { return len(h.sentTo(from)) > before })
	return h.sentTo(from)[before:]
}

// Secrets of the leak test's conversation: none may reach a log, a
// database dump or Redis in clear.
const (
	leakPlace = "Desa Nggalak"
	leakStory = "Tetangga saya dipukul suaminya setiap malam"
	leakNote  = "Korban sudah dirujuk ke RSUD Ben Mboi"
	leakOut   = "Ibu Maria, kami datang besok jam sembilan"
	leakIn    = "Baik pak, saya tunggu di rumah kakak saya"
	leakFile  = "FOTO-LUKA-MEMAR-LENGAN-KIRI" // in the bytes of the photo the citizen sends
)

// phoneForms are the ways a number may be written: +62..., 62...,
// 08..., and the digits all share.
func phoneForms(e164 string) []string {
	core := strings.TrimPrefix(e164, "+62")
	return []string{e164, "62" + core, "0" + core, core}
}

// converse plays a whole case report from the citizen, then an officer
// accepting it, noting, and writing to the citizen, who answers; one send
// fails on the way and is retried. It returns the ticket code, and calls
// midway with the report not yet filed.
func converse(t *testing.T, h *harness, midway func()) string {
	t.Helper()
	for i, m := range caseReport {
		h.send(citizen, m.text)
		if i == len(caseReport)-1 && midway != nil {
			midway()
		}
	}
	// The reply with the ticket code fails once: warnings are logged too.
	h.twilio.FailNext(1, 500, 20500)
	var code string
	before := len(h.sentTo(citizen))
	if status := h.post(h.sid(), citizen, "ya"); status != 200 {
		t.Fatalf("post ya: status %d", status)
	}
	eventually(t, "the ticket code", func() bool {
		for _, b := range h.sentTo(citizen)[before:] {
			if code = findCode(b); code != "" {
				return true
			}
		}
		return false
	})
	officer := testOfficers[0].Phone
	h.send(officer, "TERIMA "+code)
	h.send(officer, "CATAT "+code+" "+leakNote)
	h.send(officer, "BALAS "+code+" "+leakOut)
	eventually(t, "the officer's message to the citizen", func() bool {
		return strings.Contains(strings.Join(h.sentTo(citizen), "\n"), leakOut)
	})
	if status := h.post(h.sid(), citizen, leakIn); status != 200 {
		t.Fatalf("post the citizen's answer: status %d", status)
	}
	eventually(t, "the citizen's answer relayed to the officer", func() bool {
		return strings.Contains(strings.Join(h.sentTo(officer), "\n"), leakIn)
	})
	h.outboxDrained()
	return code
}

// secretsIn lists the secrets found in text, in clear or as hex.
func secretsIn(text string, secrets []string) []string {
	var found []string
	lower := strings.ToLower(text)
	for _, s := range secrets {
		if strings.Contains(text, s) || strings.Contains(lower, hex.EncodeToString([]byte(s))) {
			found = append(found, s)
		}
	}
	return found
}

// sendPhoto hands the pipeline a photo from the citizen whose bytes hold
// leakFile, as the WhatsApp channel does with the files it fetches (on SMS:
// the harness has no WhatsApp sender for the reply), once the citizen's
// ticket is taken: it is announced to the officer and kept with the
// ticket.
func sendPhoto(t *testing.T, h *harness, code string) {
	t.Helper()
	officer := testOfficers[0].Phone
	before := len(h.sentTo(officer))
	photo := append([]byte("\xff\xd8\xff\xe0"+leakFile), bytes.Repeat([]byte{0x5a}, 4096)...)
	m := bot.Inbound{Channel: bot.SMS, ExternalID: h.sid(), From: citizen, To: serviceNum, Media: 1,
		Files: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: photo}}, Received: time.Now()}
	if err := h.srv.app.svc.Handle(context.Background(), m); err != nil {
		t.Fatalf("handle the photo: %v", err)
	}
	eventually(t, "the photo announced to the officer", func() bool {
		return strings.Contains(strings.Join(h.sentTo(officer)[before:], "\n"), "tersimpan di tiket")
	})
	files, err := h.srv.pg.Attachments(context.Background(), code)
	if err != nil || len(files) != 1 || files[0].Size != len(photo) {
		t.Fatalf("the ticket's files = %+v, %v; want the photo", files, err)
	}
	h.outboxDrained()
}

// TestNothingLeaks runs a whole conversation, officer's note, relayed
// messages and a photo included, with the server logging at debug level
// and one send failing, and then looks for the citizen's number (in any
// form), the officers' numbers, the text of every message and the photo's
// content in the logs, in a pg_dump of the database, and, midway, in
// Redis.
func TestNothingLeaks(t *testing.T) {
	var logs safeBuffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := newLoggedHarness(t, log)

	texts := []string{leakPlace, leakStory, leakNote, leakOut, leakIn, leakFile}
	numbers := phoneForms(citizen)
	for _, o := range testOfficers {
		numbers = append(numbers, phoneForms(o.Phone)[3])
	}

	var redisDump string
	code := converse(t, h, func() {
		redisDump = dumpRedis(t, h.cfg.Redis.URL)
	})
	sendPhoto(t, h, code)

	// Every message the service sent, longer than a menu choice, is a text
	// that must not be logged either.
	sent := map[string]bool{}
	for _, m := range h.twilio.Messages() {
		for _, line := range strings.Split(m.Body, "\n") {
			if line = strings.TrimSpace(line); len(line) >= 16 && !strings.Contains(line, code) {
				sent[line] = true
			}
		}
	}

	t.Run("logs", func(t *testing.T) {
		out := logs.String()
		if !strings.Contains(out, `"level":"WARN"`) || !strings.Contains(out, `"level":"DEBUG"`) {
			t.Fatalf("the logs lack a warning or a debug line: the test does not exercise them:\n%s", out)
		}
		for _, s := range secretsIn(out, append(append([]string{}, numbers...), texts...)) {
			t.Errorf("the logs hold %q", s)
		}
		for line := range sent {
			if strings.Contains(out, line) {
				t.Errorf("the logs hold the message text %q", line)
			}
		}
		if t.Failed() {
			t.Logf("logs:\n%s", out)
		}
	})

	t.Run("pg_dump", func(t *testing.T) {
		cmd := exec.CommandContext(t.Context(), "pg_dump", "--no-owner", "--dbname", h.cfg.Postgres.URL)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		dump, err := cmd.Output()
		if err != nil {
			t.Fatalf("pg_dump: %v: %s", err, stderr.String())
		}
		if !bytes.Contains(dump, []byte(code)) || !bytes.Contains(dump, []byte("borong")) ||
			!bytes.Contains(dump, []byte("image/jpeg")) {
			t.Fatalf("the dump lacks the ticket %s, its kecamatan or its photo: not a dump of the test's data", code)
		}
		citizenForms := phoneForms(citizen)
		for _, s := range secretsIn(string(dump), append(citizenForms, texts...)) {
			t.Errorf("the pg_dump holds %q", s)
		}
	})

	t.Run("redis", func(t *testing.T) {
		if redisDump == "" {
			t.Fatal("Redis held nothing midway through the report")
		}
		for _, s := range secretsIn(redisDump, append(phoneForms(citizen), leakPlace, leakStory)) {
			t.Errorf("Redis holds %q midway through the report", s)
		}
	})
}

// dumpRedis returns every key and string value of the Redis DB at url.
func dumpRedis(t *testing.T, url string) string {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	ctx := context.Background()
	keys, err := rc.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatalf("redis KEYS: %v", err)
	}
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(k)
		sb.WriteByte('=')
		if v, err := rc.Get(ctx, k).Result(); err == nil {
			sb.WriteString(v)
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}
