package twilio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"aduan/bot"
)

// DefaultMediaMaxBytes is the largest attachment kept when
// MediaConfig.MaxBytes is zero.
const DefaultMediaMaxBytes = 16 << 20

// DefaultMediaTimeout bounds the fetching of one message's attachments,
// all of them together, when MediaConfig.Timeout is zero. Twilio gives up
// on a webhook after 15 seconds.
const DefaultMediaTimeout = 10 * time.Second

// DefaultMediaFetches is how many attachments a MediaFetcher downloads at
// once, across all messages, when MediaConfig.MaxFetches is zero. Each
// holds up to MaxBytes in memory.
const DefaultMediaFetches = 4

// maxMedia is the most attachments fetched from one message; Twilio sends
// at most 10.
const maxMedia = 10

// mediaHost is the only host attachments are fetched from: Twilio's API,
// which redirects to its media store.
const mediaHost = "api.twilio.com"

// locationMIME is the type of a shared location kept as a file.
const locationMIME = "text/plain; charset=utf-8"

// The webhook's parameters for attachment i.
var mediaURLKeys, mediaTypeKeys = func() (u, t [maxMedia]string) {
	for i := range maxMedia {
		u[i] = "MediaUrl" + strconv.Itoa(i)
		t[i] = "MediaContentType" + strconv.Itoa(i)
	}
	return u, t
}()

// Reasons a fetch fails.
var (
	errNotTwilio = errors.New("media URL is not on https://" + mediaHost)
	errTooLarge  = errors.New("media larger than the limit")
	errEmpty     = errors.New("media is empty")
)

// MediaConfig configures a MediaFetcher.
type MediaConfig struct {
	// AccountSID and AuthToken are the Twilio credentials the media URLs
	// are fetched with (HTTP basic auth). Required.
	AccountSID string
	AuthToken  string
	// APIURL replaces the scheme and host of requests to Twilio's API (for
	// a local fake), as SenderConfig.APIURL does; empty means
	// DefaultAPIURL. Media URLs must still name https://api.twilio.com.
	APIURL string
	// MaxBytes is the largest attachment kept; zero means
	// DefaultMediaMaxBytes.
	MaxBytes int64
	// Timeout bounds the fetching of one message's attachments; zero means
	// DefaultMediaTimeout.
	Timeout time.Duration
	// MaxFetches bounds the attachments downloaded at once, across all
	// messages, and so the memory they take (MaxFetches times MaxBytes).
	// Others wait for a turn; one still waiting when its message's Timeout
	// ends is left out, like a failed download. Zero means
	// DefaultMediaFetches.
	MaxFetches int
	// HTTPClient supplies the transport; nil means a pooled keep-alive
	// transport. Its timeout and redirect policy are not used.
	HTTPClient *http.Client
}

// MediaFetcher downloads the attachments of inbound messages (photos,
// voice notes, documents) from Twilio's API. It is safe for concurrent use.
type MediaFetcher struct {
	client   *http.Client
	user     string
	pass     string
	maxBytes int64
	timeout  time.Duration
	slots    chan struct{} // one token per download in flight
}

// NewMediaFetcher returns a MediaFetcher for cfg. It fails if a credential
// is missing or not alphanumeric, or APIURL is not an absolute http(s) URL
// without a path.
func NewMediaFetcher(cfg MediaConfig) (*MediaFetcher, error) {
	const op = "twilio.NewMediaFetcher"
	api, err := account(cfg.AccountSID, cfg.AuthToken, cfg.APIURL)
	if err != nil {
		return nil, bot.E(op, bot.Invalid, err)
	}
	f := &MediaFetcher{user: cfg.AccountSID, pass: cfg.AuthToken, maxBytes: cfg.MaxBytes, timeout: cfg.Timeout}
	if f.maxBytes <= 0 {
		f.maxBytes = DefaultMediaMaxBytes
	}
	if f.timeout <= 0 {
		f.timeout = DefaultMediaTimeout
	}
	fetches := cfg.MaxFetches
	if fetches <= 0 {
		fetches = DefaultMediaFetches
	}
	f.slots = make(chan struct{}, fetches)
	rt := &mediaTransport{api: api}
	if cfg.HTTPClient != nil {
		rt.next = cfg.HTTPClient.Transport
	}
	if rt.next == nil {
		rt.next = newTransport(64, 16, 5*time.Second)
	}
	f.client = &http.Client{Transport: rt, CheckRedirect: rt.checkRedirect}
	return f, nil
}

