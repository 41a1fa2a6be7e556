// Package webhook holds what the channels' webhook handlers share: the
// pipeline and the status recorder they hand messages and delivery reports
// to, the fixed answers to bad requests (which never echo input back), and
// the one place where a pipeline error becomes an HTTP status.
package webhook

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"aduan/bot"
)

// Pipeline is what a handler hands inbound messages to (bot.Service).
type Pipeline interface {
	// Handle processes m and returns once it is durably recorded. An error
	// of kind bot.Invalid means the message will never be accepted; any
	// other error means the provider should try again later.
	Handle(ctx context.Context, m bot.Inbound) error
}

// StatusRecorder stores a provider's delivery reports. bot.Store
// implements it.
type StatusRecorder interface {
	// RecordStatus stores a delivery report. Returns bot.NotFound if no
	// outbound message has the provider ID.
	RecordStatus(ctx context.Context, providerID, status string, at time.Time) error
}

// Fixed answers; errors never echo input back.
const (
	TextForbidden    = "forbidden\n"
	TextUnauthorized = "unauthorized\n"
	TextBadRequest   = "bad request\n"
	TextTooLarge     = "request too large\n"
	TextUnavailable  = "temporarily unavailable\n"
)

var (
	contentText = []string{"text/plain; charset=utf-8"}
	nosniff     = []string{"nosniff"}
	retryAfter1 = []string{"1"}
)

// Fail answers with code and one of the fixed texts.
func Fail(w http.ResponseWriter, code int, text string) {
	hd := w.Header()
	hd["Content-Type"] = contentText
	hd["X-Content-Type-Options"] = nosniff
	w.WriteHeader(code)
	w.Write([]byte(text))
}

// Unavailable answers 503 with Retry-After: 1: the provider is to send the
// request again later, when it may be stored.
func Unavailable(w http.ResponseWriter) {
	w.Header()["Retry-After"] = retryAfter1
	Fail(w, http.StatusServiceUnavailable, TextUnavailable)
}

// Deliver hands m to p and reports whether it was durably stored (or found
// to be a redelivery). When it was not, Deliver has answered the request
// and logged why: 400 for a message that will never be accepted
// (bot.Invalid), 503 otherwise, so that the provider retries. Only then
// may the caller answer 2xx: a provider that hears 2xx never sends the
// message again.
func Deliver(ctx context.Context, w http.ResponseWriter, log *slog.Logger, p Pipeline, m bot.Inbound) bool {
	err := p.Handle(ctx, m)
	if err == nil {
		if log.Enabled(ctx, slog.LevelDebug) {
			log.DebugContext(ctx, "inbound message stored", "sid", m.ExternalID, "channel", m.Channel, "from", bot.Mask(m.From))
		}
		return true
	}
	if bot.KindOf(err) == bot.Invalid {
		log.WarnContext(ctx, "inbound message rejected", "sid", m.ExternalID, "channel", m.Channel, "from", bot.Mask(m.From), "err", err)
		Fail(w, http.StatusBadRequest, TextBadRequest)
		return false
	}
	log.ErrorContext(ctx, "inbound message not processed", "sid", m.ExternalID, "channel", m.Channel, "from", bot.Mask(m.From), "err", err)
	Unavailable(w)
	return false
}
