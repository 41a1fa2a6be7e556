package storetest

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
)

// Private is a store that keeps personal data sealed: what RunPrivate
// tests beyond bot.Store.
type Private interface {
	bot.Store
	TicketsByReporter(ctx context.Context, ch bot.Channel, addr string) ([]bot.Ticket, error)
	bot.LiveLookup
	SentTo(ctx context.Context, ch bot.Channel, to string) ([]string, error)
	EraseTicket(ctx context.Context, code string, at time.Time, actor string) (seal.Counts, error)
	Purge(ctx context.Context, closedBefore time.Time, dryRun bool) (seal.Counts, error)
	PurgeAttachments(ctx context.Context, receivedBefore time.Time, dryRun bool) (int64, error)
	Rotate(ctx context.Context, batch int) (seal.Counts, error)
	PurgeConversations(ctx context.Context, before, tombstonesBefore time.Time, dryRun bool) (int64, error)
	ForgetConversations(ctx context.Context, keys ...string) (int64, error)
	StaleConversations(ctx context.Context) (int64, error)
}

// Sealed is how RunPrivate reaches an implementation.
type Sealed struct {
	// Open returns a store on an empty database, sealing under k.
	Open func(t *testing.T, k *seal.Keyring) Private
	// Reopen returns a store on the same database as s, sealing under k
	// (nil: no keyring), as a process restarted with a new configuration.
	Reopen func(t *testing.T, s Private, k *seal.Keyring) Private
	// Dump returns every value stored in the tickets, ticket_events,
	// outbox, attachments and conversations tables, as text; binary
	// values in lower-case hex.
	Dump func(t *testing.T, s Private) string
}

// Keyring returns a test keyring whose current key is made of the byte
// current and whose old keys are made of the bytes old. Every such keyring
// has the same lookup key, as a deployment's keyrings do.
func Keyring(t testing.TB, current byte, old ...byte) *seal.Keyring {
	t.Helper()
	key := func(b byte) []byte { return bytes.Repeat([]byte{b}, seal.KeySize) }
	var olds [][]byte
	for _, b := range old {
		olds = append(olds, key(b))
	}
	k, err := seal.New(key(current), olds, key(0xEE))
	if err != nil {
		t.Fatalf("keyring: %v", err)
	}
	return k
}

// RunPrivate runs the privacy contract as subtests of t: personal data is
// sealed at rest and read back whole; lookups by address; erasure on
// request; the retention purge; key rotation, large files too; and refusal
// without a key.
func RunPrivate(t *testing.T, impl Sealed) {
	tests := []struct {
		name string
		fn   func(t *testing.T, impl Sealed)
	}{
		{"SealedAtRest", testSealedAtRest},
		{"NoKeyring", testNoKeyring},
		{"TicketsByReporter", testTicketsByReporter},
		{"LiveTickets", testLiveTickets},
		{"SentTo", testSentTo},
		{"Erase", testErase},
		{"Purge", testPurge},
		{"Rotate", testRotate},
		{"RotateFiles", testRotateFiles},
		{"Conversations", testConversationsPrivate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, impl) })
	}
}

// Secrets of the private fixture: none may be stored in clear.
const (
	secretReporter = "+6281399990123"
	secretOther    = "+6281399990456"
	secretDesc     = "Suami memukul saya dengan kayu setiap malam"
	secretName     = "Maria Goreti Jelahu"
	secretPlace    = "Kampung Watu Nggene"
	secretNote     = "Korban dirujuk ke RSUD Borong"
	secretRelayOut = "Ibu, petugas akan datang besok pagi"
	secretRelayIn  = "Terima kasih, saya tunggu di rumah"
	secretPhoto    = "\xff\xd8\xff\xe0\x00\x10JFIF foto luka memar di lengan kiri"
	secretLocation = "Lokasi: -8.6123,120.4567 (" + secretPlace + ")"
)

var secrets = []string{secretReporter, "81399990123", secretDesc, secretName, secretPlace, secretNote,
	secretRelayOut, secretRelayIn, secretPhoto, secretLocation}

// privateTicket is a case report with statistics and free text.
func privateTicket(code, reporter string, ch bot.Channel, created time.Time) bot.Ticket {
	return bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived, Kecamatan: "borong",
		Answers: map[string]string{"reporter": "victim", "safe": "no", "violence": "physical,domestic",
			"age_group": "adult", "sex": "female", "kecamatan": "borong",
			"description": secretDesc, "name": secretName, "place": secretPlace, "contact_time": "sore"},
		Channel: ch, Reporter: reporter, CreatedAt: created, UpdatedAt: created}
}

