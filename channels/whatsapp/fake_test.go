package whatsapp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"aduan/channels/whatsapp"
)

// sent is one SendMessage call.
type sent struct {
	To  types.JID
	Msg *waE2E.Message
	ID  types.MessageID
}

// Text returns the text of a sent text message.
func (s sent) Text() string {
	if t := s.Msg.GetConversation(); t != "" {
		return t
	}
	return s.Msg.GetExtendedTextMessage().GetText()
}

// Revoked returns the ID a sent revoke deletes, or "".
func (s sent) Revoked() string {
	pm := s.Msg.GetProtocolMessage()
	if pm.GetType() != waE2E.ProtocolMessage_REVOKE {
		return ""
	}
	return pm.GetKey().GetID()
}

type call struct {
	Name string // "read", "typing", "timer"
	JID  types.JID
	IDs  []types.MessageID
	Arg  string
}

// fakeClient is whatsapp.Client without WhatsApp's servers: it records
// what the channel asks of it and lets the test play events.
type fakeClient struct {
	own  types.JID
	lids map[types.JID]types.JID // LID -> phone-number JID

	mu         sync.Mutex
	handler    whatsmeow.EventHandlerWithSuccessStatus
	connected  bool
	connects   int
	connectErr error
	autoLogin  bool // emit Connected after each Connect
	sendErr    func(to types.JID, msg *waE2E.Message) error
	sent       []sent
	calls      []call
	order      []string // "typing:<user>", "send:<user>", in call order
	nextID     int

	media     map[string][]byte // attachments on the media servers, by direct path
	mediaFail map[string]int    // downloads of the path that fail (503) before one succeeds
	downloads int
}

func newFake(own string) *fakeClient {
	return &fakeClient{own: types.NewJID(own, types.DefaultUserServer), lids: map[types.JID]types.JID{}, autoLogin: true,
		media: map[string][]byte{}, mediaFail: map[string]int{}}
}

var _ whatsapp.Client = (*fakeClient)(nil)

func (f *fakeClient) Connect() error {
	f.mu.Lock()
	f.connects++
	if f.connectErr != nil {
		err := f.connectErr
		f.mu.Unlock()
		return err
	}
	f.connected = true
	login := f.autoLogin
	f.mu.Unlock()
	if login {
		go f.emit(&events.Connected{})
	}
	return nil
}

func (f *fakeClient) Disconnect() {
	f.mu.Lock()
	f.connected = false
	f.mu.Unlock()
}

func (f *fakeClient) IsConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}

func (f *fakeClient) Connects() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connects
}

func (f *fakeClient) AddEventHandlerWithSuccessStatus(h whatsmeow.EventHandlerWithSuccessStatus) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.handler = h
	return 1
}

// emit plays an event as whatsmeow would and returns the handler's
// verdict: whether a message would be acknowledged.
func (f *fakeClient) emit(evt any) bool {
	f.mu.Lock()
	h := f.handler
	f.mu.Unlock()
	if h == nil {
		panic("fakeClient: no handler registered")
	}
	return h(evt)
}

func (f *fakeClient) SendMessage(ctx context.Context, to types.JID, msg *waE2E.Message, extra ...whatsmeow.SendRequestExtra) (whatsmeow.SendResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.connected {
		return whatsmeow.SendResponse{}, whatsmeow.ErrNotConnected
	}
	if f.sendErr != nil {
		if err := f.sendErr(to, msg); err != nil {
			return whatsmeow.SendResponse{}, err
		}
	}
	var id types.MessageID
	if len(extra) > 0 {
		id = extra[0].ID
	}
	if id == "" {
		f.nextID++
		id = fmt.Sprintf("3EB0FAKE%04d", f.nextID)
	}
	f.sent = append(f.sent, sent{To: to, Msg: msg, ID: id})
	f.order = append(f.order, "send:"+to.User)
	return whatsmeow.SendResponse{ID: id, Timestamp: time.Now()}, nil
}

func (f *fakeClient) BuildRevoke(chat, sender types.JID, id types.MessageID) *waE2E.Message {
	return &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key:  &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String(id), RemoteJID: proto.String(chat.String())},
	}}
}

