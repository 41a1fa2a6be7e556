package twilio

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"aduan/bot"

	twclient "github.com/twilio/twilio-go/client"
	twapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// DefaultAPIURL is Twilio's REST API.
const DefaultAPIURL = "https://api.twilio.com"

// DefaultSendTimeout bounds one send when the caller's context has no
// earlier deadline.
const DefaultSendTimeout = 10 * time.Second

// Twilio error codes that mean a message will never go through.
const (
	codeOptedOut      = 21610 // the recipient replied STOP
	codeInvalidTo     = 21211 // not a valid phone number
	codeNotMobile     = 21614 // not a mobile number
	codeAuthenticate  = 20003 // wrong account SID or auth token
	codeTooManyQueued = 20429
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	// AccountSID and AuthToken are the Twilio credentials; twilio-go accepts
	// letters and digits only. Required.
	AccountSID string
	AuthToken  string
	// From is the service's Twilio number in E.164. Required. For WhatsApp
	// recipients it is sent as whatsapp:<From>.
	From string
	// APIURL replaces Twilio's API scheme and host (for a local fake);
	// empty means DefaultAPIURL. It must have no path.
	APIURL string
	// StatusCallbackURL, when set, is where Twilio posts delivery reports
	// (the Handler's status path under its PublicURL).
	StatusCallbackURL string
	// HTTPClient supplies the transport and timeout; nil means a pooled
	// keep-alive transport and DefaultSendTimeout.
	HTTPClient *http.Client
}

// Sender sends outbound messages through Twilio's Messages API. It is safe
// for concurrent use.
type Sender struct {
	base     twclient.Client // template copied per send
	edge     string          // TWILIO_EDGE and TWILIO_REGION, as twilio-go reads them
	region   string
	next     http.RoundTripper
	apiURL   *url.URL // nil when requests go to Twilio as twilio-go addresses them
	from     string
	callback string
	timeout  time.Duration
}

var _ bot.Sender = (*Sender)(nil)

var alnum = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// NewSender returns a Sender for cfg. It fails if a credential is missing or
// not alphanumeric, From is empty, or APIURL or StatusCallbackURL is not an
// absolute http(s) URL.
func NewSender(cfg SenderConfig) (*Sender, error) {
	const op = "twilio.NewSender"
	api, err := account(cfg.AccountSID, cfg.AuthToken, cfg.APIURL)
	if err != nil {
		return nil, bot.E(op, bot.Invalid, err)
	}
	if cfg.From == "" {
		return nil, bot.E(op, bot.Invalid, errors.New("from number is empty"))
	}
	s := &Sender{from: cfg.From, callback: cfg.StatusCallbackURL, timeout: DefaultSendTimeout}
	if cfg.StatusCallbackURL != "" {
		if _, err := absoluteURL(cfg.StatusCallbackURL); err != nil {
			return nil, bot.E(op, bot.Invalid, fmt.Errorf("status callback URL: %w", err))
		}
	}
	s.apiURL = api
	if cfg.HTTPClient != nil {
		s.next = cfg.HTTPClient.Transport
		if cfg.HTTPClient.Timeout > 0 {
			s.timeout = cfg.HTTPClient.Timeout
		}
	}
	if s.next == nil {
		s.next = newTransport(256, 256, 0)
	}
	s.base = twclient.Client{Credentials: twclient.NewCredentials(cfg.AccountSID, cfg.AuthToken)}
	s.base.SetAccountSid(cfg.AccountSID)
	// Edge and region come from the environment, as twilio-go's RestClient
	// reads them; the RestClient itself is not used, since its package
	// links every one of Twilio's APIs. Send builds a per-call Messages API
	// service on these settings.
	h := twclient.NewRequestHandler(&s.base)
	s.edge, s.region = h.Edge, h.Region
	return s, nil
}

func absoluteURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("not an absolute http(s) URL")
	}
	return u, nil
}

