package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// suiteReport holds every figure of docs/BENCHMARKS.md.
type suiteReport struct {
	Machine  string                   `json:"machine"`
	Started  time.Time                `json:"started"`
	Commit   string                   `json:"commit"`
	Runs     int                      `json:"runs"`
	Loads    map[string][]*loadReport `json:"loads"` // by mode-replicas, one report per run
	Redis    *redisMemReport          `json:"redis_memory,omitempty"`
	Seed     *seedReport              `json:"seed,omitempty"`
	Lookups  []lookupReport           `json:"lookups,omitempty"`
	Failures []string                 `json:"failures,omitempty"`
}

func suiteCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("suite", stderr)
	replicas := fs.String("replicas", "1,3", "replica counts to measure")
	rate := fs.Float64("rate", 1000, "rate of the latency runs, messages a second")
	dur := fs.Duration("duration", 30*time.Second, "length of each closed-loop and latency run")
	concurrency := fs.Int("concurrency", 128, "citizens at once in the closed-loop runs")
	runs := fs.Int("runs", 3, "runs of each measurement, reported as the median and the spread")
	step := fs.Duration("step", 10*time.Second, "length of each flood step")
	start := fs.Float64("flood-from", 1000, "first flood step, messages a second")
	redeliver := fs.Float64("redeliver", 0.01, "fraction of messages Twilio-style redelivered, to two replicas at once")
	conversations := fs.Int("conversations", 100_000, "live conversations for the Redis measurement (0 skips it)")
	tickets := fs.Int("tickets", 1_000_000, "tickets to seed for the lookup measurement (0 skips it)")
	pgURL := fs.String("postgres", defaultPostgresURL, "the bench's database (emptied)")
	redisURL := fs.String("redis", defaultRedisURL, "the bench's Redis DB (flushed)")
	bin := fs.String("aduan", "", "a built aduan binary (default: go build aduan/cmd/aduan)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *runs < 1 {
		return fmt.Errorf("--runs %d: want at least 1", *runs)
	}
	var counts []int
	for s := range strings.SplitSeq(*replicas, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(s), &n); err != nil || n < 1 {
			return fmt.Errorf("--replicas %q: want counts such as 1,3", *replicas)
		}
		counts = append(counts, n)
	}
	say := func(format string, args ...any) { fmt.Fprintf(stderr, "aduan-bench: "+format+"\n", args...) }
	if *bin == "" {
		dir, err := os.MkdirTemp("", "aduan-bench-bin-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		say("building aduan")
		if *bin, err = buildAduan(ctx, dir); err != nil {
			return err
		}
	}

	rep := &suiteReport{Machine: machine(), Started: time.Now().UTC(), Commit: commitOf(), Runs: *runs,
		Loads: map[string][]*loadReport{}}
	// Runs of one measurement are spread over the whole suite (closed,
	// open and flood in turn, then again), so that a passing disturbance
	// of the machine shows as spread rather than bending one row.
	for run := 1; run <= *runs; run++ {
		for _, n := range counts {
			for _, mode := range suiteModes {
				c := defaultLoadConfig()
				c.Mode, c.Spawn, c.Binary, c.PostgresURL, c.RedisURL = mode, n, *bin, *pgURL, *redisURL
				c.Rate, c.Duration, c.Redeliver, c.Progress = *rate, *dur, *redeliver, stderr
				c.Concurrency = *concurrency
				if mode == "flood" {
					c.Rate, c.Duration = *start, *step
				}
				name := fmt.Sprintf("%s-%d", mode, n)
				say("%s, run %d of %d: %s with %d replica(s)", name, run, *runs, mode, n)
				lr, err := runLoad(ctx, c)
				if lr != nil {
					rep.Loads[name] = append(rep.Loads[name], lr)
					if !lr.Check.Passed {
						rep.Failures = append(rep.Failures, fmt.Sprintf("%s run %d: consistency check failed", name, run))
					}
				}
				if err != nil {
					rep.Failures = append(rep.Failures, fmt.Sprintf("%s run %d: %v", name, run, err))
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
			}
		}
	}
	if *conversations > 0 {
		say("Redis memory: %d conversations", *conversations)
		r, err := redisMem(ctx, *redisURL, *conversations, false)
		if err != nil {
			rep.Failures = append(rep.Failures, "redis-mem: "+err.Error())
		} else {
			rep.Redis = &r
		}
	}
	if *tickets > 0 {
		say("seeding %d tickets", *tickets)
		s, err := seed(ctx, *pgURL, *tickets, 2, true)
		if err != nil {
			rep.Failures = append(rep.Failures, "seed: "+err.Error())
		} else {
			rep.Seed = &s
			for _, conc := range []int{1, 8} {
				say("lookups, %d at once", conc)
				l, err := lookup(ctx, *pgURL, 20000, conc)
				if err != nil {
					rep.Failures = append(rep.Failures, "lookup: "+err.Error())
					break
				}
				rep.Lookups = append(rep.Lookups, l)
			}
		}
	}

	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(stdout, counts, *rate, *concurrency)
	}
	if len(rep.Failures) > 0 {
		return errors.New(strings.Join(rep.Failures, "; "))
	}
	return nil
}

