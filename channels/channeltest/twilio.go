// Package channeltest is the shared harness for channel tests and the load
// generator: a fake Twilio REST API on a real local HTTP server, Twilio's
// webhook signing done independently of twilio-go, webhook requests shaped
// exactly as Twilio sends them, and a transport that refuses to leave the
// machine.
package channeltest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultAccountSID and DefaultMessagingServiceSID fill the account fields
// of InboundForm.
const (
	DefaultAccountSID          = "AC00000000000000000000000000000001"
	DefaultMessagingServiceSID = "MG00000000000000000000000000000001"
)

// SentMessage is one message the fake Twilio accepted.
type SentMessage struct {
	SID            string
	AccountSID     string
	To             string
	From           string
	Body           string
	StatusCallback string
	At             time.Time
}

// FakeTwilio is a local HTTP server speaking the part of Twilio's REST API
// that sending SMS uses: POST /2010-04-01/Accounts/{sid}/Messages.json with
// basic auth. It records accepted messages and can be told to fail. It also
// serves the attachments of inbound messages (see AddMedia). It is safe for
// concurrent use and cheap per request, so a load generator can push
// thousands of messages a second through it.
type FakeTwilio struct {
	accountSID string
	authToken  string
	srv        *httptest.Server
	sidPrefix  string // random per fake, so SIDs differ across fakes
	seq        atomic.Uint64
	onMessage  atomic.Pointer[func(SentMessage)]
	discard    atomic.Bool // accepted messages are counted, not kept
	count      atomic.Int64

	mu       sync.Mutex
	sent     sentLog // under mu
	failN    int
	failCode int
	failHTTP int

	media         map[string]*fakeMedia // by message SID + "/" + media SID
	stored        map[string]*fakeMedia // by key
	cdnAuthorized int                   // media store requests that carried credentials
}

// fakeMedia is one attachment the fake serves.
type fakeMedia struct {
	contentType string
	data        []byte
	key         string // its path in the media store
}

// NewFakeTwilio starts a fake Twilio that accepts the given credentials.
// When t is not nil the server is closed at the end of the test; otherwise
// the caller must call Close.
func NewFakeTwilio(t testing.TB, accountSID, authToken string) *FakeTwilio {
	f := newFake(accountSID, authToken)
	f.srv = httptest.NewServer(f.mux())
	if t != nil {
		t.Cleanup(f.Close)
	}
	return f
}

// ServeFakeTwilio starts a fake Twilio on ln, for a load generator whose
// servers must be told the fake's address before it starts. It refuses a
// listener that is not on a loopback address. The caller must call Close.
func ServeFakeTwilio(ln net.Listener, accountSID, authToken string) (*FakeTwilio, error) {
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		return nil, fmt.Errorf("channeltest: fake Twilio must listen on loopback, not %s", ln.Addr())
	}
	f := newFake(accountSID, authToken)
	f.srv = httptest.NewUnstartedServer(f.mux())
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	return f, nil
}

func newFake(accountSID, authToken string) *FakeTwilio {
	var rb [6]byte
	rand.Read(rb[:])
	f := &FakeTwilio{
		accountSID: accountSID,
		authToken:  authToken,
		sidPrefix:  "SM" + hex.EncodeToString(rb[:]),
	}
	f.sent.mu = &f.mu
	return f
}

func (f *FakeTwilio) mux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /2010-04-01/Accounts/{sid}/Messages.json", f.createMessage)
	mux.HandleFunc("GET /2010-04-01/Accounts/{sid}/Messages/{msg}/Media/{media}", f.getMedia)
	mux.HandleFunc("GET "+mediaStorePath+"{key}", f.getStored)
	return mux
}

// URL is the fake's base URL (http://127.0.0.1:port), to use as the
// sender's API URL.
func (f *FakeTwilio) URL() string { return f.srv.URL }

// Close shuts the server down. It is safe to call more than once.
func (f *FakeTwilio) Close() { f.srv.Close() }

// Messages returns a copy of the messages accepted so far, in order.
func (f *FakeTwilio) Messages() []SentMessage { return f.sent.all() }

// Count returns how many messages were accepted so far, also those not
// kept (see KeepMessages).
func (f *FakeTwilio) Count() int {
	return int(f.count.Load())
}