// privateFixture writes one ticket (KS-PRIV1) from secretReporter with its
// history and messages, a message about no ticket to the same reporter,
// a photo of the ticket, a location the reporter sent that belongs to no
// ticket yet and a file from someone else, and returns what it wrote.
func privateFixture(t *testing.T, s bot.Store) *bot.Changes {
	t.Helper()
	c := &bot.Changes{
		Tickets: []bot.Ticket{privateTicket("KS-PRIV1", secretReporter, bot.SMS, t0)},
		Events: []bot.Event{
			{TicketCode: "KS-PRIV1", At: t0, Actor: "citizen", Type: "created", Detail: "kind=case channel=sms urgent=true"},
			{TicketCode: "KS-PRIV1", At: t0.Add(time.Minute), Actor: "+6281337785111", Type: "note", Detail: secretNote},
			{TicketCode: "KS-PRIV1", At: t0.Add(2 * time.Minute), Actor: "+6281337785111", Type: "relay_out", Detail: secretRelayOut},
			{TicketCode: "KS-PRIV1", At: t0.Add(3 * time.Minute), Actor: "citizen", Type: "relay_in", Detail: secretRelayIn},
			{TicketCode: "KS-PRIV1", At: t0.Add(4 * time.Minute), Actor: "+6281337785111", Type: "status", Detail: "done"},
		},
		Outbox: []bot.Outbound{
			{Channel: bot.SMS, To: secretReporter, Body: "Periksa: " + secretDesc, Purpose: bot.PurposeReply, CreatedAt: t0},
			{Channel: bot.SMS, To: secretReporter, Body: "Kode Anda KS-PRIV1", Purpose: bot.PurposeReply, TicketCode: "KS-PRIV1", CreatedAt: t0},
			{Channel: bot.SMS, To: "+6281337785111", Body: "Tiket baru KS-PRIV1", Purpose: bot.PurposeNotify, TicketCode: "KS-PRIV1", CreatedAt: t0},
			{Channel: bot.SMS, To: secretReporter, Body: secretRelayOut, Purpose: bot.PurposeReply, TicketCode: "KS-PRIV1", CreatedAt: t0},
			{Channel: bot.SMS, To: "+6281337785111", Body: secretRelayIn, Purpose: bot.PurposeNotify, TicketCode: "KS-PRIV1", CreatedAt: t0},
		},
		Attachments: []bot.Attachment{
			file("KS-PRIV1", secretReporter, "wamid.PRIV1", 0, t0, []byte(secretPhoto)),
			file("", secretReporter, "wamid.PRIV2", 0, t0.Add(time.Minute), []byte(secretLocation)),
			file("", secretOther, "wamid.PRIV3", 0, t0, []byte("foto orang lain")),
		},
	}
	c.Attachments[1].Kind, c.Attachments[1].MIME = bot.FileLocation, "text/plain"
	Apply(t, s, c, t0)
	return c
}

// assertNoSecrets fails t if the dump holds a secret, in clear or in hex.
func assertNoSecrets(t *testing.T, dump string) {
	t.Helper()
	lower := strings.ToLower(dump)
	for _, s := range secrets {
		if strings.Contains(dump, s) || strings.Contains(lower, hex.EncodeToString([]byte(s))) {
			t.Errorf("the database holds %q in clear", s)
		}
	}
}

func testSealedAtRest(t *testing.T, impl Sealed) {
	s := impl.Open(t, Keyring(t, 1))
	c := privateFixture(t, s)

	dump := impl.Dump(t, s)
	assertNoSecrets(t, dump)
	for _, stat := range []string{"borong", "physical,domestic", "female"} {
		if !strings.Contains(dump, stat) {
			t.Errorf("the database lacks the statistic %q in clear", stat)
		}
	}

	if got, want := ticket(t, s, "KS-PRIV1"), norm(c.Tickets[0]); !reflect.DeepEqual(got, want) {
		t.Errorf("Ticket = %+v, want %+v", got, want)
	}
	for i, e := range events(t, s, "KS-PRIV1") {
		if want := normEvent(c.Events[i]); !reflect.DeepEqual(e, want) {
			t.Errorf("Events[%d] = %+v, want %+v", i, e, want)
		}
	}
	for i, e := range outbox(t, s) {
		if w := c.Outbox[i]; e.To != w.To || e.Body != w.Body {
			t.Errorf("Outbox[%d] = %q to %q, want %q to %q", i, e.Body, e.To, w.Body, w.To)
		}
	}
	as := listAttachments(t, s, "KS-PRIV1")
	if want := []bot.Attachment{listed(c.Attachments[0], "KS-PRIV1")}; !reflect.DeepEqual(as, want) {
		t.Errorf("Attachments = %+v, want %+v", as, want)
	}
	for i, a := range c.Attachments {
		code := ""
		if i == 0 {
			code = "KS-PRIV1"
		}
		checkAttachment(t, s, a, code)
	}
}

