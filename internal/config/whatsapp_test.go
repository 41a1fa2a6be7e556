package config_test

import (
	"testing"
	"time"

	"aduan/internal/config"
)

func TestValidateWhatsApp(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   string // "" means valid
	}{
		{"defaults", func(*config.Config) {}, ""},
		{"typing off", func(c *config.Config) { c.WhatsApp.Typing = 0 }, ""},
		{"typing negative", func(c *config.Config) { c.WhatsApp.Typing = -1 }, `whatsapp.typing: -1ns is not between 0s and 10s`},
		{"typing too long", func(c *config.Config) { c.WhatsApp.Typing = config.Duration(time.Minute) }, `whatsapp.typing: 1m is not between 0s and 10s`},
		{"media zero", func(c *config.Config) { c.WhatsApp.MediaMaxBytes = 0 }, `whatsapp.media_max_bytes: 0 is not positive`},
		{"per recipient zero", func(c *config.Config) { c.WhatsApp.Pacing.PerRecipient = 0 }, `whatsapp.pacing.per_recipient: 0s is not positive`},
		{"overall zero", func(c *config.Config) { c.WhatsApp.Pacing.Overall = 0 }, `whatsapp.pacing.overall: 0s is not positive`},
		{"per recipient burst zero", func(c *config.Config) { c.WhatsApp.Pacing.PerRecipientBurst = 0 }, `whatsapp.pacing.per_recipient_burst: 0 is not positive`},
		{"overall burst negative", func(c *config.Config) { c.WhatsApp.Pacing.OverallBurst = -2 }, `whatsapp.pacing.overall_burst: -2 is not positive`},
		{"officer whatsapp", func(c *config.Config) { c.Officers[0].Channel = " WhatsApp " }, ""},
		{"officer sms", func(c *config.Config) { c.Officers[1].Channel = "sms" }, ""},
		{"officer telegram", func(c *config.Config) { c.Officers[1].Channel = "telegram" }, `officers[1].channel: "telegram" is not sms or whatsapp`},
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

func TestPreferredChannel(t *testing.T) {
	for _, tc := range []struct{ channel, want string }{
		{"", config.ChannelSMS},
		{"sms", config.ChannelSMS},
		{"whatsapp", config.ChannelWhatsApp},
	} {
		if got := (config.Officer{Channel: tc.channel}).PreferredChannel(); got != tc.want {
			t.Errorf("PreferredChannel(%q) = %q, want %q", tc.channel, got, tc.want)
		}
	}
	c := valid()
	c.Officers[0].Channel = " WhatsApp "
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.Officers[0].Channel; got != config.ChannelWhatsApp {
		t.Errorf("channel = %q, want %q", got, config.ChannelWhatsApp)
	}
}

func TestLoadWhatsApp(t *testing.T) {
	c, err := config.Load(writeConfig(t, officersYAML+`
whatsapp:
  enabled: true
  mark_read: false
  typing: 0s
  pacing: {per_recipient: 5s, overall_burst: 3}
`), nil)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	w := c.WhatsApp
	if !w.Enabled || w.MarkRead || w.Typing != 0 || w.Pacing.PerRecipient.Std() != 5*time.Second ||
		w.Pacing.OverallBurst != 3 || w.Pacing.PerRecipientBurst != 4 || w.MediaMaxBytes != 16<<20 {
		t.Errorf("whatsapp = %+v, want enabled, no read marks, no typing, 5s/4 per recipient, burst 3, 16 MiB", w)
	}
}
