package twilio_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
	"aduan/channels/channeltest"
	"aduan/channels/twilio"
)

// mediaSID is the MessageSid of the media fixtures, as Twilio gives
// messages with attachments.
const mediaSID = "MM0123456789abcdef0123456789abcdef"

// newMediaServer runs the handler, fetching attachments with the fetcher,
// on a local server like newServer's.
func newMediaServer(t *testing.T, media *twilio.MediaFetcher) *server {
	t.Helper()
	s := &server{Pipeline: &fakePipeline{}, Statuses: &fakeStatuses{}, Log: &syncBuffer{},
		Client: &http.Client{Transport: channeltest.LoopbackOnly(nil)}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	twilio.NewHandler(twilio.HandlerConfig{
		AuthToken: authToken,
		PublicURL: srv.URL,
		Pipeline:  s.Pipeline,
		Logger:    slog.New(slog.NewTextHandler(s.Log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:       func() time.Time { return epoch },
		Media:     media,
	}).Register(mux)
	return s
}

// newFetcher returns a fetcher pointed at apiURL (a fake Twilio) that
// never leaves the machine.
func newFetcher(t *testing.T, apiURL, token string, maxBytes int64, timeout time.Duration) *twilio.MediaFetcher {
	t.Helper()
	f, err := twilio.NewMediaFetcher(twilio.MediaConfig{AccountSID: accountSID, AuthToken: token, APIURL: apiURL,
		MaxBytes: maxBytes, Timeout: timeout, HTTPClient: loopbackClient})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// post sends the inbound webhook form to s and returns the status.
func (s *server) post(t *testing.T, form url.Values) int {
	t.Helper()
	res, err := s.Client.Do(channeltest.NewWebhookRequest(context.Background(), s.URL, s.URL, twilio.InboundPath, authToken, form))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// fixture is an attachment the fake Twilio serves.
type fixture struct {
	mime string // content type served and given in the webhook
	data []byte
}

// blob returns n bytes that start like a JPEG.
func blob(n int) []byte {
	return append([]byte("\xff\xd8\xff\xe0"), bytes.Repeat([]byte{0x5a}, n-4)...)
}

type mediaCase struct {
	Label    string
	From     string // default whatsapp:citizen
	Body     string
	Media    []fixture
	URLs     func(fake *channeltest.FakeTwilio, added []string) []string // replaces the media URLs when set
	Token    string                                                      // the fetcher's auth token; default authToken
	MaxBytes int64                                                       // default 4096
	Extra    map[string]string                                           // more webhook parameters

	WantText  string
	WantMedia int
	WantFiles []bot.File
	WantLog   string // what the log must hold
	LogTimes  int    // how many times, when not zero
	NoLog     string // what it must not
}

var (
	photo = blob(1500) // small: served with a Content-Length
	big   = blob(5000) // over 2 KiB: served chunked
	voice = []byte("OggS\x00\x02 a voice note")
)

var mediaCases = []mediaCase{
	{Label: "photo", Body: "foto luka", Media: []fixture{{"image/jpeg", photo}},
		WantText: "foto luka", WantMedia: 1, WantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: photo}}},
	{Label: "photo by MMS", From: citizen, Media: []fixture{{"image/png", photo}},
		WantMedia: 1, WantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/png", Data: photo}}},
	{Label: "voice note", Media: []fixture{{"audio/ogg", voice}},
		WantMedia: 1, WantFiles: []bot.File{{Kind: bot.FileVoice, MIME: "audio/ogg", Data: voice}}},
	{Label: "other kinds", Media: []fixture{{"audio/mpeg", voice}, {"video/mp4", photo}, {"application/pdf", photo}, {"text/vcard", voice}},
		WantMedia: 4, WantFiles: []bot.File{{Kind: bot.FileAudio, MIME: "audio/mpeg", Data: voice},
			{Kind: bot.FileVideo, MIME: "video/mp4", Data: photo}, {Kind: bot.FileDocument, MIME: "application/pdf", Data: photo},
			{Kind: bot.FileDocument, MIME: "text/vcard", Data: voice}}},
	{Label: "two in one message", Body: "dua foto", Media: []fixture{{"image/jpeg", photo}, {"image/jpeg", big}}, MaxBytes: 8192,
		WantText: "dua foto", WantMedia: 2, WantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: photo},
			{Kind: bot.FileImage, MIME: "image/jpeg", Data: big}}},
	{Label: "exactly the limit", Media: []fixture{{"image/jpeg", big}}, MaxBytes: int64(len(big)),
		WantMedia: 1, WantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: big}}},
	{Label: "too large, by Content-Length", Body: "foto", Media: []fixture{{"image/jpeg", photo}}, MaxBytes: 1000,
		WantText: "foto", WantMedia: 1, WantLog: "media larger than the limit"},
	{Label: "too large, chunked", Body: "foto", Media: []fixture{{"image/jpeg", big}}, MaxBytes: int64(len(big)) - 1,
		WantText: "foto", WantMedia: 1, WantLog: "media larger than the limit"},
	{Label: "one of two too large", Media: []fixture{{"image/jpeg", big}, {"audio/ogg", voice}},
		WantMedia: 2, WantFiles: []bot.File{{Kind: bot.FileVoice, MIME: "audio/ogg", Data: voice}}, WantLog: "index=0"},
	{Label: "unknown media", Body: "foto", Media: []fixture{{"image/jpeg", photo}},
		URLs: func(_ *channeltest.FakeTwilio, added []string) []string {
			return []string{added[0][:strings.LastIndex(added[0], "/")+1] + "ME00000000000000000000000000000000"}
		},
		WantText: "foto", WantMedia: 1, WantLog: "twilio answered 404"},
	{Label: "URL on another host", Media: []fixture{{"image/jpeg", photo}, {"image/jpeg", photo}, {"image/jpeg", photo}},
		URLs: func(fake *channeltest.FakeTwilio, added []string) []string {
			return []string{
				// The fake serves these, but they are not Twilio's.
				fake.URL() + strings.TrimPrefix(added[0], "https://api.twilio.com"),
				strings.Replace(added[1], "https://", "http://", 1),
				strings.Replace(added[2], "api.twilio.com", "api.twilio.com.example.org", 1),
			}
		},
		WantMedia: 3, WantLog: "not on https://api.twilio.com", LogTimes: 3},
	{Label: "wrong credentials", Media: []fixture{{"image/jpeg", photo}}, Token: "ffffffffffffffffffffffffffffffff",
		WantMedia: 1, WantLog: "twilio answered 401"},
	{Label: "more than ten", Media: []fixture{{"image/jpeg", photo}}, Extra: map[string]string{"NumMedia": "12"},
		WantMedia: 12, WantFiles: []bot.File{{Kind: bot.FileImage, MIME: "image/jpeg", Data: photo}}, WantLog: "index=9", NoLog: "index=10"},
	{Label: "location", Extra: map[string]string{"MessageType": "location", "Latitude": "-8.612345", "Longitude": "120.456789",
		"Label": "Pasar Borong", "Address": "Jl. Trans Flores"},
		WantText: "Lokasi: -8.612345,120.456789 (Pasar Borong, Jl. Trans Flores)",
		WantFiles: []bot.File{{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8",
			Data: []byte("Lokasi: -8.612345,120.456789 (Pasar Borong, Jl. Trans Flores)")}}},
	{Label: "location with a text", Body: "rumah biru", Extra: map[string]string{"MessageType": "location", "Latitude": "-8.6", "Longitude": "120.5"},
		WantText: "Lokasi: -8.600000,120.500000\nrumah biru",
		WantFiles: []bot.File{{Kind: bot.FileLocation, MIME: "text/plain; charset=utf-8",
			Data: []byte("Lokasi: -8.600000,120.500000\nrumah biru")}}},
	{Label: "location off the Earth", Body: "di sini", Extra: map[string]string{"Latitude": "NaN", "Longitude": "120.5"},
		WantText: "di sini", WantLog: "inbound location not understood"},
	{Label: "location without longitude", Extra: map[string]string{"Latitude": "-8.6"},
		WantLog: "inbound location not understood"},
}

