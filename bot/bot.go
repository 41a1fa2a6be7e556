// Package bot is aduan's domain: inbound and outbound messages, tickets and
// their events, officers, and the pipeline that turns one into the other.
//
// It knows no driver. Storage, conversation state and channels are reached
// through the small interfaces declared next to where they are used
// (Store, Conversations, Sender), implemented under store/ and channels/.
package bot

import (
	"time"
)

// Channel names a way messages reach the service.
type Channel string

const (
	SMS      Channel = "sms"
	WhatsApp Channel = "whatsapp"
	Console  Channel = "console"
)

// Inbound is one message received from a channel.
type Inbound struct {
	Channel    Channel
	ExternalID string // the provider's message ID (Twilio's MessageSid); unique per channel
	From       string // sender address: E.164 for phones
	To         string // the service's own address the message was sent to
	Text       string
	Media      int    // number of attachments, also those that could not be fetched
	Files      []File // the attachments fetched, in order
	Received   time.Time
}

// File is an attachment fetched with an inbound message: a photo, a voice
// note, a document, or a shared location (as text).
type File struct {
	Kind string // FileImage, FileVoice, ...
	MIME string // "image/jpeg", "audio/ogg; codecs=opus", "text/plain" for a location
	Data []byte
}

// File kinds.
const (
	FileImage    = "image"
	FileVoice    = "voice" // a recorded voice note
	FileAudio    = "audio"
	FileVideo    = "video"
	FileDocument = "document"
	FileLocation = "location" // Data is the location as text: "Lokasi: -8.61,120.45 (name)"
)

// Attachment is a file kept by the service with the report it came with.
// It is stored sealed, like the rest of the report's personal data.
type Attachment struct {
	ID         int64
	TicketCode string // "" while the report it came with is not filed
	Channel    Channel
	Sender     string // who sent it
	ExternalID string // the inbound message it came with
	Index      int    // its place among that message's files, from 0
	Kind       string
	MIME       string
	Size       int    // bytes
	Data       []byte // nil in listings
	Received   time.Time
}

// AttachmentLink gives a ticket the attachments its reporter sent on the
// channel since Since that belong to no ticket yet: what came with a report
// before the report was filed.
type AttachmentLink struct {
	TicketCode string
	Channel    Channel
	Sender     string
	Since      time.Time
}

// AttachmentWindow is how long before a report is filed the files its
// reporter sent are taken to belong to it.
const AttachmentWindow = 24 * time.Hour

// Key names the conversation an inbound message belongs to: one per
// (channel, sender).
func (m Inbound) Key() string { return string(m.Channel) + ":" + m.From }

// Purpose says why an outbound message is sent.
type Purpose string

const (
	PurposeReply    Purpose = "reply"    // an answer to whoever wrote
	PurposeNotify   Purpose = "notify"   // a ticket forwarded to an officer
	PurposeRelay    Purpose = "relay"    // an officer's message to a reporter, or the answer back
	PurposeProgress Purpose = "progress" // a reporter told their ticket moved on
	PurposeAlert    Purpose = "alert"    // supervisors told that a notification could not be delivered
	PurposeFile     Purpose = "file"     // a ticket's file sent to the officer who asked for it
)

// Outbound is one message the service sends. It is written to the outbox in
// the same transaction as the change that caused it.
type Outbound struct {
	ID         int64
	Channel    Channel
	To         string
	Body       string
	Purpose    Purpose
	TicketCode string // empty when the message concerns no ticket
	// Attachment is the ID of a kept file sent with Body as its caption;
	// 0 for a text. Only the WhatsApp channel sends files.
	Attachment int64
	Attempts   int
	CreatedAt  time.Time
}

// Delivery is the outcome of one attempt to send an Outbound.
type Delivery struct {
	ID         int64
	ProviderID string    // set when the provider accepted the message
	Err        string    // set when the attempt failed
	RetryAt    time.Time // when a failed attempt is tried again; zero means give up
}

// Kind is the kind of a ticket.
type Kind string

const (
	KindCase      Kind = "case"      // a violence case report
	KindComplaint Kind = "complaint" // a complaint about the service
)

// Status is where a ticket stands in its lifecycle.
type Status string

const (
	StatusReceived    Status = "received"    // waiting for an officer
	StatusAssessed    Status = "assessed"    // an officer is assessing it
	StatusAccompanied Status = "accompanied" // in progress: the victim is accompanied
	StatusReferred    Status = "referred"    // referred to further services
	StatusDone        Status = "done"        // closed
)

// Statuses is the lifecycle, in order.
var Statuses = []Status{StatusReceived, StatusAssessed, StatusAccompanied, StatusReferred, StatusDone}

// Ticket is one case report or complaint.
type Ticket struct {
	Code      string
	Kind      Kind
	Status    Status
	Urgent    bool
	Kecamatan string
	Answers   map[string]string // the collected answers, by field
	Channel   Channel           // where the reporter wrote from
	Reporter  string            // the reporter's address on that channel
	CreatedAt time.Time
	UpdatedAt time.Time
	// Submission identifies the report the ticket was opened from, for
	// as long as the ticket lives: opening a second ticket for the same
	// submission (a replayed confirmation) is refused. The store keeps
	// only its lookup hash; "" for none. Written when the ticket is
	// created, never read back.
	Submission string

	Assignee   string    // the officer handling it (phone, E.164), or ""
	Backups    []string  // officers offered it as backup
	AcceptedAt time.Time // when an officer took it: the first response; zero until then
	ClosedAt   time.Time // when it was done; zero until then
	Relay      bool      // an officer wrote to the reporter: their answers go back to the assignee

	Marks   map[string]time.Time // clock actions already taken, by name ("remind_first", "escalate_backup", ...), each at most once
	NextDue time.Time            // when the next clock action falls due; zero when none is pending
}

// Open reports whether the ticket is not done.
func (t *Ticket) Open() bool { return t.Status != StatusDone }

// HasContent reports whether the reporter told anything of a case or a
// complaint: an answer besides the service's own (language, consent,
// outcome). A ticket opened on a first cry for help that went no further
// has none.
func (t *Ticket) HasContent() bool {
	for k, v := range t.Answers {
		switch k {
		case "lang", "consent", "outcome":
		default:
			if v != "" {
				return true
			}
		}
	}
	return false
}

// StaffComplaint reports whether the ticket is a complaint about the
// office's own staff ("Sikap petugas"): it goes to the supervisors, not to
// the officers it may be about.
func (t *Ticket) StaffComplaint() bool {
	return t.Kind == KindComplaint && t.Answers["topic"] == "attitude"
}

// Event is one entry in a ticket's append-only history.
type Event struct {
	TicketCode string
	At         time.Time
	Actor      string // "system", "citizen", or an officer's phone number
	Type       string // "created", "notified", ...
	Detail     string
}

// Role is an officer's role.
type Role string

const (
	RoleOfficer    Role = "officer"
	RoleSupervisor Role = "supervisor"
)

// Officer is a member of staff who receives and handles tickets.
type Officer struct {
	Name  string
	Phone string // E.164
	Role  Role
	Areas []string // kecamatan values it covers; none means all
	Kinds []Kind   // kinds of ticket it takes; none means all
	Duty  Hours    // when it is on duty; zero means always
	// Channel is where notifications go first (SMS when empty); a
	// failover sender falls back to SMS when it cannot deliver.
	Channel Channel
}

// NotifyChannel is the channel the officer's notifications go to.
func (o Officer) NotifyChannel() Channel {
	if o.Channel == "" {
		return SMS
	}
	return o.Channel
}
