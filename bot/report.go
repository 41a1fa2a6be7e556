package bot

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"aduan/dialog"
)

// The service standard's promises, which the monthly report measures.
const (
	// ResponseTarget is how soon an officer must take a new ticket (its
	// first "accepted" event).
	ResponseTarget = 30 * time.Minute
	// DoneTarget is how soon a ticket must be done (a "closed" event, or a
	// "status" event whose Detail is "done").
	DoneTarget = 7 * 24 * time.Hour
)

// MonthOf returns the bounds [from, to) of the calendar month holding t,
// in t's location: pass a time in the office's zone (Asia/Makassar), so
// that the month begins at its midnight.
func MonthOf(t time.Time) (from, to time.Time) {
	y, m, _ := t.Date()
	from = time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
	return from, from.AddDate(0, 1, 0)
}

// ReportStore reads what the monthly report counts. store/sqlstore
// implements it.
type ReportStore interface {
	// TicketsCreated returns the tickets created in [from, to), oldest
	// first, and the events of each, by ticket code, in the order they were
	// written. Returns Unavailable if the store cannot be reached.
	TicketsCreated(ctx context.Context, from, to time.Time) ([]Ticket, map[string][]Event, error)
}

// Report is the monthly report the Head of the Dinas sends upward: how many
// tickets came in, of what kind, from where, about whom, and whether the
// service standard's promises were kept. Every breakdown lists the known
// values in a fixed order, with zeros, then any other value found; a
// missing answer counts as "unknown".
type Report struct {
	From, To time.Time // tickets created in [From, To)
	AsOf     time.Time // events after AsOf are not counted

	Tickets int
	Urgent  int
	// Withdrawn counts the urgent tickets their reporters closed, safe,
	// before an officer handled them: not measured against the standard.
	Withdrawn int
	ByKind    []Count
	ByChannel []Count

	Cases       int
	ByViolence  []Count // one case may name several types: these may add up to more than Cases
	ByKecamatan []Count
	ByAgeGroup  []Count // the victim's
	BySex       []Count // the victim's
	ByVictim    []Count // age group and sex together, "child-female" (the flows' victim values)

	Complaints int
	ByTopic    []Count

	// Standard measures the promises for all tickets (Kind ""), then for
	// cases, then for complaints.
	Standard []Standard
}

// Count is one row of a breakdown.
type Count struct {
	Key string
	N   int
}

// Standard is how a group of tickets fared against the service standard.
type Standard struct {
	Kind     Kind // "" for all tickets
	Tickets  int
	Response Timeliness // first response within ResponseTarget
	Done     Timeliness // done within DoneTarget
}

// Timeliness counts how many tickets met one promise.
type Timeliness struct {
	Target time.Duration
	Met    int           // it happened within Target
	Late   int           // it happened, after Target
	Missed int           // it has not happened, and Target had passed at AsOf
	Open   int           // it has not happened, and Target had not yet passed at AsOf
	Median time.Duration // the median time it took, over Met and Late; 0 when none
}

// Settled is the number of tickets whose outcome is known: Met, Late or
// Missed.
func (t Timeliness) Settled() int { return t.Met + t.Late + t.Missed }

// Percent is the share of settled tickets that met the promise, 0 to 100.
// ok is false when no ticket is settled.
func (t Timeliness) Percent() (pct float64, ok bool) {
	n := t.Settled()
	if n == 0 {
		return 0, false
	}
	return 100 * float64(t.Met) / float64(n), true
}

// The known values of each breakdown, in the order the report lists them:
// the data names the flows produce.
var (
	reportKinds    = []string{string(KindCase), string(KindComplaint)}
	reportChannels = []string{string(SMS), string(WhatsApp)}
	reportViolence = []string{"physical", "psychological", "sexual", "neglect", "exploitation", "domestic", "other"}
	// reportKecamatans are the regency's 12 kecamatan in Kemendagri's
	// order (dialog/flows/default/gazetteer.csv; a test checks they
	// agree), then the places no kecamatan has.
	reportKecamatans = []string{"borong", "lamba-leda-selatan", "lamba-leda", "sambi-rampas", "elar", "kota-komba",
		"rana-mese", "lamba-leda-timur", "elar-selatan", "kota-komba-utara", "lamba-leda-utara", "congkar",
		dialog.KecamatanOutside, "unknown"}
	// formerKecamatan are the slugs tickets stored before the kecamatan
	// were renamed (BPS 2021 names); they are counted under the new name.
	formerKecamatan = map[string]string{"poco-ranaka": "lamba-leda-selatan", "poco-ranaka-timur": "lamba-leda-timur"}
	reportAgeGroups = []string{"child", "adult", "unknown"}
	reportSexes     = []string{"female", "male", "unknown"}
	reportTopics    = []string{"slow", "attitude", "fee", "requirements", "other"}
)

