package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"aduan/channels/channeltest"
	"aduan/internal/config"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
)

// runMainEnv makes the test binary run aduan's main instead of the tests
// (see TestMain), so that a test can start `aduan serve` as a process of its
// own without linking a second binary: under a loaded `go test ./...`,
// linking aduan takes longer than the whole test.
const runMainEnv = "ADUAN_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main() // exits by itself on failure
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// aduanBinary returns the path of a program that runs as aduan when its
// environment has runMainEnv=1: this test binary, built from ./cmd/aduan.
func aduanBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// process is one running `aduan serve`.
type process struct {
	t    *testing.T
	cmd  *exec.Cmd
	addr string // where it listens

	mu   sync.Mutex
	logs []string
	done chan struct{} // closed when it has exited
}

// startServe starts `aduan serve --config file` and waits until it serves.
func startServe(t *testing.T, bin, file string, env []string) *process {
	t.Helper()
	return launchServe(t, bin, file, env, "serving")
}

// launchServe starts `aduan serve --config file` and waits for its log line
// whose msg is until and which names the address it listens at. The
// process's standard output and error both go to its logs.
func launchServe(t *testing.T, bin, file string, env []string, until string) *process {
	t.Helper()
	p := &process{t: t, cmd: exec.Command(bin, "serve", "--config", file), done: make(chan struct{})}
	p.cmd.Env = env
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.cmd.Stderr // one pipe: every line serve writes is read
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start aduan serve: %v", err)
	}
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs = append(p.logs, line)
			p.mu.Unlock()
			var rec struct{ Msg, Listen string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == until {
				select {
				case listening <- rec.Listen:
				default:
				}
			}
		}
		p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.addr = <-listening:
	case <-p.done:
		t.Fatalf("aduan serve exited before listening:\n%s", p.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("aduan serve did not log %q within 30s:\n%s", until, p.output())
	}
	return p
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.logs, "\n")
}

