package bot

import (
	"context"
	"slices"
	"time"

	"aduan/dialog"
)

// An urgent ticket is opened as soon as a report speaks of danger, with
// what is known then. The answers given afterwards go to it at once (its
// officers are told there is more, at most every UpdateEvery: not one
// message, nor one history event, per answer), the finished
// report completes it, and a reporter who cancels is told the truth: it was
// sent and stays, and only their explicit word that they are safe closes
// it (marked withdrawn, not handled).

// UpdateEvery is the least time between two notices to a ticket's officers
// that its reporter added answers.
const UpdateEvery = 10 * time.Minute

// markUpdate is the mark of the last notice that a reporter added answers.
// Unlike the clocks' marks it is set again at every notice.
const markUpdate = "update_told"

// OutcomeWithdrawn is a ticket's "outcome" answer when its reporter closed
// it, safe: it was not handled by an officer.
const OutcomeWithdrawn = "withdrawn"

// early returns the ticket opened earlier in a conversation, to change:
// from this batch's new tickets, or read under lock. Returns NotFound if it
// was erased meanwhile.
func (s *Service) early(ctx context.Context, w *work, code string, now time.Time, ch *Changes) (*Ticket, error) {
	for i := range ch.Tickets { // opened in this very batch
		if ch.Tickets[i].Code == code {
			return &ch.Tickets[i], nil
		}
	}
	t, err := w.ticket(ctx, code)
	if err != nil {
		return nil, err
	}
	w.touch(t, now)
	return t, nil
}

// openEarly returns the urgent ticket code to change, as early does, with
// its answers ready to be set; nil (and no error) when it was erased or
// closed meanwhile.
func (s *Service) openEarly(ctx context.Context, w *work, code string, now time.Time, ch *Changes) (*Ticket, error) {
	t, err := s.early(ctx, w, code, now, ch)
	if KindOf(err) == NotFound {
		return nil, nil
	}
	if err != nil || !t.Open() {
		return nil, err
	}
	if t.Answers == nil {
		t.Answers = map[string]string{}
	}
	return t, nil
}

// merge gives the urgent ticket code the answers st holds when they differ
// from before, and tells its officers, at most every UpdateEvery (the
// notice is an event in the ticket's history). A ticket erased or closed
// meanwhile is left alone.
func (s *Service) merge(ctx context.Context, w *work, code string, before []dialog.Answer, st dialog.State, now time.Time, ch *Changes) error {
	answers := dialog.Shown(st.Answers)
	if slices.Equal(before, answers) {
		return nil
	}
	t, err := s.openEarly(ctx, w, code, now, ch)
	if t == nil {
		return err
	}
	for _, a := range answers {
		t.Answers[a.Field] = a.Value
	}
	if st.Lang != "" && st.Lang != dialog.Indonesian {
		t.Answers["lang"] = string(st.Lang)
	}
	t.Kecamatan = t.Answers["kecamatan"]
	if last, ok := t.Marks[markUpdate]; ok && now.Sub(last) < UpdateEvery {
		return nil
	}
	if t.Marks == nil {
		t.Marks = map[string]time.Time{}
	}
	t.Marks[markUpdate] = now
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "updated"})
	body := t.Code + ": pelapor menambah keterangan"
	if kec := t.Kecamatan; kec != "" && kec != dialog.KecamatanUnknown && kec != dialog.KecamatanOutside {
		body += " (Kec. " + s.cfg.Book.KecamatanName(kec, dialog.Indonesian) + ")"
	}
	body += ". INFO " + t.Code + " untuk rincian."
	for _, o := range s.handlers(t) {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeNotify,
			TicketCode: t.Code, Body: body, CreatedAt: now})
	}
	return nil
}

// withdraw closes the urgent ticket code at its reporter's word that they
// are safe: done, with outcome withdrawn (and said to be empty when the
// reporter had told nothing of a case), and its officers told. A ticket
// erased or closed meanwhile is left alone.
func (s *Service) withdraw(ctx context.Context, w *work, code string, now time.Time, ch *Changes) error {
	t, err := s.openEarly(ctx, w, code, now, ch)
	if t == nil {
		return err
	}
	empty := !t.HasContent()
	t.Answers["outcome"] = OutcomeWithdrawn
	t.Status, t.ClosedAt, t.Relay = StatusDone, now, false
	detail := "menyatakan aman"
	note := t.Code + " ditutup oleh pelapor: ia menyatakan sudah aman."
	if empty {
		detail += "; laporan kosong"
		note += " Laporan kosong, tidak ditangani."
	}
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "withdrawn", Detail: detail})
	told := map[string]bool{}
	for _, o := range append(s.handlers(t), s.staffOf(t)...) {
		if told[o.Phone] {
			continue
		}
		told[o.Phone] = true
		ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Purpose: PurposeNotify,
			TicketCode: t.Code, Body: note, CreatedAt: now})
	}
	return nil
}

// staffOf returns the staff a ticket was offered to besides its officer:
// its backups, and for an urgent ticket the supervisors too.
func (s *Service) staffOf(t *Ticket) []Officer {
	var out []Officer
	for _, p := range t.Backups {
		if o, ok := s.staff.ByPhone(p); ok {
			out = append(out, o)
		}
	}
	if t.Urgent {
		out = append(out, s.staff.Supervisors()...)
	}
	return out
}
