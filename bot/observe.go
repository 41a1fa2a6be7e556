package bot

import "time"

// Observer is told what the pipeline does, for metrics. Implementations
// must be cheap and safe for concurrent use; internal/metrics provides the
// Prometheus one. Labels are small fixed sets: never a phone number or text.
type Observer interface {
	// Inbound counts a received message: result is "ok", "duplicate" or "error".
	Inbound(ch Channel, result string)
	// Outbound counts a send attempt: result is "sent", "retry" or "failed".
	Outbound(ch Channel, purpose Purpose, result string)
	// Batch records one pipeline batch: how many messages and how long it took
	// from the oldest message's arrival to its commit.
	Batch(messages int, latency time.Duration)
	// TicketOpened counts a new ticket.
	TicketOpened(k Kind, urgent bool)
	// DependencyError counts an error talking to "postgres" or "redis".
	DependencyError(dep string)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) Inbound(Channel, string)           {}
func (NopObserver) Outbound(Channel, Purpose, string) {}
func (NopObserver) Batch(int, time.Duration)          {}
func (NopObserver) TicketOpened(Kind, bool)           {}
func (NopObserver) DependencyError(string)            {}
