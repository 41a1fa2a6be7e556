package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/config"
	"aduan/internal/seal"
	"aduan/store/sqlstore"
)

func TestKeysGenerate(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "keys", "generate", "-n", "2")
	if err != nil {
		t.Fatalf("keys generate: %v", err)
	}
	lines := strings.Fields(out)
	if len(lines) != 2 || lines[0] == lines[1] {
		t.Fatalf("keys generate -n 2 printed %q, want two distinct keys", out)
	}
	for _, l := range lines {
		if b, err := seal.ParseKey(l); err != nil || len(b) != seal.KeySize {
			t.Errorf("generated key %q: %v", l, err)
		}
	}
}

// TestKeyUsageErrors checks that commands that need the keys say which
// are missing, and never print a key.
func TestKeyUsageErrors(t *testing.T) {
	dir := t.TempDir()
	noKeys := filepath.Join(dir, "nokeys.yaml")
	os.WriteFile(noKeys, []byte("http: {public_url: \"https://aduan.example.go.id\"}\n"+
		"twilio: {account_sid: AC1, auth_token: tok, from: \"+6281100000000\"}\n"+
		"officers:\n  - {name: A, phone: \"081337785111\", role: officer}\n"), 0o600)
	short := "c2hvcnQ="
	tests := []struct {
		label string
		env   map[string]string
		args  []string
		want  string
	}{
		{"serve without keys", nil, []string{"serve", "--config", noKeys}, "security.encryption_key"},
		{"serve without the lookup key", map[string]string{"ADUAN_ENCRYPTION_KEY": testSecurity.EncryptionKey},
			[]string{"serve", "--config", noKeys}, "security.lookup_key"},
		{"tickets without keys", nil, []string{"tickets", "list", "--config", noKeys}, "security.encryption_key"},
		{"purge without keys", nil, []string{"purge", "--config", noKeys}, "security.encryption_key"},
		{"rotate without keys", nil, []string{"keys", "rotate", "--config", noKeys}, "security.encryption_key"},
		{"a bad key", map[string]string{"ADUAN_ENCRYPTION_KEY": short}, []string{"serve", "--config", noKeys},
			"security.encryption_key (from ADUAN_ENCRYPTION_KEY): is base64 of 5 bytes"},
		{"keys without verb", nil, []string{"keys"}, "say generate or rotate"},
		{"erase without --yes", nil, []string{"tickets", "erase", "KS-7HQ4XM"}, "run again with --yes"},
		{"erase a bad code", nil, []string{"tickets", "erase", "--yes", "nope"}, "not a ticket code"},
		{"purge with negative days", nil, []string{"purge", "--days", "-1"}, "negative"},
		{"files without keys", nil, []string{"tickets", "files", "--config", noKeys, "--dir", dir, "KS-7HQ4XM"},
			"security.encryption_key"},
		{"files without --dir", nil, []string{"tickets", "files", "KS-7HQ4XM"}, "give --dir"},
		{"files of a bad code", nil, []string{"tickets", "files", "--dir", dir, "nope"}, "not a ticket code"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			_, _, err := runCmd(t, "", tt.env, tt.args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), short) {
				t.Errorf("err = %q, want one naming %q, and no key", err, tt.want)
			}
		})
	}
}

// commandStore opens the commands' test database with the keyring k.
// commandSetup empties the service's database and Redis, and returns a
// configuration file for the commands under test and a store on it.
func commandSetup(t *testing.T) (file string, pg *sqlstore.Store) {
	t.Helper()
	cfg := testConfig(t, "https://api.twilio.com")
	reset(t, cfg)
	file = writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	keys, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	return file, commandStore(t, cfg, keys)
}

func commandStore(t *testing.T, cfg *config.Config, k *seal.Keyring) *sqlstore.Store {
	t.Helper()
	pg, err := sqlstore.OpenPostgres(context.Background(), cfg.Postgres.URL, sqlstore.WithKeyring(k))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	return pg
}

