package twilio_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
)

// TestWhatsAppRoundTrip follows one message through Twilio's WhatsApp
// sender: the webhook hands the pipeline a WhatsApp message from the bare
// number (the same contact as on SMS), a reply to it goes out on the
// whatsapp: address from the service's whatsapp: number, and Twilio's
// WhatsApp-only "read" report is recorded.
func TestWhatsAppRoundTrip(t *testing.T) {
	pipeline, statuses := &fakePipeline{}, &fakeStatuses{}
	mux := http.NewServeMux()
	web := httptest.NewServer(mux)
	t.Cleanup(web.Close)
	twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: web.URL, Pipeline: pipeline,
		Statuses: statuses, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return epoch }}).Register(mux)
	client := &http.Client{Transport: channeltest.LoopbackOnly(nil)}
	post := func(path string, form map[string]string) int {
		t.Helper()
		f := channeltest.InboundForm(sid, "whatsapp:"+citizen, "whatsapp:"+service, "")
		for k, v := range form {
			f.Set(k, v)
		}
		res, err := client.Do(channeltest.NewWebhookRequest(context.Background(), web.URL, web.URL, path, authToken, f))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	// A photo with a caption, as Twilio's WhatsApp sender posts it.
	if got := post(twilio.InboundPath, map[string]string{"Body": "foto luka", "NumMedia": "1", "MessageType": "image",
		"MediaContentType0": "image/jpeg", "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0"}); got != 200 {
		t.Fatalf("inbound status = %d, want 200", got)
	}
	msgs := pipeline.Received()
	if len(msgs) != 1 {
		t.Fatalf("pipeline got %d messages, want 1", len(msgs))
	}
	in := msgs[0]
	want := bot.Inbound{Channel: bot.WhatsApp, ExternalID: sid, From: citizen, To: service, Text: "foto luka", Media: 1, Received: epoch}
	if !reflect.DeepEqual(in, want) {
		t.Errorf("inbound = %+v, want %+v", in, want)
	}

	// The reply goes back on the channel and address the message came from.
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	s := newSender(t, fake.URL(), authToken, web.URL+twilio.StatusPath)
	id, err := s.Send(context.Background(), bot.Outbound{ID: 1, Channel: in.Channel, To: in.From, Body: "Terima kasih", Purpose: bot.PurposeReply})
	if err != nil {
		t.Fatalf("Send = %v", err)
	}
	sent := fake.Messages()
	if len(sent) != 1 || sent[0].To != "whatsapp:"+citizen || sent[0].From != "whatsapp:"+service || sent[0].SID != id {
		t.Fatalf("Twilio got %+v, want one message to whatsapp:%s from whatsapp:%s", sent, citizen, service)
	}
	if err := fake.SendStatus(context.Background(), sent[0], "read"); err != nil {
		t.Fatalf("status callback: %v", err)
	}
	reports := statuses.Recorded()
	if len(reports) != 1 || reports[0].ProviderID != id || reports[0].Status != "read" {
		t.Errorf("reports = %+v, want %s read", reports, id)
	}
}