func testNoKeyring(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	fx := privateFixture(t, s)
	bare := impl.Reopen(t, s, nil)
	for name, err := range map[string]error{
		"Apply":             tryApply(t, bare, &bot.Changes{Tickets: []bot.Ticket{privateTicket("KS-BARE1", secretOther, bot.SMS, t0)}}),
		"Apply(attachment)": tryApply(t, bare, &bot.Changes{Attachments: []bot.Attachment{file("", secretOther, "wamid.BARE1", 0, t0, []byte(secretPhoto))}}),
		"Ticket":            errOf(bare.Ticket(ctx, "KS-PRIV1")),
		"Events":            errOf(bare.Events(ctx, "KS-PRIV1")),
		"Outbox":            errOf(bare.Outbox(ctx)),
		"Attachments":       errOf(bare.Attachments(ctx, "KS-PRIV1")),
		"Attachment":        errOf(bare.Attachment(ctx, fx.Attachments[0].ID)),
		"TicketsByReporter": errOf(bare.TicketsByReporter(ctx, bot.SMS, secretReporter)),
		"SentTo":            errOf(bare.SentTo(ctx, bot.SMS, secretReporter)),
		"EraseTicket":       errOf(bare.EraseTicket(ctx, "KS-PRIV1", t0, "admin")),
		"Rotate":            errOf(bare.Rotate(ctx, 10)),
	} {
		wantKind(t, name+" without a keyring", err, bot.Invalid)
	}
	// What holds nothing personal is still readable.
	if _, err := bare.Tickets(ctx, bot.TicketFilter{Kind: bot.KindComplaint}); err != nil {
		t.Errorf("Tickets(no match) without a keyring = %v, want nil", err)
	}
}

func testTicketsByReporter(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		privateTicket("KS-A1", secretReporter, bot.SMS, t0),
		privateTicket("KS-A2", secretReporter, bot.SMS, t0.Add(time.Hour)),
		privateTicket("KS-A3", secretReporter, bot.WhatsApp, t0.Add(2*time.Hour)),
		privateTicket("KS-B1", secretOther, bot.SMS, t0.Add(3*time.Hour)),
	}}, t0)
	tests := []struct {
		ch   bot.Channel
		addr string
		want []string
	}{
		{bot.SMS, secretReporter, []string{"KS-A2", "KS-A1"}},
		{bot.WhatsApp, secretReporter, []string{"KS-A3"}},
		{bot.SMS, secretOther, []string{"KS-B1"}},
		{bot.SMS, "+6281200000000", []string{}},
		{bot.SMS, "", []string{}},
	}
	for _, tt := range tests {
		ts, err := s.TicketsByReporter(ctx, tt.ch, tt.addr)
		if err != nil {
			t.Fatalf("TicketsByReporter(%s, %s): %v", tt.ch, tt.addr, err)
		}
		for _, tk := range ts {
			if tk.Reporter != tt.addr || tk.Answers["description"] != secretDesc {
				t.Errorf("TicketsByReporter(%s, %s): ticket %s has reporter %q, description %q", tt.ch, tt.addr,
					tk.Code, tk.Reporter, tk.Answers["description"])
			}
		}
		if got := Codes(ts); !slices.Equal(got, tt.want) {
			t.Errorf("TicketsByReporter(%s, %s) = %v, want %v", tt.ch, tt.addr, got, tt.want)
		}
	}
}

// testLiveTickets: for a batch of addresses at once, each one's tickets
// from any channel that are open or were closed since the time given,
// newest first, with their reporter and story; nothing for an address
// that filed none, an erased reporter's ticket not found.
func testLiveTickets(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	closed := func(tk bot.Ticket, at time.Time) bot.Ticket {
		tk.Status, tk.ClosedAt, tk.Assignee, tk.AcceptedAt = bot.StatusDone, at, "+6281337785111", at
		return tk
	}
	Apply(t, s, &bot.Changes{Tickets: []bot.Ticket{
		privateTicket("KS-L1", secretReporter, bot.SMS, t0),
		closed(privateTicket("KS-L2", secretReporter, bot.SMS, t0.Add(time.Hour)), t0.Add(48*time.Hour)),
		privateTicket("KS-L3", secretReporter, bot.WhatsApp, t0.Add(2*time.Hour)),
		closed(privateTicket("KS-L4", secretReporter, bot.SMS, t0.Add(3*time.Hour)), t0.Add(4*time.Hour)),
		privateTicket("KS-M1", secretOther, bot.SMS, t0.Add(5*time.Hour)),
		privateTicket("KS-E1", "+6281200000001", bot.SMS, t0.Add(6*time.Hour)),
	}}, t0)
	if _, err := s.EraseTicket(ctx, "KS-E1", t0.Add(7*time.Hour), "test"); err != nil {
		t.Fatal(err)
	}
	since := t0.Add(24 * time.Hour) // KS-L4 was closed before: no longer live
	got, err := s.LiveTickets(ctx, []string{secretReporter, secretOther, "+6281200000000", "+6281200000001"}, since)
	if err != nil {
		t.Fatalf("LiveTickets: %v", err)
	}
	codes := map[string][]string{}
	for addr, ts := range got {
		for _, tk := range ts {
			codes[addr] = append(codes[addr], tk.Code)
			if tk.Reporter != addr || tk.Answers["description"] != secretDesc {
				t.Errorf("LiveTickets: %s has reporter %q, description %q", tk.Code, tk.Reporter, tk.Answers["description"])
			}
			if tk.Code == "KS-L2" && (tk.Open() || !tk.ClosedAt.Equal(t0.Add(48*time.Hour).Truncate(time.Microsecond))) {
				t.Errorf("LiveTickets: KS-L2 status %s closed %v, want done at %v", tk.Status, tk.ClosedAt, t0.Add(48*time.Hour))
			}
		}
	}
	want := map[string][]string{secretReporter: {"KS-L3", "KS-L2", "KS-L1"}, secretOther: {"KS-M1"}}
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("LiveTickets = %v, want %v", codes, want)
	}
	if got, err := s.LiveTickets(ctx, nil, since); err != nil || len(got) != 0 {
		t.Errorf("LiveTickets(none) = %v, %v; want nothing", got, err)
	}
}

