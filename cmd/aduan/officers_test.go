package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"aduan/bot"
)

// TestOfficerWorkOverTheWebhook drives an officer's and a supervisor's work
// by SMS through serve's webhook, with Twilio faked on loopback.
func TestOfficerWorkOverTheWebhook(t *testing.T) {
	h := newHarness(t)
	total := 0
	for _, m := range caseReport {
		total += m.replies
		h.say(citizen, m.text, total)
	}
	total += 3
	got := h.say(citizen, "ya", total)
	code := findCode(got[len(got)-1])
	if code == "" {
		t.Fatalf("no code in %q", got[len(got)-1])
	}
	genoveva, tija, kepala := testOfficers[0].Phone, testOfficers[1].Phone, testOfficers[2].Phone
	last := func(to string) string {
		t.Helper()
		msgs := h.wait(to, total)
		if len(msgs) == 0 {
			t.Fatalf("nothing sent to %s", to)
		}
		return msgs[len(msgs)-1]
	}
	// Routing: the first officer is assigned, the second is the backup.
	if n := last(genoveva); !strings.Contains(n, "Anda petugas utama") || strings.Contains(n, "dipukul") {
		t.Errorf("assignee's notification = %q", n)
	}
	if n := last(tija); !strings.Contains(n, "Cadangan") {
		t.Errorf("backup's notification = %q", n)
	}

	total += 2
	h.say(genoveva, "terima "+strings.ToLower(code), total)
	if r := last(genoveva); !strings.Contains(r, code+" Anda terima") {
		t.Errorf("TERIMA answer = %q", r)
	}
	if p := last(citizen); !strings.Contains(p, "sudah diterima petugas") {
		t.Errorf("citizen's progress = %q", p)
	}

	total += 2
	h.say(genoveva, "BALAS "+code+" Ibu, kami datang besok jam 9.", total)
	relayed := last(citizen)
	if !strings.Contains(relayed, "Ibu, kami datang besok jam 9.") || strings.Contains(relayed, genoveva[3:]) {
		t.Errorf("relayed to the citizen = %q", relayed)
	}
	for _, m := range h.twilio.Messages() {
		if m.To == citizen && m.From != serviceNum {
			t.Errorf("a message reached the citizen from %s, not the service's number", m.From)
		}
	}

	total += 2
	h.say(citizen, "Baik, saya tunggu di rumah.", total)
	back := last(genoveva)
	if back != "["+code+"] pelapor: Baik, saya tunggu di rumah." {
		t.Errorf("the answer back = %q", back)
	}
	if strings.Contains(back, citizen[3:]) {
		t.Errorf("the citizen's number reached the officer: %q", back)
	}

	// A stranger typing commands gets the citizen menu and learns nothing.
	stranger := "+6281299990055"
	total++
	if r := h.say(stranger, "TERIMA "+code, total); len(r) != 1 || !strings.Contains(r[0], "1.Lapor kekerasan") {
		t.Errorf("stranger's TERIMA = %q", r)
	}

	// REKAP counts what the database holds.
	var created int
	if err := h.srv.pg.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM tickets WHERE created_at >= $1", time.Now().Add(-24*time.Hour)).Scan(&created); err != nil {
		t.Fatal(err)
	}
	total++
	h.say(kepala, "REKAP", total)
	if r := last(kepala); !strings.Contains(r, "baru "+strconv.Itoa(created)+" ") || !strings.Contains(r, "Terbuka 1") {
		t.Errorf("REKAP = %q, want %d new and 1 open", r, created)
	}

	total += 2
	h.say(genoveva, "SELESAI "+code+" Sudah didampingi ke Polres.", total)
	if p := last(citizen); !strings.Contains(p, "selesai ditangani") {
		t.Errorf("citizen's last progress = %q", p)
	}
	tk, err := h.srv.pg.Ticket(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Status != bot.StatusDone || tk.Assignee != genoveva || tk.AcceptedAt.IsZero() || tk.ClosedAt.IsZero() {
		t.Errorf("ticket = %+v", tk)
	}
	evs, err := h.srv.pg.Events(context.Background(), code)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
		if e.Type == "relay_out" && (e.Actor != genoveva || e.Detail != "Ibu, kami datang besok jam 9.") {
			t.Errorf("relay_out event = %+v", e)
		}
	}
	if got, want := strings.Join(types, " "), "created notified accepted relay_out relay_in status closed"; got != want {
		t.Errorf("events = %q, want %q", got, want)
	}
}
