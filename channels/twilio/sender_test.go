package twilio_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
)

// loopbackClient never lets a sender leave the machine.
var loopbackClient = &http.Client{Transport: channeltest.LoopbackOnly(nil), Timeout: 10 * time.Second}

func newSender(t *testing.T, apiURL, token, callback string) *twilio.Sender {
	t.Helper()
	s, err := twilio.NewSender(twilio.SenderConfig{
		AccountSID:        accountSID,
		AuthToken:         token,
		From:              service,
		APIURL:            apiURL,
		StatusCallbackURL: callback,
		HTTPClient:        loopbackClient,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type outboundCase struct {
	Label    string
	Msg      bot.Outbound
	Callback string

	WantTo   string
	WantFrom string
}

var outboundCases = []outboundCase{
	{Label: "sms", Msg: bot.Outbound{ID: 1, Channel: bot.SMS, To: citizen, Body: "Laporan Anda diterima: K-0001"},
		Callback: "https://aduan.example.org/webhooks/twilio/status",
		WantTo:   citizen, WantFrom: service},
	{Label: "whatsapp", Msg: bot.Outbound{ID: 2, Channel: bot.WhatsApp, To: citizen, Body: "Terima kasih 🙏"},
		WantTo: "whatsapp:" + citizen, WantFrom: "whatsapp:" + service},
}

func TestSend(t *testing.T) {
	for _, c := range outboundCases {
		t.Run(c.Label, func(t *testing.T) {
			fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
			s := newSender(t, fake.URL(), authToken, c.Callback)
			id, err := s.Send(context.Background(), c.Msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := fake.Messages()
			if len(msgs) != 1 {
				t.Fatalf("fake received %d messages, want 1", len(msgs))
			}
			m := msgs[0]
			if id != m.SID {
				t.Fatalf("provider ID = %q, want %q", id, m.SID)
			}
			want := channeltest.SentMessage{SID: m.SID, AccountSID: accountSID, To: c.WantTo, From: c.WantFrom,
				Body: c.Msg.Body, StatusCallback: c.Callback, At: m.At}
			if m != want {
				t.Fatalf("fake received %+v, want %+v", m, want)
			}
		})
	}
}

func TestSendErrors(t *testing.T) {
	cases := []struct {
		Label    string
		Status   int
		Code     int
		WantKind bot.ErrorKind
	}{
		{"invalid number", 400, 21211, bot.Permanent},
		{"opted out", 400, 21610, bot.Permanent},
		{"not mobile", 400, 21614, bot.Permanent},
		{"other 4xx", 404, 20404, bot.Permanent},
		{"throttled", 429, 20429, bot.Temporary},
		{"server error", 500, 20500, bot.Temporary},
		{"unavailable", 503, 20503, bot.Temporary},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
			fake.FailNext(1, c.Status, c.Code)
			s := newSender(t, fake.URL(), authToken, "")
			_, err := s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
			if got, want := bot.KindOf(err), c.WantKind; got != want {
				t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
			}
			if strings.Contains(err.Error(), citizen) {
				t.Fatalf("error %q contains the recipient's number", err)
			}
			if n := fake.Count(); n != 0 {
				t.Fatalf("fake accepted %d messages, want 0", n)
			}
			// The failure was one-off: the next attempt goes through.
			if _, err := s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"}); err != nil {
				t.Fatalf("second Send: %v", err)
			}
		})
	}
}

func TestSendWrongCredentials(t *testing.T) {
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	s := newSender(t, fake.URL(), "ffffffffffffffffffffffffffffffff", "")
	_, err := s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
	// Retried rather than failed for good: fixing the config lets it through.
	if got, want := bot.KindOf(err), bot.Temporary; got != want {
		t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
	}
	if n := fake.Count(); n != 0 {
		t.Fatalf("fake accepted %d messages, want 0", n)
	}
}

func TestSendUndecodableError(t *testing.T) {
	cases := []struct {
		Label    string
		Status   int
		WantKind bot.ErrorKind
	}{
		{"bad gateway page", http.StatusBadGateway, bot.Temporary},
		{"bad request page", http.StatusBadRequest, bot.Permanent},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(c.Status)
				w.Write([]byte("<html>nope</html>"))
			}))
			t.Cleanup(srv.Close)
			s := newSender(t, srv.URL, authToken, "")
			_, err := s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
			if got, want := bot.KindOf(err), c.WantKind; got != want {
				t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
			}
		})
	}
}

func TestSendConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := newSender(t, "http://"+addr, authToken, "")
	_, err = s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
	if got, want := bot.KindOf(err), bot.Temporary; got != want {
		t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
	}
}

func TestSendHonoursContext(t *testing.T) {
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // lets the server notice the client leaving
		close(arrived)
		select { // never answers; the client gives up
		case <-r.Context().Done():
		case <-time.After(10 * time.Second): // a bound, so that a broken client cannot hang the suite
		}
	}))
	t.Cleanup(srv.Close)
	s := newSender(t, srv.URL, authToken, "")

	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := s.Send(ctx, bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
	if got, want := bot.KindOf(err), bot.Temporary; got != want {
		t.Fatalf("kind = %v, want %v (err %v)", got, want, err)
	}
}

func TestSendRefusesOtherChannels(t *testing.T) {
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	s := newSender(t, fake.URL(), authToken, "")
	for _, m := range []bot.Outbound{
		{Channel: bot.Console, To: citizen, Body: "halo"},
		{Channel: bot.SMS, To: "", Body: "halo"},
	} {
		_, err := s.Send(context.Background(), m)
		if got, want := bot.KindOf(err), bot.Permanent; got != want {
			t.Fatalf("Send(%+v) kind = %v, want %v", m, got, want)
		}
	}
	if n := fake.Count(); n != 0 {
		t.Fatalf("fake accepted %d messages, want 0", n)
	}
}

func TestNewSenderValidates(t *testing.T) {
	good := twilio.SenderConfig{AccountSID: accountSID, AuthToken: authToken, From: service}
	cases := []struct {
		Label string
		Edit  func(*twilio.SenderConfig)
	}{
		{"empty sid", func(c *twilio.SenderConfig) { c.AccountSID = "" }},
		{"token with symbols", func(c *twilio.SenderConfig) { c.AuthToken = "abc-def" }},
		{"empty from", func(c *twilio.SenderConfig) { c.From = "" }},
		{"relative api url", func(c *twilio.SenderConfig) { c.APIURL = "127.0.0.1:8080" }},
		{"api url with path", func(c *twilio.SenderConfig) { c.APIURL = "http://127.0.0.1:8080/twilio" }},
		{"bad callback", func(c *twilio.SenderConfig) { c.StatusCallbackURL = "/webhooks/twilio/status" }},
	}
	if _, err := twilio.NewSender(good); err != nil {
		t.Fatalf("NewSender(good) = %v, want nil", err)
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			cfg := good
			c.Edit(&cfg)
			if _, err := twilio.NewSender(cfg); bot.KindOf(err) != bot.Invalid {
				t.Fatalf("NewSender error = %v, want an Invalid error", err)
			}
		})
	}
}

// TestStatusRoundTrip sends through the fake Twilio with a status callback
// pointing at the handler, and has the fake report delivery as Twilio does.
func TestStatusRoundTrip(t *testing.T) {
	hs := newServer(t, 0)
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	s := newSender(t, fake.URL(), authToken, hs.URL+twilio.StatusPath)

	id, err := s.Send(context.Background(), bot.Outbound{Channel: bot.SMS, To: citizen, Body: "halo"})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := fake.WaitFor(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := fake.SendStatus(context.Background(), msgs[0], "delivered"); err != nil {
		t.Fatal(err)
	}
	got := hs.Statuses.Recorded()
	want := statusReport{ProviderID: id, Status: "delivered", At: epoch}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("recorded %v, want [%v]", got, want)
	}
}

func BenchmarkSend(b *testing.B) {
	fake := channeltest.NewFakeTwilio(b, accountSID, authToken)
	s, err := twilio.NewSender(twilio.SenderConfig{AccountSID: accountSID, AuthToken: authToken, From: service,
		APIURL: fake.URL(), StatusCallbackURL: "https://aduan.example.org/webhooks/twilio/status",
		HTTPClient: loopbackClient})
	if err != nil {
		b.Fatal(err)
	}
	m := bot.Outbound{Channel: bot.SMS, To: citizen, Body: "Laporan Anda diterima dengan kode K-0001. Petugas akan menghubungi Anda."}
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Send(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
