package whatsapp_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"aduan/bot"
	"aduan/channels/whatsapp"
	"aduan/dialog/flows"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

const (
	office  = "6281100000000" // the office's WhatsApp number
	citizen = "6281337700001"
	officer = "+6281337785111"
)

// keys seal what the stores keep.
var keys = seal.Random()

// recorder is the pipeline as the channel sees it: it records each
// inbound message, fails while fail is set, and passes the rest to the
// real service.
type recorder struct {
	next whatsapp.Pipeline

	mu   sync.Mutex
	msgs []bot.Inbound
	fail int // fail this many more calls
}

func (r *recorder) Handle(ctx context.Context, m bot.Inbound) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	if r.fail > 0 {
		r.fail--
		r.mu.Unlock()
		return bot.E("test", bot.Unavailable, errors.New("database down"))
	}
	r.mu.Unlock()
	return r.next.Handle(ctx, m)
}

func (r *recorder) received() []bot.Inbound {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]bot.Inbound(nil), r.msgs...)
}

func (r *recorder) failNext(n int) {
	r.mu.Lock()
	r.fail = n
	r.mu.Unlock()
}

// harness is the real pipeline (PostgreSQL, Redis, the default flows, the
// outbox dispatcher) behind a Channel whose WhatsApp client is a fake.
type harness struct {
	t      *testing.T
	fake   *fakeClient
	ch     *whatsapp.Channel
	pg     *sqlstore.Store
	outbox *bot.Dispatcher
	rec    *recorder

	unpaired      atomic.Bool  // Open finds no paired device
	unpairedOpens atomic.Int32 // times Open found none

	mu    sync.Mutex
	downs []string
	ups   int // OnUp calls
}

type option func(*whatsapp.Config)

func newHarness(t *testing.T, opts ...option) *harness {
	t.Helper()
	ctx := context.Background()
	pg, err := sqlstore.OpenPostgres(ctx, testenv.PostgresURL(t, "channels_whatsapp"), sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.Close() })
	if err := pg.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Pool().Exec(ctx, "TRUNCATE tickets, ticket_events, inbound_seen, outbox, opt_outs, digests, conversations RESTART IDENTITY CASCADE"); err != nil {
		t.Fatal(err)
	}
	contacts, err := whatsapp.OpenPostgresContacts(ctx, pg.Pool(), keys.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.Pool().Exec(ctx, "TRUNCATE whatsapp_contacts"); err != nil {
		t.Fatal(err)
	}
	rd, err := redis.Open(ctx, testenv.RedisURL(5), redis.Options{Keyring: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rd.Close() })
	if err := rd.Client().FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	book, err := flows.Load("")
	if err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, fake: newFake(office), pg: pg, rec: &recorder{}}
	cfg := whatsapp.Config{
		Pipeline: h.rec,
		Open: func(context.Context) (whatsapp.Client, error) {
			if h.unpaired.Load() {
				h.unpairedOpens.Add(1)
				return nil, whatsapp.ErrNotPaired
			}
			return h.fake, nil
		},
		Lease: &whatsapp.LocalLease{},
		Send: whatsapp.SenderConfig{
			Contacts:     whatsapp.NewContacts([]string{officer}, contacts),
			PerRecipient: whatsapp.Rate{Interval: time.Millisecond, Burst: 10},
			Overall:      whatsapp.Rate{Interval: time.Millisecond, Burst: 100},
			Files:        pg.Attachment,
		},
		Statuses:     pg,
		OnDown:       h.down,
		OnUp:         h.up,
		MarkRead:     true,
		RetryWait:    time.Millisecond,
		ReconnectMin: time.Millisecond,
		ReconnectMax: 5 * time.Millisecond,
		Redeliver:    time.Hour,
		Logger:       slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.ch = whatsapp.New(cfg)
	h.outbox = bot.NewDispatcher(bot.DispatcherConfig{Store: pg,
		Senders: map[bot.Channel]bot.Sender{bot.WhatsApp: h.ch.Sender()}, PollInterval: 20 * time.Millisecond})
	svc := bot.NewService(bot.Config{Store: pg, Conversations: rd, Book: book, Outbox: h.outbox,
		Officers: []bot.Officer{{Name: "Genoveva", Phone: officer, Role: bot.RoleOfficer}}, SendFiles: true})
	h.rec.next = svc

	run := func(name string, f func(context.Context) error) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			f(ctx)
		}()
		t.Cleanup(func() {
			cancel()
			<-done
		})
	}
	// Cleanups run last first: the channel stops, then the service, then
	// the outbox.
	run("outbox", h.outbox.Run)
	run("service", svc.Run)
	eventually(t, "the service to run", svc.Running)
	run("channel", h.ch.Run)
	eventually(t, "the channel to connect", h.ch.Up)
	return h
}

