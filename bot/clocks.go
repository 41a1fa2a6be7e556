package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Clock is the service standard's promise for one kind of ticket, and the
// reminders and escalations that keep it.
type Clock struct {
	FirstResponse time.Duration // an officer accepts the ticket within this
	Done          time.Duration // it is done within this
	RemindFirst   time.Duration // remind the assignee this long before the first-response deadline; 0: no reminder
	RemindDone    time.Duration // remind the assignee this long before the done deadline; 0: no reminder
	EscalateAfter time.Duration // past the first-response deadline the backups are told at once, the supervisors after this
	Resend        time.Duration // while nobody accepts it, send it to everyone again this often; 0: never
}

// Clocks are the clocks of every kind of ticket, and the daily digest.
type Clocks struct {
	Case      Clock
	Complaint Clock
	Urgent    Clock         // a case whose victim is in danger, whatever its kind
	DigestAt  time.Duration // time of day, WITA, of the supervisors' daily digest; negative: none
}

// DefaultClocks are the published standard: handling within 30 minutes,
// done within 7 days; urgent tickets re-sent every 10 minutes until someone
// takes them; the digest at 07:00 WITA.
var DefaultClocks = Clocks{
	Case: Clock{FirstResponse: 30 * time.Minute, Done: 7 * 24 * time.Hour, RemindFirst: 10 * time.Minute,
		RemindDone: 24 * time.Hour, EscalateAfter: 30 * time.Minute},
	Complaint: Clock{FirstResponse: 30 * time.Minute, Done: 7 * 24 * time.Hour, RemindFirst: 10 * time.Minute,
		RemindDone: 24 * time.Hour, EscalateAfter: 30 * time.Minute},
	Urgent: Clock{FirstResponse: 10 * time.Minute, Done: 7 * 24 * time.Hour, RemindDone: 24 * time.Hour,
		EscalateAfter: 10 * time.Minute, Resend: 10 * time.Minute},
	DigestAt: 7 * time.Hour,
}

// For returns the clock that applies to t.
func (c Clocks) For(t *Ticket) Clock {
	switch {
	case t.Urgent:
		return c.Urgent
	case t.Kind == KindComplaint:
		return c.Complaint
	}
	return c.Case
}

// Late reports which of the ticket's clocks ran out by now.
func (c Clocks) Late(t *Ticket, now time.Time) (firstResponse, done bool) {
	if !t.Open() {
		return false, false
	}
	k := c.For(t)
	return t.AcceptedAt.IsZero() && now.Sub(t.CreatedAt) > k.FirstResponse, now.Sub(t.CreatedAt) > k.Done
}

// IsLate reports whether either clock ran out.
func (c Clocks) IsLate(t *Ticket, now time.Time) bool {
	a, b := c.Late(t, now)
	return a || b
}

// ClockTx is a transaction that can claim tickets whose clocks are due.
type ClockTx interface {
	// DueTickets locks and returns up to limit open tickets whose NextDue
	// is at or before now, earliest first, skipping tickets other
	// transactions hold.
	DueTickets(ctx context.Context, now time.Time, limit int) ([]Ticket, error)
	// ClaimDigest records that the digest of day ("2026-11-27") is sent;
	// false if it already was.
	ClaimDigest(ctx context.Context, day string) (bool, error)
}

// The clock actions, by the mark each leaves on a ticket.
const (
	markRemindFirst  = "remind_first"
	markBackups      = "escalate_backup"
	markSupervisors  = "escalate_supervisors"
	markLateFirst    = "late_first"
	markResend       = "urgent_resend" // the last re-send; repeats
	markRemindDone   = "remind_done"
	markLateDone     = "late_done"
	markDoneEscalate = "escalate_done"
)

// action is one clock action due on a ticket.
type action struct {
	mark string
	at   time.Time
}