// storeChanges writes c in one transaction, and records its messages as
// sent.
func storeChanges(t *testing.T, pg *sqlstore.Store, c *bot.Changes) {
	t.Helper()
	ctx := context.Background()
	tx, err := pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := tx.Apply(ctx, c, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var ds []bot.Delivery
	for _, m := range c.Outbox {
		ds = append(ds, bot.Delivery{ID: m.ID, ProviderID: fmt.Sprintf("SM%d-%d", m.ID, time.Now().UnixNano())})
	}
	if err := pg.Settle(ctx, ds); err != nil {
		t.Fatal(err)
	}
}

// secretTicket is a done case report with a description.
func secretTicket(code string, closed time.Time) *bot.Changes {
	return &bot.Changes{
		Tickets: []bot.Ticket{{Code: code, Kind: bot.KindCase, Status: bot.StatusDone, Kecamatan: "borong",
			Answers: map[string]string{"kecamatan": "borong", "description": "Dipukul dengan kayu"}, Channel: bot.SMS,
			Reporter: citizen, CreatedAt: closed.Add(-time.Hour), UpdatedAt: closed, ClosedAt: closed}},
		Events: []bot.Event{{TicketCode: code, At: closed, Actor: testOfficers[0].Phone, Type: "note", Detail: "catatan"}},
		Outbox: []bot.Outbound{{Channel: bot.SMS, To: citizen, Body: "Kode Anda " + code, Purpose: bot.PurposeReply,
			TicketCode: code, CreatedAt: closed}},
	}
}

func TestKeysRotate(t *testing.T) {
	cfg := testConfig(t, "https://api.twilio.com")
	reset(t, cfg)
	file := writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	oldRing, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	storeChanges(t, commandStore(t, cfg, oldRing), secretTicket("KS-ROTA1", time.Now()))

	newKey := seal.Generate()
	env := map[string]string{"ADUAN_ENCRYPTION_KEY": newKey, "ADUAN_ENCRYPTION_OLD_KEYS": testSecurity.EncryptionKey}
	out, _, err := runCmd(t, "", env, "keys", "rotate", "--config", file, "--batch", "1")
	if err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "rotated: tickets 1, events 1, outbox messages 1") || strings.Contains(out, newKey) {
		t.Errorf("keys rotate printed %q, want the counts, and no key", out)
	}
	// The new key alone now reads everything.
	cfg.Security = config.Security{EncryptionKey: newKey, LookupKey: testSecurity.LookupKey}
	newRing, err := cfg.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	pg := commandStore(t, cfg, newRing)
	tk, err := pg.Ticket(context.Background(), "KS-ROTA1")
	if err != nil || tk.Answers["description"] != "Dipukul dengan kayu" || tk.Reporter != citizen {
		t.Errorf("after rotation, under the new key alone: %+v, %v", tk, err)
	}
	out, _, err = runCmd(t, "", env, "keys", "rotate", "--config", file)
	if err != nil || !strings.Contains(out, "rotated: tickets 0, events 0, outbox messages 0") {
		t.Errorf("keys rotate again = %q, %v; want nothing left to do", out, err)
	}
}

func TestPurgeAndErase(t *testing.T) {
	file, pg := commandSetup(t)
	storeChanges(t, pg, secretTicket("KS-OLDD1", time.Now().AddDate(0, 0, -100)))
	storeChanges(t, pg, secretTicket("KS-NEWW1", time.Now().AddDate(0, 0, -10)))
	ctx := context.Background()

	out, _, err := runCmd(t, "", nil, "purge", "--config", file, "--dry-run")
	if err != nil || !strings.Contains(out, "would purge") || !strings.Contains(out, "tickets 1, events 1, outbox messages 1") {
		t.Fatalf("purge --dry-run = %q, %v; want one ticket of each", out, err)
	}
	if tk, _ := pg.Ticket(ctx, "KS-OLDD1"); tk.Answers["description"] == "" {
		t.Fatalf("purge --dry-run removed the description")
	}
	out, _, err = runCmd(t, "", nil, "purge", "--config", file)
	if err != nil || !strings.Contains(out, "purged") || !strings.Contains(out, "(90 days)") {
		t.Fatalf("purge = %q, %v", out, err)
	}
	for code, gone := range map[string]bool{"KS-OLDD1": true, "KS-NEWW1": false} {
		tk, err := pg.Ticket(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		if (tk.Answers["description"] == "") != gone || tk.Answers["kecamatan"] != "borong" {
			t.Errorf("%s after purge: %+v; want the description gone = %v, the kecamatan kept", code, tk, gone)
		}
	}
	if out, _, err := runCmd(t, "", nil, "purge", "--config", file, "--days", "5"); err != nil ||
		!strings.Contains(out, "tickets 1,") {
		t.Errorf("purge --days 5 = %q, %v; want the newer ticket purged too", out, err)
	}

	storeChanges(t, pg, secretTicket("KS-ERASE", time.Now()))
	out, _, err = runCmd(t, "", nil, "tickets", "erase", "--config", file, "--by", "Kepala Dinas", "--yes", "ks-erase")
	if err != nil || !strings.Contains(out, "erased the personal data of KS-ERASE: tickets 1, events 1, outbox messages 1") {
		t.Fatalf("tickets erase = %q, %v", out, err)
	}
	tk, err := pg.Ticket(ctx, "KS-ERASE")
	if err != nil || tk.Reporter != "" || tk.Answers["description"] != "" {
		t.Errorf("erased ticket = %+v, %v", tk, err)
	}
	evs, err := pg.Events(ctx, "KS-ERASE")
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Type != "erased" || evs[len(evs)-1].Actor != "Kepala Dinas" {
		t.Errorf("events after erasure = %+v, %v; want an erased event by Kepala Dinas last", evs, err)
	}
	if _, _, err := runCmd(t, "", nil, "tickets", "erase", "--config", file, "--yes", "KS-ZZZZ9"); err == nil ||
		!strings.Contains(err.Error(), "no ticket KS-ZZZZ9") {
		t.Errorf("erasing an unknown ticket: %v, want no ticket", err)
	}
}