func (f *fakeClient) MarkRead(ctx context.Context, ids []types.MessageID, ts time.Time, chat, sender types.JID, _ ...types.ReceiptType) error {
	f.record(call{Name: "read", JID: chat, IDs: ids})
	return nil
}

func (f *fakeClient) SendChatPresence(ctx context.Context, jid types.JID, state types.ChatPresence, media types.ChatPresenceMedia) error {
	f.record(call{Name: "typing", JID: jid, Arg: string(state)})
	f.mu.Lock()
	f.order = append(f.order, "typing:"+jid.User)
	f.mu.Unlock()
	return nil
}

func (f *fakeClient) SetDisappearingTimer(ctx context.Context, chat types.JID, timer time.Duration, ts time.Time) error {
	f.mu.Lock()
	connected := f.connected
	f.mu.Unlock()
	if !connected {
		return whatsmeow.ErrNotConnected
	}
	f.record(call{Name: "timer", JID: chat, Arg: timer.String()})
	return nil
}

func (f *fakeClient) PNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if lid.User == "000" {
		return types.EmptyJID, errors.New("device store unreachable")
	}
	return f.lids[lid], nil
}

func (f *fakeClient) OwnJID() types.JID { return f.own }

// Download serves the attachment from media, failing as mediaFail says;
// an unknown path is expired media (404), as WhatsApp's servers answer.
func (f *fakeClient) Download(ctx context.Context, msg whatsmeow.DownloadableMessage) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.downloads++
	path := msg.GetDirectPath()
	if f.mediaFail[path] > 0 { // the media server overloaded: a passing failure
		f.mediaFail[path]--
		return nil, fmt.Errorf("download %s: %w", path, whatsmeow.DownloadHTTPError{Response: &http.Response{StatusCode: 503}})
	}
	data, ok := f.media[path]
	if !ok {
		return nil, whatsmeow.ErrMediaDownloadFailedWith404
	}
	return append([]byte(nil), data...), nil
}

// Upload puts the file on the fake media servers, where Download finds it.
func (f *fakeClient) Upload(ctx context.Context, data []byte, kind whatsmeow.MediaType) (whatsmeow.UploadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := fmt.Sprintf("/up/%d", len(f.media))
	f.media[path] = append([]byte(nil), data...)
	return whatsmeow.UploadResponse{URL: "https://mmg.whatsapp.net" + path, DirectPath: path,
		MediaKey: []byte("k"), FileSHA256: []byte("s"), FileEncSHA256: []byte("e"), FileLength: uint64(len(data))}, nil
}

// media returns what is on the fake media servers at path.
func (f *fakeClient) mediaAt(path string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.media[path]
}

// putMedia places data on the fake media servers and returns its path.
func (f *fakeClient) putMedia(path string, data []byte) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.media[path] = data
	return path
}

func (f *fakeClient) Downloads() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.downloads
}

func (f *fakeClient) record(c call) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeClient) Sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.sent...)
}

func (f *fakeClient) Calls(name string) []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []call
	for _, c := range f.calls {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeClient) Order() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

// eventually polls cond until it holds or 10 seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Event builders: messages as whatsmeow hands them to the handler.

var epoch = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func pn(user string) types.JID  { return types.NewJID(user, types.DefaultUserServer) }
func lid(user string) types.JID { return types.NewJID(user, types.HiddenUserServer) }

// dm is a direct message from a phone-number sender.
func dm(id, user string, msg *waE2E.Message) *events.Message {
	return message(id, types.MessageSource{Chat: pn(user), Sender: pn(user), AddressingMode: types.AddressingModePN}, msg)
}

func message(id string, src types.MessageSource, msg *waE2E.Message) *events.Message {
	return &events.Message{
		Info:       types.MessageInfo{MessageSource: src, ID: id, Timestamp: epoch, PushName: "Warga", Type: "text"},
		Message:    msg,
		RawMessage: msg,
	}
}

func text(s string) *waE2E.Message { return &waE2E.Message{Conversation: proto.String(s)} }
