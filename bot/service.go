package bot

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"time"

	"aduan/dialog"
)

// Config holds what a Service needs. Only cmd builds it.
type Config struct {
	Store         Store
	Conversations Conversations
	Book          *dialog.Book
	Officers      []Officer
	Outbox        *Dispatcher
	Now           func() time.Time
	Logger        *slog.Logger
	Observer      Observer // default NopObserver

	Clocks Clocks // the service standard's clocks; zero means DefaultClocks
	Limits Limits // abuse limits; zero means none
	// SupervisorPIN, when set, must end the supervisors' summary commands.
	SupervisorPIN string
	Counter       Counter // counts for the limits (store/redis); nil means no limits
	// Wiper, when set, is asked to clear a person's chat after HAPUS; it
	// must not block (it runs after the batch, in the background).
	Wiper func(ch Channel, addr string)
	// SendFiles says officers writing on WhatsApp can be sent a ticket's
	// files (LAMPIRAN): the WhatsApp channel is the linked device, not
	// Twilio's sender, which cannot upload them.
	SendFiles bool

	Shards   int           // independent batch workers; default GOMAXPROCS, at least 2
	Window   time.Duration // how long a batch of fewer than 4 messages waits for more; default 500µs, negative: not at all
	MaxBatch int           // most messages handled in one transaction; default 128
	Claim    time.Duration // how long a freshly written outbox message is reserved for this process; default 30s
}

// Service is the pipeline: inbound message -> dedupe -> conversation state
// -> dialog step -> effects (replies, tickets, notifications), written in
// one transaction with the outbox, then handed to the Dispatcher.
//
// Messages are handled in batches, one batch per shard at a time; a
// sender's messages always go to the same shard, in arrival order, and a
// lease on the conversation keeps other replicas from handling the same
// sender at the same time.
type Service struct {
	// live guards what Reload changes in cfg (officers, flows, clocks,
	// limits, PIN) and staff: a batch, a clock run, a digest and a failed
	// notification each read them under one read lock.
	live   sync.RWMutex
	cfg    Config
	staff  *Directory
	seed   maphash.Seed
	shards []chan *request

	rr     sync.Mutex // round-robin position
	rrLast string

	mu      sync.RWMutex
	running bool
	wg      sync.WaitGroup
}

type request struct {
	ctx   context.Context
	m     Inbound
	dup   bool // found to be a redelivery
	pause bool // the sender just went over their limit: tell them to wait
	drop  bool // the sender is over their limit: record the message, do nothing
	done  chan error
}

// NewService returns a Service. Run must be running for Handle to work.
func NewService(cfg Config) *Service {
	if cfg.Shards <= 0 {
		// Few shards make big batches: one commit for many messages.
		cfg.Shards = max(2, runtime.GOMAXPROCS(0))
	}
	if cfg.Window == 0 {
		// Measured at 1,000 msgs/s: 500µs takes the webhook p99 from 13 to
		// 11 ms; 1ms makes it worse (docs/BENCHMARKS.md).
		cfg.Window = 500 * time.Microsecond
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 128
	}
	if cfg.Claim <= 0 {
		cfg.Claim = 30 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = NopObserver{}
	}
	if cfg.Clocks == (Clocks{}) {
		cfg.Clocks = DefaultClocks
	}
	s := &Service{cfg: cfg, seed: maphash.MakeSeed(), staff: newStaff(cfg.Officers, cfg.Book)}
	s.shards = make([]chan *request, cfg.Shards)
	for i := range s.shards {
		s.shards[i] = make(chan *request, 4*cfg.MaxBatch)
	}
	return s
}

// newStaff is the directory of officers, routing tickets stored under a
// former kecamatan name as the new one (the book's gazetteer knows both).
func newStaff(officers []Officer, book *dialog.Book) *Directory {
	d := NewDirectory(officers)
	if book != nil {
		d.Canonical = book.CanonicalKecamatan
	}
	return d
}

// ErrStopped is returned by Handle when the service is not running.
var ErrStopped = E("handle", Unavailable, errors.New("service is not running"))