func TestInboundMediaFetched(t *testing.T) {
	for _, c := range mediaCases {
		t.Run(c.Label, func(t *testing.T) { testMedia(t, c) })
	}
}

func testMedia(t *testing.T, c mediaCase) {
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	if c.Token == "" {
		c.Token = authToken
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 4096
	}
	if c.From == "" {
		c.From = "whatsapp:" + citizen
	}
	s := newMediaServer(t, newFetcher(t, fake.URL(), c.Token, c.MaxBytes, 0))

	to := service
	if strings.HasPrefix(c.From, "whatsapp:") {
		to = "whatsapp:" + service
	}
	form := channeltest.InboundForm(mediaSID, c.From, to, c.Body)
	var urls []string
	for _, m := range c.Media {
		urls = append(urls, fake.AddMedia(mediaSID, m.mime, m.data))
	}
	if c.URLs != nil {
		urls = c.URLs(fake, urls)
	}
	for i, u := range urls {
		form.Set("MediaUrl"+strconv.Itoa(i), u)
		form.Set("MediaContentType"+strconv.Itoa(i), c.Media[i].mime)
	}
	form.Set("NumMedia", strconv.Itoa(len(urls)))
	for k, v := range c.Extra {
		form.Set(k, v)
	}
	if got := s.post(t, form); got != http.StatusOK {
		t.Fatalf("status = %d, want 200", got)
	}

	got := s.Pipeline.Received()
	if len(got) != 1 {
		t.Fatalf("pipeline received %d messages, want 1", len(got))
	}
	ch := bot.WhatsApp
	if !strings.HasPrefix(c.From, "whatsapp:") {
		ch = bot.SMS
	}
	want := bot.Inbound{Channel: ch, ExternalID: mediaSID, From: citizen, To: service, Text: c.WantText,
		Media: c.WantMedia, Files: c.WantFiles, Received: epoch}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("inbound = %s, want %s", describe(got[0]), describe(want))
	}
	if n := fake.MediaStoreAuthorized(); n != 0 {
		t.Errorf("%d requests to the media store carried Twilio's credentials", n)
	}
	logs := s.Log.String()
	if c.WantLog != "" && !strings.Contains(logs, c.WantLog) {
		t.Errorf("log %q lacks %q", logs, c.WantLog)
	}
	if n := strings.Count(logs, c.WantLog); c.LogTimes > 0 && n != c.LogTimes {
		t.Errorf("log %q holds %q %d times, want %d", logs, c.WantLog, n, c.LogTimes)
	}
	if c.NoLog != "" && strings.Contains(logs, c.NoLog) {
		t.Errorf("log %q holds %q", logs, c.NoLog)
	}
	// Logs never carry numbers or texts in clear.
	for _, secret := range []string{citizen, "Pasar Borong", "rumah biru", "foto", "di sini"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log %q contains %q", logs, secret)
		}
	}
}

