package main

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"aduan/bot"
	"aduan/dialog/flows"
	"aduan/internal/config"
)

// reloader applies a configuration read again (on SIGHUP, `systemctl
// reload aduan`) to a running server: what can change live (officers,
// flows, clocks, limits, the supervisor PIN) at once, the rest at the next
// restart. A file that does not load changes nothing.
type reloader struct {
	srv    *server
	reread func() (*config.Config, error)

	mu      sync.Mutex
	started *config.Config // what the process runs with for the rest
	applied *config.Config // the live part last applied
}

// reload reads the configuration again and applies it, logging what
// changed, what needs a restart, or why nothing did.
func (r *reloader) reload() {
	r.mu.Lock()
	defer r.mu.Unlock()
	log := r.srv.app.log
	next, err := r.reread()
	if err != nil {
		log.Error("configuration not reloaded: nothing changed", "err", err)
		return
	}
	book, err := flows.Load(next.Flows.Dir)
	if err != nil {
		log.Error("configuration not reloaded: the flows do not load; nothing changed", "err",
			strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "))
		return
	}
	changed := liveChanges(r.applied, next)
	r.srv.app.svc.Reload(bot.Live{Officers: officers(next), Book: book, Clocks: next.Clocks.Bot(),
		Limits: next.Limits.Bot(), SupervisorPIN: next.Security.SupervisorPIN})
	if r.srv.waStaff != nil {
		r.srv.waStaff(staffPhones(next.Officers))
	}
	r.applied = next
	restart := restartChanges(r.started, next)
	if len(changed) == 0 {
		changed = []string{"nothing"}
	}
	log.Info("configuration reloaded", "changed", changed, "needs_restart", restart)
}

// liveChanges says what of the live part differs from a to b: officers
// counted (never named: the log is no place for staff's names and
// numbers), the other keys named.
func liveChanges(a, b *config.Config) []string {
	var out []string
	if s := officerChanges(a.Officers, b.Officers); s != "" {
		out = append(out, s)
	}
	if b.Flows.Dir != "" || a.Flows.Dir != b.Flows.Dir {
		out = append(out, "flows (read again from "+dirName(b.Flows.Dir)+")")
	}
	ac, bc := a.Clocks, b.Clocks
	ac.Interval, bc.Interval = 0, 0
	if !reflect.DeepEqual(ac, bc) {
		out = append(out, "clocks")
	}
	if !reflect.DeepEqual(a.Limits, b.Limits) {
		out = append(out, "limits")
	}
	if a.Security.SupervisorPIN != b.Security.SupervisorPIN {
		out = append(out, "security.supervisor_pin")
	}
	return out
}

func dirName(dir string) string {
	if dir == "" {
		return "the built-in flows"
	}
	return dir
}

// officerChanges counts the officers added, removed and changed (by phone
// number), or returns "" when none were.
func officerChanges(a, b []config.Officer) string {
	before := make(map[string]config.Officer, len(a))
	for _, o := range a {
		before[o.Phone] = o
	}
	added, changed := 0, 0
	for _, o := range b {
		old, ok := before[o.Phone]
		switch {
		case !ok:
			added++
		case !reflect.DeepEqual(old, o):
			changed++
		}
		delete(before, o.Phone)
	}
	if added == 0 && changed == 0 && len(before) == 0 {
		return ""
	}
	return fmt.Sprintf("officers: %d -> %d (%d added, %d removed, %d changed)", len(a), len(b), added, len(before), changed)
}

// restartChanges names the sections (and keys) that differ from what the
// process started with and take effect only at a restart.
func restartChanges(a, b *config.Config) []string {
	out := []string{}
	va, vb := reflect.ValueOf(*a), reflect.ValueOf(*b)
	t := va.Type()
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		switch name {
		case "officers", "limits", "flows":
			continue
		case "clocks":
			if a.Clocks.Interval != b.Clocks.Interval {
				out = append(out, "clocks.interval")
			}
			continue
		case "security":
			sa, sb := a.Security, b.Security
			sa.SupervisorPIN, sb.SupervisorPIN = "", ""
			fa, fb = sa, sb
		}
		if !reflect.DeepEqual(fa, fb) {
			out = append(out, name)
		}
	}
	return out
}
