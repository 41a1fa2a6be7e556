package config_test

import (
	"reflect"
	"testing"
	"time"

	"aduan/internal/config"
)

// valid returns a configuration that passes Validate.
func valid() *config.Config {
	c := config.Default()
	c.HTTP.PublicURL = "https://aduan.example.go.id"
	c.Twilio = config.Twilio{
		AccountSID: "AC0123456789abcdef0123456789abcdef",
		AuthToken:  "0123456789abcdef0123456789abcdef",
		From:       "+6281234567800",
		APIURL:     "https://api.twilio.com",
	}
	c.Officers = []config.Officer{
		{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: "officer"},
		{Name: "Kepala Dinas", Phone: "+6281234567890", Role: "supervisor"},
	}
	return c
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string // "" means valid
	}{
		{"valid", func(*config.Config) {}, ""},
		{"listen any host", func(c *config.Config) { c.HTTP.Listen = ":8080" }, ""},
		{"listen no port", func(c *config.Config) { c.HTTP.Listen = "127.0.0.1" }, `http.listen: "127.0.0.1" is not host:port`},
		{"listen bad port", func(c *config.Config) { c.HTTP.Listen = "127.0.0.1:http" }, `http.listen: "127.0.0.1:http" has no valid port`},
		{"listen empty", func(c *config.Config) { c.HTTP.Listen = "" }, `http.listen: "" is not host:port`},
		{"public url empty", func(c *config.Config) { c.HTTP.PublicURL = "" }, ""},
		{"public url relative", func(c *config.Config) { c.HTTP.PublicURL = "/aduan" }, `http.public_url: "/aduan" is not an absolute http(s) URL`},
		{"public url ftp", func(c *config.Config) { c.HTTP.PublicURL = "ftp://x.example" }, `http.public_url: "ftp://x.example" is not an absolute http(s) URL`},
		{"public url no host", func(c *config.Config) { c.HTTP.PublicURL = "https:///x" }, `http.public_url: "https:///x" is not an absolute http(s) URL`},
		{"public url query", func(c *config.Config) { c.HTTP.PublicURL = "https://x.example/?a=1" }, `http.public_url: "https://x.example/?a=1" must have no query`},
		{"public url garbage", func(c *config.Config) { c.HTTP.PublicURL = "https://%zz" }, `http.public_url: "https://%zz" is not an absolute http(s) URL`},
		{"max body zero", func(c *config.Config) { c.HTTP.MaxBodyBytes = 0 }, `http.max_body_bytes: 0 is not positive`},
		{"postgres key value", func(c *config.Config) { c.Postgres.URL = "host=db dbname=aduan" }, `postgres.url: "host=db dbname=aduan" is not a postgres:// URL`},
		{"postgresql scheme", func(c *config.Config) { c.Postgres.URL = "postgresql://db/aduan" }, ""},
		{"postgres bad url", func(c *config.Config) { c.Postgres.URL = "postgres://%zz" }, `postgres.url: "postgres://%zz" is not a URL`},
		{"redis http", func(c *config.Config) { c.Redis.URL = "http://cache:6379" }, `redis.url: "http://cache:6379" is not a redis:// URL`},
		{"redis no host", func(c *config.Config) { c.Redis.URL = "redis:///0" }, `redis.url: "redis:///0" has no host`},
		{"redis bad db", func(c *config.Config) { c.Redis.URL = "redis://cache:6379/x" }, `redis.url: "redis://cache:6379/x": path must be a database number`},
		{"rediss", func(c *config.Config) { c.Redis.URL = "rediss://cache:6380" }, ""},
		{"redis unix", func(c *config.Config) { c.Redis.URL = "unix:///run/redis.sock" }, ""},
		{"twilio empty credentials", func(c *config.Config) { c.Twilio.AccountSID, c.Twilio.AuthToken, c.Twilio.From = "", "", "" }, ""},
		{"twilio sid not alnum", func(c *config.Config) { c.Twilio.AccountSID = "AC-123" }, `twilio.account_sid: must be letters and digits only`},
		{"twilio token not alnum", func(c *config.Config) { c.Twilio.AuthToken = "abc def" }, `twilio.auth_token: must be letters and digits only`},
		{"twilio api url", func(c *config.Config) { c.Twilio.APIURL = "api.twilio.com" }, `twilio.api_url: "api.twilio.com" is not an absolute http(s) URL`},
		{"twilio from", func(c *config.Config) { c.Twilio.From = "+62" }, `twilio.from: "+62" is not a valid phone number`},
		{"sms provider smsgate", func(c *config.Config) { c.SMS.Provider = " SMSGate " }, ""},
		{"sms provider unknown", func(c *config.Config) { c.SMS.Provider = "vonage" }, `sms.provider: "vonage" is not twilio or smsgate`},
		{"smsgate local url", func(c *config.Config) { c.SMSGate.URL = "http://192.168.1.20:8080" }, ""},
		{"smsgate cloud url", func(c *config.Config) { c.SMSGate.URL = "https://api.sms-gate.app/3rdparty/v1/" }, ""},
		{"smsgate url without scheme", func(c *config.Config) { c.SMSGate.URL = "192.168.1.20:8080" }, `smsgate.url: "192.168.1.20:8080" is not an absolute http(s) URL`},
		{"smsgate url with credentials", func(c *config.Config) { c.SMSGate.URL = "https://sms:pw@192.168.1.20:8080" }, `smsgate.url: "https://sms:pw@192.168.1.20:8080" must have no query, fragment or user`},
		{"smsgate auth jwt", func(c *config.Config) { c.SMSGate.Auth = "JWT" }, ""},
		{"smsgate auth unknown", func(c *config.Config) { c.SMSGate.Auth = "oauth" }, `smsgate.auth: "oauth" is not basic or jwt`},
		{"smsgate sim 2", func(c *config.Config) { c.SMSGate.SIM = 2 }, ""},
		{"smsgate sim 4", func(c *config.Config) { c.SMSGate.SIM = 4 }, `smsgate.sim: 4 is not 0 (the phone's choice) or a SIM slot 1-3`},
		{"smsgate silent_after zero", func(c *config.Config) { c.SMSGate.SilentAfter = 0 }, `smsgate.silent_after: 0s is shorter than a second`},
		{"smsgate limit off", func(c *config.Config) { c.SMSGate.Limit, c.SMSGate.LimitPeriod = 0, 0 }, ""},
		{"smsgate limit negative", func(c *config.Config) { c.SMSGate.Limit = -1 }, `smsgate.limit: -1 is negative (0 turns pacing off)`},
		{"smsgate limit without period", func(c *config.Config) { c.SMSGate.LimitPeriod = 0 }, `smsgate.limit_period: 0s is not positive`},
		{"smsgate ttl none", func(c *config.Config) { c.SMSGate.TTL = 0 }, ""},
		{"smsgate ttl too short", func(c *config.Config) { c.SMSGate.TTL = config.Duration(time.Second) }, `smsgate.ttl: 1s is neither 0 (no limit) nor at least 5s`},
		{"officer no name", func(c *config.Config) { c.Officers[1].Name = "  " }, `officers[1].name: is empty`},
		{"officer bad role", func(c *config.Config) { c.Officers[1].Role = "boss" }, `officers[1].role: "boss" is not officer or supervisor`},
		{"officer no role", func(c *config.Config) { c.Officers[0].Role = "" }, `officers[0].role: "" is not officer or supervisor`},
		{"officer new areas", func(c *config.Config) { c.Officers[0].Areas = []string{"borong", "kota-komba-utara", "congkar"} }, ""},
		{"officer former area", func(c *config.Config) { c.Officers[0].Areas = []string{"poco-ranaka"} }, ""},
		{"officer unknown area", func(c *config.Config) { c.Officers[0].Areas = []string{"ruteng"} },
			`officers[0].areas[0]: "ruteng" is not a kecamatan of Manggarai Timur; one of borong, lamba-leda-selatan, lamba-leda, ` +
				`sambi-rampas, elar, kota-komba, rana-mese, lamba-leda-timur, elar-selatan, kota-komba-utara, lamba-leda-utara, congkar`},
		{"officer no phone", func(c *config.Config) { c.Officers[1].Phone = "" }, `officers[1].phone: is empty`},
		{"officer bad phone", func(c *config.Config) { c.Officers[1].Phone = "0813" }, `officers[1].phone: "0813" is not a valid phone number`},
		{"duplicate phone", func(c *config.Config) { c.Officers[1].Phone = "081337785111" }, `officers[1].phone: same number as officers[0].phone`},
		{"no officers", func(c *config.Config) { c.Officers = nil }, `officers: none has role officer`},
		{"only supervisors", func(c *config.Config) { c.Officers = c.Officers[1:] }, `officers: none has role officer`},
		{"log level", func(c *config.Config) { c.Log.Level = "trace" }, `log.level: "trace" is not one of debug, info, warn, error`},
		{"log format", func(c *config.Config) { c.Log.Format = "xml" }, `log.format: "xml" is not one of auto, text, json`},
		{"state ttl zero", func(c *config.Config) { c.Conversation.StateTTL = 0 }, `conversation.state_ttl: 0s is not positive`},
		{"lease ttl negative", func(c *config.Config) { c.Conversation.LeaseTTL = -1 }, `conversation.lease_ttl: -1ns is not positive`},
		{"outbox lease zero", func(c *config.Config) { c.Outbox.Lease = 0 }, `outbox.lease: 0s is not positive`},
		{"poll interval zero", func(c *config.Config) { c.Outbox.PollInterval = 0 }, `outbox.poll_interval: 0s is not positive`},
		{"workers zero", func(c *config.Config) { c.Outbox.Workers = 0 }, `outbox.workers: 0 is not positive`},
		{"max attempts negative", func(c *config.Config) { c.Outbox.MaxAttempts = -1 }, `outbox.max_attempts: -1 is not positive`},
		{"region unknown", func(c *config.Config) { c.Region = "XX" }, `region: "XX" is not a known region code`},
		{"region empty", func(c *config.Config) { c.Region = "" }, `region: "" is not a known region code`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(c)
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			wantErr(t, err, tc.want)
		})
	}
}

