package postgres_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"aduan/bot"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/postgres"
	"aduan/store/storetest"
)

var (
	migrateOnce sync.Once
	migrateErr  error
	// keys seals the test data; the lookup key stays the same for the
	// whole process, as in production.
	keys = seal.Random()
)

// openStore returns a store on the package's test database, migrated once
// per process and emptied for each test.
func openStore(t testing.TB) *postgres.Store { return openSealed(t, keys) }

// openSealed is openStore sealing under k.
func openSealed(t testing.TB, k *seal.Keyring) *postgres.Store {
	t.Helper()
	url := testenv.PostgresURL(t, "store_postgres")
	ctx := context.Background()
	s, err := postgres.Open(ctx, url, postgres.WithKeyring(k))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(s.Close)
	migrateOnce.Do(func() { migrateErr = postgres.Migrate(ctx, s.Pool()) })
	if migrateErr != nil {
		t.Fatalf("Migrate: %v", migrateErr)
	}
	if _, err := s.Pool().Exec(ctx, `TRUNCATE tickets, ticket_events, inbound_seen, outbox, opt_outs, digests, attachments, conversations RESTART IDENTITY`); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	return s
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) bot.Store { return openStore(t) })
}

func TestPrivate(t *testing.T) {
	storetest.RunPrivate(t, storetest.Sealed{
		Open: func(t *testing.T, k *seal.Keyring) storetest.Private { return openSealed(t, k) },
		Reopen: func(t *testing.T, s storetest.Private, k *seal.Keyring) storetest.Private {
			return postgres.New(s.(*postgres.Store).Pool(), postgres.WithKeyring(k))
		},
		Dump: func(t *testing.T, s storetest.Private) string { return dump(t, s.(*postgres.Store)) },
	})
}

// dump returns every row of the tables that hold personal data, as
// PostgreSQL writes rows as text (bytea in hex).
func dump(t *testing.T, s *postgres.Store) string {
	t.Helper()
	var out string
	err := s.Pool().QueryRow(t.Context(), `SELECT coalesce(string_agg(r, E'\n'), '') FROM (
	SELECT t::text AS r FROM tickets t UNION ALL
	SELECT e::text FROM ticket_events e UNION ALL
	SELECT o::text FROM outbox o UNION ALL
	SELECT a::text FROM attachments a UNION ALL
	SELECT c::text FROM conversations c) x`).Scan(&out)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}
	return out
}

