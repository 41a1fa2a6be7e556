package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
	"aduan/channels/twilio"
)

// loadConfig is what a load run does.
type loadConfig struct {
	Mode          string        // closed, open or flood
	Provider      string        // twilio or smsgate: how SMS come in and go out
	Spawn         int           // replicas to start; 0 means Targets
	Targets       []string      // base URLs of running servers (with Spawn 0)
	FakeListen    string        // where the fake Twilio listens
	Binary        string        // a built aduan, "" to build one
	PostgresURL   string        // the servers' database, for the final check
	RedisURL      string        // the servers' Redis DB (spawn only)
	AuthToken     string        // the servers' Twilio auth token
	PublicURL     string        // the servers' http.public_url
	Concurrency   int           // closed loop: citizens at once
	Rate          float64       // open loop: messages a second; flood: the first step's
	Duration      time.Duration // closed and open: whole run; flood: each step
	Warmup        time.Duration // left out of the figures at the start
	Redeliver     float64       // fraction of messages delivered twice at once
	MaxTurns      int           // messages per citizen before giving up
	ReplyTimeout  time.Duration // wait for a reply before giving up
	Settle        time.Duration // wait after a reply that asks nothing
	Conns         int           // connections per replica
	MaxLive       int           // open loop: citizens in conversation at most
	FloodP99      time.Duration // flood: a step is sustained below this reply p99
	FloodSteps    int           // flood: most steps
	FloodFactor   float64       // flood: rate increase per step
	EncryptionKey string        // the servers' security.encryption_key (base64); the bench's own with --spawn
	LookupKey     string        // the servers' security.lookup_key (base64); the bench's own with --spawn
	VacuumEvery   time.Duration // vacuum and analyze the bench's tables this often; 0 never
	LogLevel      string        // the spawned servers' log level
	KeepLogs      bool          // keep the spawned servers' configurations and logs
	Progress      io.Writer     // step-by-step progress; nil for none
	Trace         io.Writer     // the first citizen's conversation; nil for none
}

func defaultLoadConfig() loadConfig {
	return loadConfig{
		Mode: "closed", Provider: "twilio", Spawn: 1, FakeListen: "127.0.0.1:0", PostgresURL: defaultPostgresURL, RedisURL: defaultRedisURL,
		AuthToken: benchAuthToken, PublicURL: benchPublicURL, Concurrency: 64, Rate: 1000,
		Duration: 30 * time.Second, Warmup: 5 * time.Second, Redeliver: 0.01, MaxTurns: 40,
		ReplyTimeout: 60 * time.Second, Settle: 50 * time.Millisecond, Conns: 128, MaxLive: 20000,
		FloodP99: 250 * time.Millisecond, FloodSteps: 14, FloodFactor: 1.25, VacuumEvery: 10 * time.Second,
		LogLevel: "warn",
	}
}

func loadCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := defaultLoadConfig()
	fs := newFlags("load", stderr)
	fs.StringVar(&c.Mode, "mode", c.Mode, "closed (C citizens at once), open (a fixed rate) or flood (find the highest sustained rate)")
	fs.StringVar(&c.Provider, "provider", c.Provider, "twilio (signed Twilio webhooks in, the fake Twilio API out) or smsgate (the fake gateway phone's signed webhooks in, its API out, sms:sent back)")
	fs.IntVar(&c.Spawn, "spawn", c.Spawn, "start N `aduan serve` replicas on free ports (0: use --target)")
	targets := fs.String("target", "", "comma-separated base URLs of running servers, with --spawn 0; they must use --fake-listen as twilio.api_url (or smsgate.url)")
	fs.StringVar(&c.FakeListen, "fake-listen", c.FakeListen, "address of the bench's fake Twilio API (or fake gateway phone)")
	fs.StringVar(&c.Binary, "aduan", "", "a built aduan binary (default: go build aduan/cmd/aduan)")
	fs.StringVar(&c.PostgresURL, "postgres", c.PostgresURL, "the servers' database; with --spawn it is created, migrated and emptied")
	fs.StringVar(&c.RedisURL, "redis", c.RedisURL, "the servers' Redis DB; with --spawn it is flushed")
	fs.StringVar(&c.AuthToken, "auth-token", c.AuthToken, "the servers' Twilio auth token (with --target)")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "the servers' http.public_url (with --target)")
	fs.StringVar(&c.EncryptionKey, "encryption-key", os.Getenv("ADUAN_ENCRYPTION_KEY"), "the servers' security.encryption_key, to read their tickets (with --target; default $ADUAN_ENCRYPTION_KEY)")
	fs.StringVar(&c.LookupKey, "lookup-key", os.Getenv("ADUAN_LOOKUP_KEY"), "the servers' security.lookup_key (with --target; default $ADUAN_LOOKUP_KEY)")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "closed loop: citizens in conversation at once")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "open loop: inbound messages a second; flood: the first step's rate")
	fs.DurationVar(&c.Duration, "duration", c.Duration, "closed and open loop: length of the run; flood: of each step")
	fs.DurationVar(&c.Warmup, "warmup", c.Warmup, "left out of the figures at the start (flood: of each step, at most 1s)")
	fs.Float64Var(&c.Redeliver, "redeliver", c.Redeliver, "fraction of messages Twilio-style redelivered: posted twice at once, to two replicas")
	fs.IntVar(&c.MaxTurns, "max-turns", c.MaxTurns, "messages per citizen before the conversation counts as stuck")
	fs.DurationVar(&c.ReplyTimeout, "reply-timeout", c.ReplyTimeout, "how long a citizen waits for a reply")
	fs.DurationVar(&c.Settle, "settle", c.Settle, "how long a citizen waits for more after a reply that asks nothing")
	fs.IntVar(&c.Conns, "conns", c.Conns, "most webhook connections per replica")
	fs.DurationVar(&c.FloodP99, "flood-p99", c.FloodP99, "flood: a step is sustained if inbound->reply p99 stays below this, with no errors")
	fs.IntVar(&c.FloodSteps, "flood-steps", c.FloodSteps, "flood: most steps")
	fs.DurationVar(&c.VacuumEvery, "vacuum-every", c.VacuumEvery, "VACUUM (ANALYZE) the database's tables this often during the run, standing in for autovacuum (0: never)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level of spawned servers")
	fs.BoolVar(&c.KeepLogs, "keep-logs", false, "keep the spawned servers' configurations and logs (the directory is printed)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	trace := fs.Bool("trace", false, "print the first citizen's conversation to stderr")
	cpuProfile := fs.String("cpuprofile", "", "write the bench's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *trace {
		c.Trace = stderr
	}
	if *targets != "" {
		c.Targets = strings.Split(*targets, ",")
	}
	if !*asJSON {
		c.Progress = stderr
	}
	rep, err := runLoad(ctx, c)
	if rep != nil {
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		} else {
			rep.print(stdout)
		}
	}
	if err != nil {
		return err
	}
	if !rep.Check.Passed {
		return errors.New("consistency check failed")
	}
	return nil
}

// loadReport is the outcome of a load run.
type loadReport struct {
	Mode              string         `json:"mode"`
	Replicas          int            `json:"replicas"`
	Concurrency       int            `json:"concurrency,omitempty"`
	TargetRate        float64        `json:"target_rate,omitempty"`
	DurationS         float64        `json:"duration_seconds"`
	WarmupS           float64        `json:"warmup_seconds"`
	RedeliverFraction float64        `json:"redeliver_fraction"`
	Steady            window         `json:"steady"`
	Steps             []window       `json:"flood_steps,omitempty"`
	MaxSustained      float64        `json:"max_sustained_per_second,omitempty"`
	Citizens          int            `json:"citizens"`
	Completed         int            `json:"completed_case_reports"`
	Messages          int            `json:"inbound_messages"`
	Redeliveries      int            `json:"redeliveries"`
	LateReplies       int            `json:"replies_after_ticket"`
	StaleReplies      int            `json:"replies_after_citizen_answered"`
	Errors            map[string]int `json:"errors"`
	ServerErrors      []string       `json:"server_error_log,omitempty"`
	Check             checkReport    `json:"check"`
	Commit            string         `json:"commit"`
	IdleBefore        float64        `json:"machine_idle_share_before"` // share of CPU idle in the 2 s before the run; -1 unknown
	GOMAXPROCS        int            `json:"bench_gomaxprocs"`
}