func testSentTo(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	c := &bot.Changes{Outbox: []bot.Outbound{
		{Channel: bot.WhatsApp, To: secretReporter, Body: "satu", Purpose: bot.PurposeReply, CreatedAt: t0},
		{Channel: bot.WhatsApp, To: secretOther, Body: "lain", Purpose: bot.PurposeReply, CreatedAt: t0},
		{Channel: bot.WhatsApp, To: secretReporter, Body: "dua", Purpose: bot.PurposeReply, CreatedAt: t0},
		{Channel: bot.SMS, To: secretReporter, Body: "sms", Purpose: bot.PurposeReply, CreatedAt: t0},
		{Channel: bot.WhatsApp, To: secretReporter, Body: "belum", Purpose: bot.PurposeReply, CreatedAt: t0},
	}}
	Apply(t, s, c, t0)
	if err := s.Settle(ctx, []bot.Delivery{
		{ID: c.Outbox[0].ID, ProviderID: "wamid.1"}, {ID: c.Outbox[1].ID, ProviderID: "wamid.2"},
		{ID: c.Outbox[2].ID, ProviderID: "wamid.3"}, {ID: c.Outbox[3].ID, ProviderID: "SM4"},
		{ID: c.Outbox[4].ID, Err: "throttled", RetryAt: t0.Add(time.Minute)},
	}); err != nil {
		t.Fatalf("Settle: %v", err)
	}
	tests := []struct {
		ch   bot.Channel
		to   string
		want []string
	}{
		{bot.WhatsApp, secretReporter, []string{"wamid.1", "wamid.3"}},
		{bot.SMS, secretReporter, []string{"SM4"}},
		{bot.WhatsApp, secretOther, []string{"wamid.2"}},
		{bot.WhatsApp, "+6281200000000", []string{}},
	}
	for _, tt := range tests {
		if got, err := s.SentTo(ctx, tt.ch, tt.to); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("SentTo(%s, %s) = %v, %v; want %v", tt.ch, tt.to, got, err, tt.want)
		}
	}
}

func testErase(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	c := privateFixture(t, s)
	// Another ticket of the same reporter, and a message about it, which
	// the erasure of KS-PRIV1 leaves alone; and a reply still waiting.
	other := &bot.Changes{
		Tickets: []bot.Ticket{privateTicket("KS-PRIV2", secretReporter, bot.SMS, t0.Add(time.Hour))},
		Events:  []bot.Event{{TicketCode: "KS-PRIV2", At: t0, Actor: "+6281337785111", Type: "note", Detail: "catatan lain"}},
		Outbox: []bot.Outbound{
			{Channel: bot.SMS, To: secretReporter, Body: "Kode Anda KS-PRIV2", Purpose: bot.PurposeReply, TicketCode: "KS-PRIV2", CreatedAt: t0},
			{Channel: bot.SMS, To: secretReporter, Body: "Balasan tertunda", Purpose: bot.PurposeReply, CreatedAt: t0},
		},
		Attachments: []bot.Attachment{file("KS-PRIV2", secretReporter, "wamid.PRIV4", 0, t0, []byte("foto tiket lain"))},
	}
	Apply(t, s, other, t0.Add(time.Hour))
	if err := s.Settle(ctx, []bot.Delivery{{ID: c.Outbox[0].ID, ProviderID: "SM-E1"}}); err != nil {
		t.Fatalf("Settle: %v", err)
	}

	at := t0.Add(24 * time.Hour)
	n, err := s.EraseTicket(ctx, "KS-PRIV1", at, "admin")
	if err != nil {
		t.Fatalf("EraseTicket: %v", err)
	}
	// The ticket; its note, relays and created event (not its status
	// change); its four messages, the reply about no ticket, and the
	// pending reply about no ticket; its photo and the reporter's location
	// that belonged to no ticket yet.
	if want := (seal.Counts{Tickets: 1, Events: 4, Outbox: 6, Attachments: 2}); n != want {
		t.Errorf("EraseTicket counts = %+v, want %+v", n, want)
	}

	tk := ticket(t, s, "KS-PRIV1")
	wantAnswers := map[string]string{"reporter": "victim", "safe": "no", "violence": "physical,domestic",
		"age_group": "adult", "sex": "female", "kecamatan": "borong"}
	if tk.Reporter != "" || !reflect.DeepEqual(tk.Answers, wantAnswers) || tk.Kecamatan != "borong" ||
		tk.Kind != bot.KindCase || !tk.CreatedAt.Equal(micro(t0)) {
		t.Errorf("erased ticket = %+v, want no reporter, only the statistics, the rest kept", tk)
	}
	es := events(t, s, "KS-PRIV1")
	if len(es) != 6 {
		t.Fatalf("Events = %+v, want the 5 written and an erased one", es)
	}
	for i, e := range es[:5] {
		want := ""
		if e.Type == "status" {
			want = "done"
		}
		if e.Detail != want || e.Type != c.Events[i].Type {
			t.Errorf("event %d (%s) detail = %q, want %q", i, e.Type, e.Detail, want)
		}
	}
	if e := es[5]; e.Type != "erased" || e.Actor != "admin" || !e.At.Equal(micro(at)) {
		t.Errorf("last event = %+v, want erased by admin at %v", e, at)
	}

	for i, e := range outbox(t, s) {
		if e.TicketCode == "KS-PRIV2" {
			if e.Body != "Kode Anda KS-PRIV2" || e.To != secretReporter {
				t.Errorf("outbox %d about the other ticket = %+v, want it untouched", i, e)
			}
			continue
		}
		if e.Body != "" || e.To != "" {
			t.Errorf("outbox %d = %q to %q, want both erased", i, e.Body, e.To)
		}
		if e.State == "pending" {
			t.Errorf("outbox %d erased but still pending", i)
		}
	}
	if ts, err := s.TicketsByReporter(ctx, bot.SMS, secretReporter); err != nil || len(ts) != 1 || ts[0].Code != "KS-PRIV2" {
		t.Errorf("TicketsByReporter after erasure = %v, %v; want only KS-PRIV2", ts, err)
	}
	if ids, err := s.SentTo(ctx, bot.SMS, secretReporter); err != nil || len(ids) != 0 {
		t.Errorf("SentTo after erasure = %v, %v; want none", ids, err)
	}
	if as := listAttachments(t, s, "KS-PRIV1"); len(as) != 0 {
		t.Errorf("Attachments after erasure = %+v; want none", as)
	}
	for _, a := range c.Attachments[:2] {
		wantKind(t, fmt.Sprintf("Attachment(%d) after erasure", a.ID), errOf(s.Attachment(ctx, a.ID)), bot.NotFound)
	}
	// Someone else's file, and the other ticket's, stay.
	checkAttachment(t, s, c.Attachments[2], "")
	checkAttachment(t, s, other.Attachments[0], "KS-PRIV2")
	assertNoSecrets(t, impl.Dump(t, s))

	wantKind(t, "EraseTicket(unknown)", errOf(s.EraseTicket(ctx, "KS-NONE1", at, "admin")), bot.NotFound)
	// Erasing again changes no more, and says so in another event.
	if n, err := s.EraseTicket(ctx, "KS-PRIV1", at, "admin"); err != nil || n != (seal.Counts{Tickets: 1}) {
		t.Errorf("EraseTicket again = %+v, %v; want only the ticket row touched", n, err)
	}
}

