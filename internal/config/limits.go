package config

import (
	"time"

	"aduan/bot"
)

// Limits configures the abuse limits. A zero count means no limit.
type Limits struct {
	PerSender       int      `yaml:"per_sender"`        // messages one sender may send per window; then one "please wait", then silence
	Window          Duration `yaml:"window"`            // the window of per_sender
	GlobalPerSecond int      `yaml:"global_per_second"` // messages the service takes in any one second, all replicas together; more get 503 (Twilio retries)
	Lookups         int      `yaml:"lookups"`           // ticket status questions per number per lookup_window; then refused
	LookupWindow    Duration `yaml:"lookup_window"`
}

func defaultLimits() Limits {
	return Limits{PerSender: 20, Window: Duration(time.Minute), GlobalPerSecond: 5000, Lookups: 5,
		LookupWindow: Duration(time.Hour)}
}

// Bot returns the limits as the pipeline takes them.
func (l Limits) Bot() bot.Limits {
	return bot.Limits{PerSender: l.PerSender, Window: l.Window.Std(), GlobalPerSec: l.GlobalPerSecond,
		Lookups: l.Lookups, LookupWindow: l.LookupWindow.Std()}
}

func (l *Limits) validate() error {
	switch {
	case l.PerSender < 0:
		return bad("limits.per_sender", "must not be negative")
	case l.GlobalPerSecond < 0:
		return bad("limits.global_per_second", "must not be negative")
	case l.Lookups < 0:
		return bad("limits.lookups", "must not be negative")
	case l.Window <= 0:
		return bad("limits.window", "must be more than 0")
	case l.LookupWindow <= 0:
		return bad("limits.lookup_window", "must be more than 0")
	}
	return nil
}
