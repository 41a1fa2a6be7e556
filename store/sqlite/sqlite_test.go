package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/store/sqlite"
	"aduan/store/storetest"
)

func open(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), path)
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
	s, err := sqlite.Open(ctx, path)
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
