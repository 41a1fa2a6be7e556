// Package config is aduan's configuration: one struct mirroring
// config.example.yaml, read strictly (an unknown key is an error), with
// environment overrides for secrets and addresses, defaults, and a Validate
// that names the bad key.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"aduan/bot"
	"aduan/dialog/flows"
)

// Config is the whole configuration. See config.example.yaml for what each
// key means.
type Config struct {
	HTTP         HTTP         `yaml:"http"`
	Postgres     Postgres     `yaml:"postgres"`
	Redis        Redis        `yaml:"redis"`
	Twilio       Twilio       `yaml:"twilio"`
	SMS          SMS          `yaml:"sms"`
	SMSGate      SMSGate      `yaml:"smsgate"`
	Officers     []Officer    `yaml:"officers"`
	Log          Log          `yaml:"log"`
	Conversation Conversation `yaml:"conversation"`
	Outbox       Outbox       `yaml:"outbox"`
	WhatsApp     WhatsApp     `yaml:"whatsapp"`
	Security     Security     `yaml:"security"`
	Retention    Retention    `yaml:"retention"`
	Office       Office       `yaml:"office"`
	Clocks       Clocks       `yaml:"clocks"`
	Limits       Limits       `yaml:"limits"`
	Flows        Flows        `yaml:"flows"`
	Region       string       `yaml:"region"` // default region for phone numbers without +

	// Warnings are what the last Validate accepted but would rather see
	// written otherwise (a former kecamatan name in an officer's areas).
	Warnings []string `yaml:"-"`
}

// Flows says where the conversation flows come from.
type Flows struct {
	// Dir is a directory of YAML flows (texts.yaml and one file per flow)
	// that replaces the embedded ones; empty means the embedded ones.
	// `aduan flows check DIR` checks it.
	Dir string `yaml:"dir"`
}

// HTTP configures the web server that receives provider webhooks.
type HTTP struct {
	Listen       string `yaml:"listen"`
	PublicURL    string `yaml:"public_url"` // absolute http(s) URL, no trailing slash
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
	// ShutdownGrace bounds a graceful stop: on SIGTERM, webhooks in
	// flight, the messages taken and the sends under way must finish
	// within it.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
}

// Postgres configures the ticket store.
type Postgres struct {
	URL string `yaml:"url"`
}

// Redis configures the conversation state store.
type Redis struct {
	URL string `yaml:"url"`
}

// Twilio configures the SMS channel. The credentials may be empty; then
// MissingForSMS lists them.
type Twilio struct {
	AccountSID string `yaml:"account_sid"`
	AuthToken  string `yaml:"auth_token"`
	From       string `yaml:"from"` // E.164 after Load
	APIURL     string `yaml:"api_url"`
}

// Officer is a member of staff as configured.
type Officer struct {
	Name  string `yaml:"name"`
	Phone string `yaml:"phone"` // E.164 after Load
	Role  string `yaml:"role"`  // RoleOfficer or RoleSupervisor
	// Channel is where the officer prefers to get notifications:
	// ChannelSMS (also when empty) or ChannelWhatsApp.
	Channel string `yaml:"channel"`
	// Areas are the kecamatan the officer covers, by their current names
	// (borong, lamba-leda-selatan, ...; see dialog/flows/default/gazetteer.csv);
	// a former name (poco-ranaka) is read as the new one, with a warning.
	// None means all.
	Areas []string `yaml:"areas"`
	// Kinds are the kinds of ticket the officer takes (case, complaint);
	// none means all.
	Kinds []string `yaml:"kinds"`
	// Hours are when the officer is on duty, in WITA: "08:00-16:00" or
	// "mon-fri 08:00-16:00"; empty means always.
	Hours string `yaml:"hours"`
}

// Kecamatan returns the regency's kecamatan as the flows store them: the
// slugs of the embedded gazetteer.
func Kecamatan() []string {
	var out []string
	for _, a := range flows.Places().Areas() {
		out = append(out, a.Slug)
	}
	return out
}

