package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"aduan/channels/channeltest"
	"aduan/internal/config"
	"aduan/internal/metrics"
	"aduan/internal/seal"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

func TestVersion(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "version")
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(out, "aduan ") || !strings.Contains(out, "(commit ") || !strings.HasSuffix(out, "\n") ||
		strings.Count(out, "\n") != 1 {
		t.Errorf("version printed %q, want one line: aduan VERSION (commit ...) ...", out)
	}
	saved := version
	t.Cleanup(func() { version = saved })
	version = "v9.8.7"
	out, _, _ = runCmd(t, "", nil, "version")
	if !strings.HasPrefix(out, "aduan v9.8.7 (commit ") {
		t.Errorf("with -X main.version=v9.8.7: %q", out)
	}
	if _, _, err := runCmd(t, "", nil, "version", "extra"); err == nil {
		t.Errorf("version with an argument: no error")
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	officers := "officers:\n  - {name: A, phone: \"081337785111\", role: officer}\n  - {name: B, phone: \"081337785112\", role: supervisor}\n"
	minimal := write("minimal.yaml", officers, 0o600)
	full := write("full.yaml", officers+"http:\n  public_url: https://aduan.example.go.id\ntwilio:\n  from: \"081100000000\"\n", 0o600)
	leaky := write("leaky.yaml", officers+"http:\n  public_url: https://aduan.example.go.id\n"+
		"twilio:\n  from: \"081100000000\"\n  account_sid: AC123\n  auth_token: tok123\n"+
		"postgres:\n  url: postgres://aduan:hunter2@127.0.0.1/aduan\n", 0o644)
	bad := write("bad.yaml", officers+"http:\n  listn: x\n", 0o600)
	areas := func(a string) string {
		return "officers:\n  - {name: A, phone: \"081337785111\", role: officer, areas: [" + a + "]}\n" +
			"  - {name: B, phone: \"081337785112\", role: supervisor}\n" +
			"http:\n  public_url: https://aduan.example.go.id\ntwilio:\n  from: \"081100000000\"\n"
	}
	oldAreas := write("old-areas.yaml", areas("borong, poco-ranaka, Poco Ranaka Timur"), 0o600)
	newAreas := write("new-areas.yaml", areas("borong, lamba-leda-selatan, congkar"), 0o600)
	badArea := write("bad-area.yaml", areas("ruteng"), 0o600)
	gateway := write("gateway.yaml", officers+"sms:\n  provider: smsgate\nsmsgate:\n  url: https://192.168.1.20:8080\n  username: sms\n", 0o600)
	gatewayBare := write("gateway-bare.yaml", officers+"sms:\n  provider: smsgate\n", 0o600)
	gatewayLeaky := write("gateway-leaky.yaml", officers+"sms:\n  provider: smsgate\nsmsgate:\n  url: https://192.168.1.20:8080\n"+
		"  username: sms\n  password: gatepw99\n  signing_key: gatekey99\n  limit: 600\n  limit_period: 1h\n", 0o644)
	gateSecrets := map[string]string{"ADUAN_SMSGATE_PASSWORD": "gatepw99", "ADUAN_SMSGATE_SIGNING_KEY": "gatekey99",
		"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey, "ADUAN_LOOKUP_KEY": testSecurity.LookupKey}
	secrets := map[string]string{"ADUAN_TWILIO_ACCOUNT_SID": "AC123", "ADUAN_TWILIO_AUTH_TOKEN": "tok123",
		"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey, "ADUAN_LOOKUP_KEY": testSecurity.LookupKey}
	noKeys := map[string]string{"ADUAN_TWILIO_ACCOUNT_SID": "AC123", "ADUAN_TWILIO_AUTH_TOKEN": "tok123"}

	tests := []struct {
		label     string
		file      string
		env       map[string]string
		wantErr   string // "" for none; a usage error containing it otherwise
		wantOut   []string
		unwantOut []string
	}{
		{"ready", full, secrets, "",
			[]string{"config ok: " + full, "sms       ready", "whatsapp  disabled", "1 officer(s), 1 supervisor(s)",
				"keys:      set", "serve: ready to start"},
			[]string{"warnings:", testSecurity.EncryptionKey}},
		{"keys missing", full, noKeys, "",
			[]string{"keys:      missing security.encryption_key", "serve still needs:",
				"protecting personal data needs security.encryption_key (ADUAN_ENCRYPTION_KEY), security.lookup_key"}, nil},
		{"sms missing", minimal, nil, "",
			[]string{"sms       missing twilio.account_sid",
				"the sms channel needs twilio.account_sid, twilio.auth_token, twilio.from, http.public_url"},
			[]string{"ready to start"}},
		{"keys missing, strict", full, noKeys, "security.encryption_key (ADUAN_ENCRYPTION_KEY), security.lookup_key",
			[]string{"serve still needs:"}, nil},
		{"sms missing, strict", minimal, nil, "twilio.account_sid, twilio.auth_token, twilio.from, http.public_url", nil, nil},
		{"bad hours", write("hours.yaml", officers+"  - {name: C, phone: \"081337785113\", role: officer, hours: \"8-16x\"}\n", 0o600),
			secrets, `hours.yaml: line 4: officers[2].hours: "8-16x"`, nil, nil},
		{"hours with dots", write("dots.yaml", officers+"  - {name: C, phone: \"081337785113\", role: officer, hours: \"sen-jum 08.00-16.00\"}\n", 0o600),
			secrets, "", []string{"config ok", "2 officer(s), 1 supervisor(s)"}, nil},
		{"secrets in the file", leaky, map[string]string{"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey,
			"ADUAN_LOOKUP_KEY": testSecurity.LookupKey}, "",
			[]string{"twilio.auth_token is in the file", "postgres.url holds a password", "every user can read it",
				"postgres://aduan:xxxxx@127.0.0.1/aduan"},
			[]string{"hunter2", "tok123"}},
		{"unknown key", bad, secrets, `unknown key "http.listn"`, nil, nil},
		{"former kecamatan names", oldAreas, secrets, "",
			[]string{"warnings:", `officers[0].areas[1]: "poco-ranaka" is a former name; read as "lamba-leda-selatan"`,
				`officers[0].areas[2]: "Poco Ranaka Timur" is a former name; read as "lamba-leda-timur"`},
			[]string{"areas[0]"}},
		{"current kecamatan names", newAreas, secrets, "", []string{"config ok"}, []string{"warnings:"}},
		{"not a kecamatan", badArea, secrets, `officers[0].areas[0]: "ruteng" is not a kecamatan of Manggarai Timur`, nil, nil},
		{"gateway phone ready, no Twilio needed", gateway, gateSecrets, "",
			[]string{"sms       ready (by the gateway phone at https://192.168.1.20:8080", "aduan smsgate register",
				"Android's default 30 in 30m", "twilio    disabled"},
			[]string{"gatepw99", "gatekey99"}},
		{"gateway phone missing", gatewayBare, secrets, "",
			[]string{"sms       missing smsgate.url", "the sms channel needs smsgate.url, smsgate.username, smsgate.password, smsgate.signing_key"},
			[]string{"ready to start"}},
		{"gateway phone missing, strict", gatewayBare, secrets, "the sms channel needs smsgate.url, smsgate.username, smsgate.password, smsgate.signing_key",
			nil, nil},
		{"gateway secrets in the file", gatewayLeaky, map[string]string{"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey,
			"ADUAN_LOOKUP_KEY": testSecurity.LookupKey}, "",
			[]string{"smsgate.password is in the file", "smsgate.signing_key is in the file; better in the environment (ADUAN_SMSGATE_SIGNING_KEY)", "every user can read it"},
			[]string{"gatepw99", "gatekey99", "Android's default"}},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			args := []string{"config", "check", "--config", tt.file}
			if strings.HasSuffix(tt.label, ", strict") {
				args = append(args, "--strict")
			}
			out, _, err := runCmd(t, "", tt.env, args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none\n%s", err, out)
			case tt.wantErr != "":
				var u usageError
				if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want a usage error naming %q", err, tt.wantErr)
				}
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.unwantOut {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
	if _, _, err := runCmd(t, "", nil, "config"); err == nil || !strings.Contains(err.Error(), "say check") {
		t.Errorf("config without check: %v", err)
	}
}

func TestReadyzNamesWhatIsDown(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, "http://127.0.0.1:1")
	reset(t, cfg)
	keys := seal.Random()
	pgUp, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL, sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pgUp.Close() })
	// Nothing listens on port 1: these dependencies are down.
	pool, err := pgxpool.New(ctx, "postgres://postgres@127.0.0.1:1/aduan?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pgDown := sqlstore.NewPostgres(pool)
	opt, _ := goredis.ParseURL(cfg.Redis.URL)
	rdUp := redis.New(goredis.NewClient(opt), redis.Options{Keyring: keys})
	t.Cleanup(func() { rdUp.Close() })
	rdDown := redis.New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1}), redis.Options{Keyring: keys})
	t.Cleanup(func() { rdDown.Close() })

	tests := []struct {
		label    string
		store    *sqlstore.Store
		convs    *redis.Conversations
		stopping bool
		want     int
		body     string
	}{
		{"all up", pgUp, rdUp, false, 200, "postgres: ok\nredis: ok\n"},
		{"postgres down", pgDown, rdUp, false, 503, "postgres: down (unavailable)\nredis: ok\n"},
		{"redis down", pgUp, rdDown, false, 503, "postgres: ok\nredis: down (unavailable)\n"},
		{"both down", pgDown, rdDown, false, 503, "postgres: down (unavailable)\nredis: down (unavailable)\n"},
		{"stopping", pgUp, rdUp, true, 503, "shutting down\npostgres: ok\nredis: ok\n"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			a := &app{store: tt.store, convs: tt.convs, metrics: metrics.New(metrics.Options{})}
			mux := http.NewServeMux()
			a.routes(mux, func() bool { return !tt.stopping })
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tt.want || rec.Body.String() != tt.body {
				t.Errorf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body.String(), tt.want, tt.body)
			}
			rec = httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != 200 {
				t.Errorf("GET /healthz = %d, want 200 whatever the dependencies", rec.Code)
			}
		})
	}
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMetricsEndpoint(t *testing.T) {
	h := newHarness(t)
	h.say(citizen, "halo", 1)
	h.outboxDrained()
	code, body := get(t, h.web.URL+"/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	for _, want := range []string{
		`aduan_inbound_messages_total{channel="sms",result="ok"} 1`,
		`aduan_outbound_messages_total{channel="sms",purpose="reply",result="sent"} 1`,
		`aduan_http_requests_total{code="200",method="POST",path="/webhooks/twilio"} 1`,
		`aduan_http_request_duration_seconds_count{method="POST",path="/webhooks/twilio"} 1`,
		`aduan_pipeline_batch_seconds_count 1`,
		`aduan_outbox_pending 0`,
		`aduan_outbox_oldest_pending_seconds 0`,
		`aduan_tickets_late 0`,
		`aduan_whatsapp_state{state="disabled"} 1`,
		`aduan_whatsapp_state{state="connected"} 0`, // every state of whatsapp.States has a series
		`aduan_whatsapp_state{state="logged_out"} 0`,
		`aduan_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, citizen) || strings.Contains(body, strings.TrimPrefix(citizen, "+")) {
		t.Errorf("metrics show a phone number")
	}
}

func TestWebhooksRefusedWhileStopping(t *testing.T) {
	h := newHarness(t)
	h.srv.webhooks.close()
	req := channeltest.NewWebhookRequest(context.Background(), h.web.URL, testPublic, "/webhooks/twilio", testToken,
		channeltest.InboundForm(h.sid(), citizen, serviceNum, "halo"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("webhook while stopping: %d, Retry-After %q, close %v; want 503, a Retry-After, the connection closed",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	if code, body := get(t, h.web.URL+"/readyz"); code != 503 || !strings.HasPrefix(body, "shutting down\n") {
		t.Errorf("GET /readyz while stopping = %d %q, want 503 shutting down", code, body)
	}
	if code, _ := get(t, h.web.URL+"/healthz"); code != 200 {
		t.Errorf("GET /healthz while stopping = %d, want 200", code)
	}
	if code, body := get(t, h.web.URL+"/metrics"); code != 200 ||
		!strings.Contains(body, `aduan_http_requests_total{code="503",method="POST",path="/webhooks/twilio"} 1`) {
		t.Errorf("GET /metrics while stopping = %d; the refused webhook counted under its route: %v", code,
			strings.Contains(body, `code="503"`))
	}
	if n := h.twilio.Count(); n != 0 {
		t.Errorf("%d messages sent for a refused webhook, want 0", n)
	}
}

func TestGateWaitsForAdmittedWebhooks(t *testing.T) {
	var g gate
	if !g.enter() || !g.enter() {
		t.Fatal("an open gate refused a webhook")
	}
	g.close()
	if g.enter() {
		t.Fatal("a closed gate admitted a webhook")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := g.wait(ctx); err == nil {
		t.Fatal("wait returned with two webhooks under way")
	}
	done := make(chan error, 1)
	go func() { done <- g.wait(context.Background()) }()
	g.leave()
	g.leave()
	if err := <-done; err != nil {
		t.Fatalf("wait = %v after both left, want nil", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestLogsCarryRequestIDAndNoPersonalData(t *testing.T) {
	h := newHarness(t)
	var buf lockedBuffer
	log := newLogger(config.Log{Level: "debug", Format: "json"}, &buf)
	srv, err := newServer(context.Background(), h.cfg, log, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	srv.app.start()
	t.Cleanup(func() {
		srv.app.stop()
		srv.close()
	})
	web := httptest.NewServer(srv.handler)
	t.Cleanup(web.Close)

	const text = "halo rahasia-7731"
	sid := h.sid()
	req := channeltest.NewWebhookRequest(context.Background(), web.URL, testPublic, "/webhooks/twilio", testToken,
		channeltest.InboundForm(sid, citizen, serviceNum, text))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get("X-Request-Id")
	if resp.StatusCode != 200 || id == "" || id != req.Header.Get(twilioRequestHeader) {
		t.Fatalf("status %d, X-Request-Id %q; want 200 and Twilio's token %q", resp.StatusCode, id,
			req.Header.Get(twilioRequestHeader))
	}
	// A forged webhook is logged with its own request ID.
	forged := channeltest.NewWebhookRequest(context.Background(), web.URL, testPublic, "/webhooks/twilio", "wrongtoken",
		channeltest.InboundForm(h.sid(), citizen, serviceNum, text))
	if resp, err := http.DefaultClient.Do(forged); err == nil {
		resp.Body.Close()
	}
	h.twilio.WaitFor(1, 10*time.Second)

	logs := buf.String()
	var mine, stored, forgedLines int
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		if rec["request_id"] == id {
			mine++
			if rec["msg"] == "inbound message stored" {
				stored++
				if rec["sid"] != sid || rec["from"] != "+62812****0001" {
					t.Errorf("stored line = %v, want the sid and the masked sender", rec)
				}
			}
		}
		if rec["msg"] == "bad webhook signature" {
			forgedLines++
			if rec["request_id"] == nil || rec["request_id"] == id {
				t.Errorf("forged webhook logged with request_id %v, want one of its own", rec["request_id"])
			}
		}
	}
	if mine < 2 || stored != 1 || forgedLines != 1 {
		t.Errorf("%d lines with the request's ID (%d 'stored'), %d forged; want the access line and the stored line, and one forged:\n%s",
			mine, stored, forgedLines, logs)
	}
	for _, secret := range []string{citizen, strings.TrimPrefix(citizen, "+"), "rahasia-7731"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs show %q:\n%s", secret, logs)
		}
	}
}

func TestMigrateStatus(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	reset(t, cfg) // migrates
	file := writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	out, _, err := runCmd(t, "", nil, "migrate", "--config", file, "--status")
	if err != nil {
		t.Fatalf("migrate --status: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "VERSION") || !strings.Contains(lines[1], "00001_init.sql") {
		t.Fatalf("migrate --status printed:\n%s", out)
	}
	for _, l := range lines[1:] {
		if strings.Contains(l, "pending") {
			t.Errorf("after migrating, a migration is pending: %q", l)
		}
	}
}

// TestDatabaseCommandsFromEnvironment: migrate, tickets and report need
// only the database: ADUAN_POSTGRES_URL and the keys in the environment,
// no configuration file and no officers. tickets show's times are WITA,
// marked so.
func TestDatabaseCommandsFromEnvironment(t *testing.T) {
	file, pg := commandSetup(t)
	cfg, err := config.Load(file, nil)
	if err != nil {
		t.Fatal(err)
	}
	closed := time.Date(2026, 11, 5, 2, 30, 0, 0, time.UTC) // created an hour before: 09:30 WITA
	storeChanges(t, pg, secretTicket("KS-ENVW23", closed))
	env := map[string]string{"ADUAN_POSTGRES_URL": cfg.Postgres.URL,
		"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey, "ADUAN_LOOKUP_KEY": testSecurity.LookupKey}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"migrate", "--status"}, "00001_init.sql"},
		{[]string{"tickets", "list"}, "2026-11-05 09:30"},
		{[]string{"tickets", "list"}, "CREATED (WITA)"},
		{[]string{"tickets", "show", "KS-ENVW23"}, "created:   2026-11-05 09:30:00 WITA"},
		{[]string{"report", "--month", "2026-11", "--format", "csv"}, "summary"},
	} {
		out, _, err := runCmd(t, "", env, tt.args...)
		if err != nil || !strings.Contains(out, tt.want) {
			t.Errorf("%q with only the environment: %v; want output with %q:\n%s", tt.args, err, tt.want, out)
		}
	}
	if _, _, err := runCmd(t, "", nil, "serve"); err == nil || !strings.Contains(err.Error(), "officers") {
		t.Errorf("serve without officers: %v, want it refused naming officers", err)
	}
}