// engine drives the citizens of one run.
type engine struct {
	cfg       loadConfig
	targets   []string
	client    *http.Client
	hook      *channeltest.InboundWebhook // Twilio's inbound webhook; nil with the gateway phone
	rec       *recorder
	sidPrefix string
	sidSeq    atomic.Uint64
	rr        atomic.Uint64
	phones    string          // prefix of this run's citizens' numbers
	staff     map[string]bool // every configured officer's and supervisor's phone

	nextCitizen atomic.Int64
	citizens    sync.Map // phone -> *citizen
	allMu       sync.Mutex
	all         []*citizen

	notesMu sync.Mutex
	notes   map[string]map[string]int // ticket code -> staff phone -> messages
	bodies  map[string]int            // staff phone + body -> messages
	noCode  int                       // staff messages without a ticket code

	pg *pgxpool.Pool // for statistics; nil if unavailable
	db string        // the database's name

	tokens chan struct{} // open loop: a message may be sent
	drain  chan struct{} // closed when pacing ends: send at will
	wg     sync.WaitGroup
	live   atomic.Int64 // citizens in conversation
	traced atomic.Bool  // a conversation is being traced
	busy   atomic.Int64 // turns under way (message sent, reply awaited)
}

// citizen is one simulated person making one case report.
type citizen struct {
	phone    string
	replies  chan reply
	code     string // set before done
	done     atomic.Bool
	failed   bool // set by its own goroutine
	received atomic.Int64
}

type reply struct {
	body string
	at   time.Time
}

// maxCitizens bounds the citizens of one run: their numbers have six digits.
const maxCitizens = 1_000_000

func newEngine(c loadConfig, targets []string, staff []string) *engine {
	var rb [4]byte
	rand.Read(rb[:])
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        c.Conns * len(targets),
		MaxIdleConnsPerHost: c.Conns,
		MaxConnsPerHost:     c.Conns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true, // the Accept-Encoding header is set as Twilio sets it
	}
	e := &engine{
		cfg:       c,
		targets:   targets,
		client:    &http.Client{Transport: channeltest.LoopbackOnly(tr), Timeout: 30 * time.Second},
		rec:       newRecorder(),
		sidPrefix: "SM" + hex.EncodeToString(rb[:]),
		phones:    fmt.Sprintf("+62857%02d", mrand.IntN(100)),
		staff:     map[string]bool{},
		notes:     map[string]map[string]int{},
		bodies:    map[string]int{},
	}
	for _, o := range staff {
		e.staff[o] = true
	}
	if c.Provider != "smsgate" {
		e.hook = channeltest.NewInboundWebhook(c.PublicURL, twilio.InboundPath, c.AuthToken, benchServiceNum)
	}
	return e
}

// fakeProvider is the fake SMS provider of a run: the fake Twilio API, or
// the fake gateway phone.
type fakeProvider interface {
	URL() string
	Close()
	OnMessage(func(channeltest.SentMessage))
	KeepMessages(bool)
	Count() int
}

// startFake starts the run's fake provider on c.FakeListen.
func startFake(c loadConfig) (fakeProvider, error) {
	ln, err := net.Listen("tcp", c.FakeListen)
	if err != nil {
		return nil, fmt.Errorf("fake %s: %w", c.Provider, err)
	}
	var f fakeProvider
	switch c.Provider {
	case "twilio":
		f, err = channeltest.ServeFakeTwilio(ln, benchAccountSID, benchAuthToken)
	case "smsgate":
		f, err = channeltest.ServeFakeGateway(ln, channeltest.GatewayOptions{Username: benchGateUser,
			Password: benchGatePassword, SigningKey: benchGateKey})
	default:
		err = fmt.Errorf("--provider %q: want twilio or smsgate", c.Provider)
	}
	if err != nil {
		ln.Close()
		return nil, err
	}
	return f, nil
}

// gatewayReceived is the payload of the fake phone's sms:received.
type gatewayReceived struct {
	MessageID   string `json:"messageId"`
	Message     string `json:"message"`
	PhoneNumber string `json:"phoneNumber"`
	SimNumber   int    `json:"simNumber"`
	ReceivedAt  string `json:"receivedAt"`
}

// request builds the webhook of an inbound SMS: Twilio's, or the gateway
// phone's sms:received with sid as its event ID (the same on a
// redelivery, as the app's retries keep it).
func (e *engine) request(ctx context.Context, base, sid, from, text, token string) *http.Request {
	if e.hook != nil {
		return e.hook.Request(ctx, base, sid, from, text, token)
	}
	now := time.Now()
	body, _ := json.Marshal(struct {
		DeviceID  string          `json:"deviceId"`
		Event     string          `json:"event"`
		ID        string          `json:"id"`
		Payload   gatewayReceived `json:"payload"`
		WebhookID string          `json:"webhookId"`
	}{"ffffffffbench00000000000000000001", smsgate.EventReceived, sid,
		gatewayReceived{sid[len(sid)-12:], text, from, 1, now.Format("2006-01-02T15:04:05.000-07:00")}, "bench-received"})
	return channeltest.NewGatewayRequest(ctx, base+smsgate.Path, benchGateKey, body, now)
}

