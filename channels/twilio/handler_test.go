package twilio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
)

const (
	accountSID = "AC0123456789abcdef0123456789abcdef"
	authToken  = "0123456789abcdef0123456789abcdef"
	citizen    = "+6281337785111"
	service    = "+6281100000000"
	sid        = "SM0123456789abcdef0123456789abcdef"
)

var epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// The handler's pipeline and status recorder in these tests.
type (
	fakePipeline = channeltest.Pipeline
	fakeStatuses = channeltest.Statuses
	statusReport = channeltest.StatusReport
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type server struct {
	URL      string
	Pipeline *fakePipeline
	Statuses *fakeStatuses
	Log      *syncBuffer
	Client   *http.Client
}

// newServer runs the handler on a local server whose public URL is its own
// address, with fake pipeline and status recorder.
func newServer(t *testing.T, maxBody int64) *server {
	t.Helper()
	s := &server{Pipeline: &fakePipeline{}, Statuses: &fakeStatuses{}, Log: &syncBuffer{},
		Client: &http.Client{Transport: channeltest.LoopbackOnly(nil)}}
	mux := http.NewServeMux()
	srv := httptest.NewUnstartedServer(mux)
	srv.Start()
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	h := twilio.NewHandler(twilio.HandlerConfig{
		AuthToken: authToken,
		PublicURL: srv.URL + "/",
		Pipeline:  s.Pipeline,
		Statuses:  s.Statuses,
		Logger:    slog.New(slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return epoch },
		MaxBody:   maxBody,
	})
	h.Register(mux)
	return s
}

// signing says how a fixture's request is signed.
type signing int

const (
	signed     signing = iota
	unsigned           // no X-Twilio-Signature
	forged             // signed with another auth token
	otherURL           // signed for another URL
	wrongParam         // signed, then a parameter changed
	portless           // signed for the URL without its port, as Twilio sometimes does
)

type inboundCase struct {
	Label       string
	Method      string // default POST
	Form        url.Values
	RawBody     string // sent instead of Form when set
	Sign        signing
	PipelineErr error

	WantStatus  int
	WantText    string // text handed to the pipeline
	WantFrom    string
	WantTo      string
	WantChannel bot.Channel // empty: nothing reaches the pipeline
}

var inboundCases = []inboundCase{
	{Label: "valid sms", Form: channeltest.InboundForm(sid, citizen, service, "Lapor kekerasan di Borong"),
		WantStatus: 200, WantText: "Lapor kekerasan di Borong", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "valid whatsapp", Form: channeltest.InboundForm(sid, "whatsapp:"+citizen, "whatsapp:"+service, "halo"),
		WantStatus: 200, WantText: "halo", WantFrom: citizen, WantTo: service, WantChannel: bot.WhatsApp},
	{Label: "unicode and reserved characters", Form: channeltest.InboundForm(sid, citizen, service, "Tolong 🙏 & 100% = ya; +1"),
		WantStatus: 200, WantText: "Tolong 🙏 & 100% = ya; +1", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "signed without the port", Form: channeltest.InboundForm(sid, citizen, service, "halo"), Sign: portless,
		WantStatus: 200, WantText: "halo", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "forged signature", Form: channeltest.InboundForm(sid, citizen, service, "halo"), Sign: forged,
		WantStatus: 403},
	{Label: "missing signature", Form: channeltest.InboundForm(sid, citizen, service, "halo"), Sign: unsigned,
		WantStatus: 403},
	{Label: "signature for another url", Form: channeltest.InboundForm(sid, citizen, service, "halo"), Sign: otherURL,
		WantStatus: 403},
	{Label: "tampered parameter", Form: channeltest.InboundForm(sid, citizen, service, "halo"), Sign: wrongParam,
		WantStatus: 403},
	{Label: "missing MessageSid", Form: without(channeltest.InboundForm(sid, citizen, service, "halo"), "MessageSid"),
		WantStatus: 400},
	{Label: "missing From", Form: without(channeltest.InboundForm(sid, citizen, service, "halo"), "From"),
		WantStatus: 400},
	{Label: "bad NumMedia", Form: with(channeltest.InboundForm(sid, citizen, service, "halo"), "NumMedia", "x"),
		WantStatus: 400},
	{Label: "garbage body", RawBody: "MessageSid=%zz&From=%%%", WantStatus: 400},
	{Label: "semicolon body", RawBody: "MessageSid=SM1;From=x", WantStatus: 400},
	{Label: "oversized", Form: channeltest.InboundForm(sid, citizen, service, strings.Repeat("a", 5000)),
		WantStatus: 413},
	{Label: "pipeline invalid", Form: channeltest.InboundForm(sid, citizen, service, "halo"),
		PipelineErr: bot.E("test", bot.Invalid, errors.New("bad message")),
		WantStatus:  400, WantText: "halo", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "pipeline unavailable", Form: channeltest.InboundForm(sid, citizen, service, "halo"),
		PipelineErr: bot.E("test", bot.Unavailable, errors.New("redis down")),
		WantStatus:  503, WantText: "halo", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "pipeline other error", Form: channeltest.InboundForm(sid, citizen, service, "halo"),
		PipelineErr: errors.New("boom"),
		WantStatus:  503, WantText: "halo", WantFrom: citizen, WantTo: service, WantChannel: bot.SMS},
	{Label: "GET", Method: http.MethodGet, Form: channeltest.InboundForm(sid, citizen, service, "halo"),
		WantStatus: 405},
}

func without(f url.Values, key string) url.Values {
	delete(f, key)
	return f
}

func with(f url.Values, key, value string) url.Values {
	f.Set(key, value)
	return f
}

// maxBody is small enough for the oversized fixture and large enough for
// every other.
const maxBody = 4 << 10

func TestInbound(t *testing.T) {
	for _, c := range inboundCases {
		t.Run(c.Label, func(t *testing.T) { testInbound(t, c) })
	}
}

// signedRequest builds the request for a fixture against s at path.
func signedRequest(t *testing.T, s *server, path, method string, form url.Values, raw string, sign signing) *http.Request {
	t.Helper()
	req := channeltest.NewWebhookRequest(context.Background(), s.URL, s.URL, path, authToken, form)
	if method != "" {
		req.Method = method
	}
	if raw != "" {
		req.Body = io.NopCloser(strings.NewReader(raw))
		req.ContentLength = int64(len(raw))
	}
	switch sign {
	case unsigned:
		req.Header.Del("X-Twilio-Signature")
	case forged:
		req.Header.Set("X-Twilio-Signature", channeltest.Sign("ffffffffffffffffffffffffffffffff", s.URL+path, form))
	case otherURL:
		req.Header.Set("X-Twilio-Signature", channeltest.Sign(authToken, "https://elsewhere.example.org"+path, form))
	case portless:
		u, err := url.Parse(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		u.Host = u.Hostname()
		req.Header.Set("X-Twilio-Signature", channeltest.Sign(authToken, u.String(), form))
	case wrongParam:
		tampered := url.Values{}
		for k, v := range form {
			tampered[k] = v
		}
		tampered.Set("From", "+6281299999999")
		body := tampered.Encode()
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	return req
}

func testInbound(t *testing.T, c inboundCase) {
	t.Helper()
	s := newServer(t, maxBody)
	s.Pipeline.Err = c.PipelineErr

	req := signedRequest(t, s, twilio.InboundPath, c.Method, c.Form, c.RawBody, c.Sign)
	res, err := s.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.StatusCode, c.WantStatus; got != want {
		t.Fatalf("status = %d, want %d (body %q)", got, want, body)
	}

	switch {
	case res.StatusCode == http.StatusOK:
		if got, want := res.Header.Get("Content-Type"), "text/xml"; got != want {
			t.Fatalf("Content-Type = %q, want %q", got, want)
		}
		if got, want := string(body), `<?xml version="1.0" encoding="UTF-8"?><Response></Response>`; got != want {
			t.Fatalf("body = %q, want %q", got, want)
		}
	case res.StatusCode == http.StatusServiceUnavailable:
		if got, want := res.Header.Get("Retry-After"), "1"; got != want {
			t.Fatalf("Retry-After = %q, want %q", got, want)
		}
	}
	if res.StatusCode != http.StatusOK {
		// Error texts never echo input back.
		for _, secret := range []string{citizen, "halo", "MessageSid", "%zz"} {
			if bytes.Contains(body, []byte(secret)) {
				t.Fatalf("error body %q echoes %q", body, secret)
			}
		}
	}

	got := s.Pipeline.Received()
	if c.WantChannel == "" {
		if len(got) != 0 {
			t.Fatalf("pipeline received %d messages, want none", len(got))
		}
		return
	}
	if len(got) != 1 {
		t.Fatalf("pipeline received %d messages, want 1", len(got))
	}
	want := bot.Inbound{Channel: c.WantChannel, ExternalID: sid, From: c.WantFrom, To: c.WantTo,
		Text: c.WantText, Media: 0, Received: epoch}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("inbound = %+v, want %+v", got[0], want)
	}

	// Logs never carry numbers or bodies in clear.
	logs := s.Log.String()
	for _, secret := range []string{citizen, c.WantText} {
		if strings.Contains(logs, secret) {
			t.Fatalf("log %q contains %q", logs, secret)
		}
	}
}

func TestInboundMedia(t *testing.T) {
	s := newServer(t, 0)
	form := channeltest.InboundForm(sid, citizen, service, "")
	form.Set("NumMedia", "2")
	form.Set("MediaUrl0", "https://api.twilio.com/x/0")
	form.Set("MediaContentType0", "image/jpeg")
	res, err := s.Client.Do(channeltest.NewWebhookRequest(context.Background(), s.URL, s.URL, twilio.InboundPath, authToken, form))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got, want := res.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	got := s.Pipeline.Received()
	if len(got) != 1 || got[0].Media != 2 {
		t.Fatalf("inbound = %+v, want one with Media 2", got)
	}
}

type statusCase struct {
	Label      string
	Form       url.Values
	Sign       signing
	RecordErr  error
	WantStatus int
	WantReport bool
}

func statusForm(sid, status string) url.Values {
	return url.Values{
		"SmsSid": {sid}, "SmsStatus": {status}, "MessageStatus": {status}, "To": {citizen},
		"MessageSid": {sid}, "AccountSid": {accountSID}, "From": {service}, "ApiVersion": {"2010-04-01"},
	}
}

var statusCases = []statusCase{
	{Label: "delivered", Form: statusForm(sid, "delivered"), WantStatus: 200, WantReport: true},
	{Label: "unknown message", Form: statusForm(sid, "delivered"), RecordErr: bot.E("test", bot.NotFound, nil),
		WantStatus: 200, WantReport: true},
	{Label: "store down", Form: statusForm(sid, "delivered"), RecordErr: bot.E("test", bot.Unavailable, errors.New("down")),
		WantStatus: 503, WantReport: true},
	{Label: "forged", Form: statusForm(sid, "delivered"), Sign: forged, WantStatus: 403},
	{Label: "unsigned", Form: statusForm(sid, "delivered"), Sign: unsigned, WantStatus: 403},
	{Label: "missing status", Form: without(statusForm(sid, "delivered"), "MessageStatus"), WantStatus: 400},
	{Label: "missing sid", Form: without(statusForm(sid, "delivered"), "MessageSid"), WantStatus: 400},
}

func TestStatusCallback(t *testing.T) {
	for _, c := range statusCases {
		t.Run(c.Label, func(t *testing.T) {
			s := newServer(t, 0)
			s.Statuses.Err = c.RecordErr
			res, err := s.Client.Do(signedRequest(t, s, twilio.StatusPath, "", c.Form, "", c.Sign))
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if got, want := res.StatusCode, c.WantStatus; got != want {
				t.Fatalf("status = %d, want %d", got, want)
			}
			got := s.Statuses.Recorded()
			if !c.WantReport {
				if len(got) != 0 {
					t.Fatalf("recorded %v, want nothing", got)
				}
				return
			}
			want := statusReport{ProviderID: sid, Status: "delivered", At: epoch}
			if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Fatalf("recorded %v, want [%v]", got, want)
			}
			if n := len(s.Pipeline.Received()); n != 0 {
				t.Fatalf("pipeline received %d messages, want none", n)
			}
		})
	}
}

func TestNewHandlerPanics(t *testing.T) {
	cases := []struct {
		Label string
		Cfg   twilio.HandlerConfig
	}{
		{"empty token", twilio.HandlerConfig{PublicURL: "https://aduan.example.org", Pipeline: &fakePipeline{}}},
		{"empty public url", twilio.HandlerConfig{AuthToken: authToken, Pipeline: &fakePipeline{}}},
		{"nil pipeline", twilio.HandlerConfig{AuthToken: authToken, PublicURL: "https://aduan.example.org"}},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			defer func() {
				if r := recover(); r == nil {
					t.Fatalf("NewHandler did not panic")
				}
			}()
			twilio.NewHandler(c.Cfg)
		})
	}
}

type nopPipeline struct{}

func (nopPipeline) Handle(context.Context, bot.Inbound) error { return nil }

// discardWriter is a ResponseWriter that keeps only the status, so that the
// benchmark measures the handler rather than a recorder.
type discardWriter struct {
	h    http.Header
	code int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(code int)        { w.code = code }

func BenchmarkWebhook(b *testing.B) {
	const public = "https://aduan.example.org"
	mux := http.NewServeMux()
	twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: public, Pipeline: nopPipeline{}}).Register(mux)

	form := channeltest.InboundForm(sid, citizen, service, "Saya mau lapor kekerasan di Kecamatan Borong, tolong")
	req := channeltest.NewWebhookRequest(context.Background(), "http://127.0.0.1:8080", public, twilio.InboundPath, authToken, form)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		b.Fatal(err)
	}
	rd := bytes.NewReader(body)
	rc := io.NopCloser(rd)
	w := &discardWriter{h: http.Header{}}

	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		rd.Reset(body)
		req.Body = rc
		clear(w.h)
		w.code = 0
		mux.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status = %d, want 200", w.code)
		}
	}
}
