package bot_test

import (
	"context"
	"strings"
	"testing"

	"aduan/bot"
	"aduan/dialog"
	"aduan/dialog/flows"
)

// sentMessage is a citizen's message of a transcript, with what stood
// before it was handled: whether they had filed a ticket still live, and
// whether a report was under way.
type sentMessage struct {
	m     bot.Inbound
	filed bool         // the sender had a ticket open, or closed within bot.LiveWindow
	state dialog.State // the conversation's committed state
}

var staffPhones = func() map[string]bool {
	m := map[string]bool{}
	for _, o := range transcriptOfficers {
		m[o.Phone] = true
	}
	return m
}()

// before reads, through the store, what stands before m is handled.
func (e *pipelineEnv) before(t *testing.T, m bot.Inbound) sentMessage {
	t.Helper()
	ctx := context.Background()
	live, err := e.pg.LiveTickets(ctx, []string{m.From}, e.clock.Now().Add(-bot.LiveWindow))
	if err != nil {
		t.Fatal(err)
	}
	out := sentMessage{m: m, filed: len(live[m.From]) > 0}
	tx, err := e.pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	cps := []bot.Checkpoint{{Key: m.Key(), Version: -1}}
	if _, err := tx.Resume(ctx, nil, cps); err != nil {
		t.Fatal(err)
	}
	if cps[0].Found && cps[0].State != nil {
		if err := out.state.UnmarshalBinary(cps[0].State); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkNothingLost is the property of issue 15 over a transcript: every
// message a reporter sends after filing, while no new report is under way,
// is in an event of one of their tickets and in a message to an officer,
// unless it is plainly for the conversation: a command (MENU, BATAL,
// STOP and its phrasings, HAPUS, BAHASA, ...), a ticket's status asked, a
// menu choice while the menu is shown, a wish to report again. (Answers to
// a new report's questions go into that report.) The judgement of what is
// plainly for the conversation is written here, apart from the code's.
func checkNothingLost(t *testing.T, e *pipelineEnv, sent []sentMessage) {
	t.Helper()
	book, err := flows.Load("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var events []bot.Event
	var toStaff []string
	tickets, err := e.pg.Tickets(ctx, bot.TicketFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range tickets {
		evs, err := e.pg.Events(ctx, tk.Code)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Actor == "citizen" && tk.Reporter != "" {
				events = append(events, ev)
			}
		}
	}
	outbox, err := e.pg.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outbox {
		if staffPhones[o.To] {
			toStaff = append(toStaff, o.Body)
		}
	}
	for _, s := range sent {
		text := dialog.Clean(s.m.Text)
		if !s.filed || !book.AtRest(&s.state) || text == "" || plainlyForConversation(book, s.state, text) {
			continue
		}
		inEvent, inMessage := false, false
		for _, ev := range events {
			inEvent = inEvent || strings.Contains(ev.Detail, text)
		}
		for _, body := range toStaff {
			inMessage = inMessage || strings.Contains(body, text)
		}
		if !inEvent || !inMessage {
			t.Errorf("nothing lost: %q, written after filing, is in a ticket event: %v, in a message to an officer: %v",
				text, inEvent, inMessage)
		}
	}
}

// plainlyForConversation reports whether a message written at rest is a
// command, a status question, a language chosen, a menu choice while the
// menu is shown (or the answer to which report they meant), or a wish to
// report again.
func plainlyForConversation(book *dialog.Book, st dialog.State, text string) bool {
	norm := dialog.Normalize(text)
	switch norm {
	case "menu", "mulai", "start", "batal", "cancel", "bantuan", "help", "bahasa", "language",
		"english", "indonesia", "stop", "berhenti", "hapus", "delete", "petugas", "officer", "lapor", "report",
		"mau lapor lagi", "info", "cek tiket":
		return true
	}
	if dialog.IsStop(text) {
		return true
	}
	if code := dialog.FindCode(text); code != "" && len(strings.Fields(norm)) <= 3 {
		return true
	}
	number := len(norm) <= 2 && strings.Trim(norm, "0123456789") == ""
	if number && (st.Step == book.Start || st.Asked != "" && st.Relay == "") {
		return true // a menu choice, or which report they meant when asked
	}
	words := strings.Fields(norm)
	if len(words) <= 3 && (strings.Contains(norm, "english") || strings.Contains(norm, "inggris") ||
		strings.Contains(norm, "bahasa")) {
		return true // a language chosen
	}
	return false
}
