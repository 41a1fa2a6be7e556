package whatsapp

import (
	"sync"
	"time"
)

// Rate is a token bucket's shape: one token every Interval, at most Burst
// saved up.
type Rate struct {
	Interval time.Duration
	Burst    int
}

// Pacer spaces outgoing messages with two token buckets: one per recipient
// and one for all messages. WhatsApp bans numbers that send bursts, above
// all to many people at once. It is safe for concurrent use.
type Pacer struct {
	per, all Rate

	mu      sync.Mutex
	global  bucket
	buckets map[string]*bucket
	sweepAt int // sweep idle buckets when the map reaches this size
}

// bucket holds tokens as of last; tokens below zero are reservations for
// sends that wait.
type bucket struct {
	tokens float64
	last   time.Time
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
	return &Pacer{per: perRecipient, all: overall, buckets: make(map[string]*bucket), sweepAt: minSweep}
}

// advance adds the tokens earned since b.last, up to the burst.
func (b *bucket) advance(r Rate, now time.Time) {
	if b.last.IsZero() {
		b.tokens, b.last = float64(r.Burst), now
		return
	}
	if now.After(b.last) {
		b.tokens += float64(now.Sub(b.last)) / float64(r.Interval)
		b.last = now
	}
	if b.tokens > float64(r.Burst) {
		b.tokens = float64(r.Burst)
	}
}

// take reserves one token and returns how long until it is earned.
func (b *bucket) take(r Rate) time.Duration {
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens * float64(r.Interval))
}

// Reserve takes a token for one message to recipient at now from both
// buckets and returns how long the caller must wait before sending it. If
// that wait would be longer than limit, it takes nothing and returns false:
// the caller should try again later rather than wait.
func (p *Pacer) Reserve(recipient string, now time.Time, limit time.Duration) (wait time.Duration, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[recipient]
	if b == nil {
		if len(p.buckets) >= p.sweepAt {
			p.sweep(now)
		}
		b = &bucket{}
		p.buckets[recipient] = b
	}
	if p.per.Interval > 0 {
		b.advance(p.per, now)
		wait = b.take(p.per)
	}
	if p.all.Interval > 0 {
		p.global.advance(p.all, now)
		wait = max(wait, p.global.take(p.all))
	}
	if wait > limit {
		if p.per.Interval > 0 {
			b.tokens++
		}
		if p.all.Interval > 0 {
			p.global.tokens++
		}
		return 0, false
	}
	return wait, true
}

// sweep forgets recipients whose bucket is full again: they are as if new.
// If most are still busy, the next sweep waits until the map has doubled.
func (p *Pacer) sweep(now time.Time) {
	for k, b := range p.buckets {
		if p.per.Interval <= 0 {
			delete(p.buckets, k)
			continue
		}
		b.advance(p.per, now)
		if b.tokens >= float64(p.per.Burst) {
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
