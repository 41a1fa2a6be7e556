package sqlstore_test

// Tests of what only PostgreSQL does: a server that can be unreachable, a
// pool, row locks that make one transaction wait for another or skip what
// it holds, and replicas migrating at once.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"aduan/bot"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
	"aduan/store/storetest"
)

// TestOpenFails checks the kind of error of a server that does not answer
// (nothing listens on port 1) and of a URL that does not parse, and that
// neither shows the password.
func TestOpenFails(t *testing.T) {
	for url, want := range map[string]bot.ErrorKind{
		"postgres://aduan:s3cretpw@127.0.0.1:1/aduan?sslmode=disable&connect_timeout=5": bot.Unavailable,
		"postgres://aduan:s3cretpw@127.0.0.1:notaport/aduan":                            bot.Invalid,
	} {
		_, err := sqlstore.OpenPostgres(t.Context(), url)
		if got := bot.KindOf(err); got != want {
			t.Errorf("OpenPostgres(%q): KindOf(%v) = %v, want %v", url, err, got, want)
		} else if msg := err.Error(); strings.Contains(msg, "s3cretpw") ||
			(want == bot.Unavailable && !strings.Contains(msg, "127.0.0.1:1")) {
			t.Errorf("error = %q, want the password not shown (and the host named)", msg)
		}
	}
}

func TestOpenPoolSize(t *testing.T) {
	url := testenv.PostgresURL(t, "store_sqlstore")
	tests := []struct {
		name string
		url  string
		want int32
	}{
		{"default", url, sqlstore.DefaultMaxConns},
		{"from URL", url + "&pool_max_conns=3", 3},
	}
	if !strings.Contains(url, "?") {
		t.Fatalf("test URL %q has no query; the table below assumes one", url)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlstore.OpenPostgres(t.Context(), tt.url)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if got := s.Pool().Config().MaxConns; got != tt.want {
				t.Errorf("MaxConns = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestServerDown checks that every call on a store whose server does not
// answer fails as Unavailable.
func TestServerDown(t *testing.T) {
	pool, err := pgxpool.New(t.Context(), "postgres://aduan@127.0.0.1:1/aduan?sslmode=disable&connect_timeout=5")
	if err != nil {
		t.Fatalf("pgxpool.New: %v", err)
	}
	defer pool.Close()
	s := sqlstore.NewPostgres(pool)
	calls := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", s.Ping},
		{"Begin", func(ctx context.Context) error { _, err := s.Begin(ctx); return err }},
		{"Ticket", func(ctx context.Context) error { _, err := s.Ticket(ctx, "KS-1"); return err }},
		{"Tickets", func(ctx context.Context) error { _, err := s.Tickets(ctx, bot.TicketFilter{}); return err }},
		{"Events", func(ctx context.Context) error { _, err := s.Events(ctx, "KS-1"); return err }},
		{"DueOutbound", func(ctx context.Context) error { _, err := s.DueOutbound(ctx, time.Now(), time.Minute, 10); return err }},
		{"Settle", func(ctx context.Context) error { return s.Settle(ctx, []bot.Delivery{{ID: 1, ProviderID: "SM1"}}) }},
		{"RecordStatus", func(ctx context.Context) error { return s.RecordStatus(ctx, "SM1", "delivered", time.Now()) }},
		{"Outbox", func(ctx context.Context) error { _, err := s.Outbox(ctx); return err }},
		{"LateCount", func(ctx context.Context) error { _, err := s.LateCount(ctx, time.Now()); return err }},
		{"Migrate", s.Migrate},
		{"TicketsCreated", func(ctx context.Context) error {
			_, _, err := s.TicketsCreated(ctx, time.Now(), time.Now())
			return err
		}},
		{"OutboxStats", func(ctx context.Context) error { _, _, err := s.OutboxStats(ctx); return err }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(t.Context())
			if got := bot.KindOf(err); got != bot.Unavailable {
				t.Errorf("KindOf(%v) = %v, want %v", err, got, bot.Unavailable)
			}
		})
	}
}

func TestPingDown(t *testing.T) {
	s := openPostgres(t, keys)
	s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping on a closed pool = nil, want an error")
	}
}

// waitForLockWait polls until some backend waits on a lock, so that a test
// knows a concurrent statement is blocked rather than not yet started.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var n int
		err := pool.QueryRow(t.Context(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&n)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statement started waiting on a lock")
		}
	}
}

