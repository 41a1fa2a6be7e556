package bot

import (
	"context"
	"time"
)

// Store is the durable record: tickets and their events, the outbox, and the
// IDs of inbound messages already processed. Implemented by store/sqlstore,
// on PostgreSQL and on SQLite; both pass the contract suite in
// store/storetest.
type Store interface {
	// Begin starts a transaction for one batch of inbound messages.
	Begin(ctx context.Context) (Tx, error)

	// Ticket returns the ticket with the code. Returns NotFound if none has it.
	Ticket(ctx context.Context, code string) (Ticket, error)
	// Tickets lists tickets matching the filter, newest first.
	Tickets(ctx context.Context, f TicketFilter) ([]Ticket, error)
	// Events returns a ticket's history, oldest first. Returns NotFound if
	// no ticket has the code.
	Events(ctx context.Context, code string) ([]Event, error)
	// Attachments lists a ticket's attachments, oldest first, without
	// their data. Returns NotFound if no ticket has the code.
	Attachments(ctx context.Context, code string) ([]Attachment, error)
	// Attachment returns one attachment with its data. Returns NotFound
	// if there is none with the ID.
	Attachment(ctx context.Context, id int64) (Attachment, error)

	// DueOutbound claims up to limit outbox messages whose next attempt is
	// due at now, oldest first, and pushes their next attempt to now+lease
	// so that no other sender takes them meanwhile.
	DueOutbound(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Outbound, error)
	// Settle records the outcome of send attempts: sent (ProviderID), to be
	// retried (Err and RetryAt), or failed for good (Err, zero RetryAt).
	Settle(ctx context.Context, ds []Delivery) error
	// RecordStatus stores a provider's delivery report for a sent message.
	// Returns NotFound if no outbox message has the provider ID.
	RecordStatus(ctx context.Context, providerID, status string, at time.Time) error
	// Outbox lists outbox messages, oldest first (for tools and tests).
	Outbox(ctx context.Context) ([]OutboxEntry, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error
}

// Tx is one transaction over the Store. Nothing it writes is visible to
// others until Commit.
type Tx interface {
	// Claim records the messages as processed and reports, for each, whether
	// it had been processed before (a duplicate). A duplicate within the
	// same call counts as a duplicate too.
	Claim(ctx context.Context, msgs []MessageID) (dup []bool, err error)
	// Apply writes new tickets, events and outbox messages, and
	// attachments, then links attachments to tickets as c.Links say. It
	// sets the ID of each outbox message. Outbox messages are stored as claimed until
	// claimedUntil, so that the caller can send them at once.
	// Checkpoints in c are written last, each only if the stored version
	// is still the one it expects.
	// Returns Conflict if a ticket code or a submission is already taken,
	// or a checkpoint's version is not the expected one.
	Apply(ctx context.Context, c *Changes, claimedUntil time.Time) error
	// Resume is Claim that also reads, in the same round trip, the
	// checkpoint of each conversation in cps (see Checkpoint): it sets
	// Stored, Found, and State and Lost where the stored version is not
	// the caller's Version.
	Resume(ctx context.Context, msgs []MessageID, cps []Checkpoint) (dup []bool, err error)
	// Filed returns the code of the ticket opened for the submission (see
	// Ticket.Submission). Returns NotFound if there is none.
	Filed(ctx context.Context, submission string) (string, error)
	Commit(ctx context.Context) error
	// Rollback abandons the transaction; after Commit it does nothing.
	Rollback(ctx context.Context) error
}

// MessageID identifies an inbound message for deduplication.
type MessageID struct {
	Channel    Channel
	ExternalID string
}

// Changes is what handling a batch of messages writes.
type Changes struct {
	Tickets []Ticket   // new tickets
	Updates []Ticket   // changed tickets: their status, assignment, answers, times, relay, marks and next due are written
	Events  []Event    // appended to tickets' histories
	Outbox  []Outbound // messages to send
	OptOuts []OptOut   // people who said STOP, or wrote again

	Attachments []Attachment     // files received; TicketCode "" for a report not filed yet
	Links       []AttachmentLink // applied after Attachments are written

	Checkpoints []Checkpoint // conversations' new states, written last
}

// Checkpoint is the committed state of one conversation: the store keeps
// it in the transaction that commits the effects of the step that made it,
// so that whatever fails afterwards (the process killed before the state
// reaches Conversations, a connection dropped), the next message meets
// the state that follows the last committed step. Conversations keeps the
// fast copy, with the version; the store is the authority.
//
// Read (Tx.Resume): Key and Version (the caller's copy, 0 for none) in;
// Found, Stored, State and Lost out. Written (Changes.Checkpoints): Key,
// Stored (the version expected, 0 when Found was false: none yet), Version
// (the new one, above Stored) and State (nil: the conversation ended, and
// a tombstone keeps the version so that no older copy comes back).
type Checkpoint struct {
	Key     string
	Version int64
	Stored  int64
	Found   bool
	State   []byte
	Lost    bool // the stored state does not open (its key is gone, or it is corrupted)
	// Sealed is set by Apply to State as it was sealed for the store
	// (seal.Keyring.AppendState), for Conversations to keep as it is.
	Sealed []byte
}

// OptOut records that a person wants no messages the service would start
// (Out), or wrote again and so takes them again (!Out).
type OptOut struct {
	Address string
	Out     bool
	At      time.Time
}

// Empty reports whether there is nothing to write.
func (c *Changes) Empty() bool {
	return len(c.Tickets) == 0 && len(c.Updates) == 0 && len(c.Events) == 0 && len(c.Outbox) == 0 &&
		len(c.OptOuts) == 0 && len(c.Attachments) == 0 && len(c.Links) == 0 && len(c.Checkpoints) == 0
}

// Reset empties c, keeping its storage.
func (c *Changes) Reset() {
	c.Tickets = c.Tickets[:0]
	c.Updates = c.Updates[:0]
	c.Events = c.Events[:0]
	c.Outbox = c.Outbox[:0]
	c.OptOuts = c.OptOuts[:0]
	c.Attachments = c.Attachments[:0]
	c.Links = c.Links[:0]
	c.Checkpoints = c.Checkpoints[:0]
}

// TicketFilter selects tickets. Zero values select all.
type TicketFilter struct {
	Status   Status
	Kind     Kind
	Assignee string    // only tickets assigned to this officer
	Open     bool      // only tickets not done
	Since    time.Time // only tickets created at or after
	Limit    int
}

// OutboxEntry is an outbox message with its sending record.
type OutboxEntry struct {
	Outbound
	State          string // "pending", "sent" or "failed"
	ProviderID     string
	LastError      string
	DeliveryStatus string // the provider's last delivery report
	SentAt         time.Time
}

// Conversations holds conversation state, one record per conversation key,
// with exclusive leases so that one sender's messages are handled one at a
// time across all replicas. Implemented by store/redis.
type Conversations interface {
	// Acquire tries to take a lease on each conversation and, where it
	// succeeds, loads its state. It sets Token, Held and State of each
	// Lease; State is nil for a conversation with no state.
	Acquire(ctx context.Context, ls []Lease) error
	// Release saves or deletes the state of each held lease, as its Save
	// and Delete fields say, and gives up the lease. A lease that expired
	// and was taken by another holder is left alone.
	Release(ctx context.Context, ls []Lease) error
	// Ping reports whether the state store is reachable.
	Ping(ctx context.Context) error
}

// Lease is a hold on one conversation.
type Lease struct {
	Key   string
	Token string
	Held  bool
	State []byte // loaded by Acquire
	// Version is the version of State, loaded by Acquire (0 for a state
	// saved before versions existed, or none), and the version Release
	// saves with Save: the store's checkpoint (Checkpoint) it copies.
	Version int64
	Lost    bool   // Acquire found a state it could not open
	Save    []byte // written by Release when not nil
	// Sealed, when not nil, is Save already sealed for Key by the store's
	// checkpoint (Checkpoint.Sealed), which Release may save as it is
	// rather than seal Save again.
	Sealed []byte
	Delete bool // Release deletes the state
}

// Sender hands an outbound message to a provider. It returns the provider's
// ID for the message. Errors say whether to retry: KindOf(err) is Temporary
// when a later attempt may succeed, Permanent when it will not.
type Sender interface {
	Send(ctx context.Context, m Outbound) (providerID string, err error)
}
