package bot_test

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/dialog/flows"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

var update = flag.Bool("update", false, "rewrite the transcripts from what the pipeline says now")

// Transcripts are conversations replayed through the real pipeline
// (bot.Service and bot.Dispatcher on PostgreSQL and Redis), one file per
// path, in testdata/transcripts:
//
//	# a comment
//	! from 081337785111      who types from now on (default: the citizen)
//	! wait 25h               the clock moves on
//	! lose-redis             Redis forgets every conversation
//	! lose-state             ... and the stored checkpoints no longer open
//	! media                  a message with an attachment and no text, not fetched (SMS)
//	! photo [caption]        a message with a photo the channel fetched
//	! location text          a shared location, as the WhatsApp channel gives it
//	! via whatsapp           the citizen writes on WhatsApp from now on (the linked
//	                         device, which can take messages back); "! via sms" again
//	! limit 5                (before the first message) each sender may send 5 a minute
//	> text                   a message; {code} is the last ticket code seen,
//	                         {code:loose} the same typed loosely (lower case, no dash),
//	                         {code:spaced} lower case with a space for the dash
//	< text                   what the service sends back to whoever typed
//	<@+62... text            what it sends to someone else
//	| more                   the next line of the same message
//
// Ticket codes print as their prefix and XXXXXX. Run with -update to
// rewrite the files, then read the diff.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Errorf("%d transcripts, want at least 40", len(files))
	}
	env := newPipelineEnv(t)
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			env.reset(t)
			want, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			got, sent := env.replay(t, string(want))
			checkNothingLost(t, env, sent)
			if *update {
				if err := os.WriteFile(f, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("transcript differs (run go test ./bot -run TestTranscripts -update and read the diff)\n%s",
					lineDiff(string(want), got))
			}
		})
	}
}

const transcriptCitizen = "+6281299990001"

var transcriptOfficers = []bot.Officer{
	{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: bot.RoleOfficer},
	{Name: "Tija Ndaka", Phone: "+6281337973213", Role: bot.RoleOfficer},
	{Name: "Kepala Dinas", Phone: "+6281234567890", Role: bot.RoleSupervisor},
}

// pipelineEnv is the real pipeline on the test database and Redis DB.
type pipelineEnv struct {
	pg    *sqlstore.Store
	rd    *redis.Conversations
	clock *fakeClock
	sent  *recorder
}