// TestSecondWaits has two transactions claim the same thing (an inbound
// ID, a day's digest), the second waiting on the first: exactly one of
// them gets it, the second only if the first rolls back.
func TestSecondWaits(t *testing.T) {
	claims := map[string]func(ctx context.Context, tx *sqlstore.Tx) (bool, error){
		"Claim": func(ctx context.Context, tx *sqlstore.Tx) (bool, error) {
			dup, err := tx.Claim(ctx, []bot.MessageID{{Channel: bot.SMS, ExternalID: "SM-race"}})
			return err == nil && !dup[0], err
		},
		"ClaimDigest": func(ctx context.Context, tx *sqlstore.Tx) (bool, error) { return tx.ClaimDigest(ctx, "2026-03-02") },
	}
	for name, claim := range claims {
		for _, commitFirst := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s first commits=%v", name, commitFirst), func(t *testing.T) {
				s := openPostgres(t, keys)
				ctx := t.Context()
				tx1, tx2 := clockTx(t, s), clockTx(t, s)
				got1, err := claim(ctx, tx1)
				if err != nil {
					t.Fatalf("tx1: %v", err)
				}
				type result struct {
					got bool
					err error
				}
				done := make(chan result, 1)
				go func() {
					got, err := claim(ctx, tx2)
					if err == nil {
						err = tx2.Commit(ctx)
					}
					done <- result{got, err}
				}()
				waitForLockWait(t, s.Pool())
				if commitFirst {
					err = tx1.Commit(ctx)
				} else {
					err = tx1.Rollback(ctx)
				}
				if err != nil {
					t.Fatalf("tx1 end: %v", err)
				}
				r := <-done
				if r.err != nil {
					t.Fatalf("tx2: %v", r.err)
				}
				if !got1 || r.got != !commitFirst {
					t.Errorf("tx1 got it = %v, tx2 = %v; want true, %v", got1, r.got, !commitFirst)
				}
			})
		}
	}
}

// dueFixture writes n open tickets due one second apart before now, and
// returns their codes in due order.
func dueFixture(t *testing.T, s *sqlstore.Store, now time.Time, n int) []string {
	t.Helper()
	var (
		c     bot.Changes
		codes []string
	)
	for i := range n {
		code := fmt.Sprintf("KS-DUE%03d", i)
		codes = append(codes, code)
		c.Tickets = append(c.Tickets, bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived,
			Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: now.Add(-time.Hour), UpdatedAt: now,
			NextDue: now.Add(time.Duration(i-n) * time.Second)})
	}
	storetest.Apply(t, s, &c, now)
	return codes
}

// clockTx begins a transaction that is rolled back at cleanup unless
// ended before.
func clockTx(t *testing.T, s *sqlstore.Store) *sqlstore.Tx {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx.(*sqlstore.Tx)
}

// TestConcurrentDueTickets has several transactions take due tickets at
// once, each holding what it took: no ticket goes to two of them, and
// between them they take every one.
func TestConcurrentDueTickets(t *testing.T) {
	s := openPostgres(t, keys)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	want := dueFixture(t, s, now, 20)
	const limit = 3
	txs := make([]*sqlstore.Tx, 8) // 24 places for 20 tickets
	for i := range txs {
		txs[i] = clockTx(t, s)
	}
	takeAtOnce(t, len(txs), want, func(i int) ([]string, error) {
		ts, err := txs[i].DueTickets(t.Context(), now, limit)
		if len(ts) > limit {
			return nil, fmt.Errorf("DueTickets = %v, want at most %d", storetest.Codes(ts), limit)
		}
		return storetest.Codes(ts), err
	})
}

// TestDueTicketsSkipsHeld checks that a ticket another transaction holds
// (an officer's command locking it, or another clock run) is skipped, not
// waited for, and is due again once that transaction ends.
func TestDueTicketsSkipsHeld(t *testing.T) {
	s := openPostgres(t, keys)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	codes := dueFixture(t, s, now, 3) // A, B, C in due order
	a, b, c := codes[0], codes[1], codes[2]
	// A statement that waited on a lock would hang: fail instead.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	due := func(name string, tx *sqlstore.Tx, want ...string) {
		t.Helper()
		ts, err := tx.DueTickets(ctx, now, 10)
		if got := storetest.Codes(ts); err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s: DueTickets = %v, %v; want %v", name, got, err, want)
		}
	}

	officer := clockTx(t, s)
	if _, err := officer.Ticket(ctx, a); err != nil {
		t.Fatalf("officer's Tx.Ticket(%s): %v", a, err)
	}
	run1 := clockTx(t, s)
	due("run 1 while the officer holds A", run1, b, c)
	due("the officer's own transaction, not run 1's tickets", officer, a)
	run2 := clockTx(t, s)
	due("run 2 while every ticket is held", run2)
	if err := run2.Rollback(ctx); err != nil {
		t.Fatalf("run 2: Rollback: %v", err)
	}

	// Run 1 fails before committing (what its rollback undoes, the
	// contract's DueTicketsRolledBack checks); the officer is done. Their
	// locks go with them.
	if err := run1.Rollback(ctx); err != nil {
		t.Fatalf("run 1: Rollback: %v", err)
	}
	if err := officer.Commit(ctx); err != nil {
		t.Fatalf("officer: Commit: %v", err)
	}
	due("after run 1 rolled back", clockTx(t, s), a, b, c)
}
