package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// sample is one measurement: when it was taken (since the run began) and
// the latency measured.
type sample struct {
	at time.Duration
	d  time.Duration
}

// recorder collects the measurements of a run. It is safe for concurrent
// use; one mutex is plenty at a few thousand events a second.
type recorder struct {
	start time.Time

	mu       sync.Mutex
	webhook  []sample        // each webhook POST answered 200
	reply    []sample        // inbound -> first reply handed to the fake Twilio
	inbound  []time.Duration // each distinct message accepted
	tickets  []time.Duration // each case report completed (code received)
	errs     []errEvent
	redelivs int
	afterTkt int // replies received after the ticket code (not errors)
	stale    int // replies received after the citizen answered (not errors)
}

type errEvent struct {
	at   time.Duration
	kind string
}

func newRecorder() *recorder {
	return &recorder{start: time.Now()}
}

func (r *recorder) since(t time.Time) time.Duration { return t.Sub(r.start) }

func (r *recorder) webhookDone(end time.Time, d time.Duration) {
	r.mu.Lock()
	r.webhook = append(r.webhook, sample{r.since(end), d})
	r.mu.Unlock()
}

func (r *recorder) accepted(end time.Time, redelivered bool) {
	r.mu.Lock()
	r.inbound = append(r.inbound, r.since(end))
	if redelivered {
		r.redelivs++
	}
	r.mu.Unlock()
}

func (r *recorder) replied(at time.Time, d time.Duration) {
	r.mu.Lock()
	r.reply = append(r.reply, sample{r.since(at), d})
	r.mu.Unlock()
}

func (r *recorder) ticket(at time.Time) {
	r.mu.Lock()
	r.tickets = append(r.tickets, r.since(at))
	r.mu.Unlock()
}

func (r *recorder) fail(kind string) {
	r.mu.Lock()
	r.errs = append(r.errs, errEvent{r.since(time.Now()), kind})
	r.mu.Unlock()
}

func (r *recorder) staleReply() {
	r.mu.Lock()
	r.stale++
	r.mu.Unlock()
}

func (r *recorder) lateReply() {
	r.mu.Lock()
	r.afterTkt++
	r.mu.Unlock()
}

