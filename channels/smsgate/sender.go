package smsgate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"aduan/bot"
	"aduan/dialog"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	Client *Client // required
	Phone  *Phone  // required: the one the Handler reports to
	// SIM is the SIM card to send from (1-3); 0 leaves it to the phone.
	SIM int
	// TTL is how long the phone may hold a message before giving it up
	// (reported as sms:failed, "TTL expired"); zero means no limit.
	TTL time.Duration
	// DeliveryReports asks the phone for delivery reports (sms:delivered).
	DeliveryReports bool
	// Limit SMS segments may go every Period (Android counts each part of
	// a long SMS); zero Limit means no pacing. Urgent messages never wait
	// for it (they use up its allowance all the same).
	Limit  int
	Period time.Duration
	// Urgent says which messages go first, with the app's priority 100
	// that skips its own limits and delays: the emergency numbers and the
	// notifications of urgent tickets (bot.Urgent). Nil: none.
	Urgent func(bot.Outbound) bool
	// Fallback sends messages to staff (IsStaff) while the phone is down
	// or when it cannot send them: the WhatsApp channel. Nil: none.
	Fallback bot.Sender
	IsStaff  func(addr string) bool
	// Poll is how often a send waiting for the phone's report asks the
	// phone for the message's state, in case the report went to another
	// replica or was lost; default 3s.
	Poll time.Duration
	// OrderWait bounds how long a recipient's next message waits for the
	// report on the one before; after it, it goes anyway; default 10m.
	OrderWait time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
}

// Sender sends bot.Outbound SMS through the gateway phone. A send returns
// once the phone reports the SMS sent (sms:sent), not when the app accepts
// it: the app may hold several messages and send them in either order (it
// sends equal priorities newest first unless FIFO is chosen), so one
// recipient's next message is handed over only when the one before has
// gone. sms:failed makes the send fail, to be retried (with a new message
// ID) or failed over like any failed send. It is safe for concurrent use.
type Sender struct {
	cfg   SenderConfig
	log   *slog.Logger
	pacer pacer

	mu    sync.Mutex
	gates map[string]gate // by recipient: a message accepted by the phone and not yet reported
}

// gate is a message the phone accepted and has not yet reported sent or
// failed; the recipient's next message waits for it.
type gate struct {
	id string
	at time.Time
}

var (
	_ bot.Sender = (*Sender)(nil)
	_ bot.Holder = (*Sender)(nil)
)

// Hold reports whether m is to wait in the outbox, untried: while the
// phone is silent or failing, except messages to staff, which go by the
// Fallback, and one message every SilentAfter while it is failing, to
// find it working again. Messages to citizens so wait out an outage of
// any length instead of using up their attempts. While the phone is up,
// a message also waits, untried, while the phone's SMS limit (the pacing)
// would keep it longer than one send may take, and while an earlier
// message to its recipient is not yet reported sent: neither is a failure.
func (s *Sender) Hold(m bot.Outbound) bool {
	switch st := s.cfg.Phone.State(); {
	case st == StateUp:
		return s.waiting(m)
	case s.cfg.Fallback != nil && s.cfg.IsStaff != nil && s.cfg.IsStaff(m.To):
		return false
	case st == StateFailing:
		return !s.cfg.Phone.probe()
	}
	return true
}

// NewSender returns a Sender. It panics if Client or Phone is nil.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Client == nil || cfg.Phone == nil {
		panic("smsgate: NewSender without Client or Phone")
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 3 * time.Second
	}
	if cfg.OrderWait <= 0 {
		cfg.OrderWait = 10 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, log: cfg.Logger.With("component", "smsgate"), gates: map[string]gate{},
		pacer: pacer{limit: cfg.Limit, period: cfg.Period}}
}

// Errors of a send that the phone may still carry out: not to be failed
// over, only tried again later.
var (
	errAwaiting = errors.New("accepted by the phone, not yet reported sent")
	errOrder    = errors.New("an earlier message to the recipient is not yet reported sent")
	errPaced    = errors.New("paced: the phone's SMS limit is used up for now")
)