// OnMessage sets fn to be called with every message accepted from now on,
// once it is recorded and before the response is written, so that a load
// generator learns of a reply the moment it is handed to "Twilio". fn runs
// on the request's goroutine: it must be quick and must not call back into
// the fake's waiting methods. A nil fn removes the callback.
func (f *FakeTwilio) OnMessage(fn func(SentMessage)) {
	if fn == nil {
		f.onMessage.Store(nil)
		return
	}
	f.onMessage.Store(&fn)
}

// KeepMessages says whether accepted messages are kept for Messages and
// WaitFor (the default) or only counted and passed to OnMessage, which
// keeps a long load run's memory flat. WaitFor waits on the count of kept
// messages.
func (f *FakeTwilio) KeepMessages(keep bool) {
	f.discard.Store(!keep)
}

// Reset forgets the accepted messages and any pending failures.
func (f *FakeTwilio) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent.msgs = nil
	f.failN = 0
	f.count.Store(0)
}

// WaitFor waits until at least n messages were accepted and returns them.
// After timeout it returns what it has with an error.
func (f *FakeTwilio) WaitFor(n int, timeout time.Duration) ([]SentMessage, error) {
	return f.sent.waitFor("fake twilio", n, timeout)
}

// FailNext makes the next n message requests fail with the HTTP status and
// a Twilio error JSON carrying code.
func (f *FakeTwilio) FailNext(n int, status int, code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failHTTP, f.failCode = n, status, code
}

// mediaStorePath is where the fake serves attachment bytes, as Twilio's
// media store (a CDN on another host) does behind its API's redirect.
const mediaStorePath = "/media-store/"

// AddMedia stores an attachment of the inbound message with the SID
// messageSID, and returns its MediaUrl as Twilio's webhook gives it:
// https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages/{messageSID}/Media/{MediaSid}.
// Requests to Twilio's API pointed at the fake (as the sender's API URL
// points them) get it: with the fake's credentials in basic auth, a 307
// redirect to an unguessable path of the fake's media store, which serves
// the bytes with the content type (and a Content-Length when they are
// under 2 KiB: larger ones come chunked, without it). Unknown media get
// 404, wrong credentials 401.
func (f *FakeTwilio) AddMedia(messageSID, contentType string, data []byte) string {
	var rb [16]byte
	rand.Read(rb[:])
	mediaSID := "ME" + hex.EncodeToString(rb[:])
	rand.Read(rb[:])
	m := &fakeMedia{contentType: contentType, data: bytes.Clone(data), key: hex.EncodeToString(rb[:])}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.media == nil {
		f.media, f.stored = map[string]*fakeMedia{}, map[string]*fakeMedia{}
	}
	f.media[messageSID+"/"+mediaSID] = m
	f.stored[m.key] = m
	return "https://api.twilio.com/2010-04-01/Accounts/" + f.accountSID + "/Messages/" + messageSID + "/Media/" + mediaSID
}

// MediaStoreAuthorized returns how many requests to the fake's media store
// carried an Authorization header: Twilio's credentials, which must not
// follow the redirect there.
func (f *FakeTwilio) MediaStoreAuthorized() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cdnAuthorized
}

