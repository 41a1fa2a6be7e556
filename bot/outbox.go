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

	mu       sync.Mutex
	inflight int
	idle     chan struct{} // closed when inflight drops to 0
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
		ms, err := d.cfg.Store.DueOutbound(ctx, d.cfg.Now(), d.cfg.Lease, 256)
		if err != nil && ctx.Err() == nil {
			d.cfg.Observer.DependencyError("postgres")
			d.cfg.Logger.Warn("poll outbox", "err", err)
		}
		for _, m := range ms {
			d.add(1)
			select {
			case d.queue(m) <- m:
			case <-ctx.Done():
				d.add(-1)
				return
			}
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
			d.results <- d.send(m)
			d.add(-1)
		}
	}
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

// settle records outcomes in batches: one write for whatever came in
// while the previous write was under way.
func (d *Dispatcher) settle() {
	batch := make([]Delivery, 0, 256)
	for r := range d.results {
		batch = append(batch[:0], r)
		// Gather what comes in the next few milliseconds too: one write
		// for many sends.
		gather := time.NewTimer(2 * time.Millisecond)
	drain:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-d.results:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			case <-gather.C:
				break drain
			}
		}
		gather.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := d.cfg.Store.Settle(ctx, batch); err != nil {
			d.cfg.Observer.DependencyError("postgres")
			d.cfg.Logger.Error("record sends", "err", err, "messages", len(batch))
		}
		cancel()
	}
}

// CanSend reports whether the dispatcher has a sender for the channel.
func (d *Dispatcher) CanSend(c Channel) bool { return d.cfg.Senders[c] != nil }

// SetGaveUp sets who is told of messages that failed for good; call it
// before Run.
func (d *Dispatcher) SetGaveUp(f func(m Outbound, reason string)) { d.cfg.GaveUp = f }
