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

func testHandlingRoundTrip(t *testing.T, s bot.Store) {
	tk := handled("KS-HAND1")
	bare := bot.Ticket{Code: "KS-HAND2", Kind: bot.KindComplaint, Status: bot.StatusReceived, Channel: bot.SMS,
		Reporter: "+6281200000002", CreatedAt: t0, UpdatedAt: t0}
	apply(t, s, &bot.Changes{Tickets: []bot.Ticket{tk, bare}}, t0)
	for _, want := range []bot.Ticket{tk, bare} {
		got, err := s.Ticket(ctxFor(t), want.Code)
		if err != nil {
			t.Fatalf("Ticket(%s): %v", want.Code, err)
		}
		if !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("Ticket(%s) = %+v, want %+v", want.Code, got, norm(want))
		}
	}
}

func testUpdates(t *testing.T, s bot.Store) {
	ctx := ctxFor(t)
	early := bot.Ticket{Code: "KS-UPD01", Kind: bot.KindCase, Status: bot.StatusReceived, Urgent: true,
		Answers: map[string]string{"safe": "no"}, Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: t0, UpdatedAt: t0}
	other := handled("KS-UPD02")
	apply(t, s, &bot.Changes{Tickets: []bot.Ticket{early, other}}, t0)

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

	tx := begin(t, s)
	if err := tx.Apply(ctx, &bot.Changes{Updates: []bot.Ticket{done, closed}}, t0); err != nil {
		t.Fatalf("Apply(updates): %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	closed.Reporter, closed.Kind = other.Reporter, other.Kind
	for _, want := range []bot.Ticket{done, closed} {
		got, err := s.Ticket(ctx, want.Code)
		if err != nil {
			t.Fatalf("Ticket(%s): %v", want.Code, err)
		}
		if !reflect.DeepEqual(got, norm(want)) {
			t.Errorf("Ticket(%s) after update = %+v, want %+v", want.Code, got, norm(want))
		}
	}
}

func testUpdateUnknown(t *testing.T, s bot.Store) {
	tx := begin(t, s)
	err := tx.Apply(ctxFor(t), &bot.Changes{Updates: []bot.Ticket{handled("KS-NONE1")}}, t0)
	if got := bot.KindOf(err); got != bot.NotFound {
		t.Errorf("Apply(update of an unknown ticket): KindOf(%v) = %v, want %v", err, got, bot.NotFound)
	}
}

func testLockingTx(t *testing.T, s bot.Store) {
	ctx := ctxFor(t)
	tk := handled("KS-LOCK1")
	apply(t, s, &bot.Changes{Tickets: []bot.Ticket{tk}}, t0)
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
	if _, err := lt.Ticket(ctx, "KS-NONE1"); bot.KindOf(err) != bot.NotFound {
		t.Errorf("Tx.Ticket(unknown): KindOf(%v) = %v, want %v", err, bot.KindOf(err), bot.NotFound)
	}
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
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if after, err := s.Ticket(ctx, "KS-LOCK1"); err != nil || after.Status != "assessed" {
		t.Errorf("after the locked update: %+v, %v; want status assessed", after, err)
	}
}

func testFilterHandling(t *testing.T, s bot.Store) {
	ctx := ctxFor(t)
	mk := func(code, assignee string, status bot.Status, age time.Duration) bot.Ticket {
		return bot.Ticket{Code: code, Kind: bot.KindCase, Status: status, Channel: bot.SMS, Reporter: "+6281200000001",
			Assignee: assignee, CreatedAt: t0.Add(-age), UpdatedAt: t0}
	}
	apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		mk("K1", "+6281337785111", bot.StatusReceived, 4*time.Hour),
		mk("K2", "+6281337785111", bot.StatusDone, 3*time.Hour),
		mk("K3", "+6281337973213", bot.StatusReferred, 2*time.Hour),
		mk("K4", "", bot.StatusReceived, time.Hour),
	}}, t0)
	tests := []struct {
		name string
		f    bot.TicketFilter
		want []string
	}{
		{"assignee", bot.TicketFilter{Assignee: "+6281337785111"}, []string{"K2", "K1"}},
		{"open", bot.TicketFilter{Open: true}, []string{"K4", "K3", "K1"}},
		{"assignee's open", bot.TicketFilter{Assignee: "+6281337785111", Open: true}, []string{"K1"}},
		{"since", bot.TicketFilter{Since: t0.Add(-2 * time.Hour)}, []string{"K4", "K3"}},
		{"since, open, by status", bot.TicketFilter{Since: t0.Add(-5 * time.Hour), Open: true, Status: bot.StatusReceived}, []string{"K4", "K1"}},
		{"nobody's", bot.TicketFilter{Assignee: "+6281200000009"}, []string{}},
	}
	for _, tt := range tests {
		ts, err := s.Tickets(ctx, tt.f)
		if err != nil {
			t.Fatalf("%s: Tickets: %v", tt.name, err)
		}
		got := []string{}
		for _, tk := range ts {
			got = append(got, tk.Code)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: Tickets(%+v) = %v, want %v", tt.name, tt.f, got, tt.want)
		}
	}
}

func testOptOuts(t *testing.T, s bot.Store) {
	ctx := ctxFor(t)
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
			apply(t, s, &bot.Changes{OptOuts: st.opts}, t0)
		}
		if gotA, gotB := out(a), out(b); gotA != st.wantA || gotB != st.wantB {
			t.Errorf("%s: OptedOut = %v, %v; want %v, %v", st.reason, gotA, gotB, st.wantA, st.wantB)
		}
	}
}
