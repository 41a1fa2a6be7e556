package bot

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"aduan/dialog"
)

// What a reporter writes after filing. While a reporter has a live ticket
// (open, or closed less than LiveWindow ago) and no report is under way
// (dialog.Book.AtRest), whatever they write that is not for the
// conversation (dialog.Book.ReadRest) goes to that ticket: an event in its
// history and a message to its officer, with a short acknowledgement. Words
// of danger make it urgent (a closed one is reopened), send the emergency
// numbers at once and tell its officers and the supervisors. A reporter
// with several open tickets is asked once which one; until they say, their
// messages go to all of them.

// LiveWindow is how long after a ticket is closed its reporter's messages
// still go to its officer.
const LiveWindow = 7 * 24 * time.Hour

// LiveLookup is implemented by stores that can find, for a whole batch of
// addresses in one query, the tickets each filed (from any channel) that
// are open or were closed at or after closedSince, newest first.
type LiveLookup interface {
	LiveTickets(ctx context.Context, addrs []string, closedSince time.Time) (map[string][]Ticket, error)
}

// ReporterTickets is implemented by stores that can find the tickets filed
// from an address.
type ReporterTickets interface {
	TicketsByReporter(ctx context.Context, ch Channel, addr string) ([]Ticket, error)
}

// liveTickets finds the live tickets of addrs: one query for the batch
// where the store can, else one per address and channel.
func (s *Service) liveTickets(ctx context.Context, addrs []string, now time.Time) (map[string][]Ticket, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	since := now.Add(-LiveWindow)
	if ll, ok := s.cfg.Store.(LiveLookup); ok {
		return ll.LiveTickets(ctx, addrs, since)
	}
	rt, ok := s.cfg.Store.(ReporterTickets)
	if !ok {
		return nil, nil
	}
	var out map[string][]Ticket
	for _, a := range addrs {
		var ts []Ticket
		for _, c := range []Channel{SMS, WhatsApp} {
			more, err := rt.TicketsByReporter(ctx, c, a)
			if err != nil {
				return nil, err
			}
			for _, t := range more {
				if t.Open() || !t.ClosedAt.Before(since) {
					ts = append(ts, t)
				}
			}
		}
		if len(ts) > 0 {
			slices.SortStableFunc(ts, func(a, b Ticket) int { return b.CreatedAt.Compare(a.CreatedAt) })
			if out == nil {
				out = map[string][]Ticket{}
			}
			out[a] = ts
		}
	}
	return out, nil
}

// reporters holds the live tickets of a batch's senders: looked up at once
// for those at rest when the batch began, and one by one for a sender who
// comes to rest during the batch; tickets the batch opens are added.
type reporters struct {
	s      *Service
	now    time.Time
	known  map[string]bool
	byAddr map[string][]Ticket
}

func (s *Service) newReporters(ctx context.Context, addrs []string, now time.Time) (*reporters, error) {
	rs := &reporters{s: s, now: now, known: make(map[string]bool, len(addrs))}
	var err error
	if rs.byAddr, err = s.liveTickets(ctx, addrs, now); err != nil {
		return nil, err
	}
	for _, a := range addrs {
		rs.known[a] = true
	}
	return rs, nil
}

// of returns addr's live tickets, newest first.
func (rs *reporters) of(ctx context.Context, addr string) ([]Ticket, error) {
	if !rs.known[addr] {
		more, err := rs.s.liveTickets(ctx, []string{addr}, rs.now)
		if err != nil {
			return nil, err
		}
		if rs.byAddr == nil {
			rs.byAddr = map[string][]Ticket{}
		}
		rs.byAddr[addr] = append(rs.byAddr[addr], more[addr]...)
		rs.known[addr] = true
	}
	return rs.byAddr[addr], nil
}

// opened adds tickets the batch opened to their reporters' live tickets
// (a look-up would not see them before the batch commits).
func (rs *reporters) opened(ts []Ticket) {
	for _, t := range ts {
		if slices.ContainsFunc(rs.byAddr[t.Reporter], func(x Ticket) bool { return x.Code == t.Code }) {
			continue
		}
		if rs.byAddr == nil {
			rs.byAddr = map[string][]Ticket{}
		}
		rs.byAddr[t.Reporter] = append([]Ticket{t}, rs.byAddr[t.Reporter]...)
	}
}

// hasOpen reports whether any of ts is open.
func hasOpen(ts []Ticket) bool {
	return slices.ContainsFunc(ts, func(t Ticket) bool { return t.Open() })
}

// newestOpen returns the code of the newest open ticket of ts, or "".
func newestOpen(ts []Ticket) string {
	for _, t := range ts {
		if t.Open() {
			return t.Code
		}
	}
	return ""
}