func (f *FakeTwilio) getMedia(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.accountSID || pass != f.authToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	f.mu.Lock()
	m := f.media[r.PathValue("msg")+"/"+r.PathValue("media")]
	f.mu.Unlock()
	if r.PathValue("sid") != f.accountSID || m == nil {
		writeError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	http.Redirect(w, r, f.srv.URL+mediaStorePath+m.key, http.StatusTemporaryRedirect)
}

func (f *FakeTwilio) getStored(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	m := f.stored[r.PathValue("key")]
	if r.Header.Get("Authorization") != "" {
		f.cdnAuthorized++
	}
	f.mu.Unlock()
	if m == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", m.contentType)
	w.Write(m.data)
}

func (f *FakeTwilio) createMessage(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != f.accountSID || pass != f.authToken {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
		writeError(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if r.PathValue("sid") != f.accountSID {
		writeError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}
	m := SentMessage{
		AccountSID:     f.accountSID,
		To:             r.PostForm.Get("To"),
		From:           r.PostForm.Get("From"),
		Body:           r.PostForm.Get("Body"),
		StatusCallback: r.PostForm.Get("StatusCallback"),
		At:             time.Now().UTC(),
	}
	switch {
	case m.To == "":
		writeError(w, http.StatusBadRequest, 21604, "A 'To' phone number is required.")
		return
	case m.From == "" && r.PostForm.Get("MessagingServiceSid") == "":
		writeError(w, http.StatusBadRequest, 21603, "A 'From' phone number is required.")
		return
	case m.Body == "":
		writeError(w, http.StatusBadRequest, 21602, "Message body is required.")
		return
	}

	f.mu.Lock()
	if f.failN > 0 {
		f.failN--
		status, code := f.failHTTP, f.failCode
		f.mu.Unlock()
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "1")
		}
		writeError(w, status, code, "Injected failure")
		return
	}
	m.SID = f.sidPrefix + fmt.Sprintf("%020x", f.seq.Add(1))
	f.count.Add(1)
	if !f.discard.Load() {
		f.sent.add(m)
	}
	f.mu.Unlock()
	if fn := f.onMessage.Load(); fn != nil {
		(*fn)(m)
	}

	created := m.At.Format(time.RFC1123Z)
	res := messageResource{
		Sid:                 m.SID,
		AccountSid:          m.AccountSID,
		To:                  m.To,
		From:                m.From,
		Body:                m.Body,
		Status:              "queued",
		Direction:           "outbound-api",
		NumSegments:         "1",
		NumMedia:            "0",
		APIVersion:          "2010-04-01",
		DateCreated:         created,
		DateUpdated:         created,
		MessagingServiceSid: r.PostForm.Get("MessagingServiceSid"),
		URI:                 "/2010-04-01/Accounts/" + m.AccountSID + "/Messages/" + m.SID + ".json",
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(&res)
}

// messageResource is the JSON of Twilio's Message resource, as twilio-go
// decodes it.
type messageResource struct {
	Sid                 string  `json:"sid"`
	AccountSid          string  `json:"account_sid"`
	To                  string  `json:"to"`
	From                string  `json:"from"`
	Body                string  `json:"body"`
	Status              string  `json:"status"`
	Direction           string  `json:"direction"`
	NumSegments         string  `json:"num_segments"`
	NumMedia            string  `json:"num_media"`
	APIVersion          string  `json:"api_version"`
	DateCreated         string  `json:"date_created"`
	DateUpdated         string  `json:"date_updated"`
	DateSent            *string `json:"date_sent"`
	ErrorCode           *int    `json:"error_code"`
	ErrorMessage        *string `json:"error_message"`
	Price               *string `json:"price"`
	PriceUnit           string  `json:"price_unit"`
	MessagingServiceSid string  `json:"messaging_service_sid,omitempty"`
	URI                 string  `json:"uri"`
}

func writeError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Code     int    `json:"code"`
		Message  string `json:"message"`
		MoreInfo string `json:"more_info"`
		Status   int    `json:"status"`
	}{code, msg, "https://www.twilio.com/docs/errors/" + strconv.Itoa(code), status})
}

// SendStatus posts a signed delivery report for m to m.StatusCallback, as
// Twilio does when a message's status changes (queued, sent, delivered,
// undelivered, failed). It refuses non-loopback callback URLs and returns an
// error if the callback does not answer 2xx.
func (f *FakeTwilio) SendStatus(ctx context.Context, m SentMessage, status string) error {
	if m.StatusCallback == "" {
		return errors.New("fake twilio: message has no status callback")
	}
	form := url.Values{
		"SmsSid":        {m.SID},
		"SmsStatus":     {status},
		"MessageStatus": {status},
		"To":            {m.To},
		"MessageSid":    {m.SID},
		"AccountSid":    {m.AccountSID},
		"From":          {m.From},
		"ApiVersion":    {"2010-04-01"},
	}
	req, err := newSignedRequest(ctx, m.StatusCallback, m.StatusCallback, f.authToken, form)
	if err != nil {
		return err
	}
	res, err := statusClient.Do(req)
	if err != nil {
		return fmt.Errorf("fake twilio: status callback: %w", err)
	}
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("fake twilio: status callback answered %d", res.StatusCode)
	}
	return nil
}

