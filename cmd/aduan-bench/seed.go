package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/internal/seal"
	"aduan/store/sqlstore"
)

// seedReport is the outcome of seeding.
type seedReport struct {
	Tickets     int     `json:"tickets"`
	Events      int     `json:"events"`
	Seconds     float64 `json:"seconds"`
	RowsPerS    float64 `json:"rows_per_second"`
	TableMB     float64 `json:"tickets_table_mb"`
	TotalTicket int64   `json:"tickets_in_table"`
}

func seedCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("seed", stderr)
	pgURL := fs.String("postgres", defaultPostgresURL, "database to fill; it is created and migrated if needed")
	n := fs.Int("tickets", 1_000_000, "tickets to write")
	events := fs.Int("events", 2, "events per ticket (created, notified, then status changes)")
	keep := fs.Bool("append", false, "keep the rows already there (default: empty every table first)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := seed(ctx, *pgURL, *n, *events, !*keep)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.print(stdout)
	return nil
}

func (r seedReport) print(w io.Writer) {
	fmt.Fprintf(w, "seeded %d tickets and %d events in %.1fs (%.0f rows/s); tickets table %.0f MB with indexes, %d tickets in it\n",
		r.Tickets, r.Events, r.Seconds, r.RowsPerS, r.TableMB, r.TotalTicket)
}

