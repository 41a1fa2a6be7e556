package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"aduan/internal/config"
)

// officersYAML is the least a config file needs to load.
const officersYAML = `
officers:
  - {name: "Genoveva Lindung", phone: "081337785111", role: officer}
  - {name: "Kepala Dinas", phone: "081234567890", role: supervisor}
`

// writeConfig writes content to config.yaml in a fresh directory and
// returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// env returns a getenv over vars.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// wantErr fails t unless err is one line containing want.
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want one containing %q", err, want)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %q, want one line", err)
	}
}

func TestLoadExample(t *testing.T) {
	c, err := config.Load(filepath.Join("..", "..", "config.example.yaml"), nil)
	if err != nil {
		t.Fatalf("Load(config.example.yaml) = %v", err)
	}
	wantOfficers := []config.Officer{
		{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: "officer", Channel: "sms"},
		{Name: "Tija Ndaka", Phone: "+6281337973213", Role: "officer"},
		{Name: "Kepala Dinas", Phone: "+6281234567890", Role: "supervisor"},
	}
	if !reflect.DeepEqual(c.Officers, wantOfficers) {
		t.Errorf("officers = %+v, want %+v", c.Officers, wantOfficers)
	}
	// Apart from the placeholders, the example shows the defaults.
	d := config.Default()
	d.Officers = wantOfficers
	d.HTTP.PublicURL = "https://aduan.example.go.id"
	d.Twilio.From = "+6281234567800"
	if !reflect.DeepEqual(c, d) {
		t.Errorf("example = %+v, want defaults %+v", c, d)
	}
	got, want := c.MissingForSMS(), []string{"twilio.account_sid", "twilio.auth_token"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MissingForSMS() = %q, want %q", got, want)
	}
}

func TestLoadDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
	}{
		{"absent", officersYAML},
		{"empty strings", officersYAML + `
http: {listen: ""}
postgres: {url: ""}
redis: {url: ""}
twilio: {api_url: ""}
log: {level: "", format: ""}
region: ""
`},
		{"null sections", officersYAML + `
http:
postgres:
redis:
twilio:
log:
conversation:
outbox:
region:
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Load(writeConfig(t, tc.yaml), nil)
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			d := config.Default()
			d.Officers = c.Officers
			if !reflect.DeepEqual(c, d) {
				t.Errorf("config = %+v, want %+v", c, d)
			}
		})
	}
	d := config.Default()
	if got, want := d.Conversation.StateTTL.Std(), 7*24*time.Hour; got != want {
		t.Errorf("state_ttl = %v, want %v", got, want)
	}
	if got, want := d.HTTP.MaxBodyBytes, int64(65536); got != want {
		t.Errorf("max_body_bytes = %v, want %v", got, want)
	}
}

func TestLoadNoFile(t *testing.T) {
	_, err := config.Load("", nil)
	wantErr(t, err, "officers: none has role officer")

	_, err = config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want os.ErrNotExist", err)
	}
}

func TestLoadEmptyFile(t *testing.T) {
	_, err := config.Load(writeConfig(t, ""), nil)
	wantErr(t, err, "config.yaml: officers: none has role officer")
}

// TestLoadForStore: the commands that only use the database need no
// officers, and take the database URL from the environment; the rest is
// checked as strictly as Load does.
func TestLoadForStore(t *testing.T) {
	env := map[string]string{"ADUAN_POSTGRES_URL": "postgres://aduan@db.example:5432/aduan"}
	c, err := config.LoadForStore("", func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("LoadForStore without a file: %v", err)
	}
	if c.Postgres.URL != env["ADUAN_POSTGRES_URL"] || len(c.Officers) != 0 {
		t.Errorf("postgres.url = %q, officers %d; want the environment's, none", c.Postgres.URL, len(c.Officers))
	}
	_, err = config.LoadForStore(writeConfig(t, "http:\n  listn: x\n"), nil)
	wantErr(t, err, `unknown key "http.listn"`)
	_, err = config.LoadForStore(writeConfig(t, "officers:\n  - {name: A, phone: \"12\", role: officer}\n"), nil)
	wantErr(t, err, `config.yaml: line 2: officers[0].phone: "12" is not a valid phone number`)
}

func TestLoadUnknownKey(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"top level", officersYAML + "twillio:\n  from: \"+6281234567800\"\n",
			`config.yaml: line 5: unknown key "twillio"`},
		{"nested", "twilio:\n  from: \"+6281234567800\"\n  acount_sid: AC1\n" + officersYAML,
			`config.yaml: line 3: unknown key "twilio.acount_sid"`},
		{"in a list", "officers:\n  - name: A\n    phone: \"081337785111\"\n    rol: officer\n",
			`config.yaml: line 4: unknown key "officers[0].rol"`},
		{"flow mapping", officersYAML + "http: {listen: \"127.0.0.1:80\", lisen: x}\n",
			`config.yaml: line 5: unknown key "http.lisen"`},
		{"two", "oops: 1\nhttp: {nope: 1}\n" + officersYAML,
			`config.yaml: line 1: unknown key "oops"; line 2: unknown key "http.nope"`},
		{"many", "a: 1\nb: 1\nc: 1\nd: 1\ne: 1\nf: 1\ng: 1\n",
			`line 5: unknown key "e"; and 2 more`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.yaml), nil)
			wantErr(t, err, tc.want)
		})
	}
}

func TestLoadBadYAML(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"not a number", officersYAML + "outbox:\n  workers: many\n",
			`config.yaml: line 6: outbox.workers: want a whole number, got "many"`},
		{"mapping for a list", "officers: {a: 1}\n",
			`config.yaml: line 1: officers: want a list, got a mapping`},
		{"list for text", officersYAML + "http:\n  listen: [a, b]\n",
			`config.yaml: line 6: http.listen: want text, got a list`},
		{"nested mapping for text", officersYAML + "http:\n  listen: {a: {b: 1}}\n",
			`config.yaml: line 6: http.listen: want text, got a mapping`},
		{"mapping for a duration", officersYAML + "conversation:\n  lease_ttl: {a: {b: 1}}\n",
			`config.yaml: line 6: conversation.lease_ttl: want a duration such as "30m" or "7d", got a mapping`},
		{"flow mapping", officersYAML + "outbox: {workers: 2, max_attempts: lots}\n",
			`config.yaml: line 5: outbox.max_attempts: want a whole number, got "lots"`},
		{"list item", "officers:\n  - [a]\n",
			`config.yaml: line 2: officers[0]: want a mapping, got a list`},
		{"scalar for a section", officersYAML + "http: yes\n",
			`config.yaml: line 5: http: want a mapping, got "yes"`},
		{"scalar document", "hello\n",
			`config.yaml: line 1: want a mapping, got "hello"`},
		{"syntax", "http:\n  listen: a\n  - b\n",
			`config.yaml: line 1: did not find expected key`},
		{"duplicate key", officersYAML + "region: ID\nregion: ID\n",
			`config.yaml: line 6: region: mapping key "region" already defined at line 5`},
		{"two documents", officersYAML + "---\nregion: ID\n",
			`config.yaml: line 5: a second YAML document`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.yaml), nil)
			wantErr(t, err, tc.want)
		})
	}
}

func TestLoadEnv(t *testing.T) {
	for _, tc := range []struct {
		name, value string
		get         func(*config.Config) string
		want        string
	}{
		{"ADUAN_HTTP_LISTEN", ":9090", func(c *config.Config) string { return c.HTTP.Listen }, ":9090"},
		{"ADUAN_PUBLIC_URL", "https://x.example/", func(c *config.Config) string { return c.HTTP.PublicURL }, "https://x.example"},
		{"ADUAN_POSTGRES_URL", "postgres://u:p@db/aduan", func(c *config.Config) string { return c.Postgres.URL }, "postgres://u:p@db/aduan"},
		{"ADUAN_REDIS_URL", "redis://cache:6379/3", func(c *config.Config) string { return c.Redis.URL }, "redis://cache:6379/3"},
		{"ADUAN_TWILIO_ACCOUNT_SID", "AC0123456789abcdef", func(c *config.Config) string { return c.Twilio.AccountSID }, "AC0123456789abcdef"},
		{"ADUAN_TWILIO_AUTH_TOKEN", " secret42\n", func(c *config.Config) string { return c.Twilio.AuthToken }, "secret42"},
		{"ADUAN_TWILIO_FROM", "0812 3456 7800", func(c *config.Config) string { return c.Twilio.From }, "+6281234567800"},
		{"ADUAN_TWILIO_API_URL", "http://127.0.0.1:4010", func(c *config.Config) string { return c.Twilio.APIURL }, "http://127.0.0.1:4010"},
		{"ADUAN_LOG_LEVEL", "DEBUG", func(c *config.Config) string { return c.Log.Level }, "debug"},
		{"ADUAN_LOG_FORMAT", "json", func(c *config.Config) string { return c.Log.Format }, "json"},
		{"ADUAN_SMS_PROVIDER", "SMSGate", func(c *config.Config) string { return c.SMS.Provider }, "smsgate"},
		{"ADUAN_SMSGATE_URL", "https://api.sms-gate.app/3rdparty/v1/", func(c *config.Config) string { return c.SMSGate.URL }, "https://api.sms-gate.app/3rdparty/v1"},
		{"ADUAN_SMSGATE_USERNAME", "ABCDEF", func(c *config.Config) string { return c.SMSGate.Username }, "ABCDEF"},
		{"ADUAN_SMSGATE_PASSWORD", " pw-from-env\n", func(c *config.Config) string { return c.SMSGate.Password }, "pw-from-env"},
		{"ADUAN_SMSGATE_SIGNING_KEY", "key-from-env", func(c *config.Config) string { return c.SMSGate.SigningKey }, "key-from-env"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The file sets every key; the environment wins.
			path := writeConfig(t, officersYAML+`
http: {listen: "127.0.0.1:1", public_url: "https://file.example"}
postgres: {url: "postgres://file/aduan"}
redis: {url: "redis://file:6379/1"}
twilio: {account_sid: ACfile, auth_token: file, from: "+6281234567811", api_url: "https://file.example"}
log: {level: warn, format: text}
sms: {provider: twilio}
smsgate: {url: "https://file.example", username: file, password: file, signing_key: file}
`)
			c, err := config.Load(path, env(map[string]string{tc.name: tc.value}))
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if got := tc.get(c); got != tc.want {
				t.Errorf("value = %q, want %q", got, tc.want)
			}
		})
	}

	t.Run("empty overrides nothing", func(t *testing.T) {
		c, err := config.Load(writeConfig(t, officersYAML+"log: {level: warn}\n"), env(map[string]string{"ADUAN_LOG_LEVEL": ""}))
		if err != nil {
			t.Fatalf("Load = %v", err)
		}
		if got, want := c.Log.Level, "warn"; got != want {
			t.Errorf("log.level = %q, want %q", got, want)
		}
	})

	t.Run("bad value names the variable", func(t *testing.T) {
		_, err := config.Load(writeConfig(t, officersYAML), env(map[string]string{"ADUAN_LOG_LEVEL": "loud"}))
		wantErr(t, err, `log.level (from ADUAN_LOG_LEVEL): "loud" is not one of`)
		_, err = config.Load(writeConfig(t, officersYAML), env(map[string]string{"ADUAN_SMS_PROVIDER": "nexmo"}))
		wantErr(t, err, `sms.provider (from ADUAN_SMS_PROVIDER): "nexmo" is not twilio or smsgate`)
	})
}

func TestLoadDurations(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr string
	}{
		{value: "30m", want: 30 * time.Minute},
		{value: "7d", want: 7 * 24 * time.Hour},
		{value: "1d12h", want: 36 * time.Hour},
		{value: "\"2d\"", want: 48 * time.Hour},
		{value: "1h30m", want: 90 * time.Minute},
		{value: "7x", wantErr: `line 6: conversation.state_ttl: "7x" is not a duration`},
		{value: "30", wantErr: `line 6: conversation.state_ttl: "30" has no unit`},
		{value: "1.5d", wantErr: `conversation.state_ttl: "1.5d" is not a duration`},
		{value: "12h1d", wantErr: `conversation.state_ttl: "12h1d" is not a duration`},
		{value: "[1d]", wantErr: `line 6: conversation.state_ttl: want a duration`},
		{value: "0s", wantErr: `config.yaml: line 6: conversation.state_ttl: 0s is not positive`},
		{value: "-1d", wantErr: `conversation.state_ttl: -1d is not positive`},
	} {
		t.Run(tc.value, func(t *testing.T) {
			path := writeConfig(t, officersYAML+"conversation:\n  state_ttl: "+tc.value+"\n")
			c, err := config.Load(path, nil)
			if tc.wantErr != "" {
				wantErr(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("Load = %v", err)
			}
			if got := c.Conversation.StateTTL.Std(); got != tc.want {
				t.Errorf("state_ttl = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestLoadPhones(t *testing.T) {
	path := writeConfig(t, `
twilio: {from: "0812-3456-7800"}
officers:
  - {name: A, phone: "081337785111", role: officer}
  - {name: B, phone: "+62 813 3797 3213", role: supervisor}
  - {name: C, phone: "6281234567890", role: officer}
`)
	c, err := config.Load(path, nil)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	got := []string{c.Twilio.From, c.Officers[0].Phone, c.Officers[1].Phone, c.Officers[2].Phone}
	want := []string{"+6281234567800", "+6281337785111", "+6281337973213", "+6281234567890"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("phones = %q, want %q", got, want)
	}

	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"invalid officer", `
officers:
  - {name: A, phone: "081337785111", role: officer}
  - {name: B, phone: "0813", role: officer}
`, `config.yaml: line 4: officers[1].phone: "0813" is not a valid phone number`},
		{"phone left out", `
officers:
  - {name: A, phone: "081337785111", role: officer}
  - name: B
    role: officer
`, `config.yaml: line 4: officers[1].phone: is empty`},
		{"invalid from", officersYAML + "twilio: {from: \"12\"}\n", `twilio.from: "12" is not a valid phone number`},
		{"other region", "region: US\n" + officersYAML, `officers[0].phone: "081337785111" is not a valid phone number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Load(writeConfig(t, tc.yaml), nil)
			wantErr(t, err, tc.want)
		})
	}
}

// TestExampleHasEveryKey checks that config.example.yaml shows every key of
// Config, and nothing else.
func TestExampleHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var example map[string]any
	if err := yaml.Unmarshal(data, &example); err != nil {
		t.Fatal(err)
	}
	c := config.Default()
	c.Officers = []config.Officer{{Name: "A", Phone: "+6281337785111", Role: "officer"}}
	out, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := yaml.Unmarshal(out, &all); err != nil {
		t.Fatal(err)
	}
	got, want := keys("", example), keys("", all)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example keys = %q, want %q", got, want)
	}
}

// keys lists the key paths in v, reading only the first item of a list.
func keys(prefix string, v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		names := make([]string, 0, len(v))
		for k := range v {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			out = append(out, prefix+k)
			out = append(out, keys(prefix+k+".", v[k])...)
		}
	case []any:
		if len(v) > 0 {
			out = append(out, keys(prefix, v[0])...)
		}
	}
	return out
}
