package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/store/sqlstore"
)

// proxy stands for a dependency that goes down and comes back: while up it
// forwards every connection on its address to target; while down nothing
// listens there (connections are refused) and the connections it carried
// are cut.
type proxy struct {
	t      *testing.T
	addr   string
	target string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
}

// newProxy reserves a loopback address for target; the proxy starts down.
func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	ln.Close()
	t.Cleanup(p.down)
	return p
}

// up listens on the proxy's address and forwards.
func (p *proxy) up() {
	p.t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger for a moment after down
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy up on %s: %v", p.addr, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *proxy) forward(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close() }()
	io.Copy(c, u)
	c.Close()
}

// down stops listening and cuts every connection.
func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// viaProxy returns rawURL with its host and port replaced by addr.
func viaProxy(t *testing.T, rawURL, addr string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = addr
	return u.String()
}

// TestServeWaitsForDependencies starts a real `aduan serve` process with
// PostgreSQL and Redis both down: it answers /healthz, says on /readyz
// what it waits for, and refuses webhooks with 503 (Twilio retries them).
// PostgreSQL comes up, then Redis, and without a restart the service takes
// a whole report, its ticket filed; Redis then goes away and comes back
// mid-conversation. Every line the process wrote on its standard output
// and error, from start to stop, is one JSON object, and the lines say
// what it waited for and which ticket was opened and closed, without
// personal data. It logs at debug, so that the libraries' own lines
// (go-redis's, pgx's) are among them.
func TestServeWaitsForDependencies(t *testing.T) {
	bin := aduanBinary(t)
	fake, cfg := processStores(t, "cmd_startup", 13)
	pgURL, err := url.Parse(cfg.Postgres.URL)
	if err != nil {
		t.Fatal(err)
	}
	redisURL, err := url.Parse(cfg.Redis.URL)
	if err != nil {
		t.Fatal(err)
	}
	pgProxy := newProxy(t, pgURL.Host)
	redisProxy := newProxy(t, redisURL.Host)

	file := writeServeConfig(t, filepath.Join(t.TempDir(), "aduan.yaml"), viaProxy(t, cfg.Postgres.URL, pgProxy.addr),
		viaProxy(t, cfg.Redis.URL, redisProxy.addr), fake.URL(),
		`  - {name: Genoveva Lindung, phone: "+6281337785111", role: officer}
  - {name: Kepala Dinas, phone: "+6281234567890", role: supervisor}
`, "", "log:\n  level: debug\n  format: json\noutbox:\n  poll_interval: 50ms\n")
	env := serveEnv()

	p := launchServe(t, bin, file, env, "listening")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's output:\n%s", p.output())
			for _, m := range fake.Messages() {
				t.Logf("sent to %s: %q", bot.Mask(m.To), m.Body)
			}
		}
	})
	base := "http://" + p.addr
	client := &http.Client{Transport: channeltest.LoopbackOnly(&http.Transport{}), Timeout: 20 * time.Second}
	var sids int
	postSid := func(sid, from, text string) int {
		req := channeltest.NewWebhookRequest(context.Background(), base, testPublic, "/webhooks/twilio", testToken,
			channeltest.InboundForm(sid, from, serviceNum, text))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("post %q: %v", text, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	newSid := func() string { sids++; return fmt.Sprintf("SM%032d", sids) }
	post := func(from, text string) int { return postSid(newSid(), from, text) }
	// deliver posts as Twilio does: again, with the same MessageSid, until
	// the answer is 200.
	deliver := func(sid, from, text string) {
		t.Helper()
		eventually(t, "webhook "+text+" answered 200", func() bool { return postSid(sid, from, text) == 200 })
	}
	readyz := func() (int, string) {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatalf("GET /readyz: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitReady := func(what string, cond func(code int, body string) bool) {
		t.Helper()
		eventually(t, what, func() bool { return cond(readyz()) })
	}

	// Both down.
	if resp, err := client.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /healthz with both down = %v, %v; want 200", resp, err)
	} else {
		resp.Body.Close()
	}
	waitReady("readyz naming postgres down", func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "postgres: down") && strings.Contains(body, "redis: waiting")
	})
	if code := post(citizen, "halo"); code != http.StatusServiceUnavailable {
		t.Errorf("webhook with both down = %d, want 503", code)
	}

	// PostgreSQL comes up: the schema is brought up to date; Redis is still awaited.
	pgProxy.up()
	waitReady("readyz naming redis down", func(code int, body string) bool {
		return code == 503 && strings.Contains(body, "postgres: ok") && strings.Contains(body, "redis: down")
	})
	if code := post(citizen, "halo"); code != http.StatusServiceUnavailable {
		t.Errorf("webhook with redis down = %d, want 503", code)
	}

	// Redis comes up: the service serves, without a restart.
	redisProxy.up()
	waitReady("readyz 200", func(code int, body string) bool { return code == 200 })
	for i, m := range caseReport {
		sid := newSid()
		if i == 6 {
			// Redis goes away mid-report and comes back: the webhook in
			// between may be refused (Twilio retries it); nothing is lost.
			redisProxy.down()
			t.Logf("with redis down, a webhook is answered %d", postSid(sid, citizen, m.text))
			redisProxy.up()
		}
		deliver(sid, citizen, m.text)
	}
	if code := post(citizen, "ya"); code != 200 {
		t.Fatalf("confirmation = %d, want 200", code)
	}

	// The report is a ticket in PostgreSQL.
	pg, err := sqlstore.OpenPostgres(context.Background(), cfg.Postgres.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	var code string
	eventually(t, "the ticket filed", func() bool {
		return pg.Pool().QueryRow(context.Background(), "SELECT code FROM tickets").Scan(&code) == nil
	})
	officer := testOfficers[0].Phone
	if code := post(officer, "SELESAI "+code+" Didampingi ke Polres"); code != 200 {
		t.Fatalf("officer's SELESAI = %d", code)
	}
	eventually(t, "the closing logged", func() bool { return strings.Contains(p.output(), `"msg":"ticket closed"`) })
	if exit := p.stop(); exit != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", exit)
	}

	// Every line is JSON, with what the operator needs and no personal data.
	var waited, components = map[string]bool{}, map[string]bool{}
	var opened, closed bool
	for i, line := range strings.Split(p.output(), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("line %d is not JSON: %q", i+1, line)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("line %d has no %q: %s", i+1, k, line)
			}
		}
		for _, k := range []string{"retry_in", "took", "grace"} {
			if v, ok := rec[k]; ok {
				if _, isText := v.(string); !isText {
					t.Errorf("line %d: %s = %v, want a duration such as \"1.5s\"", i+1, k, v)
				}
			}
		}
		if c, ok := rec["component"].(string); ok {
			components[c] = true
		}
		switch rec["msg"] {
		case "waiting for a dependency":
			waited[fmt.Sprint(rec["dependency"])] = true
		case "ticket opened", "ticket closed":
			if rec["code"] != code || rec["kind"] != "case" || rec["channel"] != "sms" || rec["urgent"] != false {
				t.Errorf("line %d = %s; want code %s, kind case, channel sms, urgent false", i+1, line, code)
			}
			opened = opened || rec["msg"] == "ticket opened"
			closed = closed || rec["msg"] == "ticket closed"
		}
		for _, s := range secretsIn(line, append(phoneForms(citizen), phoneForms(officer)[3], "Nggalak", "dipukul")) {
			t.Errorf("line %d holds %q: %s", i+1, s, line)
		}
	}
	if !waited["postgres"] || !waited["redis"] {
		t.Errorf("logged waits for %v, want postgres and redis", waited)
	}
	if !components["redis"] || !components["postgres"] {
		t.Errorf("go-redis's and pgx's own lines: %v; want both, as JSON", components)
	}
	if !opened || !closed {
		t.Errorf("ticket opened logged: %v, closed: %v; want both", opened, closed)
	}
}

