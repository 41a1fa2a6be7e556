package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
	"aduan/store/sqlstore"
)

// chaosScript is what every citizen of a chaos run sends, one message
// after each reply: a whole case report by a relative, the victim safe
// ("2"), physical and sexual violence ("1 3"), an adult woman, Borong,
// confirmed with "ya". Each citizen plays the same script, so that its
// replies can be compared with those of a run without faults.
var chaosScript = []string{"halo", "1", "2", "2", "1 3", "3", "Borong", "Nggalak", "1",
	"Kakak sy dipukul suaminya td mlm", "1", "3", "ya"}

// chaosCodeRE finds ticket codes, which differ from one run to the next.
var chaosCodeRE = regexp.MustCompile(`\b[A-Z]{2,4}-[2-9A-HJ-NP-Z]{5,6}\b`)

func chaosCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("chaos", stderr)
	kills := fs.Int("kills", 6, "kill -9 and restart a replica this many times during the run")
	convs := fs.Int("conversations", 1500, "case reports to make, in all")
	concurrency := fs.Int("concurrency", 48, "citizens in conversation at once")
	replicas := fs.Int("replicas", 2, "`aduan serve` replicas (webhooks go round-robin; a killed one's go to the others)")
	bin := fs.String("aduan", "", "a built aduan binary (default: go build aduan/cmd/aduan)")
	pgURL := fs.String("postgres", defaultPostgresURL, "the servers' database: created, migrated and emptied")
	redisURL := fs.String("redis", defaultRedisURL, "the servers' Redis DB: flushed")
	keepLogs := fs.Bool("keep-logs", false, "keep the replicas' configurations and logs (the directory is printed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *replicas < 1 || *convs < 1 || *concurrency < 1 || *kills < 0 {
		return fmt.Errorf("chaos: --replicas, --conversations and --concurrency must be positive, --kills not negative")
	}
	r, err := runChaos(ctx, chaosConfig{Kills: *kills, Conversations: *convs, Concurrency: *concurrency,
		Replicas: *replicas, Binary: *bin, PostgresURL: *pgURL, RedisURL: *redisURL, KeepLogs: *keepLogs, Progress: stderr})
	if r != nil {
		r.print(stdout)
	}
	if err != nil {
		return err
	}
	return r.verdict()
}

type chaosConfig struct {
	Kills, Conversations, Concurrency, Replicas int
	Binary, PostgresURL, RedisURL               string
	KeepLogs                                    bool
	Progress                                    io.Writer
}

// chaosReport is what a chaos run found.
type chaosReport struct {
	Kills         int
	Conversations int           // citizens who played the script to its end
	Messages      int64         // messages accepted (answered 200)
	Took          time.Duration // the run, kills included
	Unanswered    int64         // messages accepted and never answered with the expected reply
	Rollbacks     int64         // replies that are not the fault-free run's reply to that message, nor a repeat of an earlier one
	Repeated      int64         // messages the fake Twilio received more than the outbox holds: sends repeated after a kill
	Lost          int           // citizens who confirmed and have no ticket
	Duplicates    int           // tickets beyond one per citizen
	Wrong         int           // tickets whose answers are not the script's, or urgent
	Darurat       int           // DARURAT notifications (none is due: the victim is safe)
	Examples      []string
}

func (r *chaosReport) example(s string) {
	if len(r.Examples) < 5 {
		r.Examples = append(r.Examples, s)
	}
}

func (r *chaosReport) print(w io.Writer) {
	fmt.Fprintf(w, "commit                     %s\n", commitOf())
	fmt.Fprintf(w, "kills                      %d (kill -9, then restart)\n", r.Kills)
	fmt.Fprintf(w, "conversations              %d case reports, %d messages accepted, in %s\n", r.Conversations, r.Messages,
		r.Took.Round(time.Second))
	fmt.Fprintf(w, "unanswered                 %d\n", r.Unanswered)
	fmt.Fprintf(w, "rollbacks                  %d (replies to the wrong question)\n", r.Rollbacks)
	fmt.Fprintf(w, "reports lost               %d\n", r.Lost)
	fmt.Fprintf(w, "duplicate tickets          %d\n", r.Duplicates)
	fmt.Fprintf(w, "tickets with wrong answers %d (DARURAT sent: %d)\n", r.Wrong, r.Darurat)
	fmt.Fprintf(w, "repeated sends             %d (sent again after a kill: at least once, see docs/OPERATIONS.md)\n", r.Repeated)
	for _, e := range r.Examples {
		fmt.Fprintf(w, "  e.g. %s\n", e)
	}
}