// afterFiling handles a message written at rest by a reporter with live
// tickets ts. It reports whether it did; if not, the conversation takes
// the message (a command, a menu choice; a question it answers, which is
// passed to the officer too).
func (s *Service) afterFiling(ctx context.Context, w *work, c *conv, m Inbound, ts []Ticket, now time.Time, ch *Changes) (bool, error) {
	text := dialog.CleanStory(m.Text) // kept whole in the ticket
	if text == "" && len(m.Files) == 0 {
		return false, nil
	}
	st := &c.state
	if c.end {
		st = &dialog.State{}
	}
	if st.Asked != "" && st.Relay == "" && len(m.Files) == 0 {
		if code := dialog.PickTicket(text, strings.Fields(st.Asked)); code != "" && findTicket(ts, code) != nil {
			s.restart(c)
			c.state.Relay, c.stepped = code, true
			s.reply(m, code, strings.ReplaceAll(s.cfg.Book.Text("relay_picked", s.langOf(c, ts)), "{code}", code), now, ch)
			return true, nil
		}
	}
	rest := dialog.RestMessage
	if len(m.Files) == 0 {
		rest = s.cfg.Book.ReadRest(st, text)
	}
	if rest == dialog.RestCommand {
		return false, nil
	}
	to, ask := targets(st, text, ts)
	danger := rest == dialog.RestMessage && dialog.ReadDanger(text).Danger
	lang := s.langOf(c, ts)
	for i, t := range to {
		if danger {
			var err error
			if t, err = s.endanger(ctx, w, t, now, ch); err != nil {
				return false, err
			}
		}
		s.pass(t, m, text, i == 0, danger, now, ch)
	}
	ch.OptOuts = append(ch.OptOuts, OptOut{Address: m.From, Out: false, At: now}) // writing again on purpose
	if rest == dialog.RestQuestion {
		return false, nil // the conversation answers it
	}
	codes := make([]string, len(to))
	for i, t := range to {
		codes[i] = t.Code
	}
	book := s.cfg.Book
	var ack string
	switch {
	case danger:
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From, Purpose: PurposeReply,
			Body: book.Text(dialog.TextEmergency, lang), CreatedAt: now})
		ack = strings.ReplaceAll(book.Text("relay_urgent", lang), "{code}", strings.Join(codes, ", "))
	case ask:
		ack = strings.ReplaceAll(book.Text("relay_which", lang), "{codes}", strings.Join(codes, ", "))
		for i, code := range codes {
			ack += "\n" + strconv.Itoa(i+1) + "." + code
		}
		s.restart(c)
		c.state.Asked, c.stepped = strings.Join(codes, " "), true
	case len(to) == 1 && !to[0].Open():
		ack = strings.ReplaceAll(book.Text("relay_closed", lang), "{code}", codes[0])
	default:
		ack = strings.ReplaceAll(book.Text("relay_ack", lang), "{code}", strings.Join(codes, ", "))
	}
	s.reply(m, codes[0], ack, now, ch)
	return true, nil
}

// restart begins a new conversation where an earlier message of the batch
// ended one, so that what is set on its state is kept.
func (s *Service) restart(c *conv) {
	if c.end {
		c.state, c.end = dialog.State{}, false
	}
}

func (s *Service) reply(m Inbound, code, body string, now time.Time, ch *Changes) {
	ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From, Purpose: PurposeReply, TicketCode: code,
		Body: body, CreatedAt: now})
}

// langOf is the language to answer a reporter in: the conversation's, or
// that of their newest report.
func (s *Service) langOf(c *conv, ts []Ticket) dialog.Lang {
	if c.state.Lang != "" && !c.end {
		return c.state.Lang
	}
	if len(ts) > 0 {
		return dialog.Lang(ts[0].Answers["lang"])
	}
	return dialog.Indonesian
}

// targets picks the tickets a message at rest goes to: the one whose code
// it names, the one the reporter chose, their one open ticket; all their
// open tickets when they have several (ask: and ask which, once); their
// newest closed one when none is open.
func targets(st *dialog.State, text string, ts []Ticket) (to []*Ticket, ask bool) {
	if t := findTicket(ts, dialog.FindCode(text)); t != nil {
		return []*Ticket{t}, false
	}
	if t := findTicket(ts, st.Relay); t != nil && t.Open() {
		return []*Ticket{t}, false
	}
	for i := range ts {
		if ts[i].Open() {
			to = append(to, &ts[i])
		}
	}
	switch {
	case len(to) == 0:
		return []*Ticket{&ts[0]}, false
	case len(to) > 1:
		return to, st.Asked == ""
	}
	return to, false
}

func findTicket(ts []Ticket, code string) *Ticket {
	if code == "" {
		return nil
	}
	for i := range ts {
		if ts[i].Code == code {
			return &ts[i]
		}
	}
	return nil
}