// TestServeFatalErrorIsJSON: a configuration serve cannot run with is
// reported as one JSON line on stderr (not a plain-text line in a JSON
// journal), and still exits 2.
func TestServeFatalErrorIsJSON(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("http:\n  listn: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		label string
		env   map[string]string
		args  []string
		want  string
	}{
		{"unknown key", nil, []string{"serve", "--config", bad}, `unknown key \"http.listn\"`},
		{"no keys", map[string]string{"ADUAN_LOG_FORMAT": "json", "ADUAN_TWILIO_ACCOUNT_SID": "AC1", "ADUAN_TWILIO_AUTH_TOKEN": "t",
			"ADUAN_TWILIO_FROM": "081100000000", "ADUAN_PUBLIC_URL": testPublic}, []string{"serve", "--config", writeOfficers(t)},
			"security.encryption_key"},
	} {
		t.Run(tt.label, func(t *testing.T) {
			_, stderr, err := runCmd(t, "", tt.env, tt.args...)
			if !errors.As(err, new(usageError)) || !errors.As(err, new(loggedError)) {
				t.Fatalf("err = %v, want a usage error (exit 2), already logged", err)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			var rec map[string]any
			if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &rec) != nil {
				t.Fatalf("stderr = %q, want one JSON line", stderr)
			}
			if rec["level"] != "ERROR" || rec["msg"] != "cannot run" || !strings.Contains(lines[0], tt.want) {
				t.Errorf("stderr = %s, want an ERROR line naming %s", lines[0], tt.want)
			}
		})
	}
}

// writeOfficers writes a configuration file with one officer and nothing
// else, and returns its path.
func writeOfficers(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "officers.yaml")
	if err := os.WriteFile(p, []byte("officers:\n  - {name: A, phone: \"081337785111\", role: officer}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