func (h *harness) openedUnpaired() int { return int(h.unpairedOpens.Load()) }

func (h *harness) down(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.downs = append(h.downs, reason)
}

func (h *harness) up() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ups++
}

func (h *harness) Ups() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ups
}

func (h *harness) Downs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.downs...)
}

// settle waits until the outbox has sent what the pipeline wrote.
func (h *harness) settle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.outbox.Wait(ctx); err != nil {
		h.t.Fatalf("outbox: %v", err)
	}
}

// repliesTo returns the texts sent to a phone-number user.
func (h *harness) repliesTo(user string) []string {
	var out []string
	for _, s := range h.fake.Sent() {
		if s.To == pn(user) && s.Revoked() == "" {
			out = append(out, s.Text())
		}
	}
	return out
}

func TestInbound(t *testing.T) {
	h := newHarness(t)
	h.fake.lids[lid("111222333")] = pn("6281337700009")
	photo, visum, voice := []byte("\xff\xd8 a photo"), []byte("%PDF a letter"), []byte("OggS a voice note")
	h.fake.putMedia("/v/photo", photo)
	h.fake.putMedia("/v/visum", visum)
	h.fake.putMedia("/v/voice", voice)
	place := "Lokasi: -8.612345,120.456789 (Pasar Borong, Jl. Trans Flores)"

	for _, tc := range []struct {
		label string
		evt   *events.Message

		wantHandled bool   // the pipeline got it
		wantFrom    string // its sender
		wantText    string
		wantMedia   int
		wantFiles   []bot.File
	}{
		{label: "text", evt: dm("T1", citizen, text("halo")),
			wantHandled: true, wantFrom: "+" + citizen, wantText: "halo"},
		{label: "extended text", evt: dm("T2", "6281337700002",
			&waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("  tolong  ")}}),
			wantHandled: true, wantFrom: "+6281337700002", wantText: "tolong"},
		{label: "image with caption", evt: dm("T3", "6281337700003", &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			Caption: proto.String("foto luka"), FileLength: proto.Uint64(200_000), Mimetype: proto.String("image/jpeg"),
			DirectPath: proto.String("/v/photo")}}),
			wantHandled: true, wantFrom: "+6281337700003", wantText: "foto luka", wantMedia: 1,
			wantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: photo}}},
		{label: "document with caption", evt: dm("T4", "6281337700004", &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			Caption: proto.String("surat visum"), FileLength: proto.Uint64(1 << 20), DirectPath: proto.String("/v/visum")}}),
			wantHandled: true, wantFrom: "+6281337700004", wantText: "surat visum", wantMedia: 1,
			wantFiles: []bot.File{{Kind: bot.FileDocument, MIME: "application/octet-stream", Data: visum}}},
		{label: "location", evt: dm("T5", "6281337700005", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(-8.612345), DegreesLongitude: proto.Float64(120.456789),
			Name: proto.String("Pasar Borong"), Address: proto.String("Jl. Trans Flores")}}),
			wantHandled: true, wantFrom: "+6281337700005", wantText: place,
			wantFiles: []bot.File{{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8", Data: []byte(place)}}},
		{label: "location without a name, with a comment", evt: dm("T5b", "6281337700005", &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: proto.Float64(-8.6), DegreesLongitude: proto.Float64(120.5), Comment: proto.String(" rumah biru ")}}),
			wantHandled: true, wantFrom: "+6281337700005", wantText: "Lokasi: -8.600000,120.500000\nrumah biru",
			wantFiles: []bot.File{{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8", Data: []byte("Lokasi: -8.600000,120.500000\nrumah biru")}}},
		{label: "live location", evt: dm("T5c", "6281337700005", &waE2E.Message{LiveLocationMessage: &waE2E.LiveLocationMessage{
			DegreesLatitude: proto.Float64(-8.5), DegreesLongitude: proto.Float64(120.25)}}),
			wantHandled: true, wantFrom: "+6281337700005", wantText: "Lokasi: -8.500000,120.250000",
			wantFiles: []bot.File{{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8", Data: []byte("Lokasi: -8.500000,120.250000")}}},
		{label: "sticker", evt: dm("T5d", "6281337700005", &waE2E.Message{StickerMessage: &waE2E.StickerMessage{}}),
			wantHandled: true, wantFrom: "+6281337700005"},
		{label: "voice note", evt: dm("T6", "6281337700006", &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			PTT: proto.Bool(true), Seconds: proto.Uint32(12), FileLength: proto.Uint64(40_000),
			Mimetype: proto.String("audio/ogg; codecs=opus"), DirectPath: proto.String("/v/voice")}}),
			wantHandled: true, wantFrom: "+6281337700006", wantMedia: 1,
			wantFiles: []bot.File{{Kind: bot.FileVoice, MIME: "audio/ogg; codecs=opus", Data: voice}}},
		{label: "lid sender with phone number alongside", evt: message("T7", types.MessageSource{
			Chat: lid("444555666"), Sender: lid("444555666"), SenderAlt: pn("6281337700007"), AddressingMode: types.AddressingModeLID},
			text("halo")),
			wantHandled: true, wantFrom: "+6281337700007", wantText: "halo"},
		{label: "lid sender in the device store", evt: message("T8", types.MessageSource{
			Chat: lid("111222333"), Sender: lid("111222333"), AddressingMode: types.AddressingModeLID}, text("halo")),
			wantHandled: true, wantFrom: "+6281337700009", wantText: "halo"},
		{label: "lid sender with no known number", evt: message("T9", types.MessageSource{
			Chat: lid("777888999"), Sender: lid("777888999"), AddressingMode: types.AddressingModeLID}, text("halo")),
			wantHandled: true, wantFrom: "lid:777888999", wantText: "halo"},
		{label: "group", evt: message("T10", types.MessageSource{
			Chat: types.NewJID("120363000000000001", types.GroupServer), Sender: pn("6281337700010"), IsGroup: true},
			text("halo grup"))},
		{label: "from me", evt: message("T11", types.MessageSource{
			Chat: pn(citizen), Sender: pn(office), IsFromMe: true}, text("dari kantor"))},
		{label: "status broadcast", evt: message("T12", types.MessageSource{
			Chat: types.StatusBroadcastJID, Sender: pn("6281337700012"), IsGroup: true}, text("status"))},
		{label: "newsletter", evt: message("T13", types.MessageSource{
			Chat: types.NewJID("120363000000000002", types.NewsletterServer), Sender: types.NewJID("120363000000000002", types.NewsletterServer)},
			text("berita"))},
		{label: "reaction", evt: dm("T14", citizen, &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{Text: proto.String("👍")}})},
		{label: "revoke by the citizen", evt: dm("T15", citizen, &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
			Type: waE2E.ProtocolMessage_REVOKE.Enum()}})},
	} {
		t.Run(tc.label, func(t *testing.T) {
			before := len(h.rec.received())
			if !h.fake.emit(tc.evt) {
				t.Fatalf("handler = false, want true (acknowledged)")
			}
			got := h.rec.received()[before:]
			if !tc.wantHandled {
				if len(got) != 0 {
					t.Fatalf("pipeline got %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("pipeline got %d messages, want 1", len(got))
			}
			m := got[0]
			want := bot.Inbound{Channel: bot.WhatsApp, ExternalID: tc.evt.Info.ID, From: tc.wantFrom, To: "+" + office,
				Text: tc.wantText, Media: tc.wantMedia, Files: tc.wantFiles, Received: m.Received}
			if !reflect.DeepEqual(m, want) {
				t.Errorf("inbound = %+v, want %+v", m, want)
			}
			reads := h.fake.Calls("read")
			if len(reads) == 0 || !slices.Equal(reads[len(reads)-1].IDs, []types.MessageID{tc.evt.Info.ID}) {
				t.Errorf("read receipts = %+v, want the last for %s", reads, tc.evt.Info.ID)
			}
		})
	}

	// Each handled sender got an answer on WhatsApp, on its phone number
	// where it has one, and the outbox recorded WhatsApp's message ID.
	h.settle()
	for _, user := range []string{citizen, "6281337700002", "6281337700007", "6281337700009"} {
		if len(h.repliesTo(user)) == 0 {
			t.Errorf("no reply to %s", user)
		}
	}
	sentIDs := map[string]bool{}
	for _, s := range h.fake.Sent() {
		sentIDs[s.ID] = true
	}
	// Outcomes are recorded just after the sends.
	eventually(t, "the outbox to record the sends", func() bool {
		entries, err := h.pg.Outbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Channel == bot.WhatsApp && (e.State != "sent" || !sentIDs[e.ProviderID]) {
				return false
			}
		}
		return len(entries) > 0
	})
	for _, s := range h.fake.Sent() {
		if s.To.User == "6281337700010" || s.To.User == "6281337700012" {
			t.Errorf("sent %q to an ignored sender %s", s.Text(), s.To)
		}
	}
}