// describe writes an inbound message with its files' sizes rather than
// their data, for failure messages.
func describe(m bot.Inbound) string {
	files := make([]string, len(m.Files))
	for i, f := range m.Files {
		files[i] = fmt.Sprintf("%s %s %d bytes %x...", f.Kind, f.MIME, len(f.Data), f.Data[:min(len(f.Data), 4)])
	}
	m.Files = nil
	return fmt.Sprintf("%+v files %q", m, files)
}

// TestInboundMediaTimeout checks that a media store that does not answer
// holds the webhook no longer than the fetcher's timeout: the message goes
// on without the file.
func TestInboundMediaTimeout(t *testing.T) {
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
	s := newMediaServer(t, newFetcher(t, slow.URL, authToken, 0, 200*time.Millisecond))

	form := channeltest.InboundForm(mediaSID, "whatsapp:"+citizen, "whatsapp:"+service, "foto")
	form.Set("NumMedia", "1")
	form.Set("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/"+accountSID+"/Messages/"+mediaSID+"/Media/ME0")
	form.Set("MediaContentType0", "image/jpeg")
	start := time.Now()
	if got := s.post(t, form); got != http.StatusOK {
		t.Fatalf("status = %d, want 200", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("webhook took %v, want about the 200ms timeout", took)
	}
	got := s.Pipeline.Received()
	if len(got) != 1 || got[0].Text != "foto" || got[0].Media != 1 || got[0].Files != nil {
		t.Fatalf("inbound = %+v, want the text, Media 1 and no file", got)
	}
	if logs := s.Log.String(); !strings.Contains(logs, "deadline exceeded") {
		t.Errorf("log %q lacks the timeout", logs)
	}
}

// mediaURL is attachment i of mediaSID at Twilio.
func mediaURL(i int) string {
	return "https://api.twilio.com/2010-04-01/Accounts/" + accountSID + "/Messages/" + mediaSID + "/Media/ME" + strconv.Itoa(i)
}

// newLimitedFetcher returns a fetcher pointed at apiURL that downloads at
// most one attachment at once.
func newLimitedFetcher(t *testing.T, apiURL string, timeout time.Duration) *twilio.MediaFetcher {
	t.Helper()
	f, err := twilio.NewMediaFetcher(twilio.MediaConfig{AccountSID: accountSID, AuthToken: authToken, APIURL: apiURL,
		Timeout: timeout, MaxFetches: 1, HTTPClient: loopbackClient})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestInboundMediaFetchesLimited checks that the fetcher's downloads,
// across webhooks handled at once, never exceed MaxFetches, and that the
// webhooks that wait for a turn still get their files.
func TestInboundMediaFetchesLimited(t *testing.T) {
	var inFlight, most, served atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(100 * time.Millisecond)
		inFlight.Add(-1)
		served.Add(1)
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(photo)
	}))
	t.Cleanup(slow.Close)
	s := newMediaServer(t, newLimitedFetcher(t, slow.URL, 0))

	const webhooks, each = 2, 2
	errs := make(chan error, webhooks)
	for w := range webhooks {
		go func() {
			// Distinct messages, so that neither is taken for a retry.
			form := channeltest.InboundForm(mediaSID[:len(mediaSID)-1]+strconv.Itoa(w), "whatsapp:"+citizen, "whatsapp:"+service, "")
			form.Set("NumMedia", strconv.Itoa(each))
			for i := range each {
				form.Set("MediaUrl"+strconv.Itoa(i), mediaURL(i))
				form.Set("MediaContentType"+strconv.Itoa(i), "image/jpeg")
			}
			res, err := s.Client.Do(channeltest.NewWebhookRequest(context.Background(), s.URL, s.URL, twilio.InboundPath, authToken, form))
			if err == nil {
				res.Body.Close()
				if res.StatusCode != http.StatusOK {
					err = fmt.Errorf("status = %d, want 200", res.StatusCode)
				}
			}
			errs <- err
		}()
	}
	for range webhooks {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := most.Load(); got != 1 {
		t.Errorf("at most %d fetches at once, want 1", got)
	}
	if got := served.Load(); got != webhooks*each {
		t.Errorf("%d attachments served, want %d", got, webhooks*each)
	}
	got := s.Pipeline.Received()
	if len(got) != webhooks {
		t.Fatalf("pipeline received %d messages, want %d", len(got), webhooks)
	}
	for _, m := range got {
		if len(m.Files) != each {
			t.Errorf("message %s has %d files, want %d; log %q", m.ExternalID, len(m.Files), each, s.Log.String())
		}
	}
}