// defaultBudget bounds a send when ctx has no deadline.
const defaultBudget = 15 * time.Second

// Send hands m to the phone and waits for it to report the SMS sent. It
// returns the message ID it was sent with, which sms:delivered reports
// carry. For staff, while the phone is down, or when the phone refuses the
// message or fails to send it, m goes by the Fallback instead.
//
// Errors are bot.Permanent for a message the gateway refuses for good
// (400: not a valid number) and bot.Temporary otherwise: the phone
// unreachable, an error answer, sms:failed, no report within ctx's
// deadline, pacing, or an earlier message to the recipient not yet gone.
// A retry after a lost answer sends the same message ID, which the gateway
// takes only once. Error texts never carry the recipient's number or the
// body.
func (s *Sender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	const op = "smsgate.Send"
	if m.Channel != bot.SMS {
		return "", bot.E(op, bot.Permanent, fmt.Errorf("channel %q is not sent by the SMS gateway", m.Channel))
	}
	if m.To == "" {
		return "", bot.E(op, bot.Permanent, errors.New("empty recipient"))
	}
	staff := s.cfg.Fallback != nil && s.cfg.IsStaff != nil && s.cfg.IsStaff(m.To)
	probe := false
	if staff {
		switch st := s.cfg.Phone.State(); {
		case st == StateFailing && s.cfg.Phone.probe():
			probe = true // try SMS once in a while, to see the phone work again
		case st != StateUp:
			return s.fallback(ctx, m, "phone "+string(st))
		}
	}
	id, err := s.send(ctx, m)
	if err == nil {
		return id, nil
	}
	if staff && (probe || !errors.Is(err, errAwaiting) && !errors.Is(err, errOrder) && !errors.Is(err, errPaced)) {
		return s.fallback(ctx, m, err.Error())
	}
	kind := bot.Temporary
	if StatusOf(err) == http.StatusBadRequest {
		kind = bot.Permanent
	}
	return "", bot.E(op, kind, err)
}

// waiting reports whether m, on a phone that is up, would only wait if it
// were tried now: for the pacing, beyond a send's budget, or for the
// report on an earlier message to its recipient.
func (s *Sender) waiting(m bot.Outbound) bool {
	now := s.cfg.Now()
	if !(s.cfg.Urgent != nil && s.cfg.Urgent(m)) && s.pacer.wait(dialog.Segments(m.Body), now) > defaultBudget {
		return true
	}
	s.mu.Lock()
	g, ok := s.gates[m.To]
	s.mu.Unlock()
	return ok && !strings.HasPrefix(g.id, MessageID(m)) && now.Sub(g.at) <= s.cfg.OrderWait
}

// fallback sends m to staff on the Fallback channel.
func (s *Sender) fallback(ctx context.Context, m bot.Outbound, why string) (string, error) {
	s.log.Warn("sms to staff sent by whatsapp instead", "outbox_id", m.ID, "to", bot.Mask(m.To), "why", why)
	m.Channel = bot.WhatsApp
	return s.cfg.Fallback.Send(ctx, m)
}

