package sqlite_test

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
	"aduan/store/sqlite"
	"aduan/store/storetest"
)

// keys seals the test data; the lookup key stays the same for the whole
// process, as in production.
var keys = seal.Random()

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path, sqlite.WithKeyring(keys))
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) bot.Store { return open(t, sqlite.Memory) })
	})
	t.Run("file", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) bot.Store {
			return open(t, filepath.Join(t.TempDir(), "aduan.db"))
		})
	})
}

func TestPrivate(t *testing.T) {
	storetest.RunPrivate(t, storetest.Sealed{
		Open: func(t *testing.T, k *seal.Keyring) storetest.Private {
			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "aduan.db"), sqlite.WithKeyring(k))
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
		Reopen: func(t *testing.T, s storetest.Private, k *seal.Keyring) storetest.Private {
			return s.(*sqlite.Store).WithKeyring(k)
		},
		Dump: func(t *testing.T, s storetest.Private) string { return dump(t, s.(*sqlite.Store).DB()) },
	})
}

// dump returns every value of the tables that hold personal data: text as
// it is, BLOBs in hex.
func dump(t *testing.T, db *sql.DB) string {
	t.Helper()
	var sb strings.Builder
	for _, table := range []string{"tickets", "ticket_events", "outbox", "attachments", "conversations"} {
		rows, err := db.QueryContext(t.Context(), "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("dump %s: %v", table, err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					sb.WriteString(hex.EncodeToString(b))
				} else {
					fmt.Fprint(&sb, v)
				}
				sb.WriteByte('|')
			}
			sb.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		rows.Close()
	}
	return sb.String()
}

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
			s, err := sqlite.Open(t.Context(), tt.path)
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
	ctx := t.Context()
	s, err := sqlite.Open(ctx, path, sqlite.WithKeyring(keys))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	err = tx.Apply(ctx, &bot.Changes{Tickets: []bot.Ticket{{Code: "KS-1", Kind: bot.KindCase, Status: bot.StatusReceived,
		Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: now, UpdatedAt: now}}}, now)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = open(t, path) // migrations find nothing to do
	if _, err := s.Ticket(ctx, "KS-1"); err != nil {
		t.Errorf("Ticket after reopening: %v", err)
	}
}

// TestConcurrentClaim has several transactions claim the same IDs at once:
// writers take turns, and each ID is fresh for exactly one.
func TestConcurrentClaim(t *testing.T) {
	for _, path := range []string{sqlite.Memory, filepath.Join(t.TempDir(), "aduan.db")} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			s := open(t, path)
			const workers, ids = 4, 50
			var (
				mu    sync.Mutex
				fresh = map[string]int{}
				wg    sync.WaitGroup
				errs  = make(chan error, workers)
			)
			for range workers {
				wg.Go(func() {
					msgs := make([]bot.MessageID, ids)
					for i := range msgs {
						msgs[i] = bot.MessageID{Channel: bot.SMS, ExternalID: fmt.Sprint(i)}
					}
					tx, err := s.Begin(t.Context())
					if err != nil {
						errs <- err
						return
					}
					defer tx.Rollback(context.Background())
					dup, err := tx.Claim(t.Context(), msgs)
					if err == nil {
						err = tx.Commit(t.Context())
					}
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					defer mu.Unlock()
					for i, d := range dup {
						if !d {
							fresh[msgs[i].ExternalID]++
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(fresh) != ids {
				t.Errorf("%d IDs fresh, want %d", len(fresh), ids)
			}
			for id, n := range fresh {
				if n != 1 {
					t.Errorf("ID %s fresh %d times, want 1", id, n)
				}
			}
		})
	}
}

// TestSealLegacyRows writes rows as the first schema held them, in clear
// text, and checks that they read as before, that Rotate seals them and
// hashes their addresses, and that no clear text is left.
func TestSealLegacyRows(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "aduan.db"))
	ctx := t.Context()
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
VALUES ('KS-LEGA1', 'case', 'received', 'borong', ?, 'sms', ?, 1, 1)`,
			[]any{`{"kecamatan": "borong", "description": "` + desc + `"}`, phone}},
		{`INSERT INTO ticket_events (ticket_code, at, actor, type, detail) VALUES ('KS-LEGA1', 1, 'system', 'note', ?)`,
			[]any{note}},
		{`INSERT INTO outbox (channel, recipient, body, purpose, ticket_code, created_at, next_attempt_at)
VALUES ('sms', ?, ?, 'reply', 'KS-LEGA1', 1, 1)`, []any{phone, desc}},
	} {
		if _, err := s.DB().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("legacy rows: %v", err)
		}
	}
	tk, err := s.Ticket(ctx, "KS-LEGA1")
	if err != nil || tk.Reporter != phone || tk.Answers["description"] != desc || tk.Answers["kecamatan"] != "borong" {
		t.Fatalf("legacy Ticket = %+v, %v; want it read as written", tk, err)
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
	d := dump(t, s.DB())
	for _, secret := range []string{phone, desc, note, hex.EncodeToString([]byte(phone)), hex.EncodeToString([]byte(desc))} {
		if strings.Contains(d, secret) {
			t.Errorf("after rotation the database holds %q", secret)
		}
	}
	if n, err := s.Rotate(ctx, 0); err != nil || n != (seal.Counts{}) {
		t.Errorf("Rotate again = %+v, %v; want nothing", n, err)
	}
}
