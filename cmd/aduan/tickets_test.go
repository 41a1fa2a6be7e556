package main

import (
	"strings"
	"testing"
	"time"

	"aduan/bot"
)

func TestTicketsListLate(t *testing.T) {
	file, pg := commandSetup(t)
	now := time.Now()
	ticket := func(code string, created time.Time, accepted, closed bool) bot.Ticket {
		t := bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived, Channel: bot.SMS,
			Reporter: citizen, CreatedAt: created, UpdatedAt: created}
		if accepted {
			t.AcceptedAt, t.Assignee = created.Add(time.Minute), "+6281337785111"
		}
		if closed {
			t.Status, t.ClosedAt = bot.StatusDone, created.Add(time.Hour)
		}
		return t
	}
	storeChanges(t, pg, &bot.Changes{Tickets: []bot.Ticket{
		ticket("KS-NEWAA", now.Add(-5*time.Minute), false, false),  // within 30 minutes
		ticket("KS-LATEA", now.Add(-45*time.Minute), false, false), // nobody took it in 30 minutes
		ticket("KS-TAKEN", now.Add(-45*time.Minute), true, false),  // taken in time
		ticket("KS-OLDAA", now.Add(-8*24*time.Hour), true, false),  // open past 7 days
		ticket("KS-DONEA", now.Add(-8*24*time.Hour), false, true),  // closed
	}})
	out, _, err := runCmd(t, "", nil, "tickets", "list", "--late", "--config", file)
	if err != nil {
		t.Fatalf("tickets list --late: %v", err)
	}
	for code, late := range map[string]bool{"KS-NEWAA": false, "KS-LATEA": true, "KS-TAKEN": false,
		"KS-OLDAA": true, "KS-DONEA": false} {
		if strings.Contains(out, code) != late {
			t.Errorf("%s listed = %v, want %v:\n%s", code, !late, late, out)
		}
	}
}

func TestTicketsExport(t *testing.T) {
	file, pg := commandSetup(t)
	in := time.Date(2026, 11, 10, 9, 0, 0, 0, bot.WITA)
	out := time.Date(2026, 12, 1, 9, 0, 0, 0, bot.WITA)
	storeChanges(t, pg, &bot.Changes{Tickets: []bot.Ticket{
		{Code: "KS-INNOV", Kind: bot.KindCase, Status: bot.StatusDone, Channel: bot.SMS, Reporter: citizen,
			Kecamatan: "borong", CreatedAt: in, UpdatedAt: in, AcceptedAt: in.Add(12 * time.Minute),
			ClosedAt: in.Add(48 * time.Hour), Assignee: "+6281337785111",
			Answers: map[string]string{"violence": "physical,sexual", "description": "Rahasia sekali"}},
		{Code: "KS-DECEM", Kind: bot.KindCase, Status: bot.StatusReceived, Channel: bot.SMS, Reporter: citizen,
			CreatedAt: out, UpdatedAt: out},
	}})
	got, _, err := runCmd(t, "", nil, "tickets", "export", "--config", file, "--format", "csv",
		"--from", "2026-11-01", "--to", "2026-12-01")
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "code,kind,status") {
		t.Fatalf("export = %q, want a header and one ticket", got)
	}
	for _, want := range []string{"KS-INNOV", "done", "borong", `"physical,sexual"`, ",12,", "Genoveva Lindung"} {
		if !strings.Contains(lines[1], want) {
			t.Errorf("row %q lacks %q", lines[1], want)
		}
	}
	if strings.Contains(got, "Rahasia") || strings.Contains(got, citizen[3:]) {
		t.Errorf("export carries personal data: %q", got)
	}
	if _, _, err := runCmd(t, "", nil, "tickets", "export", "--config", file, "--from", "2026-12-01", "--to", "2026-11-01"); err == nil {
		t.Errorf("a backwards period was accepted")
	}
}
