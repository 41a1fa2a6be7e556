package channeltest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/channels/channeltest"

	twclient "github.com/twilio/twilio-go/client"
)

const (
	testSID   = "AC0123456789abcdef0123456789abcdef"
	testToken = "0123456789abcdef0123456789abcdef"
)

func TestSignAgreesWithTwilioGo(t *testing.T) {
	cases := []struct {
		Label string
		URL   string
		Form  url.Values
	}{
		{"inbound sms", "https://aduan.example.org/webhooks/twilio",
			channeltest.InboundForm("SM0123456789abcdef0123456789abcdef", "+6281337785111", "+6281100000000", "Halo, saya mau lapor & minta tolong: 100% benar?")},
		{"inbound whatsapp", "https://aduan.example.org/webhooks/twilio",
			channeltest.InboundForm("SM0123456789abcdef0123456789abcde0", "whatsapp:+6281337785111", "whatsapp:+6281100000000", "lapor")},
		{"port and query", "http://127.0.0.1:8080/webhooks/twilio?x=1&y=%20z",
			url.Values{"MessageSid": {"SM1"}, "MessageStatus": {"delivered"}}},
		{"unicode and empty values", "https://aduan.example.org/webhooks/twilio/status",
			url.Values{"Body": {"Tolong 🙏 ñ"}, "A": {""}, "a": {"x"}, "Z": {"last"}}},
		{"no params", "https://aduan.example.org/webhooks/twilio", url.Values{}},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			sig := channeltest.Sign(testToken, c.URL, c.Form)
			params := make(map[string]string, len(c.Form))
			for k, v := range c.Form {
				params[k] = v[0]
			}
			v := twclient.NewRequestValidator(testToken)
			if got := v.Validate(c.URL, params, sig); !got {
				t.Fatalf("twilio-go Validate(Sign(...)) = %v, want true", got)
			}
			if got := v.Validate(c.URL+"x", params, sig); got {
				t.Fatalf("Validate for another URL = %v, want false", got)
			}
			other := twclient.NewRequestValidator("ffffffffffffffffffffffffffffffff")
			if got := other.Validate(c.URL, params, sig); got {
				t.Fatalf("Validate with another token = %v, want false", got)
			}
		})
	}
}

