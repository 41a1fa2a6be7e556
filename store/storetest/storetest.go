// Package storetest is the contract every bot.Store implementation passes:
// dedupe of inbound IDs, tickets and their events read back as written, the
// outbox's leases, retries and delivery reports, attachments and their
// linking to tickets.
//
// An implementation's test calls Run with a function that returns an empty
// store (freshly migrated or truncated) for each subtest.
package storetest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"aduan/bot"
)

// Run runs the contract suite as subtests of t. open returns an empty store;
// it is called once per subtest and cleans up after itself with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) bot.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s bot.Store)
	}{
		{"Claim", testClaim},
		{"ClaimAcrossTransactions", testClaimAcrossTransactions},
		{"ApplyReadBack", testApplyReadBack},
		{"ApplyEmpty", testApplyEmpty},
		{"DuplicateTicketCode", testDuplicateTicketCode},
		{"UnknownCode", testUnknownCode},
		{"RollbackDiscards", testRollbackDiscards},
		{"OutboxIDs", testOutboxIDs},
		{"ClaimedOutboxNotDue", testClaimedOutboxNotDue},
		{"DueOutboundLeases", testDueOutboundLeases},
		{"DueOutboundOrderAndLimit", testDueOutboundOrderAndLimit},
		{"OutboxAttachment", testOutboxAttachment},
		{"Settle", testSettle},
		{"RecordStatus", testRecordStatus},
		{"TicketsFilter", testTicketsFilter},
		{"Ping", testPing},
		{"AwkwardText", testAwkwardText},
		{"UnstorableText", testUnstorableText},
		{"Updates", testUpdates},
		{"UpdateUnknown", testUpdateUnknown},
		{"LockingTx", testLockingTx},
		{"OptOuts", testOptOuts},
		{"ClockRoundTrip", testClockRoundTrip},
		{"DueTickets", testDueTickets},
		{"DueTicketsRolledBack", testDueTicketsRolledBack},
		{"ClaimDigest", testClaimDigest},
		{"LateCount", testLateCount},
		{"AttachmentsReadBack", testAttachmentsReadBack},
		{"AttachmentLinks", testAttachmentLinks},
		{"AttachmentsUnknown", testAttachmentsUnknown},
		{"AttachmentRepeat", testAttachmentRepeat},
		{"CheckpointsReadBack", testCheckpointsReadBack},
		{"CheckpointConflict", testCheckpointConflict},
		{"CheckpointRace", testCheckpointRace},
		{"Submissions", testSubmissions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is the suite's reference time: not on a microsecond boundary, so that
// the stores' truncation to microseconds is exercised.
var t0 = time.Date(2026, 3, 2, 9, 30, 15, 123456789, time.UTC)

// wita is Manggarai Timur's zone; stores must return times in UTC whatever
// zone they were given in.
var wita = time.FixedZone("WITA", 8*3600)

// begin starts a transaction that is rolled back at cleanup unless
// committed.
func begin(t *testing.T, s bot.Store) bot.Tx {
	t.Helper()
	tx, err := s.Begin(t.Context())
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(func() {
		if err := tx.Rollback(context.Background()); err != nil {
			t.Errorf("Rollback at cleanup: %v", err)
		}
	})
	return tx
}

// end commits tx if commit is set, and rolls it back if not.
func end(t *testing.T, tx bot.Tx, commit bool) {
	t.Helper()
	if commit {
		if err := tx.Commit(t.Context()); err != nil {
			t.Fatalf("Commit: %v", err)
		}
	} else if err := tx.Rollback(t.Context()); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
}

// claim claims msgs in a new transaction, committed when commit is set.
func claim(t *testing.T, s bot.Store, commit bool, msgs ...bot.MessageID) []bool {
	t.Helper()
	tx := begin(t, s)
	dup, err := tx.Claim(t.Context(), msgs)
	if err != nil {
		t.Fatalf("Claim(%v): %v", msgs, err)
	}
	end(t, tx, commit)
	return dup
}

// Apply writes c in one committed transaction, failing t on an error.
func Apply(t *testing.T, s bot.Store, c *bot.Changes, claimedUntil time.Time) {
	t.Helper()
	tx := begin(t, s)
	if err := tx.Apply(t.Context(), c, claimedUntil); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	end(t, tx, true)
}

// tryApply applies c in a transaction that it then rolls back, and returns
// Apply's error.
func tryApply(t *testing.T, s bot.Store, c *bot.Changes) error {
	t.Helper()
	tx := begin(t, s)
	err := tx.Apply(t.Context(), c, t0)
	end(t, tx, false)
	return err
}

// errOf is the error of a call that returns a value too.
func errOf[T any](_ T, err error) error { return err }

// wantKind fails t unless err is of kind want.
func wantKind(t *testing.T, what string, err error, want bot.ErrorKind) {
	t.Helper()
	if got := bot.KindOf(err); got != want {
		t.Errorf("%s: KindOf(%v) = %v, want %v", what, err, got, want)
	}
}

// ticket, tickets, events and outbox read the store, failing t on an
// error.
func ticket(t *testing.T, s bot.Store, code string) bot.Ticket {
	t.Helper()
	tk, err := s.Ticket(t.Context(), code)
	if err != nil {
		t.Fatalf("Ticket(%s): %v", code, err)
	}
	return tk
}

func tickets(t *testing.T, s bot.Store, f bot.TicketFilter) []bot.Ticket {
	t.Helper()
	ts, err := s.Tickets(t.Context(), f)
	if err != nil {
		t.Fatalf("Tickets(%+v): %v", f, err)
	}
	return ts
}

func events(t *testing.T, s bot.Store, code string) []bot.Event {
	t.Helper()
	es, err := s.Events(t.Context(), code)
	if err != nil {
		t.Fatalf("Events(%s): %v", code, err)
	}
	return es
}

func outbox(t *testing.T, s bot.Store) []bot.OutboxEntry {
	t.Helper()
	out, err := s.Outbox(t.Context())
	if err != nil {
		t.Fatalf("Outbox: %v", err)
	}
	return out
}

func sms(id string) bot.MessageID { return bot.MessageID{Channel: bot.SMS, ExternalID: id} }
func wa(id string) bot.MessageID  { return bot.MessageID{Channel: bot.WhatsApp, ExternalID: id} }

func testClaim(t *testing.T, s bot.Store) {
	steps := []struct {
		name   string
		msgs   []bot.MessageID
		commit bool
		want   []bool
	}{
		{"first claim", []bot.MessageID{sms("SM1"), sms("SM2")}, true, []bool{false, false}},
		{"seen before", []bot.MessageID{sms("SM1")}, true, []bool{true}},
		{"same ID on another channel", []bot.MessageID{wa("SM1")}, true, []bool{false}},
		{"repeated within one call", []bot.MessageID{sms("SM3"), sms("SM3"), sms("SM4"), sms("SM3")}, true, []bool{false, true, false, true}},
		{"mixed", []bot.MessageID{sms("SM2"), sms("SM5"), wa("SM1"), wa("SM6")}, true, []bool{true, false, true, false}},
		{"rolled back", []bot.MessageID{sms("R1"), sms("R2")}, false, []bool{false, false}},
		{"after a rollback", []bot.MessageID{sms("R1"), sms("R2")}, true, []bool{false, false}},
		{"nothing", nil, true, nil},
	}
	for _, st := range steps {
		if got := claim(t, s, st.commit, st.msgs...); !slices.Equal(got, st.want) {
			t.Errorf("%s: dup = %v, want %v", st.name, got, st.want)
		}
	}
}

func testClaimAcrossTransactions(t *testing.T, s bot.Store) {
	ctx := t.Context()
	tx1 := begin(t, s)
	if dup, err := tx1.Claim(ctx, []bot.MessageID{sms("A")}); err != nil || dup[0] {
		t.Fatalf("tx1 Claim(A) = %v, %v; want [false], nil", dup, err)
	}
	if dup, err := tx1.Claim(ctx, []bot.MessageID{sms("A"), sms("B")}); err != nil || !slices.Equal(dup, []bool{true, false}) {
		t.Fatalf("tx1 second Claim(A, B) = %v, %v; want [true false], nil", dup, err)
	}
	end(t, tx1, true)
	if got, want := claim(t, s, true, sms("B"), sms("A"), sms("C")), []bool{true, true, false}; !slices.Equal(got, want) {
		t.Errorf("tx2 dup = %v, want %v", got, want)
	}
}

// sampleChanges returns two tickets (one with no answers), events for both
// and two outbox messages.
func sampleChanges() *bot.Changes {
	return &bot.Changes{
		Tickets: []bot.Ticket{
			{
				Code: "KS-0001", Kind: bot.KindCase, Status: bot.StatusReceived, Urgent: true,
				Kecamatan: "Borong", Answers: map[string]string{"what": "dipukul", "where": "Borong", "quote": `"x"\n`},
				Channel: bot.WhatsApp, Reporter: "+6281337785111",
				CreatedAt: t0.In(wita), UpdatedAt: t0.Add(time.Minute),
			},
			{
				Code: "PG-0002", Kind: bot.KindComplaint, Status: bot.StatusReceived,
				Channel: bot.SMS, Reporter: "+6281200000002",
				CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second),
			},
		},
		Events: []bot.Event{
			{TicketCode: "KS-0001", At: t0, Actor: "citizen", Type: "created"},
			{TicketCode: "PG-0002", At: t0.Add(time.Second), Actor: "citizen", Type: "created"},
			{TicketCode: "KS-0001", At: t0.Add(2 * time.Second).In(wita), Actor: "system", Type: "notified", Detail: "+6281300000001"},
		},
		Outbox: []bot.Outbound{
			{Channel: bot.WhatsApp, To: "+6281337785111", Body: "Terima kasih. Kode: KS-0001", Purpose: bot.PurposeReply, TicketCode: "KS-0001", CreatedAt: t0},
			{Channel: bot.SMS, To: "+6281300000001", Body: "Kasus baru KS-0001", Purpose: bot.PurposeNotify, CreatedAt: t0.In(wita)},
		},
	}
}

// norm is what a store gives back for a ticket: times in UTC at microsecond
// precision (marks' times too), empty answers, backups and marks as nil.
func norm(tk bot.Ticket) bot.Ticket {
	tk.CreatedAt = micro(tk.CreatedAt)
	tk.UpdatedAt = micro(tk.UpdatedAt)
	if !tk.AcceptedAt.IsZero() {
		tk.AcceptedAt = micro(tk.AcceptedAt)
	}
	if !tk.ClosedAt.IsZero() {
		tk.ClosedAt = micro(tk.ClosedAt)
	}
	if len(tk.Backups) == 0 {
		tk.Backups = nil
	}
	if len(tk.Answers) == 0 {
		tk.Answers = nil
	}
	if !tk.NextDue.IsZero() {
		tk.NextDue = micro(tk.NextDue)
	}
	if len(tk.Marks) == 0 {
		tk.Marks = nil
	} else {
		m := make(map[string]time.Time, len(tk.Marks))
		for k, v := range tk.Marks {
			m[k] = micro(v)
		}
		tk.Marks = m
	}
	return tk
}

func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

func normEvent(e bot.Event) bot.Event {
	e.At = micro(e.At)
	return e
}

func testApplyReadBack(t *testing.T, s bot.Store) {
	c := sampleChanges()
	want := sampleChanges()
	Apply(t, s, c, t0.Add(time.Minute))

	for _, w := range want.Tickets {
		if got := ticket(t, s, w.Code); !reflect.DeepEqual(got, norm(w)) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("Ticket(%s) = %+v, want %+v (times in UTC)", w.Code, got, norm(w))
		}
	}
	wantEvents := map[string][]bot.Event{}
	for _, e := range want.Events {
		wantEvents[e.TicketCode] = append(wantEvents[e.TicketCode], normEvent(e))
	}
	for code, w := range wantEvents {
		if got := events(t, s, code); !reflect.DeepEqual(got, w) {
			t.Errorf("Events(%s) = %+v, want %+v", code, got, w)
		}
	}
	if all, wantAll := tickets(t, s, bot.TicketFilter{}), []bot.Ticket{norm(want.Tickets[1]), norm(want.Tickets[0])}; !reflect.DeepEqual(all, wantAll) {
		t.Errorf("Tickets = %+v, want %+v (newest first)", all, wantAll)
	}

	out := outbox(t, s)
	if len(out) != len(want.Outbox) {
		t.Fatalf("Outbox has %d entries, want %d", len(out), len(want.Outbox))
	}
	for i, e := range out {
		w := want.Outbox[i]
		w.ID = c.Outbox[i].ID
		w.CreatedAt = micro(w.CreatedAt)
		wantEntry := bot.OutboxEntry{Outbound: w, State: "pending"}
		if !reflect.DeepEqual(e, wantEntry) {
			t.Errorf("Outbox[%d] = %+v, want %+v", i, e, wantEntry)
		}
	}
}

