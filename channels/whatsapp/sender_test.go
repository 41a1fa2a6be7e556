package whatsapp_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"

	"aduan/bot"
	"aduan/channels/whatsapp"
)

// clock is an injected clock whose Sleep records the waits and moves time
// on instead of sleeping.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// newSender returns a Sender on a connected fake client, with staff
// allowed, and its clock.
func newSender(t *testing.T, cfg whatsapp.SenderConfig) (*whatsapp.Sender, *fakeClient, *clock) {
	t.Helper()
	fake := newFake(office)
	fake.autoLogin = false
	fake.Connect()
	clk := &clock{now: epoch}
	connected := true
	var mu sync.Mutex
	cfg.Client = func() whatsapp.Client {
		mu.Lock()
		defer mu.Unlock()
		if !connected {
			return nil
		}
		return fake
	}
	if cfg.Contacts == nil {
		cfg.Contacts = whatsapp.NewContacts([]string{officer}, nil)
	}
	cfg.Now, cfg.Sleep = clk.Now, clk.Sleep
	return whatsapp.NewSender(cfg), fake, clk
}

func TestSend(t *testing.T) {
	citizenAddr := "+" + citizen
	for _, tc := range []struct {
		name      string
		msg       bot.Outbound
		connected bool
		sendErr   error
		wantKind  bot.ErrorKind // Other: sent
		wantTo    types.JID
	}{
		{"staff", bot.Outbound{ID: 1, Channel: bot.WhatsApp, To: officer, Body: "Tiket baru", Purpose: bot.PurposeNotify},
			true, nil, bot.Other, pn(officer[1:])},
		{"citizen who wrote", bot.Outbound{ID: 2, Channel: bot.WhatsApp, To: citizenAddr, Body: "Terima kasih", Purpose: bot.PurposeReply},
			true, nil, bot.Other, pn(citizen)},
		{"stranger", bot.Outbound{ID: 3, Channel: bot.WhatsApp, To: "+6281200000000", Body: "halo"},
			true, nil, bot.Permanent, types.JID{}},
		{"lid address", bot.Outbound{ID: 4, Channel: bot.WhatsApp, To: "lid:777888999", Body: "halo", Purpose: bot.PurposeReply},
			true, nil, bot.Other, lid("777888999")},
		{"not a number", bot.Outbound{ID: 5, Channel: bot.WhatsApp, To: "081337700001", Body: "halo"},
			true, nil, bot.Permanent, types.JID{}},
		{"sms", bot.Outbound{ID: 6, Channel: bot.SMS, To: officer, Body: "halo"},
			true, nil, bot.Permanent, types.JID{}},
		{"not connected", bot.Outbound{ID: 7, Channel: bot.WhatsApp, To: officer, Body: "halo"},
			false, nil, bot.Temporary, types.JID{}},
		{"server error", bot.Outbound{ID: 8, Channel: bot.WhatsApp, To: officer, Body: "halo"},
			true, errors.New("failed to get devices of 6281337785111@s.whatsapp.net: timed out"), bot.Temporary, types.JID{}},
		{"device JID", bot.Outbound{ID: 9, Channel: bot.WhatsApp, To: officer, Body: "halo"},
			true, whatsmeow.ErrRecipientADJID, bot.Permanent, types.JID{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			contacts := whatsapp.NewContacts([]string{officer}, nil)
			contacts.Add(context.Background(), citizenAddr)
			contacts.Add(context.Background(), "lid:777888999")
			s, fake, _ := newSender(t, whatsapp.SenderConfig{Contacts: contacts})
			if !tc.connected {
				fake.Disconnect()
				s = whatsapp.NewSender(whatsapp.SenderConfig{Client: func() whatsapp.Client { return nil }, Contacts: contacts})
			}
			fake.sendErr = func(types.JID, *waE2E.Message) error { return tc.sendErr }
			id, err := s.Send(context.Background(), tc.msg)
			if tc.wantKind != bot.Other {
				if bot.KindOf(err) != tc.wantKind {
					t.Fatalf("Send = %q, %v; want a %v error", id, err, tc.wantKind)
				}
				if strings.Contains(err.Error(), officer[1:]) || strings.Contains(err.Error(), tc.msg.Body) {
					t.Errorf("error %q shows the number or the body", err)
				}
				if got := fake.Sent(); len(got) != 0 {
					t.Errorf("sent %+v, want nothing", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Send = %v", err)
			}
			got := fake.Sent()
			if len(got) != 1 || got[0].To != tc.wantTo || got[0].Text() != tc.msg.Body || got[0].ID != id {
				t.Fatalf("sent %+v, want %q to %s with ID %q", got, tc.msg.Body, tc.wantTo, id)
			}
			if !strings.HasPrefix(id, "3EB0") || len(id) != 22 {
				t.Errorf("ID = %q, want 3EB0 and 18 hex digits", id)
			}
		})
	}
}

func TestSendIDsAreStable(t *testing.T) {
	s, fake, _ := newSender(t, whatsapp.SenderConfig{})
	m := bot.Outbound{ID: 41, Channel: bot.WhatsApp, To: officer, Body: "Tiket baru", CreatedAt: epoch.Add(123456789)}
	first, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	// The same outbox message, read back from the database with less
	// precision: the same ID, so WhatsApp does not show it twice.
	again := m
	again.CreatedAt = m.CreatedAt.Truncate(time.Microsecond)
	again.Attempts = 1
	second, err := s.Send(context.Background(), again)
	if err != nil {
		t.Fatal(err)
	}
	other := m
	other.ID = 42
	third, err := s.Send(context.Background(), other)
	if err != nil {
		t.Fatal(err)
	}
	if first != second || first == third {
		t.Errorf("IDs = %q, %q, %q; want the first two equal and the third different", first, second, third)
	}
	// A message from no outbox row gets a fresh ID each time.
	a, _ := s.Send(context.Background(), bot.Outbound{Channel: bot.WhatsApp, To: officer, Body: "x"})
	b, _ := s.Send(context.Background(), bot.Outbound{Channel: bot.WhatsApp, To: officer, Body: "x"})
	if a == b || a == "" {
		t.Errorf("IDs without an outbox row = %q, %q; want two different", a, b)
	}
	if n := len(fake.Sent()); n != 5 {
		t.Errorf("sent %d, want 5", n)
	}
}

func TestSendPacing(t *testing.T) {
	s, fake, clk := newSender(t, whatsapp.SenderConfig{
		PerRecipient: whatsapp.Rate{Interval: 2 * time.Second, Burst: 2},
		Overall:      whatsapp.Rate{Interval: 500 * time.Millisecond, Burst: 10},
	})
	ctx, cancel := context.WithDeadline(context.Background(), epoch.Add(time.Hour))
	defer cancel()
	for i := range 4 {
		if _, err := s.Send(ctx, bot.Outbound{ID: int64(i + 1), Channel: bot.WhatsApp, To: officer, Body: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	// Two at once, then one every 2s: the clock moved on by each wait.
	if got, want := clk.Waits(), []time.Duration{2 * time.Second, 2 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("waits = %v, want %v", got, want)
	}
	if n := len(fake.Sent()); n != 4 {
		t.Errorf("sent %d, want 4", n)
	}

	// A wait past the caller's deadline is not waited: the outbox retries.
	short, cancel2 := context.WithDeadline(context.Background(), clk.Now().Add(1500*time.Millisecond))
	defer cancel2()
	s.Send(short, bot.Outbound{ID: 10, Channel: bot.WhatsApp, To: officer, Body: "x"})
	_, err := s.Send(short, bot.Outbound{ID: 11, Channel: bot.WhatsApp, To: officer, Body: "x"})
	if bot.KindOf(err) != bot.Temporary || !strings.Contains(err.Error(), "paced") {
		t.Errorf("Send past the deadline = %v, want a temporary pacing error", err)
	}
}

func TestWipe(t *testing.T) {
	s, fake, _ := newSender(t, whatsapp.SenderConfig{})
	to := "+" + citizen
	ids := []string{"3EB0AAAA", "3EB0BBBB", "", "3EB0CCCC"}
	if err := s.Wipe(context.Background(), to, ids); err != nil {
		t.Fatalf("Wipe = %v", err)
	}
	var revoked []string
	for _, m := range fake.Sent() {
		if m.To != pn(citizen) {
			t.Errorf("revoke sent to %s, want %s", m.To, pn(citizen))
		}
		revoked = append(revoked, m.Revoked())
	}
	if want := []string{"3EB0AAAA", "3EB0BBBB", "3EB0CCCC"}; !slices.Equal(revoked, want) {
		t.Errorf("revoked %q, want %q", revoked, want)
	}
	timers := fake.Calls("timer")
	if len(timers) != 1 || timers[0].JID != pn(citizen) || timers[0].Arg != (24*time.Hour).String() {
		t.Errorf("disappearing timers = %+v, want 24h on %s", timers, pn(citizen))
	}
	// What the service says next in that chat disappears too.
	s.Contacts().Add(context.Background(), to)
	if _, err := s.Send(context.Background(), bot.Outbound{ID: 1, Channel: bot.WhatsApp, To: to, Body: "Pesan dihapus."}); err != nil {
		t.Fatal(err)
	}
	last := fake.Sent()[len(fake.Sent())-1]
	if got := last.Msg.GetExtendedTextMessage().GetContextInfo().GetExpiration(); got != 86400 || last.Text() != "Pesan dihapus." {
		t.Errorf("next message = %v, want its text with expiration 86400", last.Msg)
	}
}

func TestWipePartial(t *testing.T) {
	s, fake, _ := newSender(t, whatsapp.SenderConfig{})
	fake.sendErr = func(to types.JID, m *waE2E.Message) error {
		if m.GetProtocolMessage().GetKey().GetID() == "3EB0BBBB" {
			return errors.New("server returned error 500 for " + to.String())
		}
		return nil
	}
	err := s.Wipe(context.Background(), "+"+citizen, []string{"3EB0AAAA", "3EB0BBBB", "3EB0CCCC"})
	if bot.KindOf(err) != bot.Temporary || !strings.Contains(err.Error(), "1 of 3") {
		t.Fatalf("Wipe = %v, want a temporary error about 1 of 3", err)
	}
	if strings.Contains(err.Error(), citizen) {
		t.Errorf("error %q shows the number", err)
	}
	if n := len(fake.Sent()); n != 2 {
		t.Errorf("revokes sent = %d, want 2 (every other ID tried)", n)
	}

	down := whatsapp.NewSender(whatsapp.SenderConfig{Client: func() whatsapp.Client { return nil }})
	if err := down.Wipe(context.Background(), "+"+citizen, []string{"3EB0AAAA"}); bot.KindOf(err) != bot.Temporary {
		t.Errorf("Wipe while down = %v, want a temporary error", err)
	}
}

// fakeSender is a bot.Sender that records and answers with err.
type fakeSender struct {
	mu   sync.Mutex
	msgs []bot.Outbound
	id   string
	err  error
}

func (f *fakeSender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.msgs = append(f.msgs, m)
	if f.err != nil {
		return "", f.err
	}
	return f.id, nil
}

func TestFailover(t *testing.T) {
	staff := func(addr string) bool { return addr == officer }
	for _, tc := range []struct {
		name   string
		to     string
		up     bool
		waErr  error
		wantID string
		wantWA int
		wantSM int
		wantOK bool
	}{
		{"staff, whatsapp up", officer, true, nil, "WA1", 1, 0, true},
		{"staff, whatsapp down", officer, false, nil, "SM1", 0, 1, true},
		{"staff, whatsapp fails", officer, true, bot.E("x", bot.Temporary, errors.New("timeout")), "SM1", 1, 1, true},
		{"citizen, whatsapp fails", "+" + citizen, true, bot.E("x", bot.Temporary, errors.New("timeout")), "", 1, 0, false},
		{"citizen, whatsapp down", "+" + citizen, false, bot.E("x", bot.Temporary, whatsapp.ErrNotConnected), "", 1, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wa := &fakeSender{id: "WA1", err: tc.waErr}
			sms := &fakeSender{id: "SM1"}
			f := &whatsapp.Failover{WhatsApp: wa, SMS: sms, IsStaff: staff, Up: func() bool { return tc.up }}
			id, err := f.Send(context.Background(), bot.Outbound{ID: 1, Channel: bot.WhatsApp, To: tc.to, Body: "Tiket baru",
				Purpose: bot.PurposeNotify})
			if (err == nil) != tc.wantOK || id != tc.wantID {
				t.Fatalf("Send = %q, %v; want %q, ok %t", id, err, tc.wantID, tc.wantOK)
			}
			if len(wa.msgs) != tc.wantWA || len(sms.msgs) != tc.wantSM {
				t.Fatalf("whatsapp got %d, sms got %d; want %d, %d", len(wa.msgs), len(sms.msgs), tc.wantWA, tc.wantSM)
			}
			if tc.wantSM > 0 && (sms.msgs[0].Channel != bot.SMS || sms.msgs[0].To != tc.to) {
				t.Errorf("sms got %+v, want the message on channel sms", sms.msgs[0])
			}
		})
	}
}

// A file that cannot go on WhatsApp reaches staff by SMS as its caption,
// saying where the file is; a file that is gone fails for good.
func TestFileFailover(t *testing.T) {
	wa := &fakeSender{err: bot.E("x", bot.Temporary, errors.New("upload timed out"))}
	sms := &fakeSender{id: "SM1"}
	up := true
	f := &whatsapp.Failover{WhatsApp: wa, SMS: sms, IsStaff: func(string) bool { return true }, Up: func() bool { return up }}
	file := bot.Outbound{ID: 1, Channel: bot.WhatsApp, To: officer, Body: "[KS-7HQ4XM] 1/1 foto", Purpose: bot.PurposeFile, Attachment: 7}
	if _, err := f.Send(context.Background(), file); bot.KindOf(err) != bot.Temporary || len(sms.msgs) != 0 {
		t.Fatalf("file, WhatsApp up, passing failure: %v, %d SMS; want the error for the outbox to retry, no SMS", err, len(sms.msgs))
	}
	up = false
	if _, err := f.Send(context.Background(), file); err != nil {
		t.Fatal(err)
	}
	if m := sms.msgs[0]; m.Attachment != 0 || !strings.HasPrefix(m.Body, "[KS-7HQ4XM] 1/1 foto (berkas hanya bisa dikirim lewat WhatsApp") {
		t.Errorf("sms = %+v, want the caption and where the file is", m)
	}

	fake := newFake(office)
	fake.autoLogin = false
	fake.Connect()
	s := whatsapp.NewSender(whatsapp.SenderConfig{Client: func() whatsapp.Client { return fake },
		Contacts: whatsapp.NewContacts([]string{officer}, nil),
		Files: func(context.Context, int64) (bot.Attachment, error) {
			return bot.Attachment{}, bot.E("test", bot.NotFound, errors.New("no such file"))
		}})
	_, err := s.Send(context.Background(), bot.Outbound{ID: 2, Channel: bot.WhatsApp, To: officer, Body: "x",
		Purpose: bot.PurposeFile, Attachment: 8})
	if bot.KindOf(err) != bot.Permanent || len(fake.Sent()) != 0 {
		t.Errorf("send of an erased file = %v (sent %d), want a permanent error and nothing sent", err, len(fake.Sent()))
	}
}