func TestValidateNormalises(t *testing.T) {
	c := valid()
	c.HTTP.PublicURL = "https://aduan.example.go.id/hooks/"
	c.Twilio.APIURL = "http://127.0.0.1:4010/"
	c.Twilio.From = "0812 3456 7800"
	c.Officers[0].Phone = "0813-3778-5111"
	c.Officers[0].Name = " Genoveva Lindung "
	c.Log = config.Log{Level: "WARN", Format: "JSON"}
	c.Region = "id"
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	got := []string{c.HTTP.PublicURL, c.Twilio.APIURL, c.Twilio.From, c.Officers[0].Phone, c.Officers[0].Name, c.Log.Level, c.Log.Format, c.Region}
	want := []string{"https://aduan.example.go.id/hooks", "http://127.0.0.1:4010", "+6281234567800", "+6281337785111", "Genoveva Lindung", "warn", "json", "ID"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("normalised = %q, want %q", got, want)
	}
	// Validate is idempotent.
	before := *c
	before.Officers = append([]config.Officer(nil), c.Officers...)
	if err := c.Validate(); err != nil {
		t.Fatalf("second Validate() = %v", err)
	}
	if !reflect.DeepEqual(*c, before) {
		t.Errorf("second Validate changed %+v to %+v", before, *c)
	}
}