func testApplyEmpty(t *testing.T, s bot.Store) {
	tx := begin(t, s)
	if err := tx.Apply(t.Context(), &bot.Changes{}, t0); err != nil {
		t.Fatalf("Apply(empty) = %v, want nil", err)
	}
	end(t, tx, true)
}

func testDuplicateTicketCode(t *testing.T, s bot.Store) {
	Apply(t, s, &bot.Changes{Tickets: sampleChanges().Tickets[:1]}, t0)
	tests := []struct {
		name    string
		tickets []bot.Ticket
	}{
		{"taken by an earlier transaction", sampleChanges().Tickets[:1]},
		{"twice in one Apply", []bot.Ticket{sampleChanges().Tickets[1], sampleChanges().Tickets[1]}},
	}
	for _, tt := range tests {
		wantKind(t, tt.name, tryApply(t, s, &bot.Changes{Tickets: tt.tickets}), bot.Conflict)
	}
	// The failed transactions changed nothing.
	if all := tickets(t, s, bot.TicketFilter{}); len(all) != 1 {
		t.Errorf("Tickets has %d, want 1", len(all))
	}
}

func testUnknownCode(t *testing.T, s bot.Store) {
	ctx := t.Context()
	wantKind(t, "Ticket(unknown)", errOf(s.Ticket(ctx, "XX-9999")), bot.NotFound)
	wantKind(t, "Events(unknown)", errOf(s.Events(ctx, "XX-9999")), bot.NotFound)
	// A known ticket with no events has an empty history, not NotFound.
	Apply(t, s, &bot.Changes{Tickets: sampleChanges().Tickets[:1]}, t0)
	if es := events(t, s, "KS-0001"); len(es) != 0 {
		t.Errorf("Events(ticket without events) = %v; want empty", es)
	}
}

