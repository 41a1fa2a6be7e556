package storetest

import (
	"context"
	"reflect"
	"slices"
	"testing"
	"time"

	"aduan/bot"
)

// lateCounter is the store-level read behind the late-tickets metric.
type lateCounter interface {
	LateCount(ctx context.Context, now time.Time) (int, error)
}

// clockTx returns tx as a bot.ClockTx, failing the test if it is not one.
func clockTx(t *testing.T, tx bot.Tx) bot.ClockTx {
	t.Helper()
	ct, ok := tx.(bot.ClockTx)
	if !ok {
		t.Fatalf("%T does not implement bot.ClockTx", tx)
	}
	return ct
}

// clocked is a ticket whose clocks have run for a while: two actions
// taken, the next due 40 minutes after creation.
func clocked(code string) bot.Ticket {
	tk := handled(code)
	tk.Marks = map[string]time.Time{
		"remind_first":    t0.Add(20 * time.Minute).In(wita),
		"escalate_backup": t0.Add(30*time.Minute + 7),
	}
	tk.NextDue = t0.Add(40 * time.Minute).In(wita)
	return tk
}

// dueCodes returns the codes of what DueTickets gives at now, in a
// transaction that is rolled back.
func dueCodes(t *testing.T, s bot.Store, now time.Time, limit int) []string {
	t.Helper()
	tx := begin(t, s)
	ts, err := clockTx(t, tx).DueTickets(t.Context(), now, limit)
	if err != nil {
		t.Fatalf("DueTickets(%v, %d): %v", now, limit, err)
	}
	end(t, tx, false)
	return Codes(ts)
}

// Codes returns the codes of ts, in order; none gives an empty list.
func Codes(ts []bot.Ticket) []string {
	out := []string{}
	for _, tk := range ts {
		out = append(out, tk.Code)
	}
	return out
}

// readAll reads the ticket with the code through every read a store has
// and checks each against want.
func readAll(t *testing.T, s bot.Store, want bot.Ticket) {
	t.Helper()
	ctx := t.Context()
	want = norm(want)
	check := func(how string, got bot.Ticket) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s(%s) = %+v, want %+v", how, want.Code, got, want)
		}
	}
	find := func(how string, ts []bot.Ticket) {
		t.Helper()
		for _, tk := range ts {
			if tk.Code == want.Code {
				check(how, tk)
				return
			}
		}
		t.Errorf("%s: %s not found among %v", how, want.Code, Codes(ts))
	}

	check("Ticket", ticket(t, s, want.Code))
	find("Tickets", tickets(t, s, bot.TicketFilter{}))
	if rt, ok := s.(bot.ReporterTickets); ok {
		ts, err := rt.TicketsByReporter(ctx, want.Channel, want.Reporter)
		if err != nil {
			t.Fatalf("TicketsByReporter: %v", err)
		}
		find("TicketsByReporter", ts)
	}
	if rs, ok := s.(bot.ReportStore); ok {
		ts, _, err := rs.TicketsCreated(ctx, want.CreatedAt, want.CreatedAt.Add(time.Microsecond))
		if err != nil {
			t.Fatalf("TicketsCreated: %v", err)
		}
		find("TicketsCreated", ts)
	}

	tx := begin(t, s)
	lt, ok := tx.(bot.LockingTx)
	if !ok {
		t.Fatalf("%T does not implement bot.LockingTx", tx)
	}
	got, err := lt.Ticket(ctx, want.Code)
	if err != nil {
		t.Fatalf("Tx.Ticket(%s): %v", want.Code, err)
	}
	check("Tx.Ticket", got)
	if !want.NextDue.IsZero() && want.Open() {
		ts, err := clockTx(t, tx).DueTickets(ctx, want.NextDue, 1000)
		if err != nil {
			t.Fatalf("DueTickets: %v", err)
		}
		find("DueTickets", ts)
	}
	end(t, tx, false)
}

