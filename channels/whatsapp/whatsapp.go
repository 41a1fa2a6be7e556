// Package whatsapp is the WhatsApp channel: the service runs as a linked
// device of the office's WhatsApp number (go.mau.fi/whatsmeow).
//
// A Channel holds the connection and turns whatsmeow's message events into
// bot.Inbound messages for the pipeline, acknowledging each to WhatsApp only
// once the pipeline has stored it. A Sender sends bot.Outbound messages,
// paced per recipient and overall, and wipes a chat on a citizen's request
// (bot.Wiper). Only one process holds the connection at a time: a Lease
// (a PostgreSQL session advisory lock) decides which.
//
// Everything here works on Client, a small interface over the few
// whatsmeow calls used, so that tests run without WhatsApp's servers.
package whatsapp

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
)

// Client is the part of *whatsmeow.Client the channel uses. NewClient
// returns the real one; tests use a fake.
type Client interface {
	// Connect opens the websocket and logs in with the paired device.
	// Login completes later, with an *events.Connected event.
	Connect() error
	// Disconnect closes the websocket; it emits no event.
	Disconnect()
	// IsConnected reports whether the websocket is open.
	IsConnected() bool
	// AddEventHandlerWithSuccessStatus registers the handler of all
	// events. With SynchronousAck, a message is acknowledged only when
	// the handler returns true.
	AddEventHandlerWithSuccessStatus(h whatsmeow.EventHandlerWithSuccessStatus) uint32
	// SendMessage sends msg and waits for the server's acknowledgement.
	// Sending again with the same SendRequestExtra.ID does not make a
	// second message.
	SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error)
	// BuildRevoke builds the message that deletes one of the device's own
	// messages "for everyone".
	BuildRevoke(chat, sender types.JID, id types.MessageID) *waE2E.Message
	// MarkRead sends read receipts for messages of one sender.
	MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID, receiptType ...types.ReceiptType) error
	// SendChatPresence shows or stops "typing..." in a chat.
	SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error
	// SetDisappearingTimer turns disappearing messages on (timer > 0) or
	// off in a chat.
	SetDisappearingTimer(ctx context.Context, chat types.JID, timer time.Duration, settingTS time.Time) error

	// Download fetches and decrypts a message's attachment (an
	// *waE2E.ImageMessage, AudioMessage, ...) from WhatsApp's media
	// servers.
	Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error)

	// Upload encrypts a file and puts it on WhatsApp's media servers,
	// for a message that sends it.
	Upload(ctx context.Context, plaintext []byte, appInfo whatsmeow.MediaType) (whatsmeow.UploadResponse, error)

	// PNForLID looks up the phone-number JID of a LID (@lid) in the
	// device store; it returns an empty JID when none is known.
	PNForLID(ctx context.Context, lid types.JID) (types.JID, error)
	// OwnJID is the paired account's phone-number JID.
	OwnJID() types.JID
}

// ErrNotPaired is returned when the device store holds no paired device:
// run `aduan whatsapp pair`.
var ErrNotPaired = errors.New("no WhatsApp device is paired")

// lidPrefix marks a sender address that is a WhatsApp LID with no known
// phone number. Such an address still works for replies.
const lidPrefix = "lid:"

// addressOf returns the bot address of a user JID: "+<digits>" for a
// phone number, "lid:<digits>" for a LID. It returns "" for anything else.
func addressOf(j types.JID) string {
	if j.User == "" {
		return ""
	}
	switch j.Server {
	case types.DefaultUserServer:
		return "+" + j.User
	case types.HiddenUserServer:
		return lidPrefix + j.User
	}
	return ""
}

// jidOf is the reverse of addressOf. It fails on an address that is not
// "+" followed by 6 to 15 digits, or "lid:" followed by digits.
func jidOf(addr string) (types.JID, error) {
	if user, ok := strings.CutPrefix(addr, "+"); ok && len(user) >= 6 && len(user) <= 15 && digits(user) {
		return types.NewJID(user, types.DefaultUserServer), nil
	}
	if user, ok := strings.CutPrefix(addr, lidPrefix); ok && user != "" && digits(user) {
		return types.NewJID(user, types.HiddenUserServer), nil
	}
	return types.JID{}, errors.New("not a phone number in E.164 form or a WhatsApp LID")
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// State is where the WhatsApp connection of this process stands.
type State string

const (
	StateStopped    State = "stopped"    // Run is not running
	StateStandby    State = "standby"    // another process holds the connection (normal on replicas)
	StateUnpaired   State = "unpaired"   // no device is paired: run aduan whatsapp pair
	StateConnecting State = "connecting" // connecting, or reconnecting after a drop
	StateConnected  State = "connected"  // logged in: messages flow
	StateLoggedOut  State = "logged_out" // the phone unlinked the device: pair again
	StateBanned     State = "banned"     // WhatsApp banned the number for a while
	StateReplaced   State = "replaced"   // another program connected with the same keys
	StateDown       State = "down"       // another failure (outdated client, unknown refusal)
)

// States lists every State, for a metrics gauge with one series per state.
var States = []State{StateStopped, StateStandby, StateUnpaired, StateConnecting, StateConnected,
	StateLoggedOut, StateBanned, StateReplaced, StateDown}

// Healthy reports whether the state is one a running service may be in
// without an operator's attention: connected, connecting, or standing by
// for another replica.
func (s State) Healthy() bool {
	return s == StateConnected || s == StateConnecting || s == StateStandby
}