// Handle processes one inbound message and returns once its effects are
// durably stored (or it was found to be a duplicate). An error means
// nothing of it was stored: the caller should make the provider retry.
func (s *Service) Handle(ctx context.Context, m Inbound) error {
	s.mu.RLock()
	if !s.running {
		s.mu.RUnlock()
		return ErrStopped
	}
	r := &request{ctx: ctx, m: m, done: make(chan error, 1)}
	s.shards[maphash.String(s.seed, m.Key())%uint64(len(s.shards))] <- r
	s.mu.RUnlock()
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run handles messages until ctx is done, then stops taking new ones,
// finishes those already taken and returns.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	s.running = true
	s.mu.Unlock()
	for _, ch := range s.shards {
		s.wg.Add(1)
		go s.shard(ch)
	}
	<-ctx.Done()
	s.mu.Lock()
	s.running = false
	for _, ch := range s.shards {
		close(ch)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// shard handles the messages of one shard in batches until ch is closed.
// It uses a context of its own so that messages already taken are
// finished after shutdown begins.
func (s *Service) shard(ch chan *request) {
	defer s.wg.Done()
	ctx := context.Background()
	var (
		batch    []*request
		deferred []*request
		retry    = time.NewTimer(time.Hour)
		window   = time.NewTimer(time.Hour)
	)
	retry.Stop()
	window.Stop()
	open := true
	for open || len(deferred) > 0 {
		batch = append(batch[:0], deferred...)
		deferred = deferred[:0]
		if len(batch) == 0 {
			r, ok := <-ch
			if !ok {
				return
			}
			batch = append(batch, r)
		} else if open {
			// Only deferred work: wait a moment for the other holder, or
			// for new work, whichever comes first.
			retry.Reset(2 * time.Millisecond)
			select {
			case r, ok := <-ch:
				if ok {
					batch = append(batch, r)
				} else {
					open = false
				}
				retry.Stop()
			case <-retry.C:
			}
		} else {
			time.Sleep(2 * time.Millisecond)
		}
	fill:
		for open && len(batch) < s.cfg.MaxBatch {
			select {
			case r, ok := <-ch:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if open && len(batch) < 4 && s.cfg.Window > 0 {
			// A lone message waits a moment for company: one commit for several.
			window.Reset(s.cfg.Window)
		gather:
			for len(batch) < s.cfg.MaxBatch {
				select {
				case r, ok := <-ch:
					if !ok {
						open = false
						break gather
					}
					batch = append(batch, r)
				case <-window.C:
					break gather
				}
			}
			window.Stop()
		}
		deferred = s.process(ctx, batch, deferred)
	}
}

// conv is one conversation's part of a batch.
type conv struct {
	key     string
	reqs    []*request
	lease   *Lease
	state   dialog.State
	end     bool
	officer bool // an officer's or supervisor's commands: no conversation state

	cp       int   // its place in the batch's checkpoints, or -1 (officers)
	version  int64 // the version of state: the store's checkpoint's, else the lease's
	stored   int64 // the store's version, 0 if it has none
	restored bool  // state is the store's, not the lease's: Redis is to be told
	lost     bool  // the conversation's state is gone: say so at its next step
	stepped  bool  // a message moved the conversation: checkpoint it
	save     []byte
	saved    int    // its place in the batch's Changes.Checkpoints, or -1
	sealed   []byte // save as the store sealed it
}

// process handles one batch and returns, appended to deferred, the
// requests whose conversation is held elsewhere for now.
func (s *Service) process(ctx context.Context, batch []*request, deferred []*request) []*request {
	s.live.RLock()
	defer s.live.RUnlock()
	batch = s.limit(ctx, batch)
	convs := make([]*conv, 0, len(batch))
	byKey := make(map[string]*conv, len(batch))
	for _, r := range batch {
		if r.ctx.Err() != nil { // the caller gave up: the provider will retry
			r.done <- r.ctx.Err()
			continue
		}
		k := r.m.Key()
		c := byKey[k]
		if c == nil {
			c = &conv{key: k}
			byKey[k] = c
			convs = append(convs, c)
		}
		c.reqs = append(c.reqs, r)
	}
	if len(convs) == 0 {
		return deferred
	}
	leases := make([]Lease, len(convs))
	for i, c := range convs {
		leases[i].Key = c.key
		c.lease = &leases[i]
	}
	if err := s.cfg.Conversations.Acquire(ctx, leases); err != nil {
		s.cfg.Observer.DependencyError("redis")
		s.cfg.Logger.Error("acquire conversations", "err", err, "sids", sidsOf(convs))
		for _, c := range convs {
			for _, r := range c.reqs {
				s.cfg.Observer.Inbound(r.m.Channel, "error")
			}
		}
		s.fail(convs, E("acquire conversations", Unavailable, err))
		return deferred
	}
	held := convs[:0]
	for _, c := range convs {
		if c.lease.Held {
			held = append(held, c)
			continue
		}
		if time.Since(c.reqs[0].m.Received) > 30*time.Second {
			for _, r := range c.reqs {
				r.done <- E("handle", Temporary, errors.New("conversation busy"))
			}
			continue
		}
		deferred = append(deferred, c.reqs...)
	}
	if len(held) == 0 {
		return deferred
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		err = s.apply(ctx, held, attempt > 0)
		if KindOf(err) != Conflict {
			break
		}
	}
	release := leases[:0:0]
	for _, c := range held {
		l := *c.lease
		if err == nil && !c.officer && (c.stepped || c.restored) {
			// The committed checkpoint, copied: if this write is lost, the
			// next batch finds the store's version ahead and reads it.
			l.Version = c.version
			if c.end || c.save == nil {
				l.Delete = true
			} else {
				l.Save, l.Sealed = c.save, c.sealed
			}
		}
		release = append(release, l)
	}
	if rErr := s.cfg.Conversations.Release(ctx, release); rErr != nil {
		s.cfg.Observer.DependencyError("redis")
		s.cfg.Logger.Warn("release conversations", "err", rErr, "conversations", len(release))
	}
	if err != nil {
		s.cfg.Observer.DependencyError("postgres")
		s.cfg.Logger.Error("handle batch", "err", err, "messages", len(batch), "sids", sidsOf(held))
		for _, c := range held {
			for _, r := range c.reqs {
				s.cfg.Observer.Inbound(r.m.Channel, "error")
			}
		}
		s.fail(held, err)
		return deferred
	}
	oldest := time.Time{}
	n := 0
	for _, c := range held {
		for _, r := range c.reqs {
			result := "ok"
			if r.dup {
				result = "duplicate"
			}
			s.cfg.Observer.Inbound(r.m.Channel, result)
			if oldest.IsZero() || r.m.Received.Before(oldest) {
				oldest = r.m.Received
			}
			n++
			r.done <- nil
		}
	}
	if !oldest.IsZero() {
		s.cfg.Observer.Batch(n, s.cfg.Now().Sub(oldest))
	}
	return deferred
}

func (s *Service) fail(cs []*conv, err error) {
	for _, c := range cs {
		for _, r := range c.reqs {
			r.done <- err
		}
	}
}

// apply runs the dialog for every held conversation and writes the result
// in one transaction. On success the new outbox messages are handed to the
// dispatcher.
func (s *Service) apply(ctx context.Context, cs []*conv, retry bool) (err error) {
	tx, err := s.cfg.Store.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback(ctx)
		}
	}()
	var ids []MessageID
	for _, c := range cs {
		for _, r := range c.reqs {
			ids = append(ids, MessageID{r.m.Channel, r.m.ExternalID})
		}
	}
	cps := make([]Checkpoint, 0, len(cs))
	for _, c := range cs {
		c.cp = -1
		if _, staff := s.staff.ByPhone(c.reqs[0].m.From); staff {
			continue // commands keep no state
		}
		c.cp = len(cps)
		v := c.lease.Version
		if c.lease.Lost {
			v = -1 // no version matches: the store sends its state
		}
		cps = append(cps, Checkpoint{Key: c.key, Version: v})
	}
	dup, err := tx.Resume(ctx, ids, cps)
	if err != nil {
		return err
	}
	now := s.cfg.Now()
	var ch Changes
	var lookups []lookup
	w := &work{tx: tx, retry: retry}
	var rest []string  // senders with no report under way: what they write may be for a ticket they filed
	var early []string // urgent tickets of reports under way: their answers go to them
	for _, c := range cs {
		s.resume(c, cps)
		if c.cp >= 0 && s.cfg.Book.AtRest(&c.state) {
			rest = append(rest, c.reqs[0].m.From)
		}
		if c.cp >= 0 && c.state.Ticket != "" {
			early = append(early, c.state.Ticket)
		}
	}
	if err := w.prefetch(ctx, early); err != nil {
		return err
	}
	rs, err := s.newReporters(ctx, rest, now)
	if err != nil {
		return err
	}
	s.limitSenders(ctx, cs, dup, rs)
	i := 0
	for _, c := range cs {
		for _, r := range c.reqs {
			r.dup = dup[i]
			if dup[i] {
				i++
				continue
			}
			i++
			if r.drop {
				continue
			}
			if r.pause {
				ch.Outbox = append(ch.Outbox, Outbound{Channel: r.m.Channel, To: r.m.From, Purpose: PurposeReply,
					Body: s.cfg.Book.Text("rate_limited", c.state.Lang), CreatedAt: now})
				continue
			}
			if o, ok := s.staff.ByPhone(r.m.From); ok {
				c.officer = true
				if err := s.officerMessage(ctx, w, o, r.m, now, &ch); err != nil {
					return err
				}
				continue
			}
			var ts []Ticket
			if c.end || s.cfg.Book.AtRest(&c.state) {
				if ts, err = rs.of(ctx, r.m.From); err != nil {
					return err
				}
				if len(ts) > 0 {
					done, err := s.afterFiling(ctx, w, c, r.m, ts, now, &ch)
					if err != nil {
						return err
					}
					if done {
						continue
					}
				}
			}
			opened := len(ch.Tickets)
			l, err := s.step(ctx, w, c, r.m, ts, now, &ch)
			if err != nil {
				return err
			}
			rs.opened(ch.Tickets[opened:])
			if l.code != "" {
				lookups = append(lookups, l)
			}
		}
	}
	w.flush(&ch, s.cfg.Clocks)
	if err := s.checkpoint(cs, &ch); err != nil {
		return err
	}
	if ch.Empty() {
		if err := tx.Commit(ctx); err != nil {
			return err
		}
	} else {
		if err := tx.Apply(ctx, &ch, now.Add(s.cfg.Claim)); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return err
		}
		for _, c := range cs {
			if c.saved >= 0 && c.saved < len(ch.Checkpoints) {
				c.sealed = ch.Checkpoints[c.saved].Sealed
			}
		}
		for _, t := range ch.Tickets {
			s.cfg.Observer.TicketOpened(t.Kind, t.Urgent)
		}
		logTickets(s.cfg.Logger, &ch)
		if s.cfg.Outbox != nil {
			s.cfg.Outbox.Enqueue(ch.Outbox)
		}
	}
	if len(lookups) > 0 {
		s.answerLookups(ctx, lookups, now)
	}
	return nil
}

// lookup is a citizen's question about a ticket's status.
type lookup struct {
	m     Inbound
	code  string // as typed
	lang  dialog.Lang
	after []string // said after the answer: the question under way, again
}

// answerLookups answers status questions once the batch that asked them is
// stored: a ticket is described only to the number that filed it; anyone
// else hears that the code was not found for their number, whether or not
// it exists. A crash before this is written loses only the answer, which
// the person can ask for again.
func (s *Service) answerLookups(ctx context.Context, ls []lookup, now time.Time) {
	var ch Changes
	for _, l := range ls {
		body := s.cfg.Book.Text(dialog.TextStatusNone, l.lang)
		if !s.lookupAllowed(ctx, l.m.From) {
			body = s.cfg.Book.Text("lookups_limited", l.lang)
		} else if code := NormalizeCode(l.code); code != "" {
			t, err := s.cfg.Store.Ticket(ctx, code)
			switch {
			case err == nil && sameContact(t.Reporter, l.m.From):
				lang := l.lang
				if lang == "" {
					lang = dialog.Lang(t.Answers["lang"]) // the language the report was made in
				}
				text := dialog.TextStatus
				if len(l.after) > 0 {
					text = dialog.TextStatusShort // a report is under way: its question follows
				}
				body = strings.NewReplacer("{code}", t.Code,
					"{status}", s.cfg.Book.StatusText(string(t.Status), lang)).Replace(
					s.cfg.Book.Text(text, lang))
			case err != nil && KindOf(err) != NotFound:
				s.cfg.Logger.Warn("status lookup", "err", err)
			}
		}
		ch.Outbox = append(ch.Outbox, Outbound{Channel: l.m.Channel, To: l.m.From, Body: body,
			Purpose: PurposeReply, CreatedAt: now})
		for _, a := range l.after {
			ch.Outbox = append(ch.Outbox, Outbound{Channel: l.m.Channel, To: l.m.From, Body: a,
				Purpose: PurposeReply, CreatedAt: now})
		}
	}
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
		s.cfg.Logger.Error("answer status lookups", "err", err, "lookups", len(ls))
		return
	}
	if s.cfg.Outbox != nil {
		s.cfg.Outbox.Enqueue(ch.Outbox)
	}
}