// verdict fails the run for anything but repeated sends.
func (r *chaosReport) verdict() error {
	if r.Unanswered+r.Rollbacks > 0 || r.Lost+r.Duplicates+r.Wrong+r.Darurat > 0 {
		return fmt.Errorf("chaos: the service lost or misapplied messages")
	}
	return nil
}

// chaosCitizen is one citizen's inbox: the replies the fake Twilio got
// for their number.
type chaosCitizen struct {
	mu      sync.Mutex
	replies []string
	wake    chan struct{}
}

func runChaos(ctx context.Context, c chaosConfig) (*chaosReport, error) {
	progress := func(format string, args ...any) {
		if c.Progress != nil {
			fmt.Fprintf(c.Progress, "chaos: "+format+"\n", args...)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	fake, err := channeltest.ServeFakeTwilio(ln, benchAccountSID, benchAuthToken)
	if err != nil {
		ln.Close()
		return nil, err
	}
	defer fake.Close()
	var (
		inboxMu sync.Mutex
		inboxes = map[string]*chaosCitizen{}
	)
	inbox := func(phone string) *chaosCitizen {
		inboxMu.Lock()
		defer inboxMu.Unlock()
		ci := inboxes[phone]
		if ci == nil {
			ci = &chaosCitizen{wake: make(chan struct{}, 1)}
			inboxes[phone] = ci
		}
		return ci
	}
	fake.OnMessage(func(m channeltest.SentMessage) {
		ci := inbox(m.To)
		ci.mu.Lock()
		ci.replies = append(ci.replies, chaosCodeRE.ReplaceAllString(m.Body, "CODE"))
		ci.mu.Unlock()
		select {
		case ci.wake <- struct{}{}:
		default:
		}
	})

	unlock, err := lockBench(ctx, c.PostgresURL)
	if err != nil {
		return nil, err
	}
	defer unlock()
	progress("starting %d replica(s)", c.Replicas)
	cl, err := startCluster(ctx, spawnConfig{N: c.Replicas, Binary: c.Binary, PostgresURL: c.PostgresURL,
		RedisURL: c.RedisURL, TwilioURL: fake.URL(), LogLevel: "warn", KeepLogs: c.KeepLogs,
		EncryptionKey: benchEncryptionKey, LookupKey: benchLookupKey})
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	if c.KeepLogs {
		progress("configurations and logs in %s", cl.dir)
	}

	hook := channeltest.NewInboundWebhook(benchPublicURL, twilio.InboundPath, benchAuthToken, benchServiceNum)
	client := &http.Client{Transport: channeltest.LoopbackOnly(&http.Transport{MaxIdleConnsPerHost: c.Concurrency}),
		Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	var (
		rr     atomic.Uint64
		report = &chaosReport{}
		mu     sync.Mutex
		urls   = cl.urls() // a restarted replica keeps its address
	)
	// post delivers a webhook as Twilio does: again, with the same SID,
	// until it is answered 200 (on the next replica when one is down).
	post := func(sid, from, text string) bool {
		for try := 0; try < 300; try++ {
			req := hook.Request(ctx, urls[rr.Add(1)%uint64(len(urls))], sid, from, text, "")
			res, err := client.Do(req)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusOK {
					return true
				}
			}
			select {
			case <-ctx.Done():
				return false
			case <-time.After(200 * time.Millisecond):
			}
		}
		return false
	}
	// play has the citizen send the script, each message once the reply
	// to the one before came, and returns the replies it got.
	play := func(phone string, id int) []string {
		ci := inbox(phone)
		for step, text := range chaosScript {
			ci.mu.Lock()
			want := len(ci.replies) + 1
			ci.mu.Unlock()
			if !post(fmt.Sprintf("SMchaos%08d%04d", id, step), phone, text) {
				return nil
			}
			mu.Lock()
			report.Messages++
			mu.Unlock()
			deadline := time.After(60 * time.Second)
		wait:
			for {
				ci.mu.Lock()
				n := len(ci.replies)
				ci.mu.Unlock()
				if n >= want {
					break
				}
				select {
				case <-ci.wake:
				case <-deadline:
					break wait
				case <-ctx.Done():
					return nil
				}
			}
			time.Sleep(20 * time.Millisecond) // a reply of several messages comes whole
		}
		time.Sleep(100 * time.Millisecond)
		ci.mu.Lock()
		defer ci.mu.Unlock()
		return append([]string(nil), ci.replies...)
	}

	progress("a citizen without faults, for reference")
	reference := play("+628129000000", 0)
	if len(reference) == 0 || !strings.Contains(reference[len(reference)-1], "CODE") {
		return nil, fmt.Errorf("chaos: the fault-free conversation did not end with a ticket code: %q", reference)
	}

	start := time.Now()
	var (
		next    atomic.Int64
		done    atomic.Int64
		results = make([][]string, c.Conversations)
		wg      sync.WaitGroup
	)
	for range c.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= c.Conversations || ctx.Err() != nil {
					return
				}
				results[i] = play(fmt.Sprintf("+62813%08d", i+1), i+1)
				done.Add(1)
			}
		})
	}
	// The killer: spread the kills over the run, by progress.
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for k := 0; k < c.Kills; k++ {
			at := int64((k + 1) * c.Conversations / (c.Kills + 1))
			for done.Load() < at && ctx.Err() == nil && done.Load() < int64(c.Conversations) {
				time.Sleep(50 * time.Millisecond)
			}
			if ctx.Err() != nil {
				return
			}
			i := k % len(cl.replicas)
			progress("kill -9 replica %d (%d of %d reports done)", i+1, done.Load(), c.Conversations)
			if err := cl.restart(ctx, i, k); err != nil {
				progress("restart replica %d: %v", i+1, err)
				return
			}
			report.Kills++
		}
	}()
	wg.Wait()
	<-killed
	report.Took = time.Since(start)
	progress("conversations done; waiting for the outbox to drain")
	for last, stable := -1, 0; stable < 10; time.Sleep(500 * time.Millisecond) {
		if n := fake.Count(); n == last {
			stable++
		} else {
			last, stable = n, 0
		}
	}

	// Replies: each citizen's, compared with the reference.
	for i, got := range results {
		if got == nil {
			report.Unanswered++
			report.example(fmt.Sprintf("citizen %d: gave up", i+1))
			continue
		}
		report.Conversations++
		unanswered, wrong := compareReplies(reference, got)
		report.Unanswered += int64(unanswered)
		report.Rollbacks += int64(wrong)
		if unanswered+wrong > 0 {
			report.example(fmt.Sprintf("citizen %d: %d unanswered, %d wrong: %q", i+1, unanswered, wrong, got))
		}
	}
	// Tickets, and the outbox against what was sent.
	keys, err := keyring(benchEncryptionKey, benchLookupKey)
	if err != nil {
		return report, err
	}
	pg, err := sqlstore.OpenPostgres(ctx, c.PostgresURL, sqlstore.WithKeyring(keys))
	if err != nil {
		return report, err
	}
	defer pg.Close()
	ts, err := pg.Tickets(ctx, bot.TicketFilter{})
	if err != nil {
		return report, err
	}
	per := map[string]int{}
	for _, t := range ts {
		per[t.Reporter]++
		if t.Urgent || t.Answers["safe"] != "yes" || t.Answers["violence"] != "physical,sexual" || t.Answers["reporter"] != "family" {
			report.Wrong++
			report.example(fmt.Sprintf("ticket %s: urgent %v, answers %v", t.Code, t.Urgent, t.Answers))
		}
	}
	for i := range c.Conversations {
		switch n := per[fmt.Sprintf("+62813%08d", i+1)]; {
		case n == 0:
			report.Lost++
		case n > 1:
			report.Duplicates += n - 1
		}
	}
	var outboxRows int64
	if err := pg.Pool().QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&outboxRows); err != nil {
		return report, err
	}
	report.Repeated = int64(fake.Count()) - outboxRows
	for _, m := range fake.Messages() {
		if strings.Contains(m.Body, "DARURAT") {
			report.Darurat++
		}
	}
	return report, nil
}