func TestRedelivery(t *testing.T) {
	h := newHarness(t)
	evt := dm("R1", citizen, text("halo"))
	if !h.fake.emit(evt) {
		t.Fatal("first delivery not acknowledged")
	}
	h.settle()
	replies := len(h.repliesTo(citizen))
	if replies == 0 {
		t.Fatal("no reply to the first delivery")
	}
	// WhatsApp delivers the same message again (the acknowledgement was
	// lost): it is acknowledged, and answered once only.
	if !h.fake.emit(evt) {
		t.Fatal("redelivery not acknowledged")
	}
	h.settle()
	if got := len(h.repliesTo(citizen)); got != replies {
		t.Errorf("replies after redelivery = %d, want %d", got, replies)
	}
	if got := len(h.rec.received()); got != 2 {
		t.Errorf("pipeline calls = %d, want 2 (the second found a duplicate)", got)
	}
}

func TestUnstoredMessageNotAcknowledged(t *testing.T) {
	h := newHarness(t)
	h.rec.failNext(3) // every attempt of the first delivery
	evt := dm("F1", citizen, text("halo"))
	if h.fake.emit(evt) {
		t.Fatal("handler = true for a message the pipeline did not store, want false")
	}
	if got := len(h.rec.received()); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	if reads := h.fake.Calls("read"); len(reads) != 0 {
		t.Errorf("read receipts = %+v, want none for an unstored message", reads)
	}
	// A passing failure is retried within the delivery.
	h.rec.failNext(1)
	if !h.fake.emit(evt) {
		t.Fatal("handler = false after a passing failure, want true")
	}
	h.settle()
	if len(h.repliesTo(citizen)) == 0 {
		t.Error("no reply once stored")
	}
}