// sameContact reports whether two addresses are the same person: the same
// phone number, whichever channel it wrote from.
func sameContact(a, b string) bool { return a != "" && a == b }

// step runs one message through the dialog and records its effects. ts
// are the sender's live tickets when they were looked up (the sender was at
// rest), else nil. It returns the ticket status the person asked about, if
// any (code "" if none).
func (s *Service) step(ctx context.Context, w *work, c *conv, m Inbound, ts []Ticket, now time.Time, ch *Changes) (l lookup, err error) {
	if c.end { // the conversation ended earlier in this batch: a new one begins
		c.state = dialog.State{}
		c.end = false
	}
	// Writing again, on purpose, undoes a STOP: a message that is not
	// itself STOP or HAPUS, to a new conversation or one STOP paused.
	again := s.cfg.Book.AtRest(&c.state) || c.state.Stopped
	in := dialog.Input{Text: m.Text, Media: m.Media, Kept: len(m.Files), Lost: c.lost, Filed: newestOpen(ts),
		Wipes: s.cfg.Wiper != nil && m.Channel == WhatsApp}
	for _, f := range m.Files {
		in.Location = in.Location || f.Kind == FileLocation
	}
	c.lost, c.stepped = false, true
	report := c.state.Report
	early := c.state.Ticket
	var before []dialog.Answer
	if early != "" {
		before = dialog.Shown(c.state.Answers)
	}
	res := s.cfg.Book.Handle(&c.state, in, now)
	for _, text := range res.Replies {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From, Body: text,
			Purpose: PurposeReply, CreatedAt: now})
	}
	code := c.state.Ticket // the ticket the message's files go with, if filed
	switch {
	case res.Withdraw != "":
		if err = s.withdraw(ctx, w, res.Withdraw, now, ch); err != nil {
			return lookup{}, err
		}
		code = res.Withdraw
	case res.Submit != nil && res.Submit.Ticket != "":
		if code, err = s.complete(ctx, w, res.Submit, m, now, ch); err != nil {
			return lookup{}, err
		}
		c.state.Report = ""
	case res.Submit != nil:
		if code, err = s.openOnce(ctx, w, submission(c.key, report, "report"), c.stored > 0, res.Submit, m, now, ch); err != nil {
			return lookup{}, err
		}
		c.state.Report = ""
	case res.Urgent && c.state.Ticket == "" && !res.End:
		// Words of danger before any report is filed: open an urgent
		// ticket now, with what is known; the report completes it later.
		if c.state.Report == "" {
			c.state.Report = newReport()
		}
		sub := &dialog.Submission{Kind: string(KindCase), Answers: dialog.Shown(c.state.Answers), Urgent: true, Lang: c.state.Lang,
			Files: c.state.Files}
		if c.state.Ticket, err = s.openOnce(ctx, w, submission(c.key, c.state.Report, "danger"), c.stored > 0, sub, m, now, ch); err != nil {
			return lookup{}, err
		}
		code = c.state.Ticket
	case early != "" && c.state.Ticket == early:
		// The report goes on after its urgent ticket was opened: what it
		// adds goes to the ticket at once.
		if err = s.merge(ctx, w, early, before, c.state, now, ch); err != nil {
			return lookup{}, err
		}
	}
	if c.state.Report == "" && c.state.Step != "" && !res.End {
		c.state.Report = newReport()
	}
	keep(m, code, now, ch)
	switch {
	case res.OptOut:
		ch.OptOuts = append(ch.OptOuts, OptOut{Address: m.From, Out: true, At: now})
		if ts == nil {
			live, err := s.liveTickets(ctx, []string{m.From}, now)
			if err != nil {
				return lookup{}, err
			}
			ts = live[m.From]
		}
		s.stopped(ts, m, now, ch)
	case again && !res.Wipe && (dialog.Clean(m.Text) != "" || len(m.Files) > 0):
		ch.OptOuts = append(ch.OptOuts, OptOut{Address: m.From, Out: false, At: now})
	}
	if res.Wipe {
		s.wipe(ctx, m)
	}
	if res.End {
		c.end = true
	}
	return lookup{m: m, code: res.Lookup, lang: c.state.Lang, after: res.After}, nil
}