// area reads an officer's area: a kecamatan's slug or name, current or
// former. It returns the current slug, and whether a former name was used.
func area(a string) (slug string, former, ok bool) {
	slug, ok = flows.Places().Canonical(strings.TrimSpace(a))
	if !ok {
		return "", false, false
	}
	typed := strings.ReplaceAll(strings.ToLower(strings.TrimSpace(a)), " ", "-")
	return slug, typed != slug, true
}

// The channels an officer may prefer; they match bot.SMS and bot.WhatsApp.
const (
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
)

// PreferredChannel returns the officer's channel: ChannelSMS unless
// ChannelWhatsApp is configured.
func (o Officer) PreferredChannel() string {
	if o.Channel == ChannelWhatsApp {
		return ChannelWhatsApp
	}
	return ChannelSMS
}

// The roles an officer may have; they match bot.RoleOfficer and
// bot.RoleSupervisor.
const (
	RoleOfficer    = "officer"
	RoleSupervisor = "supervisor"
)

// Log configures logging.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn or error
	Format string `yaml:"format"` // auto, text or json
}

// Conversation configures conversation state.
type Conversation struct {
	StateTTL Duration `yaml:"state_ttl"` // how long an idle conversation is kept
	LeaseTTL Duration `yaml:"lease_ttl"` // how long one replica holds a conversation
}

// Outbox configures the senders that drain the outbox.
type Outbox struct {
	Workers      int      `yaml:"workers"`
	MaxAttempts  int      `yaml:"max_attempts"`
	Lease        Duration `yaml:"lease"`
	PollInterval Duration `yaml:"poll_interval"`
}

// WhatsApp configures the WhatsApp channel that runs as a linked device of
// the office's number (whatsmeow). Its device keys live in PostgreSQL.
type WhatsApp struct {
	Enabled       bool           `yaml:"enabled"`
	MediaMaxBytes int64          `yaml:"media_max_bytes"` // larger files are refused with a reply
	MarkRead      bool           `yaml:"mark_read"`       // mark citizens' messages read once stored
	Typing        Duration       `yaml:"typing"`          // how long "typing..." shows before a reply; 0 turns it off
	Pacing        WhatsAppPacing `yaml:"pacing"`
}

// WhatsAppPacing limits how fast the WhatsApp channel sends: token buckets
// per recipient and overall. WhatsApp bans numbers that send bursts.
type WhatsAppPacing struct {
	PerRecipient      Duration `yaml:"per_recipient"`       // steady interval between messages to one recipient
	PerRecipientBurst int      `yaml:"per_recipient_burst"` // messages one recipient may get at once
	Overall           Duration `yaml:"overall"`             // steady interval between any two messages
	OverallBurst      int      `yaml:"overall_burst"`       // messages that may go at once
}

// Default values, applied by Default and, for keys left empty, by Load.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultPostgresURL  = "postgres://postgres@127.0.0.1:5432/aduan?sslmode=disable"
	DefaultRedisURL     = "redis://127.0.0.1:6379/0"
	DefaultTwilioAPIURL = "https://api.twilio.com"
	DefaultRegion       = "ID"
)

// Default returns the configuration with every default set and no
// officers. It does not pass Validate until an officer is added.
func Default() *Config {
	return &Config{
		HTTP:     HTTP{Listen: DefaultListen, MaxBodyBytes: 64 << 10, ShutdownGrace: Duration(25 * time.Second)},
		Postgres: Postgres{URL: DefaultPostgresURL},
		Redis:    Redis{URL: DefaultRedisURL},
		Twilio:   Twilio{APIURL: DefaultTwilioAPIURL},
		SMS:      SMS{Provider: ProviderTwilio},
		SMSGate:  defaultSMSGate(),
		Log:      Log{Level: "info", Format: "auto"},
		Conversation: Conversation{
			StateTTL: Duration(7 * 24 * time.Hour),
			LeaseTTL: Duration(10 * time.Second),
		},
		Outbox: Outbox{
			Workers:      16,
			MaxAttempts:  6,
			Lease:        Duration(30 * time.Second),
			PollInterval: Duration(time.Second),
		},
		WhatsApp: WhatsApp{
			MediaMaxBytes: 16 << 20,
			MarkRead:      true,
			Typing:        Duration(time.Second),
			Pacing: WhatsAppPacing{
				PerRecipient:      Duration(2 * time.Second),
				PerRecipientBurst: 4,
				Overall:           Duration(200 * time.Millisecond),
				OverallBurst:      20,
			},
		},
		Retention: Retention{Days: DefaultRetentionDays},
		Office:    defaultOffice(),
		Clocks:    defaultClocks(),
		Limits:    defaultLimits(),
		Region:    DefaultRegion,
	}
}