// due lists the actions still to take on t, in no order.
func (c Clocks) due(t *Ticket) []action {
	if !t.Open() {
		return nil
	}
	k := c.For(t)
	var as []action
	add := func(mark string, at time.Time, when bool) {
		if _, done := t.Marks[mark]; when && !done {
			as = append(as, action{mark, at})
		}
	}
	waiting := t.AcceptedAt.IsZero()
	deadline := t.CreatedAt.Add(k.FirstResponse)
	add(markRemindFirst, deadline.Add(-k.RemindFirst), waiting && k.RemindFirst > 0 && k.RemindFirst < k.FirstResponse)
	add(markBackups, deadline, waiting && k.Resend == 0) // with re-sends, everyone hears anyway
	add(markLateFirst, deadline, waiting)
	add(markSupervisors, deadline.Add(k.EscalateAfter), waiting)
	if waiting && k.Resend > 0 {
		last, ok := t.Marks[markResend]
		if !ok {
			last = t.CreatedAt
		}
		as = append(as, action{markResend, last.Add(k.Resend)})
	}
	done := t.CreatedAt.Add(k.Done)
	add(markRemindDone, done.Add(-k.RemindDone), k.RemindDone > 0 && k.RemindDone < k.Done)
	add(markLateDone, done, true)
	add(markDoneEscalate, done, true)
	return as
}

// NextDue is when the next clock action on t falls due; zero when none.
func (c Clocks) NextDue(t *Ticket) time.Time {
	var next time.Time
	for _, a := range c.due(t) {
		if next.IsZero() || a.at.Before(next) {
			next = a.at
		}
	}
	return next
}

// clockBatch is how many tickets one clock transaction takes.
const clockBatch = 50

// RunClocks acts on every ticket whose clock is due: reminders, escalations
// and late marks, each sent once and recorded as an event, in transactions
// of a few tickets that lock them (a second replica skips them); then the
// daily digest, once a day across replicas. A crash mid-run loses nothing
// and sends nothing twice: what was not committed is done by the next run.
// It returns how many tickets it acted on.
func (s *Service) RunClocks(ctx context.Context) (int, error) {
	n := 0
	for {
		acted, more, err := s.clockBatch(ctx)
		n += acted
		if err != nil {
			return n, err
		}
		if !more {
			break
		}
	}
	return n, s.digest(ctx)
}

func (s *Service) clockBatch(ctx context.Context) (acted int, more bool, err error) {
	s.live.RLock()
	defer s.live.RUnlock()
	now := s.cfg.Now()
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return 0, false, err
	}
	defer func() {
		if err != nil {
			tx.Rollback(ctx)
		}
	}()
	ctx2, ok := tx.(ClockTx)
	if !ok {
		return 0, false, E("run clocks", Other, fmt.Errorf("store has no clocks"))
	}
	ts, err := ctx2.DueTickets(ctx, now, clockBatch)
	if err != nil {
		return 0, false, err
	}
	var ch Changes
	for i := range ts {
		t := &ts[i]
		s.clockActions(t, now, &ch)
		t.NextDue = s.cfg.Clocks.NextDue(t)
		t.UpdatedAt = now
		ch.Updates = append(ch.Updates, *t)
	}
	if len(ts) == 0 {
		return 0, false, tx.Commit(ctx)
	}
	if err = tx.Apply(ctx, &ch, now.Add(s.cfg.Claim)); err != nil {
		return 0, false, err
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, false, err
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Enqueue(ch.Outbox)
	}
	return len(ts), len(ts) == clockBatch, nil
}