func testRollbackDiscards(t *testing.T, s bot.Store) {
	if err := tryApply(t, s, sampleChanges()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantKind(t, "Ticket after rollback", errOf(s.Ticket(t.Context(), "KS-0001")), bot.NotFound)
	if out := outbox(t, s); len(out) != 0 {
		t.Errorf("Outbox after rollback = %v; want empty", out)
	}

	// Rollback after Commit does nothing.
	tx := begin(t, s)
	end(t, tx, true)
	if err := tx.Rollback(t.Context()); err != nil {
		t.Errorf("Rollback after Commit = %v, want nil", err)
	}
}

// outbound returns n outbox messages with bodies "<prefix>0".."<prefix>n-1".
func outbound(prefix string, n int) []bot.Outbound {
	ms := make([]bot.Outbound, n)
	for i := range ms {
		ms[i] = bot.Outbound{Channel: bot.SMS, To: fmt.Sprintf("+62812%08d", i), Body: fmt.Sprintf("%s%d", prefix, i),
			Purpose: bot.PurposeReply, CreatedAt: t0}
	}
	return ms
}

func bodies(ms []bot.Outbound) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Body
	}
	return out
}

func testOutboxIDs(t *testing.T, s bot.Store) {
	c := &bot.Changes{Outbox: outbound("m", 64)}
	Apply(t, s, c, t0)
	c2 := &bot.Changes{Outbox: outbound("n", 3)}
	Apply(t, s, c2, t0)

	byID := map[int64]string{}
	for _, m := range append(c.Outbox, c2.Outbox...) {
		if m.ID == 0 {
			t.Fatalf("Apply left ID of %q zero", m.Body)
		}
		if prev, ok := byID[m.ID]; ok {
			t.Fatalf("ID %d given to %q and %q", m.ID, prev, m.Body)
		}
		byID[m.ID] = m.Body
	}
	out := outbox(t, s)
	if len(out) != len(byID) {
		t.Fatalf("Outbox has %d entries, want %d", len(out), len(byID))
	}
	for _, e := range out {
		if got, want := e.Body, byID[e.ID]; got != want {
			t.Errorf("Outbox entry %d: body = %q, want %q", e.ID, got, want)
		}
	}
}

