package smsgate

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"aduan/bot"
	"aduan/channels/webhook"
)

// Path is where the app posts its webhooks.
const Path = "/webhooks/smsgate"

// DefaultMaxBody is the largest webhook body accepted when
// HandlerConfig.MaxBody is zero: an SMS of many parts is a few KiB.
const DefaultMaxBody = 64 << 10

// DefaultMaxSkew is how far X-Timestamp may be from the clock when
// HandlerConfig.MaxSkew is zero. The app signs each attempt anew, so a
// redelivery days later still carries a fresh timestamp.
const DefaultMaxSkew = 5 * time.Minute

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// SigningKey is the key set in the app (Settings > Webhooks > Signing
	// Key). Required.
	SigningKey string
	// Pipeline receives inbound messages. Required.
	Pipeline webhook.Pipeline
	// Statuses records delivery reports; nil checks and acknowledges them
	// only.
	Statuses webhook.StatusRecorder
	// Phone hears every signed event and takes the sent and failed
	// reports of the messages aduan sent. Required.
	Phone *Phone
	// Normalize puts a phone number as the phone shows it (0813...,
	// 62813..., +62813...) in E.164; it returns "" for something that is
	// not a phone number. Nil takes numbers as they come.
	Normalize func(raw string) string
	Logger    *slog.Logger
	Now       func() time.Time
	MaxBody   int64         // zero means DefaultMaxBody
	MaxSkew   time.Duration // zero means DefaultMaxSkew
}

// Handler serves the app's webhooks at Path.
type Handler struct {
	cfg    HandlerConfig
	log    *slog.Logger
	verify *verifier
}

// NewHandler returns a Handler. It panics if the signing key is empty
// (every signature would be forgeable), or Pipeline or Phone is nil: wiring
// mistakes that config validation should have caught.
func NewHandler(cfg HandlerConfig) *Handler {
	switch {
	case cfg.SigningKey == "":
		panic("smsgate: NewHandler with empty SigningKey")
	case cfg.Pipeline == nil:
		panic("smsgate: NewHandler with nil Pipeline")
	case cfg.Phone == nil:
		panic("smsgate: NewHandler with nil Phone")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = DefaultMaxSkew
	}
	if cfg.Normalize == nil {
		cfg.Normalize = strings.TrimSpace
	}
	return &Handler{cfg: cfg, log: cfg.Logger.With("component", "smsgate"), verify: newVerifier(cfg.SigningKey)}
}

// Register installs the webhook (POST /webhooks/smsgate) on mux. It panics
// if mux already has the pattern.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+Path, h.serve)
}

var okBody = []byte("ok\n")

