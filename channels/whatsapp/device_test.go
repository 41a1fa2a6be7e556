package whatsapp_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"aduan/channels/whatsapp"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
)

// TestDevicesBesideAduan opens whatsmeow's device store in the same
// database as aduan's tables: the two schemas, and their version tables,
// stay apart, and replicas may start together.
func TestDevicesBesideAduan(t *testing.T) {
	ctx := context.Background()
	pg, err := sqlstore.OpenPostgres(ctx, testenv.PostgresURL(t, "channels_whatsapp"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	devs := make([]*whatsapp.Devices, 3)
	errs := make([]error, 3)
	for i := range devs {
		wg.Go(func() { devs[i], errs[i] = whatsapp.OpenPostgresDevices(ctx, pg.Pool(), nil) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("OpenPostgresDevices #%d = %v", i, err)
		}
		defer devs[i].Close()
	}
	// aduan's migrations still see their own state.
	if err := pg.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after whatsmeow = %v", err)
	}
	states, err := pg.MigrationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range states {
		if !s.Applied {
			t.Errorf("migration %s not applied", s.Source)
		}
	}
	var tables []string
	rows, err := pg.Pool().Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'whatsmeow%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"whatsmeow_device", "whatsmeow_lid_map", "whatsmeow_event_buffer", "whatsmeow_version"} {
		if !strings.Contains(strings.Join(tables, " "), want) {
			t.Errorf("tables %q, want %s", tables, want)
		}
	}

	jid, paired, err := devs[0].Paired(ctx)
	if err != nil || paired {
		t.Errorf("Paired() = %v, %t, %v; want none", jid, paired, err)
	}
	if _, err := devs[0].Open(ctx); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Open() = %v, want ErrNotPaired", err)
	}
	if _, err := devs[0].Check(ctx); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Check() = %v, want ErrNotPaired", err)
	}
	if _, err := devs[0].Logout(ctx); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Logout() = %v, want ErrNotPaired", err)
	}
}

func TestDevicesSQLite(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "whatsapp.db")
	d, err := whatsapp.OpenSQLiteDevices(ctx, path, nil)
	if err != nil {
		t.Fatalf("OpenSQLiteDevices = %v", err)
	}
	if _, paired, err := d.Paired(ctx); err != nil || paired {
		t.Errorf("Paired() = %t, %v; want false", paired, err)
	}
	if _, err := d.Open(ctx); !errors.Is(err, whatsapp.ErrNotPaired) {
		t.Errorf("Open() = %v, want ErrNotPaired", err)
	}
	d.Close()
	// Opening again finds whatsmeow's tables up to date.
	d, err = whatsapp.OpenSQLiteDevices(ctx, path, nil)
	if err != nil {
		t.Fatalf("reopen = %v", err)
	}
	d.Close()
}

func TestPostgresContacts(t *testing.T) {
	ctx := context.Background()
	pg, err := sqlstore.OpenPostgres(ctx, testenv.PostgresURL(t, "channels_whatsapp"))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	store, err := whatsapp.OpenPostgresContacts(ctx, pg.Pool(), keys.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Pool().Exec(ctx, "TRUNCATE whatsapp_contacts"); err != nil {
		t.Fatal(err)
	}
	// One process sees a citizen write; another (a restart, a replica)
	// may answer them, and still not a stranger.
	first := whatsapp.NewContacts([]string{officer}, store)
	if err := first.Add(ctx, "+"+citizen); err != nil {
		t.Fatal(err)
	}
	if err := first.Add(ctx, "+"+citizen); err != nil {
		t.Fatalf("second Add = %v", err)
	}
	later := whatsapp.NewContacts([]string{officer}, store)
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{officer, true},
		{"+" + citizen, true},
		{"+6281200000000", false},
	} {
		if got, err := later.Allowed(ctx, tc.addr); got != tc.want || err != nil {
			t.Errorf("Allowed(%s) = %t, %v; want %t", tc.addr, got, err, tc.want)
		}
	}
	if !later.IsStaff(officer) || later.IsStaff("+"+citizen) {
		t.Error("IsStaff wrong")
	}
	// The table holds no number in clear.
	var clear int
	if err := pg.Pool().QueryRow(ctx, `SELECT count(*) FROM whatsapp_contacts WHERE position($1::bytea IN address_hash) > 0`,
		[]byte(citizen)).Scan(&clear); err != nil || clear != 0 {
		t.Errorf("rows with the number in clear = %d, %v; want 0", clear, err)
	}
}

func TestLoggerMasksNumbers(t *testing.T) {
	var buf bytes.Buffer
	l := whatsapp.NewLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Sub("Client").Infof("Decrypting message from %s", "6281337700001@s.whatsapp.net")
	l.Sub("Recv").Debugf("<message from=%q>", "6281337700001@s.whatsapp.net")
	l.Warnf("retry %d", 3)
	out := buf.String()
	for _, want := range []string{"component=whatsmeow", "module=Client", "628133****0001@s.whatsapp.net", "retry 3"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q, want %q in it", out, want)
		}
	}
	if strings.Contains(out, "6281337700001") || strings.Contains(out, "<message") {
		t.Errorf("log %q shows a number or a protocol dump", out)
	}
}
