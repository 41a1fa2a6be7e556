package smsgate

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// State is the gateway phone's state as aduan sees it.
type State string

const (
	StateUp      State = "up"
	StateSilent  State = "silent"  // nothing heard from it for PhoneConfig.SilentAfter
	StateFailing State = "failing" // its last sends failed (PhoneConfig.FailAfter in a row)
)

// Beacon shares when the phone was last heard from among the processes
// that serve it (replicas behind one address: a webhook reaches only one).
// cmd implements it on Redis.
type Beacon interface {
	// Mark records that the phone was heard from at t.
	Mark(ctx context.Context, t time.Time) error
	// Last returns when any process last marked it; zero if none has.
	Last(ctx context.Context) (time.Time, error)
}

// PhoneConfig configures a Phone.
type PhoneConfig struct {
	// SilentAfter is how long without an event or an answer from the phone
	// makes it silent; default 10 minutes. The app's ping (Settings >
	// Ping) keeps a quiet phone heard.
	SilentAfter time.Duration
	// FailAfter is how many failed sends in a row make it failing;
	// default 3.
	FailAfter int
	// Shared, when set, pools the last-heard time with other processes.
	Shared Beacon
	// OnDown is called by Run when the phone goes from up to silent or
	// failing; OnUp when it is up again. Either may be nil.
	OnDown func(State)
	OnUp   func()
	// Tick is how often Run looks; default SilentAfter/10, between 1s
	// and 30s.
	Tick   time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Phone is what aduan knows of the gateway phone: when it was last heard
// from, whether its sends fail, and what became of the messages handed to
// it (reported by the webhooks, awaited by the sender). The Handler and the
// Sender share one. It is safe for concurrent use.
type Phone struct {
	cfg   PhoneConfig
	heard atomic.Int64 // UnixNano of the last sign of life (the start, until one comes)
	real  atomic.Int64 // UnixNano of the last real sign of life, 0 if none

	mu       sync.Mutex
	failures int
	probeAt  time.Time // failing: when the next message to staff may try SMS again
	// outcomes are those of the last outcomeTTL/2 or so; older holds the
	// ones of the half before, dropped at the next turn.
	outcomes, older map[string]outcome
	turned          time.Time // when outcomes began
	waiters         map[string][]chan outcome
	reported        State
}

// outcome is what the phone reported of one message.
type outcome struct {
	sent   bool   // sms:sent (or a later state); false: sms:failed
	reason string // sms:failed's reason
	at     time.Time
}

// outcomeTTL is about how long outcomes are kept for a retry to find:
// between half of it and all of it.
const outcomeTTL = 30 * time.Minute

// NewPhone returns a Phone, taken to be up: it becomes silent only after
// SilentAfter without a sign of life from now.
func NewPhone(cfg PhoneConfig) *Phone {
	if cfg.SilentAfter <= 0 {
		cfg.SilentAfter = 10 * time.Minute
	}
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = 3
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tick <= 0 {
		cfg.Tick = min(max(cfg.SilentAfter/10, time.Second), 30*time.Second)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Phone{cfg: cfg, outcomes: map[string]outcome{}, older: map[string]outcome{}, turned: cfg.Now(),
		waiters: map[string][]chan outcome{}, reported: StateUp}
	p.heard.Store(cfg.Now().UnixNano())
	return p
}

// Heard records a sign of life: a signed webhook, an answer to a request.
func (p *Phone) Heard(t time.Time) {
	n := t.UnixNano()
	for {
		old := p.heard.Load()
		if n <= old || p.heard.CompareAndSwap(old, n) {
			break
		}
	}
	for {
		old := p.real.Load()
		if n <= old || p.real.CompareAndSwap(old, n) {
			return
		}
	}
}

// LastHeard returns when the phone last gave a sign of life; zero if it
// has not since this process started.
func (p *Phone) LastHeard() time.Time {
	if n := p.real.Load(); n != 0 {
		return time.Unix(0, p.heard.Load())
	}
	return time.Time{}
}

// sent records that a message was confirmed sent: the phone works.
func (p *Phone) sent(t time.Time) {
	p.Heard(t)
	p.mu.Lock()
	p.failures = 0
	p.mu.Unlock()
}

// failed records a send that failed or was not confirmed in time.
func (p *Phone) failed() {
	p.mu.Lock()
	p.failures++
	p.mu.Unlock()
}

// State returns the phone's state now.
func (p *Phone) State() State {
	p.mu.Lock()
	failing := p.failures >= p.cfg.FailAfter
	p.mu.Unlock()
	switch {
	case failing:
		return StateFailing
	case p.cfg.Now().Sub(time.Unix(0, p.heard.Load())) > p.cfg.SilentAfter:
		return StateSilent
	}
	return StateUp
}

// probe reports whether a message to staff should try SMS although the
// phone is failing: once every SilentAfter, so that it is found working
// again when no other message would show it.
func (p *Phone) probe() bool {
	now := p.cfg.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.probeAt) {
		return false
	}
	p.probeAt = now.Add(p.cfg.SilentAfter)
	return true
}

// expect returns a channel that receives the outcome of the message with
// the ID: at once when it is already known. Call unexpect when done.
func (p *Phone) expect(id string) chan outcome {
	ch := make(chan outcome, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := p.lookup(id); ok {
		ch <- o
		return ch
	}
	p.waiters[id] = append(p.waiters[id], ch)
	return ch
}

// lookup finds a reported outcome; p.mu is held.
func (p *Phone) lookup(id string) (outcome, bool) {
	if o, ok := p.outcomes[id]; ok {
		return o, true
	}
	o, ok := p.older[id]
	return o, ok
}

func (p *Phone) unexpect(id string, ch chan outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ws := p.waiters[id]
	for i, w := range ws {
		if w == ch {
			ws = append(ws[:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(p.waiters, id)
	} else {
		p.waiters[id] = ws
	}
}

// known returns the outcome of the message with the ID, if reported.
func (p *Phone) known(id string) (outcome, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lookup(id)
}

// report records the outcome of the message with the ID and hands it to
// whoever awaits it. The first outcome stands: the parts of a long message
// each report, and a delivery failure may follow sms:sent.
func (p *Phone) report(id string, o outcome) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.lookup(id); ok {
		return
	}
	if o.at.Sub(p.turned) > outcomeTTL/2 {
		p.older, p.outcomes, p.turned = p.outcomes, make(map[string]outcome, len(p.outcomes)), o.at
	}
	p.outcomes[id] = o
	for _, w := range p.waiters[id] {
		w <- o
	}
	delete(p.waiters, id)
}

// Run watches the phone until ctx is done: it pools the last-heard time
// with the other processes (PhoneConfig.Shared) and calls OnDown and OnUp
// on changes of state.
func (p *Phone) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Tick)
	defer t.Stop()
	var pushed int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pushed = p.share(ctx, pushed)
		p.check()
	}
}

// share pushes this process's last real sign of life to the beacon when it
// is newer than what was pushed, and takes the beacon's when it is newer
// than this process's. It returns what was pushed.
func (p *Phone) share(ctx context.Context, pushed int64) int64 {
	if p.cfg.Shared == nil {
		return pushed
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if n := p.real.Load(); n > pushed {
		if err := p.cfg.Shared.Mark(ctx, time.Unix(0, n)); err != nil {
			p.cfg.Logger.Warn("sms gateway: last-heard time not shared", "err", err)
		} else {
			pushed = n
		}
	}
	if last, err := p.cfg.Shared.Last(ctx); err != nil {
		p.cfg.Logger.Warn("sms gateway: shared last-heard time not read", "err", err)
	} else if !last.IsZero() {
		p.Heard(last)
	}
	return pushed
}

// check calls OnDown or OnUp when the state changed since the last check.
func (p *Phone) check() {
	st := p.State()
	p.mu.Lock()
	was := p.reported
	p.reported = st
	p.mu.Unlock()
	switch {
	case st == was:
	case st == StateUp:
		p.cfg.Logger.Info("sms gateway phone is up again")
		if p.cfg.OnUp != nil {
			p.cfg.OnUp()
		}
	case was == StateUp:
		p.cfg.Logger.Warn("sms gateway phone is down", "state", st, "last_heard", p.LastHeard())
		if p.cfg.OnDown != nil {
			p.cfg.OnDown(st)
		}
	}
}
