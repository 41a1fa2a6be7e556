package channeltest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// GatewayOptions shapes a FakeGateway.
type GatewayOptions struct {
	// Username, Password are the credentials the API takes (basic auth).
	Username, Password string
	// SigningKey signs the webhooks (X-Signature).
	SigningKey string
	// Cloud makes the fake answer as the Cloud and Private relays do: the
	// API under /3rdparty/v1, 409 for a message ID already used, tokens
	// from /auth/token. Otherwise it is the phone's Local server: the API
	// at the root, a used message ID silently accepted again (202).
	Cloud bool
	// Legacy is an old Local server: /message only, no /messages.
	Legacy bool
	// DeviceID is the envelope's deviceId; a default when empty.
	DeviceID string
}

// GatewayEvent is one webhook request the fake posted.
type GatewayEvent struct {
	ID     string
	Event  string
	URL    string
	Body   []byte
	Status int // the answer; 0 when none came
	At     time.Time
}

// FakeGateway is SMS Gateway for Android on a local HTTP server, as the
// channel sees it: the REST API (send, message state, webhooks, health)
// answering with the app's status codes, and a phone that sends what it
// accepted and posts signed webhooks (sms:received, sms:sent,
// sms:delivered, sms:failed, system:ping) to the URLs registered, retrying
// on failure as the app does (on a shorter clock). It can hold what it
// accepted and then send it newest first (the app's default order) or
// oldest first, fail sends, refuse requests, go silent, redeliver an event
// and reorder events. It is safe for concurrent use.
type FakeGateway struct {
	opts     GatewayOptions
	srv      *httptest.Server
	prefix   string
	idPrefix string // random, 21 characters or more
	client   *http.Client

	onMessage atomic.Pointer[func(SentMessage)]
	discard   atomic.Bool
	count     atomic.Int64
	seq       atomic.Uint64
	wg        sync.WaitGroup

	mu        sync.Mutex
	sent      sentLog // sent by the phone, in the order it sent them; under mu
	byID      map[string]*gatewayMsg
	queue     []*gatewayMsg // accepted and held
	hold      bool
	fifo      bool
	silent    bool
	noReports bool // accept, never report sent (a stuck phone)
	delivered bool
	failHTTP  []int // answers to the next send requests
	failSMS   []string
	webhooks  []gatewayHook
	events    []GatewayEvent
	tokens    map[string]bool
	health    string
	retries   []time.Duration
	requests  map[string]int // API requests by "METHOD path"
}

type gatewayMsg struct {
	id       string
	to       []string
	text     string
	priority int
	report   bool
	state    string
	errText  string
	at       time.Time
}

type gatewayHook struct {
	ID, URL, Event string
}

// NewFakeGateway starts a fake gateway, closed at the end of the test.
func NewFakeGateway(t testing.TB, opts GatewayOptions) *FakeGateway {
	f := newFakeGateway(opts)
	f.srv = httptest.NewServer(f.mux())
	t.Cleanup(f.Close)
	return f
}

// ServeFakeGateway starts a fake gateway on ln, for a load generator whose
// servers must know its address before it starts. It refuses a listener
// not on loopback. The caller must call Close.
func ServeFakeGateway(ln net.Listener, opts GatewayOptions) (*FakeGateway, error) {
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		return nil, fmt.Errorf("channeltest: fake gateway must listen on loopback, not %s", ln.Addr())
	}
	f := newFakeGateway(opts)
	f.srv = httptest.NewUnstartedServer(f.mux())
	f.srv.Listener.Close()
	f.srv.Listener = ln
	f.srv.Start()
	return f, nil
}

func newFakeGateway(opts GatewayOptions) *FakeGateway {
	if opts.DeviceID == "" {
		opts.DeviceID = "ffffffffceb0b1db0000018e937c815b"
	}
	f := &FakeGateway{opts: opts, byID: map[string]*gatewayMsg{}, tokens: map[string]bool{}, health: "pass",
		retries:  []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond, 160 * time.Millisecond, 320 * time.Millisecond},
		requests: map[string]int{}}
	f.sent.mu = &f.mu
	if opts.Cloud {
		f.prefix = "/3rdparty/v1"
	}
	var b [16]byte
	rand.Read(b[:])
	f.idPrefix = base64.RawURLEncoding.EncodeToString(b[:])
	f.client = &http.Client{Transport: LoopbackOnly(nil), Timeout: 30 * time.Second}
	return f
}

