package bot

import (
	"context"
	"errors"
	"time"
)

// Limits are the abuse limits: how many messages one sender may send, how
// many the whole service takes (to protect PostgreSQL), and how many ticket
// codes one number may ask about. Zero values mean no limit.
type Limits struct {
	PerSender    int           // messages per sender per Window
	Window       time.Duration // default one minute
	GlobalPerSec int           // messages per second across all replicas
	Lookups      int           // ticket status questions per number per LookupWindow
	LookupWindow time.Duration // default one hour
}

// Counter counts hits on keys in fixed windows, across replicas.
// Implemented by store/redis.
type Counter interface {
	// Hits counts one hit on each key (twice for a key given twice) and
	// returns each key's count in its current window.
	Hits(ctx context.Context, keys []string, window time.Duration) ([]int64, error)
}

// ErrBusy is returned by Handle when the service takes more messages than
// limits.global_per_second allows: the provider retries later.
var ErrBusy = E("handle", Temporary, errors.New("too many messages: try again later"))

// limit marks the requests over the limits: over the global limit they are
// refused (the provider retries them later); a sender over theirs is
// dropped, told once to pause. It returns the requests to go on with.
func (s *Service) limit(ctx context.Context, batch []*request) []*request {
	l := s.cfg.Limits
	if s.cfg.Counter == nil || l.PerSender <= 0 && l.GlobalPerSec <= 0 {
		return batch
	}
	keys := make([]string, 0, 2*len(batch))
	var senders []int
	for i, r := range batch {
		if _, staff := s.staff.ByPhone(r.m.From); l.PerSender > 0 && !staff {
			keys = append(keys, "sender:"+r.m.From)
			senders = append(senders, i)
		}
	}
	nSender := len(keys)
	if l.GlobalPerSec > 0 {
		for range batch {
			keys = append(keys, "global")
		}
	}
	window := l.Window
	if window <= 0 {
		window = time.Minute
	}
	hits, err := s.cfg.Counter.Hits(ctx, keys, window)
	if err != nil {
		// Counting is a safeguard, not a gate: without Redis the
		// conversations fail anyway, with the right error.
		return batch
	}
	if l.PerSender > 0 {
		for j, i := range senders {
			switch n := hits[j]; {
			case n == int64(l.PerSender)+1:
				batch[i].pause = true
			case n > int64(l.PerSender)+1:
				batch[i].drop = true
			}
		}
	}
	if l.GlobalPerSec > 0 {
		// The global counter counts per Window; scale the limit to it.
		perWindow := int64(l.GlobalPerSec) * int64(max(window, time.Second)/time.Second)
		kept := batch[:0]
		for i, r := range batch {
			if hits[nSender+i] > perWindow {
				r.done <- ErrBusy
				continue
			}
			kept = append(kept, r)
		}
		batch = kept
	}
	return batch
}

// lookupAllowed counts a status question from addr and reports whether it
// is within the limit.
func (s *Service) lookupAllowed(ctx context.Context, addr string) bool {
	l := s.cfg.Limits
	if s.cfg.Counter == nil || l.Lookups <= 0 {
		return true
	}
	window := l.LookupWindow
	if window <= 0 {
		window = time.Hour
	}
	hits, err := s.cfg.Counter.Hits(ctx, []string{"lookup:" + addr}, window)
	if err != nil {
		return true
	}
	return hits[0] <= int64(l.Lookups)
}