// envOverrides maps each environment variable Load reads to the key it
// overrides and the field it sets.
var envOverrides = []struct {
	name, key string
	field     func(*Config) *string
}{
	{"ADUAN_HTTP_LISTEN", "http.listen", func(c *Config) *string { return &c.HTTP.Listen }},
	{"ADUAN_PUBLIC_URL", "http.public_url", func(c *Config) *string { return &c.HTTP.PublicURL }},
	{"ADUAN_POSTGRES_URL", "postgres.url", func(c *Config) *string { return &c.Postgres.URL }},
	{"ADUAN_REDIS_URL", "redis.url", func(c *Config) *string { return &c.Redis.URL }},
	{"ADUAN_TWILIO_ACCOUNT_SID", "twilio.account_sid", func(c *Config) *string { return &c.Twilio.AccountSID }},
	{"ADUAN_TWILIO_AUTH_TOKEN", "twilio.auth_token", func(c *Config) *string { return &c.Twilio.AuthToken }},
	{"ADUAN_TWILIO_FROM", "twilio.from", func(c *Config) *string { return &c.Twilio.From }},
	{"ADUAN_TWILIO_API_URL", "twilio.api_url", func(c *Config) *string { return &c.Twilio.APIURL }},
	{"ADUAN_SMS_PROVIDER", "sms.provider", func(c *Config) *string { return &c.SMS.Provider }},
	{"ADUAN_SMSGATE_URL", "smsgate.url", func(c *Config) *string { return &c.SMSGate.URL }},
	{"ADUAN_SMSGATE_USERNAME", "smsgate.username", func(c *Config) *string { return &c.SMSGate.Username }},
	{"ADUAN_SMSGATE_PASSWORD", "smsgate.password", func(c *Config) *string { return &c.SMSGate.Password }},
	{"ADUAN_SMSGATE_SIGNING_KEY", "smsgate.signing_key", func(c *Config) *string { return &c.SMSGate.SigningKey }},
	{"ADUAN_LOG_LEVEL", "log.level", func(c *Config) *string { return &c.Log.Level }},
	{"ADUAN_LOG_FORMAT", "log.format", func(c *Config) *string { return &c.Log.Format }},
	{"ADUAN_ENCRYPTION_KEY", "security.encryption_key", func(c *Config) *string { return &c.Security.EncryptionKey }},
	{"ADUAN_LOOKUP_KEY", "security.lookup_key", func(c *Config) *string { return &c.Security.LookupKey }},
	{"ADUAN_SUPERVISOR_PIN", "security.supervisor_pin", func(c *Config) *string { return &c.Security.SupervisorPIN }},
}

// Load reads the YAML file at path (none when path is ""), applies the
// environment overrides ADUAN_HTTP_LISTEN, ADUAN_PUBLIC_URL,
// ADUAN_POSTGRES_URL, ADUAN_REDIS_URL, ADUAN_TWILIO_ACCOUNT_SID,
// ADUAN_TWILIO_AUTH_TOKEN, ADUAN_TWILIO_FROM, ADUAN_TWILIO_API_URL,
// ADUAN_SMS_PROVIDER, ADUAN_SMSGATE_URL, ADUAN_SMSGATE_USERNAME,
// ADUAN_SMSGATE_PASSWORD, ADUAN_SMSGATE_SIGNING_KEY,
// ADUAN_LOG_LEVEL, ADUAN_LOG_FORMAT, ADUAN_ENCRYPTION_KEY,
// ADUAN_ENCRYPTION_OLD_KEYS (keys separated by commas or spaces) and
// ADUAN_LOOKUP_KEY (read through getenv; nil means no
// environment; an empty value overrides nothing), fills in defaults for
// keys absent or empty, puts phone numbers in E.164 form and validates.
//
// Every error is one line naming the file and the key:
// `config.yaml: line 7: unknown key "twillio"`,
// `config.yaml: officers[1].phone: "0813" is not a valid phone number`.
// A key set to zero ("0s", 0) is not defaulted: Validate rejects it.
// With path "" there are no officers, so Load fails Validate; build such
// a configuration from Default instead.
func Load(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, true)
}