func (f *FakeGateway) mux() http.Handler {
	mux := http.NewServeMux()
	p := f.prefix
	if !f.opts.Legacy {
		mux.HandleFunc("POST "+p+"/messages", f.auth(f.postMessage))
		mux.HandleFunc("GET "+p+"/messages/{id}", f.auth(f.getMessage))
	}
	if !f.opts.Cloud {
		mux.HandleFunc("POST "+p+"/message", f.auth(f.postMessage))
		mux.HandleFunc("GET "+p+"/message/{id}", f.auth(f.getMessage))
	}
	mux.HandleFunc("GET "+p+"/webhooks", f.auth(f.listWebhooks))
	mux.HandleFunc("POST "+p+"/webhooks", f.auth(f.postWebhook))
	mux.HandleFunc("DELETE "+p+"/webhooks/{id}", f.auth(f.deleteWebhook))
	mux.HandleFunc("GET "+p+"/health", f.getHealth)
	if f.opts.Cloud {
		mux.HandleFunc("POST "+p+"/auth/token", f.postToken)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		silent := f.silent
		f.requests[r.Method+" "+r.URL.Path]++
		f.mu.Unlock()
		if silent {
			// A phone off or out of reach: no answer at all.
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		}
		mux.ServeHTTP(w, r)
	})
}

// URL is the API's base URL, as smsgate.url takes it: the server's root
// (Local) or its /3rdparty/v1 (Cloud).
func (f *FakeGateway) URL() string { return f.srv.URL + f.prefix }

// Close stops the phone's pending webhooks and the server.
func (f *FakeGateway) Close() {
	f.mu.Lock()
	f.silent = true
	f.mu.Unlock()
	f.wg.Wait()
	f.srv.Close()
}

// Requests returns how many API requests came for "METHOD path".
func (f *FakeGateway) Requests(route string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[route]
}

// OnMessage sets fn to be called with every SMS the phone sends, as
// FakeTwilio's OnMessage (SentMessage.SID is the gateway message ID).
func (f *FakeGateway) OnMessage(fn func(SentMessage)) {
	if fn == nil {
		f.onMessage.Store(nil)
		return
	}
	f.onMessage.Store(&fn)
}

// KeepMessages says whether sent SMS and posted events are kept (the
// default) or the SMS only counted.
func (f *FakeGateway) KeepMessages(keep bool) { f.discard.Store(!keep) }

// Count returns how many SMS the phone sent, also those not kept.
func (f *FakeGateway) Count() int { return int(f.count.Load()) }

// Messages returns the SMS the phone sent, in the order it sent them.
func (f *FakeGateway) Messages() []SentMessage { return f.sent.all() }

// WaitFor waits until the phone sent at least n SMS and returns them; after
// timeout it returns what it has with an error.
func (f *FakeGateway) WaitFor(n int, timeout time.Duration) ([]SentMessage, error) {
	return f.sent.waitFor("fake gateway", n, timeout)
}

// Hold makes the phone keep what it accepts (state Pending) until Release.
func (f *FakeGateway) Hold() {
	f.mu.Lock()
	f.hold = true
	f.mu.Unlock()
}

// Release sends what the phone holds, highest priority first and, within
// one priority, newest first (the app's default) or, with FIFO, oldest
// first; from then on it sends at once.
func (f *FakeGateway) Release() {
	f.mu.Lock()
	f.hold = false
	q := f.queue
	f.queue = nil
	if !f.fifo {
		slices.Reverse(q)
	}
	// Highest priority first; within one, the order above.
	slices.SortStableFunc(q, func(a, b *gatewayMsg) int { return b.priority - a.priority })
	f.mu.Unlock()
	for _, m := range q {
		f.process(m)
	}
}

