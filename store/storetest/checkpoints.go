package storetest

import (
	"bytes"
	"reflect"
	"slices"
	"sync"
	"testing"

	"aduan/bot"
)

// resume reads the checkpoints of cps in a new transaction, claiming
// nothing, and returns them.
func resume(t *testing.T, s bot.Store, cps ...bot.Checkpoint) []bot.Checkpoint {
	t.Helper()
	tx := begin(t, s)
	if _, err := tx.Resume(t.Context(), nil, cps); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	end(t, tx, false)
	return cps
}

// save writes checkpoints in one transaction and returns Apply's error,
// committing only when there is none.
func save(t *testing.T, s bot.Store, cps ...bot.Checkpoint) error {
	t.Helper()
	tx := begin(t, s)
	err := tx.Apply(t.Context(), &bot.Changes{Checkpoints: cps}, t0)
	end(t, tx, err == nil)
	return err
}

const (
	convA = "sms:+6281299990001"
	convB = "whatsapp:+6281299990001"
)

func testCheckpointsReadBack(t *testing.T, s bot.Store) {
	if got := resume(t, s, bot.Checkpoint{Key: convA}); got[0].Found || got[0].Stored != 0 || got[0].State != nil {
		t.Fatalf("no checkpoint yet: %+v, want none found", got[0])
	}
	long := bytes.Repeat([]byte("Suaminya memukul dia lagi tadi malam. "), 200) // compressed when sealed
	if err := save(t, s, bot.Checkpoint{Key: convA, Version: 1, State: []byte("langkah 1")},
		bot.Checkpoint{Key: convB, Version: 5, State: long}); err != nil {
		t.Fatalf("first save: %v", err)
	}
	if err := save(t, s, bot.Checkpoint{Key: convA, Stored: 1, Version: 2, State: []byte("langkah 2")}); err != nil {
		t.Fatalf("second save: %v", err)
	}
	tests := []struct {
		name string
		in   bot.Checkpoint
		want bot.Checkpoint
	}{
		{"caller has the stored version: no state sent", bot.Checkpoint{Key: convA, Version: 2},
			bot.Checkpoint{Key: convA, Version: 2, Found: true, Stored: 2}},
		{"caller is behind", bot.Checkpoint{Key: convA, Version: 1},
			bot.Checkpoint{Key: convA, Version: 1, Found: true, Stored: 2, State: []byte("langkah 2")}},
		{"caller has none", bot.Checkpoint{Key: convA},
			bot.Checkpoint{Key: convA, Found: true, Stored: 2, State: []byte("langkah 2")}},
		{"caller's copy is lost", bot.Checkpoint{Key: convA, Version: -1},
			bot.Checkpoint{Key: convA, Version: -1, Found: true, Stored: 2, State: []byte("langkah 2")}},
		{"long state", bot.Checkpoint{Key: convB},
			bot.Checkpoint{Key: convB, Found: true, Stored: 5, State: long}},
		{"another conversation", bot.Checkpoint{Key: "sms:+6281299990002", Version: 2},
			bot.Checkpoint{Key: "sms:+6281299990002", Version: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resume(t, s, tt.in)[0]; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Resume = %+v, want %+v", got, tt.want)
			}
		})
	}

	// Several at once, in the caller's order, with the claim.
	tx := begin(t, s)
	cps := []bot.Checkpoint{{Key: convB, Version: 5}, {Key: "sms:+62812"}, {Key: convA}}
	dup, err := tx.Resume(t.Context(), []bot.MessageID{sms("R1"), sms("R1")}, cps)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if want := []bool{false, true}; !slices.Equal(dup, want) {
		t.Errorf("dup = %v, want %v", dup, want)
	}
	if !cps[0].Found || cps[0].State != nil || cps[1].Found || !cps[2].Found || string(cps[2].State) != "langkah 2" {
		t.Errorf("Resume of three = %+v", cps)
	}
	end(t, tx, false)

	// A conversation that ended leaves a tombstone: found, no state.
	if err := save(t, s, bot.Checkpoint{Key: convA, Stored: 2, Version: 3}); err != nil {
		t.Fatalf("tombstone: %v", err)
	}
	if got := resume(t, s, bot.Checkpoint{Key: convA, Version: 2})[0]; !got.Found || got.Stored != 3 || got.State != nil || got.Lost {
		t.Errorf("after the end: %+v, want found at 3 with no state", got)
	}
	// ... and a new one starts from it.
	if err := save(t, s, bot.Checkpoint{Key: convA, Stored: 3, Version: 4, State: []byte("baru")}); err != nil {
		t.Fatalf("after the tombstone: %v", err)
	}
	if got := resume(t, s, bot.Checkpoint{Key: convA})[0]; got.Stored != 4 || string(got.State) != "baru" {
		t.Errorf("new conversation: %+v", got)
	}
}

