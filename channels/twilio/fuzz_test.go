package twilio_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
)

// fuzzPipeline records what the webhook hands on.
type fuzzPipeline struct {
	mu   sync.Mutex
	msgs []bot.Inbound
}

func (p *fuzzPipeline) Handle(_ context.Context, m bot.Inbound) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.msgs = append(p.msgs, m)
	return nil
}

const fuzzPublic = "https://aduan.example.go.id"

// fuzzHandler returns the webhook handler on a fresh pipeline.
func fuzzHandler() (http.Handler, *fuzzPipeline) {
	p := &fuzzPipeline{}
	mux := http.NewServeMux()
	twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: fuzzPublic, Pipeline: p,
		MaxBody: 4 << 10}).Register(mux)
	return mux, p
}

// post sends body to the inbound webhook with the signature sig and
// returns the response.
func fuzzPost(h http.Handler, body, sig string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, twilio.InboundPath, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("X-Twilio-Signature", sig)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// fixedTexts are every body the webhook answers with: it never echoes
// input.
var fixedTexts = map[string]bool{"forbidden\n": true, "bad request\n": true, "request too large\n": true,
	"temporarily unavailable\n": true, "": true}

// checkAnswer fails t if the response is not one the webhook may give.
func checkAnswer(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	switch w.Code {
	case http.StatusOK:
		if !strings.Contains(w.Body.String(), "<Response></Response>") {
			t.Fatalf("200 with body %q, want empty TwiML", w.Body)
		}
	case http.StatusBadRequest, http.StatusForbidden, http.StatusRequestEntityTooLarge:
		if !fixedTexts[w.Body.String()] {
			t.Fatalf("%d with body %q: not a fixed text", w.Code, w.Body)
		}
	default:
		t.Fatalf("status %d, want 200, 400, 403 or 413", w.Code)
	}
}

var fuzzSeeds = []string{
	channeltest.InboundForm("SM0123456789abcdef0123456789abcdef", "+6281337785111", "+6281100000000", "halo").Encode(),
	channeltest.InboundForm("SMx", "whatsapp:+6281337785111", "whatsapp:+6281100000000", "1 3").Encode(),
	"MessageSid=SM1&From=%2B62813&Body=%00%FF%FE&NumMedia=2",
	"MessageSid=SM1&From=%2B62813&Body=" + strings.Repeat("x", 10000),
	"MessageSid=SM1&MessageSid=SM2&From=a&From=b&Body=dua",
	"MessageSid=SM1&From=%2B62813&Body=%27%3B+DROP+TABLE+tickets%3B+--",
	"MessageSid=SM1&From=%2B62813&Body=%25s%25d%25n&NumMedia=-1",
	"MessageSid=SM1;From=x", "a=%zz", "=&&=&", "Body=%E2%80%AEkirim%E2%80%8B", "",
}

// FuzzInbound posts any body, signed as Twilio signs it, to the inbound
// webhook. It must answer 200 exactly when the body is a form with a
// MessageSid, a From and a sensible NumMedia, and then hand on the values
// Twilio sent, as url.ParseQuery reads them; otherwise a fixed error
// that echoes nothing. Nothing is handed on but on a 200.
func FuzzInbound(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		h, p := fuzzHandler()
		form, perr := url.ParseQuery(body)
		sig := "c2lnbmF0dXJlIG9mIG5vdGhpbmcgYXQgYWxsIQ=="
		if perr == nil {
			sig = channeltest.Sign(authToken, fuzzPublic+twilio.InboundPath, form)
		}
		w := fuzzPost(h, body, sig)
		checkAnswer(t, w)
		got := p.msgs
		if w.Code != http.StatusOK {
			if len(got) != 0 {
				t.Fatalf("status %d, yet %d messages handed on", w.Code, len(got))
			}
		}
		switch {
		case len(body) > 4<<10:
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Fatalf("a %d-byte body: status %d, want 413", len(body), w.Code)
			}
			return
		case perr != nil:
			if w.Code != http.StatusBadRequest {
				t.Fatalf("a malformed form (%v): status %d, want 400", perr, w.Code)
			}
			return
		}
		repeated := false
		for _, vs := range form {
			repeated = repeated || len(vs) > 1
		}
		sid, from := form.Get("MessageSid"), form.Get("From")
		wantOK := sid != "" && from != ""
		if n := form.Get("NumMedia"); n != "" {
			wantOK = wantOK && validCount(n)
		}
		if w.Code == http.StatusForbidden && repeated {
			return // a repeated field: the signature may be read either way
		}
		if wantOK != (w.Code == http.StatusOK) {
			t.Fatalf("form %v: status %d, want 200 = %v", form, w.Code, wantOK)
		}
		if !wantOK {
			return
		}
		if len(got) != 1 {
			t.Fatalf("200, yet %d messages handed on, want 1", len(got))
		}
		m := got[0]
		wantFrom, wantCh := from, bot.SMS
		if f, ok := strings.CutPrefix(from, "whatsapp:"); ok {
			wantFrom, wantCh = f, bot.WhatsApp
		}
		if m.ExternalID != sid || m.From != wantFrom || m.Channel != wantCh || m.Text != form.Get("Body") {
			t.Fatalf("handed on %+v, want sid %q, from %q on %s, text %q", m, sid, wantFrom, wantCh, form.Get("Body"))
		}
	})
}

// validCount reports whether s is a count the webhook accepts as
// NumMedia: a non-negative integer that fits an int.
func validCount(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 0
}

// FuzzForged posts any body with any signature: unless the signature is
// the right one, the webhook answers an error and hands nothing on.
func FuzzForged(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "")
		f.Add(s, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
		if form, err := url.ParseQuery(s); err == nil {
			good := channeltest.Sign(authToken, fuzzPublic+twilio.InboundPath, form)
			f.Add(s, good[:len(good)-2]+"A=")
			f.Add(s, channeltest.Sign("wrongtoken0123456789abcdef012345", fuzzPublic+twilio.InboundPath, form))
		}
	}
	f.Fuzz(func(t *testing.T, body, sig string) {
		h, p := fuzzHandler()
		if form, err := url.ParseQuery(body); err == nil {
			if sig == channeltest.Sign(authToken, fuzzPublic+twilio.InboundPath, form) {
				return // not forged
			}
			first := url.Values{}
			for k, vs := range form {
				first[k] = vs[:1]
			}
			if sig == channeltest.Sign(authToken, fuzzPublic+twilio.InboundPath, first) {
				return // the signature of the first values: also Twilio's, for a repeated field
			}
		}
		w := fuzzPost(h, body, sig)
		checkAnswer(t, w)
		if w.Code == http.StatusOK || len(p.msgs) != 0 {
			t.Fatalf("forged signature %q: status %d, %d messages handed on; want refused", sig, w.Code, len(p.msgs))
		}
	})
}