// send makes one attempt: it waits for the recipient's earlier message,
// for the pacing, finds the message ID this attempt uses, posts the
// message and waits for the phone's report.
func (s *Sender) send(ctx context.Context, m bot.Outbound) (string, error) {
	now := s.cfg.Now()
	deadline := now.Add(defaultBudget)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl.Add(-500 * time.Millisecond)
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	base := MessageID(m)
	if err := s.awaitEarlier(ctx, m.To, base); err != nil {
		return "", err
	}
	urgent := s.cfg.Urgent != nil && s.cfg.Urgent(m)
	wait, ok := s.pacer.reserve(dialog.Segments(m.Body), urgent, s.cfg.Now(), deadline.Sub(s.cfg.Now()))
	if !ok {
		return "", errPaced
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return "", errPaced
		}
	}
	id, state, err := s.resolve(ctx, base, m.Attempts)
	if err != nil {
		return "", err
	}
	switch state {
	case StateSent, StateDelivered:
		s.cfg.Phone.sent(s.cfg.Now())
		return id, nil
	case "":
		msg := Message{ID: id, TextMessage: &TextMessage{Text: m.Body}, PhoneNumbers: []string{m.To},
			SimNumber: s.cfg.SIM, WithDeliveryReport: s.cfg.DeliveryReports}
		if s.cfg.TTL > 0 {
			msg.TTL = int64(s.cfg.TTL / time.Second)
		}
		if urgent {
			msg.Priority = PriorityBypass
		}
		w := s.cfg.Phone.expect(id)
		defer s.cfg.Phone.unexpect(id, w)
		err := s.cfg.Client.Send(ctx, msg)
		switch status := StatusOf(err); {
		case err == nil, status == http.StatusConflict:
			// Accepted now, or by an attempt whose answer was lost.
			s.cfg.Phone.Heard(s.cfg.Now())
		case status == http.StatusBadRequest:
			s.cfg.Phone.Heard(s.cfg.Now())
			return "", err
		default:
			s.cfg.Phone.failed()
			return "", err
		}
		return s.await(ctx, m.To, id, w)
	default: // accepted by an earlier attempt, not yet sent
		w := s.cfg.Phone.expect(id)
		defer s.cfg.Phone.unexpect(id, w)
		return s.await(ctx, m.To, id, w)
	}
}

// await waits for the phone's report on the message with the ID, asking
// for its state every Poll in case the report went elsewhere. Without a
// report by ctx's deadline the recipient's next message is held back until
// one comes (or OrderWait passes), and errAwaiting returned.
func (s *Sender) await(ctx context.Context, to, id string, w chan outcome) (string, error) {
	poll := time.NewTicker(s.cfg.Poll)
	defer poll.Stop()
	for {
		select {
		case o := <-w:
			return s.settle(id, o)
		case <-poll.C:
			st, err := s.cfg.Client.State(ctx, id)
			if err != nil {
				continue
			}
			switch st.State {
			case StateSent, StateDelivered:
				s.cfg.Phone.report(id, outcome{sent: true, at: s.cfg.Now()})
			case StateFailed:
				s.cfg.Phone.report(id, outcome{reason: recipientError(st), at: s.cfg.Now()})
			}
		case <-ctx.Done():
			s.mu.Lock()
			s.gates[to] = gate{id: id, at: s.cfg.Now()}
			s.mu.Unlock()
			s.cfg.Phone.failed()
			return "", errAwaiting
		}
	}
}

// settle turns the phone's report into the send's result.
func (s *Sender) settle(id string, o outcome) (string, error) {
	if o.sent {
		s.cfg.Phone.sent(s.cfg.Now())
		return id, nil
	}
	s.cfg.Phone.failed()
	reason := o.reason
	if reason == "" {
		reason = "no reason given"
	}
	return "", fmt.Errorf("the phone could not send it: %s", reason)
}

// awaitEarlier waits for the report on the recipient's earlier message
// that the phone accepted, if there is one: base is this message's ID, so
// that its own earlier attempt does not hold it back.
func (s *Sender) awaitEarlier(ctx context.Context, to, base string) error {
	s.mu.Lock()
	g, ok := s.gates[to]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	done := func() {
		s.mu.Lock()
		if s.gates[to] == g {
			delete(s.gates, to)
		}
		s.mu.Unlock()
	}
	if strings.HasPrefix(g.id, base) {
		done() // this very message: resolve finds where it stands
		return nil
	}
	if s.cfg.Now().Sub(g.at) > s.cfg.OrderWait {
		s.log.Warn("no report on an earlier sms; sending the next anyway", "to", bot.Mask(to), "message_id", g.id)
		done()
		return nil
	}
	w := s.cfg.Phone.expect(g.id)
	defer s.cfg.Phone.unexpect(g.id, w)
	select {
	case <-w:
		done()
		return nil
	case <-ctx.Done():
		return errOrder
	}
}

