package storetest

import (
	"reflect"
	"testing"
	"time"

	"aduan/bot"
)

// handled is a ticket an officer took, with a backup, relaying.
func handled(code string) bot.Ticket {
	return bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived, Urgent: true, Kecamatan: "elar",
		Answers: map[string]string{"kecamatan": "elar", "violence": "sexual", "description": "diceritakan"},
		Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: t0, UpdatedAt: t0.Add(time.Minute),
		Assignee: "+6281337785111", Backups: []string{"+6281337973213", `"aneh"\`},
		AcceptedAt: t0.Add(90 * time.Second).In(wita), Relay: true}
}

func testUpdates(t *testing.T, s bot.Store) {
	early := bot.Ticket{Code: "KS-UPD01", Kind: bot.KindCase, Status: bot.StatusReceived, Urgent: true,
		Answers: map[string]string{"safe": "no"}, Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: t0, UpdatedAt: t0}
	other := handled("KS-UPD02")
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{early, other}}, t0)

	// The report completes the early ticket; an officer closes the other.
	done := early
	done.Kecamatan = "borong"
	done.Answers = map[string]string{"safe": "no", "kecamatan": "borong", "description": "lengkap", "name": "Ani"}
	done.Status = bot.Status("assessed")
	done.Assignee, done.Backups = "+6281337785111", []string{"+6281337973213"}
	done.AcceptedAt, done.UpdatedAt = t0.Add(time.Hour), t0.Add(time.Hour)
	closed := other
	closed.Status, closed.ClosedAt, closed.Relay, closed.Backups = bot.StatusDone, t0.Add(2*time.Hour), false, nil
	closed.UpdatedAt = t0.Add(2 * time.Hour)
	// What an update does not write: the reporter, the kind, the channel,
	// the creation time.
	closed.Reporter, closed.Kind = "+6289999999999", bot.KindComplaint

	Apply(t, s, &bot.Changes{Updates: []bot.Ticket{done, closed}}, t0)
	closed.Reporter, closed.Kind = other.Reporter, other.Kind
	readAll(t, s, done)
	readAll(t, s, closed)
}

func testUpdateUnknown(t *testing.T, s bot.Store) {
	err := tryApply(t, s, &bot.Changes{Updates: []bot.Ticket{handled("KS-NONE1")}})
	wantKind(t, "Apply(update of an unknown ticket)", err, bot.NotFound)
}

func testLockingTx(t *testing.T, s bot.Store) {
	ctx := t.Context()
	tk := handled("KS-LOCK1")
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{tk}}, t0)
	tx := begin(t, s)
	lt, ok := tx.(bot.LockingTx)
	if !ok {
		t.Fatalf("%T does not implement bot.LockingTx", tx)
	}
	got, err := lt.Ticket(ctx, "KS-LOCK1")
	if err != nil {
		t.Fatalf("Tx.Ticket: %v", err)
	}
	if !reflect.DeepEqual(got, norm(tk)) {
		t.Errorf("Tx.Ticket = %+v, want %+v", got, norm(tk))
	}
	wantKind(t, "Tx.Ticket(unknown)", errOf(lt.Ticket(ctx, "KS-NONE1")), bot.NotFound)
	tl, ok := tx.(bot.TicketsLocker)
	if !ok {
		t.Fatalf("%T does not implement bot.TicketsLocker", tx)
	}
	if ts, err := tl.LockTickets(ctx, []string{"KS-NONE1", "KS-LOCK1"}); err != nil || len(ts) != 1 ||
		!reflect.DeepEqual(ts[0], norm(tk)) {
		t.Errorf("Tx.LockTickets = %+v, %v; want KS-LOCK1 alone", ts, err)
	}
	got.Status = bot.Status("assessed")
	if err := tx.Apply(ctx, &bot.Changes{Updates: []bot.Ticket{got}}, t0); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	end(t, tx, true)
	if after := ticket(t, s, "KS-LOCK1"); after.Status != "assessed" {
		t.Errorf("after the locked update: %+v; want status assessed", after)
	}
}

func testOptOuts(t *testing.T, s bot.Store) {
	ctx := t.Context()
	oo, ok := s.(bot.OptOuts)
	if !ok {
		t.Fatalf("%T does not implement bot.OptOuts", s)
	}
	out := func(addr string) bool {
		t.Helper()
		b, err := oo.OptedOut(ctx, addr)
		if err != nil {
			t.Fatalf("OptedOut(%s): %v", addr, err)
		}
		return b
	}
	a, b := "+6281200000001", "+6281200000002"
	steps := []struct {
		opts   []bot.OptOut
		wantA  bool
		wantB  bool
		reason string
	}{
		{nil, false, false, "nobody said STOP"},
		{[]bot.OptOut{{Address: a, Out: true, At: t0}}, true, false, "A said STOP"},
		{[]bot.OptOut{{Address: a, Out: true, At: t0.Add(time.Minute)}}, true, false, "A said STOP twice"},
		{[]bot.OptOut{{Address: b, Out: true, At: t0}, {Address: b, Out: false, At: t0.Add(time.Second)}}, true, false,
			"B said STOP, then wrote again in the same batch"},
		{[]bot.OptOut{{Address: a, Out: false, At: t0.Add(time.Hour)}, {Address: b, Out: true, At: t0.Add(time.Hour)}},
			false, true, "A wrote again, B said STOP"},
	}
	for _, st := range steps {
		if len(st.opts) > 0 {
			Apply(t, s, &bot.Changes{OptOuts: st.opts}, t0)
		}
		if gotA, gotB := out(a), out(b); gotA != st.wantA || gotB != st.wantB {
			t.Errorf("%s: OptedOut = %v, %v; want %v, %v", st.reason, gotA, gotB, st.wantA, st.wantB)
		}
	}
}