func TestRedeliverReconnects(t *testing.T) {
	h := newHarness(t, func(c *whatsapp.Config) { c.Redeliver = time.Millisecond; c.HandleAttempts = 1 })
	connects := h.fake.Connects()
	h.rec.failNext(1)
	if h.fake.emit(dm("F2", citizen, text("halo"))) {
		t.Fatal("handler = true, want false")
	}
	// The channel reconnects so that WhatsApp delivers the message again.
	eventually(t, "a reconnect", func() bool { return h.fake.Connects() > connects && h.ch.Up() })
}

func TestTooLarge(t *testing.T) {
	h := newHarness(t, func(c *whatsapp.Config) { c.MediaMaxBytes = 1 << 20 })
	big := &waE2E.Message{VideoMessage: &waE2E.VideoMessage{FileLength: proto.Uint64(50 << 20)}}
	if !h.fake.emit(dm("L1", citizen, big)) {
		t.Fatal("not acknowledged")
	}
	eventually(t, "the too-large notice", func() bool { return len(h.repliesTo(citizen)) == 1 })
	if got := h.repliesTo(citizen)[0]; !strings.Contains(got, "terlalu besar") || !strings.Contains(got, "1 MB") {
		t.Errorf("notice = %q, want the Indonesian notice with the 1 MB limit", got)
	}
	if got := h.rec.received(); len(got) != 0 {
		t.Errorf("pipeline got %+v, want nothing for a file alone", got)
	}
	// With a caption, the caption still counts.
	withCaption := &waE2E.Message{ImageMessage: &waE2E.ImageMessage{FileLength: proto.Uint64(5 << 20), Caption: proto.String("halo")}}
	if !h.fake.emit(dm("L2", citizen, withCaption)) {
		t.Fatal("not acknowledged")
	}
	if got := h.rec.received(); len(got) != 1 || got[0].Text != "halo" || got[0].Media != 0 {
		t.Errorf("pipeline got %+v, want the caption without the file", got)
	}
}