// Unknown is the key a missing answer is counted under.
const Unknown = "unknown"

// MonthlyReport counts the tickets ts (those created in [from, to)) and
// measures them against the service standard with their events (by ticket
// code), as things stood at asOf: events after asOf are ignored, and a
// promise whose deadline had not passed at asOf is Open, not Missed.
//
// The first response is the first "accepted" event. A ticket is done at its
// first "closed" event or "status" event with Detail "done"; a ticket whose
// Status is done without such an event is taken as done at its UpdatedAt.
// Tickets outside [from, to) are left out. It is a pure function: the
// figures depend only on its arguments.
func MonthlyReport(ts []Ticket, events map[string][]Event, from, to, asOf time.Time) Report {
	r := Report{From: from, To: to, AsOf: asOf}
	var (
		kinds     = newTally(reportKinds)
		channels  = newTally(reportChannels)
		violence  = newTally(reportViolence)
		kecamatan = newTally(reportKecamatans)
		ages      = newTally(reportAgeGroups)
		sexes     = newTally(reportSexes)
		victims   = newTally(victimKeys())
		topics    = newTally(reportTopics)
	)
	groups := []*standardTally{{kind: ""}, {kind: KindCase}, {kind: KindComplaint}}
	for i := range ts {
		t := &ts[i]
		if t.CreatedAt.Before(from) || !t.CreatedAt.Before(to) {
			continue
		}
		r.Tickets++
		if t.Urgent {
			r.Urgent++
		}
		kinds.add(string(t.Kind))
		channels.add(string(t.Channel))
		switch t.Kind {
		case KindCase:
			r.Cases++
			types := splitList(t.Answers["violence"])
			if len(types) == 0 {
				violence.add(Unknown)
			}
			for _, v := range types {
				violence.add(v)
			}
			kec := t.Kecamatan
			if kec == "" {
				kec = t.Answers["kecamatan"]
			}
			if now, ok := formerKecamatan[kec]; ok {
				kec = now
			}
			kecamatan.add(orUnknown(kec))
			age, sex := orUnknown(t.Answers["age_group"]), orUnknown(t.Answers["sex"])
			ages.add(age)
			sexes.add(sex)
			victims.add(age + "-" + sex)
		case KindComplaint:
			r.Complaints++
			topics.add(orUnknown(t.Answers["topic"]))
		}
		if t.Answers["outcome"] == OutcomeWithdrawn {
			r.Withdrawn++
			continue
		}
		resp, done := milestones(t, events[t.Code], asOf)
		for _, g := range groups {
			if g.kind == "" || g.kind == t.Kind {
				g.tickets++
				g.response.add(t.CreatedAt, resp, ResponseTarget, asOf)
				g.done.add(t.CreatedAt, done, DoneTarget, asOf)
			}
		}
	}
	r.ByKind = kinds.counts()
	r.ByChannel = channels.counts()
	r.ByViolence = violence.counts()
	r.ByKecamatan = kecamatan.counts()
	r.ByAgeGroup = ages.counts()
	r.BySex = sexes.counts()
	r.ByVictim = victims.counts()
	r.ByTopic = topics.counts()
	for _, g := range groups {
		r.Standard = append(r.Standard, Standard{Kind: g.kind, Tickets: g.tickets,
			Response: g.response.result(ResponseTarget), Done: g.done.result(DoneTarget)})
	}
	return r
}

// milestones finds when a ticket was first responded to and when it was
// done, as known at asOf; zero times when not (yet).
func milestones(t *Ticket, evs []Event, asOf time.Time) (response, done time.Time) {
	for _, e := range evs {
		if e.At.After(asOf) {
			continue
		}
		switch {
		case e.Type == "accepted":
			if response.IsZero() || e.At.Before(response) {
				response = e.At
			}
		case e.Type == "closed", e.Type == "status" && strings.EqualFold(strings.TrimSpace(e.Detail), string(StatusDone)):
			if done.IsZero() || e.At.Before(done) {
				done = e.At
			}
		}
	}
	if done.IsZero() && t.Status == StatusDone && !t.UpdatedAt.After(asOf) {
		done = t.UpdatedAt
	}
	return response, done
}

type standardTally struct {
	kind           Kind
	tickets        int
	response, done timelinessTally
}