// Fetch downloads the attachment at rawURL, a MediaUrlN of Twilio's
// webhook, following Twilio's redirect to its media store (without the
// credentials, which Go's client drops on a redirect to another host).
// contentType is the webhook's MediaContentTypeN: it gives the file's kind
// and type. It refuses a URL that is not on https://api.twilio.com, and a
// file larger than the limit. It waits for a turn while the fetcher's
// MaxFetches downloads are in flight, and fails if ctx ends first. Error
// texts carry no number or content.
func (f *MediaFetcher) Fetch(ctx context.Context, rawURL, contentType string) (bot.File, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "https" || u.Host != mediaHost || u.User != nil {
		return bot.File{}, errNotTwilio
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return bot.File{}, errNotTwilio
	}
	req.SetBasicAuth(f.user, f.pass)
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	case <-ctx.Done():
		return bot.File{}, fmt.Errorf("waiting for a turn to fetch media: %w", ctx.Err())
	}
	res, err := f.client.Do(req)
	if err != nil {
		// Not the URL: the media store's carries a signature.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = fmt.Errorf("%s media: %w", ue.Op, ue.Err)
		}
		return bot.File{}, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return bot.File{}, fmt.Errorf("twilio answered %d", res.StatusCode)
	}
	if res.ContentLength > f.maxBytes {
		return bot.File{}, errTooLarge
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, f.maxBytes+1))
	switch {
	case err != nil:
		return bot.File{}, fmt.Errorf("reading media: %w", err)
	case int64(len(data)) > f.maxBytes:
		return bot.File{}, errTooLarge
	case len(data) == 0:
		return bot.File{}, errEmpty
	}
	if contentType == "" {
		contentType = res.Header.Get("Content-Type")
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	return bot.File{Kind: mediaKind(contentType), MIME: contentType, Data: data}, nil
}

// mediaKind is the kind of file a content type names. WhatsApp's voice
// notes come as audio/ogg.
func mediaKind(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return bot.FileDocument
	}
	switch {
	case strings.HasPrefix(mt, "image/"):
		return bot.FileImage
	case mt == "audio/ogg":
		return bot.FileVoice
	case strings.HasPrefix(mt, "audio/"):
		return bot.FileAudio
	case strings.HasPrefix(mt, "video/"):
		return bot.FileVideo
	}
	return bot.FileDocument
}

// maxRedirects bounds the redirects followed for one attachment; Twilio
// answers with one.
const maxRedirects = 3

// mediaTransport points requests to Twilio's API at the configured API URL
// (a local fake in tests); others, such as the media store Twilio
// redirects to, go as they are.
type mediaTransport struct {
	next http.RoundTripper
	api  *url.URL // nil when requests go to Twilio
}

func (t *mediaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.api == nil || r.URL.Host != mediaHost {
		return t.next.RoundTrip(r)
	}
	r2 := r.WithContext(r.Context())
	u := *r.URL
	u.Scheme, u.Host = t.api.Scheme, t.api.Host
	r2.URL = &u
	r2.Host = ""
	return t.next.RoundTrip(r2)
}

// checkRedirect follows at most maxRedirects redirects, over https (or
// over the fake API URL's scheme).
func (t *mediaTransport) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("too many redirects")
	}
	if req.URL.Scheme != "https" && (t.api == nil || req.URL.Scheme != t.api.Scheme) {
		return errors.New("redirect not over https")
	}
	return nil
}

// files fetches the first n (at most 10) attachments of the message with
// the webhook parameters params, together as the fetcher's turns allow,
// within its timeout. An attachment that cannot be fetched, or finds no
// turn in time, is logged and left out.
func (h *Handler) files(ctx context.Context, sid string, params map[string]string, n int) []bot.File {
	n = min(n, maxMedia)
	fctx, cancel := context.WithTimeout(ctx, h.media.timeout)
	defer cancel()
	files := make([]bot.File, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { files[i], errs[i] = h.media.Fetch(fctx, params[mediaURLKeys[i]], params[mediaTypeKeys[i]]) })
	}
	wg.Wait()
	kept := files[:0]
	for i, err := range errs {
		if err != nil {
			h.log.WarnContext(ctx, "twilio attachment not fetched", "sid", sid, "index", i,
				"type", params[mediaTypeKeys[i]], "err", err)
			continue
		}
		kept = append(kept, files[i])
	}
	if len(kept) == 0 {
		return nil
	}
	return kept
}

// location reads a shared location from Twilio's WhatsApp webhook
// parameters (Latitude, Longitude, Label, Address), with comment (the
// message's text), as the text and file every channel makes of one. It
// returns false when the coordinates are not numbers on Earth.
func location(params map[string]string, comment string) (string, bot.File, bool) {
	lat, err1 := strconv.ParseFloat(params["Latitude"], 64)
	lon, err2 := strconv.ParseFloat(params["Longitude"], 64)
	if err1 != nil || err2 != nil || !(lat >= -90 && lat <= 90) || !(lon >= -180 && lon <= 180) {
		return "", bot.File{}, false
	}
	text := bot.LocationText(lat, lon, params["Label"], params["Address"], comment)
	return text, bot.File{Kind: bot.FileLocation, MIME: locationMIME, Data: []byte(text)}, true
}