var statusClient = &http.Client{Transport: LoopbackOnly(nil), Timeout: 10 * time.Second}

// Sign computes Twilio's X-Twilio-Signature for a POST to url with form:
// HMAC-SHA1, keyed with the auth token, over the full URL followed by each
// parameter's name and value, names sorted (a repeated name contributes
// each of its distinct values, sorted); base64-encoded.
func Sign(authToken, url string, form url.Values) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(url))
	for _, k := range keys {
		vs := form[k]
		if len(vs) > 1 {
			vs = slices.Compact(slices.Sorted(slices.Values(vs)))
		}
		for _, v := range vs {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// NewWebhookRequest builds a POST to baseURL+path carrying form, signed for
// publicURL+path (the URL Twilio was configured with), with the headers
// Twilio's webhook proxy sends. It panics if baseURL+path is not a URL.
func NewWebhookRequest(ctx context.Context, baseURL, publicURL, path, authToken string, form url.Values) *http.Request {
	req, err := newSignedRequest(ctx, baseURL+path, publicURL+path, authToken, form)
	if err != nil {
		panic(err)
	}
	return req
}

func newSignedRequest(ctx context.Context, target, signedURL, authToken string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("channeltest: webhook request: %w", err)
	}
	h := req.Header
	h["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	h["User-Agent"] = []string{"TwilioProxy/1.1"}
	h["Accept"] = []string{"*/*"}
	h["Accept-Encoding"] = []string{"gzip"}
	h["Cache-Control"] = []string{"max-age=259200"}
	h["I-Twilio-Idempotency-Token"] = []string{idempotency()}
	h["X-Home-Region"] = []string{"us1"}
	h["X-Twilio-Signature"] = []string{Sign(authToken, signedURL, form)}
	return req, nil
}

// idempotency returns a random UUID-shaped token, as Twilio sends.
func idempotency() string {
	var b [16]byte
	rand.Read(b[:])
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// InboundForm returns the form Twilio posts for an inbound SMS with the
// given MessageSid, sender, recipient and text. Addresses prefixed
// "whatsapp:" get the extra fields of Twilio's WhatsApp sender.
func InboundForm(sid, from, to, body string) url.Values {
	f := url.Values{
		"ToCountry":           {"ID"},
		"ToState":             {""},
		"SmsMessageSid":       {sid},
		"NumMedia":            {"0"},
		"ToCity":              {""},
		"FromZip":             {""},
		"SmsSid":              {sid},
		"FromState":           {""},
		"SmsStatus":           {"received"},
		"FromCity":            {""},
		"Body":                {body},
		"FromCountry":         {"ID"},
		"To":                  {to},
		"MessagingServiceSid": {DefaultMessagingServiceSID},
		"ToZip":               {""},
		"NumSegments":         {"1"},
		"MessageSid":          {sid},
		"AccountSid":          {DefaultAccountSID},
		"From":                {from},
		"ApiVersion":          {"2010-04-01"},
	}
	if wa, ok := strings.CutPrefix(from, "whatsapp:"); ok {
		f["WaId"] = []string{strings.TrimPrefix(wa, "+")}
		f["ProfileName"] = []string{"Warga"}
		f["MessageType"] = []string{"text"}
		f["ChannelMetadata"] = []string{`{"type":"whatsapp","data":{"context":{"ProfileName":"Warga","WaId":"` + strings.TrimPrefix(wa, "+") + `"}}}`}
		for _, k := range []string{"ToCountry", "ToState", "ToCity", "FromZip", "FromState", "FromCity", "FromCountry", "ToZip"} {
			delete(f, k)
		}
	}
	return f
}

// LoopbackOnly wraps rt so that any request to a host that is not a
// loopback address fails without being sent. Tests use it to be sure they
// never leave the machine. A nil rt means a shared keep-alive transport that
// pools up to 256 idle connections per host, enough for load generation.
func LoopbackOnly(rt http.RoundTripper) http.RoundTripper {
	if rt == nil {
		rt = pooled
	}
	return loopbackOnly{rt}
}

var pooled = func() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // loopback only: never through a proxy
	t.MaxIdleConns = 1024
	t.MaxIdleConnsPerHost = 256
	return t
}()

type loopbackOnly struct{ next http.RoundTripper }

func (t loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	host := r.URL.Hostname()
	if !isLoopback(host) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("channeltest: refusing request to non-loopback host %q", host)
	}
	return t.next.RoundTrip(r)
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// InboundWebhook builds signed inbound-SMS webhook requests for one
// service number and public URL, as InboundForm and NewWebhookRequest
// together do, but without building, sorting and encoding a url.Values per
// message: a load generator's cost per message. The form and signature are
// the same, byte for byte. It is safe for concurrent use.
type InboundWebhook struct {
	signedURL string
	path      string
	fields    []webhookField // sorted by name, as url.Values.Encode and Sign sort
	macs      sync.Pool      // of hash.Hash
}

// webhookField is one form field: a fixed value, or one filled in per
// message.
type webhookField struct {
	name    string
	value   string // fixed value, or "" for a per-message one
	escaped string // url.QueryEscape(name) + "=" + url.QueryEscape(value)
	fill    byte   // 0 fixed, 's' MessageSid, 'f' From, 'b' Body
}

// NewInboundWebhook returns a builder of requests to path signed for
// publicURL+path with authToken, from citizens to the service number to.
func NewInboundWebhook(publicURL, path, authToken, to string) *InboundWebhook {
	w := &InboundWebhook{signedURL: publicURL + path, path: path}
	w.macs.New = func() any { return hmac.New(sha1.New, []byte(authToken)) }
	form := InboundForm("", "", to, "")
	fill := map[string]byte{"SmsMessageSid": 's', "SmsSid": 's', "MessageSid": 's', "From": 'f', "Body": 'b'}
	for _, k := range slices.Sorted(maps.Keys(form)) {
		f := webhookField{name: k, value: form.Get(k), fill: fill[k]}
		f.escaped = url.QueryEscape(k) + "=" + url.QueryEscape(f.value)
		w.fields = append(w.fields, f)
	}
	return w
}

// Request builds the webhook POST to baseURL for a message with the given
// MessageSid, sender and text. idempotencyToken, when not empty, is sent
// as Twilio's I-Twilio-Idempotency-Token (the same on a redelivery);
// otherwise a new one is made. It panics if baseURL is not a URL.
func (w *InboundWebhook) Request(ctx context.Context, baseURL, sid, from, body, idempotencyToken string) *http.Request {
	mac := w.macs.Get().(hash.Hash)
	mac.Reset()
	io.WriteString(mac, w.signedURL)
	enc := make([]byte, 0, 640+3*len(body))
	for i, f := range w.fields {
		v := f.value
		switch f.fill {
		case 's':
			v = sid
		case 'f':
			v = from
		case 'b':
			v = body
		}
		io.WriteString(mac, f.name)
		io.WriteString(mac, v)
		if i > 0 {
			enc = append(enc, '&')
		}
		if f.fill == 0 {
			enc = append(enc, f.escaped...)
		} else {
			enc = append(enc, url.QueryEscape(f.name)...)
			enc = append(enc, '=')
			enc = append(enc, url.QueryEscape(v)...)
		}
	}
	var sum [sha1.Size]byte
	sig := base64.StdEncoding.EncodeToString(mac.Sum(sum[:0]))
	w.macs.Put(mac)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+w.path, bytes.NewReader(enc))
	if err != nil {
		panic(fmt.Errorf("channeltest: webhook request: %w", err))
	}
	if idempotencyToken == "" {
		idempotencyToken = idempotency()
	}
	h := req.Header
	h["Content-Type"] = []string{"application/x-www-form-urlencoded"}
	h["User-Agent"] = []string{"TwilioProxy/1.1"}
	h["Accept"] = []string{"*/*"}
	h["Accept-Encoding"] = []string{"gzip"}
	h["Cache-Control"] = []string{"max-age=259200"}
	h["I-Twilio-Idempotency-Token"] = []string{idempotencyToken}
	h["X-Home-Region"] = []string{"us1"}
	h["X-Twilio-Signature"] = []string{sig}
	return req
}

// NewIdempotencyToken returns a new random UUID-shaped token such as
// Twilio sends in I-Twilio-Idempotency-Token.
func NewIdempotencyToken() string { return idempotency() }