func TestMissingForSMS(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   []string
	}{
		{"complete", func(*config.Config) {}, nil},
		{"all", func(c *config.Config) {
			c.Twilio.AccountSID, c.Twilio.AuthToken, c.Twilio.From, c.HTTP.PublicURL = "", "", "", ""
		}, []string{"twilio.account_sid", "twilio.auth_token", "twilio.from", "http.public_url"}},
		{"token", func(c *config.Config) { c.Twilio.AuthToken = "" }, []string{"twilio.auth_token"}},
		{"smsgate: twilio not needed", func(c *config.Config) {
			c.SMS.Provider = config.ProviderSMSGate
			c.Twilio.AccountSID, c.Twilio.AuthToken, c.HTTP.PublicURL = "", "", ""
			c.SMSGate.URL, c.SMSGate.Username, c.SMSGate.Password, c.SMSGate.SigningKey = "http://192.168.1.20:8080", "sms", "pw", "key"
		}, nil},
		{"smsgate: all", func(c *config.Config) { c.SMS.Provider = config.ProviderSMSGate },
			[]string{"smsgate.url", "smsgate.username", "smsgate.password", "smsgate.signing_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(c)
			if got := c.MissingForSMS(); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("MissingForSMS() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSlogLevel(t *testing.T) {
	for _, tc := range []struct {
		level, want string
	}{
		{"debug", "DEBUG"}, {"info", "INFO"}, {"warn", "WARN"}, {"error", "ERROR"},
	} {
		if got := (config.Log{Level: tc.level}).SlogLevel().String(); got != tc.want {
			t.Errorf("SlogLevel(%q) = %s, want %s", tc.level, got, tc.want)
		}
	}
}

// A former kecamatan name in an officer's areas is read as the new one,
// with a warning; names may be typed as the office writes them.
func TestValidateAreas(t *testing.T) {
	c := valid()
	c.Officers[0].Areas = []string{"Poco Ranaka", "borong", "Kota Komba Utara"}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if want := []string{"lamba-leda-selatan", "borong", "kota-komba-utara"}; !reflect.DeepEqual(c.Officers[0].Areas, want) {
		t.Errorf("areas = %q, want %q", c.Officers[0].Areas, want)
	}
	if len(c.Warnings) != 1 || c.Warnings[0] != `officers[0].areas[0]: "Poco Ranaka" is a former name; read as "lamba-leda-selatan" (write the new name)` {
		t.Errorf("warnings = %q, want one about Poco Ranaka", c.Warnings)
	}
}