// TestInboundMediaNoTurn checks that an attachment that finds every turn
// taken until its message's timeout is left out, and logged, as a failed
// download is.
func TestInboundMediaNoTurn(t *testing.T) {
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	held := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		w.Header().Set("Content-Type", "image/jpeg")
		w.Write(photo)
	}))
	t.Cleanup(held.Close)
	f := newLimitedFetcher(t, held.URL, 200*time.Millisecond)
	s := newMediaServer(t, f)

	// Another message's download takes the only turn, and keeps it.
	done := make(chan error, 1)
	go func() {
		_, err := f.Fetch(context.Background(), mediaURL(9), "image/jpeg")
		done <- err
	}()
	<-arrived

	form := channeltest.InboundForm(mediaSID, "whatsapp:"+citizen, "whatsapp:"+service, "foto")
	form.Set("NumMedia", "1")
	form.Set("MediaUrl0", mediaURL(0))
	form.Set("MediaContentType0", "image/jpeg")
	if got := s.post(t, form); got != http.StatusOK {
		t.Fatalf("status = %d, want 200", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("the download that had the turn: %v", err)
	}
	got := s.Pipeline.Received()
	if len(got) != 1 || got[0].Text != "foto" || got[0].Media != 1 || got[0].Files != nil {
		t.Fatalf("inbound = %+v, want the text, Media 1 and no file", got)
	}
	if logs := s.Log.String(); !strings.Contains(logs, "twilio attachment not fetched") ||
		!strings.Contains(logs, "waiting for a turn to fetch media: context deadline exceeded") {
		t.Errorf("log %q lacks the attachment left out for want of a turn", logs)
	}
}