func TestTypingBeforeReply(t *testing.T) {
	h := newHarness(t, func(c *whatsapp.Config) { c.Send.Typing = 20 * time.Millisecond })
	if !h.fake.emit(dm("Y1", citizen, text("halo"))) {
		t.Fatal("not acknowledged")
	}
	h.settle()
	order := h.fake.Order()
	typing := slices.Index(order, "typing:"+citizen)
	send := slices.Index(order, "send:"+citizen)
	if typing < 0 || send < 0 || typing > send {
		t.Errorf("calls = %q, want typing before the first reply", order)
	}
}

func TestReadReceiptsRecorded(t *testing.T) {
	h := newHarness(t)
	if !h.fake.emit(dm("S1", citizen, text("halo"))) {
		t.Fatal("not acknowledged")
	}
	h.settle()
	s := h.fake.Sent()
	if len(s) == 0 {
		t.Fatal("nothing sent")
	}
	id := s[0].ID
	h.fake.emit(&events.Receipt{MessageSource: types.MessageSource{Chat: pn(citizen), Sender: pn(citizen)},
		MessageIDs: []types.MessageID{id, "3EB0UNKNOWN"}, Timestamp: time.Now(), Type: types.ReceiptTypeRead})
	eventually(t, "the read receipt", func() bool {
		entries, err := h.pg.Outbox(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.ProviderID == id {
				return e.DeliveryStatus == "read"
			}
		}
		return false
	})
}

func TestConnectionEvents(t *testing.T) {
	h := newHarness(t)
	connects := h.fake.Connects()
	// The first connection says up: an outage an earlier process told of
	// is over.
	eventually(t, "OnUp at the first connection", func() bool { return h.Ups() == 1 })

	// A drop: the channel reconnects by itself, and nobody is told.
	h.fake.emit(&events.Disconnected{})
	eventually(t, "a reconnect", func() bool { return h.fake.Connects() > connects && h.ch.Up() })
	// Keepalives failing: the dead connection is replaced.
	connects = h.fake.Connects()
	h.fake.emit(&events.KeepAliveTimeout{ErrorCount: 1})
	h.fake.emit(&events.KeepAliveTimeout{ErrorCount: 3})
	eventually(t, "a reconnect after failed keepalives", func() bool { return h.fake.Connects() > connects && h.ch.Up() })
	if got := h.Downs(); len(got) != 0 {
		t.Errorf("down notices = %q, want none for a drop", got)
	}
	if got := h.Ups(); got != 1 {
		t.Errorf("OnUp calls = %d, want 1: a drop is no outage", got)
	}

	// Banned: down, supervisors told once, however often WhatsApp says it.
	// Reconnect attempts from now on do not log in.
	h.fake.mu.Lock()
	h.fake.autoLogin = false
	h.fake.mu.Unlock()
	h.fake.emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
	eventually(t, "the banned state", func() bool { return h.ch.State() == whatsapp.StateBanned })
	h.fake.emit(&events.TemporaryBan{Code: events.TempBanSentToTooManyPeople, Expire: time.Hour})
	h.fake.emit(&events.ConnectFailure{Reason: events.ConnectFailureGeneric})
	eventually(t, "the down state", func() bool { return h.ch.State() == whatsapp.StateDown })
	if got := h.Downs(); len(got) != 1 || !strings.Contains(got[0], "banned") {
		t.Errorf("down notices = %q, want one about the ban", got)
	}
	if h.ch.Client() != nil {
		t.Error("Client() != nil while down")
	}
	_, err := h.ch.Sender().Send(context.Background(), bot.Outbound{ID: 9, Channel: bot.WhatsApp, To: officer, Body: "x"})
	if bot.KindOf(err) != bot.Temporary || !errors.Is(err, whatsapp.ErrNotConnected) {
		t.Errorf("Send while down = %v, want a temporary not-connected error", err)
	}

	if got := h.Ups(); got != 1 {
		t.Errorf("OnUp calls = %d while down, want 1", got)
	}

	// Connected again: the outage is over, once, and a new outage is a
	// new notice.
	h.fake.emit(&events.Connected{})
	eventually(t, "connected", h.ch.Up)
	eventually(t, "OnUp after the outage", func() bool { return h.Ups() == 2 })
	h.fake.emit(&events.StreamReplaced{})
	eventually(t, "the replaced state", func() bool { return h.ch.State() == whatsapp.StateReplaced })
	if got := h.Downs(); len(got) != 2 || !strings.Contains(got[1], "replaced") {
		t.Errorf("down notices = %q, want a second about the replaced stream", got)
	}
	if got := h.Ups(); got != 2 {
		t.Errorf("OnUp calls = %d, want 2", got)
	}
	if !strings.Contains(h.ch.Reason(), "replaced") {
		t.Errorf("Reason() = %q, want the replaced stream", h.ch.Reason())
	}
}

