package main

import (
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"aduan/internal/config"
)

func configCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:     "config",
		Short:   "check a configuration file without starting anything",
		Example: "  aduan-env config check --config /etc/aduan/aduan.yaml",
		RunE:    group("config", "check"),
	}
	var path string
	var strict bool
	check := &cobra.Command{
		Use:   "check [flags]",
		Short: "check a configuration (the file, then the ADUAN_* environment over it)",
		Long: "Checks a configuration (the file, then the ADUAN_* environment variables over it) without\n" +
			"connecting to anything, naming the line of each problem, and lists what serve still needs\n" +
			"(secrets from the environment, keys). It exits 0 when the file is valid, 2 when it is not;\n" +
			"with --strict, also 2 when serve would not start with it as it stands.",
		Example: "  aduan config check --config aduan.yaml\n" +
			"  aduan-env config check --config /etc/aduan/aduan.yaml --strict",
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return configCheck(e, path, strict)
		},
	}
	configFlag(check, &path)
	check.Flags().BoolVar(&strict, "strict", false, "also fail (exit 2) when serve would not start: secrets or keys missing")
	c.AddCommand(check)
	return c
}

// configCheck is `aduan config check`.
func configCheck(e env, path string, strict bool) error {
	cfg, err := loadConfig(path, e)
	if err != nil {
		return err
	}
	w := e.stdout
	name := path
	if name == "" {
		name = "defaults and environment"
	}
	fmt.Fprintf(w, "config ok: %s\n", name)
	describe(w, cfg)
	var blocking []string
	if missing := cfg.MissingSecurity(); len(missing) > 0 {
		fmt.Fprintf(w, "  keys:      missing %s (make them with: aduan keys generate)\n", strings.Join(missing, ", "))
		blocking = append(blocking, "protecting personal data needs "+strings.Join(missing, ", "))
	} else if _, err := cfg.Keyring(); err != nil {
		fmt.Fprintf(w, "  keys:      %v\n", err)
		blocking = append(blocking, err.Error())
	} else {
		fmt.Fprintln(w, "  keys:      set (keep a copy apart from the database backups)")
	}

	fmt.Fprintln(w, "channels:")
	for _, c := range channelReadiness(cfg) {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.status())
		if c.required && len(c.missing) > 0 {
			blocking = append(blocking, fmt.Sprintf("the %s channel needs %s", c.name, strings.Join(c.missing, ", ")))
		}
	}
	if warns := append(cfg.Warnings, secretWarnings(path, e)...); len(warns) > 0 {
		fmt.Fprintln(w, "warnings:")
		for _, s := range warns {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if len(blocking) == 0 {
		fmt.Fprintln(w, "serve: ready to start")
		return nil
	}
	fmt.Fprintln(w, "serve still needs:")
	for _, b := range blocking {
		fmt.Fprintf(w, "  %s\n", b)
	}
	fmt.Fprintln(w, "(secrets belong in the environment: /etc/aduan/aduan.env, run through aduan-env)")
	if strict {
		return usagef("config check: serve would not start: %s", strings.Join(blocking, "; "))
	}
	return nil
}

// describe prints the settings an operator most often gets wrong, with
// passwords hidden.
func describe(w io.Writer, c *config.Config) {
	officers, supervisors := 0, 0
	for _, o := range c.Officers {
		if o.Role == config.RoleSupervisor {
			supervisors++
		} else {
			officers++
		}
	}
	public := c.HTTP.PublicURL
	if public == "" {
		public = "(none)"
	}
	fmt.Fprintf(w, "  http:      listen %s, public URL %s, shutdown grace %s\n", c.HTTP.Listen, public, c.HTTP.ShutdownGrace)
	fmt.Fprintf(w, "  postgres:  %s\n", redactURL(c.Postgres.URL))
	fmt.Fprintf(w, "  redis:     %s\n", redactURL(c.Redis.URL))
	fmt.Fprintf(w, "  officers:  %d officer(s), %d supervisor(s)\n", officers, supervisors)
	fmt.Fprintf(w, "  log:       level %s, format %s\n", c.Log.Level, c.Log.Format)
}

// readiness is what one channel still needs.
type readiness struct {
	name     string
	enabled  bool
	required bool     // serve does not start without it
	missing  []string // keys still empty
	note     string
}

func (r readiness) status() string {
	switch {
	case !r.enabled:
		return "disabled" + r.noteSuffix()
	case len(r.missing) > 0:
		return "missing " + strings.Join(r.missing, ", ") + r.noteSuffix()
	}
	return "ready" + r.noteSuffix()
}

func (r readiness) noteSuffix() string {
	if r.note == "" {
		return ""
	}
	return " (" + r.note + ")"
}

// channelReadiness lists each channel and what it lacks.
func channelReadiness(c *config.Config) []readiness {
	sms := readiness{name: "sms", enabled: true, required: true, missing: c.MissingForSMS(), note: "by " + c.SMS.Provider}
	out := []readiness{sms}
	if c.SMS.Provider == config.ProviderSMSGate {
		out[0].note = "by the gateway phone at " + redactURL(c.SMSGate.URL) + "; webhooks: aduan smsgate register"
		if c.SMSGate.Limit == 30 && c.SMSGate.LimitPeriod.Std() == 30*time.Minute {
			out[0].note += "; limit is Android's default 30 in 30m: raise the phone's and smsgate.limit (docs/SMS.md)"
		}
		// Twilio still takes inbound SMS and sends Twilio's WhatsApp when
		// configured; it is not needed.
		tw := readiness{name: "twilio", enabled: c.Twilio.AccountSID != "" || c.Twilio.AuthToken != "", missing: c.MissingForTwilio()}
		out = append(out, tw)
	}
	wa := readiness{name: "whatsapp", enabled: c.WhatsApp.Enabled}
	if m, ok := any(c).(interface{ MissingForWhatsApp() []string }); ok && wa.enabled {
		wa.missing = m.MissingForWhatsApp()
	}
	if wa.enabled {
		wa.note = "the device must be paired: aduan whatsapp pair"
	}
	return append(out, wa)
}

// secretWarnings points out secrets written in the file itself rather than
// in the environment, and a file others can read.
func secretWarnings(path string, e env) []string {
	if path == "" {
		return nil
	}
	own, err := config.Load(path, nil) // the file alone
	if err != nil {
		return nil
	}
	var warns []string
	secret := false
	for _, s := range []struct{ key, env, v string }{
		{"twilio.account_sid", "ADUAN_TWILIO_ACCOUNT_SID", own.Twilio.AccountSID},
		{"twilio.auth_token", "ADUAN_TWILIO_AUTH_TOKEN", own.Twilio.AuthToken},
		{"smsgate.password", "ADUAN_SMSGATE_PASSWORD", own.SMSGate.Password},
		{"smsgate.signing_key", "ADUAN_SMSGATE_SIGNING_KEY", own.SMSGate.SigningKey},
		{"security.encryption_key", "ADUAN_ENCRYPTION_KEY", own.Security.EncryptionKey},
		{"security.lookup_key", "ADUAN_LOOKUP_KEY", own.Security.LookupKey},
	} {
		if s.v != "" {
			secret = true
			warns = append(warns, fmt.Sprintf("%s is in the file; better in the environment (%s)", s.key, s.env))
		}
	}
	for _, s := range []struct{ key, env, v string }{
		{"postgres.url", "ADUAN_POSTGRES_URL", own.Postgres.URL},
		{"redis.url", "ADUAN_REDIS_URL", own.Redis.URL},
	} {
		if u, err := url.Parse(s.v); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				secret = true
				warns = append(warns, fmt.Sprintf("%s holds a password; better in the environment (%s)", s.key, s.env))
			}
		}
	}
	if st, err := os.Stat(path); err == nil && secret && st.Mode().Perm()&0o004 != 0 {
		warns = append(warns, fmt.Sprintf("%s holds secrets and every user can read it (chmod 640)", path))
	}
	return warns
}

// redactURL hides the password in a URL; a string that is not a URL is
// shown as "(not a URL)", since it may be a DSN holding one.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return "(not a URL)"
	}
	return u.Redacted()
}