// runLoad runs one load test: it starts the fake Twilio and, with Spawn,
// the replicas; drives the citizens as Mode says; waits for every
// conversation to end; and checks the stores. The report is returned with
// an error too when there is something to report.
func runLoad(ctx context.Context, c loadConfig) (*loadReport, error) {
	if c.Mode != "closed" && c.Mode != "open" && c.Mode != "flood" {
		return nil, fmt.Errorf("--mode %q: want closed, open or flood", c.Mode)
	}
	fake, err := startFake(c)
	if err != nil {
		return nil, err
	}
	defer fake.Close()
	fake.KeepMessages(false)

	// How quiet the machine is: figures from a busy one do not compare.
	idle := idleShare(2 * time.Second)
	targets := c.Targets
	var (
		cl          *cluster
		stopCluster = func() error { return nil }
	)
	if c.Spawn > 0 {
		unlock, err := lockBench(ctx, c.PostgresURL)
		if err != nil {
			return nil, err
		}
		defer unlock()
		c.AuthToken, c.PublicURL = benchAuthToken, benchPublicURL
		c.EncryptionKey, c.LookupKey = benchEncryptionKey, benchLookupKey
		c.progress("starting %d replica(s)", c.Spawn)
		sc := spawnConfig{N: c.Spawn, Binary: c.Binary, PostgresURL: c.PostgresURL,
			RedisURL: c.RedisURL, TwilioURL: fake.URL(), LogLevel: c.LogLevel, KeepLogs: c.KeepLogs,
			EncryptionKey: c.EncryptionKey, LookupKey: c.LookupKey}
		if c.Provider == "smsgate" {
			sc.GatewayURL = fake.URL()
		}
		cl, err = startCluster(ctx, sc)
		if err != nil {
			return nil, err
		}
		stopped := false
		defer func() {
			if !stopped {
				cl.stop()
			}
		}()
		stopCluster = func() error {
			stopped = true
			return cl.stop()
		}
		if c.KeepLogs {
			c.progress("configurations and logs in %s", cl.dir)
		}
		targets = cl.urls()
	}
	if len(targets) == 0 {
		return nil, errors.New("no servers: use --spawn N or --target URL,...")
	}
	for i, t := range targets {
		targets[i] = strings.TrimRight(t, "/")
		if u, err := url.Parse(targets[i]); err != nil || u.Host == "" {
			return nil, fmt.Errorf("--target %q is not a URL", t)
		}
	}

	var staff []string
	for _, o := range benchOfficers {
		staff = append(staff, o.Phone)
	}
	e := newEngine(c, targets, staff)
	fake.OnMessage(e.onMessage)
	if gw, ok := fake.(*channeltest.FakeGateway); ok {
		// Every replica hears the phone's reports on what it sent, as a
		// sender waits for them whichever replica took its message.
		for i, t := range targets {
			for _, ev := range []string{smsgate.EventSent, smsgate.EventFailed} {
				gw.AddWebhook(fmt.Sprintf("bench-%s-%d", ev, i), t+smsgate.Path, ev)
			}
		}
	}
	if pool, err := pgxpool.New(ctx, c.PostgresURL); err == nil {
		e.pg = pool
		e.db = pool.Config().ConnConfig.Database
		defer pool.Close()
	}
	if e.pg != nil && c.VacuumEvery > 0 {
		vctx, stopVacuum := context.WithCancel(ctx)
		vdone := make(chan struct{})
		go func() {
			defer close(vdone)
			e.vacuum(vctx, c.VacuumEvery)
		}()
		defer func() {
			stopVacuum()
			<-vdone
		}()
	}
	rep := &loadReport{Commit: commitOf(), IdleBefore: idle, GOMAXPROCS: runtime.GOMAXPROCS(0), Mode: c.Mode, Replicas: len(targets), DurationS: c.Duration.Seconds(),
		WarmupS: c.Warmup.Seconds(), RedeliverFraction: c.Redeliver}
	var pids []int
	if cl != nil {
		pids = cl.pids()
	}

	switch c.Mode {
	case "closed":
		rep.Concurrency = c.Concurrency
		rep.Steady = e.runClosed(ctx, pids)
	case "open":
		rep.TargetRate = c.Rate
		rep.Steady = e.runOpen(ctx, pids)
	case "flood":
		rep.Steps, rep.MaxSustained = e.runFlood(ctx, pids)
		for _, s := range rep.Steps {
			if s.Sustained != nil && *s.Sustained && s.TargetRate == rep.MaxSustained {
				rep.Steady = s
			}
		}
	}
	c.progress("waiting for the conversations under way to end")
	e.finish()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	checkCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if cl != nil {
		if err := cl.exitedEarly(); err != nil {
			return nil, err
		}
	}
	rep.Check = e.check(checkCtx, c.PostgresURL, fake)
	rep.Messages, rep.Completed, rep.Redeliveries, rep.LateReplies, rep.StaleReplies, rep.Errors = e.rec.totals()
	rep.Citizens = len(e.all)
	err = stopCluster()
	if cl != nil {
		rep.ServerErrors = cl.errLines[:min(len(cl.errLines), 10)]
	}
	return rep, err
}