// clockActions takes the actions due on t at now.
func (s *Service) clockActions(t *Ticket, now time.Time, ch *Changes) {
	if t.Marks == nil {
		t.Marks = map[string]time.Time{}
	}
	k := s.cfg.Clocks.For(t)
	send := func(to Officer, body string) {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: to.NotifyChannel(), To: to.Phone, Body: body,
			Purpose: PurposeNotify, TicketCode: t.Code, CreatedAt: now})
	}
	event := func(typ, detail string) {
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "system", Type: typ, Detail: detail})
	}
	handlers := s.handlers(t)
	deadline := t.CreatedAt.Add(k.FirstResponse).In(WITA).Format("15:04")
	for _, a := range s.cfg.Clocks.due(t) {
		if a.at.After(now) {
			continue
		}
		switch a.mark {
		case markRemindFirst:
			for _, o := range handlers {
				send(o, "Pengingat: "+t.Code+" belum diterima; batas pukul "+deadline+". Balas TERIMA "+t.Code+".")
			}
			event("reminder", "first_response")
		case markBackups:
			targets := s.backups(t)
			for _, o := range targets {
				send(o, t.Code+" belum diterima setelah "+dur(k.FirstResponse)+". Mohon balas TERIMA "+t.Code+".")
			}
			event("escalated", "first_response: backups "+names(targets))
		case markLateFirst:
			event("late", "first_response")
		case markSupervisors:
			for _, o := range s.staff.Supervisors() {
				send(o, t.Code+" belum diterima petugas setelah "+dur(now.Sub(t.CreatedAt))+". Petugas: "+
					s.staff.Name(t.Assignee)+". STATUS "+t.Code+".")
			}
			event("escalated", "first_response: supervisors")
		case markResend:
			for _, o := range s.staff.All() {
				send(o, UrgentMark+t.Code+" belum diterima ("+age(now.Sub(t.CreatedAt))+"). Balas TERIMA "+t.Code+".")
			}
			event("escalated", "urgent_resend")
		case markRemindDone:
			for _, o := range handlers {
				send(o, "Pengingat: "+t.Code+" harus selesai paling lambat "+
					t.CreatedAt.Add(k.Done).In(WITA).Format("02/01 15:04")+". SELESAI "+t.Code+" bila sudah.")
			}
			event("reminder", "done")
		case markLateDone:
			event("late", "done")
		case markDoneEscalate:
			for _, o := range s.staff.Supervisors() {
				send(o, t.Code+" melewati batas "+dur(k.Done)+" dan belum selesai. Petugas: "+s.staff.Name(t.Assignee)+".")
			}
			event("escalated", "done: supervisors")
		}
		t.Marks[a.mark] = now
	}
}

// handlers are who a reminder goes to: the assignee, or every officer the
// ticket was offered to when nobody has it.
func (s *Service) handlers(t *Ticket) []Officer {
	if o, ok := s.staff.ByPhone(t.Assignee); ok {
		return []Officer{o}
	}
	if t.StaffComplaint() {
		return s.staff.Supervisors()
	}
	return s.staff.Officers()
}

// backups are who an unaccepted ticket escalates to first: its backups, or
// every other officer when it had none.
func (s *Service) backups(t *Ticket) []Officer {
	var out []Officer
	for _, p := range t.Backups {
		if o, ok := s.staff.ByPhone(p); ok {
			out = append(out, o)
		}
	}
	if len(out) > 0 {
		return out
	}
	others := s.staff.Officers()
	if t.StaffComplaint() {
		others = s.staff.Supervisors()
	}
	for _, o := range others {
		if o.Phone != t.Assignee {
			out = append(out, o)
		}
	}
	return out
}

func names(os []Officer) string {
	n := make([]string, len(os))
	for i, o := range os {
		n[i] = o.Name
	}
	return strings.Join(n, ", ")
}

// dur says a duration in Indonesian: 30 menit, 7 hari, 2 jam.
func dur(d time.Duration) string {
	switch {
	case d >= 24*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d hari", int(d/(24*time.Hour)))
	case d >= time.Hour:
		return fmt.Sprintf("%d jam", int(d.Hours()))
	}
	return fmt.Sprintf("%d menit", int(d.Minutes()))
}

