package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"aduan/bot"
)

// until waits for a message to `to` that contains want, among those sent
// after the first `after`, and returns it.
func (h *harness) until(after int, to, want string) string {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		msgs := h.twilio.Messages()
		for _, m := range msgs[min(after, len(msgs)):] {
			if m.To == to && strings.Contains(m.Body, want) {
				return m.Body
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	var got []string
	for _, m := range h.twilio.Messages() {
		if m.To == to {
			got = append(got, m.Body)
		}
	}
	h.t.Fatalf("no message to %s containing %q; it got %q", bot.Mask(to), want, got)
	return ""
}

// write posts a signed webhook as from and returns how many messages had
// gone out before.
func (h *harness) write(from, text string) int {
	h.t.Helper()
	n := h.twilio.Count()
	if code := h.post(h.sid(), from, text); code != http.StatusOK {
		h.t.Fatalf("post %q: status %d, want 200", text, code)
	}
	return n
}

// TestNothingLostEndToEnd is issue 15's points 1 to 3 through aduan serve,
// with signed Twilio webhooks: a child's opening message starts the report
// and is kept as its story; after filing, thanks, a question before any
// BALAS and a message after a status check reach the officer; words of
// danger mark the same ticket urgent, give the emergency numbers and tell
// the supervisor without the message; no second ticket.
func TestNothingLostEndToEnd(t *testing.T) {
	h := newHarness(t)
	const (
		officer    = "+6281337785111"
		supervisor = "+6281234567890"
		child      = "+6281299990013"
		opening    = "aku umur 13 thn. bapak ku suka pukul aku kalau dia mabuk. aku takut pulang"
	)
	n := h.write(child, opening)
	first := h.until(n, child, "Siapa yang melapor?")
	if !strings.Contains(first, "Terima kasih sudah bercerita") || strings.Contains(first, "HAPUS") {
		t.Errorf("first reply %q: want the story acknowledged, no HAPUS promise on SMS", first)
	}
	for _, step := range []struct{ text, want string }{
		{"1", "dalam bahaya sekarang?"}, {"tdk", "Jenis kekerasan?"}, {"1", "Korban adalah"}, {"2", "desa/kelurahan"},
		{"Borong", "Nama desa"}, {"0", "Kapan terjadi?"}, {"4", "Ada yang ingin ditambahkan?"}, {"0", "Bantuan apa"},
		{"2", "menelepon"}, {"3", "Periksa:"}, {"1", "kode"},
	} {
		n := h.write(child, step.text)
		h.until(n, child, step.want)
	}
	ctx := context.Background()
	ts, err := h.srv.pg.Tickets(ctx, bot.TicketFilter{})
	if err != nil || len(ts) != 1 {
		t.Fatalf("tickets %d, %v; want 1", len(ts), err)
	}
	tk := ts[0]
	if tk.Answers["description"] != opening {
		t.Errorf("story = %q, want the opening message %q", tk.Answers["description"], opening)
	}

	// Point 2: after filing, before any BALAS, after a status check.
	for _, text := range []string{"makasih kak", "kak nanti yg datang siapa?"} {
		n := h.write(child, text)
		h.until(n, child, tk.Code)
		h.until(n, officer, "["+tk.Code+"] pelapor: "+text)
	}
	n = h.write(child, "cek "+strings.ToLower(tk.Code))
	h.until(n, child, "Tiket "+tk.Code)
	n = h.write(child, "aku lari ke rumah om kak")
	h.until(n, officer, "aku lari ke rumah om kak")

	// Point 3: danger after filing.
	const danger = "tolong kak bapak sdh pulang, dia mabuk cari aku"
	sid := h.sid()
	n = h.twilio.Count()
	if code := h.post(sid, child, danger); code != http.StatusOK {
		t.Fatalf("post: status %d", code)
	}
	h.until(n, child, "110")
	h.until(n, officer, "DARURAT! ["+tk.Code+"] pelapor: tolong kak bapak")
	alert := h.until(n, supervisor, "DARURAT! "+tk.Code)
	if strings.Contains(alert, "mabuk") || strings.Contains(alert, "81299990013") {
		t.Errorf("supervisor's alert %q carries the message or the number", alert)
	}
	if ts, err = h.srv.pg.Tickets(ctx, bot.TicketFilter{}); err != nil || len(ts) != 1 || !ts[0].Urgent {
		t.Fatalf("tickets %+v, %v; want the one ticket, urgent", ts, err)
	}
	evs, err := h.srv.pg.Events(ctx, tk.Code)
	if err != nil {
		t.Fatal(err)
	}
	var relayed []string
	for _, e := range evs {
		if e.Type == "relay_in" {
			relayed = append(relayed, e.Detail)
		}
	}
	want := []string{"makasih kak", "kak nanti yg datang siapa?", "aku lari ke rumah om kak",
		"tolong kak bapak sdh pulang, dia mabuk cari aku"}
	if strings.Join(relayed, "|") != strings.Join(want, "|") {
		t.Errorf("relayed events %q, want %q", relayed, want)
	}
	// Twilio's redelivery of the last message adds nothing.
	h.outboxDrained()
	before := h.twilio.Count()
	if code := h.post(sid, child, danger); code != http.StatusOK {
		t.Fatalf("redelivery: status %d", code)
	}
	h.outboxDrained()
	if got := h.twilio.Count(); got != before {
		t.Errorf("%d messages after a redelivery, want %d", got, before)
	}
	if evs2, err := h.srv.pg.Events(ctx, tk.Code); err != nil || len(evs2) != len(evs) {
		t.Errorf("events after a redelivery: %d, %v; want %d", len(evs2), err, len(evs))
	}
}