func testClockRoundTrip(t *testing.T, s bot.Store) {
	tk := clocked("KS-CLK01")
	bare := bot.Ticket{Code: "KS-CLK02", Kind: bot.KindCase, Status: bot.StatusReceived, Channel: bot.SMS,
		Reporter: "+6281200000002", CreatedAt: t0, UpdatedAt: t0}
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{tk, bare, handled("KS-HAND1")}}, t0)
	t.Run("insert", func(t *testing.T) {
		readAll(t, s, tk)
		readAll(t, s, bare)
		readAll(t, s, handled("KS-HAND1")) // no clocks yet
	})

	// The clocks act on both: one gets a third mark (with an awkward name)
	// and its next due time; the other its first, and nothing more due.
	tk.Marks = map[string]time.Time{"remind_first": tk.Marks["remind_first"], "late_first": t0.Add(40 * time.Minute),
		`odd "mark"\`: t0.Add(41 * time.Minute)}
	tk.NextDue, tk.UpdatedAt = t0.Add(7*24*time.Hour-24*time.Hour), t0.Add(40*time.Minute)
	bare.Marks = map[string]time.Time{"late_first": t0.Add(time.Hour).In(wita)}
	bare.UpdatedAt = t0.Add(time.Hour)
	Apply(t, s, &bot.Changes{Updates: []bot.Ticket{tk, bare}}, t0)
	t.Run("update", func(t *testing.T) {
		readAll(t, s, tk)
		readAll(t, s, bare)
	})

	// Done: no marks left (an officer's update that forgot them clears
	// them, as it clears any field), nothing due.
	tk.Marks, tk.NextDue, tk.Status, tk.ClosedAt = nil, time.Time{}, bot.StatusDone, t0.Add(2*time.Hour)
	Apply(t, s, &bot.Changes{Updates: []bot.Ticket{tk}}, t0)
	t.Run("cleared", func(t *testing.T) {
		readAll(t, s, tk)
	})
}

func testDueTickets(t *testing.T, s bot.Store) {
	mk := func(code string, status bot.Status, next time.Time) bot.Ticket {
		return bot.Ticket{Code: code, Kind: bot.KindCase, Status: status, Channel: bot.SMS, Reporter: "+6281200000001",
			CreatedAt: t0.Add(-24 * time.Hour), UpdatedAt: t0, NextDue: next}
	}
	a := clocked("D-A")
	a.NextDue = t0.Add(-time.Hour).In(wita)
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		a,
		mk("D-B", bot.StatusAssessed, t0.Add(-2*time.Hour)),
		mk("D-C", bot.StatusReceived, t0.Add(-time.Hour)),            // as due as D-A: by code
		mk("D-D", bot.StatusReferred, t0.Truncate(time.Microsecond)), // due exactly now
		mk("D-E", bot.StatusReceived, t0.Add(time.Microsecond)),      // not yet
		mk("D-F", bot.StatusDone, t0.Add(-3*time.Hour)),              // done: its clocks stopped
		mk("D-G", bot.StatusReceived, time.Time{}),                   // nothing pending
	}}, t0)
	tests := []struct {
		name  string
		now   time.Time
		limit int
		want  []string
	}{
		{"all due", t0, 10, []string{"D-B", "D-A", "D-C", "D-D"}},
		{"limit", t0, 2, []string{"D-B", "D-A"}},
		{"limit one", t0.In(wita), 1, []string{"D-B"}},
		{"no limit", t0, 0, []string{}},
		{"earlier", t0.Add(-time.Hour), 10, []string{"D-B", "D-A", "D-C"}},
		{"nothing due yet", t0.Add(-2*time.Hour - time.Microsecond), 10, []string{}},
		{"later", t0.Add(time.Hour), 10, []string{"D-B", "D-A", "D-C", "D-D", "D-E"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dueCodes(t, s, tt.now, tt.limit); !slices.Equal(got, tt.want) {
				t.Errorf("DueTickets(%v, %d) = %v, want %v", tt.now, tt.limit, got, tt.want)
			}
		})
	}

	// The tickets come whole.
	tx := begin(t, s)
	ts, err := clockTx(t, tx).DueTickets(t.Context(), t0, 2)
	if err != nil {
		t.Fatalf("DueTickets: %v", err)
	}
	if len(ts) != 2 {
		t.Fatalf("DueTickets(limit 2) = %v, want 2 tickets", Codes(ts))
	}
	if !reflect.DeepEqual(ts[1], norm(a)) {
		t.Errorf("DueTickets()[1] = %+v, want %+v", ts[1], norm(a))
	}
}

func testDueTicketsRolledBack(t *testing.T, s bot.Store) {
	ctx := t.Context()
	tk := clocked("KS-RB001")
	tk.NextDue = t0
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{tk}}, t0)

	// A run that acts but rolls back leaves the ticket due and unmarked.
	tx := begin(t, s)
	ts, err := clockTx(t, tx).DueTickets(ctx, t0, 10)
	if err != nil || len(ts) != 1 {
		t.Fatalf("DueTickets = %v, %v; want [KS-RB001]", Codes(ts), err)
	}
	acted := ts[0]
	acted.Marks = map[string]time.Time{"late_first": t0}
	acted.NextDue = time.Time{}
	if err := tx.Apply(ctx, &bot.Changes{Updates: []bot.Ticket{acted}}, t0); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	end(t, tx, false)
	if got, want := dueCodes(t, s, t0, 10), []string{"KS-RB001"}; !slices.Equal(got, want) {
		t.Errorf("after a rolled back run: DueTickets = %v, want %v", got, want)
	}
	if got := ticket(t, s, tk.Code); !reflect.DeepEqual(got, norm(tk)) {
		t.Errorf("after a rolled back run: Ticket = %+v; want %+v", got, norm(tk))
	}

	// A run that commits moves it on.
	tx = begin(t, s)
	if ts, err = clockTx(t, tx).DueTickets(ctx, t0, 10); err != nil || len(ts) != 1 {
		t.Fatalf("DueTickets = %v, %v; want [KS-RB001]", Codes(ts), err)
	}
	acted = ts[0]
	acted.NextDue = t0.Add(time.Hour)
	if err := tx.Apply(ctx, &bot.Changes{Updates: []bot.Ticket{acted}}, t0); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	end(t, tx, true)
	if got := dueCodes(t, s, t0, 10); len(got) != 0 {
		t.Errorf("after a committed run: DueTickets = %v, want none", got)
	}
	if got, want := dueCodes(t, s, t0.Add(time.Hour), 10), []string{"KS-RB001"}; !slices.Equal(got, want) {
		t.Errorf("at the new due time: DueTickets = %v, want %v", got, want)
	}
}

func testClaimDigest(t *testing.T, s bot.Store) {
	ctx := t.Context()
	const day, next = "2026-03-02", "2026-03-03"
	steps := []struct {
		name   string
		claims []string
		want   []bool
		commit bool
	}{
		{"first claim, rolled back", []string{day, day}, []bool{true, false}, false},
		{"claimed again after the rollback", []string{day}, []bool{true}, true},
		{"the day is taken; the next is not", []string{day, next, next}, []bool{false, true, false}, true},
		{"both taken", []string{next, day}, []bool{false, false}, true},
	}
	for _, st := range steps {
		tx := begin(t, s)
		ct := clockTx(t, tx)
		var got []bool
		for _, d := range st.claims {
			first, err := ct.ClaimDigest(ctx, d)
			if err != nil {
				t.Fatalf("%s: ClaimDigest(%s): %v", st.name, d, err)
			}
			got = append(got, first)
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("%s: ClaimDigest(%v) = %v, want %v", st.name, st.claims, got, st.want)
		}
		end(t, tx, st.commit)
	}
	wantKind(t, `ClaimDigest("")`, errOf(clockTx(t, begin(t, s)).ClaimDigest(ctx, "")), bot.Invalid)
}

func testLateCount(t *testing.T, s bot.Store) {
	ctx := t.Context()
	lc, ok := s.(lateCounter)
	if !ok {
		t.Fatalf("%T has no LateCount", s)
	}
	mk := func(code string, status bot.Status, marks map[string]time.Time) bot.Ticket {
		return bot.Ticket{Code: code, Kind: bot.KindCase, Status: status, Channel: bot.SMS, Reporter: "+6281200000001",
			CreatedAt: t0.Add(-24 * time.Hour), UpdatedAt: t0, Marks: marks}
	}
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		mk("L1", bot.StatusReceived, map[string]time.Time{"late_first": t0.Add(-time.Minute)}),
		mk("L2", bot.StatusAssessed, map[string]time.Time{"remind_done": t0.Add(-2 * time.Hour), "late_done": t0.Add(-time.Hour).In(wita)}),
		mk("L3", bot.StatusReceived, map[string]time.Time{"late_first": t0, "late_done": t0}), // late at exactly now
		mk("L4", bot.StatusDone, map[string]time.Time{"late_first": t0.Add(-time.Hour)}),      // done: no longer counts
		mk("L5", bot.StatusReceived, map[string]time.Time{"remind_first": t0.Add(-time.Hour)}),
		mk("L6", bot.StatusReceived, map[string]time.Time{"late_first": t0.Add(time.Hour)}), // marked after now
		mk("L7", bot.StatusReceived, nil),
	}}, t0)
	tests := []struct {
		now  time.Time
		want int
	}{
		{t0.Add(-2 * time.Hour), 0},
		{t0.Add(-time.Hour), 1},
		{t0, 3},
		{t0.In(wita).Add(2 * time.Hour), 4},
	}
	for _, tt := range tests {
		got, err := lc.LateCount(ctx, tt.now)
		if err != nil {
			t.Fatalf("LateCount(%v): %v", tt.now, err)
		}
		if got != tt.want {
			t.Errorf("LateCount(%v) = %d, want %d", tt.now, got, tt.want)
		}
	}
}