// LoadForStore is Load for the commands that only use the database
// (migrate, tickets, report, purge, keys rotate): the configuration may
// list no officers, so that ADUAN_POSTGRES_URL and the keys in the
// environment are enough.
func LoadForStore(path string, getenv func(string) string) (*Config, error) {
	return load(path, getenv, false)
}

func load(path string, getenv func(string) string, needOfficers bool) (*Config, error) {
	c := Default()
	var data []byte
	if path != "" {
		var err error
		data, err = os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		if err := decode(path, data, c); err != nil {
			return nil, err
		}
	}
	fromEnv := map[string]string{}
	if getenv != nil {
		for _, o := range envOverrides {
			if v := strings.TrimSpace(getenv(o.name)); v != "" {
				*o.field(c) = v
				fromEnv[o.key] = o.name
			}
		}
		c.Security.oldKeysFromEnv(getenv, fromEnv)
	}
	c.fillEmpty()
	if err := c.validate(needOfficers); err != nil {
		var ke *keyError
		if errors.As(err, &ke) && fromEnv[ke.key] != "" {
			return nil, fmt.Errorf("%s (from %s): %s", ke.key, fromEnv[ke.key], ke.msg)
		}
		if path != "" {
			if ke != nil {
				if line := lineOf(data, ke.key); line > 0 {
					return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
				}
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	return c, nil
}

// decode reads one YAML document over c, rejecting unknown keys.
func decode(file string, data []byte, c *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file: defaults only
		}
		return decodeError(file, data, err)
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return decodeError(file, data, err)
	}
	return fmt.Errorf("%s: line %d: a second YAML document; want one", file, next.Line)
}

// fillEmpty sets the defaults of string keys left empty.
func (c *Config) fillEmpty() {
	d := Default()
	for _, f := range []struct{ v, def *string }{
		{&c.HTTP.Listen, &d.HTTP.Listen},
		{&c.Postgres.URL, &d.Postgres.URL},
		{&c.Redis.URL, &d.Redis.URL},
		{&c.Twilio.APIURL, &d.Twilio.APIURL},
		{&c.Log.Level, &d.Log.Level},
		{&c.Log.Format, &d.Log.Format},
		{&c.Region, &d.Region},
		{&c.SMS.Provider, &d.SMS.Provider},
		{&c.SMSGate.Auth, &d.SMSGate.Auth},
	} {
		if strings.TrimSpace(*f.v) == "" {
			*f.v = *f.def
		}
	}
}

// keyError is a validation error that names its key.
type keyError struct {
	key, msg string
}

func (e *keyError) Error() string { return e.key + ": " + e.msg }

func bad(key, format string, args ...any) error {
	return &keyError{key: key, msg: fmt.Sprintf(format, args...)}
}

// Validate checks c and puts it in canonical form: it trims spaces, puts
// phone numbers in E.164 form, lower-cases log.level and log.format,
// upper-cases region, and strips a trailing slash from http.public_url and
// twilio.api_url. It returns the first problem found, as one line naming
// the key: `officers[2].role: "boss" is not officer or supervisor`.
// Empty Twilio or SMS gateway credentials are not a problem here; see
// MissingForSMS.
func (c *Config) Validate() error { return c.validate(true) }

// validate is Validate; without needOfficers a configuration with no
// officer passes.
func (c *Config) validate(needOfficers bool) error {
	c.Warnings = nil
	c.trim()
	if err := checkListen("http.listen", c.HTTP.Listen); err != nil {
		return err
	}
	if c.HTTP.PublicURL != "" {
		u, err := checkHTTPURL("http.public_url", c.HTTP.PublicURL)
		if err != nil {
			return err
		}
		c.HTTP.PublicURL = u
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		return bad("http.max_body_bytes", "%d is not positive", c.HTTP.MaxBodyBytes)
	}
	if err := checkURL("postgres.url", c.Postgres.URL, "postgres", "postgresql"); err != nil {
		return err
	}
	if err := checkURL("redis.url", c.Redis.URL, "redis", "rediss", "unix"); err != nil {
		return err
	}
	if err := checkRedisDB(c.Redis.URL); err != nil {
		return err
	}
	if c.Region == "" || !knownRegion(c.Region) {
		return bad("region", "%q is not a known region code (want e.g. \"ID\")", c.Region)
	}
	if err := checkAlnum("twilio.account_sid", c.Twilio.AccountSID); err != nil {
		return err
	}
	if err := checkAlnum("twilio.auth_token", c.Twilio.AuthToken); err != nil {
		return err
	}
	if c.Twilio.From != "" {
		p, err := NormalizePhone(c.Twilio.From, c.Region)
		if err != nil {
			return bad("twilio.from", "%v", err)
		}
		c.Twilio.From = p
	}
	u, err := checkHTTPURL("twilio.api_url", c.Twilio.APIURL)
	if err != nil {
		return err
	}
	c.Twilio.APIURL = u
	if err := c.validateSMS(); err != nil {
		return err
	}
	if err := c.checkOfficers(needOfficers); err != nil {
		return err
	}
	if err := c.Clocks.validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		return bad("log.format", "%q is not one of auto, text, json", c.Log.Format)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"conversation.state_ttl", c.Conversation.StateTTL},
		{"conversation.lease_ttl", c.Conversation.LeaseTTL},
		{"outbox.lease", c.Outbox.Lease},
		{"outbox.poll_interval", c.Outbox.PollInterval},
		{"http.shutdown_grace", c.HTTP.ShutdownGrace},
	} {
		if d.v <= 0 {
			return bad(d.key, "%s is not positive", d.v)
		}
	}
	if c.Outbox.Workers <= 0 {
		return bad("outbox.workers", "%d is not positive", c.Outbox.Workers)
	}
	if c.Outbox.MaxAttempts <= 0 {
		return bad("outbox.max_attempts", "%d is not positive", c.Outbox.MaxAttempts)
	}
	if err := c.WhatsApp.validate(); err != nil {
		return err
	}
	if err := c.Security.validate(); err != nil {
		return err
	}
	if err := c.Retention.validate(); err != nil {
		return err
	}
	if err := c.Office.validate(); err != nil {
		return err
	}
	return nil
}

