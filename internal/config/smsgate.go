package config

import (
	"strings"
	"time"
)

// SMS says which provider sends SMS.
type SMS struct {
	// Provider is ProviderTwilio (the default) or ProviderSMSGate. Inbound
	// SMS are taken from whichever is configured.
	Provider string `yaml:"provider"`
}

// The SMS providers.
const (
	ProviderTwilio  = "twilio"
	ProviderSMSGate = "smsgate"
)

// SMSGate configures the SMS channel through an Android phone running SMS
// Gateway for Android (docs/SMS.md). The secrets may come from the
// environment; MissingForSMS lists what is still empty.
type SMSGate struct {
	// URL is the API's base: the phone (Local mode), the vendor's relay
	// (Cloud: https://api.sms-gate.app/3rdparty/v1) or a self-hosted one
	// (Private).
	URL      string `yaml:"url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// SigningKey is the app's webhook signing key (Settings > Webhooks).
	SigningKey string `yaml:"signing_key"`
	// Auth is AuthBasic, or AuthJWT (Cloud and Private mode only): sign in
	// with the password once for a token and send that.
	Auth string `yaml:"auth"`
	// CAFile is a PEM file of certificates a TLS gateway must chain to
	// (the project CA's root, for a Private server on a LAN address).
	CAFile string `yaml:"ca_file"`
	// SIM is the SIM card to send from, 1-3; 0 leaves it to the phone.
	SIM int `yaml:"sim"`
	// SilentAfter is how long without a webhook or an answer makes the
	// phone count as silent (supervisors told, staff notified by
	// WhatsApp).
	SilentAfter Duration `yaml:"silent_after"`
	// Limit SMS segments go every LimitPeriod at most: at or below the
	// phone's own limit (Android's is 30 in 30 minutes until raised).
	Limit       int      `yaml:"limit"`
	LimitPeriod Duration `yaml:"limit_period"`
	// TTL is how long the phone may hold a message before giving it up;
	// 0 means no limit.
	TTL Duration `yaml:"ttl"`
	// DeliveryReports asks the phone for delivery reports (sms:delivered).
	DeliveryReports bool `yaml:"delivery_reports"`
}

// The ways to authenticate to the gateway.
const (
	AuthBasic = "basic"
	AuthJWT   = "jwt"
)

func defaultSMSGate() SMSGate {
	return SMSGate{
		Auth:            AuthBasic,
		SilentAfter:     Duration(10 * time.Minute),
		Limit:           30,
		LimitPeriod:     Duration(30 * time.Minute),
		TTL:             Duration(time.Hour),
		DeliveryReports: true,
	}
}

func (g *SMSGate) trim() {
	for _, p := range []*string{&g.URL, &g.Username, &g.Password, &g.SigningKey, &g.Auth, &g.CAFile} {
		*p = strings.TrimSpace(*p)
	}
	g.Auth = strings.ToLower(g.Auth)
}

// validate checks the sms and smsgate sections.
func (c *Config) validateSMS() error {
	c.SMS.Provider = strings.ToLower(strings.TrimSpace(c.SMS.Provider))
	switch c.SMS.Provider {
	case ProviderTwilio, ProviderSMSGate:
	default:
		return bad("sms.provider", "%q is not twilio or smsgate", c.SMS.Provider)
	}
	g := &c.SMSGate
	g.trim()
	if g.URL != "" {
		u, err := checkHTTPURL("smsgate.url", g.URL)
		if err != nil {
			return err
		}
		g.URL = u
	}
	switch g.Auth {
	case AuthBasic, AuthJWT:
	default:
		return bad("smsgate.auth", "%q is not basic or jwt", g.Auth)
	}
	if g.SIM < 0 || g.SIM > 3 {
		return bad("smsgate.sim", "%d is not 0 (the phone's choice) or a SIM slot 1-3", g.SIM)
	}
	if g.SilentAfter < Duration(time.Second) {
		return bad("smsgate.silent_after", "%s is shorter than a second", g.SilentAfter)
	}
	if g.Limit < 0 {
		return bad("smsgate.limit", "%d is negative (0 turns pacing off)", g.Limit)
	}
	if g.Limit > 0 && g.LimitPeriod <= 0 {
		return bad("smsgate.limit_period", "%s is not positive", g.LimitPeriod)
	}
	if g.TTL < 0 || g.TTL > 0 && g.TTL < Duration(5*time.Second) {
		return bad("smsgate.ttl", "%s is neither 0 (no limit) nor at least 5s", g.TTL)
	}
	return nil
}

// MissingForTwilio lists the keys Twilio needs that are empty:
// twilio.account_sid, twilio.auth_token, twilio.from, and http.public_url
// (Twilio signs its webhooks over that URL). It returns nil when nothing
// is missing.
func (c *Config) MissingForTwilio() []string {
	return missing(
		"twilio.account_sid", c.Twilio.AccountSID,
		"twilio.auth_token", c.Twilio.AuthToken,
		"twilio.from", c.Twilio.From,
		"http.public_url", c.HTTP.PublicURL)
}

// MissingForSMSGate lists the keys the SMS gateway needs that are empty:
// smsgate.url, smsgate.username, smsgate.password and smsgate.signing_key.
func (c *Config) MissingForSMSGate() []string {
	return missing(
		"smsgate.url", c.SMSGate.URL,
		"smsgate.username", c.SMSGate.Username,
		"smsgate.password", c.SMSGate.Password,
		"smsgate.signing_key", c.SMSGate.SigningKey)
}

// MissingForSMS lists the keys the configured SMS provider (sms.provider)
// needs that are empty; nil when nothing is missing.
func (c *Config) MissingForSMS() []string {
	if c.SMS.Provider == ProviderSMSGate {
		return c.MissingForSMSGate()
	}
	return c.MissingForTwilio()
}

// missing takes key, value pairs and returns the keys whose value is empty.
func missing(kv ...string) []string {
	var out []string
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out = append(out, kv[i])
		}
	}
	return out
}
