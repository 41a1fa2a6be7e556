package smsgate

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"aduan/bot"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// URL is the API's base: the phone itself in Local mode
	// (https://192.168.1.20:8080 or http://...), the vendor's relay in
	// Cloud mode (https://api.sms-gate.app/3rdparty/v1) or a self-hosted
	// one in Private mode (https://sms.example.org/3rdparty/v1). Required.
	URL string
	// Username and Password are the credentials the app shows (Local: user
	// "sms"; Cloud, Private: the generated ones). Required.
	Username, Password string
	// JWT, for Cloud and Private mode, signs in once with the password for
	// a token (POST <base>/auth/token) and sends that instead of the
	// password; the token is renewed before it expires and when refused.
	// Local mode only takes basic auth.
	JWT bool
	// RootCAs, when set, are the certificates a TLS server must chain to
	// (the project CA's root, for a Private server on a LAN address); nil
	// means the system's.
	RootCAs *x509.CertPool
	// HTTPClient replaces the client built from the settings above (tests,
	// the load generator).
	HTTPClient *http.Client
}

// Client speaks the app's REST API: sending, message states, webhook
// registrations and health. It is safe for concurrent use.
type Client struct {
	base  string
	basic string // the Authorization header of basic auth
	jwt   bool
	http  *http.Client

	mu       sync.Mutex
	sendPath string // "/messages", or "/message" on an old Local server
	token    string
	tokenExp time.Time
}

// NewClient returns a Client. It fails if the URL is not an absolute
// http(s) URL or the credentials are missing.
func NewClient(cfg ClientConfig) (*Client, error) {
	const op = "smsgate.NewClient"
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, bot.E(op, bot.Invalid, errors.New("URL must be an absolute http(s) URL without a query"))
	}
	if cfg.Username == "" || cfg.Password == "" {
		return nil, bot.E(op, bot.Invalid, errors.New("username and password are required"))
	}
	c := &Client{base: strings.TrimRight(cfg.URL, "/"), jwt: cfg.JWT,
		basic: "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password)),
		http:  cfg.HTTPClient, sendPath: "/messages"}
	if c.http == nil {
		c.http = &http.Client{Transport: newTransport(cfg.RootCAs), Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c, nil
}

func newTransport(roots *x509.CertPool) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
	}
}

// LoadCA reads PEM certificates from file into a pool that also holds the
// system's roots, for ClientConfig.RootCAs.
func LoadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// URL returns the API's base URL.
func (c *Client) URL() string { return c.base }

// APIError is an answer other than the one expected. Message is the app's
// error text with long digit runs (phone numbers) blotted out.
type APIError struct {
	Status  int
	Path    string
	Message string
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("gateway answered %d to %s", e.Status, e.Path)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0
// (no answer came: a network error, a timeout).
func StatusOf(err error) int {
	if e, ok := errors.AsType[*APIError](err); ok {
		return e.Status
	}
	return 0
}

// Send posts m. The gateway takes it with 202, also when the phone has
// the ID already (Local mode answers so without saying); an ID already
// taken is an *APIError with status 409 in Cloud and Private mode. A
// Local server too old for /messages is detected (404) and /message used
// from then on.
func (c *Client) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	path := c.messagesPath()
	err = c.do(ctx, http.MethodPost, path, body, nil, http.StatusAccepted, http.StatusOK, http.StatusCreated)
	if StatusOf(err) == http.StatusNotFound && path == "/messages" {
		if err2 := c.do(ctx, http.MethodPost, "/message", body, nil, http.StatusAccepted, http.StatusOK, http.StatusCreated); StatusOf(err2) != http.StatusNotFound {
			if err2 == nil {
				c.mu.Lock()
				c.sendPath = "/message"
				c.mu.Unlock()
			}
			return err2
		}
	}
	return err
}

func (c *Client) messagesPath() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendPath
}

// State returns what the app knows of the message with the ID. An unknown
// ID is an *APIError with status 404.
func (c *Client) State(ctx context.Context, id string) (MessageState, error) {
	var st MessageState
	err := c.do(ctx, http.MethodGet, c.messagesPath()+"/"+url.PathEscape(id), nil, &st, http.StatusOK)
	return st, err
}

// Webhooks lists the registered webhooks. In Local mode these are the
// phone's; in Cloud and Private mode the relay's, which the phone takes a
// while to pick up.
func (c *Client) Webhooks(ctx context.Context) ([]Webhook, error) {
	var hs []Webhook
	err := c.do(ctx, http.MethodGet, "/webhooks", nil, &hs, http.StatusOK)
	return hs, err
}

// Register adds a webhook, or replaces the one with the same ID.
func (c *Client) Register(ctx context.Context, h Webhook) (Webhook, error) {
	body, err := json.Marshal(h)
	if err != nil {
		return Webhook{}, err
	}
	var out Webhook
	err = c.do(ctx, http.MethodPost, "/webhooks", body, &out, http.StatusCreated, http.StatusOK)
	return out, err
}