func testPurge(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	now := t0.Add(200 * 24 * time.Hour)
	cut := now.Add(-90 * 24 * time.Hour)
	old, recent := cut.Add(-time.Hour), cut.Add(time.Hour)

	mk := func(code string, status bot.Status, updated time.Time) bot.Ticket {
		tk := privateTicket(code, secretReporter, bot.SMS, t0)
		tk.Status, tk.UpdatedAt = status, updated
		return tk
	}
	c := &bot.Changes{Tickets: []bot.Ticket{
		mk("KS-OLD01", bot.StatusDone, now),         // closed long ago (its closed event says so)
		mk("KS-NEW01", bot.StatusDone, recent),      // closed recently
		mk("KS-OPEN1", bot.StatusReceived, old),     // open, however old
		mk("KS-OLD02", bot.StatusDone, old),         // closed long ago, no closed event
		mk("KS-NEW02", bot.StatusDone, old),         // reopened and closed again recently
		mk("KS-DONE9", bot.Status("assessed"), old), // not done
		mk("KS-OLD03", bot.StatusDone, now),         // closed long ago (its ClosedAt says so)
	}}
	c.Tickets[6].ClosedAt = old
	for _, tk := range c.Tickets {
		c.Events = append(c.Events,
			bot.Event{TicketCode: tk.Code, At: t0, Actor: "citizen", Type: "created", Detail: "kind=case"},
			bot.Event{TicketCode: tk.Code, At: t0, Actor: "+6281337785111", Type: "note", Detail: secretNote},
			bot.Event{TicketCode: tk.Code, At: t0, Actor: "+6281337785111", Type: "relay_out", Detail: secretRelayOut})
		c.Outbox = append(c.Outbox, bot.Outbound{Channel: bot.SMS, To: secretReporter, Body: secretRelayOut,
			Purpose: bot.PurposeReply, TicketCode: tk.Code, CreatedAt: t0})
	}
	c.Events = append(c.Events,
		bot.Event{TicketCode: "KS-OLD01", At: old, Actor: "+6281337785111", Type: "closed"},
		bot.Event{TicketCode: "KS-NEW01", At: recent, Actor: "+6281337785111", Type: "closed"},
		bot.Event{TicketCode: "KS-NEW02", At: old.Add(-time.Hour), Actor: "+6281337785111", Type: "closed"},
		bot.Event{TicketCode: "KS-NEW02", At: recent, Actor: "+6281337785111", Type: "closed"})
	// Conversation replies about no ticket: an old sent one goes, an old
	// pending one and a recent one stay.
	c.Outbox = append(c.Outbox,
		bot.Outbound{Channel: bot.SMS, To: secretReporter, Body: "Periksa: " + secretDesc, Purpose: bot.PurposeReply, CreatedAt: old},
		bot.Outbound{Channel: bot.SMS, To: secretReporter, Body: "tertunda", Purpose: bot.PurposeReply, CreatedAt: old},
		bot.Outbound{Channel: bot.SMS, To: secretReporter, Body: "baru", Purpose: bot.PurposeReply, CreatedAt: recent})
	// Files of purged tickets go with them; those of kept tickets stay,
	// however old. Files of no ticket are PurgeAttachments's.
	c.Attachments = []bot.Attachment{
		file("KS-OLD01", secretReporter, "wamid.PA1", 0, t0, []byte(secretPhoto)),
		file("KS-OLD02", secretReporter, "wamid.PA2", 0, t0, []byte(secretPhoto)),
		file("KS-NEW01", secretReporter, "wamid.PA3", 0, t0, []byte(secretPhoto)),
		file("KS-OPEN1", secretReporter, "wamid.PA4", 0, old, []byte(secretPhoto)),
		file("", secretReporter, "wamid.PA5", 0, old, []byte(secretLocation)),
		file("", secretReporter, "wamid.PA6", 0, recent, []byte(secretLocation)),
	}
	Apply(t, s, c, t0)
	var ds []bot.Delivery
	for i, m := range c.Outbox {
		if m.Body != "tertunda" {
			ds = append(ds, bot.Delivery{ID: m.ID, ProviderID: "SM-P" + string(rune('a'+i))})
		}
	}
	if err := s.Settle(ctx, ds); err != nil {
		t.Fatalf("Settle: %v", err)
	}

	before := snapshot(t, s)
	want := seal.Counts{Tickets: 3, Events: 6, Outbox: 4, Attachments: 2}
	n, err := s.Purge(ctx, cut, true)
	if err != nil || n != want {
		t.Fatalf("Purge(dry run) = %+v, %v; want %+v", n, err, want)
	}
	if after := snapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Fatalf("Purge(dry run) changed the store")
	}
	if n, err = s.Purge(ctx, cut, false); err != nil || n != want {
		t.Fatalf("Purge = %+v, %v; want %+v", n, err, want)
	}
	if n, err = s.Purge(ctx, cut, false); err != nil || n != (seal.Counts{}) {
		t.Errorf("Purge again = %+v, %v; want nothing", n, err)
	}

	purged := map[string]bool{"KS-OLD01": true, "KS-OLD02": true, "KS-OLD03": true}
	for _, tk := range c.Tickets {
		if got := ticket(t, s, tk.Code); purged[tk.Code] {
			if got.Reporter != "" || got.Answers["description"] != "" || got.Answers["name"] != "" ||
				got.Answers["violence"] != "physical,domestic" || got.Answers["kecamatan"] != "borong" ||
				got.Status != bot.StatusDone || !got.CreatedAt.Equal(micro(t0)) {
				t.Errorf("purged ticket %s = %+v, want only its structured fields", tk.Code, got)
			}
		} else if !reflect.DeepEqual(got, norm(tk)) {
			t.Errorf("ticket %s = %+v, want it untouched", tk.Code, got)
		}
		for _, e := range events(t, s, tk.Code) {
			gone := purged[tk.Code] && (e.Type == "note" || e.Type == "relay_out")
			if gone != (e.Detail == "") && e.Type != "closed" {
				t.Errorf("ticket %s event %s detail = %q, want purged = %v", tk.Code, e.Type, e.Detail, gone)
			}
		}
	}
	for _, e := range outbox(t, s) {
		gone := purged[e.TicketCode] || (e.TicketCode == "" && e.Body != "tertunda" && e.Body != "baru")
		if gone != (e.Body == "" && e.To == "") {
			t.Errorf("outbox %d (ticket %q) = %q to %q, want purged = %v", e.ID, e.TicketCode, e.Body, e.To, gone)
		}
	}
	if ts, err := s.TicketsByReporter(ctx, bot.SMS, secretReporter); err != nil || len(ts) != len(c.Tickets)-len(purged) {
		t.Errorf("TicketsByReporter after purge: %d tickets, %v; want %d", len(ts), err, len(c.Tickets)-len(purged))
	}
	for _, a := range c.Attachments {
		_, err := s.Attachment(ctx, a.ID)
		if gone := purged[a.TicketCode]; gone != (bot.KindOf(err) == bot.NotFound) || (!gone && err != nil) {
			t.Errorf("Attachment(%d) of ticket %q after purge: %v; want purged = %v", a.ID, a.TicketCode, err, gone)
		}
	}

	// Files whose report was never filed, received before the cut.
	pending := c.Attachments[4]
	if n, err := s.PurgeAttachments(ctx, cut, true); err != nil || n != 1 {
		t.Fatalf("PurgeAttachments(dry run) = %d, %v; want 1", n, err)
	}
	checkAttachment(t, s, pending, "")
	if n, err := s.PurgeAttachments(ctx, cut, false); err != nil || n != 1 {
		t.Fatalf("PurgeAttachments = %d, %v; want 1", n, err)
	}
	if n, err := s.PurgeAttachments(ctx, cut, false); err != nil || n != 0 {
		t.Errorf("PurgeAttachments again = %d, %v; want 0", n, err)
	}
	wantKind(t, "Attachment after PurgeAttachments", errOf(s.Attachment(ctx, pending.ID)), bot.NotFound)
	checkAttachment(t, s, c.Attachments[3], "KS-OPEN1")
	checkAttachment(t, s, c.Attachments[5], "")
}

