package sqlstore_test

// Tests of what only SQLite does: a database file.

import (
	"path/filepath"
	"testing"
	"time"

	"aduan/bot"
	"aduan/store/sqlstore"
	"aduan/store/storetest"
)

func TestOpenBadPath(t *testing.T) {
	tests := []struct {
		name string
		path string
		want bot.ErrorKind
	}{
		{"empty", "", bot.Invalid},
		{"query", "aduan.db?mode=ro", bot.Invalid},
		{"missing directory", filepath.Join(t.TempDir(), "no", "such", "dir", "aduan.db"), bot.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlstore.OpenSQLite(t.Context(), tt.path)
			if err == nil {
				s.Close()
			}
			if got := bot.KindOf(err); got != tt.want {
				t.Errorf("Open(%q): KindOf(%v) = %v, want %v", tt.path, err, got, tt.want)
			}
		})
	}
}

func TestFileKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "aduan.db")
	s := openSQLite(t, path, keys)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	storetest.Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{{Code: "KS-1", Kind: bot.KindCase, Status: bot.StatusReceived,
		Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: now, UpdatedAt: now}}}, now)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openSQLite(t, path, keys) // migrations find nothing to do
	if _, err := s.Ticket(t.Context(), "KS-1"); err != nil {
		t.Errorf("Ticket after reopening: %v", err)
	}
}