// machine describes the machine: CPU model and count, memory, Go version.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		f := strings.Fields(string(b))
		if len(f) > 1 {
			var kb int64
			fmt.Sscan(f[1], &kb)
			mem = fmt.Sprintf(", %.0f GB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%d x %s%s, %s", runtime.NumCPU(), model, mem, runtime.Version())
}

// suiteModes are the load runs of the suite, in the order they run.
var suiteModes = []string{"closed", "open", "flood"}

// spread is a figure over the runs of one measurement: its median and its
// range.
type spread struct{ min, median, max float64 }

func spreadOf(vs []float64) spread {
	if len(vs) == 0 {
		return spread{-1, -1, -1}
	}
	vs = slices.Clone(vs)
	slices.Sort(vs)
	m := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		m = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	return spread{vs[0], m, vs[len(vs)-1]}
}

// format writes the median, and the range when there are several runs.
func (s spread) format(f func(float64) string) string {
	switch {
	case s.median < 0:
		return "-"
	case s.min == s.max:
		return f(s.median)
	}
	return f(s.median) + " (" + f(s.min) + "-" + f(s.max) + ")"
}

// figure is one figure of each run of a measurement; runs without it are
// left out.
func figure(lrs []*loadReport, f func(*loadReport) (float64, bool)) spread {
	var vs []float64
	for _, lr := range lrs {
		if v, ok := f(lr); ok {
			vs = append(vs, v)
		}
	}
	return spreadOf(vs)
}

// serverCPU is the CPU the servers (aduan, PostgreSQL and Redis) spent per
// inbound message in a run's steady window, in milliseconds.
func serverCPU(lr *loadReport) (float64, bool) {
	w := lr.Steady
	if w.CPU == nil || w.MessagesPerS <= 0 {
		return 0, false
	}
	return 1000 * (w.CPU.Aduan + w.CPU.Postgres + w.CPU.Redis) / w.MessagesPerS, true
}