// snapshot reads everything the store gives back.
func snapshot(t *testing.T, s bot.Store) []any {
	t.Helper()
	ts := tickets(t, s, bot.TicketFilter{})
	out := []any{ts}
	for _, tk := range ts {
		as := listAttachments(t, s, tk.Code)
		out = append(out, events(t, s, tk.Code), as)
		for _, a := range as {
			f, err := s.Attachment(t.Context(), a.ID)
			if err != nil {
				t.Fatalf("Attachment(%d): %v", a.ID, err)
			}
			out = append(out, f)
		}
	}
	return append(out, outbox(t, s))
}

func testRotate(t *testing.T, impl Sealed) {
	ctx := t.Context()
	k1 := Keyring(t, 1)
	s1 := impl.Open(t, k1)
	fx := privateFixture(t, s1)
	Apply(t, s1, &bot.Changes{Tickets: []bot.Ticket{privateTicket("KS-PRIV3", secretOther, bot.WhatsApp, t0.Add(time.Hour))}}, t0)
	want := snapshot(t, s1)

	// A ring with the new key only cannot read the old values.
	if _, err := impl.Reopen(t, s1, Keyring(t, 2)).Ticket(ctx, "KS-PRIV1"); err == nil {
		t.Fatalf("Ticket under a ring without the old key = nil error, want one")
	}

	s2 := impl.Reopen(t, s1, Keyring(t, 2, 1))
	if got := snapshot(t, s2); !reflect.DeepEqual(got, want) {
		t.Fatalf("before rotation, the new ring reads %+v, want %+v", got, want)
	}
	// Written during rotation: under the new key already.
	during := &bot.Changes{Outbox: []bot.Outbound{{Channel: bot.SMS, To: secretOther, Body: "baru",
		Purpose: bot.PurposeReply, CreatedAt: t0}},
		Attachments: []bot.Attachment{file("KS-PRIV3", secretOther, "wamid.ROT1", 0, t0, []byte("foto baru"))}}
	Apply(t, s2, during, t0)
	want = snapshot(t, s2)

	n, err := s2.Rotate(ctx, 2) // small batches: several pages
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	// Two tickets; the fixture's five events with detail (the other's
	// have none); five outbox messages and three files (not those written
	// under the new key).
	if wantN := (seal.Counts{Tickets: 2, Events: 5, Outbox: 5, Attachments: 3}); n != wantN {
		t.Errorf("Rotate = %+v, want %+v", n, wantN)
	}
	if n, err := s2.Rotate(ctx, 2); err != nil || n != (seal.Counts{}) {
		t.Errorf("Rotate again = %+v, %v; want nothing to do", n, err)
	}

	// Now the new key alone reads everything, and lookups still work.
	s3 := impl.Reopen(t, s1, Keyring(t, 2))
	if got := snapshot(t, s3); !reflect.DeepEqual(got, want) {
		t.Errorf("after rotation, the new key alone reads %+v, want %+v", got, want)
	}
	ts, err := s3.TicketsByReporter(ctx, bot.WhatsApp, secretOther)
	if err != nil || len(ts) != 1 || ts[0].Code != "KS-PRIV3" {
		t.Errorf("TicketsByReporter after rotation = %v, %v; want KS-PRIV3", ts, err)
	}
	// Files of no ticket too; and the old key alone no longer opens any.
	old := impl.Reopen(t, s1, k1)
	for _, a := range fx.Attachments[1:] {
		checkAttachment(t, s3, a, "")
		if _, err := old.Attachment(ctx, a.ID); err == nil {
			t.Errorf("Attachment(%d) under the old key alone after rotation = nil error, want one", a.ID)
		}
	}
	assertNoSecrets(t, impl.Dump(t, s3))
}

