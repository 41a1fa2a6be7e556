package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/store/postgres"
)

// dueFixture writes n open tickets due one second apart before now, and
// returns their codes in due order.
func dueFixture(t *testing.T, s *postgres.Store, now time.Time, n int) []string {
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
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	defer tx.Rollback(context.Background())
	if err := tx.Apply(t.Context(), &c, now); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := tx.Commit(t.Context()); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return codes
}

// clockTx begins a transaction that is rolled back at cleanup unless
// ended before.
func clockTx(t *testing.T, s *postgres.Store) *postgres.Tx {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() { tx.Rollback(context.Background()) })
	return tx.(*postgres.Tx)
}

func ticketCodes(ts []bot.Ticket) []string {
	out := []string{}
	for _, tk := range ts {
		out = append(out, tk.Code)
	}
	return out
}

// TestConcurrentDueTickets has several transactions take due tickets at
// once, each holding what it took: no ticket goes to two of them, and
// between them they take every one.
func TestConcurrentDueTickets(t *testing.T) {
	s := openStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	want := dueFixture(t, s, now, 20)
	const txs, limit = 8, 3 // 24 places for 20 tickets

	start := make(chan struct{})
	got := make([][]string, txs)
	errs := make([]error, txs)
	var wg sync.WaitGroup
	for i := range txs {
		tx := clockTx(t, s)
		wg.Go(func() {
			<-start
			ts, err := tx.DueTickets(t.Context(), now, limit)
			got[i], errs[i] = ticketCodes(ts), err
		})
	}
	close(start)
	wg.Wait()

	seen := map[string]int{}
	var all []string
	for i := range txs {
		if errs[i] != nil {
			t.Fatalf("tx %d: DueTickets: %v", i, errs[i])
		}
		if len(got[i]) > limit {
			t.Errorf("tx %d: DueTickets = %v, want at most %d", i, got[i], limit)
		}
		for _, code := range got[i] {
			if j, ok := seen[code]; ok {
				t.Errorf("%s went to tx %d and tx %d", code, j, i)
			}
			seen[code] = i
			all = append(all, code)
		}
	}
	slices.Sort(all)
	if !slices.Equal(all, want) {
		t.Errorf("taken between them = %v, want %v", all, want)
	}
}

// TestDueTicketsSkipsHeld checks that a ticket another transaction holds
// (an officer's command locking it, or another clock run) is skipped, not
// waited for, and that a rolled back run leaves its tickets due.
func TestDueTicketsSkipsHeld(t *testing.T) {
	s := openStore(t)
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	codes := dueFixture(t, s, now, 3) // A, B, C in due order
	a, b, c := codes[0], codes[1], codes[2]
	// A statement that waited on a lock would hang: fail instead.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	officer := clockTx(t, s)
	if _, err := officer.Ticket(ctx, a); err != nil {
		t.Fatalf("officer's Tx.Ticket(%s): %v", a, err)
	}
	run1 := clockTx(t, s)
	took, err := run1.DueTickets(ctx, now, 10)
	if err != nil {
		t.Fatalf("run 1: DueTickets: %v", err)
	}
	if got, want := ticketCodes(took), []string{b, c}; !slices.Equal(got, want) {
		t.Fatalf("run 1 while the officer holds %s: DueTickets = %v, want %v", a, got, want)
	}
	// The officer's own transaction sees its ticket, and not run 1's.
	ts, err := officer.DueTickets(ctx, now, 10)
	if err != nil {
		t.Fatalf("officer: DueTickets: %v", err)
	}
	if got, want := ticketCodes(ts), []string{a}; !slices.Equal(got, want) {
		t.Errorf("officer's transaction: DueTickets = %v, want %v", got, want)
	}
	run2 := clockTx(t, s)
	ts, err = run2.DueTickets(ctx, now, 10)
	if err != nil {
		t.Fatalf("run 2: DueTickets: %v", err)
	}
	if got := ticketCodes(ts); len(got) != 0 {
		t.Errorf("run 2 while every ticket is held: DueTickets = %v, want none", got)
	}
	if err := run2.Rollback(ctx); err != nil {
		t.Fatalf("run 2: Rollback: %v", err)
	}

	// Run 1 acts on B and C but fails before committing; the officer is
	// done.
	for i := range took {
		took[i].NextDue, took[i].Marks = time.Time{}, map[string]time.Time{"late_first": now}
	}
	if err := run1.Apply(ctx, &bot.Changes{Updates: took}, now); err != nil {
		t.Fatalf("run 1: Apply: %v", err)
	}
	if err := run1.Rollback(ctx); err != nil {
		t.Fatalf("run 1: Rollback: %v", err)
	}
	if err := officer.Commit(ctx); err != nil {
		t.Fatalf("officer: Commit: %v", err)
	}

	run3 := clockTx(t, s)
	ts, err = run3.DueTickets(ctx, now, 10)
	if err != nil {
		t.Fatalf("run 3: DueTickets: %v", err)
	}
	if got, want := ticketCodes(ts), []string{a, b, c}; !slices.Equal(got, want) {
		t.Errorf("after run 1 rolled back: DueTickets = %v, want %v", got, want)
	}
	for _, tk := range ts {
		if len(tk.Marks) != 0 {
			t.Errorf("after run 1 rolled back: %s marks = %v, want none", tk.Code, tk.Marks)
		}
	}
}

// TestConcurrentClaimDigest has two transactions claim the same day, the
// second waiting on the first: exactly one of them gets it.
func TestConcurrentClaimDigest(t *testing.T) {
	for _, commitFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("first commits=%v", commitFirst), func(t *testing.T) {
			s := openStore(t)
			ctx := t.Context()
			const day = "2026-03-02"
			tx1 := clockTx(t, s)
			first1, err := tx1.ClaimDigest(ctx, day)
			if err != nil {
				t.Fatalf("tx1 ClaimDigest: %v", err)
			}
			type result struct {
				first bool
				err   error
			}
			done := make(chan result, 1)
			tx2 := clockTx(t, s)
			go func() {
				first, err := tx2.ClaimDigest(ctx, day)
				if err == nil {
					err = tx2.Commit(ctx)
				}
				done <- result{first, err}
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
			if !first1 {
				t.Errorf("tx1 ClaimDigest = false, want true")
			}
			if got, want := r.first, !commitFirst; got != want {
				t.Errorf("tx2 ClaimDigest = %v, want %v", got, want)
			}
		})
	}
}