func testCheckpointConflict(t *testing.T, s bot.Store) {
	if err := save(t, s, bot.Checkpoint{Key: convA, Version: 1, State: []byte("a")}); err != nil {
		t.Fatalf("save: %v", err)
	}
	tests := []struct {
		name string
		cp   bot.Checkpoint
	}{
		{"inserted by someone else", bot.Checkpoint{Key: convA, Version: 1, State: []byte("b")}},
		{"stored version moved on", bot.Checkpoint{Key: convA, Stored: 7, Version: 8, State: []byte("b")}},
	}
	for _, tt := range tests {
		wantKind(t, tt.name, save(t, s, bot.Checkpoint{Key: convB, Version: 1, State: []byte("ok")}, tt.cp), bot.Conflict)
	}
	// The failed transactions wrote nothing, the other conversation's
	// checkpoint included.
	got := resume(t, s, bot.Checkpoint{Key: convA}, bot.Checkpoint{Key: convB})
	if got[0].Stored != 1 || string(got[0].State) != "a" || got[1].Found {
		t.Errorf("after the conflicts: %+v", got)
	}
}

// testCheckpointRace has two transactions write the same step of one
// conversation, as two replicas would after a lease expired: the second
// to commit gets Conflict, whichever waited.
func testCheckpointRace(t *testing.T, s bot.Store) {
	if err := save(t, s, bot.Checkpoint{Key: convA, Version: 1, State: []byte("a")}); err != nil {
		t.Fatalf("save: %v", err)
	}
	ctx := t.Context()
	tx1 := begin(t, s)
	if err := tx1.Apply(ctx, &bot.Changes{Checkpoints: []bot.Checkpoint{{Key: convA, Stored: 1, Version: 2, State: []byte("one")}}}, t0); err != nil {
		t.Fatalf("tx1 Apply: %v", err)
	}
	var (
		wg   sync.WaitGroup
		err2 error
	)
	wg.Go(func() {
		tx2, err := s.Begin(ctx)
		if err != nil {
			err2 = err
			return
		}
		defer tx2.Rollback(ctx)
		err2 = tx2.Apply(ctx, &bot.Changes{Checkpoints: []bot.Checkpoint{{Key: convA, Stored: 1, Version: 2, State: []byte("two")}}}, t0)
		if err2 == nil {
			err2 = tx2.Commit(ctx)
		}
	})
	if err := tx1.Commit(ctx); err != nil {
		t.Fatalf("tx1 Commit: %v", err)
	}
	wg.Wait()
	wantKind(t, "tx2", err2, bot.Conflict)
	if got := resume(t, s, bot.Checkpoint{Key: convA})[0]; got.Stored != 2 || string(got.State) != "one" {
		t.Errorf("after the race: %+v, want version 2 %q", got, "one")
	}
}

func testSubmissions(t *testing.T, s bot.Store) {
	ctx := t.Context()
	c := sampleChanges()
	first := c.Tickets[0]
	first.Submission = "sms:+6281299990001\x00nonce\x00report"
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{first}}, t0)

	tx := begin(t, s)
	if code, err := tx.Filed(ctx, first.Submission); err != nil || code != first.Code {
		t.Errorf("Filed = %q, %v; want %q", code, err, first.Code)
	}
	wantKind(t, "Filed(another)", errOf(tx.Filed(ctx, "sms:+6281299990001\x00other\x00report")), bot.NotFound)
	end(t, tx, false)

	// A second ticket for the same submission is refused; tickets with
	// no submission are not limited.
	second := c.Tickets[1]
	second.Submission = first.Submission
	wantKind(t, "second ticket for the submission", tryApply(t, s, &bot.Changes{Tickets: []bot.Ticket{second}}), bot.Conflict)
	second.Submission = ""
	third := c.Tickets[0]
	third.Code = "KS-NOSUB2"
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{second, third}}, t0)
}