func TestSignKnownValue(t *testing.T) {
	// The vector from twilio-go's own validator tests.
	form := url.Values{
		"Digits":                {"1234"},
		"CallSid":               {"CA1234567890ABCDE"},
		"To":                    {"+18005551212"},
		"Caller":                {"+14158675309"},
		"From":                  {"+14158675309"},
		"ReasonConferenceEnded": {"test"},
		"Reason":                {"Participant"},
	}
	got := channeltest.Sign("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", form)
	if want := "vOEb5UThFn24KEfnOFLQY2AE5FY="; got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

func TestNewWebhookRequest(t *testing.T) {
	form := channeltest.InboundForm("SM0123456789abcdef0123456789abcdef", "+6281337785111", "+6281100000000", "halo")
	req := channeltest.NewWebhookRequest(context.Background(), "http://127.0.0.1:1", "https://aduan.example.org", "/webhooks/twilio", testToken, form)
	if got, want := req.Method, http.MethodPost; got != want {
		t.Fatalf("method = %q, want %q", got, want)
	}
	if got, want := req.URL.String(), "http://127.0.0.1:1/webhooks/twilio"; got != want {
		t.Fatalf("url = %q, want %q", got, want)
	}
	for k, want := range map[string]string{
		"Content-Type":    "application/x-www-form-urlencoded",
		"User-Agent":      "TwilioProxy/1.1",
		"Accept":          "*/*",
		"Accept-Encoding": "gzip",
		"X-Home-Region":   "us1",
	} {
		if got := req.Header.Get(k); got != want {
			t.Fatalf("%s = %q, want %q", k, got, want)
		}
	}
	if got := req.Header.Get("I-Twilio-Idempotency-Token"); len(got) != 36 {
		t.Fatalf("I-Twilio-Idempotency-Token = %q, want a 36-character token", got)
	}
	sig := req.Header.Get("X-Twilio-Signature")
	if raw, err := base64.StdEncoding.DecodeString(sig); err != nil || len(raw) != 20 {
		t.Fatalf("X-Twilio-Signature = %q, want base64 of 20 bytes", sig)
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := url.ParseQuery(string(body))
	if err != nil {
		t.Fatal(err)
	}
	v := twclient.NewRequestValidator(testToken)
	if !v.ValidateBody("https://aduan.example.org/webhooks/twilio", body, sig) {
		t.Fatalf("signature does not validate for the public URL")
	}
	if got.Get("MessageSid") != form.Get("MessageSid") || len(got) != len(form) {
		t.Fatalf("body = %v, want %v", got, form)
	}
}

func TestInboundWebhook(t *testing.T) {
	w := channeltest.NewInboundWebhook("https://aduan.example.org", "/webhooks/twilio", testToken, "+6281100000000")
	cases := []struct {
		Label, SID, From, Body string
	}{
		{"plain", "SM0123456789abcdef0123456789abcdef", "+6281337785111", "halo"},
		{"escapes", "SM0123456789abcdef0123456789abcde1", "+6281337785112", "Tolong & cepat: 100% benar? 🙏\nbaris dua"},
		{"empty body", "SM0123456789abcdef0123456789abcde2", "+6281337785113", ""},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			ctx := context.Background()
			want := channeltest.NewWebhookRequest(ctx, "http://127.0.0.1:1", "https://aduan.example.org", "/webhooks/twilio",
				testToken, channeltest.InboundForm(c.SID, c.From, "+6281100000000", c.Body))
			got := w.Request(ctx, "http://127.0.0.1:1", c.SID, c.From, c.Body, "")
			if got.URL.String() != want.URL.String() || got.Method != want.Method {
				t.Fatalf("request = %s %s, want %s %s", got.Method, got.URL, want.Method, want.URL)
			}
			gb, _ := io.ReadAll(got.Body)
			wb, _ := io.ReadAll(want.Body)
			if string(gb) != string(wb) {
				t.Fatalf("body = %s, want %s", gb, wb)
			}
			if got.ContentLength != int64(len(wb)) {
				t.Fatalf("ContentLength = %d, want %d", got.ContentLength, len(wb))
			}
			for k := range want.Header {
				if k == "I-Twilio-Idempotency-Token" {
					continue
				}
				if g, w := got.Header.Get(k), want.Header.Get(k); g != w {
					t.Fatalf("%s = %q, want %q", k, g, w)
				}
			}
			if tok := got.Header.Get("I-Twilio-Idempotency-Token"); len(tok) != 36 {
				t.Fatalf("I-Twilio-Idempotency-Token = %q, want a 36-character token", tok)
			}
		})
	}
	if got := w.Request(context.Background(), "http://127.0.0.1:1", "SM1", "+6281337785111", "x", "tok").Header.Get("I-Twilio-Idempotency-Token"); got != "tok" {
		t.Fatalf("I-Twilio-Idempotency-Token = %q, want %q", got, "tok")
	}
}

func BenchmarkWebhookRequest(b *testing.B) {
	ctx := context.Background()
	const sid, from, body = "SM0123456789abcdef0123456789abcdef", "+6285712000001", "Tetangga saya dipukul suaminya tadi malam"
	b.Run("NewWebhookRequest", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			channeltest.NewWebhookRequest(ctx, "http://127.0.0.1:1", "https://aduan.example.org", "/webhooks/twilio", testToken,
				channeltest.InboundForm(sid, from, "+6281100000000", body))
		}
	})
	b.Run("InboundWebhook", func(b *testing.B) {
		w := channeltest.NewInboundWebhook("https://aduan.example.org", "/webhooks/twilio", testToken, "+6281100000000")
		b.ReportAllocs()
		for b.Loop() {
			w.Request(ctx, "http://127.0.0.1:1", sid, from, body, "")
		}
	})
}

func TestInboundForm(t *testing.T) {
	f := channeltest.InboundForm("SM1", "+6281337785111", "+6281100000000", "halo")
	for _, k := range []string{"ToCountry", "ToState", "SmsMessageSid", "NumMedia", "ToCity", "FromZip", "SmsSid",
		"FromState", "SmsStatus", "FromCity", "Body", "FromCountry", "To", "MessagingServiceSid", "ToZip",
		"NumSegments", "MessageSid", "AccountSid", "From", "ApiVersion"} {
		if _, ok := f[k]; !ok {
			t.Fatalf("InboundForm lacks %s", k)
		}
	}
	if got, want := f.Get("NumMedia"), "0"; got != want {
		t.Fatalf("NumMedia = %q, want %q", got, want)
	}
	wa := channeltest.InboundForm("SM2", "whatsapp:+6281337785111", "whatsapp:+6281100000000", "halo")
	if got, want := wa.Get("WaId"), "6281337785111"; got != want {
		t.Fatalf("WaId = %q, want %q", got, want)
	}
}