func (c loadConfig) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "aduan-bench: "+format+"\n", args...)
	}
}

// vacuum runs VACUUM (ANALYZE) on the database's tables every interval
// until ctx is done. The bench's PostgreSQL may run without autovacuum (the
// development machines' does, to keep tests quick); on a production server
// autovacuum would clean the outbox's dead rows and keep the planner's
// statistics current, and without either, the outbox's partial index fills
// with dead entries and plans made against the freshly emptied tables
// stand. Its cost counts as PostgreSQL's, as autovacuum's would.
func (e *engine) vacuum(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rows, err := e.pg.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema()`)
		if err != nil {
			continue
		}
		var tables []string
		for rows.Next() {
			var name string
			if rows.Scan(&name) == nil {
				tables = append(tables, name)
			}
		}
		rows.Close()
		if len(tables) > 0 {
			e.pg.Exec(ctx, "VACUUM (ANALYZE) "+strings.Join(tables, ", "))
		}
	}
}

// runClosed keeps Concurrency citizens in conversation for Duration; a
// citizen who finishes is followed by a new one. Conversations under way
// at the end are finished by finish.
func (e *engine) runClosed(ctx context.Context, pids []int) window {
	c := e.cfg
	c.progress("closed loop: %d citizens for %v", c.Concurrency, c.Duration)
	start := time.Now()
	deadline := start.Add(c.Duration)
	for range c.Concurrency {
		e.wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				e.converse(ctx, e.newCitizen(), false)
			}
		})
	}
	return e.measure(ctx, start, c.Warmup, c.Duration, pids)
}

// measure waits until start+to and returns the window [start+from,
// start+to) with the CPU used in it.
func (e *engine) measure(ctx context.Context, start time.Time, from, to time.Duration, pids []int) window {
	sleepUntil(ctx, start.Add(from))
	a, pa := readCPU(pids, e.db), readPG(ctx, e.pg)
	sleepUntil(ctx, start.Add(to))
	b, pb := readCPU(pids, e.db), readPG(ctx, e.pg)
	w := e.rec.window(e.rec.since(start.Add(from)), e.rec.since(start.Add(to)))
	w.CPU = cpuBetween(a, b)
	w.PG = pgBetween(pa, pb, w.Messages)
	return w
}

func sleepUntil(ctx context.Context, t time.Time) {
	select {
	case <-time.After(time.Until(t)):
	case <-ctx.Done():
	}
}

// runOpen sends messages at Rate for Duration.
func (e *engine) runOpen(ctx context.Context, pids []int) window {
	c := e.cfg
	c.progress("open loop: %.0f messages/s for %v", c.Rate, c.Duration)
	e.tokens, e.drain = make(chan struct{}), make(chan struct{})
	start := time.Now()
	var w window
	done := make(chan struct{})
	go func() {
		w = e.measure(ctx, start, c.Warmup, c.Duration, pids)
		close(done)
	}()
	e.pace(ctx, start, c.Rate, c.Duration)
	<-done
	w.TargetRate = c.Rate
	return w
}

// runFlood raises the rate step by step until a step is not sustained,
// then narrows down between the last sustained rate and the first failed
// one. It returns every step and the highest sustained rate.
func (e *engine) runFlood(ctx context.Context, pids []int) ([]window, float64) {
	c := e.cfg
	e.tokens, e.drain = make(chan struct{}), make(chan struct{})
	warm := min(c.Warmup, time.Second)
	var (
		steps  []window
		lo, hi float64
		rate   = c.Rate
	)
	for i := 0; i < c.FloodSteps && ctx.Err() == nil; i++ {
		e.idle(ctx, 60*time.Second)
		c.progress("flood step %d: %.0f messages/s for %v", i+1, rate, c.Duration)
		start := time.Now()
		var w window
		done := make(chan struct{})
		go func() {
			w = e.measure(ctx, start, warm, c.Duration, pids)
			close(done)
		}()
		e.pace(ctx, start, rate, c.Duration)
		<-done
		w.TargetRate = rate
		ok := w.ErrorCount == 0 && w.MessagesPerS >= 0.97*rate && w.Reply.N > 0 && w.Reply.P99 <= ms(c.FloodP99)
		w.Sustained = &ok
		if !ok {
			w.SustainedNote = fmt.Sprintf("achieved %.0f/s, reply p99 %s ms, errors: %s", w.MessagesPerS, fnum(w.Reply.P99), errorsText(w.Errors))
		}
		c.progress("  %.0f messages/s, webhook %v, reply %v, errors: %s: sustained %v",
			w.MessagesPerS, w.Webhook, w.Reply, errorsText(w.Errors), ok)
		steps = append(steps, w)
		if ok {
			lo = rate
		} else {
			hi = rate
		}
		switch {
		case hi == 0:
			rate = roundRate(rate * c.FloodFactor)
		case hi-lo <= max(100, 0.05*lo):
			return steps, lo
		default:
			rate = roundRate((lo + hi) / 2)
		}
	}
	return steps, lo
}

func roundRate(r float64) float64 { return float64(int(r/50+0.5) * 50) }

// idle waits until no turn is under way, at most timeout.
func (e *engine) idle(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for e.busy.Load() > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
}

// pace hands out rate messages a second for d: each to a citizen waiting
// to answer, or, if none is, to a new citizen.
func (e *engine) pace(ctx context.Context, start time.Time, rate float64, d time.Duration) {
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	issued := 0
	for {
		var now time.Time
		select {
		case now = <-tick.C:
		case <-ctx.Done():
			return
		}
		el := now.Sub(start)
		if el >= d {
			return
		}
		for due := int(rate*el.Seconds()) - issued; due > 0; due-- {
			issued++
			select {
			case e.tokens <- struct{}{}:
				continue
			default:
			}
			if e.live.Load() >= int64(e.cfg.MaxLive) {
				e.rec.fail("no citizen free (overload)")
				continue
			}
			c := e.newCitizen()
			e.live.Add(1)
			e.wg.Go(func() {
				defer e.live.Add(-1)
				e.converse(ctx, c, true)
			})
		}
	}
}

// wait blocks until the citizen may send its next message: at once in a
// closed loop, on a token in an open one, at once once pacing has ended.
func (e *engine) wait(ctx context.Context) bool {
	if e.tokens == nil {
		return ctx.Err() == nil
	}
	select {
	case <-e.tokens:
		return true
	case <-e.drain:
		return true
	case <-ctx.Done():
		return false
	}
}

// finish lets every conversation under way end, unpaced, and waits.
func (e *engine) finish() {
	if e.drain != nil {
		close(e.drain)
	}
	e.wg.Wait()
}

func (e *engine) newCitizen() *citizen {
	n := e.nextCitizen.Add(1) - 1
	c := &citizen{phone: e.phones + fmt.Sprintf("%06d", n%maxCitizens), replies: make(chan reply, 16)}
	if n >= maxCitizens {
		e.rec.fail("too many citizens for one run")
	}
	e.citizens.Store(c.phone, c)
	e.allMu.Lock()
	e.all = append(e.all, c)
	e.allMu.Unlock()
	return c
}

// onMessage is the fake Twilio's callback: it hands a reply to its citizen
// and counts the messages to officers and supervisors.
func (e *engine) onMessage(m channeltest.SentMessage) {
	now := time.Now()
	if e.staff[m.To] {
		code := findCode(m.Body)
		e.notesMu.Lock()
		if code == "" {
			e.noCode++
		} else {
			if e.notes[code] == nil {
				e.notes[code] = map[string]int{}
			}
			e.notes[code][m.To]++
		}
		e.bodies[m.To+"\x00"+m.Body]++
		e.notesMu.Unlock()
		return
	}
	v, ok := e.citizens.Load(m.To)
	if !ok {
		e.rec.fail("message to an unknown number")
		return
	}
	c := v.(*citizen)
	c.received.Add(1)
	if c.done.Load() {
		if strings.Contains(m.Body, c.code) {
			e.rec.fail("ticket code sent twice")
		} else {
			e.rec.lateReply()
		}
		return
	}
	select {
	case c.replies <- reply{m.Body, now}:
	default:
		e.rec.fail("replies piling up")
	}
}

// converse runs one citizen's conversation until a reply carries a ticket
// code. With paced, the first message has been paced already.
func (e *engine) converse(ctx context.Context, c *citizen, paced bool) {
	text := "halo"
	trace := e.cfg.Trace
	if trace != nil && !e.traced.CompareAndSwap(false, true) {
		trace = nil
	}
	for turn := 0; ; turn++ {
		if turn >= e.cfg.MaxTurns {
			e.rec.fail("no ticket after max turns")
			c.failed = true
			return
		}
		if (turn > 0 || !paced) && !e.wait(ctx) {
			c.failed = true
			return
		}
		rs, ok := e.turn(ctx, c, text)
		if trace != nil {
			fmt.Fprintf(trace, "> %s\n", text)
			for _, r := range rs {
				fmt.Fprintf(trace, "< %s\n", strings.ReplaceAll(r.body, "\n", "\n  "))
			}
		}
		if !ok {
			c.failed = true
			return
		}
		for _, r := range rs {
			if code := findCode(r.body); code != "" {
				c.code = code
				c.done.Store(true)
				e.rec.ticket(r.at)
				// Replies that came with the code but after it.
				for range len(c.replies) {
					e.onLate(c, <-c.replies)
				}
				return
			}
		}
		text = answer(rs[len(rs)-1].body, turn)
	}
}

func (e *engine) onLate(c *citizen, r reply) {
	if strings.Contains(r.body, c.code) {
		e.rec.fail("ticket code sent twice")
	} else {
		e.rec.lateReply()
	}
}

// turn sends one message (twice at once, to two replicas, if it is to be
// redelivered) and gathers the replies to it. It returns false, having
// recorded why, if the message was not accepted or no reply came.
func (e *engine) turn(ctx context.Context, c *citizen, text string) ([]reply, bool) {
	e.busy.Add(1)
	defer e.busy.Add(-1)
	sid := e.sidPrefix + fmt.Sprintf("%024x", e.sidSeq.Add(1))
	start := time.Now()
	i := int(e.rr.Add(1))
	redeliver := e.cfg.Redeliver > 0 && mrand.Float64() < e.cfg.Redeliver
	ok := false
	if redeliver {
		token := channeltest.NewIdempotencyToken()
		var ok1, ok2 bool
		var wg sync.WaitGroup
		wg.Go(func() { ok1 = e.post(ctx, i, sid, c.phone, text, token) })
		ok2 = e.post(ctx, i+1, sid, c.phone, text, token)
		wg.Wait()
		ok = ok1 && ok2
	} else {
		ok = e.post(ctx, i, sid, c.phone, text, "")
	}
	if !ok {
		return nil, false
	}
	e.rec.accepted(time.Now(), redeliver)

	timer := time.NewTimer(e.cfg.ReplyTimeout)
	defer timer.Stop()
	var rs []reply
	for len(rs) == 0 {
		select {
		case r := <-c.replies:
			if r.at.Before(start) {
				// The end of the last message's replies, come after the
				// citizen took the reply before as the last: the bot reads
				// the citizen's message as the answer to it anyway.
				e.rec.staleReply()
				continue
			}
			e.rec.replied(r.at, r.at.Sub(start))
			rs = append(rs, r)
		case <-timer.C:
			e.rec.fail("no reply within " + e.cfg.ReplyTimeout.String())
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
	for !isPrompt(rs[len(rs)-1].body) {
		select {
		case r := <-c.replies:
			rs = append(rs, r)
		case <-time.After(e.cfg.Settle):
			return rs, true
		case <-ctx.Done():
			return nil, false
		}
	}
	for range len(c.replies) {
		rs = append(rs, <-c.replies)
	}
	for k := 1; k < len(rs); k++ {
		if rs[k].body == rs[k-1].body {
			e.rec.fail("same reply twice")
		}
	}
	return rs, true
}

// post delivers a webhook as Twilio does, retrying on failure (on the next
// replica, as a load balancer would) up to five times. token, when set, is
// the idempotency token of a redelivery.
func (e *engine) post(ctx context.Context, i int, sid, from, text, token string) bool {
	for attempt := range 5 {
		base := e.targets[(i+attempt)%len(e.targets)]
		req := e.request(ctx, base, sid, from, text, token)
		t0 := time.Now()
		res, err := e.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return false
			}
			e.rec.fail("webhook: " + netErrKind(err))
		} else {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			end := time.Now()
			if res.StatusCode == http.StatusOK {
				e.rec.webhookDone(end, end.Sub(t0))
				return true
			}
			e.rec.fail("webhook HTTP " + strconv.Itoa(res.StatusCode))
		}
		select {
		case <-time.After(time.Duration(attempt+1) * 100 * time.Millisecond):
		case <-ctx.Done():
			return false
		}
	}
	return false
}

func netErrKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection refused"
	case strings.Contains(err.Error(), "reset"):
		return "connection reset"
	}
	return "connection error"
}

// print writes the report as text.
func (r *loadReport) print(w io.Writer) {
	fmt.Fprintf(w, "commit %s; machine idle %s in the 2 s before the run (a quiet machine is above 95%%)\n",
		r.Commit, percent(r.IdleBefore))
	switch r.Mode {
	case "closed":
		fmt.Fprintf(w, "closed loop, %d citizens at once, %d replica(s), %.0fs (first %.0fs left out), %.1f%% redelivered\n",
			r.Concurrency, r.Replicas, r.DurationS, r.WarmupS, 100*r.RedeliverFraction)
	case "open":
		fmt.Fprintf(w, "open loop at %.0f messages/s, %d replica(s), %.0fs (first %.0fs left out), %.1f%% redelivered\n",
			r.TargetRate, r.Replicas, r.DurationS, r.WarmupS, 100*r.RedeliverFraction)
	case "flood":
		fmt.Fprintf(w, "flood, %d replica(s), steps of %.0fs, %.1f%% redelivered\n", r.Replicas, r.DurationS, 100*r.RedeliverFraction)
		for _, s := range r.Steps {
			verdict := "sustained"
			if s.Sustained == nil || !*s.Sustained {
				verdict = "NOT sustained"
			}
			fmt.Fprintf(w, "  %6.0f/s -> %6.0f/s  webhook p99 %7s ms  reply p99 %7s ms  errors %d  %s\n",
				s.TargetRate, s.MessagesPerS, fnum(s.Webhook.P99), fnum(s.Reply.P99), s.ErrorCount, verdict)
		}
		fmt.Fprintf(w, "highest sustained rate     %.0f messages/s\n", r.MaxSustained)
	}
	s := r.Steady
	fmt.Fprintf(w, "inbound messages           %.0f/s (%d in %.0fs)\n", s.MessagesPerS, s.Messages, s.Seconds)
	fmt.Fprintf(w, "completed case reports     %.1f/s (%d)\n", s.TicketsPerS, s.Tickets)
	fmt.Fprintf(w, "webhook answered           %v\n", s.Webhook)
	fmt.Fprintf(w, "inbound -> reply sent      %v\n", s.Reply)
	fmt.Fprintf(w, "errors                     %s\n", errorsText(s.Errors))
	if s.CPU != nil {
		fmt.Fprintf(w, "CPU, cores                 %v\n", *s.CPU)
		fmt.Fprintf(w, "CPU ms per message         %s\n", s.CPU.perMessage(s.MessagesPerS))
	}
	if s.PG != nil {
		fmt.Fprintf(w, "PostgreSQL per message     %v\n", *s.PG)
	}
	fmt.Fprintf(w, "whole run                  %d citizens, %d case reports, %d messages (%d redelivered), errors: %s\n",
		r.Citizens, r.Completed, r.Messages, r.Redeliveries, errorsText(r.Errors))
	if r.StaleReplies > 0 {
		fmt.Fprintf(w, "                           %d replies came more than --settle after the one before, once the citizen had answered\n", r.StaleReplies)
	}
	for _, l := range r.ServerErrors {
		fmt.Fprintf(w, "server error log           %s\n", l)
	}
	r.Check.print(w)
}