// TestPlainTextCostsNoMore checks that a text without attachments costs
// the webhook nothing more when it fetches attachments.
func TestPlainTextCostsNoMore(t *testing.T) {
	fake := channeltest.NewFakeTwilio(t, accountSID, authToken)
	const public = "https://aduan.example.org"
	form := channeltest.InboundForm(sid, "whatsapp:"+citizen, "whatsapp:"+service, "Saya mau lapor kekerasan")
	req := channeltest.NewWebhookRequest(context.Background(), "http://127.0.0.1:8080", public, twilio.InboundPath, authToken, form)
	body, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	allocs := func(media *twilio.MediaFetcher) float64 {
		mux := http.NewServeMux()
		twilio.NewHandler(twilio.HandlerConfig{AuthToken: authToken, PublicURL: public, Pipeline: nopPipeline{},
			Media: media}).Register(mux)
		w := &discardWriter{h: http.Header{}}
		return testing.AllocsPerRun(100, func() {
			req.Body = io.NopCloser(bytes.NewReader(body))
			clear(w.h)
			mux.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.code)
			}
		})
	}
	without, with := allocs(nil), allocs(newFetcher(t, fake.URL(), authToken, 0, 0))
	if with != without {
		t.Fatalf("a text costs %v allocations with a media fetcher, %v without", with, without)
	}
}

func TestNewMediaFetcherValidates(t *testing.T) {
	for _, c := range []struct {
		label string
		cfg   twilio.MediaConfig
	}{
		{"no account SID", twilio.MediaConfig{AuthToken: authToken}},
		{"no auth token", twilio.MediaConfig{AccountSID: accountSID}},
		{"token not alphanumeric", twilio.MediaConfig{AccountSID: accountSID, AuthToken: "a:b"}},
		{"API URL not absolute", twilio.MediaConfig{AccountSID: accountSID, AuthToken: authToken, APIURL: "127.0.0.1:1"}},
		{"API URL with a path", twilio.MediaConfig{AccountSID: accountSID, AuthToken: authToken, APIURL: "http://127.0.0.1:1/x"}},
	} {
		if _, err := twilio.NewMediaFetcher(c.cfg); bot.KindOf(err) != bot.Invalid {
			t.Errorf("%s: err = %v, want Invalid", c.label, err)
		}
	}
	if _, err := twilio.NewMediaFetcher(twilio.MediaConfig{AccountSID: accountSID, AuthToken: authToken}); err != nil {
		t.Errorf("valid config: %v", err)
	}
}
