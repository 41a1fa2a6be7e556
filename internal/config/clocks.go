package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"aduan/bot"
)

// Clocks configures the service standard's clocks (see README, "The
// clocks"): per kind of ticket, how soon an officer must accept it and how
// soon it must be done, with the reminders and escalations that keep those
// promises; and the supervisors' daily digest.
type Clocks struct {
	Interval  Duration `yaml:"interval"`  // how often the clocks are checked
	DigestAt  string   `yaml:"digest_at"` // time of day, WITA, of the daily digest ("07:00"); "off" for none
	Case      Clock    `yaml:"case"`
	Complaint Clock    `yaml:"complaint"`
	Urgent    Clock    `yaml:"urgent"`
}

// Clock is one kind of ticket's clock.
type Clock struct {
	FirstResponse Duration `yaml:"first_response"` // accepted by an officer within this
	Done          Duration `yaml:"done"`           // done within this
	RemindFirst   Duration `yaml:"remind_first"`   // remind the assignee this long before first_response runs out; 0: no
	RemindDone    Duration `yaml:"remind_done"`    // remind the assignee this long before done runs out; 0: no
	EscalateAfter Duration `yaml:"escalate_after"` // past first_response: backups at once, supervisors after this
	Resend        Duration `yaml:"resend"`         // re-send to everyone this often until accepted; 0: never
}

func fromBotClock(c bot.Clock) Clock {
	return Clock{FirstResponse: Duration(c.FirstResponse), Done: Duration(c.Done), RemindFirst: Duration(c.RemindFirst),
		RemindDone: Duration(c.RemindDone), EscalateAfter: Duration(c.EscalateAfter), Resend: Duration(c.Resend)}
}

func (c Clock) bot() bot.Clock {
	return bot.Clock{FirstResponse: c.FirstResponse.Std(), Done: c.Done.Std(), RemindFirst: c.RemindFirst.Std(),
		RemindDone: c.RemindDone.Std(), EscalateAfter: c.EscalateAfter.Std(), Resend: c.Resend.Std()}
}

func defaultClocks() Clocks {
	d := bot.DefaultClocks
	return Clocks{Interval: Duration(30 * time.Second), DigestAt: "07:00", Case: fromBotClock(d.Case),
		Complaint: fromBotClock(d.Complaint), Urgent: fromBotClock(d.Urgent)}
}

// Bot returns the clocks as the pipeline takes them. Validate has checked them.
func (c Clocks) Bot() bot.Clocks {
	at, _ := parseDigestAt(c.DigestAt)
	return bot.Clocks{Case: c.Case.bot(), Complaint: c.Complaint.bot(), Urgent: c.Urgent.bot(), DigestAt: at}
}

func parseDigestAt(s string) (time.Duration, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "off" || s == "none" {
		return -1, nil
	}
	hh, mm, ok := strings.Cut(s, ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, fmt.Errorf("%q is not a time of day like 07:00 (or off)", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

func (c *Clocks) validate() error {
	if c.Interval <= 0 {
		return bad("clocks.interval", "must be more than 0")
	}
	if _, err := parseDigestAt(c.DigestAt); err != nil {
		return bad("clocks.digest_at", "%v", err)
	}
	for _, k := range []struct {
		name string
		c    Clock
	}{{"case", c.Case}, {"complaint", c.Complaint}, {"urgent", c.Urgent}} {
		key := "clocks." + k.name
		switch {
		case k.c.FirstResponse <= 0:
			return bad(key+".first_response", "must be more than 0")
		case k.c.Done <= k.c.FirstResponse:
			return bad(key+".done", "must be longer than first_response")
		case k.c.RemindFirst < 0 || k.c.RemindFirst >= k.c.FirstResponse:
			return bad(key+".remind_first", "must be 0 or shorter than first_response")
		case k.c.RemindDone < 0 || k.c.RemindDone >= k.c.Done:
			return bad(key+".remind_done", "must be 0 or shorter than done")
		case k.c.EscalateAfter < 0:
			return bad(key+".escalate_after", "must not be negative")
		case k.c.Resend < 0 || k.c.Resend > 0 && k.c.Resend.Std() < time.Minute:
			return bad(key+".resend", "must be 0 or at least 1m")
		}
	}
	return nil
}