type timelinessTally struct {
	Timeliness
	took []time.Duration
}

// add counts one ticket created at created whose milestone happened at
// (zero: not yet).
func (t *timelinessTally) add(created, at time.Time, target time.Duration, asOf time.Time) {
	if at.IsZero() {
		if asOf.Sub(created) > target {
			t.Missed++
		} else {
			t.Open++
		}
		return
	}
	d := max(at.Sub(created), 0)
	if d <= target {
		t.Met++
	} else {
		t.Late++
	}
	t.took = append(t.took, d)
}

func (t *timelinessTally) result(target time.Duration) Timeliness {
	out := t.Timeliness
	out.Target = target
	out.Median = median(t.took)
	return out
}

// median returns the middle duration, or the mean of the two middle ones;
// 0 for none. It sorts ds.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	m := len(ds) / 2
	if len(ds)%2 == 1 {
		return ds[m]
	}
	return ds[m-1] + (ds[m]-ds[m-1])/2
}

// tally counts values: the known ones in their order, then the others
// sorted, with Unknown last.
type tally struct {
	known []string
	extra []string
	n     map[string]int
}

func newTally(known []string) *tally {
	t := &tally{known: known, n: make(map[string]int, len(known))}
	for _, k := range known {
		t.n[k] = 0
	}
	return t
}

func (t *tally) add(key string) {
	if _, ok := t.n[key]; !ok {
		t.extra = append(t.extra, key)
	}
	t.n[key]++
}

func (t *tally) counts() []Count {
	slices.Sort(t.extra)
	out := make([]Count, 0, len(t.known)+len(t.extra))
	for _, keys := range [][]string{t.known, t.extra} {
		for _, k := range keys {
			if k != Unknown {
				out = append(out, Count{Key: k, N: t.n[k]})
			}
		}
	}
	if n, ok := t.n[Unknown]; ok {
		out = append(out, Count{Key: Unknown, N: n})
	}
	return out
}

func victimKeys() []string {
	keys := make([]string, 0, len(reportAgeGroups)*len(reportSexes))
	for _, a := range reportAgeGroups {
		for _, s := range reportSexes {
			keys = append(keys, a+"-"+s)
		}
	}
	return keys
}

func orUnknown(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return Unknown
	}
	return v
}

// splitList splits a comma list of answers, dropping empty items and
// repeats.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// N returns the count for key in cs, 0 if it is not there.
func N(cs []Count, key string) int {
	for _, c := range cs {
		if c.Key == key {
			return c.N
		}
	}
	return 0
}

// monthsID are the months' names in Bahasa Indonesia.
var monthsID = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
	"September", "Oktober", "November", "Desember"}

// Summary is the report in a few lines of Bahasa Indonesia, short enough
// for two SMS: what the supervisors' REKAP BULAN command answers. It uses
// only GSM-7 characters.
func (r Report) Summary() string {
	var sb strings.Builder
	m := r.From
	fmt.Fprintf(&sb, "Rekap %s %d: %d tiket (%d kekerasan, %d pengaduan), %d darurat.",
		monthsID[m.Month()-1], m.Year(), r.Tickets, r.Cases, r.Complaints, r.Urgent)
	if r.Withdrawn > 0 {
		fmt.Fprintf(&sb, " %d ditutup pelapor (aman).", r.Withdrawn)
	}
	if len(r.Standard) == 0 || r.Tickets == 0 {
		return sb.String()
	}
	all := r.Standard[0]
	line := func(name string, t Timeliness) {
		fmt.Fprintf(&sb, "\n%s: %d/%d", name, t.Met, t.Settled())
		if p, ok := t.Percent(); ok {
			fmt.Fprintf(&sb, " (%.0f%%)", p)
		}
		if t.Met+t.Late > 0 {
			fmt.Fprintf(&sb, ", median %s", shortDuration(t.Median))
		}
		if t.Open > 0 {
			fmt.Fprintf(&sb, ", %d masih berjalan", t.Open)
		}
		sb.WriteByte('.')
	}
	line("Respons dlm 30 mnt", all.Response)
	line("Selesai dlm 7 hr", all.Done)
	return sb.String()
}

// shortDuration writes d in the largest whole unit that fits, in Bahasa
// Indonesia: "12 mnt", "5 jam", "3 hr".
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%d mnt", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d jam", int(d.Round(time.Hour)/time.Hour))
	}
	return fmt.Sprintf("%d hr", int(d.Round(24*time.Hour)/(24*time.Hour)))
}
