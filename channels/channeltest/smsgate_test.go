package channeltest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"aduan/channels/channeltest"
	"aduan/channels/smsgate"
)

const (
	gwUser = "sms"
	gwPass = "pw123"
	gwKey  = "signing-key"
)

// The fake signs as the app does: the example of the app's
// documentation, signed with its documented algorithm, matches, and the
// channel's check agrees.
func TestSignGatewayMatchesTheApp(t *testing.T) {
	body := []byte(`{"deviceId":"ffffffffceb0b1db0000018e937c815b","event":"sms:received","id":"Ey6ECgOkVVFjz3CL48B8C","payload":{"messageId":"abc123","message":"Android is always a sweet treat!","phoneNumber":"6505551212","simNumber":1,"receivedAt":"2024-06-22T15:46:11.000+07:00"},"webhookId":"<unique-id>"}`)
	got := channeltest.SignGateway(gwKey, body, "1719046000")
	if want := smsgate.Sign(gwKey, body, "1719046000"); got != want || len(got) != 64 {
		t.Fatalf("SignGateway = %q, smsgate.Sign = %q", got, want)
	}
	if channeltest.SignGateway(gwKey, body, "1719046001") == got || channeltest.SignGateway("other", body, "1719046000") == got {
		t.Fatal("the signature does not depend on the timestamp and the key")
	}
}

type recorder struct {
	mu     sync.Mutex
	events []map[string]any
	status []int // answers, in turn; 200 once used up
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if smsgate.Sign(gwKey, body, req.Header.Get("X-Timestamp")) != req.Header.Get("X-Signature") {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
	code := 200
	if len(r.status) > 0 {
		code, r.status = r.status[0], r.status[1:]
	}
	w.WriteHeader(code)
}

func (r *recorder) got() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.events...)
}

func gatewayPost(t *testing.T, url string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.SetBasicAuth(gwUser, gwPass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func msg(id, to, text string, priority int) map[string]any {
	return map[string]any{"id": id, "textMessage": map[string]string{"text": text}, "phoneNumbers": []string{to}, "priority": priority}
}

func TestFakeGatewayAnswersAsTheApp(t *testing.T) {
	local := channeltest.NewFakeGateway(t, channeltest.GatewayOptions{Username: gwUser, Password: gwPass, SigningKey: gwKey})
	cloud := channeltest.NewFakeGateway(t, channeltest.GatewayOptions{Username: gwUser, Password: gwPass, SigningKey: gwKey, Cloud: true})
	for _, tc := range []struct {
		label string
		url   string
		body  any
		want  int
	}{
		{"local accepts", local.URL() + "/messages", msg("m1", "+6281337785111", "halo", 0), 202},
		{"local takes a used ID again, without a word", local.URL() + "/messages", msg("m1", "+6281337785111", "halo", 0), 202},
		{"the old path too", local.URL() + "/message", msg("m2", "+6281337785111", "halo", 0), 202},
		{"cloud accepts", cloud.URL() + "/messages", msg("m1", "+6281337785111", "halo", 0), 202},
		{"cloud refuses a used ID", cloud.URL() + "/messages", msg("m1", "+6281337785111", "halo", 0), 409},
		{"not E.164", local.URL() + "/messages", msg("m3", "0813", "halo", 0), 400},
		{"empty text", local.URL() + "/messages", msg("m4", "+6281337785111", "", 0), 400},
		{"bad SIM", local.URL() + "/messages", map[string]any{"textMessage": map[string]string{"text": "x"},
			"phoneNumbers": []string{"+6281337785111"}, "simNumber": 4}, 400},
		{"webhook to plain http elsewhere", local.URL() + "/webhooks", map[string]string{"url": "http://aduan.example/x", "event": "sms:received"}, 400},
		{"webhook for no such event", local.URL() + "/webhooks", map[string]string{"url": "https://aduan.example/x", "event": "sms:eaten"}, 400},
	} {
		if got, body := gatewayPost(t, tc.url, tc.body); got != tc.want {
			t.Errorf("%s: %d %v, want %d", tc.label, got, body, tc.want)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, local.URL()+"/messages", strings.NewReader(`{}`))
	req.SetBasicAuth(gwUser, "wrong")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("wrong password: %v %v, want 401", res, err)
	}
	if n := local.Count(); n != 2 {
		t.Errorf("local phone sent %d SMS, want 2 (the used ID is not sent again)", n)
	}
}

// The phone sends what it held highest priority first, and within one
// priority newest first unless FIFO is set; each SMS it sends, it reports
// with sms:sent to the webhooks, retrying until it hears 2xx, with the
// same event ID.
func TestFakeGatewayQueueAndWebhooks(t *testing.T) {
	for _, tc := range []struct {
		fifo bool
		want string
	}{
		{false, "urgent,c,b,a"},
		{true, "urgent,a,b,c"},
	} {
		rec := &recorder{status: []int{503, 500}}
		srv := httptest.NewServer(rec)
		gw := channeltest.NewFakeGateway(t, channeltest.GatewayOptions{Username: gwUser, Password: gwPass, SigningKey: gwKey})
		gw.AddWebhook("w1", srv.URL, "sms:sent")
		gw.FIFO(tc.fifo)
		gw.Hold()
		for i, text := range []string{"a", "b", "c"} {
			gatewayPost(t, gw.URL()+"/messages", msg(string(rune('1'+i)), "+6281337785111", text, 0))
		}
		gatewayPost(t, gw.URL()+"/messages", msg("u", "+6281337785111", "urgent", 100))
		if n := gw.Count(); n != 0 {
			t.Fatalf("held phone sent %d", n)
		}
		gw.Release()
		var order []string
		for _, m := range gw.Messages() {
			order = append(order, m.Body)
		}
		if got := strings.Join(order, ","); got != tc.want {
			t.Errorf("fifo %v: sent %s, want %s", tc.fifo, got, tc.want)
		}
		evs := rec.got()
		if len(evs) != 6 || evs[0]["id"] != evs[2]["id"] || evs[0]["event"] != "sms:sent" {
			t.Errorf("webhooks: %d posts, the first three %v %v %v; want the first event tried three times", len(evs),
				evs[0]["id"], evs[1]["id"], evs[2]["id"])
		}
		srv.Close()
	}
}

func TestFakeGatewaySilentAndRedelivery(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	gw := channeltest.NewFakeGateway(t, channeltest.GatewayOptions{Username: gwUser, Password: gwPass, SigningKey: gwKey})
	gw.AddWebhook("w1", srv.URL, "sms:received")
	id, code := gw.Receive("081337785111", "1")
	if code != 200 {
		t.Fatalf("receive: %d", code)
	}
	if got := gw.Redeliver(id); got != 200 {
		t.Fatalf("redeliver: %d", got)
	}
	gw.Receive("081337785111", "1")
	evs := rec.got()
	if len(evs) != 3 || evs[0]["id"] != evs[1]["id"] || evs[2]["id"] == evs[0]["id"] {
		t.Fatalf("events %v", evs)
	}
	p0, p2 := evs[0]["payload"].(map[string]any), evs[2]["payload"].(map[string]any)
	if p0["messageId"] != p2["messageId"] {
		t.Errorf("two identical texts: messageId %v and %v, want the same (derived from the content)", p0["messageId"], p2["messageId"])
	}
	gw.Silent(true)
	c := &http.Client{Timeout: 2 * time.Second}
	if _, err := c.Get(gw.URL() + "/health"); err == nil {
		t.Error("a silent phone answered")
	}
	if _, code := gw.Receive("081337785111", "halo"); code != 0 {
		t.Errorf("a silent phone posted a webhook (%d)", code)
	}
}
