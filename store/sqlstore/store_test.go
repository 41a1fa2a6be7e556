package sqlstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
	"aduan/store/storetest"
)

// keys seals the test data; the lookup key stays the same for the whole
// process, as in production.
var keys = seal.Random()

// An engine opens an empty store, sealing under k.
type engine struct {
	name string
	open func(t testing.TB, k *seal.Keyring) *sqlstore.Store
}

// engines are what every test of the rules runs on: PostgreSQL, and SQLite
// in memory and in a file.
var engines = []engine{
	{"postgres", openPostgres},
	{"sqlite", func(t testing.TB, k *seal.Keyring) *sqlstore.Store { return openSQLite(t, sqlstore.Memory, k) }},
	{"sqlite_file", func(t testing.TB, k *seal.Keyring) *sqlstore.Store {
		return openSQLite(t, filepath.Join(t.TempDir(), "aduan.db"), k)
	}},
}

// onEach runs fn as a subtest on each engine, with a function that opens
// an empty store sealing under keys.
func onEach(t *testing.T, fn func(t *testing.T, open func(t testing.TB) *sqlstore.Store)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			fn(t, func(t testing.TB) *sqlstore.Store { return e.open(t, keys) })
		})
	}
}

var (
	migrateOnce sync.Once
	migrateErr  error
)

// openPostgres returns a store on the package's test database, migrated
// once per process and emptied for each test.
func openPostgres(t testing.TB, k *seal.Keyring) *sqlstore.Store {
	t.Helper()
	ctx := context.Background()
	s, err := sqlstore.OpenPostgres(ctx, testenv.PostgresURL(t, "store_sqlstore"), sqlstore.WithKeyring(k))
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	migrateOnce.Do(func() { migrateErr = s.Migrate(ctx) })
	if migrateErr != nil {
		t.Fatalf("Migrate: %v", migrateErr)
	}
	if _, err := s.Exec(ctx, `DO $$ BEGIN EXECUTE (SELECT 'TRUNCATE ' || string_agg(quote_ident(tablename), ', ') || ' RESTART IDENTITY'
	FROM pg_tables WHERE schemaname = current_schema() AND tablename <> '`+sqlstore.VersionTable+`'); END $$`); err != nil {
		t.Fatalf("truncate: %v", err)
	}
	return s
}

func openSQLite(t testing.TB, path string, k *seal.Keyring) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), path, sqlstore.WithKeyring(k))
	if err != nil {
		t.Fatalf("OpenSQLite(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		storetest.Run(t, func(t *testing.T) bot.Store { return open(t) })
	})
}

func TestPrivate(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			storetest.RunPrivate(t, storetest.Sealed{
				Open: func(t *testing.T, k *seal.Keyring) storetest.Private { return e.open(t, k) },
				Reopen: func(t *testing.T, s storetest.Private, k *seal.Keyring) storetest.Private {
					return s.(*sqlstore.Store).WithKeyring(k)
				},
				Dump: func(t *testing.T, s storetest.Private) string { return dump(t, s.(*sqlstore.Store)) },
			})
		})
	}
}