func (c *Config) trim() {
	for _, p := range []*string{
		&c.HTTP.Listen, &c.HTTP.PublicURL, &c.Postgres.URL, &c.Redis.URL,
		&c.Twilio.AccountSID, &c.Twilio.AuthToken, &c.Twilio.From, &c.Twilio.APIURL,
		&c.Log.Level, &c.Log.Format, &c.Region,
	} {
		*p = strings.TrimSpace(*p)
	}
	c.Security.trim()
	c.Log.Level = strings.ToLower(c.Log.Level)
	c.Log.Format = strings.ToLower(c.Log.Format)
	c.Region = strings.ToUpper(c.Region)
	for i := range c.Officers {
		o := &c.Officers[i]
		o.Name = strings.TrimSpace(o.Name)
		o.Phone = strings.TrimSpace(o.Phone)
		o.Role = strings.TrimSpace(o.Role)
		o.Channel = strings.ToLower(strings.TrimSpace(o.Channel))
	}
}

func (c *Config) checkOfficers(needOfficers bool) error {
	seen := make(map[string]int, len(c.Officers))
	officers := 0
	for i := range c.Officers {
		o := &c.Officers[i]
		key := "officers[" + strconv.Itoa(i) + "]"
		if o.Name == "" {
			return bad(key+".name", "is empty")
		}
		switch o.Role {
		case RoleOfficer:
			officers++
		case RoleSupervisor:
		default:
			return bad(key+".role", "%q is not officer or supervisor", o.Role)
		}
		switch o.Channel {
		case "", ChannelSMS, ChannelWhatsApp:
		default:
			return bad(key+".channel", "%q is not sms or whatsapp", o.Channel)
		}
		if len(o.Areas) == 0 {
			o.Areas = nil
		}
		if len(o.Kinds) == 0 {
			o.Kinds = nil
		}
		for j, a := range o.Areas {
			akey := key + ".areas[" + strconv.Itoa(j) + "]"
			slug, former, ok := area(a)
			if !ok {
				return bad(akey, "%q is not a kecamatan of Manggarai Timur; one of %s", a, strings.Join(Kecamatan(), ", "))
			}
			if former {
				c.Warnings = append(c.Warnings, fmt.Sprintf("%s: %q is a former name; read as %q (write the new name)", akey, a, slug))
			}
			o.Areas[j] = slug
		}
		for j, k := range o.Kinds {
			if k != "case" && k != "complaint" {
				return bad(key+".kinds["+strconv.Itoa(j)+"]", "%q is not case or complaint", k)
			}
		}
		if _, err := bot.ParseHours(o.Hours); err != nil {
			return bad(key+".hours", "%v", err)
		}
		if o.Phone == "" {
			return bad(key+".phone", "is empty")
		}
		p, err := NormalizePhone(o.Phone, c.Region)
		if err != nil {
			return bad(key+".phone", "%v", err)
		}
		o.Phone = p
		if j, dup := seen[p]; dup {
			return bad(key+".phone", "same number as officers[%d].phone", j)
		}
		seen[p] = i
	}
	if officers == 0 && needOfficers {
		return bad("officers", "none has role officer; tickets need someone to go to")
	}
	return nil
}

