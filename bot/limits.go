package bot

import (
	"context"
	"errors"
	"time"

	"aduan/dialog"
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

// Counter counts hits on keys in fixed windows, and takes from budgets in
// sliding windows, across replicas. Implemented by store/redis.
type Counter interface {
	// Hits counts one hit on each key (twice for a key given twice) and
	// returns each key's count in its current window.
	Hits(ctx context.Context, keys []string, window time.Duration) ([]int64, error)
	// Take takes up to n units from the budget named key, of limit units
	// in any window, at now, and returns how many it granted.
	Take(ctx context.Context, key string, n, limit int, window time.Duration, now time.Time) (int, error)
}

// ErrBusy is returned by Handle when the service takes more messages than
// limits.global_per_second allows: the provider retries later.
var ErrBusy = E("handle", Temporary, errors.New("too many messages: try again later"))

// limit refuses the requests over the global limit (the provider retries
// them later) and returns the requests to go on with: at most
// GlobalPerSec messages in any second, across all replicas, in one round
// trip for the batch. Senders' own limits are applied later, by
// limitSenders, to messages not seen before. Counting fails open.
func (s *Service) limit(ctx context.Context, batch []*request) []*request {
	l := s.cfg.Limits
	if s.cfg.Counter == nil || l.GlobalPerSec <= 0 || len(batch) == 0 {
		return batch
	}
	granted, err := s.cfg.Counter.Take(ctx, "global", len(batch), l.GlobalPerSec, time.Second, s.cfg.Now())
	if err != nil {
		return batch
	}
	for _, r := range batch[granted:] {
		r.done <- ErrBusy
	}
	return batch[:granted]
}

// limitSenders counts, for each sender who is not staff, the messages of
// the batch not processed before (dup says which were), and marks those
// over the sender's limit: the first told to pause, the rest dropped. A
// provider's redelivery of a message is not counted: it is not the
// person writing again. A message over the limit is still taken when it
// speaks of danger, or is for an open ticket (exempt): those count, but
// are never held back.
// Counting fails open.
func (s *Service) limitSenders(ctx context.Context, cs []*conv, dup []bool, rs *reporters) {
	l := s.cfg.Limits
	if s.cfg.Counter == nil || l.PerSender <= 0 {
		return
	}
	var keys []string
	var reqs []*request
	var convs []*conv
	i := 0
	for _, c := range cs {
		for _, r := range c.reqs {
			r.pause, r.drop = false, false // a batch tried again is counted again
			if !dup[i] {
				if _, staff := s.staff.ByPhone(r.m.From); !staff {
					keys = append(keys, "sender:"+r.m.From)
					reqs = append(reqs, r)
					convs = append(convs, c)
				}
			}
			i++
		}
	}
	if len(keys) == 0 {
		return
	}
	window := l.Window
	if window <= 0 {
		window = time.Minute
	}
	hits, err := s.cfg.Counter.Hits(ctx, keys, window)
	if err != nil {
		return
	}
	for j, r := range reqs {
		n := hits[j]
		if n <= int64(l.PerSender) || s.exempt(r, convs[j], rs) {
			continue
		}
		if n == int64(l.PerSender)+1 {
			r.pause = true
		} else {
			r.drop = true
		}
	}
}

// exempt reports whether a message is taken whatever its sender's limit:
// it speaks of danger, it goes on a report whose urgent ticket is open
// already, or its sender is at rest with an open ticket (as looked up for
// the batch).
func (s *Service) exempt(r *request, c *conv, rs *reporters) bool {
	if c.state.Ticket != "" || dialog.ReadDanger(r.m.Text).Danger {
		return true
	}
	return rs != nil && s.cfg.Book.AtRest(&c.state) && rs.known[r.m.From] && hasOpen(rs.byAddr[r.m.From])
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
