// Package twilio is the SMS channel (and Twilio's WhatsApp sender): it turns
// Twilio's inbound webhooks into bot.Inbound messages, with their
// attachments and shared locations, records delivery reports, and sends
// bot.Outbound messages through Twilio's REST API.
package twilio

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"aduan/bot"
	"aduan/channels/webhook"

	twclient "github.com/twilio/twilio-go/client"
)

// Paths of the webhooks Register installs.
const (
	InboundPath = "/webhooks/twilio"
	StatusPath  = "/webhooks/twilio/status"
)

// DefaultMaxBody is the largest webhook body accepted when
// HandlerConfig.MaxBody is zero. Twilio's inbound SMS forms are under 2 KiB.
const DefaultMaxBody = 64 << 10

// whatsappPrefix marks addresses on Twilio's WhatsApp sender.
const whatsappPrefix = "whatsapp:"

// Pipeline is what the handler hands inbound messages to.
type Pipeline = webhook.Pipeline

// StatusRecorder stores Twilio's delivery reports. bot.Store implements it.
type StatusRecorder = webhook.StatusRecorder

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// AuthToken is the Twilio auth token that signs webhooks. Required.
	AuthToken string
	// PublicURL is the scheme and host Twilio calls, as configured in
	// Twilio's console (e.g. https://aduan.example.org). Signatures cover the
	// full URL, so it must match exactly what Twilio was told. A trailing
	// slash is ignored.
	PublicURL string
	// Pipeline receives inbound messages. Required.
	Pipeline Pipeline
	// Statuses records delivery reports. When nil, reports are checked and
	// acknowledged but not recorded.
	Statuses StatusRecorder
	// Logger receives errors; nil discards them.
	Logger *slog.Logger
	// Now stamps inbound messages; nil means time.Now.
	Now func() time.Time
	// MaxBody limits webhook bodies in bytes; zero means DefaultMaxBody.
	MaxBody int64
	// Media fetches the attachments of inbound messages, which are then
	// handed on in bot.Inbound.Files. When nil they are only counted.
	Media *MediaFetcher
}

// Handler serves Twilio's inbound message webhook and status callback.
type Handler struct {
	validator twclient.RequestValidator
	macs      sync.Pool // of *signer
	publicURL string
	pipeline  Pipeline
	statuses  StatusRecorder
	log       *slog.Logger
	now       func() time.Time
	maxBody   int64
	media     *MediaFetcher
}

// NewHandler returns a Handler for cfg. It panics if cfg.AuthToken is empty
// (every signature would be forgeable), cfg.PublicURL is empty (no
// signature would ever match) or cfg.Pipeline is nil: all wiring mistakes
// that config validation should have caught.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.AuthToken == "" {
		panic("twilio: NewHandler with empty AuthToken")
	}
	if cfg.PublicURL == "" {
		panic("twilio: NewHandler with empty PublicURL")
	}
	if cfg.Pipeline == nil {
		panic("twilio: NewHandler with nil Pipeline")
	}
	key := []byte(cfg.AuthToken)
	h := &Handler{
		validator: twclient.NewRequestValidator(cfg.AuthToken),
		publicURL: strings.TrimRight(cfg.PublicURL, "/"),
		pipeline:  cfg.Pipeline,
		statuses:  cfg.Statuses,
		log:       cfg.Logger,
		now:       cfg.Now,
		maxBody:   cfg.MaxBody,
		media:     cfg.Media,
	}
	h.macs.New = func() any { return &signer{mac: hmac.New(sha1.New, key)} }
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("component", "twilio")
	if h.now == nil {
		h.now = time.Now
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	return h
}

// Register installs the inbound webhook (POST /webhooks/twilio) and the
// status callback (POST /webhooks/twilio/status) on mux. Other methods on
// those paths get 405 from mux. It panics if mux already has these patterns.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+InboundPath, h.serveInbound)
	mux.HandleFunc("POST "+StatusPath, h.serveStatus)
}