// Send hands m to Twilio and returns the message SID. Errors are
// bot.Permanent when Twilio refuses the message for good (opted out,
// invalid number, other 4xx) and bot.Temporary when a later attempt may
// succeed (429, 5xx, bad credentials, network errors, ctx done). Error
// texts never carry the recipient's number or the body.
//
// twilio-go does not take a context, so each call runs on its own shallow
// copy of the client whose transport binds ctx to the request.
func (s *Sender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	const op = "twilio.Send"
	to, from := m.To, s.from
	switch m.Channel {
	case bot.SMS:
	case bot.WhatsApp:
		to, from = whatsappPrefix+to, whatsappPrefix+from
	default:
		return "", bot.E(op, bot.Permanent, fmt.Errorf("channel %q is not sent by Twilio", m.Channel))
	}
	if m.To == "" {
		return "", bot.E(op, bot.Permanent, errors.New("empty recipient"))
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	rt := &callTransport{ctx: ctx, next: s.next, api: s.apiURL}
	c := s.base
	c.HTTPClient = &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	svc := twapi.NewApiService(&twclient.RequestHandler{
		Client: &c,
		Edge:   s.edge,
		Region: s.region,
	})

	p := &twapi.CreateMessageParams{}
	p.SetTo(to).SetFrom(from).SetBody(m.Body)
	if s.callback != "" {
		p.SetStatusCallback(s.callback)
	}
	msg, err := svc.CreateMessage(p)
	if err != nil {
		return "", classify(op, rt.status, err)
	}
	if msg.Sid == nil || *msg.Sid == "" {
		// Accepted but unreadable: retrying may send twice, losing the
		// reply is worse.
		return "", bot.E(op, bot.Temporary, errors.New("twilio answered without a message SID"))
	}
	return *msg.Sid, nil
}

// classify turns a twilio-go error into a bot error. status is the HTTP
// status of the last response, zero if none came.
func classify(op string, status int, err error) error {
	if re, ok := errors.AsType[*twclient.TwilioRestError](err); ok {
		if status == 0 {
			status = re.Status
		}
		// Twilio's message may quote the recipient's number: keep only codes.
		e := fmt.Errorf("twilio answered %d, error %d", status, re.Code)
		switch {
		case re.Code == codeOptedOut || re.Code == codeInvalidTo || re.Code == codeNotMobile:
			return bot.E(op, bot.Permanent, e)
		case re.Code == codeTooManyQueued || re.Code == codeAuthenticate:
			return bot.E(op, bot.Temporary, e)
		}
		return bot.E(op, kindOfStatus(status), e)
	}
	if status != 0 {
		// An error response twilio-go could not decode.
		return bot.E(op, kindOfStatus(status), fmt.Errorf("twilio answered %d", status))
	}
	// No response: connection refused, timeout, ctx done.
	return bot.E(op, bot.Temporary, err)
}

func kindOfStatus(status int) bot.ErrorKind {
	switch {
	case status == http.StatusTooManyRequests, status >= 500:
		return bot.Temporary
	case status == http.StatusUnauthorized:
		// Wrong credentials fail every message until the config is fixed;
		// failing them all for good would lose them.
		return bot.Temporary
	case status >= 400:
		return bot.Permanent
	}
	return bot.Temporary
}

// callTransport serves one Send: it binds the call's context to the request
// twilio-go builds (with context.Background), points it at the configured
// API URL, and remembers the response status for classify.
type callTransport struct {
	ctx    context.Context
	next   http.RoundTripper
	api    *url.URL
	status int
}

func (t *callTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.WithContext(t.ctx)
	if t.api != nil {
		u := *r.URL
		u.Scheme, u.Host = t.api.Scheme, t.api.Host
		r2.URL = &u
		r2.Host = ""
	}
	res, err := t.next.RoundTrip(r2)
	if res != nil {
		t.status = res.StatusCode
	}
	return res, err
}

// account checks Twilio credentials and the API URL, and returns the URL
// requests go to instead of Twilio's, or nil for Twilio's own.
func account(sid, token, apiURL string) (*url.URL, error) {
	if !alnum.MatchString(sid) {
		return nil, errors.New("account SID must be non-empty letters and digits")
	}
	if !alnum.MatchString(token) {
		return nil, errors.New("auth token must be non-empty letters and digits")
	}
	if apiURL == "" || apiURL == DefaultAPIURL {
		return nil, nil
	}
	u, err := absoluteURL(apiURL)
	if err != nil {
		return nil, fmt.Errorf("API URL: %w", err)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, errors.New("API URL must have no path or query")
	}
	return u, nil
}

// newTransport is the HTTP transport to Twilio: short dial and handshake
// timeouts, kept-alive connections. A zero headerTimeout waits as long as
// the request's context allows.
func newTransport(maxIdle, maxIdlePerHost int, headerTimeout time.Duration) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          maxIdle,
		MaxIdleConnsPerHost:   maxIdlePerHost,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
	}
}