func (r *suiteReport) print(w io.Writer, counts []int, rate float64, concurrency int) {
	fmt.Fprintf(w, "aduan-bench suite, %s, commit %s, on %s; %d run(s) of each\n", r.Started.Format(time.RFC3339),
		r.Commit, r.Machine, r.Runs)
	fmt.Fprintf(w, "\n%-10s %3s %9s %10s %12s %12s %14s\n", "load", "run", "idle", "msgs/s", "webhook p99", "reply p99",
		"server CPU/msg")
	for _, n := range counts {
		for _, mode := range suiteModes {
			name := fmt.Sprintf("%s-%d", mode, n)
			for i, lr := range r.Loads[name] {
				msgs, cpu := lr.Steady.MessagesPerS, "-"
				if mode == "flood" {
					msgs = lr.MaxSustained
				}
				if v, ok := serverCPU(lr); ok {
					cpu = fmt.Sprintf("%.3f ms", v)
				}
				fmt.Fprintf(w, "%-10s %3d %9s %10.0f %12s %12s %14s\n", name, i+1, percent(lr.IdleBefore), msgs,
					fnum(lr.Steady.Webhook.P99)+" ms", fnum(lr.Steady.Reply.P99)+" ms", cpu)
			}
		}
	}
	if r.Redis != nil {
		fmt.Fprintln(w)
		r.Redis.print(w)
	}
	if r.Seed != nil {
		fmt.Fprintln(w)
		r.Seed.print(w)
		for _, l := range r.Lookups {
			l.print(w)
		}
	}

	fmt.Fprintf(w, "\n%-52s", "the bar (median, and the range over the runs)")
	for _, n := range counts {
		fmt.Fprintf(w, "  %24s", fmt.Sprintf("%d replica(s)", n))
	}
	fmt.Fprintln(w)
	row := func(label, mode string, f func(*loadReport) (float64, bool), format func(float64) string) {
		fmt.Fprintf(w, "%-52s", label)
		for _, n := range counts {
			fmt.Fprintf(w, "  %24s", figure(r.Loads[fmt.Sprintf("%s-%d", mode, n)], f).format(format))
		}
		fmt.Fprintln(w)
	}
	whole := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	ms := func(v float64) string { return fnum(v) + " ms" }
	row(fmt.Sprintf("closed loop, %d citizens: inbound msgs/s (>= 2,000)", concurrency), "closed",
		func(lr *loadReport) (float64, bool) { return lr.Steady.MessagesPerS, true }, whole)
	row("  server CPU per message (aduan+postgres+redis)", "closed", serverCPU,
		func(v float64) string { return fmt.Sprintf("%.3f ms", v) })
	row("flood: highest sustained inbound msgs/s", "flood",
		func(lr *loadReport) (float64, bool) { return lr.MaxSustained, lr.MaxSustained > 0 }, whole)
	row(fmt.Sprintf("webhook p99 at %.0f msgs/s (< 10 ms)", rate), "open",
		func(lr *loadReport) (float64, bool) { return lr.Steady.Webhook.P99, true }, ms)
	row(fmt.Sprintf("inbound -> reply p99 at %.0f msgs/s (< 50 ms)", rate), "open",
		func(lr *loadReport) (float64, bool) { return lr.Steady.Reply.P99, true }, ms)
	row("machine idle before the run", "closed",
		func(lr *loadReport) (float64, bool) { return 100 * lr.IdleBefore, lr.IdleBefore >= 0 },
		func(v float64) string { return fmt.Sprintf("%.0f%%", v) })
	count := func(label string, f func(*loadReport) int) {
		fmt.Fprintf(w, "%-52s", label)
		for _, n := range counts {
			total := 0
			for _, mode := range suiteModes {
				for _, lr := range r.Loads[fmt.Sprintf("%s-%d", mode, n)] {
					total += f(lr)
				}
			}
			fmt.Fprintf(w, "  %24d", total)
		}
		fmt.Fprintln(w)
	}
	count("errors, all runs (0)", func(lr *loadReport) int {
		n := 0
		for _, v := range lr.Errors {
			n += v
		}
		return n
	})
	count("consistency: lost/duplicated tickets (0)", func(lr *loadReport) int {
		n := 0
		for _, v := range lr.Check.Problems {
			n += v
		}
		return n
	})
	if r.Redis != nil {
		fmt.Fprintf(w, "%-52s  %24s\n", "Redis bytes per live conversation (<= 1,024)", fmt.Sprintf("%.0f", r.Redis.BytesPerConv))
	}
	for _, l := range r.Lookups {
		fmt.Fprintf(w, "%-52s  %24s\n", fmt.Sprintf("ticket lookup p99, %d tickets, %d at once (< 5 ms)", l.Tickets, l.Concurrency),
			fnum(l.Ticket.P99)+" ms")
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}
