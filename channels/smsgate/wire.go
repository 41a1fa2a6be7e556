// Package smsgate is the SMS channel through an Android phone holding the
// office's own SIM card, running SMS Gateway for Android
// (capcom6/android-sms-gateway). It turns the app's signed webhooks into
// bot.Inbound messages and delivery reports, sends bot.Outbound messages
// through the app's REST API (Local mode on the phone itself, or the Cloud
// or a Private relay), and watches whether the phone is alive.
//
// The wire format is the app's: webhook envelopes {deviceId, event, id,
// payload, webhookId} signed with X-Signature (hex HMAC-SHA256 of the raw
// body followed by X-Timestamp); messages {id, textMessage:{text},
// phoneNumbers, simNumber, ttl, withDeliveryReport, priority} posted to
// <base>/messages. docs/SMS.md says what was checked in the app's source.
package smsgate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"sync"
)

// Webhook events aduan registers and handles.
const (
	EventReceived  = "sms:received"
	EventSent      = "sms:sent"
	EventDelivered = "sms:delivered"
	EventFailed    = "sms:failed"
	EventPing      = "system:ping"
)

// Events are the events `aduan smsgate register` asks for, in order.
var Events = []string{EventReceived, EventSent, EventDelivered, EventFailed, EventPing}

// Event is one webhook request's body: the app's envelope.
type Event struct {
	DeviceID  string  `json:"deviceId"`
	Event     string  `json:"event"`
	ID        string  `json:"id"` // the event's own ID, the same on every redelivery
	Payload   Payload `json:"payload"`
	WebhookID string  `json:"webhookId"`
}

// Payload is an event's payload: the fields of every event aduan handles,
// each set by the events that have it.
//
// sms:received: MessageID (derived from the content and not unique: two
// identical texts from one person share it), Message, PhoneNumber and, in
// newer apps, Sender (who sent it) and Recipient (the SIM's number, when
// known). sms:sent, sms:delivered, sms:failed: MessageID (the ID the
// message was sent with: aduan's), PhoneNumber (and Recipient in newer
// apps) the recipient, PartsCount (sms:sent), Reason (sms:failed:
// RESULT_ERROR_GENERIC_FAILURE, "TTL expired", ...). system:ping: Health.
type Payload struct {
	MessageID   string  `json:"messageId"`
	Message     string  `json:"message"`
	PhoneNumber string  `json:"phoneNumber"`
	Sender      string  `json:"sender"`
	Recipient   string  `json:"recipient"`
	SimNumber   *int    `json:"simNumber"`
	PartsCount  int     `json:"partsCount"`
	Reason      string  `json:"reason"`
	Health      *Health `json:"health"`
}

// From returns who sent a received message: Sender, or PhoneNumber from
// apps that do not set it.
func (p Payload) From() string {
	if p.Sender != "" {
		return p.Sender
	}
	return p.PhoneNumber
}

// Message is a send request.
type Message struct {
	ID                 string       `json:"id"`
	TextMessage        *TextMessage `json:"textMessage"`
	PhoneNumbers       []string     `json:"phoneNumbers"`
	SimNumber          int          `json:"simNumber,omitempty"` // 1-3; 0 leaves it to the phone
	TTL                int64        `json:"ttl,omitempty"`       // seconds
	WithDeliveryReport bool         `json:"withDeliveryReport"`
	Priority           int          `json:"priority,omitempty"` // >= PriorityBypass skips the app's limits and delays
}

// TextMessage is a text send request's content.
type TextMessage struct {
	Text string `json:"text"`
}

// PriorityBypass is the lowest priority the app sends ahead of its own
// limits and delays.
const PriorityBypass = 100

// MessageState is the app's answer about a message: to a send (202) and
// to GET <base>/messages/{id}.
type MessageState struct {
	ID         string           `json:"id"`
	State      string           `json:"state"` // Pending, Processed, Sent, Delivered, Failed
	Recipients []RecipientState `json:"recipients"`
}

// RecipientState is one recipient's part of a MessageState.
type RecipientState struct {
	PhoneNumber string  `json:"phoneNumber"`
	State       string  `json:"state"`
	Error       *string `json:"error,omitempty"`
}

// States of a message on the phone.
const (
	StatePending   = "Pending"
	StateProcessed = "Processed"
	StateSent      = "Sent"
	StateDelivered = "Delivered"
	StateFailed    = "Failed"
)

// Webhook is one webhook registration.
type Webhook struct {
	ID    string `json:"id,omitempty"`
	URL   string `json:"url"`
	Event string `json:"event"`
}

// Health is the app's (Local) or relay's (Cloud, Private) health report,
// from GET <base>/health and in system:ping's payload.
type Health struct {
	Status    string           `json:"status"` // pass, warn, fail
	Version   string           `json:"version"`
	ReleaseID int              `json:"releaseId"`
	Checks    map[string]Check `json:"checks"`
}

// Check is one line of a Health report.
type Check struct {
	Description   string  `json:"description"`
	ObservedUnit  string  `json:"observedUnit"`
	ObservedValue float64 `json:"observedValue"`
	Status        string  `json:"status"`
}

// Sign returns the X-Signature of a webhook body sent with timestamp (the
// X-Timestamp header, Unix seconds): hex HMAC-SHA256 of the raw body
// followed by the timestamp, keyed with the signing key set in the app.
func Sign(key string, body []byte, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return hex.EncodeToString(mac.Sum(nil))
}

// verifier checks signatures with one key, reusing its HMACs.
type verifier struct {
	macs sync.Pool // of hash.Hash
}

func newVerifier(key string) *verifier {
	v := &verifier{}
	v.macs.New = func() any { return hmac.New(sha256.New, []byte(key)) }
	return v
}

// valid reports, in constant time, whether sig (hex, either case) is the
// signature of body sent at timestamp.
func (v *verifier) valid(body []byte, timestamp, sig string) bool {
	var got [sha256.Size]byte
	if len(sig) != 2*len(got) {
		return false
	}
	if _, err := hex.Decode(got[:], []byte(sig)); err != nil {
		return false
	}
	mac := v.macs.Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	mac.Write([]byte(timestamp))
	var want [sha256.Size]byte
	mac.Sum(want[:0])
	v.macs.Put(mac)
	return hmac.Equal(got[:], want[:])
}
