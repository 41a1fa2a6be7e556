package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WITA is the district's time zone (UTC+8), in which duty hours are read.
var WITA = time.FixedZone("WITA", 8*60*60)

// Hours are the days and times an officer is on duty, in WITA. The zero
// value means always.
type Hours struct {
	From, To time.Duration // since midnight; To before From wraps past midnight
	Days     [7]bool       // by time.Weekday; all false means every day
}

// ParseHours reads duty hours such as "08:00-16:00", "08.00-16.00" or "mon-fri 08:00-16:00"
// (also Indonesian day names: "sen-jum 08:00-16:00"). "" means always.
func ParseHours(s string) (Hours, error) {
	var h Hours
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return h, nil
	}
	days, times, ok := strings.Cut(s, " ")
	if !ok {
		days, times = "", s
	}
	if days != "" {
		first, last, _ := strings.Cut(days, "-")
		a, okA := weekday(first)
		b, okB := weekday(last)
		if last == "" {
			b, okB = a, okA
		}
		if !okA || !okB {
			return h, fmt.Errorf("%q: days must be like mon-fri or sen-jum", s)
		}
		for d := a; ; d = (d + 1) % 7 {
			h.Days[d] = true
			if d == b {
				break
			}
		}
	}
	from, to, ok := strings.Cut(times, "-")
	if !ok {
		return h, fmt.Errorf("%q: hours must be like 08:00-16:00 or 08.00-16.00", s)
	}
	var err error
	if h.From, err = clock(from); err != nil {
		return h, fmt.Errorf("%q: %v", s, err)
	}
	if h.To, err = clock(to); err != nil {
		return h, fmt.Errorf("%q: %v", s, err)
	}
	if h.From == h.To {
		return h, fmt.Errorf("%q: the shift has no length", s)
	}
	return h, nil
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday,
	"min": time.Sunday, "sen": time.Monday, "sel": time.Tuesday, "rab": time.Wednesday, "kam": time.Thursday,
	"jum": time.Friday, "sab": time.Saturday,
}

func weekday(s string) (time.Weekday, bool) {
	if len(s) < 3 {
		return 0, false
	}
	d, ok := weekdays[s[:3]]
	return d, ok
}

