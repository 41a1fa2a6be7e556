package whatsapp

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"aduan/bot"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// Client returns the connected client, or nil when WhatsApp is not
	// connected. New sets it to the Channel's.
	Client func() Client
	// Contacts says whom the service may write to. Nil allows nobody.
	Contacts *Contacts
	// PerRecipient and Overall pace sending (see Pacer). A zero Interval
	// does not limit.
	PerRecipient, Overall Rate
	// Typing is how long "typing..." shows before a reply to a message
	// that started it (the Channel shows it when a message comes in); the
	// reply waits out the rest. Zero turns it off.
	Typing time.Duration
	// Now and Sleep are the clock; nil means the real one. Sleep waits d
	// or until ctx is done.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger receives warnings; nil discards them.
	Logger *slog.Logger
	// Files reads a kept file, for messages that send one
	// (bot.Outbound.Attachment); bot.Store.Attachment is the real one.
	// Nil refuses such messages.
	Files func(ctx context.Context, id int64) (bot.Attachment, error)
}

// Sender sends bot.Outbound messages on WhatsApp and wipes chats. It
// implements bot.Sender and bot.Wiper and is safe for concurrent use.
type Sender struct {
	cfg   SenderConfig
	pacer *Pacer
	log   *slog.Logger

	mu     sync.Mutex
	typing map[string]time.Time // when "typing..." began, by recipient
	expiry map[string]uint32    // disappearing-message timer of a chat, seconds
}

var (
	_ bot.Sender = (*Sender)(nil)
	_ bot.Wiper  = (*Sender)(nil)
)

// NewSender returns a Sender. It panics if cfg.Client is nil.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Client == nil {
		panic("whatsapp: NewSender with nil Client")
	}
	if cfg.Contacts == nil {
		cfg.Contacts = NewContacts(nil, nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, pacer: NewPacer(cfg.PerRecipient, cfg.Overall),
		log: cfg.Logger.With("component", "whatsapp"), typing: make(map[string]time.Time), expiry: make(map[string]uint32)}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Contacts returns the sender's contacts.
func (s *Sender) Contacts() *Contacts { return s.cfg.Contacts }

// Pacer returns the sender's pacer.
func (s *Sender) Pacer() *Pacer { return s.pacer }

// ErrNotConnected is the cause of a send attempted while WhatsApp is not
// connected; its kind is bot.Temporary.
var ErrNotConnected = errors.New("whatsapp is not connected")

// defaultWaitLimit bounds the pacing wait when ctx has no deadline.
const defaultWaitLimit = 10 * time.Second

// Send sends m's body as a text message and returns its WhatsApp message
// ID. The ID is derived from the outbox message, so that a retry after a
// lost answer does not make a second message.
//
// Errors are bot.Permanent for a recipient that is not a phone number or
// may not be written to (see Contacts), and bot.Temporary when WhatsApp is
// not connected, when pacing would make the message wait past ctx's
// deadline, and for send failures. Error texts never carry the recipient's
// number or the body.
func (s *Sender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	const op = "whatsapp.Send"
	if m.Channel != bot.WhatsApp {
		return "", bot.E(op, bot.Permanent, fmt.Errorf("channel %q is not sent by WhatsApp", m.Channel))
	}
	to, err := jidOf(m.To)
	if err != nil {
		return "", bot.E(op, bot.Permanent, err)
	}
	ok, err := s.cfg.Contacts.Allowed(ctx, m.To)
	if err != nil {
		return "", bot.E(op, bot.Temporary, fmt.Errorf("check recipient: %w", err))
	}
	if !ok {
		return "", bot.E(op, bot.Permanent, errors.New("recipient is neither staff nor someone who wrote to the service"))
	}
	cli := s.cfg.Client()
	if cli == nil {
		return "", bot.E(op, bot.Temporary, ErrNotConnected)
	}
	now := s.cfg.Now()
	limit := defaultWaitLimit
	if dl, ok := ctx.Deadline(); ok {
		limit = dl.Sub(now) - time.Second
	}
	wait, ok := s.pacer.Reserve(m.To, now, max(limit, 0))
	if !ok {
		return "", bot.E(op, bot.Temporary, errors.New("paced: too many messages for now"))
	}
	if m.Purpose == bot.PurposeReply {
		wait = max(wait, s.typingLeft(m.To, now))
	}
	if wait > 0 {
		if err := s.cfg.Sleep(ctx, wait); err != nil {
			return "", bot.E(op, bot.Temporary, err)
		}
	}
	msg := s.text(m.To, m.Body)
	if m.Attachment != 0 {
		if msg, err = s.file(ctx, cli, m); err != nil {
			return "", err
		}
	}
	resp, err := cli.SendMessage(ctx, to, msg, whatsmeow.SendRequestExtra{ID: messageID(m)})
	if err != nil {
		return "", classify(op, err)
	}
	return resp.ID, nil
}

// text builds a text message, marked with the chat's disappearing timer
// when it has one (WhatsApp clients expect every message in such a chat to
// carry it).
func (s *Sender) text(to, body string) *waE2E.Message {
	s.mu.Lock()
	exp := s.expiry[to]
	s.mu.Unlock()
	if exp == 0 {
		return &waE2E.Message{Conversation: proto.String(body)}
	}
	return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{
		Text:        proto.String(body),
		ContextInfo: &waE2E.ContextInfo{Expiration: proto.Uint32(exp)},
	}}
}