// latency is a latency distribution in milliseconds.
type latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func distribution(ds []time.Duration) latency {
	if len(ds) == 0 {
		return latency{}
	}
	slices.Sort(ds)
	q := func(p float64) float64 {
		i := int(p*float64(len(ds))+0.5) - 1
		i = min(max(i, 0), len(ds)-1)
		return ms(ds[i])
	}
	return latency{N: len(ds), P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: ms(ds[len(ds)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (l latency) String() string {
	if l.N == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s ms", fnum(l.P50), fnum(l.P95), fnum(l.P99), fnum(l.Max))
}

func fnum(v float64) string {
	switch {
	case v < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	case v < 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 0, 64)
}

// window is what happened between two moments of a run.
type window struct {
	Seconds       float64        `json:"seconds"`
	Messages      int            `json:"inbound_messages"`
	MessagesPerS  float64        `json:"inbound_per_second"`
	Tickets       int            `json:"case_reports"`
	TicketsPerS   float64        `json:"case_reports_per_second"`
	Webhook       latency        `json:"webhook_latency"`
	Reply         latency        `json:"inbound_to_reply_latency"`
	Errors        map[string]int `json:"errors"`
	ErrorCount    int            `json:"error_count"`
	Redeliveries  int            `json:"redeliveries,omitempty"`
	CPU           *cpuUse        `json:"cpu_cores,omitempty"`
	PG            *pgUse         `json:"postgres_per_message,omitempty"`
	TargetRate    float64        `json:"target_rate,omitempty"`
	Sustained     *bool          `json:"sustained,omitempty"`
	SustainedNote string         `json:"sustained_note,omitempty"`
}

// window summarizes [from, to) of the run.
func (r *recorder) window(from, to time.Duration) window {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := func(at time.Duration) bool { return at >= from && at < to }
	w := window{Seconds: (to - from).Seconds(), Errors: map[string]int{}}
	var wh, rp []time.Duration
	for _, s := range r.webhook {
		if in(s.at) {
			wh = append(wh, s.d)
		}
	}
	for _, s := range r.reply {
		if in(s.at) {
			rp = append(rp, s.d)
		}
	}
	for _, at := range r.inbound {
		if in(at) {
			w.Messages++
		}
	}
	for _, at := range r.tickets {
		if in(at) {
			w.Tickets++
		}
	}
	for _, e := range r.errs {
		if in(e.at) {
			w.Errors[e.kind]++
			w.ErrorCount++
		}
	}
	w.Webhook, w.Reply = distribution(wh), distribution(rp)
	if w.Seconds > 0 {
		w.MessagesPerS = float64(w.Messages) / w.Seconds
		w.TicketsPerS = float64(w.Tickets) / w.Seconds
	}
	return w
}

// totals returns the counts of the whole run.
func (r *recorder) totals() (messages, tickets, redeliveries, late, stale int, errs map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	errs = map[string]int{}
	for _, e := range r.errs {
		errs[e.kind]++
	}
	return len(r.inbound), len(r.tickets), r.redelivs, r.afterTkt, r.stale, errs
}

func errorsText(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// cpuUse is how many cores each part used on average over a window. The
// figures come from /proc: aduan is the spawned replicas; postgres the
// server's backends connected to the bench's database and its shared
// background processes (WAL writer, checkpointer, autovacuum: other
// databases' work there counts too); redis every redis-server; bench this
// process; other the rest of the machine, other databases' backends
// included.
type cpuUse struct {
	Aduan    float64 `json:"aduan"`
	Postgres float64 `json:"postgres"`
	Redis    float64 `json:"redis"`
	Bench    float64 `json:"bench"`
	Other    float64 `json:"other"`
	Idle     float64 `json:"idle"`
	Cores    int     `json:"cores"`
}

func (c cpuUse) String() string {
	return fmt.Sprintf("aduan %.2f  postgres %.2f  redis %.2f  bench %.2f  other %.2f  idle %.2f (of %d)",
		c.Aduan, c.Postgres, c.Redis, c.Bench, c.Other, c.Idle, c.Cores)
}

// perMessage returns the CPU time each part spent per inbound message, in
// milliseconds, at rate messages a second: a figure that other work on
// the machine disturbs much less than the latencies.
func (c cpuUse) perMessage(rate float64) string {
	if rate <= 0 {
		return "-"
	}
	f := func(cores float64) string { return strconv.FormatFloat(1000*cores/rate, 'f', 3, 64) }
	return fmt.Sprintf("aduan %s  postgres %s  redis %s  bench %s  (aduan+postgres+redis %s)",
		f(c.Aduan), f(c.Postgres), f(c.Redis), f(c.Bench), f(c.Aduan+c.Postgres+c.Redis))
}

// cpuSnap is a reading of CPU time, in clock ticks.
type cpuSnap struct {
	at                          time.Time
	busy, idle                  uint64
	aduan, postgres, redis, own uint64
	cores                       int
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// readCPU reads /proc. It returns a zero snapshot where /proc is missing.
// db names the bench's database.
func readCPU(aduanPIDs []int, db string) cpuSnap {
	s := cpuSnap{at: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			if f[0] == "cpu" && len(f) >= 8 {
				var v [8]uint64
				for i := range v {
					v[i], _ = strconv.ParseUint(f[i+1], 10, 64)
				}
				// user nice system idle iowait irq softirq steal
				s.idle = v[3] + v[4]
				s.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
			} else if strings.HasPrefix(f[0], "cpu") {
				s.cores++
			}
		}
	}
	isAduan := map[int]bool{}
	for _, p := range aduanPIDs {
		isAduan[p] = true
	}
	self := os.Getpid()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ticks, ok := procTicks(pid)
		if !ok {
			continue
		}
		switch {
		case isAduan[pid]:
			s.aduan += ticks
		case pid == self:
			s.own += ticks
		case comm == "postgres" && ourPostgres(pid, db):
			s.postgres += ticks
		case comm == "redis-server":
			s.redis += ticks
		}
	}
	return s
}

// ourPostgres reports whether a PostgreSQL process works for the bench: a
// backend connected to database db, or a background process of the
// server. A backend's title is "postgres: [cluster:] user database
// host(port) activity".
func ourPostgres(pid int, db string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	title, ok := strings.CutPrefix(strings.TrimRight(string(b), "\x00"), "postgres: ")
	if !ok {
		return true // the postmaster itself
	}
	f := strings.Fields(title)
	if len(f) > 0 && strings.HasSuffix(f[0], ":") { // cluster_name, as Debian sets it: "15/main:"
		f = f[1:]
	}
	if len(f) >= 3 && (strings.Contains(f[2], "(") || f[2] == "[local]") { // a client backend
		return f[1] == db
	}
	return true
}

// procTicks returns a process's command name and user+system CPU ticks.
func procTicks(pid int) (string, uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	comm := string(b[open+1 : end])
	f := strings.Fields(string(b[end+1:]))
	// After the command: state(0) ppid ... utime is field 14 of the
	// line, which is index 11 here; stime follows.
	if len(f) < 13 {
		return "", 0, false
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return comm, ut + st, true
}

// cpuBetween returns the cores used between two snapshots, or nil if /proc
// gave nothing.
func cpuBetween(a, b cpuSnap) *cpuUse {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 || b.cores == 0 {
		return nil
	}
	cores := func(x, y uint64) float64 {
		if y < x {
			return 0
		}
		return float64(y-x) / clockTicks / secs
	}
	u := &cpuUse{
		Aduan:    cores(a.aduan, b.aduan),
		Postgres: cores(a.postgres, b.postgres),
		Redis:    cores(a.redis, b.redis),
		Bench:    cores(a.own, b.own),
		Cores:    b.cores,
	}
	busy := cores(a.busy, b.busy)
	u.Idle = cores(a.idle, b.idle)
	u.Other = max(busy-u.Aduan-u.Postgres-u.Redis-u.Bench, 0)
	return u
}

// pgUse is what PostgreSQL did per inbound message over a window: commits
// and rows of the bench's database, and WAL of the whole server (other
// databases' work counts too).
type pgUse struct {
	Commits  float64 `json:"commits"`
	Inserted float64 `json:"rows_inserted"`
	Updated  float64 `json:"rows_updated"`
	WALSyncs float64 `json:"wal_syncs"`
	WALBytes float64 `json:"wal_bytes"`
}

func (p pgUse) String() string {
	return fmt.Sprintf("%.2f commits, %.1f rows inserted, %.1f updated; WAL: %.2f syncs, %.0f bytes",
		p.Commits, p.Inserted, p.Updated, p.WALSyncs, p.WALBytes)
}

// pgSnap is a reading of PostgreSQL's statistics counters.
type pgSnap struct {
	ok                                  bool
	commits, ins, upd, walSync, walByte int64
}

// readPG reads the counters; it returns ok false if it cannot.
func readPG(ctx context.Context, db *pgxpool.Pool) pgSnap {
	var s pgSnap
	if db == nil {
		return s
	}
	// Backends report their counters at most once a second.
	err := db.QueryRow(ctx, `SELECT d.xact_commit, d.tup_inserted, d.tup_updated, w.wal_sync, w.wal_bytes::bigint
FROM pg_stat_database d, pg_stat_wal w WHERE d.datname = current_database()`).Scan(&s.commits, &s.ins, &s.upd, &s.walSync, &s.walByte)
	s.ok = err == nil
	return s
}

func pgBetween(a, b pgSnap, messages int) *pgUse {
	if !a.ok || !b.ok || messages == 0 {
		return nil
	}
	n := float64(messages)
	return &pgUse{
		Commits:  float64(b.commits-a.commits) / n,
		Inserted: float64(b.ins-a.ins) / n,
		Updated:  float64(b.upd-a.upd) / n,
		WALSyncs: float64(b.walSync-a.walSync) / n,
		WALBytes: float64(b.walByte-a.walByte) / n,
	}
}