// pass adds a reporter's message to t's history and sends it to t's
// officers. The message's files are kept with the first ticket it goes to
// (first).
func (s *Service) pass(t *Ticket, m Inbound, text string, first, danger bool, now time.Time, ch *Changes) {
	head := "[" + t.Code + "] pelapor: "
	if !t.Open() {
		head = "[" + t.Code + ", sudah selesai] pelapor: "
	}
	body := head + shortened(head, text, t.Code)
	if len(m.Files) > 0 {
		if text != "" {
			body += " "
		}
		if first {
			body += "(+" + fileNames(m.Files) + ", tersimpan di tiket)"
		} else {
			body += "(+" + fileNames(m.Files) + ")"
		}
	}
	if !t.Open() {
		body += "\n(BALAS " + t.Code + " pesan, untuk menjawab)"
	}
	if danger {
		body = "DARURAT! " + body
	}
	for _, o := range s.handlers(t) {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeRelay,
			TicketCode: t.Code, Body: body, CreatedAt: now})
	}
	if text != "" {
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "relay_in", Detail: text})
	}
	if first {
		keep(m, t.Code, now, ch)
	}
}

// shortened is text as a message to an officer starting with head shows
// it: whole when it fits InfoSegments SMS segments, else its beginning and
// where to read the rest (INFO, which shows the history whole): an SMS
// provider refuses a body of many segments, and it would cost as many.
func shortened(head, text, code string) string {
	if dialog.Segments(head+text) <= InfoSegments {
		return text
	}
	more := ".. (lengkap: INFO " + code + ")"
	r := []rune(text)
	n := len(r)
	for n > 0 && dialog.Segments(head+string(r[:n])+more) > InfoSegments {
		n = n * 9 / 10
	}
	return strings.TrimSpace(string(r[:n])) + more
}

// endanger marks t urgent on words of danger its reporter wrote after
// filing (reopening it if it was closed), and tells its officers and the
// supervisors that a message came, without what it says. It returns the
// ticket as changed.
func (s *Service) endanger(ctx context.Context, w *work, t *Ticket, now time.Time, ch *Changes) (*Ticket, error) {
	lt, err := w.ticket(ctx, t.Code)
	if KindOf(err) == NotFound {
		return t, nil // erased meanwhile: the message still goes to its officer
	}
	if err != nil {
		return nil, err
	}
	detail := "kata bahaya dari pelapor setelah melapor"
	if !lt.Open() {
		lt.Status, lt.ClosedAt = StatusReceived, time.Time{}
		delete(lt.Answers, "outcome")
		ch.Events = append(ch.Events, Event{TicketCode: lt.Code, At: now, Actor: "citizen", Type: "reopened", Detail: detail})
	}
	lt.Urgent = true
	w.touch(lt, now)
	ch.Events = append(ch.Events, Event{TicketCode: lt.Code, At: now, Actor: "citizen", Type: "urgent", Detail: detail})
	told := map[string]bool{}
	for _, o := range s.handlers(lt) {
		told[o.Phone] = true // they get the message itself
	}
	var alert string
	if lt.AcceptedAt.IsZero() || lt.Assignee == "" {
		alert = "DARURAT! " + lt.Code + ": pelapor menulis lagi, tanda bahaya. Mohon balas TERIMA " + lt.Code + "."
	} else {
		alert = "DARURAT! " + lt.Code + ": pelapor menulis lagi, tanda bahaya. Ditangani " + s.staff.Name(lt.Assignee) +
			". INFO " + lt.Code + "."
	}
	for _, p := range lt.Backups {
		if o, ok := s.staff.ByPhone(p); ok && !told[o.Phone] {
			told[o.Phone] = true
			ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeNotify,
				TicketCode: lt.Code, Body: alert, CreatedAt: now})
		}
	}
	for _, o := range s.staff.Supervisors() {
		if !told[o.Phone] {
			told[o.Phone] = true
			ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeNotify,
				TicketCode: lt.Code, Body: alert, CreatedAt: now})
		}
	}
	return lt, nil
}

// stopped tells the officers of a reporter's open tickets that the
// reporter said STOP (with the words they wrote, when more than a
// command), and records it on each ticket.
func (s *Service) stopped(ts []Ticket, m Inbound, now time.Time, ch *Changes) {
	text := dialog.CleanStory(m.Text)
	for i := range ts {
		t := &ts[i]
		if !t.Open() {
			continue
		}
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "stop", Detail: text})
		body := "[" + t.Code + "] pelapor minta JANGAN dihubungi (STOP): jangan BALAS atau telepon sampai ia menulis lagi."
		if len(strings.Fields(text)) > 1 {
			body += " Pesannya: "
			body += shortened(body, text, t.Code)
		}
		for _, o := range s.handlers(t) {
			ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeRelay,
				TicketCode: t.Code, CreatedAt: now, Body: body})
		}
	}
}