// FIFO makes a released queue go oldest first, as the app's FIFO setting.
func (f *FakeGateway) FIFO(on bool) {
	f.mu.Lock()
	f.fifo = on
	f.mu.Unlock()
}

// Silent makes the phone unreachable (requests get no answer, no webhook
// is posted) or reachable again.
func (f *FakeGateway) Silent(on bool) {
	f.mu.Lock()
	f.silent = on
	f.mu.Unlock()
}

// Stuck makes the phone accept messages and never report them sent, as
// when Android holds them behind its "a large number of SMS" dialog.
func (f *FakeGateway) Stuck(on bool) {
	f.mu.Lock()
	f.noReports = on
	f.mu.Unlock()
}

// DeliveryReports makes the phone post sms:delivered after sms:sent for
// messages that ask for a delivery report.
func (f *FakeGateway) DeliveryReports(on bool) {
	f.mu.Lock()
	f.delivered = on
	f.mu.Unlock()
}

// FailRequests makes the next send requests answer the given statuses, one
// each, with the app's error JSON.
func (f *FakeGateway) FailRequests(statuses ...int) {
	f.mu.Lock()
	f.failHTTP = append(f.failHTTP, statuses...)
	f.mu.Unlock()
}

// FailSMS makes the phone fail the next SMS it sends, one per reason
// given (sms:failed with that reason).
func (f *FakeGateway) FailSMS(reasons ...string) {
	f.mu.Lock()
	f.failSMS = append(f.failSMS, reasons...)
	f.mu.Unlock()
}

// SetHealth sets the health status the phone reports: pass, warn or fail.
func (f *FakeGateway) SetHealth(status string) {
	f.mu.Lock()
	f.health = status
	f.mu.Unlock()
}

// Webhooks returns the registered webhooks.
func (f *FakeGateway) Webhooks() []GatewayEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]GatewayEvent, len(f.webhooks))
	for i, h := range f.webhooks {
		out[i] = GatewayEvent{ID: h.ID, Event: h.Event, URL: h.URL}
	}
	return out
}

// AddWebhook registers url for event, as a POST to /webhooks would.
func (f *FakeGateway) AddWebhook(id, url, event string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.upsertHook(gatewayHook{ID: id, URL: url, Event: event})
}

// Events returns the webhook requests the phone posted, in order.
func (f *FakeGateway) Events() []GatewayEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// Receive makes the phone receive an SMS from `from` (written as the phone
// shows it) with text, and post sms:received to the webhooks registered
// for it, retrying on failure as the app does. It returns the event's ID
// and the last answer's status (0: no webhook registered).
func (f *FakeGateway) Receive(from, text string) (string, int) {
	id := f.newID()
	payload := map[string]any{
		"messageId": contentID(text), "message": text, "phoneNumber": from, "sender": from,
		"recipient": nil, "simNumber": 1, "receivedAt": time.Now().Format("2006-01-02T15:04:05.000-07:00"),
	}
	return id, f.emit(id, "sms:received", payload, true)
}

// Ping posts system:ping with the phone's health.
func (f *FakeGateway) Ping() int {
	return f.emit(f.newID(), "system:ping", map[string]any{"health": f.healthReport()}, true)
}

// Redeliver posts the event with the ID again, with the same body and a
// fresh timestamp and signature, as the app's retry does, and returns the
// answer's status.
func (f *FakeGateway) Redeliver(id string) int {
	f.mu.Lock()
	var ev *GatewayEvent
	for i := len(f.events) - 1; i >= 0; i-- {
		if f.events[i].ID == id {
			e := f.events[i]
			ev = &e
			break
		}
	}
	f.mu.Unlock()
	if ev == nil {
		return 0
	}
	return f.post(*ev)
}

// Reorder posts events in the given order (built with NewGatewayEvent),
// each once, and returns their answers: the app's queue may deliver
// events out of the order they happened in.
func (f *FakeGateway) Reorder(evs ...GatewayEvent) []int {
	out := make([]int, len(evs))
	for i, ev := range evs {
		out[i] = f.post(ev)
	}
	return out
}