func due(t *testing.T, s bot.Store, now time.Time, lease time.Duration, limit int) []bot.Outbound {
	t.Helper()
	ms, err := s.DueOutbound(t.Context(), now, lease, limit)
	if err != nil {
		t.Fatalf("DueOutbound(%v): %v", now, err)
	}
	return ms
}

func testClaimedOutboxNotDue(t *testing.T, s bot.Store) {
	claimedUntil := t0.Add(time.Minute)
	c := &bot.Changes{Outbox: outbound("m", 3)}
	Apply(t, s, c, claimedUntil)

	if got := due(t, s, t0, time.Minute, 10); len(got) != 0 {
		t.Errorf("DueOutbound before claimedUntil = %v, want none", bodies(got))
	}
	if got := due(t, s, claimedUntil.Add(-time.Microsecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("DueOutbound just before claimedUntil = %v, want none", bodies(got))
	}
	got := due(t, s, claimedUntil, time.Minute, 10)
	if want := []string{"m0", "m1", "m2"}; !reflect.DeepEqual(bodies(got), want) {
		t.Fatalf("DueOutbound at claimedUntil = %v, want %v", bodies(got), want)
	}
	for i, m := range got {
		want := c.Outbox[i]
		want.CreatedAt = micro(want.CreatedAt)
		if !reflect.DeepEqual(m, want) {
			t.Errorf("DueOutbound[%d] = %+v, want %+v", i, m, want)
		}
	}
}

func testDueOutboundLeases(t *testing.T, s bot.Store) {
	Apply(t, s, &bot.Changes{Outbox: outbound("m", 2)}, t0)
	lease := 30 * time.Second
	if got := due(t, s, t0, lease, 10); len(got) != 2 {
		t.Fatalf("first DueOutbound = %v, want 2 messages", bodies(got))
	}
	if got := due(t, s, t0, lease, 10); len(got) != 0 {
		t.Errorf("second DueOutbound at the same time = %v, want none", bodies(got))
	}
	if got := due(t, s, t0.Add(lease-time.Millisecond), lease, 10); len(got) != 0 {
		t.Errorf("DueOutbound before the lease ends = %v, want none", bodies(got))
	}
	if got := due(t, s, t0.Add(lease), lease, 10); len(got) != 2 {
		t.Errorf("DueOutbound after the lease ends = %v, want 2 messages", bodies(got))
	}
}

func testDueOutboundOrderAndLimit(t *testing.T, s bot.Store) {
	// Written in this order, due in another: c (t0-3s), a (t0-2s), then b
	// and d both at t0-1s, b written first.
	for _, m := range []struct {
		body string
		due  time.Duration
	}{{"a", -2 * time.Second}, {"b", -time.Second}, {"c", -3 * time.Second}, {"d", -time.Second}, {"later", time.Hour}} {
		ms := outbound(m.body, 1)
		ms[0].Body = m.body
		Apply(t, s, &bot.Changes{Outbox: ms}, t0.Add(m.due))
	}
	tests := []struct {
		limit int
		want  []string
	}{
		{2, []string{"c", "a"}},
		{1, []string{"b"}},
		{5, []string{"d"}},
		{5, nil},
	}
	for i, tt := range tests {
		got := due(t, s, t0, time.Minute, tt.limit)
		if !slices.Equal(bodies(got), tt.want) {
			t.Errorf("call %d: DueOutbound(limit %d) = %v, want %v", i, tt.limit, bodies(got), tt.want)
		}
	}
}

// testOutboxAttachment checks that an outbox message's file reads back
// from DueOutbound and Outbox, and a plain text's as 0. File 42 is not
// stored: the outbox does not require it to be.
func testOutboxAttachment(t *testing.T, s bot.Store) {
	c := &bot.Changes{Outbox: []bot.Outbound{
		{Channel: bot.WhatsApp, To: "+6281200000001", Body: "Foto laporan", Purpose: bot.PurposeFile, Attachment: 42, CreatedAt: t0},
		{Channel: bot.WhatsApp, To: "+6281200000001", Body: "Teks biasa", Purpose: bot.PurposeReply, CreatedAt: t0},
	}}
	Apply(t, s, c, t0)
	want := map[int64]int64{c.Outbox[0].ID: 42, c.Outbox[1].ID: 0}

	got := due(t, s, t0, time.Minute, 10)
	if len(got) != len(want) {
		t.Fatalf("DueOutbound = %v, want %d messages", bodies(got), len(want))
	}
	for _, m := range got {
		if m.Attachment != want[m.ID] {
			t.Errorf("DueOutbound message %d: Attachment = %d, want %d", m.ID, m.Attachment, want[m.ID])
		}
	}
	out := outbox(t, s)
	if len(out) != len(want) {
		t.Fatalf("Outbox has %d entries, want %d", len(out), len(want))
	}
	for _, e := range out {
		if e.Attachment != want[e.ID] {
			t.Errorf("Outbox entry %d: Attachment = %d, want %d", e.ID, e.Attachment, want[e.ID])
		}
		if e.ID == c.Outbox[0].ID && e.Purpose != bot.PurposeFile {
			t.Errorf("Outbox entry %d: Purpose = %q, want %q", e.ID, e.Purpose, bot.PurposeFile)
		}
	}
}

func testSettle(t *testing.T, s bot.Store) {
	ctx := t.Context()
	c := &bot.Changes{Outbox: outbound("m", 3)}
	Apply(t, s, c, t0)
	if got := due(t, s, t0, time.Minute, 10); len(got) != 3 {
		t.Fatalf("DueOutbound = %v, want 3 messages", bodies(got))
	}
	retryAt := t0.Add(5 * time.Minute)
	ds := []bot.Delivery{
		{ID: c.Outbox[0].ID, ProviderID: "SM0001"},
		{ID: c.Outbox[1].ID, Err: "throttled", RetryAt: retryAt},
		{ID: c.Outbox[2].ID, Err: "opted out"},
	}
	if err := s.Settle(ctx, ds); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	out := outbox(t, s)
	type record struct {
		State, ProviderID, LastError string
		Attempts                     int
		Sent                         bool
	}
	want := []record{
		{State: "sent", ProviderID: "SM0001", Attempts: 1, Sent: true},
		{State: "pending", LastError: "throttled", Attempts: 1},
		{State: "failed", LastError: "opted out", Attempts: 1},
	}
	for i, e := range out {
		got := record{e.State, e.ProviderID, e.LastError, e.Attempts, !e.SentAt.IsZero()}
		if got != want[i] {
			t.Errorf("Outbox[%d] = %+v, want %+v", i, got, want[i])
		}
	}

	// Only the retried message comes back, and only at RetryAt.
	if got := due(t, s, retryAt.Add(-time.Second), time.Minute, 10); len(got) != 0 {
		t.Errorf("DueOutbound before RetryAt = %v, want none", bodies(got))
	}
	got := due(t, s, retryAt, time.Minute, 10)
	if len(got) != 1 || got[0].ID != c.Outbox[1].ID || got[0].Attempts != 1 {
		t.Fatalf("DueOutbound at RetryAt = %+v, want message %d with 1 attempt", got, c.Outbox[1].ID)
	}
	// The second attempt succeeds.
	if err := s.Settle(ctx, []bot.Delivery{{ID: got[0].ID, ProviderID: "SM0002"}}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	out = outbox(t, s)
	if e := out[1]; e.State != "sent" || e.Attempts != 2 || e.ProviderID != "SM0002" || e.LastError != "throttled" {
		t.Errorf("Outbox[1] after retry = %+v, want sent, 2 attempts, SM0002, last error kept", e)
	}
	if got := due(t, s, retryAt.Add(time.Hour), time.Minute, 10); len(got) != 0 {
		t.Errorf("DueOutbound after all settled = %v, want none", bodies(got))
	}

	// A late outcome for a settled message (a sender whose lease ran out)
	// changes nothing.
	if err := s.Settle(ctx, []bot.Delivery{{ID: c.Outbox[0].ID, Err: "late", RetryAt: retryAt}, {ID: c.Outbox[2].ID, ProviderID: "SM0003"}}); err != nil {
		t.Fatalf("Settle late: %v", err)
	}
	after := outbox(t, s)
	for _, i := range []int{0, 2} {
		if !reflect.DeepEqual(after[i], out[i]) {
			t.Errorf("Outbox[%d] after a late Settle = %+v, want unchanged %+v", i, after[i], out[i])
		}
	}
}

func testRecordStatus(t *testing.T, s bot.Store) {
	ctx := t.Context()
	c := &bot.Changes{Outbox: outbound("m", 1)}
	Apply(t, s, c, t0)
	if err := s.Settle(ctx, []bot.Delivery{{ID: c.Outbox[0].ID, ProviderID: "SM42"}}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	steps := []struct {
		status string
		at     time.Time
		want   string
	}{
		{"sent", t0.Add(time.Second), "sent"},
		{"delivered", t0.Add(3 * time.Second), "delivered"},
		{"sent", t0.Add(2 * time.Second), "delivered"}, // late report of an earlier state
	}
	for _, st := range steps {
		if err := s.RecordStatus(ctx, "SM42", st.status, st.at); err != nil {
			t.Fatalf("RecordStatus(%s): %v", st.status, err)
		}
		if got := outbox(t, s)[0].DeliveryStatus; got != st.want {
			t.Errorf("after %s at %v: DeliveryStatus = %q, want %q", st.status, st.at, got, st.want)
		}
	}
	wantKind(t, "RecordStatus(unknown)", s.RecordStatus(ctx, "SM-unknown", "delivered", t0), bot.NotFound)
}

func testTicketsFilter(t *testing.T, s bot.Store) {
	const a, b = "+6281337785111", "+6281337973213" // officers
	mk := func(code string, kind bot.Kind, status bot.Status, assignee string, age time.Duration) bot.Ticket {
		return bot.Ticket{Code: code, Kind: kind, Status: status, Channel: bot.SMS, Reporter: "+6281200000001",
			Assignee: assignee, CreatedAt: t0.Add(-age), UpdatedAt: t0}
	}
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		mk("K1", bot.KindCase, bot.StatusReceived, a, 4*time.Hour),
		mk("K2", bot.KindCase, bot.StatusDone, a, 3*time.Hour),
		mk("P1", bot.KindComplaint, bot.StatusReceived, "", 2*time.Hour),
		mk("K4", bot.KindCase, bot.StatusReferred, b, 90*time.Minute),
		mk("P2", bot.KindComplaint, bot.StatusDone, "", time.Hour),
		mk("K3", bot.KindCase, bot.StatusReceived, "", 0),
	}}, t0)
	tests := []struct {
		name string
		f    bot.TicketFilter
		want []string
	}{
		{"all", bot.TicketFilter{}, []string{"K3", "P2", "K4", "P1", "K2", "K1"}},
		{"by status", bot.TicketFilter{Status: bot.StatusReceived}, []string{"K3", "P1", "K1"}},
		{"by kind", bot.TicketFilter{Kind: bot.KindComplaint}, []string{"P2", "P1"}},
		{"by status and kind", bot.TicketFilter{Status: bot.StatusDone, Kind: bot.KindCase}, []string{"K2"}},
		{"limit", bot.TicketFilter{Limit: 2}, []string{"K3", "P2"}},
		{"status with limit", bot.TicketFilter{Status: bot.StatusReceived, Limit: 2}, []string{"K3", "P1"}},
		{"none match", bot.TicketFilter{Status: "archived"}, []string{}},
		{"assignee", bot.TicketFilter{Assignee: a}, []string{"K2", "K1"}},
		{"open", bot.TicketFilter{Open: true}, []string{"K3", "K4", "P1", "K1"}},
		{"assignee's open", bot.TicketFilter{Assignee: a, Open: true}, []string{"K1"}},
		{"since", bot.TicketFilter{Since: t0.Add(-2 * time.Hour)}, []string{"K3", "P2", "K4", "P1"}},
		{"since, open, by status", bot.TicketFilter{Since: t0.Add(-3 * time.Hour), Open: true, Status: bot.StatusReceived}, []string{"K3", "P1"}},
		{"nobody's", bot.TicketFilter{Assignee: "+6281200000009"}, []string{}},
	}
	for _, tt := range tests {
		if got := Codes(tickets(t, s, tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Tickets(%+v) = %v, want %v", tt.name, tt.f, got, tt.want)
		}
	}
}

func testPing(t *testing.T, s bot.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v, want nil", err)
	}
}

