package whatsapp

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket's shape: one token every Interval, at most Burst
// saved up.
type Rate struct {
	Interval time.Duration
	Burst    int
}

// limiter returns the token bucket of r, or nil when r does not limit.
func (r Rate) limiter() *rate.Limiter {
	if r.Interval <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Every(r.Interval), r.Burst)
}

// Pacer spaces outgoing messages with two token buckets
// (golang.org/x/time/rate): one per recipient and one for all messages.
// WhatsApp bans numbers that send bursts, above all to many people at
// once. It is safe for concurrent use.
type Pacer struct {
	per, all Rate

	mu      sync.Mutex
	global  *rate.Limiter // nil when the overall rate does not limit
	buckets map[string]*rate.Limiter
	sweepAt int // sweep idle buckets when the map reaches this size
}

// minSweep is the map size below which idle buckets are left alone.
const minSweep = 1024

// NewPacer returns a Pacer with the per-recipient and overall rates. A
// rate with a zero Interval does not limit; a Burst below 1 counts as 1.
func NewPacer(perRecipient, overall Rate) *Pacer {
	for _, r := range []*Rate{&perRecipient, &overall} {
		if r.Burst < 1 {
			r.Burst = 1
		}
	}
	return &Pacer{per: perRecipient, all: overall, global: overall.limiter(),
		buckets: make(map[string]*rate.Limiter), sweepAt: minSweep}
}

// Reserve takes a token for one message to recipient at now from both
// buckets and returns how long the caller must wait before sending it. If
// that wait would be longer than limit, it takes nothing and returns false:
// the caller should try again later rather than wait.
func (p *Pacer) Reserve(recipient string, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var taken []*rate.Reservation
	if p.per.Interval > 0 {
		b := p.buckets[recipient]
		if b == nil {
			if len(p.buckets) >= p.sweepAt {
				p.sweep(now)
			}
			b = p.per.limiter()
			p.buckets[recipient] = b
		}
		taken = append(taken, b.ReserveN(now, 1))
	}
	if p.global != nil {
		taken = append(taken, p.global.ReserveN(now, 1))
	}
	for _, r := range taken {
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > limit {
		// Under p.mu nothing was reserved after these: cancelling gives
		// every token back.
		for _, r := range taken {
			r.CancelAt(now)
		}
		return 0, false
	}
	return wait, true
}

// sweep forgets recipients whose bucket is full again: they are as if new.
// If most are still busy, the next sweep waits until the map has doubled.
func (p *Pacer) sweep(now time.Time) {
	for k, b := range p.buckets {
		if b.TokensAt(now) >= float64(p.per.Burst) {
			delete(p.buckets, k)
		}
	}
	p.sweepAt = max(minSweep, 2*len(p.buckets))
}

// Recipients returns how many recipients the pacer is tracking (for tests).
func (p *Pacer) Recipients() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.buckets)
}
