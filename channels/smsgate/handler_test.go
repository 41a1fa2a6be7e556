package smsgate_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
	"aduan/internal/config"
)

const (
	signingKey = "tFq9-signing-key"
	citizen    = "+6281337785111"
)

var epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// The handler's pipeline and status recorder in these tests.
type (
	fakePipeline = channeltest.Pipeline
	fakeStatuses = channeltest.Statuses
)

// normalize is the channel's normalisation as serve wires it: the
// configuration's phone helper in region ID.
func normalize(raw string) string {
	p, err := config.NormalizePhone(raw, "ID")
	if err != nil {
		return ""
	}
	return p
}

type hookServer struct {
	URL      string
	Pipeline *fakePipeline
	Statuses *fakeStatuses
	Phone    *smsgate.Phone
	now      time.Time
}

// newHookServer serves the handler on loopback with a fake pipeline and
// status recorder; its clock stands at epoch.
func newHookServer(t *testing.T) *hookServer {
	t.Helper()
	s := &hookServer{Pipeline: &fakePipeline{}, Statuses: &fakeStatuses{}, now: epoch}
	clock := func() time.Time { return s.now }
	s.Phone = smsgate.NewPhone(smsgate.PhoneConfig{Now: clock})
	mux := http.NewServeMux()
	smsgate.NewHandler(smsgate.HandlerConfig{SigningKey: signingKey, Pipeline: s.Pipeline, Statuses: s.Statuses,
		Phone: s.Phone, Normalize: normalize, Now: clock, MaxBody: 4096,
		Logger: slog.New(slog.DiscardHandler)}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL + smsgate.Path
	return s
}

func (s *hookServer) post(t *testing.T, body []byte, at time.Time, tamper func(*http.Request)) int {
	t.Helper()
	req := channeltest.NewGatewayRequest(context.Background(), s.URL, signingKey, body, at)
	if tamper != nil {
		tamper(req)
	}
	res, err := (&http.Client{Transport: channeltest.LoopbackOnly(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func envelope(event, id string, payload any) []byte {
	b, _ := json.Marshal(map[string]any{"deviceId": "ffffffffceb0b1db", "event": event, "id": id,
		"payload": payload, "webhookId": "wh1"})
	return b
}

func received(from, text string) map[string]any {
	return map[string]any{"messageId": "abc123", "message": text, "phoneNumber": from, "simNumber": 1,
		"receivedAt": "2026-03-01T15:46:11.000+08:00"}
}

// TestInbound runs the webhook fixtures: each is posted to a fresh
// handler, and the status, and what reached the pipeline, checked.
func TestInbound(t *testing.T) {
	for _, tc := range []struct {
		Label      string
		Body       []byte
		At         time.Time // signed at; zero: the handler's now
		Tamper     func(*http.Request)
		WantStatus int
		WantText   string // of the one message handed on; "" for none
		WantFrom   string
	}{
		{Label: "national form", Body: envelope("sms:received", "ev1", received("081337785111", "halo")),
			WantStatus: 200, WantText: "halo", WantFrom: citizen},
		{Label: "country code without plus", Body: envelope("sms:received", "ev1", received("6281337785111", "1")),
			WantStatus: 200, WantText: "1", WantFrom: citizen},
		{Label: "E.164", Body: envelope("sms:received", "ev1", received("+6281337785111", "tolong")),
			WantStatus: 200, WantText: "tolong", WantFrom: citizen},
		{Label: "sender field of newer apps", Body: envelope("sms:received", "ev1",
			map[string]any{"messageId": "x", "message": "halo", "phoneNumber": "0813 3778 5111", "sender": "0813-3778-5111"}),
			WantStatus: 200, WantText: "halo", WantFrom: citizen},
		{Label: "the emulator's number, read in region ID", Body: envelope("sms:received", "ev1", received("6505551212", "hi")),
			WantStatus: 200, WantText: "hi", WantFrom: "+626505551212"},
		{Label: "not a phone number: kept as it came", Body: envelope("sms:received", "ev1", received(" TELKOMSEL ", "Promo")),
			WantStatus: 200, WantText: "Promo", WantFrom: "TELKOMSEL"},
		{Label: "no sender", Body: envelope("sms:received", "ev1", received("", "halo")), WantStatus: 400},
		{Label: "no event id", Body: envelope("sms:received", "", received(citizen, "halo")), WantStatus: 400},
		{Label: "not JSON", Body: []byte(`{"event":"sms:received",`), WantStatus: 400},
		{Label: "trailing data", Body: append(envelope("sms:received", "ev1", received(citizen, "halo")), '{'), WantStatus: 400},
		{Label: "payload of the wrong shape", Body: envelope("sms:received", "ev1", []int{1}), WantStatus: 400},
		{Label: "too large", Body: envelope("sms:received", "ev1", received(citizen, strings.Repeat("a", 5000))), WantStatus: 413},
		{Label: "no signature", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 401,
			Tamper: func(r *http.Request) { r.Header.Del("X-Signature") }},
		{Label: "no timestamp", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 401,
			Tamper: func(r *http.Request) { r.Header.Del("X-Timestamp") }},
		{Label: "forged signature", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 401,
			Tamper: func(r *http.Request) { r.Header.Set("X-Signature", strings.Repeat("0", 64)) }},
		{Label: "signed with another key", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 401,
			Tamper: func(r *http.Request) {
				b := envelope("sms:received", "ev1", received(citizen, "halo"))
				r.Header.Set("X-Signature", channeltest.SignGateway("other", b, r.Header.Get("X-Timestamp")))
			}},
		{Label: "timestamp changed after signing", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 401,
			Tamper: func(r *http.Request) { r.Header.Set("X-Timestamp", strconv.FormatInt(epoch.Unix()+1, 10)) }},
		{Label: "stale: signed six minutes ago", Body: envelope("sms:received", "ev1", received(citizen, "halo")),
			At: epoch.Add(-6 * time.Minute), WantStatus: 401},
		{Label: "from the future", Body: envelope("sms:received", "ev1", received(citizen, "halo")),
			At: epoch.Add(6 * time.Minute), WantStatus: 401},
		{Label: "signed four minutes ago", Body: envelope("sms:received", "ev1", received(citizen, "halo")),
			At: epoch.Add(-4 * time.Minute), WantStatus: 200, WantText: "halo", WantFrom: citizen},
		{Label: "upper-case hex signature", Body: envelope("sms:received", "ev1", received(citizen, "halo")), WantStatus: 200,
			WantText: "halo", WantFrom: citizen,
			Tamper: func(r *http.Request) { r.Header.Set("X-Signature", strings.ToUpper(r.Header.Get("X-Signature"))) }},
		{Label: "ping", Body: envelope("system:ping", "ev1", map[string]any{"health": map[string]any{"status": "pass"}}), WantStatus: 200},
		{Label: "an event aduan does not use", Body: envelope("mms:received", "ev1", map[string]any{"x": 1}), WantStatus: 200},
	} {
		t.Run(tc.Label, func(t *testing.T) {
			s := newHookServer(t)
			at := tc.At
			if at.IsZero() {
				at = s.now
			}
			if got := s.post(t, tc.Body, at, tc.Tamper); got != tc.WantStatus {
				t.Fatalf("status = %d, want %d", got, tc.WantStatus)
			}
			msgs := s.Pipeline.Received()
			if tc.WantText == "" {
				if len(msgs) != 0 {
					t.Fatalf("pipeline got %d messages, want none", len(msgs))
				}
				return
			}
			want := bot.Inbound{Channel: bot.SMS, ExternalID: "ev1", From: tc.WantFrom, Text: tc.WantText, Received: epoch}
			if len(msgs) != 1 || !reflect.DeepEqual(msgs[0], want) {
				t.Fatalf("pipeline got %+v, want %+v", msgs, want)
			}
		})
	}
}

// A refused or unsigned webhook is not a sign of life; a signed one is.
func TestOnlySignedEventsAreHeard(t *testing.T) {
	s := newHookServer(t)
	body := envelope("system:ping", "p1", map[string]any{"health": map[string]any{"status": "pass"}})
	s.post(t, body, s.now, func(r *http.Request) { r.Header.Set("X-Signature", "00") })
	if !s.Phone.LastHeard().IsZero() {
		t.Fatalf("a forged ping was heard")
	}
	if got := s.post(t, body, s.now, nil); got != 200 {
		t.Fatalf("ping: status %d", got)
	}
	if got := s.Phone.LastHeard(); !got.Equal(epoch) {
		t.Fatalf("last heard = %v, want %v", got, epoch)
	}
}

// Two identical replies ("1", "1") carry the same content-derived
// messageId but are two events: both must reach the pipeline. A
// redelivery of one event (same id) is handed on again, for the
// pipeline's dedupe to drop.
func TestDedupeKeyIsTheEventID(t *testing.T) {
	s := newHookServer(t)
	for _, id := range []string{"evA", "evB", "evA"} {
		if got := s.post(t, envelope("sms:received", id, received(citizen, "1")), s.now, nil); got != 200 {
			t.Fatalf("status %d", got)
		}
	}
	var ids []string
	for _, m := range s.Pipeline.Received() {
		ids = append(ids, m.ExternalID)
	}
	if strings.Join(ids, ",") != "evA,evB,evA" {
		t.Fatalf("external IDs = %v, want evA,evB,evA", ids)
	}
}

// The pipeline's answer decides: stored 200, never storable 400, anything
// else 503 so that the app retries.
func TestPipelineErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 200},
		{bot.E("handle", bot.Invalid, errors.New("bad")), 400},
		{bot.E("handle", bot.Unavailable, errors.New("postgres down")), 503},
		{bot.ErrStopped, 503},
	} {
		s := newHookServer(t)
		s.Pipeline.Err = tc.err
		if got := s.post(t, envelope("sms:received", "ev1", received(citizen, "halo")), s.now, nil); got != tc.want {
			t.Errorf("pipeline error %v: status %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestStatusReports(t *testing.T) {
	for _, tc := range []struct {
		Label      string
		Event, ID  string
		StoreErr   error
		WantStatus int
		Want       []string // "provider ID status"
	}{
		{"sent: recorded by the send it ends", "sms:sent", "ad-1-abcd", nil, 200, nil},
		{"delivered", "sms:delivered", "ad-1-abcd", nil, 200, []string{"ad-1-abcd delivered"}},
		{"failed", "sms:failed", "ad-1-abcd", nil, 200, []string{"ad-1-abcd failed"}},
		{"failed, not in the outbox as sent", "sms:failed", "ad-1-abcd", bot.E("record", bot.NotFound, errors.New("none")), 200,
			[]string{"ad-1-abcd failed"}},
		{"delivered before the send is recorded: the app is to try again", "sms:delivered", "ad-1-abcd",
			bot.E("record", bot.NotFound, errors.New("none")), 503, []string{"ad-1-abcd delivered"}},
		{"store down", "sms:delivered", "ad-1-abcd", bot.E("record", bot.Unavailable, errors.New("down")), 503,
			[]string{"ad-1-abcd delivered"}},
		{"not aduan's", "sms:sent", "PyDmBQZZXYmyxMwED8Fzy", nil, 200, nil},
		{"no message id", "sms:sent", "", nil, 400, nil},
	} {
		t.Run(tc.Label, func(t *testing.T) {
			s := newHookServer(t)
			s.Statuses.Err = tc.StoreErr
			body := envelope(tc.Event, "ev9", map[string]any{"messageId": tc.ID, "phoneNumber": citizen, "reason": "RESULT_ERROR_GENERIC_FAILURE"})
			if got := s.post(t, body, s.now, nil); got != tc.WantStatus {
				t.Fatalf("status = %d, want %d", got, tc.WantStatus)
			}
			var got []string
			for _, r := range s.Statuses.Recorded() {
				got = append(got, r.ProviderID+" "+r.Status)
			}
			if !reflect.DeepEqual(got, tc.Want) {
				t.Fatalf("recorded %q, want %q", got, tc.Want)
			}
		})
	}
}