// testAwkwardText round-trips text full of the characters that quoting and
// escaping get wrong.
func testAwkwardText(t *testing.T, s bot.Store) {
	awkward := []string{"", " ", "NULL", "null", `"`, `\`, `\"`, "{a,b}", "a, b", "tab\there", "baris\nbaru", "'; DROP TABLE tickets; --",
		"emoji 🙏 dan aksara ꦲ", `{"json": [1, 2]}`}
	tk := bot.Ticket{Code: "AW-1", Kind: bot.KindCase, Status: bot.StatusReceived, Kecamatan: `Lamba Leda "LL"`,
		Answers: map[string]string{}, Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: t0, UpdatedAt: t0}
	c := &bot.Changes{Tickets: []bot.Ticket{tk}}
	for i, a := range awkward {
		tk.Answers[fmt.Sprintf("f%02d %s", i, a)] = a
		c.Events = append(c.Events, bot.Event{TicketCode: "AW-1", At: t0, Actor: a, Type: "note", Detail: a})
		c.Outbox = append(c.Outbox, bot.Outbound{Channel: bot.SMS, To: a, Body: a, Purpose: bot.PurposeReply, TicketCode: a, CreatedAt: t0})
	}
	Apply(t, s, c, t0)

	if got := ticket(t, s, "AW-1"); !reflect.DeepEqual(got, norm(tk)) {
		t.Errorf("Ticket = %+v, want %+v", got, norm(tk))
	}
	es, out := events(t, s, "AW-1"), outbox(t, s)
	if len(es) != len(awkward) || len(out) != len(awkward) {
		t.Fatalf("got %d events and %d outbox messages, want %d of each", len(es), len(out), len(awkward))
	}
	for i, a := range awkward {
		if es[i].Actor != a || es[i].Detail != a {
			t.Errorf("event %d: actor, detail = %q, %q; want %q", i, es[i].Actor, es[i].Detail, a)
		}
		if e := out[i]; e.To != a || e.Body != a || e.TicketCode != a {
			t.Errorf("outbox %d: to, body, ticket = %q, %q, %q; want %q", i, e.To, e.Body, e.TicketCode, a)
		}
	}
	dup := claim(t, s, true, sms(`"`), sms(`\`), sms("NULL"), sms(""), sms("NULL"))
	if want := []bool{false, false, false, false, true}; !slices.Equal(dup, want) {
		t.Errorf("Claim(awkward IDs) = %v, want %v", dup, want)
	}
}

// testUnstorableText checks that text PostgreSQL cannot hold (NUL, invalid
// UTF-8) does not fail the batch it came with: it is stored cleaned.
func testUnstorableText(t *testing.T, s bot.Store) {
	bad := "a\x00b\xffc"
	want := "ab\uFFFDc"
	tk := bot.Ticket{Code: "UN-1", Kind: bot.KindCase, Status: bot.StatusReceived, Kecamatan: bad,
		Answers: map[string]string{"what": bad}, Channel: bot.SMS, Reporter: "+6281200000001", CreatedAt: t0, UpdatedAt: t0}
	Apply(t, s, &bot.Changes{
		Tickets: []bot.Ticket{tk},
		Events:  []bot.Event{{TicketCode: "UN-1", At: t0, Actor: "citizen", Type: "note", Detail: bad}},
		Outbox:  []bot.Outbound{{Channel: bot.SMS, To: "+6281200000001", Body: bad, Purpose: bot.PurposeReply, CreatedAt: t0}},
	}, t0)

	if got := ticket(t, s, "UN-1"); got.Kecamatan != want || got.Answers["what"] != want {
		t.Errorf("Ticket kecamatan, answer = %q, %q; want %q", got.Kecamatan, got.Answers["what"], want)
	}
	if es := events(t, s, "UN-1"); len(es) != 1 || es[0].Detail != want {
		t.Errorf("Events = %+v; want one with detail %q", es, want)
	}
	if out := outbox(t, s); len(out) != 1 || out[0].Body != want {
		t.Errorf("Outbox = %+v; want one with body %q", out, want)
	}
}
