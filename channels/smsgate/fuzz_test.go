package smsgate_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
)

// FuzzEvent posts arbitrary bodies, correctly signed, to the handler: it
// must never panic, answer only with its fixed statuses, and hand the
// pipeline only messages with a sender and the event's ID.
func FuzzEvent(f *testing.F) {
	f.Add(envelope("sms:received", "ev1", received("081337785111", "halo")))
	f.Add(envelope("sms:received", "ev1", received("+62 813-3778-5111", "tolong\u202e\x00")))
	f.Add(envelope("sms:sent", "ev2", map[string]any{"messageId": "ad-1-abcd", "phoneNumber": citizen}))
	f.Add(envelope("sms:failed", "ev3", map[string]any{"messageId": "ad-1-abcd", "reason": "RESULT_ERROR_LIMIT_EXCEEDED +6281337785111"}))
	f.Add(envelope("system:ping", "ev4", map[string]any{"health": map[string]any{"status": "fail", "checks": map[string]any{"x": 1}}}))
	f.Add([]byte(`{"event":"sms:received","id":"x","payload":null}`))
	f.Add([]byte(`{"event":"sms:received","id":"x","payload":{"sender":123}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		pipeline := &fakePipeline{}
		now := epoch
		h := smsgate.NewHandler(smsgate.HandlerConfig{SigningKey: signingKey, Pipeline: pipeline, Statuses: &fakeStatuses{},
			Phone: smsgate.NewPhone(smsgate.PhoneConfig{Now: func() time.Time { return now }}), Normalize: normalize,
			Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
		mux := http.NewServeMux()
		h.Register(mux)
		ts := strconv.FormatInt(now.Unix(), 10)
		req := httptest.NewRequest(http.MethodPost, smsgate.Path, bytes.NewReader(body))
		req.Header.Set("X-Timestamp", ts)
		req.Header.Set("X-Signature", channeltest.SignGateway(signingKey, body, ts))
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 413, 503:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code != 200 && rec.Code != 503 && len(pipeline.Received()) > 0 {
			t.Fatalf("status %d, yet the pipeline got a message", rec.Code)
		}
		for _, m := range pipeline.Received() {
			if m.From == "" || m.ExternalID == "" {
				t.Fatalf("handed on %+v", m)
			}
		}
		// Signed with another key, the same body changes nothing.
		bad := &fakePipeline{}
		h2 := smsgate.NewHandler(smsgate.HandlerConfig{SigningKey: "other", Pipeline: bad,
			Phone: smsgate.NewPhone(smsgate.PhoneConfig{}), Now: func() time.Time { return now }})
		mux2 := http.NewServeMux()
		h2.Register(mux2)
		req2 := httptest.NewRequest(http.MethodPost, smsgate.Path, bytes.NewReader(body))
		req2.Header.Set("X-Timestamp", ts)
		req2.Header.Set("X-Signature", req.Header.Get("X-Signature"))
		rec2 := httptest.NewRecorder()
		mux2.ServeHTTP(rec2, req2)
		if rec2.Code != 401 && rec2.Code != 413 || len(bad.Received()) != 0 {
			t.Fatalf("forged: status %d, %d messages", rec2.Code, len(bad.Received()))
		}
	})
}