func TestLoopbackOnly(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	c := &http.Client{Transport: channeltest.LoopbackOnly(nil)}

	res, err := c.Get(srv.URL)
	if err != nil {
		t.Fatalf("loopback request: %v", err)
	}
	res.Body.Close()

	for _, u := range []string{"https://api.twilio.com/2010-04-01", "http://10.0.0.1/", "http://192.168.1.1:8080/", "http://example.org/"} {
		_, err := c.Get(u)
		if err == nil || !strings.Contains(err.Error(), "non-loopback") {
			t.Fatalf("Get(%s) error = %v, want a non-loopback refusal", u, err)
		}
	}
}

func postMessage(t *testing.T, base, user, pass string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/2010-04-01/Accounts/"+testSID+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	res, err := (&http.Client{Transport: channeltest.LoopbackOnly(nil)}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return res, body
}

func TestFakeTwilio(t *testing.T) {
	f := channeltest.NewFakeTwilio(t, testSID, testToken)
	form := url.Values{"To": {"+6281337785111"}, "From": {"+6281100000000"}, "Body": {"halo"}, "StatusCallback": {"http://127.0.0.1:1/s"}}

	res, body := postMessage(t, f.URL(), testSID, "wrong", form)
	if got, want := res.StatusCode, http.StatusUnauthorized; got != want {
		t.Fatalf("wrong token: status = %d, want %d", got, want)
	}
	if got, want := body["code"], float64(20003); got != want {
		t.Fatalf("wrong token: code = %v, want %v", got, want)
	}

	f.FailNext(1, http.StatusBadRequest, 21211)
	res, body = postMessage(t, f.URL(), testSID, testToken, form)
	if got, want := res.StatusCode, http.StatusBadRequest; got != want {
		t.Fatalf("injected failure: status = %d, want %d", got, want)
	}
	if got, want := body["code"], float64(21211); got != want {
		t.Fatalf("injected failure: code = %v, want %v", got, want)
	}

	res, body = postMessage(t, f.URL(), testSID, testToken, form)
	if got, want := res.StatusCode, http.StatusCreated; got != want {
		t.Fatalf("status = %d, want %d", got, want)
	}
	sid, _ := body["sid"].(string)
	if len(sid) != 34 || !strings.HasPrefix(sid, "SM") {
		t.Fatalf("sid = %q, want SM and 32 hex digits", sid)
	}
	for k, want := range map[string]any{"status": "queued", "to": "+6281337785111", "from": "+6281100000000", "body": "halo", "account_sid": testSID} {
		if got := body[k]; got != want {
			t.Fatalf("%s = %v, want %v", k, got, want)
		}
	}
	msgs, err := f.WaitFor(1, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := channeltest.SentMessage{SID: sid, AccountSID: testSID, To: "+6281337785111", From: "+6281100000000", Body: "halo", StatusCallback: "http://127.0.0.1:1/s"}
	got := msgs[0]
	got.At = time.Time{}
	if len(msgs) != 1 || got != want {
		t.Fatalf("messages = %+v, want [%+v]", msgs, want)
	}
}

func TestFakeTwilioMedia(t *testing.T) {
	f := channeltest.NewFakeTwilio(t, testSID, testToken)
	const msg = "MM0123456789abcdef0123456789abcdef"
	photo := []byte("\xff\xd8\xff\xe0 a photo")
	mediaURL := f.AddMedia(msg, "image/jpeg", photo)
	prefix := "https://api.twilio.com/2010-04-01/Accounts/" + testSID + "/Messages/" + msg + "/Media/ME"
	if !strings.HasPrefix(mediaURL, prefix) || len(mediaURL) != len(prefix)+32 {
		t.Fatalf("media URL = %q, want %s and 32 hex digits", mediaURL, prefix)
	}
	onFake := f.URL() + strings.TrimPrefix(mediaURL, "https://api.twilio.com")
	noRedirect := &http.Client{Transport: channeltest.LoopbackOnly(nil),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url, user, pass string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	for _, c := range []struct {
		label, url, user, pass string
		want                   int
	}{
		{"no credentials", onFake, "", "", http.StatusUnauthorized},
		{"wrong token", onFake, testSID, "wrong", http.StatusUnauthorized},
		{"unknown media", onFake[:len(onFake)-1] + "x", testSID, testToken, http.StatusNotFound},
		{"another message", strings.Replace(onFake, msg, "MM0", 1), testSID, testToken, http.StatusNotFound},
	} {
		if got := get(c.url, c.user, c.pass).StatusCode; got != c.want {
			t.Errorf("%s: status = %d, want %d", c.label, got, c.want)
		}
	}

	res := get(onFake, testSID, testToken)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, f.URL()+"/") {
		t.Fatalf("media: %d to %q, want 307 to the fake's media store", res.StatusCode, loc)
	}
	res = get(loc, "", "")
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK || string(body) != string(photo) || res.Header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("media store: %d %q %q (%v), want 200 image/jpeg and the photo", res.StatusCode, res.Header.Get("Content-Type"), body, err)
	}
	if got := get(loc+"0", "", "").StatusCode; got != http.StatusNotFound {
		t.Errorf("unknown media store path: status = %d, want 404", got)
	}
	if got := f.MediaStoreAuthorized(); got != 0 {
		t.Errorf("media store requests with credentials = %d, want 0", got)
	}
	get(loc, testSID, testToken)
	if got := f.MediaStoreAuthorized(); got != 1 {
		t.Errorf("media store requests with credentials = %d, want 1", got)
	}
}

