package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"
)

// suiteReport holds every figure of docs/BENCHMARKS.md.
type suiteReport struct {
	Machine  string                 `json:"machine"`
	Started  time.Time              `json:"started"`
	Loads    map[string]*loadReport `json:"loads"`
	Redis    *redisMemReport        `json:"redis_memory,omitempty"`
	Seed     *seedReport            `json:"seed,omitempty"`
	Lookups  []lookupReport         `json:"lookups,omitempty"`
	Failures []string               `json:"failures,omitempty"`
}

func suiteCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("suite", stderr)
	replicas := fs.String("replicas", "1,3", "replica counts to measure")
	rate := fs.Float64("rate", 1000, "rate of the latency runs, messages a second")
	dur := fs.Duration("duration", 30*time.Second, "length of each latency run")
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

	rep := &suiteReport{Machine: machine(), Started: time.Now().UTC(), Loads: map[string]*loadReport{}}
	for _, n := range counts {
		for _, mode := range []string{"open", "flood"} {
			c := defaultLoadConfig()
			c.Mode, c.Spawn, c.Binary, c.PostgresURL, c.RedisURL = mode, n, *bin, *pgURL, *redisURL
			c.Rate, c.Duration, c.Redeliver, c.Progress = *rate, *dur, *redeliver, stderr
			if mode == "flood" {
				c.Rate, c.Duration = *start, *step
			}
			name := fmt.Sprintf("%s-%d", mode, n)
			say("%s: %s with %d replica(s)", name, mode, n)
			lr, err := runLoad(ctx, c)
			if lr != nil {
				rep.Loads[name] = lr
				if !lr.Check.Passed {
					rep.Failures = append(rep.Failures, name+": consistency check failed")
				}
			}
			if err != nil {
				rep.Failures = append(rep.Failures, name+": "+err.Error())
			}
			if ctx.Err() != nil {
				return ctx.Err()
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
		rep.print(stdout, counts, *rate)
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

func (r *suiteReport) print(w io.Writer, counts []int, rate float64) {
	fmt.Fprintf(w, "aduan-bench suite, %s, on %s\n", r.Started.Format(time.RFC3339), r.Machine)
	for _, n := range counts {
		for _, mode := range []string{"open", "flood"} {
			if lr := r.Loads[fmt.Sprintf("%s-%d", mode, n)]; lr != nil {
				fmt.Fprintln(w)
				lr.print(w)
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

	fmt.Fprintf(w, "\n%-52s", "the bar")
	for _, n := range counts {
		fmt.Fprintf(w, "  %12s", fmt.Sprintf("%d replica(s)", n))
	}
	fmt.Fprintln(w)
	row := func(label string, f func(open, flood *loadReport) string) {
		fmt.Fprintf(w, "%-52s", label)
		for _, n := range counts {
			open, flood := r.Loads[fmt.Sprintf("open-%d", n)], r.Loads[fmt.Sprintf("flood-%d", n)]
			fmt.Fprintf(w, "  %12s", f(open, flood))
		}
		fmt.Fprintln(w)
	}
	row("sustained inbound msgs/s (>= 2,000, aim 3,000)", func(_, f *loadReport) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", f.MaxSustained)
	})
	row("  case reports/s at that rate", func(_, f *loadReport) string {
		if f == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", f.Steady.TicketsPerS)
	})
	row(fmt.Sprintf("webhook p99 at %.0f msgs/s (< 10 ms)", rate), func(o, _ *loadReport) string {
		if o == nil {
			return "-"
		}
		return fnum(o.Steady.Webhook.P99) + " ms"
	})
	row(fmt.Sprintf("inbound -> reply p99 at %.0f msgs/s (< 50 ms)", rate), func(o, _ *loadReport) string {
		if o == nil {
			return "-"
		}
		return fnum(o.Steady.Reply.P99) + " ms"
	})
	row("errors, whole runs (0)", func(o, f *loadReport) string {
		n := 0
		for _, lr := range []*loadReport{o, f} {
			if lr != nil {
				for _, v := range lr.Errors {
					n += v
				}
			}
		}
		return fmt.Sprint(n)
	})
	row("consistency: lost/duplicated tickets (0)", func(o, f *loadReport) string {
		n := 0
		for _, lr := range []*loadReport{o, f} {
			if lr != nil {
				for _, v := range lr.Check.Problems {
					n += v
				}
			}
		}
		return fmt.Sprint(n)
	})
	if r.Redis != nil {
		fmt.Fprintf(w, "%-52s  %12s\n", "Redis bytes per live conversation (<= 1,024)", fmt.Sprintf("%.0f", r.Redis.BytesPerConv))
	}
	for _, l := range r.Lookups {
		fmt.Fprintf(w, "%-52s  %12s\n", fmt.Sprintf("ticket lookup p99, %d tickets, %d at once (< 5 ms)", l.Tickets, l.Concurrency),
			fnum(l.Ticket.P99)+" ms")
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED: %s\n", f)
	}
}
