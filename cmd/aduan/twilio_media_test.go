package main

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"aduan/bot"
	"aduan/channels/channeltest"
)

// postTwilioWhatsApp sends a signed inbound webhook from Twilio's WhatsApp
// sender, with the extra parameters, and fails t unless it is taken.
func (h *harness) postTwilioWhatsApp(sid, from, body string, extra map[string]string) {
	h.t.Helper()
	form := channeltest.InboundForm(sid, "whatsapp:"+from, "whatsapp:"+serviceNum, body)
	for k, v := range extra {
		form.Set(k, v)
	}
	req := channeltest.NewWebhookRequest(context.Background(), h.web.URL, testPublic, "/webhooks/twilio", testToken, form)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("post: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		h.t.Fatalf("post: status %d, want 200", res.StatusCode)
	}
}

// TestTwilioWhatsAppPhotoKeptWithTicket follows a photo a citizen sends
// on Twilio's WhatsApp sender in the middle of a case report: the webhook
// fetches it from Twilio and, once the report is filed, it is among the
// ticket's files, as sent.
func TestTwilioWhatsAppPhotoKeptWithTicket(t *testing.T) {
	h := newHarness(t)
	wa := "whatsapp:" + citizen
	photo := append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{0x5a}, 6000)...)
	total := 0
	for i, m := range caseReport {
		total += m.replies
		h.postTwilioWhatsApp(h.sid(), citizen, m.text, nil)
		h.wait(wa, total)
		if i == 9 { // after the story: a photo, without a caption
			sid := h.sid()
			h.postTwilioWhatsApp(sid, citizen, "", map[string]string{"NumMedia": "1", "MessageType": "image",
				"MediaUrl0": h.twilio.AddMedia(sid, "image/jpeg", photo), "MediaContentType0": "image/jpeg"})
			total++
			h.wait(wa, total)
		}
	}
	total += 1 + 2 // the code, and one SMS to each of the two officers
	h.postTwilioWhatsApp(h.sid(), citizen, "ya", nil)
	got := h.wait(wa, total)
	code := findCode(got[len(got)-1])
	if code == "" {
		t.Fatalf("last reply %q has no ticket code", got[len(got)-1])
	}

	ctx := context.Background()
	files, err := h.srv.pg.Attachments(ctx, code)
	if err != nil || len(files) != 1 {
		t.Fatalf("the ticket's files = %+v, %v; want the photo", files, err)
	}
	f := files[0]
	if f.Kind != bot.FileImage || f.MIME != "image/jpeg" || f.Channel != bot.WhatsApp || f.Sender != citizen ||
		f.Size != len(photo) {
		t.Errorf("file = %+v, want the citizen's %d-byte JPEG on WhatsApp", f, len(photo))
	}
	kept, err := h.srv.pg.Attachment(ctx, f.ID)
	if err != nil || !bytes.Equal(kept.Data, photo) {
		t.Errorf("the kept file's data (%d bytes, %v) is not the photo", len(kept.Data), err)
	}
	if n := h.twilio.MediaStoreAuthorized(); n != 0 {
		t.Errorf("%d requests to Twilio's media store carried the credentials", n)
	}
	h.outboxDrained()
}