func clock(s string) (time.Duration, error) {
	// 08:00, or 08.00 as Indonesians write the time.
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		hh, mm, _ = strings.Cut(strings.TrimSpace(s), ".")
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if mm == "" {
		m, err2 = 0, nil
	}
	if err1 != nil || err2 != nil || h < 0 || h > 24 || m < 0 || m > 59 || h == 24 && m > 0 {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// On reports whether t falls in the hours.
func (h Hours) On(t time.Time) bool {
	if h.From == 0 && h.To == 0 {
		return true
	}
	t = t.In(WITA)
	day := t.Weekday()
	since := time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute
	anyDay := h.Days == [7]bool{}
	if h.From < h.To {
		return (anyDay || h.Days[day]) && since >= h.From && since < h.To
	}
	// a night shift: the part after midnight belongs to the day before
	if since >= h.From {
		return anyDay || h.Days[day]
	}
	return since < h.To && (anyDay || h.Days[(day+6)%7])
}

// Directory is the configured staff.
type Directory struct {
	all     []Officer
	byPhone map[string]int
	// Canonical gives the current name of a kecamatan stored under a
	// former one ("poco-ranaka" -> "lamba-leda-selatan"); nil: as stored.
	Canonical func(string) string
}

// NewDirectory returns the staff directory.
func NewDirectory(officers []Officer) *Directory {
	d := &Directory{all: officers, byPhone: make(map[string]int, len(officers))}
	for i, o := range officers {
		d.byPhone[o.Phone] = i
	}
	return d
}

// ByPhone returns the officer or supervisor with the number.
func (d *Directory) ByPhone(phone string) (Officer, bool) {
	i, ok := d.byPhone[phone]
	if !ok {
		return Officer{}, false
	}
	return d.all[i], true
}

// Name returns the officer's name for a phone number, or a masked number.
func (d *Directory) Name(phone string) string {
	if o, ok := d.ByPhone(phone); ok {
		return o.Name
	}
	if phone == "" {
		return "-"
	}
	return Mask(phone)
}

// channelOf is where an officer's notifications go; SMS for a number not
// in the directory.
func (d *Directory) channelOf(phone string) Channel {
	if o, ok := d.ByPhone(phone); ok {
		return o.NotifyChannel()
	}
	return SMS
}

// Find returns the one officer whose name contains q (any case) or whose
// number ends in q's digits.
func (d *Directory) Find(q string) (Officer, bool) {
	q = strings.ToLower(strings.TrimSpace(q))
	digits := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, q)
	if strings.HasPrefix(digits, "0") {
		digits = digits[1:]
	}
	var found []Officer
	for _, o := range d.all {
		switch {
		case len(digits) >= 6 && strings.HasSuffix(o.Phone, digits):
		case digits == "" && q != "" && strings.Contains(strings.ToLower(o.Name), q):
		default:
			continue
		}
		found = append(found, o)
	}
	if len(found) != 1 {
		return Officer{}, false
	}
	return found[0], true
}

// All returns every officer and supervisor.
func (d *Directory) All() []Officer { return d.all }

// Supervisors returns the supervisors.
func (d *Directory) Supervisors() []Officer { return d.withRole(RoleSupervisor) }

// Officers returns the officers (not supervisors).
func (d *Directory) Officers() []Officer { return d.withRole(RoleOfficer) }

func (d *Directory) withRole(r Role) []Officer {
	var out []Officer
	for _, o := range d.all {
		if o.Role == r {
			out = append(out, o)
		}
	}
	return out
}

// Route is who a new ticket goes to.
type Route struct {
	Assignee Officer   // zero when nobody eligible is on duty
	Backups  []Officer // eligible officers on duty other than the assignee
	Others   []Officer // everyone else told: all officers and supervisors when nobody is on duty, or the ticket is urgent
}

// Eligible reports whether o may take t: an officer whose areas and kinds
// include the ticket's; for a complaint about staff, a supervisor.
func (o Officer) Eligible(t *Ticket) bool {
	if t.StaffComplaint() {
		return o.Role == RoleSupervisor
	}
	if o.Role != RoleOfficer {
		return false
	}
	if len(o.Kinds) > 0 && !contains(o.Kinds, t.Kind) {
		return false
	}
	if len(o.Areas) > 0 && t.Kecamatan != "" && t.Kecamatan != "unknown" && !contains(o.Areas, t.Kecamatan) {
		return false
	}
	return true
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Route assigns t to one eligible officer on duty at now, round-robin after
// last (the officer who got the previous such ticket), and offers it to the
// other eligible ones as backup. With nobody eligible on duty, or for an
// urgent ticket, every officer and supervisor is told as well. A complaint
// about staff goes to the supervisors only (to everyone only when no
// supervisor is configured).
func (d *Directory) Route(t *Ticket, now time.Time, last string) Route {
	var r Route
	var eligible []Officer
	if d.Canonical != nil && t.Kecamatan != "" {
		c := *t
		c.Kecamatan = d.Canonical(t.Kecamatan)
		t = &c
	}
	for _, o := range d.all {
		if o.Eligible(t) && o.Duty.On(now) {
			eligible = append(eligible, o)
		}
	}
	if len(eligible) > 0 {
		next := 0
		for i, o := range eligible {
			if o.Phone == last {
				next = (i + 1) % len(eligible)
				break
			}
		}
		r.Assignee = eligible[next]
		for i, o := range eligible {
			if i != next {
				r.Backups = append(r.Backups, o)
			}
		}
	}
	if len(eligible) == 0 || t.Urgent {
		pool := d.all
		if sv := d.Supervisors(); t.StaffComplaint() && len(sv) > 0 {
			pool = sv // never the officers it may be about
		}
		for _, o := range pool {
			if o.Phone != r.Assignee.Phone && !contains(phones(r.Backups), o.Phone) {
				r.Others = append(r.Others, o)
			}
		}
	}
	return r
}

func phones(os []Officer) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Phone
	}
	return out
}