// The answer to a stored message; errors are webhook's fixed texts.
var (
	emptyTwiML = []byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`)
	contentXML = []string{"text/xml"}
)

func (h *Handler) serveInbound(w http.ResponseWriter, r *http.Request) {
	params, ok := h.verified(w, r)
	if !ok {
		return
	}
	sid, from := params["MessageSid"], params["From"]
	if sid == "" || from == "" {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return
	}
	media := 0
	if s := params["NumMedia"]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
			return
		}
		media = n
	}
	m := bot.Inbound{
		Channel:    bot.SMS,
		ExternalID: sid,
		From:       from,
		To:         params["To"],
		Text:       params["Body"],
		Media:      media,
		Received:   h.now(),
	}
	if f, ok := strings.CutPrefix(m.From, whatsappPrefix); ok {
		m.Channel = bot.WhatsApp
		m.From = f
		m.To = strings.TrimPrefix(m.To, whatsappPrefix)
	}
	if media > 0 && h.media != nil {
		m.Files = h.files(r.Context(), sid, params, media)
	}
	if params["Latitude"] != "" {
		// A location shared on Twilio's WhatsApp sender.
		if text, f, ok := location(params, m.Text); ok {
			m.Text = text
			m.Files = append(m.Files, f)
		} else {
			h.log.WarnContext(r.Context(), "inbound location not understood", "sid", sid, "channel", m.Channel)
		}
	}

	if !webhook.Deliver(r.Context(), w, h.log, h.pipeline, m) {
		return
	}
	w.Header()["Content-Type"] = contentXML
	w.WriteHeader(http.StatusOK)
	w.Write(emptyTwiML)
}

func (h *Handler) serveStatus(w http.ResponseWriter, r *http.Request) {
	params, ok := h.verified(w, r)
	if !ok {
		return
	}
	sid, status := params["MessageSid"], params["MessageStatus"]
	if sid == "" || status == "" {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return
	}
	if h.statuses != nil {
		err := h.statuses.RecordStatus(r.Context(), sid, status, h.now())
		switch {
		case err == nil:
		case bot.KindOf(err) == bot.NotFound:
			// Nothing of ours: acknowledge so that Twilio does not retry.
			h.log.DebugContext(r.Context(), "status for unknown message", "sid", sid, "status", status)
		default:
			h.log.ErrorContext(r.Context(), "status not recorded", "sid", sid, "status", status, "err", err)
			webhook.Unavailable(w)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// verified reads the form body of r and checks its X-Twilio-Signature. It
// returns the first value of each parameter, or writes an error response
// (403, 413 or 400) and returns false.
func (h *Handler) verified(w http.ResponseWriter, r *http.Request) (map[string]string, bool) {
	sig := r.Header.Get("X-Twilio-Signature")
	if sig == "" {
		webhook.Fail(w, http.StatusForbidden, webhook.TextForbidden)
		return nil, false
	}
	if !isForm(r.Header.Get("Content-Type")) {
		webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		return nil, false
	}
	params, err := readForm(w, r, h.maxBody)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			webhook.Fail(w, http.StatusRequestEntityTooLarge, webhook.TextTooLarge)
		} else {
			webhook.Fail(w, http.StatusBadRequest, webhook.TextBadRequest)
		}
		return nil, false
	}
	if !h.validSignature(h.publicURL+r.URL.RequestURI(), params, sig) {
		h.log.WarnContext(r.Context(), "bad webhook signature", "path", r.URL.Path, "remote", r.RemoteAddr)
		webhook.Fail(w, http.StatusForbidden, webhook.TextForbidden)
		return nil, false
	}
	return params, true
}

// validSignature reports whether sig is Twilio's signature of url and
// params. twilio-go's RequestValidator is the authority; it is also slow on
// this hot path (about 100 allocations: it signs two spellings of the URL,
// with and without the port, building strings param by param). The URL as
// given is always one of those two spellings, so signing it once here and
// accepting on a match accepts nothing the validator would refuse; anything
// else goes to the validator, which also tries the other spelling.
func (h *Handler) validSignature(url string, params map[string]string, sig string) bool {
	s := h.macs.Get().(*signer)
	ok := s.matches(url, params, sig)
	h.macs.Put(s)
	return ok || h.validator.Validate(url, params, sig)
}

// signer computes Twilio signatures with reusable buffers.
type signer struct {
	mac  hash.Hash
	keys []string
	buf  []byte
	sum  [sha1.Size]byte
	b64  [28]byte // base64 of a SHA-1 sum
}

// matches reports whether sig is the base64 HMAC-SHA1 of url followed by
// each parameter's name and value, sorted by name.
func (s *signer) matches(url string, params map[string]string, sig string) bool {
	if len(sig) != len(s.b64) {
		return false
	}
	s.keys = s.keys[:0]
	for k := range params {
		s.keys = append(s.keys, k)
	}
	slices.Sort(s.keys)
	s.buf = append(s.buf[:0], url...)
	for _, k := range s.keys {
		s.buf = append(s.buf, k...)
		s.buf = append(s.buf, params[k]...)
	}
	s.mac.Reset()
	s.mac.Write(s.buf)
	base64.StdEncoding.Encode(s.b64[:], s.mac.Sum(s.sum[:0]))
	if cap(s.buf) > 64<<10 {
		s.buf = nil // do not pin a huge body in the pool
	}
	return subtle.ConstantTimeCompare(s.b64[:], []byte(sig)) == 1
}

// isForm reports whether ct is application/x-www-form-urlencoded, with or
// without parameters.
func isForm(ct string) bool {
	const form = "application/x-www-form-urlencoded"
	if ct == form {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == form
}

var bufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errForm is returned for a body that is not a well-formed URL-encoded form.
var errForm = errors.New("malformed form")

// readForm reads r's URL-encoded body, at most max bytes, into a map of the
// first value of each parameter: the shape the signature validator takes.
// It parses as url.ParseQuery does (rejecting semicolons and bad escapes)
// without building a url.Values, and reads through a pooled buffer. An
// over-long body gives an *http.MaxBytesError.
func readForm(w http.ResponseWriter, r *http.Request, max int64) (map[string]string, error) {
	buf := bufs.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufs.Put(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max)); err != nil {
		return nil, err
	}
	// One copy: parameters are substrings of it.
	s := buf.String()
	params := make(map[string]string, 24)
	for s != "" {
		var kv string
		kv, s, _ = strings.Cut(s, "&")
		if strings.Contains(kv, ";") {
			return nil, errForm
		}
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		k, err := unescape(k)
		if err != nil {
			return nil, errForm
		}
		v, err = unescape(v)
		if err != nil {
			return nil, errForm
		}
		if _, dup := params[k]; !dup {
			params[k] = v
		}
	}
	return params, nil
}

// unescape decodes a form component, allocating only when it has escapes.
func unescape(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 && strings.IndexByte(s, '+') < 0 {
		return s, nil
	}
	return url.QueryUnescape(s)
}