// NewReceived builds, without posting it, the sms:received event the phone
// would post to url for an SMS from `from`.
func (f *FakeGateway) NewReceived(url, from, text string) GatewayEvent {
	id := f.newID()
	body := f.envelope(id, "sms:received", map[string]any{
		"messageId": contentID(text), "message": text, "phoneNumber": from, "simNumber": 1,
		"receivedAt": time.Now().Format("2006-01-02T15:04:05.000-07:00"),
	})
	return GatewayEvent{ID: id, Event: "sms:received", URL: url, Body: body}
}

// SignGateway returns the X-Signature the app puts on body sent at
// timestamp: hex HMAC-SHA256 of the body followed by the timestamp. It is
// written apart from the channel's own check, as the app's signing is, so
// that a mistake in one shows against the other.
func SignGateway(key string, body []byte, timestamp string) string {
	pool, _ := gatewayMACs.LoadOrStore(key, &sync.Pool{New: func() any { return hmac.New(sha256.New, []byte(key)) }})
	mac := pool.(*sync.Pool).Get().(hash.Hash)
	mac.Reset()
	mac.Write(body)
	io.WriteString(mac, timestamp)
	var sum [sha256.Size]byte
	sig := hex.EncodeToString(mac.Sum(sum[:0]))
	pool.(*sync.Pool).Put(mac)
	return sig
}

// gatewayMACs pools HMACs by key: a load generator signs thousands of
// webhooks a second.
var gatewayMACs sync.Map // key -> *sync.Pool of hash.Hash

// NewGatewayRequest builds a webhook POST of body to url as the app sends
// it, signed with key at time at.
func NewGatewayRequest(ctx context.Context, url, key string, body []byte, at time.Time) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		panic(fmt.Errorf("channeltest: gateway webhook request: %w", err))
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	req.Header.Set("User-Agent", "me.capcom.smsgateway/1.40.0")
	req.Header.Set("X-Timestamp", ts)
	req.Header.Set("X-Signature", SignGateway(key, body, ts))
	return req
}

// newID returns a 21-character ID like the app's NanoIDs: the fake's
// random prefix and a count.
func (f *FakeGateway) newID() string {
	n := strconv.FormatUint(f.seq.Add(1), 36)
	return f.idPrefix[:21-len(n)] + n
}

// contentID is a message ID derived from the content, as the app's
// sms:received messageId: two identical texts share it.
func contentID(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:8])
}

// gatewayEnvelope is the app's webhook body.
type gatewayEnvelope struct {
	DeviceID  string `json:"deviceId"`
	Event     string `json:"event"`
	ID        string `json:"id"`
	Payload   any    `json:"payload"`
	WebhookID string `json:"webhookId"`
}

