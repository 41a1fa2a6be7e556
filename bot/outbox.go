package bot

import (
	"context"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"
)

// DispatcherConfig holds what a Dispatcher needs.
type DispatcherConfig struct {
	Store    Store
	Senders  map[Channel]Sender
	Now      func() time.Time
	Logger   *slog.Logger
	Observer Observer // default NopObserver
	// GaveUp, when set, is told of each message that failed for good
	// (after its last retry, or at once when the provider refuses it).
	GaveUp func(m Outbound, reason string)

	Workers      int           // concurrent sends; default 16
	MaxAttempts  int           // attempts before a message is failed; default 6
	Lease        time.Duration // how long a claimed message is reserved; default 30s
	PollInterval time.Duration // how often the outbox is searched for due messages; default 1s
	// SettleGrace is how long, once Run's context is done and the sends
	// under way have finished, outcomes not yet recorded (the store
	// failing) are still tried; default 10s.
	SettleGrace time.Duration
}

// Dispatcher sends outbox messages. Messages written by this process are
// handed to it at once (Enqueue); a poller picks up the rest: messages left
// by a crash or another replica, and retries that fall due. One recipient's
// messages are sent one at a time, in order.
type Dispatcher struct {
	cfg     DispatcherConfig
	seed    maphash.Seed
	queues  []chan Outbound
	results chan Delivery
	kick    chan struct{}

	mu        sync.Mutex
	inflight  int
	idle      chan struct{}       // closed when inflight drops to 0
	unsettled map[int64]time.Time // outbox IDs whose outcome waits to be recorded (zero), or was lately
}

// NewDispatcher returns a Dispatcher; Run starts it.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	if cfg.Workers <= 0 {
		cfg.Workers = 16
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.SettleGrace <= 0 {
		cfg.SettleGrace = 10 * time.Second
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
	d := &Dispatcher{cfg: cfg, seed: maphash.MakeSeed(), results: make(chan Delivery, 1024),
		kick: make(chan struct{}, 1)}
	d.queues = make([]chan Outbound, cfg.Workers)
	for i := range d.queues {
		d.queues[i] = make(chan Outbound, 1024)
	}
	return d
}

// Enqueue hands freshly stored messages to the senders. When a queue is
// full it waits a little (slowing the pipeline down, as it should under
// overload); a message that still does not fit stays in the outbox and is
// sent once its claim runs out.
func (d *Dispatcher) Enqueue(ms []Outbound) {
	var timer *time.Timer
	for _, m := range ms {
		d.add(1)
		d.hold(m.ID, true)
		select {
		case d.queue(m) <- m:
			continue
		default:
		}
		if timer == nil {
			timer = time.NewTimer(100 * time.Millisecond)
			defer timer.Stop()
		}
		select {
		case d.queue(m) <- m:
		case <-timer.C:
			d.add(-1)
			d.hold(m.ID, false)
		}
	}
}

