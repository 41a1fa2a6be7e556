package smsgate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
)

const (
	user     = "sms"
	password = "Pa55word"
	officer  = "+6281337973213"
	citizen2 = "+6281299990001"
)

// rig is a Sender and a Handler sharing one Phone, in front of a fake
// gateway whose webhooks reach the handler.
type rig struct {
	gw     *channeltest.FakeGateway
	phone  *smsgate.Phone
	client *smsgate.Client
	sender *smsgate.Sender
	wa     *fakeWhatsApp
}

// fakeWhatsApp stands in for the WhatsApp channel's sender.
type fakeWhatsApp struct {
	mu   sync.Mutex
	sent []bot.Outbound
}

func (f *fakeWhatsApp) Send(ctx context.Context, m bot.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, m)
	return "wa-1", nil
}

func (f *fakeWhatsApp) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

func newRig(t *testing.T, opts channeltest.GatewayOptions, adjust func(*smsgate.SenderConfig, *smsgate.PhoneConfig)) *rig {
	t.Helper()
	opts.Username, opts.Password, opts.SigningKey = user, password, signingKey
	r := &rig{gw: channeltest.NewFakeGateway(t, opts), wa: &fakeWhatsApp{}}
	pc := smsgate.PhoneConfig{}
	sc := smsgate.SenderConfig{Poll: time.Hour}
	if adjust != nil {
		adjust(&sc, &pc)
	}
	r.phone = smsgate.NewPhone(pc)
	mux := http.NewServeMux()
	smsgate.NewHandler(smsgate.HandlerConfig{SigningKey: signingKey, Pipeline: &fakePipeline{}, Phone: r.phone,
		Normalize: normalize}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, ev := range smsgate.Events {
		r.gw.AddWebhook("aduan-"+ev, srv.URL+smsgate.Path, ev)
	}
	var err error
	r.client, err = smsgate.NewClient(smsgate.ClientConfig{URL: r.gw.URL(), Username: user, Password: password,
		JWT: opts.Cloud, HTTPClient: &http.Client{Transport: channeltest.LoopbackOnly(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	sc.Client, sc.Phone = r.client, r.phone
	if sc.Fallback == nil {
		sc.Fallback = r.wa
	}
	if sc.IsStaff == nil {
		sc.IsStaff = func(addr string) bool { return addr == officer }
	}
	r.sender = smsgate.NewSender(sc)
	return r
}

var nextID int64 = 100

func outbound(to, body string) bot.Outbound {
	nextID++
	return bot.Outbound{ID: nextID, Channel: bot.SMS, To: to, Body: body, Purpose: bot.PurposeReply, CreatedAt: epoch}
}

// send sends m with the budget the dispatcher gives a send, or d.
func (r *rig) send(m bot.Outbound, d time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return r.sender.Send(ctx, m)
}

func TestSendReturnsOnceThePhoneSentIt(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{}, nil)
	m := outbound(citizen, "Laporan Anda kami terima.")
	id, err := r.send(m, 5*time.Second)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if id != smsgate.MessageID(m) {
		t.Fatalf("provider ID = %q, want the message ID %q", id, smsgate.MessageID(m))
	}
	msgs := r.gw.Messages()
	if len(msgs) != 1 || msgs[0].SID != id || msgs[0].To != citizen || msgs[0].Body != m.Body {
		t.Fatalf("phone sent %+v", msgs)
	}
	if r.phone.State() != smsgate.StateUp || r.phone.LastHeard().IsZero() {
		t.Fatalf("phone state %s, last heard %v", r.phone.State(), r.phone.LastHeard())
	}
}

// A send whose answer was lost is tried again with the same ID: the
// phone, which has it, does not send a second SMS; the retry learns it was
// sent.
func TestRetryAfterLostAnswerSendsOnce(t *testing.T) {
	for _, cloud := range []bool{false, true} {
		name := "local"
		if cloud {
			name = "cloud"
		}
		t.Run(name, func(t *testing.T) {
			r := newRig(t, channeltest.GatewayOptions{Cloud: cloud}, func(sc *smsgate.SenderConfig, _ *smsgate.PhoneConfig) {
				sc.Poll = 50 * time.Millisecond
			})
			m := outbound(citizen, "Pilih 1, 2 atau 3.")
			// The first attempt reached the phone; its answer never came back.
			if err := r.client.Send(context.Background(), smsgate.Message{ID: smsgate.MessageID(m),
				TextMessage: &smsgate.TextMessage{Text: m.Body}, PhoneNumbers: []string{m.To}}); err != nil {
				t.Fatal(err)
			}
			if _, err := r.gw.WaitFor(1, 5*time.Second); err != nil {
				t.Fatal(err)
			}
			for _, attempts := range []int{0, 1} {
				m.Attempts = attempts
				if _, err := r.send(m, 5*time.Second); err != nil {
					t.Fatalf("attempt %d: %v", attempts, err)
				}
			}
			if n := r.gw.Count(); n != 1 {
				t.Fatalf("phone sent %d SMS, want 1", n)
			}
		})
	}
}

// sms:failed fails the send (to be retried); the retry uses a new message
// ID, which the phone sends.
func TestFailedSMSIsRetriedWithANewID(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{}, nil)
	r.gw.FailSMS("RESULT_ERROR_GENERIC_FAILURE")
	m := outbound(citizen, "Ketik MENU.")
	_, err := r.send(m, 5*time.Second)
	if err == nil || bot.KindOf(err) != bot.Temporary || !strings.Contains(err.Error(), "RESULT_ERROR_GENERIC_FAILURE") {
		t.Fatalf("send = %v, want a temporary error with the reason", err)
	}
	m.Attempts = 1
	id, err := r.send(m, 5*time.Second)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if want := smsgate.MessageID(m) + "-1"; id != want {
		t.Fatalf("retry sent as %q, want %q", id, want)
	}
	if msgs := r.gw.Messages(); len(msgs) != 1 || msgs[0].SID != id {
		t.Fatalf("phone sent %+v, want only the retry", msgs)
	}
}

func TestErrorAnswers(t *testing.T) {
	for _, tc := range []struct {
		label  string
		fail   []int
		to     string
		pass   string
		want   bot.ErrorKind
		status int
	}{
		{label: "not a phone number", to: "12345", want: bot.Permanent, status: 400},
		{label: "server error", fail: []int{500}, want: bot.Temporary, status: 500},
		{label: "relay queue full", fail: []int{503}, want: bot.Temporary, status: 503},
		{label: "wrong password", pass: "wrong", want: bot.Temporary, status: 401},
	} {
		t.Run(tc.label, func(t *testing.T) {
			r := newRig(t, channeltest.GatewayOptions{}, nil)
			r.gw.FailRequests(tc.fail...)
			if tc.pass != "" {
				c, _ := smsgate.NewClient(smsgate.ClientConfig{URL: r.gw.URL(), Username: user, Password: tc.pass,
					HTTPClient: &http.Client{Transport: channeltest.LoopbackOnly(nil)}})
				r.sender = smsgate.NewSender(smsgate.SenderConfig{Client: c, Phone: r.phone})
			}
			to := citizen
			if tc.to != "" {
				to = tc.to
			}
			_, err := r.send(outbound(to, "halo"), 5*time.Second)
			if bot.KindOf(err) != tc.want || smsgate.StatusOf(err) != tc.status {
				t.Fatalf("send = %v (kind %v, status %d), want kind %v, status %d", err, bot.KindOf(err), smsgate.StatusOf(err), tc.want, tc.status)
			}
			if strings.Contains(err.Error(), to) && len(to) > 6 {
				t.Fatalf("error %q carries the number", err)
			}
		})
	}
}

func TestOldLocalServerTakesMessage(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{Legacy: true}, nil)
	for range 2 {
		if _, err := r.send(outbound(citizen, "halo"), 5*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.gw.Requests("POST /messages"); n != 1 {
		t.Fatalf("POST /messages tried %d times, want once (then /message is remembered)", n)
	}
	if n := r.gw.Requests("POST /message"); n != 2 {
		t.Fatalf("POST /message %d times, want 2", n)
	}
}

func TestCloudSignsInForAToken(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{Cloud: true}, nil)
	if _, err := r.send(outbound(citizen, "satu"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	r.gw.RevokeTokens()
	if _, err := r.send(outbound(citizen, "dua"), 5*time.Second); err != nil {
		t.Fatalf("after the token was revoked: %v", err)
	}
	if n := r.gw.Requests("POST /3rdparty/v1/auth/token"); n != 2 {
		t.Fatalf("signed in %d times, want 2", n)
	}
}

// The phone holds what it accepts and would send the newest first; the
// sender hands a recipient's next message over only once the one before
// was sent, so they arrive in order whatever the phone's order.
func TestOneRecipientsMessagesKeepOrder(t *testing.T) {
	for _, fifo := range []bool{false, true} {
		r := newRig(t, channeltest.GatewayOptions{}, nil)
		r.gw.FIFO(fifo)
		r.gw.Hold()
		first, second := outbound(citizen, "Pesan pertama"), outbound(citizen, "Pesan kedua")
		if _, err := r.send(first, 700*time.Millisecond); bot.KindOf(err) != bot.Temporary {
			t.Fatalf("first, phone holding it: %v, want a temporary error", err)
		}
		if _, err := r.send(second, 700*time.Millisecond); err == nil {
			t.Fatalf("second went while the first was held")
		}
		r.gw.Release()
		first.Attempts, second.Attempts = 1, 1
		for _, m := range []bot.Outbound{first, second} {
			if _, err := r.send(m, 5*time.Second); err != nil {
				t.Fatalf("retry of %q: %v", m.Body, err)
			}
		}
		msgs := r.gw.Messages()
		if len(msgs) != 2 || msgs[0].Body != first.Body || msgs[1].Body != second.Body {
			t.Fatalf("fifo %v: phone sent %+v, want first then second", fifo, msgs)
		}
	}
}

// Urgent messages go with priority 100: the phone sends them ahead of
// what it holds; they do not wait for the pacing.
func TestUrgentGoesFirst(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{}, func(sc *smsgate.SenderConfig, _ *smsgate.PhoneConfig) {
		sc.Urgent = func(m bot.Outbound) bool { return strings.HasPrefix(m.Body, bot.UrgentMark) }
		sc.Limit, sc.Period = 2, time.Hour
	})
	r.gw.Hold()
	for _, m := range []bot.Outbound{outbound(citizen, "biasa"), outbound(officer, bot.UrgentMark+"Tiket baru KS-1")} {
		r.send(m, time.Second)
	}
	// The pacing's two segments are used up: an ordinary message waits,
	// an urgent one does not.
	if _, err := r.send(outbound(citizen2, "lagi"), time.Second); bot.KindOf(err) != bot.Temporary || !strings.Contains(err.Error(), "paced") {
		t.Fatalf("third ordinary message: %v, want paced", err)
	}
	r.send(outbound(citizen2, bot.UrgentMark+"Tiket baru KS-2"), time.Second)
	r.gw.Release()
	msgs, err := r.gw.WaitFor(3, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(msgs[0].Body, bot.UrgentMark) || !strings.HasPrefix(msgs[1].Body, bot.UrgentMark) || msgs[2].Body != "biasa" {
		t.Fatalf("phone sent %q, %q, %q: want the urgent ones first", msgs[0].Body, msgs[1].Body, msgs[2].Body)
	}
}

// While the phone is silent, messages to staff go by WhatsApp at once;
// messages to citizens stay on SMS and wait for it.
func TestStaffFallBackToWhatsAppWhileThePhoneIsDown(t *testing.T) {
	now := epoch
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, channeltest.GatewayOptions{}, func(sc *smsgate.SenderConfig, pc *smsgate.PhoneConfig) {
		pc.Now, pc.SilentAfter = clock, time.Minute
	})
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if st := r.phone.State(); st != smsgate.StateSilent {
		t.Fatalf("state %s, want silent", st)
	}
	r.gw.Silent(true)
	if id, err := r.send(outbound(officer, "Tiket baru KS-7HQ4XM"), 3*time.Second); err != nil || id != "wa-1" {
		t.Fatalf("to an officer: %q, %v; want it sent by WhatsApp", id, err)
	}
	if _, err := r.send(outbound(citizen, "halo"), time.Second); bot.KindOf(err) != bot.Temporary {
		t.Fatalf("to a citizen: %v, want a temporary error", err)
	}
	if r.wa.count() != 1 {
		t.Fatalf("whatsapp sent %d, want 1", r.wa.count())
	}
}

// While the phone is down, messages to citizens wait in the outbox,
// untried; those to staff are not held (they go by WhatsApp).
func TestHoldWhileThePhoneIsDown(t *testing.T) {
	now := epoch
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, channeltest.GatewayOptions{}, func(sc *smsgate.SenderConfig, pc *smsgate.PhoneConfig) {
		pc.Now, pc.SilentAfter = clock, time.Minute
	})
	toCitizen, toOfficer := outbound(citizen, "halo"), outbound(officer, "Tiket baru KS-7HQ4XM")
	if r.sender.Hold(toCitizen) || r.sender.Hold(toOfficer) {
		t.Fatal("held while the phone is up")
	}
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	if !r.sender.Hold(toCitizen) || r.sender.Hold(toOfficer) {
		t.Fatalf("phone silent: citizen held %v, officer held %v; want true, false", r.sender.Hold(toCitizen), r.sender.Hold(toOfficer))
	}
	r.phone.Heard(clock())
	if r.sender.Hold(toCitizen) {
		t.Fatal("held once the phone is heard again")
	}
}

// While the phone is up, a message that would only wait if tried now (the
// pacing used up, or the recipient's earlier message not yet reported
// sent) waits in the outbox untried, so that waiting uses up none of its
// attempts; an urgent message is never held for the pacing.
func TestHoldWhilePacedOrAwaiting(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{}, func(sc *smsgate.SenderConfig, _ *smsgate.PhoneConfig) {
		sc.Urgent = func(m bot.Outbound) bool { return strings.HasPrefix(m.Body, bot.UrgentMark) }
		sc.Limit, sc.Period = 2, time.Hour
	})
	r.gw.Hold() // the phone takes messages and reports none sent
	first := outbound(citizen, "biasa")
	if r.sender.Hold(first) {
		t.Fatal("first message held")
	}
	if _, err := r.send(first, time.Second); err == nil {
		t.Fatal("send reported sent by a phone that holds its messages")
	}
	if !r.sender.Hold(outbound(citizen, "lagi")) {
		t.Error("citizen's next message not held while the first is not reported sent")
	}
	if r.sender.Hold(first) {
		t.Error("the unreported message itself held: its retry must find where it stands")
	}
	if r.sender.Hold(outbound(citizen2, "halo")) {
		t.Error("another citizen's message held with one segment of the limit left")
	}
	r.send(outbound(citizen2, "halo"), time.Second)
	if !r.sender.Hold(outbound(citizen2+"9", "halo")) {
		t.Error("message not held with the phone's limit used up")
	}
	if r.sender.Hold(outbound(citizen2+"9", bot.UrgentMark+"Tiket baru KS-2")) {
		t.Error("urgent message held for the pacing")
	}
}

// A send the phone refuses or fails goes to staff by WhatsApp at once.
func TestStaffFallBackWhenTheSMSFails(t *testing.T) {
	r := newRig(t, channeltest.GatewayOptions{}, nil)
	r.gw.FailSMS("RESULT_ERROR_NO_SERVICE")
	if id, err := r.send(outbound(officer, "Tiket baru KS-7HQ4XM"), 5*time.Second); err != nil || id != "wa-1" {
		t.Fatalf("send = %q, %v; want it sent by WhatsApp", id, err)
	}
}

// The phone is silent after SilentAfter unheard and failing after
// FailAfter failed sends in a row; Run says each outage once, and its end
// once.
func TestPhoneStates(t *testing.T) {
	var mu sync.Mutex
	now := epoch
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	events := make(chan string, 16)
	p := smsgate.NewPhone(smsgate.PhoneConfig{SilentAfter: time.Minute, Now: clock, Tick: 2 * time.Millisecond,
		OnDown: func(st smsgate.State) { events <- "down " + string(st) }, OnUp: func() { events <- "up" }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Run(ctx)
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-events:
			if got != want {
				t.Fatalf("event %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event, want %q", want)
		}
	}
	advance(61 * time.Second)
	expect("down silent")
	advance(time.Minute) // still silent: nothing more is said
	p.Heard(clock())
	expect("up")
	r := newRig(t, channeltest.GatewayOptions{}, nil)
	r.gw.FailRequests(500, 500, 500)
	for range 3 {
		r.send(outbound(citizen, "halo"), time.Second)
	}
	if st := r.phone.State(); st != smsgate.StateFailing {
		t.Fatalf("after three failed sends: %s", st)
	}
	if _, err := r.send(outbound(citizen, "halo"), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := r.phone.State(); st != smsgate.StateUp {
		t.Fatalf("after a send went: %s", st)
	}
	select {
	case e := <-events:
		t.Fatalf("unexpected event %q", e)
	default:
	}
	_ = errors.New
}