// Unregister removes the webhook with the ID.
func (c *Client) Unregister(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/webhooks/"+url.PathEscape(id), nil, nil, http.StatusNoContent, http.StatusOK)
}

// Health returns the health report (Local: the phone's; Cloud, Private:
// the relay's) and the HTTP status it came with: 200 for pass or warn,
// 500 for fail (the report comes with it). It needs no credentials.
func (c *Client) Health(ctx context.Context) (Health, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/health", nil)
	if err != nil {
		return Health{}, 0, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return Health{}, 0, fmt.Errorf("GET /health: %w", err)
	}
	defer res.Body.Close()
	var h Health
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&h); err != nil {
		return Health{}, res.StatusCode, &APIError{Status: res.StatusCode, Path: "/health", Message: "not a health report"}
	}
	return h, res.StatusCode, nil
}

// do makes one request with the credentials and decodes a JSON answer with
// one of the statuses ok into out (when out is not nil). Any other status
// is an *APIError. With JWT, a refused token is renewed once.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any, ok ...int) error {
	for try := 0; ; try++ {
		auth, err := c.authorization(ctx)
		if err != nil {
			return err
		}
		status, err := c.roundTrip(ctx, method, path, body, auth, out, ok)
		if status == http.StatusUnauthorized && c.jwt && try == 0 {
			c.dropToken(auth)
			continue
		}
		return err
	}
}

func (c *Client) roundTrip(ctx context.Context, method, path string, body []byte, auth string, out any, ok []int) (int, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, pathOnly(path), err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	for _, code := range ok {
		if res.StatusCode == code {
			if out == nil {
				return res.StatusCode, nil
			}
			if out != nil && len(bytes.TrimSpace(data)) > 0 {
				if err := json.Unmarshal(data, out); err != nil {
					return res.StatusCode, &APIError{Status: res.StatusCode, Path: pathOnly(path), Message: "answer is not the JSON expected"}
				}
			}
			return res.StatusCode, nil
		}
	}
	var e struct {
		Message string `json:"message"`
	}
	json.Unmarshal(data, &e)
	return res.StatusCode, &APIError{Status: res.StatusCode, Path: pathOnly(path), Message: scrub(e.Message)}
}

// pathOnly is path without a message or webhook ID, for errors and logs.
func pathOnly(path string) string {
	for _, p := range []string{"/messages/", "/message/", "/webhooks/"} {
		if strings.HasPrefix(path, p) {
			return p + "{id}"
		}
	}
	return path
}

// authorization returns the Authorization header: basic auth, or a bearer
// token, signing in for one when there is none or it is about to expire.
func (c *Client) authorization(ctx context.Context) (string, error) {
	if !c.jwt {
		return c.basic, nil
	}
	c.mu.Lock()
	if c.token != "" && time.Until(c.tokenExp) > time.Minute {
		t := c.token
		c.mu.Unlock()
		return "Bearer " + t, nil
	}
	c.mu.Unlock()
	body, _ := json.Marshal(map[string]any{"ttl": int(tokenTTL / time.Second), "scopes": tokenScopes})
	var tok struct {
		AccessToken string    `json:"access_token"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if _, err := c.roundTrip(ctx, http.MethodPost, "/auth/token", body, c.basic, &tok, []int{http.StatusCreated, http.StatusOK}); err != nil {
		return "", fmt.Errorf("sign in for a token: %w", err)
	}
	if tok.AccessToken == "" {
		return "", &APIError{Status: http.StatusCreated, Path: "/auth/token", Message: "no access_token in the answer"}
	}
	if tok.ExpiresAt.IsZero() {
		tok.ExpiresAt = time.Now().Add(tokenTTL)
	}
	c.mu.Lock()
	c.token, c.tokenExp = tok.AccessToken, tok.ExpiresAt
	c.mu.Unlock()
	return "Bearer " + tok.AccessToken, nil
}

func (c *Client) dropToken(auth string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if "Bearer "+c.token == auth {
		c.token = ""
	}
}

// The token aduan asks for: an hour, for sending and the webhooks.
var (
	tokenTTL    = time.Hour
	tokenScopes = []string{"messages:send", "messages:read", "webhooks:list", "webhooks:write", "webhooks:delete"}
)

var digitRun = regexp.MustCompile(`\+?[0-9][0-9 -]{4,}[0-9]`)

// scrub shortens the app's error text and blots out what may be a phone
// number, so that it can go into errors and logs.
func scrub(s string) string {
	s = digitRun.ReplaceAllString(s, "****")
	if len(s) > 200 {
		s = s[:200]
	}
	return strings.ToValidUTF8(s, "")
}