// stop sends SIGTERM and waits for the exit; it returns the exit code.
func (p *process) stop() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.t.Fatalf("aduan serve still running 40s after SIGTERM:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// twoOfficers are the officers of the configurations the process tests
// write, in YAML.
const twoOfficers = `  - {name: Genoveva Lindung, phone: "+6281337785111", role: officer}
  - {name: Tija Ndaka, phone: "+6281337973213", role: officer}
`

// processStores empties the test database named db and the Redis DB
// numbered redisDB for a test that runs `aduan serve` as a process, and
// returns a fake Twilio and a configuration naming them.
func processStores(t *testing.T, db string, redisDB int) (*channeltest.FakeTwilio, *config.Config) {
	t.Helper()
	fake := channeltest.NewFakeTwilio(t, testSID, testToken)
	cfg := config.Default()
	cfg.Postgres.URL = testenv.PostgresURL(t, db)
	cfg.Redis.URL = testenv.RedisURL(redisDB)
	reset(t, cfg)
	return fake, cfg
}

// writeServeConfig writes to file a configuration for `aduan serve` on the
// PostgreSQL and Redis URLs given, Twilio's API faked at twilioURL, with the
// officers given (YAML list items); httpExtra is added to the http section,
// rest at the end. It returns file. The secrets come from serveEnv.
func writeServeConfig(t *testing.T, file, pgURL, redisURL, twilioURL, officers, httpExtra, rest string) string {
	t.Helper()
	yaml := fmt.Sprintf("http:\n  listen: \"127.0.0.1:0\"\n  public_url: %q\n%spostgres:\n  url: %q\nredis:\n  url: %q\n"+
		"twilio:\n  from: %q\n  api_url: %q\nofficers:\n%s%s",
		testPublic, httpExtra, pgURL, redisURL, serviceNum, twilioURL, officers, rest)
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// serveEnv is the environment of a test's `aduan serve` process: this test
// binary running aduan's main, with the secrets.
func serveEnv() []string {
	return append(os.Environ(), runMainEnv+"=1", "ADUAN_TWILIO_ACCOUNT_SID="+testSID, "ADUAN_TWILIO_AUTH_TOKEN="+testToken,
		"ADUAN_ENCRYPTION_KEY="+testSecurity.EncryptionKey, "ADUAN_LOOKUP_KEY="+testSecurity.LookupKey)
}

// outcome is what became of one webhook.
type outcome struct {
	sid    string
	status int   // 0 when no HTTP answer came
	err    error // the transport's error when no answer came
}

// TestGracefulShutdownUnderLoad runs a real `aduan serve` process (this
// test binary running aduan's main, see TestMain), drives
// case reports through it from many citizens at once, sends SIGTERM in the
// middle, and checks what Twilio would see: every webhook answered 200 has
// its effects stored, every refused one got 503 (or found the port closed),
// the process exits 0, and after a restart on the same database, with the
// refused webhooks retried as Twilio retries them, every report is a
// ticket and every outbox message reached Twilio exactly once.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	start := time.Now()
	phase := func(name string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), name) }
	bin := aduanBinary(t)

	fake, cfg := processStores(t, "cmd_shutdown", 12)
	file := writeServeConfig(t, filepath.Join(t.TempDir(), "aduan.yaml"), cfg.Postgres.URL, cfg.Redis.URL, fake.URL(),
		twoOfficers, "  shutdown_grace: 20s\n", "log:\n  level: info\n  format: json\noutbox:\n  lease: 3s\n  poll_interval: 50ms\n")
	env := serveEnv()

	client := &http.Client{Transport: channeltest.LoopbackOnly(&http.Transport{MaxIdleConnsPerHost: 64}),
		Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	post := func(addr, sid, from, text string) outcome {
		req := channeltest.NewWebhookRequest(context.Background(), "http://"+addr, testPublic, "/webhooks/twilio",
			testToken, channeltest.InboundForm(sid, from, serviceNum, text))
		resp, err := client.Do(req)
		if err != nil {
			return outcome{sid: sid, err: err}
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return outcome{sid: sid, status: resp.StatusCode}
	}

	// Each citizen sends a whole case report, one message after the other
	// as a phone does, until a webhook is not answered 200.
	const citizens = 40
	script := append(slices.Clone(caseReport), struct {
		text    string
		replies int
	}{"ya", 3})
	sidOf := func(c, step int) string { return fmt.Sprintf("SM%016d%016d", c, step) }
	phoneOf := func(c int) string { return fmt.Sprintf("+62812%08d", 70000000+c) }
	next := make([]int, citizens) // the first step not answered 200
	var (
		mu       sync.Mutex
		answered []outcome
		refused  []outcome
		ok       atomic.Int64
		signaled atomic.Bool
	)
	first := startServe(t, bin, file, env)
	var wg sync.WaitGroup
	for c := range citizens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for step, m := range script {
				o := post(first.addr, sidOf(c, step), phoneOf(c), m.text)
				mu.Lock()
				if o.status == http.StatusOK {
					answered = append(answered, o)
					next[c] = step + 1
				} else {
					refused = append(refused, o)
					if !signaled.Load() {
						t.Errorf("citizen %d step %d before SIGTERM: status %d, %v", c, step, o.status, o.err)
					}
				}
				mu.Unlock()
				if o.status != http.StatusOK {
					return
				}
				ok.Add(1)
			}
		}()
	}
	// Mid-load: a third of the webhooks answered.
	deadline := time.Now().Add(30 * time.Second)
	for ok.Load() < int64(citizens*len(script)/3) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	signaled.Store(true)
	phase("SIGTERM")
	code := first.stop()
	wg.Wait()
	phase("first process stopped")
	if code != 0 {
		t.Fatalf("exit status after SIGTERM = %d, want 0:\n%s", code, first.output())
	}
	logs := first.output()
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if len(refused) == 0 {
		t.Fatalf("every webhook was answered before the process stopped: SIGTERM came too late to test anything")
	}
	statuses := map[int]int{}
	for _, o := range refused {
		statuses[o.status]++
		if o.status != 0 && o.status != http.StatusServiceUnavailable {
			t.Errorf("webhook %s refused with %d, want 503 (never 500)", o.sid, o.status)
		}
	}
	t.Logf("before SIGTERM + during shutdown: %d answered 200, refused: %v (0: connection refused)", len(answered), statuses)

	// Every webhook answered 200 was stored before its answer.
	ctx := context.Background()
	keys, err := testSecurityConfig().Keyring()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL, sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	seen := map[string]bool{}
	rows, err := pg.Pool().Query(ctx, "SELECT external_id FROM inbound_seen")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		seen[id] = true
	}
	rows.Close()
	for _, o := range answered {
		if !seen[o.sid] {
			t.Errorf("webhook %s was answered 200 but is not stored", o.sid)
		}
	}

	// A new process on the same database; Twilio retries what was refused.
	second := startServe(t, bin, file, env)
	phase("second process listening")
	var wg2 sync.WaitGroup
	for c := range citizens {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for step := next[c]; step < len(script); step++ {
				if o := post(second.addr, sidOf(c, step), phoneOf(c), script[step].text); o.status != http.StatusOK {
					t.Errorf("after restart, citizen %d step %d: status %d, %v", c, step, o.status, o.err)
					return
				}
			}
		}()
	}
	wg2.Wait()
	phase("refused webhooks retried, reports finished")

	// Every message in the outbox goes out, including those the first
	// process had claimed but not sent: they come due when its claim ends.
	var entries []outboxSnapshot
	deadline = time.Now().Add(30 * time.Second)
	for {
		entries = outboxState(t, pg)
		pending := 0
		for _, e := range entries {
			if e.state != "sent" {
				pending++
			}
		}
		if pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d outbox messages still not sent 30s after the restart:\n%s", pending, len(entries),
				second.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	phase("outbox drained")
	if code := second.stop(); code != 0 {
		t.Errorf("second process: exit status %d, want 0", code)
	}

	// Exactly once: what Twilio received is the outbox, message for
	// message.
	want := map[string]int{}
	for _, e := range entries {
		want[e.to+"\x00"+e.body]++
	}
	got := map[string]int{}
	for _, m := range fake.Messages() {
		got[m.To+"\x00"+m.Body]++
	}
	for k, n := range got {
		if n > want[k] {
			to, body, _ := strings.Cut(k, "\x00")
			t.Errorf("sent %d times to %s, want %d: %q", n, to, want[k], body)
		}
	}
	for k, n := range want {
		if got[k] < n {
			to, body, _ := strings.Cut(k, "\x00")
			t.Errorf("sent %d times to %s, want %d: %q", got[k], to, n, body)
		}
	}
	if fake.Count() != len(entries) {
		t.Errorf("Twilio received %d messages; the outbox holds %d", fake.Count(), len(entries))
	}

	// Nothing was lost: every citizen's report became one ticket.
	var tickets int
	if err := pg.Pool().QueryRow(ctx, "SELECT count(*) FROM tickets").Scan(&tickets); err != nil {
		t.Fatal(err)
	}
	if tickets != citizens {
		t.Errorf("%d tickets, want %d: one per citizen", tickets, citizens)
	}
}

type outboxSnapshot struct{ to, body, state string }

func outboxState(t *testing.T, pg *sqlstore.Store) []outboxSnapshot {
	t.Helper()
	es, err := pg.Outbox(context.Background())
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	out := make([]outboxSnapshot, len(es))
	for i, e := range es {
		out[i] = outboxSnapshot{to: e.To, body: e.Body, state: e.State}
	}
	return out
}