// typingStarted records that "typing..." was shown to addr at t.
func (s *Sender) typingStarted(addr string, t time.Time) {
	if s.cfg.Typing <= 0 {
		return
	}
	s.mu.Lock()
	if len(s.typing) > 4096 { // replies that never came: forget them
		for k, v := range s.typing {
			if t.Sub(v) > s.cfg.Typing {
				delete(s.typing, k)
			}
		}
	}
	s.typing[addr] = t
	s.mu.Unlock()
}

// typingLeft returns how much longer "typing..." should show to addr
// before a reply, and forgets it: later replies do not wait.
func (s *Sender) typingLeft(addr string, now time.Time) time.Duration {
	s.mu.Lock()
	t, ok := s.typing[addr]
	delete(s.typing, addr)
	s.mu.Unlock()
	if !ok {
		return 0
	}
	return min(max(t.Add(s.cfg.Typing).Sub(now), 0), s.cfg.Typing)
}

// setExpiry records the disappearing-message timer of addr's chat.
func (s *Sender) setExpiry(addr string, seconds uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seconds == 0 {
		delete(s.expiry, addr)
		return
	}
	if len(s.expiry) >= maxSeen {
		clear(s.expiry)
	}
	s.expiry[addr] = seconds
}

// WipeTimer is the disappearing-message timer Wipe turns on: the shortest
// WhatsApp offers.
const WipeTimer = whatsmeow.DisappearingTimer24Hours

// Wipe deletes "for everyone" each message the service sent to `to`
// (providerIDs are their WhatsApp message IDs) and turns on disappearing
// messages in the chat, so that what follows goes away by itself. It does
// not pace: a person asking for a wipe may be in danger now.
//
// WhatsApp only deletes messages younger than about two days for everyone;
// older ones stay, and the person's own messages are theirs to delete.
// Every ID is tried; the error (bot.Temporary) says how many failed, and
// calling Wipe again is harmless. Returns bot.Temporary without trying
// when WhatsApp is not connected.
func (s *Sender) Wipe(ctx context.Context, to string, providerIDs []string) error {
	const op = "whatsapp.Wipe"
	chat, err := jidOf(to)
	if err != nil {
		return bot.E(op, bot.Permanent, err)
	}
	cli := s.cfg.Client()
	if cli == nil {
		return bot.E(op, bot.Temporary, ErrNotConnected)
	}
	var errs []error
	if err := cli.SetDisappearingTimer(ctx, chat, WipeTimer, s.cfg.Now()); err != nil {
		errs = append(errs, fmt.Errorf("disappearing messages: %w", err))
	} else {
		s.setExpiry(to, uint32(WipeTimer/time.Second))
	}
	failed := 0
	for _, id := range providerIDs {
		if id == "" {
			continue
		}
		if _, err := cli.SendMessage(ctx, chat, cli.BuildRevoke(chat, types.EmptyJID, id)); err != nil {
			failed++
			if len(errs) < 3 {
				errs = append(errs, fmt.Errorf("revoke: %w", err))
			}
		}
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d messages not deleted", failed, len(providerIDs)))
	}
	if len(errs) > 0 {
		err := errors.Join(errs...)
		s.log.Warn("wipe incomplete", "to", bot.Mask(to), "messages", len(providerIDs), "failed", failed, "err", maskDigits(err.Error()))
		return bot.E(op, bot.Temporary, errors.New(maskDigits(err.Error())))
	}
	return nil
}

// messageID returns the WhatsApp message ID for m: derived from its outbox
// ID, recipient and creation second, so that each attempt at one outbox
// message uses the same ID. A message not from the outbox (ID 0) gets a
// random one.
func messageID(m bot.Outbound) types.MessageID {
	var sum [sha256.Size]byte
	if m.ID == 0 {
		rand.Read(sum[:])
	} else {
		h := sha256.New()
		var b [16]byte
		binary.BigEndian.PutUint64(b[:8], uint64(m.ID))
		binary.BigEndian.PutUint64(b[8:], uint64(m.CreatedAt.Unix()))
		h.Write([]byte("aduan-outbox\x00"))
		h.Write(b[:])
		h.Write([]byte(m.To))
		h.Sum(sum[:0])
	}
	return whatsmeow.WebMessageIDPrefix + strings.ToUpper(hex.EncodeToString(sum[:9]))
}

// classify turns a whatsmeow send error into a bot error whose text has
// no phone number.
func classify(op string, err error) error {
	kind := bot.Temporary
	switch {
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported):
		kind = bot.Permanent
	}
	return bot.E(op, kind, errors.New(maskDigits(err.Error())))
}