// bodies pools the buffers webhook bodies are read into.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serve checks a webhook's signature and timestamp and handles its event.
// A missing, bad or stale signature gets 401 and changes nothing; a body
// that is not the app's JSON 400; one too large 413. A message is answered
// 2xx only once it is stored, and 503 when it cannot be (the app retries).
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ts, sig := r.Header.Get("X-Timestamp"), r.Header.Get("X-Signature")
	if ts == "" || sig == "" {
		webhook.Fail(w, http.StatusUnauthorized, webhook.TextUnauthorized)
		return
	}
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer bodies.Put(buf)
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	body := buf.Bytes() // decoding copies what it keeps
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			webhook.Fail(w, http.StatusRequestEntityTooLarge, webhook.TextTooLarge)
		} else {
			webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		}
		return
	}
	now := h.cfg.Now()
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || !h.verify.valid(body, ts, sig) {
		h.log.WarnContext(ctx, "bad webhook signature", "path", r.URL.Path, "remote", r.RemoteAddr)
		webhook.Fail(w, http.StatusUnauthorized, webhook.TextUnauthorized)
		return
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > h.cfg.MaxSkew || -skew > h.cfg.MaxSkew {
		// Signed, but not now: a replay, or the phone's clock is wrong.
		h.log.WarnContext(ctx, "stale webhook timestamp", "skew", skew.Round(time.Second).String(), "remote", r.RemoteAddr)
		webhook.Fail(w, http.StatusUnauthorized, webhook.TextUnauthorized)
		return
	}
	var ev Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.Event == "" || ev.ID == "" {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return
	}
	h.cfg.Phone.Heard(now)
	switch ev.Event {
	case EventReceived:
		h.received(w, r, ev, now)
		return
	case EventSent, EventDelivered, EventFailed:
		if !h.status(w, r, ev, now) {
			return
		}
	case EventPing:
		if hl := ev.Payload.Health; hl != nil {
			h.log.DebugContext(ctx, "phone ping", "health", hl.Status, "battery", hl.Checks["battery:level"].ObservedValue)
		}
	default:
		h.log.DebugContext(ctx, "webhook event not handled", "event", ev.Event)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(okBody)
}

// received hands an inbound SMS to the pipeline. Its ExternalID is the
// event's ID, the same on every redelivery of this event; the payload's
// messageId is derived from the text and two identical replies share it.
func (h *Handler) received(w http.ResponseWriter, r *http.Request, ev Event, now time.Time) {
	p := ev.Payload
	from := h.cfg.Normalize(p.From())
	if from == "" {
		from = strings.TrimSpace(p.From())
	}
	if from == "" {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return
	}
	m := bot.Inbound{Channel: bot.SMS, ExternalID: ev.ID, From: from, Text: p.Message, Received: now}
	if p.Recipient != "" {
		m.To = h.cfg.Normalize(p.Recipient)
	}
	if !webhook.Deliver(r.Context(), w, h.log, h.cfg.Pipeline, m) {
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(okBody)
}

// status hands a sent, delivered or failed report of one of aduan's
// messages to the sender waiting for it, and records a delivered or failed
// one in the outbox (a sent one is recorded by the send it ends). It
// reports whether the request is still to be answered 200; when it
// answered otherwise itself, false.
func (h *Handler) status(w http.ResponseWriter, r *http.Request, ev Event, now time.Time) bool {
	p := ev.Payload
	if p.MessageID == "" {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return false
	}
	if !Ours(p.MessageID) {
		// Sent from the phone by hand, or by another program.
		h.log.DebugContext(r.Context(), "status of a message not aduan's", "event", ev.Event)
		return true
	}
	status := strings.TrimPrefix(ev.Event, "sms:")
	switch ev.Event {
	case EventSent:
		// The send waiting for it returns, and the outbox records the
		// message sent then: nothing to write here.
		h.cfg.Phone.report(p.MessageID, outcome{sent: true, at: now})
		return true
	case EventDelivered:
		h.cfg.Phone.report(p.MessageID, outcome{sent: true, at: now})
	case EventFailed:
		h.log.WarnContext(r.Context(), "sms not sent by the phone", "message_id", p.MessageID, "reason", scrub(p.Reason))
		h.cfg.Phone.report(p.MessageID, outcome{reason: scrub(p.Reason), at: now})
	}
	if h.cfg.Statuses == nil {
		return true
	}
	err := h.cfg.Statuses.RecordStatus(r.Context(), p.MessageID, status, now)
	switch {
	case err == nil:
	case bot.KindOf(err) == bot.NotFound && ev.Event == EventDelivered:
		// Delivered before the send that the phone reported sent is
		// recorded: the app tries again later, and it will be.
		h.log.DebugContext(r.Context(), "delivery report before the send is recorded", "message_id", p.MessageID)
		webhook.Unavailable(w)
		return false
	case bot.KindOf(err) == bot.NotFound:
		// Not yet recorded as sent (the sender records it once the phone
		// says sent), or given up on: the sender has the report.
		h.log.DebugContext(r.Context(), "status for a message not in the outbox as sent", "event", ev.Event, "message_id", p.MessageID)
	default:
		h.log.ErrorContext(r.Context(), "status not recorded", "event", ev.Event, "message_id", p.MessageID, "err", err)
		webhook.Unavailable(w)
		return false
	}
	return true
}
