package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/bot"
	"aduan/channels/whatsapp"
	"aduan/internal/config"
	"aduan/internal/testenv"
	"aduan/store/sqlstore"
)

// waSecurity holds the keys of the WhatsApp tests' configuration.
var waSecurity = config.Security{
	EncryptionKey: base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x33}, 32)),
	LookupKey:     base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x44}, 32)),
}

func TestWhatsAppCommandUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wa.db")
	for _, tc := range []struct {
		label string
		args  []string
		want  string
	}{
		{"no verb", []string{"whatsapp"}, "say pair, status or logout"},
		{"unknown verb", []string{"whatsapp", "link"}, `unknown command "link"`},
		{"both stores", []string{"whatsapp", "status", "--db", db, "--config", "x.yaml"}, "not both"},
		{"bad phone", []string{"whatsapp", "pair", "--db", db, "--phone", "12"}, "--phone"},
		{"extra argument", []string{"whatsapp", "status", "--db", db, "now"}, `unexpected argument "now"`},
	} {
		t.Run(tc.label, func(t *testing.T) {
			_, _, err := runCmd(t, "", nil, tc.args...)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error naming %q", err, tc.want)
			}
		})
	}
	out, _, err := runCmd(t, "", nil, "whatsapp", "-h")
	if err != nil || !strings.Contains(out, "aduan-env whatsapp pair") || !strings.Contains(out, "pair ") {
		t.Errorf("whatsapp -h = %q, %v", out, err)
	}
	out, _, err = runCmd(t, "", nil, "whatsapp", "pair", "-h")
	if err != nil || !strings.Contains(out, "aduan whatsapp pair") || !strings.Contains(out, "--phone") {
		t.Errorf("whatsapp pair -h = %q, %v", out, err)
	}
}

func TestWhatsAppCommandsUnpaired(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wa.db")
	out, _, err := runCmd(t, "", nil, "whatsapp", "status", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "no device paired") || !strings.Contains(out, "paired:     no") {
		t.Errorf("status = %q, %v; want not paired", out, err)
	}
	if _, _, err := runCmd(t, "", nil, "whatsapp", "logout", "--db", db); err == nil || !strings.Contains(err.Error(), "no device paired") {
		t.Errorf("logout = %v, want no device paired", err)
	}

	// The same in PostgreSQL, while another process holds the connection.
	ctx := context.Background()
	url := testenv.PostgresURL(t, "cmd_aduan")
	path := filepath.Join(t.TempDir(), "aduan.yaml")
	os.WriteFile(path, []byte("postgres: {url: \""+url+"\"}\nofficers:\n  - {name: A, phone: \"081337785111\", role: officer}\n"), 0o600)
	cc, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	other := whatsapp.NewPGLease(cc, whatsapp.LeaseOptions{Name: "aduan-whatsapp other-host 42"})
	if _, err := other.TryAcquire(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Release()
	out, _, err = runCmd(t, "", nil, "whatsapp", "status", "--config", path)
	if err == nil || !strings.Contains(out, "paired:     no") || !strings.Contains(out, "held by aduan-whatsapp other-host 42") {
		t.Errorf("status = %q, %v; want not paired, held by the other process", out, err)
	}
}

// waPipeline is a pipeline that stores nothing.
type waPipeline struct{}

func (waPipeline) Handle(context.Context, bot.Inbound) error { return nil }

func TestStartWhatsApp(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Postgres.URL = testenv.PostgresURL(t, "cmd_aduan")
	cfg.Officers = []config.Officer{{Name: "A", Phone: "+6281337785111", Role: config.RoleOfficer, Channel: config.ChannelWhatsApp}}
	cfg.Security = waSecurity
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	log := slog.New(slog.DiscardHandler)

	// Disabled: nothing starts.
	sender, state, stop, _, err := startWhatsApp(ctx, cfg, pg.Pool(), waPipeline{}, pg, nil, log, nil)
	if err != nil || sender != nil || state() != "disabled" {
		t.Fatalf("disabled: sender %v, state %q, err %v", sender, state(), err)
	}
	stop()

	// Enabled with no device paired: the channel waits for a pairing, and
	// messages to staff go by SMS meanwhile.
	cfg.WhatsApp.Enabled = true
	sms := &smsRecorder{}
	sender, state, stop, _, err = startWhatsApp(ctx, cfg, pg.Pool(), waPipeline{}, pg, sms, log, func(string) {})
	if err != nil {
		t.Fatalf("startWhatsApp = %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for state() != string(whatsapp.StateUnpaired) {
		if time.Now().After(deadline) {
			t.Fatalf("state = %q, want unpaired", state())
		}
		time.Sleep(5 * time.Millisecond)
	}
	id, err := sender.Send(ctx, bot.Outbound{ID: 1, Channel: bot.WhatsApp, To: "+6281337785111", Body: "Tiket baru",
		Purpose: bot.PurposeNotify})
	if err != nil || id != "SM1" || len(sms.msgs) != 1 {
		t.Errorf("Send to an officer while unpaired = %q, %v (sms got %d); want it sent by SMS", id, err, len(sms.msgs))
	}
	if _, err := sender.Send(ctx, bot.Outbound{ID: 2, Channel: bot.WhatsApp, To: "+6281299990001", Body: "halo",
		Purpose: bot.PurposeReply}); err == nil {
		t.Error("Send to a citizen while unpaired succeeded, want an error")
	}
	if w, ok := sender.(bot.Wiper); !ok {
		t.Error("the WhatsApp sender is not a bot.Wiper")
	} else if err := w.Wipe(ctx, "+6281299990001", []string{"3EB0AA"}); bot.KindOf(err) != bot.Temporary {
		t.Errorf("Wipe while unpaired = %v, want a temporary error", err)
	}
	stop()
	if got := state(); got != string(whatsapp.StateStopped) {
		t.Errorf("state after stop = %q, want stopped", got)
	}
}

type smsRecorder struct{ msgs []bot.Outbound }

func (s *smsRecorder) Send(ctx context.Context, m bot.Outbound) (string, error) {
	s.msgs = append(s.msgs, m)
	return "SM1", nil
}