// Poll asks the dispatcher to look for due messages now rather than at its
// next interval.
func (d *Dispatcher) Poll() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Wait blocks until every message handed to the dispatcher has been sent
// or given up on, or ctx is done.
func (d *Dispatcher) Wait(ctx context.Context) error {
	for {
		d.mu.Lock()
		if d.inflight == 0 {
			d.mu.Unlock()
			return nil
		}
		if d.idle == nil {
			d.idle = make(chan struct{})
		}
		idle := d.idle
		d.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (d *Dispatcher) add(n int) {
	d.mu.Lock()
	d.inflight += n
	if d.inflight == 0 && d.idle != nil {
		close(d.idle)
		d.idle = nil
	}
	d.mu.Unlock()
}

func (d *Dispatcher) queue(m Outbound) chan Outbound {
	return d.queues[maphash.String(d.seed, string(m.Channel)+m.To)%uint64(len(d.queues))]
}

// Run sends messages until ctx is done; then it finishes the sends under
// way, records their outcome and returns. Messages still queued stay in the
// outbox for the next start.
func (d *Dispatcher) Run(ctx context.Context) error {
	var workers sync.WaitGroup
	for _, q := range d.queues {
		workers.Add(1)
		go func() {
			defer workers.Done()
			d.work(ctx, q)
		}()
	}
	settled := make(chan struct{})
	go func() {
		d.settle()
		close(settled)
	}()
	d.poll(ctx)
	workers.Wait()
	close(d.results)
	<-settled
	return nil
}

func (d *Dispatcher) poll(ctx context.Context) {
	t := time.NewTicker(d.cfg.PollInterval)
	defer t.Stop()
	for {
		start := time.Now()
		ms, err := d.cfg.Store.DueOutbound(ctx, d.cfg.Now(), d.cfg.Lease, 256)
		if err != nil && ctx.Err() == nil {
			d.cfg.Observer.DependencyError("postgres")
			d.cfg.Logger.Warn("poll outbox", "err", err)
		}
		for _, m := range ms {
			if d.waiting(m.ID) {
				continue // queued, being sent, or its outcome being recorded
			}
			d.add(1)
			d.hold(m.ID, true)
			select {
			case d.queue(m) <- m:
			case <-ctx.Done():
				d.add(-1)
				d.hold(m.ID, false)
				return
			}
		}
		if err == nil {
			d.forgetSettled(start)
		}
		if len(ms) == 256 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

func (d *Dispatcher) work(ctx context.Context, q chan Outbound) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-q:
			if d.heldBack(m) {
				d.hold(m.ID, false) // to be taken again, as if never taken
				d.add(-1)
				continue
			}
			d.results <- d.send(m)
			d.add(-1)
		}
	}
}

// Holder is implemented by senders whose channel can be down for a long
// while (the SMS gateway phone, switched off). While Hold reports true for
// a message, the dispatcher makes no attempt at it: the message stays in
// the outbox, its attempts uncounted, and is taken again once its claim
// runs out (or at the next Poll). Hold must be quick: it runs before every
// send on the channel.
type Holder interface {
	Hold(m Outbound) bool
}

// heldBack reports whether m's sender holds it back for now.
func (d *Dispatcher) heldBack(m Outbound) bool {
	h, ok := d.cfg.Senders[m.Channel].(Holder)
	return ok && h.Hold(m)
}

// send makes one attempt. It uses a context of its own, so that a send
// under way when shutdown begins is finished rather than cut off.
func (d *Dispatcher) send(m Outbound) Delivery {
	s := d.cfg.Senders[m.Channel]
	if s == nil {
		return Delivery{ID: m.ID, Err: "no sender for channel " + string(m.Channel)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	id, err := s.Send(ctx, m)
	if err == nil {
		d.cfg.Observer.Outbound(m.Channel, m.Purpose, "sent")
		return Delivery{ID: m.ID, ProviderID: id}
	}
	attempts := m.Attempts + 1
	dl := Delivery{ID: m.ID, Err: err.Error()}
	if KindOf(err) != Permanent && attempts < d.cfg.MaxAttempts {
		dl.RetryAt = d.cfg.Now().Add(Backoff(attempts))
	}
	result := "failed"
	if !dl.RetryAt.IsZero() {
		result = "retry"
	} else if d.cfg.GaveUp != nil {
		d.cfg.GaveUp(m, err.Error())
	}
	d.cfg.Observer.Outbound(m.Channel, m.Purpose, result)
	d.cfg.Logger.Warn("send failed", "outbox_id", m.ID, "channel", m.Channel, "to", Mask(m.To),
		"attempt", attempts, "retry", !dl.RetryAt.IsZero(), "err", err)
	return dl
}

// Backoff is the wait before attempt n+1: 2s, 4s, 8s, ... up to 10
// minutes, with a little jitter so that retries do not come in waves.
func Backoff(n int) time.Duration {
	d := 2 * time.Second << min(n-1, 10)
	if d > 10*time.Minute {
		d = 10 * time.Minute
	}
	return d + time.Duration(rand.Int64N(int64(d/10)+1))
}

// Settling: the outcome of a send is kept until Store.Settle has recorded
// it. While the store fails (PostgreSQL down), outcomes are kept in memory,
// at most maxUnsettled of them, and the write is tried again with backoff
// (settleRetryMin doubling to settleRetryMax); the poller meanwhile does
// not send again a message whose outcome is waiting. After shutdown
// begins, the write is tried for SettleGrace more. What is still not
// recorded then (or dropped over the bound) is sent again once its claim
// runs out: a send is at least once, and a restart in the middle may
// repeat one (docs/OPERATIONS.md).
const (
	maxUnsettled   = 100_000
	settleChunk    = 1024
	settleRetryMin = 50 * time.Millisecond
	settleRetryMax = time.Second // no slower than the outbox poller
)

// settle records outcomes in batches: one write for whatever came in
// while the previous write was under way.
func (d *Dispatcher) settle() {
	var (
		pending  []Delivery // outcomes not yet recorded, oldest first
		closed   bool       // no more outcomes: shutting down
		deadline time.Time  // when closed: when to give up
		wait     = settleRetryMin
	)
	for {
		if len(pending) == 0 {
			if closed {
				return
			}
			r, ok := <-d.results
			if !ok {
				return
			}
			pending = append(pending, r)
		}
		// Gather what comes in the next few milliseconds too: one write
		// for many sends.
		if !closed && d.collect(&pending, 2*time.Millisecond) {
			closed, deadline = true, time.Now().Add(d.cfg.SettleGrace)
		}
		err := d.record(pending)
		if err == nil {
			d.markUnsettled(pending, false)
			pending = pending[:0]
			wait = settleRetryMin
			continue
		}
		d.cfg.Observer.DependencyError("postgres")
		d.markUnsettled(pending, true)
		if n := len(pending) - maxUnsettled; n > 0 {
			d.cfg.Logger.Error("outcomes of sends dropped, over the bound kept in memory: those messages will be sent again",
				"messages", n)
			d.markUnsettled(pending[:n], false)
			pending = append(pending[:0], pending[n:]...)
		}
		if closed && time.Now().After(deadline) {
			d.cfg.Logger.Error("shutdown: outcomes of sends not recorded: those messages will be sent again",
				"messages", len(pending), "err", err)
			return
		}
		d.cfg.Logger.Warn("record sends: will try again", "err", err, "messages", len(pending), "in", wait.String())
		// Wait, taking new outcomes meanwhile.
		if !closed && d.collect(&pending, wait) {
			closed, deadline = true, time.Now().Add(d.cfg.SettleGrace)
		} else if closed {
			time.Sleep(wait)
		}
		wait = min(2*wait, settleRetryMax)
	}
}

// collect adds to *pending the outcomes that come within d, at most a
// chunk more. It reports whether the results channel was closed.
func (d *Dispatcher) collect(pending *[]Delivery, wait time.Duration) (closed bool) {
	t := time.NewTimer(wait)
	defer t.Stop()
	for n := 0; n < settleChunk; n++ {
		select {
		case r, ok := <-d.results:
			if !ok {
				return true
			}
			*pending = append(*pending, r)
		case <-t.C:
			return false
		}
	}
	return false
}

// record writes the outcomes, a chunk per write; those written are taken
// off ds.
func (d *Dispatcher) record(ds []Delivery) error {
	for start := 0; start < len(ds); start += settleChunk {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := d.cfg.Store.Settle(ctx, ds[start:min(start+settleChunk, len(ds))])
		cancel()
		if err != nil {
			return err
		}
	}
	return nil
}

// hold notes that the message with the ID is queued or being sent by
// this dispatcher (or, with false, no longer), so that the poller does not
// queue it again when its claim runs out meanwhile (a long queue, or the
// store down).
func (d *Dispatcher) hold(id int64, held bool) {
	if id == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if held {
		if d.unsettled == nil {
			d.unsettled = make(map[int64]time.Time)
		}
		d.unsettled[id] = time.Time{}
	} else {
		delete(d.unsettled, id)
	}
}

// markUnsettled notes that the outcomes of ds wait to be recorded
// (waiting), or were just recorded. A recorded one stays noted until a
// poll that began after it was recorded is done (forgetSettled): a poll
// under way may have read the message as due just before.
func (d *Dispatcher) markUnsettled(ds []Delivery, waiting bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.unsettled == nil {
		d.unsettled = make(map[int64]time.Time, len(ds))
	}
	var at time.Time // zero: waiting
	if !waiting {
		at = time.Now()
	}
	for _, r := range ds {
		d.unsettled[r.ID] = at
	}
}

// waiting reports whether the outcome of a send of the message with the
// ID waits to be recorded, or was recorded after the poll under way began.
func (d *Dispatcher) waiting(id int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.unsettled[id]
	return ok
}

// forgetSettled forgets the outcomes recorded before a poll that began at
// start: that poll could not find their messages due.
func (d *Dispatcher) forgetSettled(start time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, at := range d.unsettled {
		if !at.IsZero() && at.Before(start) {
			delete(d.unsettled, id)
		}
	}
}

// CanSend reports whether the dispatcher has a sender for the channel.
func (d *Dispatcher) CanSend(c Channel) bool { return d.cfg.Senders[c] != nil }

// SetGaveUp sets who is told of messages that failed for good; call it
// before Run.
func (d *Dispatcher) SetGaveUp(f func(m Outbound, reason string)) { d.cfg.GaveUp = f }