// compareReplies compares a citizen's replies with the reference run's.
// A reply equal to the one expected next moves on; one equal to a reply
// already had is a repeated send; anything else is a reply to the wrong
// question. Expected replies never seen are unanswered.
func compareReplies(reference, got []string) (unanswered, wrong int) {
	next := 0
	for _, r := range got {
		switch {
		case next < len(reference) && r == reference[next]:
			next++
		case contains(reference[:next], r): // sent again after a kill
		default:
			wrong++
		}
	}
	return len(reference) - next, wrong
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// restart kills replica i with SIGKILL and starts it again on the same
// configuration (and so the same address), with a log of its own.
func (c *cluster) restart(ctx context.Context, i, k int) error {
	r := c.replicas[i]
	if err := r.cmd.Process.Kill(); err != nil {
		return err
	}
	<-r.exited
	cfgPath := filepath.Join(c.dir, fmt.Sprintf("aduan-%d.yaml", i+1))
	if _, err := os.Stat(cfgPath); err != nil {
		return err
	}
	nr, err := startReplica(r.cmd.Path, cfgPath, filepath.Join(c.dir, fmt.Sprintf("aduan-%d-restart%d.log", i+1, k+1)), r.url)
	if err != nil {
		return err
	}
	c.replicas[i] = nr
	return nr.waitReady(ctx, 60*time.Second)
}
