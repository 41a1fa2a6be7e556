package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"aduan/internal/metrics"
)

// requestIDKey is the context key of a request's ID.
type requestIDKey struct{}

// withRequestID returns ctx carrying the request ID id.
func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// requestID returns the request ID ctx carries, or "".
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// contextHandler adds the request ID of the context a record is logged
// with (by InfoContext and the like) as request_id, so that every line
// about one webhook can be found together.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := requestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// withRequestIDs returns log with request IDs added from the context.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(contextHandler); ok {
		return log
	}
	return slog.New(contextHandler{log.Handler()})
}

// twilioRequestHeader carries Twilio's ID of a webhook request; Twilio
// repeats it when it retries the request.
const twilioRequestHeader = "I-Twilio-Idempotency-Token"

// newRequestID returns the request's own ID: Twilio's token when it has a
// sane one, a random one otherwise.
func newRequestID(r *http.Request) string {
	if id := r.Header.Get(twilioRequestHeader); len(id) >= 8 && len(id) <= 64 && isToken(id) {
		return id
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observeHTTP gives each request an ID (in its context, for the logs, and
// in the X-Request-Id response header), counts it in m by the method and
// path of the mux pattern that matched, and logs it at debug level. It
// logs no query, no body and no remote address.
func observeHTTP(next http.Handler, mux *http.ServeMux, m *metrics.Metrics, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID(r)
		r = r.WithContext(withRequestID(r.Context(), id))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		pattern := r.Pattern
		if pattern == "" { // refused before routing, or no route
			_, pattern = mux.Handler(r)
		}
		method, path := routeLabels(pattern, r.Method)
		took := time.Since(start)
		m.ObserveHTTP(method, path, sw.code, took)
		log.DebugContext(r.Context(), "http request", "method", method, "path", path, "status", sw.code, "took", took)
	})
}

// routeLabels splits a ServeMux pattern ("POST /webhooks/twilio") into
// the method and path of the metrics' labels. A pattern without a method
// takes the request's, when it is a usual one; no pattern is path "other".
// Neither ever holds what a client chose freely.
func routeLabels(pattern, reqMethod string) (method, path string) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		method, path = "", pattern
	}
	if method == "" {
		switch reqMethod {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions:
			method = reqMethod
		default:
			method = "other"
		}
	}
	if path == "" {
		path = "other"
	}
	return method, path
}