// dump returns every value of the tables that hold personal data, as the
// driver reads them: bytes in hex, the rest as fmt prints it.
func dump(t *testing.T, s *sqlstore.Store) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range []string{"tickets", "ticket_events", "outbox", "attachments", "conversations"} {
		rows, err := s.Query(t.Context(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		for _, row := range rows {
			for _, v := range row {
				if b, ok := v.([]byte); ok {
					sb.WriteString(hex.EncodeToString(b))
				} else {
					fmt.Fprint(&sb, v)
				}
				sb.WriteByte('|')
			}
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// emptyPostgres returns a store on the test database named db, its schema
// dropped: nothing migrated, even when the test runs again in the same
// process (-count).
func emptyPostgres(t *testing.T, db string, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenPostgres(t.Context(), testenv.PostgresURL(t, db), opts...)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.Exec(t.Context(), `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatalf("reset schema: %v", err)
	}
	return s
}

// TestMigrations migrates an empty PostgreSQL database from two replicas at
// once, and then again, and an empty SQLite database; then compares their
// tables and columns (names, types as PostgreSQL names them, and whether
// they take NULL) and their versions, all applied.
func TestMigrations(t *testing.T) {
	ctx := t.Context()
	pg := emptyPostgres(t, "store_sqlstore_schema")
	before, err := pg.MigrationStatus(ctx)
	if err != nil {
		t.Fatalf("MigrationStatus before: %v", err)
	}
	for _, m := range before {
		if m.Applied {
			t.Errorf("before Migrate: version %d applied, want pending", m.Version)
		}
	}
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { errs[i] = pg.Migrate(ctx) })
	}
	wg.Wait()
	errs[2] = pg.Migrate(ctx) // finds nothing to do
	for _, err := range errs {
		if err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	if rows, err := pg.Query(ctx, `SELECT to_regclass($1)::text`, sqlstore.VersionTable); err != nil || rows[0][0] != sqlstore.VersionTable {
		t.Errorf("version table = %v, %v; want %q", rows, err, sqlstore.VersionTable)
	}
	lite := openSQLite(t, filepath.Join(t.TempDir(), "aduan.db"), nil)

	pgCols := columns(t, pg, `SELECT c.relname, a.attname,
	replace(format_type(a.atttypid, a.atttypmod), 'timestamp with time zone', 'timestamptz'), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	AND c.relname <> $1`)
	// SQLite's rowid (INTEGER PRIMARY KEY) is PostgreSQL's bigserial.
	liteCols := columns(t, lite, `SELECT m.name, c.name,
	CASE WHEN c.pk > 0 AND c.type = 'INTEGER' THEN 'bigint' ELSE lower(c.type) END, c."notnull" OR c.pk > 0
FROM sqlite_schema m JOIN pragma_table_info(m.name) c
WHERE m.type = 'table' AND m.name NOT IN ('sqlite_sequence', $1)`)
	if len(pgCols) < 50 || !slices.Equal(pgCols, liteCols) {
		t.Errorf("the engines' schemas differ:\npostgres: %s\nsqlite:   %s", pgCols, liteCols)
	}
	pgSt, err := pg.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	liteSt, err := lite.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(pgSt) == 0 || pgSt[0].Version != 1 || pgSt[0].Source != "00001_init.sql" || len(liteSt) != len(pgSt) {
		t.Fatalf("versions: postgres %+v, sqlite %+v; want the same, version 1 (00001_init.sql) first", pgSt, liteSt)
	}
	for i := range pgSt {
		for _, m := range []sqlstore.MigrationState{pgSt[i], liteSt[i]} {
			if !m.Applied || m.AppliedAt.IsZero() || m.Version != pgSt[i].Version {
				t.Errorf("version %d: %+v, want it applied with a time, on both engines", pgSt[i].Version, m)
			}
		}
	}
}

// columns lists "table.column type NOT NULL" for each column the query
// gives, sorted.
func columns(t *testing.T, s *sqlstore.Store, query string) []string {
	t.Helper()
	rows, err := s.Query(t.Context(), query, sqlstore.VersionTable)
	if err != nil {
		t.Fatalf("columns: %v", err)
	}
	var out []string
	for _, r := range rows {
		notNull := r[3] == true || r[3] == int64(1)
		out = append(out, fmt.Sprintf("%s.%s %s%s", r[0], r[1], r[2], map[bool]string{true: " NOT NULL"}[notNull]))
	}
	slices.Sort(out)
	return out
}

// TestSealLegacyRows writes rows as the first schema held them, in clear,
// migrates, and checks that they read as before, that Rotate seals them
// and hashes their addresses, and that no clear text is left.
func TestSealLegacyRows(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		testSealLegacyRows(t, emptyPostgres(t, "store_sqlstore_legacy", sqlstore.WithKeyring(keys)))
	})
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlstore.OpenSQLiteBare(filepath.Join(t.TempDir(), "aduan.db"), sqlstore.WithKeyring(keys))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		testSealLegacyRows(t, s)
	})
}

func testSealLegacyRows(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	if err := s.MigrateTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	const (
		phone = "+6281300000009"
		desc  = "Cerita lama yang ditulis sebelum enkripsi"
		note  = "Catatan petugas sebelum enkripsi"
	)
	at := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO tickets (code, kind, status, kecamatan, answers, channel, reporter, created_at, updated_at)
VALUES ('KS-LEGA1', 'case', 'received', 'borong', $1, 'sms', $2, $3, $3)`,
			[]any{`{"kecamatan": "borong", "description": "` + desc + `"}`, phone, at}},
		{`INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES ('KS-LEGA1', $1, 'system', 'note', $2)`,
			[]any{at, note}},
		{`INSERT INTO outbox (channel, recipient, body, purpose, ticket_code, created_at, next_attempt_at)
VALUES ('sms', $1, $2, 'reply', 'KS-LEGA1', $3, $3)`, []any{phone, desc, at}},
	} {
		if _, err := s.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("legacy rows: %v", err)
		}
	}
	if err := s.Migrate(ctx); err != nil {
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
	if n, err := s.Rotate(ctx, 0); err != nil || n != (seal.Counts{}) {
		t.Errorf("Rotate again = %+v, %v; want nothing", n, err)
	}
}

// reportFixture writes three tickets, one each side of November 2026 and
// one inside, with events, and returns November's bounds.
func reportFixture(t *testing.T, s bot.Store) (from, to time.Time) {
	t.Helper()
	from = time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("WITA", 8*3600))
	to = from.AddDate(0, 1, 0)
	var ch bot.Changes
	for i, at := range []time.Time{from.Add(-time.Microsecond), from, to.Add(-time.Microsecond), to} {
		code := []string{"KS-BEFOR", "KS-FIRST", "KS-LAST2", "KS-AFTER"}[i]
		ch.Tickets = append(ch.Tickets, bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived,
			Kecamatan: "borong", Answers: map[string]string{"violence": "physical"}, Channel: bot.SMS,
			Reporter: "+6281299990001", CreatedAt: at, UpdatedAt: at})
		ch.Events = append(ch.Events,
			bot.Event{TicketCode: code, At: at, Actor: "citizen", Type: "created"},
			bot.Event{TicketCode: code, At: at.Add(10 * time.Minute), Actor: "+6281337785111", Type: "accepted"})
	}
	ch.Events = append(ch.Events, bot.Event{TicketCode: "KS-FIRST", At: from.Add(time.Hour), Actor: "system",
		Type: "status", Detail: "done"})
	storetest.Apply(t, s, &ch, time.Now())
	return from, to
}

func TestTicketsCreated(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		s := open(t)
		from, to := reportFixture(t, s)
		ts, events, err := s.TicketsCreated(t.Context(), from, to)
		if err != nil {
			t.Fatalf("TicketsCreated: %v", err)
		}
		if len(ts) != 2 || ts[0].Code != "KS-FIRST" || ts[1].Code != "KS-LAST2" {
			t.Fatalf("tickets = %+v, want KS-FIRST and KS-LAST2", ts)
		}
		if ts[0].Answers["violence"] != "physical" || !ts[0].CreatedAt.Equal(from) {
			t.Errorf("ticket = %+v, want its answers and creation time", ts[0])
		}
		first := events["KS-FIRST"]
		if len(events) != 2 || len(first) != 3 || first[0].Type != "created" || first[1].Type != "accepted" ||
			first[2].Detail != "done" || !first[1].At.Equal(from.Add(10*time.Minute)) {
			t.Errorf("events = %+v, want those of the two tickets, in order", events)
		}
		r := bot.MonthlyReport(ts, events, from, to, to.Add(time.Hour))
		if all := r.Standard[0]; r.Tickets != 2 || all.Response.Met != 2 || all.Done.Met != 1 || all.Done.Open != 1 {
			t.Errorf("report: %d tickets, response %+v, done %+v; want 2, 2 met, 1 met and 1 open",
				r.Tickets, all.Response, all.Done)
		}

		empty, evs, err := s.TicketsCreated(t.Context(), to.AddDate(1, 0, 0), to.AddDate(1, 1, 0))
		if err != nil || len(empty) != 0 || len(evs) != 0 {
			t.Errorf("a month without tickets: %v, %v, %v; want nothing", empty, evs, err)
		}
	})
}

