package sqlite_test

import (
	"context"
	"testing"
	"time"

	"aduan/bot"
	"aduan/store/sqlite"
)

// reportFixture writes three tickets, one each side of November 2026 and
// one inside, with events, and returns November's bounds.
func reportFixture(t *testing.T, s bot.Store) (from, to time.Time) {
	t.Helper()
	ctx := context.Background()
	from = time.Date(2026, 11, 1, 0, 0, 0, 0, time.FixedZone("WITA", 8*3600))
	to = from.AddDate(0, 1, 0)
	var ch bot.Changes
	for i, at := range []time.Time{from.Add(-time.Microsecond), from, to.Add(-time.Microsecond), to} {
		code := []string{"KS-BEFOR", "KS-FIRST", "KS-LAST2", "KS-AFTER"}[i]
		ch.Tickets = append(ch.Tickets, bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived,
			Kecamatan: "borong", Answers: map[string]string{"violence": "physical"}, Channel: bot.SMS,
			Reporter: "+6281299990001", CreatedAt: at, UpdatedAt: at})
		ch.Events = append(ch.Events,
			bot.Event{TicketCode: code, At: at, Actor: "citizen", Type: "created"},
			bot.Event{TicketCode: code, At: at.Add(10 * time.Minute), Actor: "+6281337785111", Type: "accepted"})
	}
	ch.Events = append(ch.Events, bot.Event{TicketCode: "KS-FIRST", At: from.Add(time.Hour), Actor: "system",
		Type: "status", Detail: "done"})
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, &ch, time.Now()); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return from, to
}

func TestTicketsCreated(t *testing.T) {
	s := open(t, sqlite.Memory)
	from, to := reportFixture(t, s)
	ts, events, err := s.TicketsCreated(t.Context(), from, to)
	if err != nil {
		t.Fatalf("TicketsCreated: %v", err)
	}
	if len(ts) != 2 || ts[0].Code != "KS-FIRST" || ts[1].Code != "KS-LAST2" {
		t.Fatalf("tickets = %+v, want KS-FIRST and KS-LAST2", ts)
	}
	if ts[0].Answers["violence"] != "physical" || !ts[0].CreatedAt.Equal(from) {
		t.Errorf("ticket = %+v, want its answers and creation time", ts[0])
	}
	first := events["KS-FIRST"]
	if len(events) != 2 || len(first) != 3 || first[0].Type != "created" || first[1].Type != "accepted" ||
		first[2].Detail != "done" || !first[1].At.Equal(from.Add(10*time.Minute)) {
		t.Errorf("events = %+v, want those of the two tickets, in order", events)
	}
	r := bot.MonthlyReport(ts, events, from, to, to.Add(time.Hour))
	if all := r.Standard[0]; r.Tickets != 2 || all.Response.Met != 2 || all.Done.Met != 1 || all.Done.Open != 1 {
		t.Errorf("report: %d tickets, response %+v, done %+v; want 2, 2 met, 1 met and 1 open",
			r.Tickets, all.Response, all.Done)
	}

	empty, evs, err := s.TicketsCreated(t.Context(), to.AddDate(1, 0, 0), to.AddDate(1, 1, 0))
	if err != nil || len(empty) != 0 || len(evs) != 0 {
		t.Errorf("a month without tickets: %v, %v, %v; want nothing", empty, evs, err)
	}
}

func TestOutboxStats(t *testing.T) {
	s := open(t, sqlite.Memory)
	ctx := t.Context()
	n, oldest, err := s.OutboxStats(ctx)
	if err != nil || n != 0 || !oldest.IsZero() {
		t.Fatalf("empty outbox: %d, %v, %v; want 0, zero time, nil", n, oldest, err)
	}
	created := time.Date(2026, 11, 5, 8, 0, 0, 0, time.UTC)
	ch := bot.Changes{Outbox: []bot.Outbound{
		{Channel: bot.SMS, To: "+6281299990001", Body: "a", Purpose: bot.PurposeReply, CreatedAt: created},
		{Channel: bot.SMS, To: "+6281299990001", Body: "b", Purpose: bot.PurposeReply, CreatedAt: created.Add(time.Minute)},
		{Channel: bot.SMS, To: "+6281299990002", Body: "c", Purpose: bot.PurposeReply, CreatedAt: created.Add(2 * time.Minute)},
	}}
	tx, err := s.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, &ch, created); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Settle(ctx, []bot.Delivery{{ID: ch.Outbox[0].ID, ProviderID: "SM1"}}); err != nil {
		t.Fatal(err)
	}
	n, oldest, err = s.OutboxStats(ctx)
	if err != nil || n != 2 || !oldest.Equal(created.Add(time.Minute)) {
		t.Errorf("OutboxStats = %d, %v, %v; want 2, %v, nil", n, oldest, err, created.Add(time.Minute))
	}
}