func TestOpenUnreachable(t *testing.T) {
	// Port 1 on loopback: nothing listens there.
	_, err := postgres.Open(t.Context(), "postgres://aduan:s3cretpw@127.0.0.1:1/aduan?sslmode=disable&connect_timeout=5")
	if got := bot.KindOf(err); got != bot.Unavailable {
		t.Fatalf("KindOf(%v) = %v, want %v", err, got, bot.Unavailable)
	}
	if msg := err.Error(); !strings.Contains(msg, "127.0.0.1:1") || strings.Contains(msg, "s3cretpw") {
		t.Errorf("error = %q, want the host named and the password not", msg)
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://aduan:s3cretpw@127.0.0.1:notaport/aduan")
	if got := bot.KindOf(err); got != bot.Invalid {
		t.Fatalf("KindOf(%v) = %v, want %v", err, got, bot.Invalid)
	}
	if strings.Contains(err.Error(), "s3cretpw") {
		t.Errorf("error = %q, want the password not shown", err)
	}
}

func TestOpenPoolSize(t *testing.T) {
	url := testenv.PostgresURL(t, "store_postgres")
	tests := []struct {
		name string
		url  string
		want int32
	}{
		{"default", url, postgres.DefaultMaxConns},
		{"from URL", url + "&pool_max_conns=3", 3},
	}
	if !strings.Contains(url, "?") {
		t.Fatalf("test URL %q has no query; the table below assumes one", url)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := postgres.Open(t.Context(), tt.url)
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
	s := postgres.New(pool)
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
		{"Migrate", func(ctx context.Context) error { return postgres.Migrate(ctx, pool) }},
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
	s := openStore(t)
	s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Errorf("Ping on a closed pool = nil, want an error")
	}
}

// waitForLockWait polls until some backend waits on a lock, so that a test
// knows a concurrent statement is blocked rather than not yet started.
func waitForLockWait(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
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
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConcurrentClaimSameID(t *testing.T) {
	for _, commitFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("first commits=%v", commitFirst), func(t *testing.T) {
			s := openStore(t)
			ctx := t.Context()
			id := []bot.MessageID{{Channel: bot.SMS, ExternalID: "SM-race"}}

			tx1, err := s.Begin(ctx)
			if err != nil {
				t.Fatalf("Begin: %v", err)
			}
			defer tx1.Rollback(context.Background())
			dup1, err := tx1.Claim(ctx, id)
			if err != nil {
				t.Fatalf("tx1 Claim: %v", err)
			}

			type result struct {
				dup []bool
				err error
			}
			done := make(chan result, 1)
			go func() {
				tx2, err := s.Begin(ctx)
				if err != nil {
					done <- result{err: err}
					return
				}
				defer tx2.Rollback(context.Background())
				dup, err := tx2.Claim(ctx, id)
				if err == nil {
					err = tx2.Commit(ctx)
				}
				done <- result{dup, err}
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
			if dup1[0] {
				t.Errorf("tx1 dup = true, want false")
			}
			if got, want := r.dup[0], commitFirst; got != want {
				t.Errorf("tx2 dup = %v, want %v", got, want)
			}
		})
	}
}

// TestConcurrentClaimMany has several transactions claim the same IDs in
// different orders at once: each ID is fresh for exactly one, and none
// deadlocks.
func TestConcurrentClaimMany(t *testing.T) {
	s := openStore(t)
	const workers, ids = 6, 200
	fresh := make([][]string, workers)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			msgs := make([]bot.MessageID, ids)
			for i := range msgs {
				msgs[i] = bot.MessageID{Channel: bot.WhatsApp, ExternalID: fmt.Sprintf("wamid.%03d", i)}
			}
			rand.Shuffle(len(msgs), func(i, j int) { msgs[i], msgs[j] = msgs[j], msgs[i] })
			tx, err := s.Begin(t.Context())
			if err != nil {
				errs <- err
				return
			}
			defer tx.Rollback(context.Background())
			dup, err := tx.Claim(t.Context(), msgs)
			if err != nil {
				errs <- fmt.Errorf("worker %d: Claim: %w", w, err)
				return
			}
			if err := tx.Commit(t.Context()); err != nil {
				errs <- fmt.Errorf("worker %d: Commit: %w", w, err)
				return
			}
			for i, d := range dup {
				if !d {
					fresh[w] = append(fresh[w], msgs[i].ExternalID)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, f := range fresh {
		for _, id := range f {
			count[id]++
		}
	}
	if len(count) != ids {
		t.Errorf("%d IDs seen fresh, want %d", len(count), ids)
	}
	for id, n := range count {
		if n != 1 {
			t.Errorf("ID %s fresh for %d transactions, want 1", id, n)
		}
	}
}

func TestConcurrentDueOutbound(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	const n = 300
	c := &bot.Changes{}
	for i := range n {
		c.Outbox = append(c.Outbox, bot.Outbound{Channel: bot.SMS, To: "+6281200000001", Body: fmt.Sprint(i),
			Purpose: bot.PurposeReply, CreatedAt: now})
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if err := tx.Apply(ctx, c, now); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}

	const senders = 4
	got := make([][]int64, senders)
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for w := range senders {
		wg.Go(func() {
			for {
				ms, err := s.DueOutbound(ctx, now, time.Minute, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(ms) == 0 {
					return
				}
				for _, m := range ms {
					got[w] = append(got[w], m.ID)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("DueOutbound: %v", err)
	}
	seen := map[int64]int{}
	for w, ids := range got {
		for _, id := range ids {
			if prev, ok := seen[id]; ok {
				t.Errorf("message %d leased by senders %d and %d", id, prev, w)
			}
			seen[id] = w
		}
	}
	if len(seen) != n {
		t.Errorf("%d messages leased, want %d", len(seen), n)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	url := testenv.PostgresURL(t, "store_postgres_migrate")
	s, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	ctx := t.Context()
	// Start from an empty database, even when the test runs again in the
	// same process (-count).
	if _, err := s.Pool().Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatalf("reset schema: %v", err)
	}

	before, err := postgres.MigrationStatus(ctx, s.Pool())
	if err != nil {
		t.Fatalf("MigrationStatus before: %v", err)
	}
	for _, m := range before {
		if m.Applied {
			t.Errorf("before Migrate: version %d applied, want pending", m.Version)
		}
	}

	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { errs <- postgres.Migrate(ctx, s.Pool()) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}

	st, err := postgres.MigrationStatus(ctx, s.Pool())
	if err != nil {
		t.Fatalf("MigrationStatus: %v", err)
	}
	if len(st) == 0 || st[0].Version != 1 || st[0].Source != "00001_init.sql" {
		t.Fatalf("MigrationStatus = %+v, want version 1 (00001_init.sql) first", st)
	}
	for _, m := range st {
		if !m.Applied || m.AppliedAt.IsZero() {
			t.Errorf("version %d: applied = %v at %v, want applied with a time", m.Version, m.Applied, m.AppliedAt)
		}
	}
	var table string
	if err := s.Pool().QueryRow(ctx, `SELECT to_regclass('aduan_schema_version')::text`).Scan(&table); err != nil || table != postgres.VersionTable {
		t.Errorf("version table = %q, %v; want %q", table, err, postgres.VersionTable)
	}
	// Running again finds nothing to do.
	if err := postgres.Migrate(ctx, s.Pool()); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
}

func TestPruneSeen(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Claim(ctx, []bot.MessageID{{Channel: bot.SMS, ExternalID: "old"}}); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if n, err := s.PruneSeen(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneSeen(an hour ago) = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.PruneSeen(ctx, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("PruneSeen(in an hour) = %d, %v; want 1, nil", n, err)
	}
}

// BenchmarkBatch measures one pipeline batch's transaction: Claim of 64
// inbound IDs, Apply of 2 tickets, 4 events and 64 outbox messages, Commit.
func BenchmarkBatch(b *testing.B) {
	s := openStore(b)
	ctx := context.Background()
	now := time.Now().UTC()
	const perBatch = 64

	msgs := make([][]bot.MessageID, b.N)
	changes := make([]*bot.Changes, b.N)
	for i := range b.N {
		msgs[i] = make([]bot.MessageID, perBatch)
		for j := range perBatch {
			msgs[i][j] = bot.MessageID{Channel: bot.SMS, ExternalID: fmt.Sprintf("SM%08d%03d", i, j)}
		}
		c := &bot.Changes{}
		for k := range 2 {
			code := fmt.Sprintf("B%07d-%d", i, k)
			c.Tickets = append(c.Tickets, bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived,
				Kecamatan: "Borong", Answers: map[string]string{"what": "x", "where": "y"}, Channel: bot.SMS,
				Reporter: "+6281337785111", CreatedAt: now, UpdatedAt: now})
			c.Events = append(c.Events,
				bot.Event{TicketCode: code, At: now, Actor: "citizen", Type: "created"},
				bot.Event{TicketCode: code, At: now, Actor: "system", Type: "notified", Detail: "+6281300000001"})
		}
		for range perBatch {
			c.Outbox = append(c.Outbox, bot.Outbound{Channel: bot.SMS, To: "+6281337785111",
				Body: "Terima kasih, laporan Anda sudah kami terima.", Purpose: bot.PurposeReply, CreatedAt: now})
		}
		changes[i] = c
	}

	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tx, err := s.Begin(ctx)
		if err != nil {
			b.Fatalf("Begin: %v", err)
		}
		if _, err := tx.Claim(ctx, msgs[i]); err != nil {
			b.Fatalf("Claim: %v", err)
		}
		if err := tx.Apply(ctx, changes[i], now); err != nil {
			b.Fatalf("Apply: %v", err)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatalf("Commit: %v", err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "msgs/s")
}

// TestSealLegacyRows writes rows as the first schema held them, in clear,
// migrates, and checks that they read as before, that Rotate seals them
// and hashes their addresses, and that no clear text is left.
func TestSealLegacyRows(t *testing.T) {
	url := testenv.PostgresURL(t, "store_postgres_legacy")
	ctx := t.Context()
	s, err := postgres.Open(ctx, url, postgres.WithKeyring(keys))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if _, err := s.Pool().Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatalf("reset schema: %v", err)
	}
	db := stdlib.OpenDBFromPool(s.Pool())
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS("migrations"),
		goose.WithTableName(postgres.VersionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	const (
		phone = "+6281300000009"
		desc  = "Cerita lama yang ditulis sebelum enkripsi"
		note  = "Catatan petugas sebelum enkripsi"
	)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO tickets (code, kind, status, kecamatan, answers, channel, reporter, created_at, updated_at)
VALUES ('KS-LEGA1', 'case', 'received', 'borong', $1, 'sms', $2, now(), now())`,
			[]any{`{"kecamatan": "borong", "description": "` + desc + `"}`, phone}},
		{`INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES ('KS-LEGA1', now(), 'system', 'note', $1)`,
			[]any{note}},
		{`INSERT INTO outbox (channel, recipient, body, purpose, ticket_code, created_at, next_attempt_at)
VALUES ('sms', $1, $2, 'reply', 'KS-LEGA1', now(), now())`, []any{phone, desc}},
	} {
		if _, err := s.Pool().Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("legacy rows: %v", err)
		}
	}
	if err := postgres.Migrate(ctx, s.Pool()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}

	tk, err := s.Ticket(ctx, "KS-LEGA1")
	if err != nil || tk.Reporter != phone || tk.Answers["description"] != desc || tk.Answers["kecamatan"] != "borong" {
		t.Fatalf("legacy Ticket = %+v, %v; want it read as written", tk, err)
	}
	if ts, err := s.TicketsByReporter(ctx, bot.SMS, phone); err != nil || len(ts) != 0 {
		t.Errorf("TicketsByReporter before rotation = %v, %v; want none (no hash yet)", ts, err)
	}
	n, err := s.Rotate(ctx, 0)
	if want := (seal.Counts{Tickets: 1, Events: 1, Outbox: 1}); err != nil || n != want {
		t.Fatalf("Rotate = %+v, %v; want %+v", n, err, want)
	}
	after, err := s.Ticket(ctx, "KS-LEGA1")
	if err != nil || !reflect.DeepEqual(after, tk) {
		t.Errorf("Ticket after rotation = %+v, %v; want %+v", after, err, tk)
	}
	if es, err := s.Events(ctx, "KS-LEGA1"); err != nil || len(es) != 1 || es[0].Detail != note {
		t.Errorf("Events after rotation = %+v, %v; want the note", es, err)
	}
	if ts, err := s.TicketsByReporter(ctx, bot.SMS, phone); err != nil || len(ts) != 1 {
		t.Errorf("TicketsByReporter after rotation = %v, %v; want the ticket", ts, err)
	}
	d := dump(t, s)
	for _, secret := range []string{phone, desc, note, hex.EncodeToString([]byte(phone)), hex.EncodeToString([]byte(desc))} {
		if strings.Contains(d, secret) {
			t.Errorf("after rotation the database holds %q", secret)
		}
	}
}