// openOnce opens a ticket for the submission identified by id, as open
// does, unless one was opened for it already (its filing is replayed):
// then it only answers the reporter with that ticket's code. It returns
// the ticket's code.
//
// A conversation whose state is the store's checkpoint (current: it
// checkpointed) cannot be replaying a filing, so the look-up, a round
// trip, is left out for it, except when the batch is tried again after a
// Conflict; the store still refuses a second ticket for a submission.
func (s *Service) openOnce(ctx context.Context, w *work, id string, current bool, sub *dialog.Submission, m Inbound, now time.Time, ch *Changes) (string, error) {
	var code string
	if !current || w.retry {
		var err error
		if code, err = w.filed(ctx, id); err != nil {
			return "", err
		}
	}
	if code == "" {
		return s.open(id, sub, m, now, ch), nil
	}
	if sub.Done != "" {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From,
			Body: strings.Replace(sub.Done, "{code}", code, 1), Purpose: PurposeReply,
			TicketCode: code, CreatedAt: now})
	}
	return code, nil
}

// open creates a ticket from a report, routes it, answers the reporter
// with its code (when the report is complete) and notifies the officers.
// id identifies the submission ("" for none). It returns the ticket's code.
func (s *Service) open(id string, sub *dialog.Submission, m Inbound, now time.Time, ch *Changes) string {
	answers := make(map[string]string, len(sub.Answers)+1)
	for _, a := range sub.Answers {
		answers[a.Field] = a.Value
	}
	if sub.Lang != "" && sub.Lang != dialog.Indonesian {
		answers["lang"] = string(sub.Lang)
	}
	t := Ticket{
		Code:      NewCode(Kind(sub.Kind)),
		Kind:      Kind(sub.Kind),
		Status:    StatusReceived,
		Urgent:    sub.Urgent,
		Kecamatan: answers["kecamatan"],
		Answers:   answers,
		Channel:   m.Channel,
		Reporter:  m.From,
		CreatedAt: now,
		UpdatedAt: now,

		Submission: id,
	}
	route := s.staff.Route(&t, now, s.lastAssignee())
	t.Assignee = route.Assignee.Phone
	if t.Assignee != "" && !t.StaffComplaint() {
		s.setLastAssignee(t.Assignee)
	}
	t.Backups = phones(route.Backups)
	t.NextDue = s.cfg.Clocks.NextDue(&t)
	detail := fmt.Sprintf("kind=%s channel=%s urgent=%t", t.Kind, t.Channel, t.Urgent)
	if sub.Done == "" {
		detail += " partial=danger-words"
	}
	ch.Tickets = append(ch.Tickets, t)
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "created", Detail: detail})
	if sub.Done != "" {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From,
			Body: strings.Replace(sub.Done, "{code}", t.Code, 1), Purpose: PurposeReply,
			TicketCode: t.Code, CreatedAt: now})
	}
	// Files sent before the report was filed go with it.
	ch.Links = append(ch.Links, AttachmentLink{TicketCode: t.Code, Channel: m.Channel, Sender: m.From,
		Since: now.Add(-AttachmentWindow)})
	note := Notification(t, s.cfg.Book)
	if sub.Files > 0 {
		note += fmt.Sprintf(" Lampiran: %d.", sub.Files)
	}
	var told []string
	notify := func(o Officer, tail string) {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: o.NotifyChannel(), To: o.Phone, Body: note + tail,
			Purpose: PurposeNotify, TicketCode: t.Code, CreatedAt: now})
		told = append(told, o.Name)
	}
	accept := "balas TERIMA " + t.Code
	if route.Assignee.Phone != "" {
		notify(route.Assignee, " Anda petugas utama; "+accept+".")
	}
	for _, o := range route.Backups {
		notify(o, " Cadangan; "+accept+" bila mengambil.")
	}
	for _, o := range route.Others {
		notify(o, " Mohon "+accept+".")
	}
	detail = "officers: " + strings.Join(told, ", ")
	if t.Assignee != "" {
		detail = "assigned: " + route.Assignee.Name + "; " + detail
	}
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "system", Type: "notified", Detail: detail})
	return t.Code
}