func checkListen(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bad(key, "%q is not host:port", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return bad(key, "%q has no valid port", addr)
	}
	if strings.ContainsAny(host, " /") {
		return bad(key, "%q has no valid host", addr)
	}
	return nil
}

// checkHTTPURL checks that s is an absolute http or https URL with a host
// and no query, fragment or user info, and returns it without trailing
// slashes.
func checkHTTPURL(key, s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "", bad(key, "%q is not an absolute http(s) URL", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil || u.ForceQuery {
		return "", bad(key, "%q must have no query, fragment or user", s)
	}
	return strings.TrimRight(s, "/"), nil
}

func checkURL(key, s string, schemes ...string) error {
	u, err := url.Parse(s)
	if err != nil {
		return bad(key, "%q is not a URL", s)
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return nil
		}
	}
	return bad(key, "%q is not a %s:// URL", s, schemes[0])
}

// checkRedisDB checks the database number in a redis:// path ("/0").
func checkRedisDB(s string) error {
	u, _ := url.Parse(s)
	if u.Scheme == "unix" {
		return nil
	}
	if u.Host == "" {
		return bad("redis.url", "%q has no host", s)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" {
		return nil
	}
	if n, err := strconv.Atoi(db); err != nil || n < 0 {
		return bad("redis.url", "%q: path must be a database number such as /0", s)
	}
	return nil
}

// checkAlnum checks that a Twilio credential, when set, is ASCII letters
// and digits, as twilio-go requires.
func checkAlnum(key, s string) error {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
			return bad(key, "must be letters and digits only")
		}
	}
	return nil
}

// SlogLevel returns the slog level log.level names; info for an unknown
// level (which Validate rejects).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// validate checks the whatsapp section.
func (w *WhatsApp) validate() error {
	if w.MediaMaxBytes <= 0 {
		return bad("whatsapp.media_max_bytes", "%d is not positive", w.MediaMaxBytes)
	}
	if w.Typing < 0 || w.Typing.Std() > 10*time.Second {
		return bad("whatsapp.typing", "%s is not between 0s and 10s", w.Typing)
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"whatsapp.pacing.per_recipient", w.Pacing.PerRecipient},
		{"whatsapp.pacing.overall", w.Pacing.Overall},
	} {
		if d.v <= 0 {
			return bad(d.key, "%s is not positive", d.v)
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"whatsapp.pacing.per_recipient_burst", w.Pacing.PerRecipientBurst},
		{"whatsapp.pacing.overall_burst", w.Pacing.OverallBurst},
	} {
		if n.v <= 0 {
			return bad(n.key, "%d is not positive", n.v)
		}
	}
	return nil
}