func TestFakeTwilioWaitFor(t *testing.T) {
	f := channeltest.NewFakeTwilio(t, testSID, testToken)
	form := url.Values{"To": {"+6281337785111"}, "From": {"+6281100000000"}, "Body": {"halo"}}

	if _, err := f.WaitFor(1, time.Millisecond); err == nil {
		t.Fatalf("WaitFor on an idle fake: error = nil, want a timeout")
	}

	const n = 20
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { postMessage(t, f.URL(), testSID, testToken, form) })
	}
	msgs, err := f.WaitFor(n, 10*time.Second)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		seen[m.SID] = true
	}
	if got := len(seen); got != n {
		t.Fatalf("distinct SIDs = %d, want %d", got, n)
	}
}

func TestFakeTwilioOnMessage(t *testing.T) {
	cases := []struct {
		Label    string
		Keep     bool
		WantKept int
	}{
		{"kept", true, 3},
		{"counted only", false, 0},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			f := channeltest.NewFakeTwilio(t, testSID, testToken)
			f.KeepMessages(c.Keep)
			got := make(chan channeltest.SentMessage, 3)
			f.OnMessage(func(m channeltest.SentMessage) { got <- m })
			for _, body := range []string{"satu", "dua", "tiga"} {
				form := url.Values{"To": {"+6281337785111"}, "From": {"+6281100000000"}, "Body": {body}}
				postMessage(t, f.URL(), testSID, testToken, form)
			}
			for _, want := range []string{"satu", "dua", "tiga"} {
				// postMessage returns after the response, which comes after the callback.
				m := <-got
				if m.Body != want || m.SID == "" || m.To != "+6281337785111" {
					t.Fatalf("callback got %+v, want body %q with a SID", m, want)
				}
			}
			if n := f.Count(); n != 3 {
				t.Fatalf("Count = %d, want 3", n)
			}
			if n := len(f.Messages()); n != c.WantKept {
				t.Fatalf("len(Messages) = %d, want %d", n, c.WantKept)
			}
			f.OnMessage(nil)
			postMessage(t, f.URL(), testSID, testToken, url.Values{"To": {"+6281337785111"}, "From": {"+6281100000000"}, "Body": {"empat"}})
			if len(got) != 0 {
				t.Fatalf("callback called after OnMessage(nil)")
			}
		})
	}
}

func TestSendStatus(t *testing.T) {
	f := channeltest.NewFakeTwilio(t, testSID, testToken)
	type report struct {
		form url.Values
		sig  string
	}
	got := make(chan report, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		got <- report{r.PostForm, r.Header.Get("X-Twilio-Signature")}
	}))
	t.Cleanup(srv.Close)

	m := channeltest.SentMessage{SID: "SM0123456789abcdef0123456789abcdef", AccountSID: testSID, To: "+6281337785111", From: "+6281100000000", StatusCallback: srv.URL + "/webhooks/twilio/status"}
	if err := f.SendStatus(context.Background(), m, "delivered"); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if g, w := r.form.Get("MessageStatus"), "delivered"; g != w {
		t.Fatalf("MessageStatus = %q, want %q", g, w)
	}
	if g, w := r.sig, channeltest.Sign(testToken, m.StatusCallback, r.form); g != w {
		t.Fatalf("signature = %q, want %q", g, w)
	}

	m.StatusCallback = "http://203.0.113.1/status"
	if err := f.SendStatus(context.Background(), m, "delivered"); err == nil {
		t.Fatalf("SendStatus to a non-loopback URL: error = nil, want a refusal")
	}
	m.StatusCallback = ""
	if err := f.SendStatus(context.Background(), m, "delivered"); err == nil {
		t.Fatalf("SendStatus without callback: error = nil, want an error")
	}
}