func TestLoggedOut(t *testing.T) {
	h := newHarness(t, func(c *whatsapp.Config) { c.PairPoll = time.Millisecond })
	// WhatsApp unlinked the device; whatsmeow deleted it.
	h.unpaired.Store(true)
	h.fake.emit(&events.LoggedOut{Reason: events.ConnectFailureLoggedOut})
	eventually(t, "the logged-out state", func() bool { return h.ch.State() == whatsapp.StateLoggedOut })
	// Polling for a new pairing keeps it logged out (not merely
	// unpaired), and the notice went once.
	connects := h.fake.Connects()
	eventually(t, "a look for a paired device", func() bool { return h.openedUnpaired() >= 2 })
	if got := h.ch.State(); got != whatsapp.StateLoggedOut {
		t.Errorf("state = %s, want %s", got, whatsapp.StateLoggedOut)
	}
	if got := h.fake.Connects(); got != connects {
		t.Errorf("connects = %d, want %d: nothing to connect with", got, connects)
	}
	if got := h.Downs(); len(got) != 1 || !strings.Contains(got[0], "pair again") {
		t.Errorf("down notices = %q, want one asking to pair again", got)
	}
	// Paired again: the channel connects, and says the outage is over.
	h.unpaired.Store(false)
	eventually(t, "connected again", h.ch.Up)
	eventually(t, "OnUp after the outage", func() bool { return h.Ups() == 2 })
}

func TestDisappearingChat(t *testing.T) {
	h := newHarness(t)
	// The citizen's chat has disappearing messages on (a week): their
	// messages carry the timer, and the service's answers must too.
	week := uint32(7 * 24 * 3600)
	msg := &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String("halo"),
		ContextInfo: &waE2E.ContextInfo{Expiration: proto.Uint32(week)}}}
	if !h.fake.emit(dm("E1", citizen, msg)) {
		t.Fatal("not acknowledged")
	}
	h.settle()
	sent := h.fake.Sent()
	if len(sent) == 0 {
		t.Fatal("no reply")
	}
	for _, s := range sent {
		if got := s.Msg.GetExtendedTextMessage().GetContextInfo().GetExpiration(); got != week {
			t.Errorf("reply %q expiration = %d, want %d", s.Text(), got, week)
		}
	}
	// The citizen turns it off: answers are plain again.
	off := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_EPHEMERAL_SETTING.Enum(),
		EphemeralExpiration: proto.Uint32(0)}}
	if !h.fake.emit(dm("E2", citizen, off)) {
		t.Fatal("not acknowledged")
	}
	if !h.fake.emit(dm("E3", citizen, text("halo"))) {
		t.Fatal("not acknowledged")
	}
	h.settle()
	last := h.fake.Sent()[len(h.fake.Sent())-1]
	if last.Msg.GetConversation() == "" {
		t.Errorf("reply after the timer was turned off = %v, want a plain text", last.Msg)
	}
}