// maxGenerations bounds the message IDs one outbox message is tried with.
const maxGenerations = 10

// resolve finds the message ID this attempt uses and where that message
// stands on the phone ("" when it is not there yet). A first attempt uses
// the base ID. A retry looks for the latest ID the phone has: one it
// reported failed is used up, and the next is taken (base-1, base-2...);
// one it still holds or sent is waited for or done, not sent again.
func (s *Sender) resolve(ctx context.Context, base string, attempts int) (id, state string, err error) {
	for g := range maxGenerations {
		id = generation(base, g)
		if o, ok := s.cfg.Phone.known(id); ok {
			if o.sent {
				return id, StateSent, nil
			}
			continue
		}
		if attempts == 0 {
			return id, "", nil
		}
		st, err := s.cfg.Client.State(ctx, id)
		switch {
		case StatusOf(err) == http.StatusNotFound:
			return id, "", nil
		case err != nil:
			s.cfg.Phone.failed()
			return "", "", err
		case st.State == StateFailed:
			s.cfg.Phone.report(id, outcome{reason: recipientError(st), at: s.cfg.Now()})
			continue
		}
		return id, st.State, nil
	}
	return "", "", fmt.Errorf("the phone failed the message %d times", maxGenerations)
}

func recipientError(st MessageState) string {
	for _, r := range st.Recipients {
		if r.Error != nil {
			return scrub(*r.Error)
		}
	}
	return ""
}

// idPrefix starts every message ID aduan sends, so that the webhooks tell
// its messages from others the phone sends.
const idPrefix = "ad-"

// MessageID returns the gateway message ID of an outbox message: its
// outbox ID, and a hash of its recipient and body, so that an outbox ID
// used again (a database restored from a backup) is not taken for the
// message the phone already has. Every attempt at one outbox message uses
// it (or, after the phone failed it, it followed by -1, -2...).
func MessageID(m bot.Outbound) string {
	h := sha256.Sum256([]byte(m.To + "\x00" + m.Body))
	return idPrefix + strconv.FormatInt(m.ID, 36) + "-" + hex.EncodeToString(h[:4])
}

func generation(base string, g int) string {
	if g == 0 {
		return base
	}
	return base + "-" + strconv.Itoa(g)
}

// Ours reports whether a gateway message ID is one aduan sent.
func Ours(id string) bool { return strings.HasPrefix(id, idPrefix) }

// pacer spaces sends to stay under the phone's SMS limit: a token bucket
// of limit segments, refilled over period.
type pacer struct {
	limit  int
	period time.Duration

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// wait returns how long n segments would wait if reserved now, taking
// nothing.
func (p *pacer) wait(n int, now time.Time) time.Duration {
	if p.limit <= 0 || p.period <= 0 {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	tokens := float64(p.limit)
	if !p.last.IsZero() {
		tokens = min(p.tokens+float64(max(now.Sub(p.last), 0))*p.rate(), float64(p.limit))
	}
	if tokens >= float64(n) {
		return 0
	}
	return time.Duration((float64(n) - tokens) / p.rate())
}

func (p *pacer) rate() float64 { return float64(p.limit) / float64(p.period) }

// reserve takes n segments' tokens and returns how long to wait before
// sending. An urgent message never waits; another one whose wait would pass
// max takes nothing and gets false.
func (p *pacer) reserve(n int, urgent bool, now time.Time, max time.Duration) (time.Duration, bool) {
	if p.limit <= 0 || p.period <= 0 {
		return 0, true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := p.rate()
	if p.last.IsZero() {
		p.tokens, p.last = float64(p.limit), now
	} else if now.After(p.last) {
		p.tokens = min(p.tokens+float64(now.Sub(p.last))*rate, float64(p.limit))
		p.last = now
	}
	p.tokens -= float64(n)
	if p.tokens >= 0 || urgent {
		return 0, true
	}
	wait := time.Duration(-p.tokens / rate)
	if wait > max {
		p.tokens += float64(n)
		return 0, false
	}
	return wait, true
}