// seed writes n realistic tickets, each with events events, with COPY.
// With empty, every table is emptied first.
func seed(ctx context.Context, pgURL string, n, events int, empty bool) (seedReport, error) {
	var rep seedReport
	unlock, err := lockBench(ctx, pgURL)
	if err != nil {
		return rep, err
	}
	defer unlock()
	st, err := sqlstore.OpenPostgres(ctx, pgURL)
	if err != nil {
		return rep, err
	}
	defer st.Close()
	pool := st.Pool()
	if err := st.Migrate(ctx); err != nil {
		return rep, fmt.Errorf("migrate: %w", err)
	}
	if empty {
		if err := truncateAll(ctx, pool); err != nil {
			return rep, err
		}
	}
	keys, err := keyring(benchEncryptionKey, benchLookupKey)
	if err != nil {
		return rep, err
	}
	start := time.Now()
	base := mrand.Uint32N(1 << 20) // so that an --append run gets other codes
	g := newTicketGen(base)

	// Tickets first (events refer to them), in two streams to use both
	// cores of PostgreSQL's side.
	const streams = 2
	var wg sync.WaitGroup
	errs := make([]error, streams)
	for s := range streams {
		wg.Go(func() {
			lo, hi := s*n/streams, (s+1)*n/streams
			i := lo
			var row ticketRow
			z, err := keys.Sealer()
			if err != nil {
				errs[s] = err
				return
			}
			_, errs[s] = pool.CopyFrom(ctx, pgx.Identifier{"tickets"},
				[]string{"code", "kind", "status", "urgent", "kecamatan", "answers", "channel", "reporter",
					"reporter_hash", "sealed_answers", "created_at", "updated_at"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i >= hi {
						return nil, nil
					}
					g.ticket(i, &row)
					i++
					// As store/sqlstore writes them: statistics in clear,
					// the rest and the reporter's number sealed.
					clear, private := seal.SplitAnswers(row.answers)
					sealed, err := z.Answers(row.code, private)
					if err != nil {
						return nil, err
					}
					sealed = bytes.Clone(sealed)
					answers, err := json.Marshal(clear)
					if err != nil {
						return nil, err
					}
					reporter := bytes.Clone(z.Text(seal.PlaceReporter, row.code, row.reporter))
					hash := bytes.Clone(z.Hash(row.reporter))
					return []any{row.code, row.kind, row.status, row.urgent, row.kecamatan, answers, row.channel,
						reporter, hash, sealed, row.created, row.updated}, nil
				}))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return rep, fmt.Errorf("copy tickets: %w", err)
	}
	rep.Tickets = n
	if events > 0 {
		for s := range streams {
			wg.Go(func() {
				lo, hi := s*n/streams, (s+1)*n/streams
				i, k := lo, 0
				var row ticketRow
				z, err := keys.Sealer()
				if err != nil {
					errs[s] = err
					return
				}
				_, errs[s] = pool.CopyFrom(ctx, pgx.Identifier{"ticket_events"},
					[]string{"ticket_code", "at", "actor", "type", "detail"},
					pgx.CopyFromFunc(func() ([]any, error) {
						if k == events {
							i, k = i+1, 0
						}
						if i >= hi {
							return nil, nil
						}
						g.ticket(i, &row)
						k++
						ev := g.event(&row, k-1)
						ev[4] = bytes.Clone(z.Text(seal.PlaceDetail, row.code, ev[4].(string)))
						return ev, nil
					}))
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return rep, fmt.Errorf("copy events: %w", err)
		}
		rep.Events = n * events
	}
	if _, err := pool.Exec(ctx, "ANALYZE tickets; ANALYZE ticket_events"); err != nil {
		return rep, fmt.Errorf("analyze: %w", err)
	}
	rep.Seconds = time.Since(start).Seconds()
	rep.RowsPerS = float64(rep.Tickets+rep.Events) / rep.Seconds
	var bytes int64
	if err := pool.QueryRow(ctx, `SELECT pg_total_relation_size('tickets'), (SELECT count(*) FROM tickets)`).Scan(&bytes, &rep.TotalTicket); err != nil {
		return rep, err
	}
	rep.TableMB = float64(bytes) / (1 << 20)
	return rep, nil
}

// ticketRow is one generated ticket.
type ticketRow struct {
	code, kind, status, kecamatan, channel, reporter string
	answers                                          map[string]string
	urgent                                           bool
	created, updated                                 time.Time
}

// ticketGen makes ticket i the same way every time, so that the events
// pass can regenerate a ticket instead of keeping a million in memory.
type ticketGen struct {
	base uint32
	now  time.Time
}

var (
	kecamatans = []string{"borong", "rana-mese", "kota-komba", "elar", "elar-selatan", "sambi-rampas",
		"poco-ranaka", "poco-ranaka-timur", "lamba-leda", "unknown"}
	statuses  = []string{"received", "assessed", "accompanied", "referred", "done", "done", "done", "done"}
	reporters = []string{"victim", "family", "witness", "police", "other"}
	violences = []string{"physical", "psychological", "sexual", "neglect", "exploitation", "domestic", "physical,domestic", "psychological,domestic", "physical,sexual"}
	helps     = []string{"medical", "psychological", "legal", "shelter", "medical,legal", "psychological,legal", "documents"}
	places    = []string{"Di rumah korban", "Dekat pasar Borong", "Di kebun", "Di sekolah", "Rumah tetangga", "Di jalan ke kampung"}
	whens     = []string{"Kemarin malam", "Tadi pagi", "Minggu lalu", "Sudah lama, berulang", "Dua hari lalu"}
	topics    = []string{"slow", "attitude", "fee", "requirements", "other"}
)

func newTicketGen(base uint32) *ticketGen {
	return &ticketGen{base: base, now: time.Now().UTC()}
}

const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// code returns a code unique to i for i < 2^30: multiplying by an odd
// number modulo 2^30 is a bijection, and spreads neighbours apart.
func (g *ticketGen) code(i int, prefix string) string {
	x := (uint32(i)*2654435761 + g.base*2) & (1<<30 - 1)
	x = (x * 0x2f2d3b5) & (1<<30 - 1) // odd: still a bijection
	var b [9]byte
	copy(b[:], prefix)
	b[2] = '-'
	for k := 8; k >= 3; k-- {
		b[k] = codeAlphabet[x&31]
		x >>= 5
	}
	return string(b[:])
}

// ticket fills row with ticket i.
func (g *ticketGen) ticket(i int, row *ticketRow) {
	r := mrand.New(mrand.NewPCG(uint64(i), uint64(g.base)))
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	complaint := r.IntN(10) == 0
	a := make(map[string]string, 16)
	if complaint {
		row.code, row.kind = g.code(i, "PL"), "complaint"
		row.urgent, row.kecamatan = false, ""
		a["topic"] = pick(topics)
		a["service"] = "Pembuatan akta kelahiran di kantor Dinas"
		a["description"] = pick(stories)
		a["when"] = pick(whens)
		a["expect"] = "Mohon dilayani lebih cepat"
	} else {
		row.code, row.kind = g.code(i, "KS"), "case"
		row.urgent = r.IntN(12) == 0
		row.kecamatan = pick(kecamatans)
		a["reporter"] = pick(reporters)
		a["safe"] = "yes"
		if row.urgent {
			a["safe"] = "no"
		}
		a["violence"] = pick(violences)
		a["age_group"] = pick([]string{"child", "adult", "unknown"})
		a["sex"] = pick([]string{"female", "male", "unknown"})
		a["kecamatan"] = row.kecamatan
		a["place"] = pick(places)
		a["when"] = pick(whens)
		a["description"] = pick(stories)
		a["help"] = pick(helps)
		a["contact"] = pick([]string{"call", "message"})
		a["contact_time"] = pick([]string{"Pagi hari", "Sore, setelah jam 4"})
		a["consent"] = "yes"
	}
	row.answers = a
	row.status = pick(statuses)
	if r.IntN(5) == 0 {
		row.channel = "whatsapp"
	} else {
		row.channel = "sms"
	}
	row.reporter = "+628" + strconv.Itoa(11_0000_0000+r.IntN(89_0000_0000))
	// Spread over three years.
	age := time.Duration(n3y * r.Float64())
	row.created = g.now.Add(-age).Truncate(time.Microsecond)
	row.updated = row.created.Add(time.Duration(r.IntN(7*24)) * time.Hour)
}

const n3y = float64(3 * 365 * 24 * time.Hour)

// event returns the k'th event of the ticket in row.
func (g *ticketGen) event(row *ticketRow, k int) []any {
	switch k {
	case 0:
		return []any{row.code, row.created, "citizen", "created",
			"kind=" + row.kind + " channel=" + row.channel + " urgent=" + strconv.FormatBool(row.urgent)}
	case 1:
		return []any{row.code, row.created, "system", "notified", "officers: Genoveva Lindung, Tija Ndaka"}
	}
	return []any{row.code, row.created.Add(time.Duration(k) * time.Hour), "+6281337785111", "status", statuses[k%len(statuses)]}
}

// lookupReport is the outcome of a lookup measurement.
type lookupReport struct {
	Tickets     int64   `json:"tickets_in_table"`
	Lookups     int     `json:"lookups"`
	Concurrency int     `json:"concurrency"`
	Ticket      latency `json:"ticket_by_code"`
	Events      latency `json:"events_by_code"`
	Missing     latency `json:"unknown_code"`
}

func lookupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("lookup", stderr)
	pgURL := fs.String("postgres", defaultPostgresURL, "database to read (fill it with seed first)")
	n := fs.Int("n", 20000, "lookups of each kind")
	conc := fs.Int("concurrency", 1, "lookups at once")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := lookup(ctx, *pgURL, *n, *conc)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.print(stdout)
	return nil
}

func (r lookupReport) print(w io.Writer) {
	fmt.Fprintf(w, "lookups by code among %d tickets, %d at once, %d of each:\n", r.Tickets, r.Concurrency, r.Lookups)
	fmt.Fprintf(w, "  ticket (status)          %v\n", r.Ticket)
	fmt.Fprintf(w, "  events (history)         %v\n", r.Events)
	fmt.Fprintf(w, "  unknown code             %v\n", r.Missing)
}

// lookup times Store.Ticket and Store.Events for n random existing codes,
// and Store.Ticket for n codes that do not exist, conc at a time, through
// the same store the service uses.
func lookup(ctx context.Context, pgURL string, n, conc int) (lookupReport, error) {
	rep := lookupReport{Lookups: n, Concurrency: conc}
	keys, err := keyring(benchEncryptionKey, benchLookupKey)
	if err != nil {
		return rep, err
	}
	st, err := sqlstore.OpenPostgres(ctx, pgURL, sqlstore.WithKeyring(keys))
	if err != nil {
		return rep, err
	}
	defer st.Close()
	if err := st.Pool().QueryRow(ctx, `SELECT count(*) FROM tickets`).Scan(&rep.Tickets); err != nil {
		return rep, err
	}
	if rep.Tickets == 0 {
		return rep, errors.New("no tickets: run `aduan-bench seed` first")
	}
	rows, err := st.Pool().Query(ctx, `SELECT code FROM tickets TABLESAMPLE BERNOULLI ($1) LIMIT $2`,
		min(100, 100*float64(2*n)/float64(rep.Tickets)), n)
	if err != nil {
		return rep, err
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return rep, err
	}
	mrand.Shuffle(len(codes), func(i, j int) { codes[i], codes[j] = codes[j], codes[i] })
	missing := make([]string, len(codes))
	for i := range missing {
		// No seeded or live ticket has the prefix ZZ.
		missing[i] = "ZZ-" + strings.NewReplacer("0", "A", "1", "B").Replace(fmt.Sprintf("%06d", i))
	}
	timeAll := func(codes []string, f func(string) error) ([]time.Duration, error) {
		ds := make([]time.Duration, len(codes))
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			ferr error
		)
		next := make(chan int)
		for range conc {
			wg.Go(func() {
				for i := range next {
					t0 := time.Now()
					err := f(codes[i])
					ds[i] = time.Since(t0)
					if err != nil {
						mu.Lock()
						ferr = errors.Join(ferr, err)
						mu.Unlock()
					}
				}
			})
		}
		for i := range codes {
			next <- i
		}
		close(next)
		wg.Wait()
		return ds, ferr
	}
	// Warm the pool's connections and prepared statements.
	for _, c := range codes[:min(len(codes), 50)] {
		st.Ticket(ctx, c)
	}
	ds, err := timeAll(codes, func(c string) error {
		t, err := st.Ticket(ctx, c)
		if err == nil && t.Status == "" {
			err = fmt.Errorf("ticket %s without a status", c)
		}
		return err
	})
	if err != nil {
		return rep, err
	}
	rep.Ticket = distribution(ds)
	if ds, err = timeAll(codes, func(c string) error { _, err := st.Events(ctx, c); return err }); err != nil {
		return rep, err
	}
	rep.Events = distribution(ds)
	if ds, err = timeAll(missing, func(c string) error {
		_, err := st.Ticket(ctx, c)
		if err == nil {
			return fmt.Errorf("made-up code %s found", c)
		}
		return nil
	}); err != nil {
		return rep, err
	}
	rep.Missing = distribution(ds)
	return rep, nil
}