// gatewayStatus is the payload of sms:sent, sms:delivered and sms:failed.
type gatewayStatus struct {
	MessageID   string `json:"messageId"`
	PhoneNumber string `json:"phoneNumber"`
	Recipient   string `json:"recipient"`
	SimNumber   int    `json:"simNumber"`
	PartsCount  int    `json:"partsCount,omitempty"`
	SentAt      string `json:"sentAt,omitempty"`
	DeliveredAt string `json:"deliveredAt,omitempty"`
	FailedAt    string `json:"failedAt,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

func (f *FakeGateway) envelope(id, event string, payload any) []byte {
	b, _ := json.Marshal(gatewayEnvelope{DeviceID: f.opts.DeviceID, Event: event, ID: id, Payload: payload,
		WebhookID: "wh-" + event})
	return b
}

// emit posts an event to every webhook registered for it; with retry, a
// failed post is tried again as the app does. It returns the last answer.
func (f *FakeGateway) emit(id, event string, payload any, wait bool) int {
	body := f.envelope(id, event, payload)
	f.mu.Lock()
	if f.silent {
		f.mu.Unlock()
		return 0
	}
	var hooks []gatewayHook
	for _, h := range f.webhooks {
		if h.Event == event {
			hooks = append(hooks, h)
		}
	}
	f.mu.Unlock()
	status := 0
	for _, h := range hooks {
		ev := GatewayEvent{ID: id, Event: event, URL: h.URL, Body: body}
		if wait {
			status = f.deliver(ev)
			continue
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.deliver(ev)
		}()
	}
	return status
}

// deliver posts ev, retrying on anything but 2xx on the fake's clock.
func (f *FakeGateway) deliver(ev GatewayEvent) int {
	status := f.post(ev)
	for _, d := range f.retries {
		if status/100 == 2 {
			break
		}
		time.Sleep(d)
		f.mu.Lock()
		silent := f.silent
		f.mu.Unlock()
		if silent {
			break
		}
		status = f.post(ev)
	}
	return status
}

// post sends ev once, signed now, and records it.
func (f *FakeGateway) post(ev GatewayEvent) int {
	ev.At = time.Now()
	req := NewGatewayRequest(context.Background(), ev.URL, f.opts.SigningKey, ev.Body, ev.At)
	res, err := f.client.Do(req)
	if err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		ev.Status = res.StatusCode
	}
	if !f.discard.Load() {
		f.mu.Lock()
		f.events = append(f.events, ev)
		f.mu.Unlock()
	}
	return ev.Status
}

// auth checks basic auth, or a token from /auth/token.
func (f *FakeGateway) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && f.opts.Cloud {
			f.mu.Lock()
			valid := f.tokens[tok]
			f.mu.Unlock()
			if valid {
				next(w, r)
				return
			}
		} else if u, p, ok := r.BasicAuth(); ok && u == f.opts.Username && p == f.opts.Password {
			next(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="Access to SMS Gateway"`)
		gatewayError(w, http.StatusUnauthorized, "Unauthorized")
	}
}

func gatewayError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

type gatewaySend struct {
	ID          *string `json:"id"`
	Message     string  `json:"message"`
	TextMessage *struct {
		Text string `json:"text"`
	} `json:"textMessage"`
	PhoneNumbers       []string `json:"phoneNumbers"`
	SimNumber          *int     `json:"simNumber"`
	TTL                *int64   `json:"ttl"`
	WithDeliveryReport *bool    `json:"withDeliveryReport"`
	Priority           int      `json:"priority"`
}

func (f *FakeGateway) postMessage(w http.ResponseWriter, r *http.Request) {
	var req gatewaySend
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		gatewayError(w, http.StatusBadRequest, "invalid JSON")
		return
	}
	text := req.Message
	if req.TextMessage != nil {
		text = req.TextMessage.Text
	}
	skip := r.URL.Query().Get("skipPhoneValidation") == "true"
	switch {
	case text == "":
		gatewayError(w, http.StatusBadRequest, "Text message is empty")
		return
	case len(req.PhoneNumbers) == 0:
		gatewayError(w, http.StatusBadRequest, "phoneNumbers is empty")
		return
	case req.SimNumber != nil && (*req.SimNumber < 1 || *req.SimNumber > 3):
		gatewayError(w, http.StatusBadRequest, "simNumber must be >= 1")
		return
	case req.Priority < -128 || req.Priority > 127:
		gatewayError(w, http.StatusBadRequest, "priority must be a valid byte value")
		return
	case req.ID != nil && len(*req.ID) > 36:
		gatewayError(w, http.StatusBadRequest, "id is longer than 36")
		return
	}
	for _, p := range req.PhoneNumbers {
		if !skip && !e164(p) {
			gatewayError(w, http.StatusBadRequest, "Invalid phone number "+p)
			return
		}
	}
	f.mu.Lock()
	if len(f.failHTTP) > 0 {
		status := f.failHTTP[0]
		f.failHTTP = f.failHTTP[1:]
		f.mu.Unlock()
		gatewayError(w, status, "injected failure")
		return
	}
	id := f.newID()
	if req.ID != nil && *req.ID != "" {
		id = *req.ID
	}
	if m, dup := f.byID[id]; dup {
		st := m.stateJSON()
		f.mu.Unlock()
		if f.opts.Cloud {
			gatewayError(w, http.StatusConflict, "duplicate id")
			return
		}
		// The Local server keeps the message it has and answers as if new.
		st.State = "Pending"
		writeJSON(w, http.StatusAccepted, st)
		return
	}
	m := &gatewayMsg{id: id, to: req.PhoneNumbers, text: text, priority: req.Priority,
		report: req.WithDeliveryReport == nil || *req.WithDeliveryReport, state: "Pending", at: time.Now()}
	f.byID[id] = m
	hold := f.hold
	if hold {
		f.queue = append(f.queue, m)
	}
	st := m.stateJSON()
	f.mu.Unlock()
	if hold {
		writeJSON(w, http.StatusAccepted, st)
		return
	}
	// The phone sends at once; its reports follow.
	res, ok := f.send(m)
	writeJSON(w, http.StatusAccepted, st)
	if ok {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			f.report(m, res)
		}()
	}
}