// testRotateFiles rotates files that do not fit in memory at once: Rotate
// reads them a few at a time, and each reads back whole.
func testRotateFiles(t *testing.T, impl Sealed) {
	ctx := t.Context()
	k1 := Keyring(t, 1)
	s1 := impl.Open(t, k1)
	c := &bot.Changes{}
	for i := range 3 {
		c.Attachments = append(c.Attachments, file("", secretReporter, "wamid.BIG", i, t0, randomBytes(7<<20)))
	}
	Apply(t, s1, c, t0)

	s2 := impl.Reopen(t, s1, Keyring(t, 2, 1))
	if n, err := s2.Rotate(ctx, 10); err != nil || n != (seal.Counts{Attachments: 3}) {
		t.Fatalf("Rotate = %+v, %v; want the three files", n, err)
	}
	if n, err := s2.Rotate(ctx, 10); err != nil || n != (seal.Counts{}) {
		t.Errorf("Rotate again = %+v, %v; want nothing to do", n, err)
	}
	s3 := impl.Reopen(t, s1, Keyring(t, 2))
	for _, a := range c.Attachments {
		checkAttachment(t, s3, a, "")
		if _, err := impl.Reopen(t, s1, k1).Attachment(ctx, a.ID); err == nil {
			t.Errorf("Attachment(%d) under the old key alone after rotation = nil error, want one", a.ID)
		}
	}
	// The senders' lookup hashes are the same under every key: the
	// report filed now finds its files.
	Apply(t, s3, &bot.Changes{
		Tickets: []bot.Ticket{privateTicket("KS-BIG01", secretReporter, bot.WhatsApp, t0)},
		Links:   []bot.AttachmentLink{{TicketCode: "KS-BIG01", Channel: bot.WhatsApp, Sender: secretReporter, Since: t0}},
	}, t0)
	if as, err := s3.Attachments(ctx, "KS-BIG01"); err != nil || len(as) != 3 || as[0].Sender != secretReporter {
		t.Errorf("Attachments(KS-BIG01) after rotation = %d files, %v; want the three from the reporter", len(as), err)
	}
}