func TestOutboxStats(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		s := open(t)
		ctx := t.Context()
		n, oldest, err := s.OutboxStats(ctx)
		if err != nil || n != 0 || !oldest.IsZero() {
			t.Fatalf("empty outbox: %d, %v, %v; want 0, zero time, nil", n, oldest, err)
		}
		created := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
		ch := bot.Changes{Outbox: []bot.Outbound{
			{Channel: bot.SMS, To: "+6281299990001", Body: "a", Purpose: bot.PurposeReply, CreatedAt: created},
			{Channel: bot.SMS, To: "+6281299990001", Body: "b", Purpose: bot.PurposeReply, CreatedAt: created.Add(time.Minute)},
			{Channel: bot.SMS, To: "+6281299990002", Body: "c", Purpose: bot.PurposeReply, CreatedAt: created.Add(2 * time.Minute)},
		}}
		storetest.Apply(t, s, &ch, created)
		if err := s.Settle(ctx, []bot.Delivery{{ID: ch.Outbox[0].ID, ProviderID: "SM1"}}); err != nil {
			t.Fatal(err)
		}
		n, oldest, err = s.OutboxStats(ctx)
		if err != nil || n != 2 || !oldest.Equal(created.Add(time.Minute)) {
			t.Errorf("OutboxStats = %d, %v, %v; want 2, %v, nil", n, oldest, err, created.Add(time.Minute))
		}
	})
}