// process is the phone sending one accepted message and reporting it.
func (f *FakeGateway) process(m *gatewayMsg) {
	if r, ok := f.send(m); ok {
		f.report(m, r)
	}
}

// phoneResult is what the phone made of one message.
type phoneResult struct {
	reason    string // why it failed; "" when sent
	delivered bool   // a delivery report follows
}

// send is the phone sending m: it fails (as FailSMS says) or is sent,
// counted and handed to OnMessage. It reports false when the phone does
// nothing (Stuck, Silent).
func (f *FakeGateway) send(m *gatewayMsg) (phoneResult, bool) {
	f.mu.Lock()
	if f.noReports || f.silent {
		f.mu.Unlock()
		return phoneResult{}, false
	}
	var r phoneResult
	if len(f.failSMS) > 0 {
		r.reason = f.failSMS[0]
		f.failSMS = f.failSMS[1:]
		m.state, m.errText = "Failed", r.reason
	} else {
		m.state = "Sent"
		for _, to := range m.to {
			f.count.Add(1)
			if !f.discard.Load() {
				f.sent.add(SentMessage{SID: m.id, To: to, Body: m.text, At: time.Now().UTC()})
			}
		}
	}
	r.delivered = f.delivered && m.report && r.reason == ""
	f.mu.Unlock()
	if fn := f.onMessage.Load(); fn != nil && r.reason == "" {
		for _, to := range m.to {
			(*fn)(SentMessage{SID: m.id, To: to, Body: m.text, At: time.Now().UTC()})
		}
	}
	return r, true
}

// report posts sms:sent (or sms:failed), then sms:delivered when asked
// for and enabled, for each recipient of m.
func (f *FakeGateway) report(m *gatewayMsg, r phoneResult) {
	for _, to := range m.to {
		st := gatewayStatus{MessageID: m.id, PhoneNumber: to, Recipient: to, SimNumber: 1}
		now := time.Now().Format(time.RFC3339)
		if r.reason != "" {
			st.FailedAt, st.Reason = now, r.reason
			f.emit(f.newID(), "sms:failed", st, true)
			continue
		}
		st.SentAt, st.PartsCount = now, 1
		f.emit(f.newID(), "sms:sent", st, true)
		if r.delivered {
			f.mu.Lock()
			m.state = "Delivered"
			f.mu.Unlock()
			st.SentAt, st.PartsCount, st.DeliveredAt = "", 0, now
			f.emit(f.newID(), "sms:delivered", st, true)
		}
	}
}

type gatewayState struct {
	ID         string           `json:"id"`
	DeviceID   string           `json:"deviceId,omitempty"`
	State      string           `json:"state"`
	Recipients []gatewayRcptSta `json:"recipients"`
}

type gatewayRcptSta struct {
	PhoneNumber string  `json:"phoneNumber"`
	State       string  `json:"state"`
	Error       *string `json:"error,omitempty"`
}

// stateJSON is the message's state as the API answers it; f.mu is held.
func (m *gatewayMsg) stateJSON() gatewayState {
	st := gatewayState{ID: m.id, State: m.state}
	for _, to := range m.to {
		r := gatewayRcptSta{PhoneNumber: to, State: m.state}
		if m.errText != "" {
			e := m.errText
			r.Error = &e
		}
		st.Recipients = append(st.Recipients, r)
	}
	return st
}

