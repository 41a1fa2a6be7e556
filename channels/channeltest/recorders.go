package channeltest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"aduan/bot"
)

// Pipeline stands in for bot.Service in a channel's handler tests: it
// records the messages it is handed and answers with Err.
type Pipeline struct {
	mu   sync.Mutex
	msgs []bot.Inbound
	Err  error
}

// Handle records m and returns p.Err.
func (p *Pipeline) Handle(ctx context.Context, m bot.Inbound) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return p.Err
}

// Received returns the messages handed so far, in order.
func (p *Pipeline) Received() []bot.Inbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.msgs)
}

// StatusReport is one delivery report a Statuses recorded.
type StatusReport struct {
	ProviderID, Status string
	At                 time.Time
}

// Statuses stands in for the store's RecordStatus in a channel's handler
// tests: it records the reports and answers with Err.
type Statuses struct {
	mu      sync.Mutex
	reports []StatusReport
	Err     error
}

// RecordStatus records the report and returns s.Err.
func (s *Statuses) RecordStatus(ctx context.Context, providerID, status string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reports = append(s.reports, StatusReport{providerID, status, at})
	return s.Err
}

// Recorded returns the reports so far, in order.
func (s *Statuses) Recorded() []StatusReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reports)
}

// sentLog is a fake provider's record of the messages it sent, which
// tests wait on.
type sentLog struct {
	mu      *sync.Mutex // the fake's, held while msgs and waiters change
	msgs    []SentMessage
	waiters chan struct{} // closed on the next message; nil when nobody waits
}

// add records m; the fake's mutex is held.
func (l *sentLog) add(m SentMessage) {
	l.msgs = append(l.msgs, m)
	if l.waiters != nil {
		close(l.waiters)
		l.waiters = nil
	}
}

// all returns a copy of the messages sent.
func (l *sentLog) all() []SentMessage {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msgs)
}

// waitFor waits until at least n messages were sent and returns them;
// after timeout it returns what it has with an error naming the fake.
func (l *sentLog) waitFor(name string, n int, timeout time.Duration) ([]SentMessage, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		l.mu.Lock()
		if len(l.msgs) >= n {
			msgs := slices.Clone(l.msgs)
			l.mu.Unlock()
			return msgs, nil
		}
		if l.waiters == nil {
			l.waiters = make(chan struct{})
		}
		ch := l.waiters
		l.mu.Unlock()
		select {
		case <-ch:
		case <-timer.C:
			msgs := l.all()
			return msgs, fmt.Errorf("%s: %d messages after %v, want %d", name, len(msgs), timeout, n)
		}
	}
}