// complete fills in a ticket opened early (on words of danger) with the
// finished report, and answers the reporter with its code. It returns the
// ticket's code: a new one if the ticket was erased meanwhile.
func (s *Service) complete(ctx context.Context, w *work, sub *dialog.Submission, m Inbound, now time.Time, ch *Changes) (string, error) {
	t, err := s.early(ctx, w, sub.Ticket, now, ch)
	if KindOf(err) == NotFound {
		return s.open("", sub, m, now, ch), nil // erased meanwhile: file it anew
	} else if err != nil {
		return "", err
	}
	if t.Answers == nil {
		t.Answers = make(map[string]string, len(sub.Answers)+1)
	}
	for _, a := range sub.Answers {
		t.Answers[a.Field] = a.Value
	}
	if sub.Lang != "" && sub.Lang != dialog.Indonesian {
		t.Answers["lang"] = string(sub.Lang)
	}
	t.Kind = Kind(sub.Kind)
	t.Kecamatan = t.Answers["kecamatan"]
	t.Urgent = true
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: "citizen", Type: "completed"})
	ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From,
		Body: strings.Replace(sub.Done, "{code}", t.Code, 1), Purpose: PurposeReply, TicketCode: t.Code, CreatedAt: now})
	if t.Assignee != "" {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: s.staff.channelOf(t.Assignee), To: t.Assignee, Purpose: PurposeNotify, TicketCode: t.Code,
			Body: t.Code + " dilengkapi pelapor. INFO " + t.Code + " untuk rincian.", CreatedAt: now})
	}
	return t.Code, nil
}