// digest sends the supervisors the daily digest once the day's time for it
// has come: new in the last day, open, late, done in the last day. The day
// is claimed in the same transaction as the messages, so exactly one
// replica sends it.
func (s *Service) digest(ctx context.Context) error {
	s.live.RLock()
	defer s.live.RUnlock()
	if s.cfg.Clocks.DigestAt < 0 || len(s.staff.Supervisors()) == 0 {
		return nil
	}
	now := s.cfg.Now()
	local := now.In(WITA)
	midnight := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, WITA)
	if local.Before(midnight.Add(s.cfg.Clocks.DigestAt)) {
		return nil
	}
	n, err := s.count(ctx, now.Add(-24*time.Hour), now)
	if err != nil {
		return err
	}
	body := fmt.Sprintf("Ringkasan %s: baru %d, terbuka %d, terlambat %d, selesai %d (24 jam terakhir). TERLAMBAT untuk rincian.",
		local.Format("02/01"), len(n.created), len(n.open), n.late, n.done)
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return err
	}
	ct, ok := tx.(ClockTx)
	if !ok {
		tx.Rollback(ctx)
		return nil
	}
	first, err := ct.ClaimDigest(ctx, local.Format("2006-01-02"))
	if err != nil || !first {
		tx.Rollback(ctx)
		return err
	}
	var ch Changes
	for _, o := range s.staff.Supervisors() {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Body: body,
			Purpose: PurposeNotify, CreatedAt: now})
	}
	if err := tx.Apply(ctx, &ch, now.Add(s.cfg.Claim)); err != nil {
		tx.Rollback(ctx)
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Enqueue(ch.Outbox)
	}
	return nil
}

// RunClockLoop runs the clocks every interval (the first time one interval
// after it starts) until ctx is done, logging
// failures; the next run picks up whatever a failed one left.
func (s *Service) RunClockLoop(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.RunClocks(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("run clocks", "err", err)
		}
	}
}

// NotifyFailed tells the supervisors that a notification to an officer
// could not be delivered, by another channel than the one that failed
// where there is one, so that the ticket is not left with nobody. Meant
// for DispatcherConfig.GaveUp; it writes the alert to the outbox itself.
func (s *Service) NotifyFailed(m Outbound, reason string) {
	if m.Purpose != PurposeNotify && m.Purpose != PurposeRelay {
		return
	}
	s.live.RLock()
	defer s.live.RUnlock()
	now := s.cfg.Now()
	var ch Changes
	for _, o := range s.staff.Supervisors() {
		if o.Phone == m.To {
			continue
		}
		c := o.NotifyChannel()
		if c == m.Channel {
			c = map[Channel]Channel{SMS: WhatsApp, WhatsApp: SMS}[c]
		}
		if s.cfg.Outbox != nil && !s.cfg.Outbox.CanSend(c) {
			c = o.NotifyChannel()
		}
		body := "Pesan untuk " + s.staff.Name(m.To) + " gagal terkirim"
		if m.TicketCode != "" {
			body += " (" + m.TicketCode + "). STATUS " + m.TicketCode + " untuk memeriksa."
		} else {
			body += "."
		}
		ch.Outbox = append(ch.Outbox, Outbound{Channel: c, To: o.Phone, Body: body, Purpose: PurposeAlert,
			TicketCode: m.TicketCode, CreatedAt: now})
	}
	if m.TicketCode != "" {
		ch.Events = append(ch.Events, Event{TicketCode: m.TicketCode, At: now, Actor: "system", Type: "undelivered",
			Detail: "to " + s.staff.Name(m.To)})
	}
	if ch.Empty() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tx, err := s.cfg.Store.Begin(ctx)
	if err == nil {
		if err = tx.Apply(ctx, &ch, now.Add(s.cfg.Claim)); err == nil {
			err = tx.Commit(ctx)
		}
		if err != nil {
			tx.Rollback(ctx)
		}
	}
	if err != nil {
		s.cfg.Logger.Error("tell supervisors of a failed notification", "err", err, "outbox_id", m.ID)
		return
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Enqueue(ch.Outbox)
	}
}