// testConversationsPrivate checks the conversations' checkpoints: sealed at
// rest (neither the number in their key nor the story in their state in
// clear); ended on erasure, leaving a tombstone; purged when idle past
// the state's life, tombstones later; and counted by StaleConversations
// while sealed under an old key, which Rotate cannot reseal (a state is
// bound to its conversation key, which the store keeps only hashed).
func testConversationsPrivate(t *testing.T, impl Sealed) {
	ctx := t.Context()
	s := impl.Open(t, Keyring(t, 1))
	key := "sms:" + secretReporter
	other := "whatsapp:" + secretOther
	state := []byte(strings.Repeat(secretDesc+". ", 20))
	if err := save(t, s, bot.Checkpoint{Key: key, Version: 1, State: state},
		bot.Checkpoint{Key: other, Version: 1, State: []byte(secretName)}); err != nil {
		t.Fatalf("save: %v", err)
	}
	d := impl.Dump(t, s)
	for _, secret := range []string{secretReporter, secretOther, secretDesc, secretName, hex.EncodeToString([]byte(secretDesc))} {
		if strings.Contains(d, secret) {
			t.Errorf("the conversations hold %q in clear", secret)
		}
	}
	if got := resume(t, s, bot.Checkpoint{Key: key})[0]; !bytes.Equal(got.State, state) {
		t.Errorf("state read back differs")
	}

	// Under a rotated keyring: still read, and counted as not current.
	rotated := impl.Reopen(t, s, Keyring(t, 2, 1))
	if n, err := rotated.StaleConversations(ctx); err != nil || n != 2 {
		t.Errorf("StaleConversations = %d, %v; want 2", n, err)
	}
	if got := resume(t, rotated, bot.Checkpoint{Key: key})[0]; !bytes.Equal(got.State, state) || got.Lost {
		t.Errorf("under the rotated keyring: Lost = %v, state equal = %v", got.Lost, bytes.Equal(got.State, state))
	}
	if got := resume(t, impl.Reopen(t, s, Keyring(t, 2)), bot.Checkpoint{Key: key})[0]; !got.Found || !got.Lost || got.State != nil {
		t.Errorf("without the old key: %+v, want found and lost", got)
	}

	// Erasure ends the conversation: a tombstone, one version on.
	if n, err := s.ForgetConversations(ctx, key, "sms:+6281200000000"); err != nil || n != 1 {
		t.Fatalf("ForgetConversations = %d, %v; want 1", n, err)
	}
	if got := resume(t, s, bot.Checkpoint{Key: key, Version: 1})[0]; !got.Found || got.Stored != 2 || got.State != nil {
		t.Errorf("after erasure: %+v, want a tombstone at version 2", got)
	}

	// Purge: a state idle past its life goes; a tombstone only later.
	now := time.Now()
	if n, err := s.PurgeConversations(ctx, now.Add(-time.Hour), now.Add(-time.Hour), false); err != nil || n != 0 {
		t.Errorf("purge of fresh rows = %d, %v; want 0", n, err)
	}
	if n, err := s.PurgeConversations(ctx, now.Add(time.Hour), now.Add(-time.Hour), true); err != nil || n != 1 {
		t.Errorf("purge --dry-run of the idle state = %d, %v; want 1", n, err)
	}
	if n, err := s.PurgeConversations(ctx, now.Add(time.Hour), now.Add(-time.Hour), false); err != nil || n != 1 {
		t.Errorf("purge of the idle state = %d, %v; want 1 (the tombstone kept)", n, err)
	}
	if got := resume(t, s, bot.Checkpoint{Key: other}, bot.Checkpoint{Key: key}); got[0].Found || !got[1].Found {
		t.Errorf("after the purge: %+v, want the state gone and the tombstone kept", got)
	}
	if n, err := s.PurgeConversations(ctx, now.Add(time.Hour), now.Add(time.Hour), false); err != nil || n != 1 {
		t.Errorf("purge of the tombstone = %d, %v; want 1", n, err)
	}
}