// officerMessage handles a message from a configured officer or supervisor.
func (s *Service) officerMessage(ctx context.Context, w *work, o Officer, m Inbound, now time.Time, ch *Changes) error {
	c, ok := ParseCommand(m.Text)
	if !ok {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From, Purpose: PurposeReply, CreatedAt: now,
			Body: "Perintah tidak dikenal. Ketik BANTUAN untuk daftar perintah."})
		return nil
	}
	return s.command(ctx, w, o, c, m, now, ch)
}

// wipe asks the channel to take the service's messages off the person's
// phone, where it can (WhatsApp); SMS cannot be recalled.
func (s *Service) wipe(ctx context.Context, m Inbound) {
	if s.cfg.Wiper == nil || m.Channel != WhatsApp {
		return
	}
	s.cfg.Wiper(m.Channel, m.From)
}

func (s *Service) lastAssignee() string {
	s.rr.Lock()
	defer s.rr.Unlock()
	return s.rrLast
}

func (s *Service) setLastAssignee(p string) {
	s.rr.Lock()
	s.rrLast = p
	s.rr.Unlock()
}

// Notification is the short, discreet message that forwards a new ticket
// to an officer: its code, kind, kecamatan and whether the victim is safe.
// It carries no name and no description.
func Notification(t Ticket, book *dialog.Book) string {
	var sb strings.Builder
	if t.Urgent {
		sb.WriteString(UrgentMark)
	}
	sb.WriteString("Tiket baru ")
	sb.WriteString(t.Code)
	switch {
	case t.StaffComplaint():
		sb.WriteString(": pengaduan sikap petugas, untuk pimpinan")
	case t.Kind == KindComplaint:
		sb.WriteString(": pengaduan layanan")
	case t.Answers["request"] == "officer":
		sb.WriteString(": minta dihubungi petugas")
	default:
		sb.WriteString(": laporan kekerasan")
	}
	switch t.Kecamatan {
	case "", dialog.KecamatanUnknown:
	case dialog.KecamatanOutside:
		sb.WriteString(", di luar Matim")
	default:
		sb.WriteString(", Kec. ")
		sb.WriteString(book.KecamatanName(t.Kecamatan, dialog.Indonesian))
	}
	switch {
	case t.Answers["safe"] == "no":
		sb.WriteString(", korban TIDAK aman")
	case t.Answers["safe"] == "yes" && !t.Urgent:
		// Never "DARURAT" and "korban aman" at once: words of danger came
		// after the answer, and the officer should not be reassured.
		sb.WriteString(", korban aman")
	}
	sb.WriteString(".")
	return sb.String()
}

// Book returns the conversation flows the service runs.
func (s *Service) Book() *dialog.Book {
	s.live.RLock()
	defer s.live.RUnlock()
	return s.cfg.Book
}

// Running reports whether the service takes messages.
func (s *Service) Running() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.running
}

// sidsOf lists the provider message IDs of the conversations' messages, for
// logs: they name a message without saying anything about its sender.
func sidsOf(cs []*conv) []string {
	var out []string
	for _, c := range cs {
		for _, r := range c.reqs {
			out = append(out, r.m.ExternalID)
		}
	}
	return out
}