func TestPruneSeen(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		s := open(t)
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
	})
}

// takeAtOnce runs take(0) to take(n-1) at once, each in a goroutine of its
// own, and checks that between them they took each of want exactly once.
func takeAtOnce(t *testing.T, n int, want []string, take func(i int) ([]string, error)) {
	t.Helper()
	got := make([][]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			got[i], errs[i] = take(i)
		})
	}
	close(start)
	wg.Wait()
	by := map[string]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("taker %d: %v", i, errs[i])
		}
		for _, x := range got[i] {
			if j, ok := by[x]; ok {
				t.Errorf("%s taken by %d and %d", x, j, i)
			}
			by[x] = i
		}
	}
	if all := slices.Sorted(maps.Keys(by)); !slices.Equal(all, slices.Sorted(slices.Values(want))) {
		t.Errorf("taken between them: %d (%v), want the %d of %v", len(all), all, len(want), want)
	}
}

// TestConcurrentClaimMany has several transactions claim the same IDs in
// different orders at once: each ID is fresh for exactly one, and none
// deadlocks (SQLite's writers take turns).
func TestConcurrentClaimMany(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		s := open(t)
		var ids []string
		for i := range 200 {
			ids = append(ids, fmt.Sprintf("wamid.%03d", i))
		}
		takeAtOnce(t, 6, ids, func(int) ([]string, error) {
			msgs := make([]bot.MessageID, len(ids))
			for i, k := range rand.Perm(len(ids)) {
				msgs[i] = bot.MessageID{Channel: bot.WhatsApp, ExternalID: ids[k]}
			}
			tx, err := s.Begin(t.Context())
			if err != nil {
				return nil, err
			}
			defer tx.Rollback(context.Background())
			dup, err := tx.Claim(t.Context(), msgs)
			if err != nil {
				return nil, fmt.Errorf("Claim: %w", err)
			}
			var fresh []string
			for i, d := range dup {
				if !d {
					fresh = append(fresh, msgs[i].ExternalID)
				}
			}
			return fresh, tx.Commit(t.Context())
		})
	})
}

// TestConcurrentDueOutbound has several senders lease at once until
// nothing is due: no message goes to two of them, and every one goes out.
func TestConcurrentDueOutbound(t *testing.T) {
	onEach(t, func(t *testing.T, open func(t testing.TB) *sqlstore.Store) {
		s := open(t)
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		var (
			c    bot.Changes
			want []string
		)
		for i := range 300 {
			want = append(want, fmt.Sprint(i))
			c.Outbox = append(c.Outbox, bot.Outbound{Channel: bot.SMS, To: "+6281200000001", Body: want[i],
				Purpose: bot.PurposeReply, CreatedAt: now})
		}
		storetest.Apply(t, s, &c, now)
		takeAtOnce(t, 4, want, func(int) ([]string, error) {
			var took []string
			for {
				ms, err := s.DueOutbound(t.Context(), now, time.Minute, 7)
				if err != nil || len(ms) == 0 {
					return took, err
				}
				for _, m := range ms {
					took = append(took, m.Body)
				}
			}
		})
	})
}

// BenchmarkBatch measures one pipeline batch's transaction: Claim of 64
// inbound IDs, Apply of 2 tickets, 4 events and 64 outbox messages, Commit.
func BenchmarkBatch(b *testing.B) {
	for _, e := range engines {
		b.Run(e.name, func(b *testing.B) { benchmarkBatch(b, e.open(b, keys)) })
	}
}

func benchmarkBatch(b *testing.B, s *sqlstore.Store) {
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