func (f *FakeGateway) getMessage(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	m := f.byID[r.PathValue("id")]
	var st gatewayState
	if m != nil {
		st = m.stateJSON()
	}
	f.mu.Unlock()
	if m == nil {
		gatewayError(w, http.StatusNotFound, "message not found")
		return
	}
	writeJSON(w, http.StatusOK, st)
}

func (f *FakeGateway) listWebhooks(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	out := []map[string]string{}
	for _, h := range f.webhooks {
		out = append(out, map[string]string{"id": h.ID, "url": h.URL, "event": h.Event})
	}
	f.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

var gatewayEvents = []string{"sms:received", "sms:data-received", "sms:sent", "sms:delivered", "sms:failed",
	"system:ping", "mms:received"}

func (f *FakeGateway) postWebhook(w http.ResponseWriter, r *http.Request) {
	var h gatewayHook
	var req struct {
		ID    string `json:"id"`
		URL   string `json:"url"`
		Event string `json:"event"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		gatewayError(w, http.StatusBadRequest, "invalid JSON")
		return
	}
	if !strings.HasPrefix(req.URL, "https://") && !strings.HasPrefix(req.URL, "http://127.0.0.1") {
		gatewayError(w, http.StatusBadRequest, "url must start with https:// or http://127.0.0.1")
		return
	}
	if !slices.Contains(gatewayEvents, req.Event) {
		gatewayError(w, http.StatusBadRequest, "Unsupported event")
		return
	}
	h = gatewayHook{ID: req.ID, URL: req.URL, Event: req.Event}
	if h.ID == "" {
		h.ID = f.newID()
	}
	f.mu.Lock()
	f.upsertHook(h)
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]string{"id": h.ID, "url": h.URL, "event": h.Event})
}

// upsertHook adds h or replaces the one with its ID; f.mu is held.
func (f *FakeGateway) upsertHook(h gatewayHook) {
	for i := range f.webhooks {
		if f.webhooks[i].ID == h.ID {
			f.webhooks[i] = h
			return
		}
	}
	f.webhooks = append(f.webhooks, h)
}

func (f *FakeGateway) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f.mu.Lock()
	f.webhooks = slices.DeleteFunc(f.webhooks, func(h gatewayHook) bool { return h.ID == id })
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *FakeGateway) healthReport() map[string]any {
	f.mu.Lock()
	status := f.health
	f.mu.Unlock()
	return map[string]any{
		"status": status, "version": "1.40.0", "releaseId": 1,
		"checks": map[string]any{
			"battery:level":    map[string]any{"description": "Battery level in percent", "observedUnit": "percent", "observedValue": 94, "status": "pass"},
			"battery:charging": map[string]any{"description": "Is the phone charging?", "observedUnit": "flags", "observedValue": 4, "status": "pass"},
			"messages:failed":  map[string]any{"description": "Failed messages for last hour", "observedUnit": "messages", "observedValue": 0, "status": status},
		},
	}
}

func (f *FakeGateway) getHealth(w http.ResponseWriter, r *http.Request) {
	h := f.healthReport()
	code := http.StatusOK
	if h["status"] == "fail" {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, h)
}

func (f *FakeGateway) postToken(w http.ResponseWriter, r *http.Request) {
	u, p, ok := r.BasicAuth()
	if !ok || u != f.opts.Username || p != f.opts.Password {
		gatewayError(w, http.StatusUnauthorized, "Unauthorized")
		return
	}
	tok := "eyJ" + f.newID()
	f.mu.Lock()
	f.tokens[tok] = true
	f.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"id": f.newID(), "token_type": "Bearer", "access_token": tok,
		"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
}

// RevokeTokens makes every token issued so far invalid, as their expiry
// would.
func (f *FakeGateway) RevokeTokens() {
	f.mu.Lock()
	clear(f.tokens)
	f.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// e164 reports whether s looks like an E.164 number, as the app checks.
func e164(s string) bool {
	if len(s) < 8 || len(s) > 16 || s[0] != '+' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