func newPipelineEnv(t *testing.T) *pipelineEnv {
	t.Helper()
	ctx := context.Background()
	keys := seal.Random()
	pg, err := sqlstore.OpenPostgres(ctx, testenv.PostgresURL(t, "bot"), sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	rd, err := redis.Open(ctx, testenv.RedisURL(2), redis.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	return &pipelineEnv{pg: pg, rd: rd, clock: &fakeClock{t: transcriptStart},
		sent: &recorder{}}
}

func (e *pipelineEnv) reset(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.pg.Pool().Exec(ctx, "TRUNCATE tickets, ticket_events, inbound_seen, outbox, opt_outs, digests, conversations RESTART IDENTITY CASCADE"); err != nil {
		t.Fatal(err)
	}
	if err := e.rd.Client().FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	e.sent.take("")
	e.clock.Set(transcriptStart)
}

// transcriptStart is when every transcript begins: a Friday, 09:00 WITA.
var transcriptStart = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

// start runs a Service and Dispatcher until the test ends.
func (e *pipelineEnv) start(t *testing.T, opts ...func(*bot.Config)) (*bot.Service, *bot.Dispatcher) {
	t.Helper()
	book, err := flows.Load("")
	if err != nil {
		t.Fatal(err)
	}
	out := bot.NewDispatcher(bot.DispatcherConfig{Store: e.pg, Now: e.clock.Now, PollInterval: time.Hour,
		Senders: map[bot.Channel]bot.Sender{bot.SMS: e.sent, bot.WhatsApp: e.sent}})
	cfg := bot.Config{Store: e.pg, Conversations: e.rd, Book: book, Officers: transcriptOfficers,
		Outbox: out, Now: e.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	svc := bot.NewService(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out.Run(ctx) }()
	go func() { defer wg.Done(); svc.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	for !svc.Running() {
		time.Sleep(time.Millisecond)
	}
	return svc, out
}

var codeRE = regexp.MustCompile(`\b([A-Z]{2,4})-[2-9A-HJ-NP-Z]{5,6}\b`)

// replay plays the inputs of a transcript and returns it rewritten with what
// the pipeline said, and what the citizens sent.
func (e *pipelineEnv) replay(t *testing.T, script string) (string, []sentMessage) {
	t.Helper()
	var opts []func(*bot.Config)
	for _, line := range strings.Split(script, "\n") {
		if n, ok := strings.CutPrefix(line, "! limit "); ok {
			per, err := strconv.Atoi(strings.TrimSpace(n))
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			opts = append(opts, func(c *bot.Config) {
				c.Limits, c.Counter = bot.Limits{PerSender: per, Window: time.Minute}, e.rd
			})
		}
	}
	// The linked WhatsApp device can take the service's messages back.
	opts = append(opts, func(c *bot.Config) { c.Wiper = func(bot.Channel, string) {} })
	svc, out := e.start(t, opts...)
	ctx := context.Background()
	var (
		b    strings.Builder
		from = transcriptCitizen
		via  = bot.SMS
		code string
		seq  int
		sent []sentMessage
	)
	send := func(text string, media int, files ...bot.File) {
		seq++
		m := bot.Inbound{Channel: via, ExternalID: fmt.Sprintf("SM%s%06d", t.Name(), seq), From: from,
			To: "+6281100000000", Text: text, Media: media, Files: files, Received: e.clock.Now()}
		if _, staff := staffPhones[from]; !staff {
			sent = append(sent, e.before(t, m))
		}
		if err := svc.Handle(ctx, m); err != nil {
			t.Fatalf("handle %q: %v", text, err)
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := out.Wait(wctx); err != nil {
			t.Fatalf("waiting for replies: %v", err)
		}
		for _, m := range e.sent.take(from) {
			if m.TicketCode != "" {
				code = m.TicketCode
			}
			body := codeRE.ReplaceAllString(m.Body, "${1}-XXXXXX")
			prefix := "< "
			if m.To != from {
				prefix = "<@" + m.To + " "
			}
			lines := strings.Split(body, "\n")
			b.WriteString(prefix + lines[0] + "\n")
			for _, l := range lines[1:] {
				b.WriteString("| " + l + "\n")
			}
		}
	}
	sc := bufio.NewScanner(strings.NewReader(script))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "<"), strings.HasPrefix(line, "| "), line == "|":
			continue // output: rewritten below
		case strings.HasPrefix(line, "> "):
			b.WriteString(line + "\n")
			text := strings.TrimPrefix(line, "> ")
			text = strings.ReplaceAll(text, "{code:loose}", strings.ToLower(strings.ReplaceAll(code, "-", "")))
			text = strings.ReplaceAll(text, "{code:spaced}", strings.ToLower(strings.ReplaceAll(code, "-", " ")))
			text = strings.ReplaceAll(text, "{code}", code)
			text = strings.ReplaceAll(text, `\n`, "\n")
			send(text, 0)
		case line == "! media":
			b.WriteString(line + "\n")
			send("", 1)
		case line == "! photo" || strings.HasPrefix(line, "! photo "):
			b.WriteString(line + "\n")
			send(strings.TrimSpace(strings.TrimPrefix(line, "! photo")), 1,
				bot.File{Kind: bot.FileImage, MIME: "image/jpeg", Data: []byte("\xff\xd8 photo " + line)})
		case strings.HasPrefix(line, "! location "):
			b.WriteString(line + "\n")
			text := strings.TrimPrefix(line, "! location ")
			send(text, 0, bot.File{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8", Data: []byte(text)})
		case strings.HasPrefix(line, "! from "):
			b.WriteString(line + "\n")
			from = strings.TrimSpace(strings.TrimPrefix(line, "! from "))
		case strings.HasPrefix(line, "! via "):
			b.WriteString(line + "\n")
			via = bot.Channel(strings.TrimSpace(strings.TrimPrefix(line, "! via ")))
			if via != bot.SMS && via != bot.WhatsApp {
				t.Fatalf("%s: sms or whatsapp", line)
			}
		case strings.HasPrefix(line, "! limit "):
			b.WriteString(line + "\n") // read before the start
		case strings.HasPrefix(line, "! wait "):
			b.WriteString(line + "\n")
			d, err := time.ParseDuration(strings.TrimPrefix(line, "! wait "))
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			e.clock.Advance(d)
		case line == "! lose-redis", line == "! lose-state":
			b.WriteString(line + "\n")
			if err := e.rd.Client().FlushDB(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if line == "! lose-state" {
				// As if sealed under a key no longer configured.
				if _, err := e.pg.Pool().Exec(ctx, `UPDATE conversations SET state = '\xa1ffffffff'::bytea || substring(state from 6)`); err != nil {
					t.Fatal(err)
				}
			}
		case strings.HasPrefix(line, ">"):
			t.Fatalf("bad line %q: a message is \"> text\"", line)
		default:
			b.WriteString(line + "\n")
		}
	}
	return b.String(), sent
}

// recorder is the provider: it keeps what would have been sent.
type recorder struct {
	mu   sync.Mutex
	msgs []bot.Outbound
	seq  int
}

func (r *recorder) Send(_ context.Context, m bot.Outbound) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.msgs = append(r.msgs, m)
	return fmt.Sprintf("SMsent%06d", r.seq), nil
}

// take returns what was sent since the last call: what went to from, then
// what went to others by recipient; each recipient's in outbox order.
func (r *recorder) take(from string) []bot.Outbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.To == from) != (b.To == from) {
			return a.To == from
		}
		if a.To != b.To {
			return a.To < b.To
		}
		return a.ID < b.ID
	})
	return out
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lineDiff shows the first lines where two texts differ.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want: %q\n  got:  %q", i+1, wl, gl)
		}
	}
	return ""
}
