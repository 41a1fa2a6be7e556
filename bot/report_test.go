package bot_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/dialog/flows"
)

var (
	nov  = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec  = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	asOf = time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
)

func caseTicket(code string, created time.Time, answers map[string]string) bot.Ticket {
	return bot.Ticket{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived, Channel: bot.SMS,
		Kecamatan: answers["kecamatan"], Answers: answers, CreatedAt: created, UpdatedAt: created}
}

func TestMonthlyReportBreakdowns(t *testing.T) {
	ts := []bot.Ticket{
		caseTicket("KS-AAAAA", nov.Add(time.Hour), map[string]string{"violence": "physical,sexual",
			"kecamatan": "borong", "age_group": "child", "sex": "female"}),
		caseTicket("KS-BBBBB", nov.Add(48*time.Hour), map[string]string{"violence": "physical",
			"kecamatan": "elar", "age_group": "adult", "sex": "female"}),
		caseTicket("KS-CCCCC", nov.Add(72*time.Hour), map[string]string{}),
		{Code: "PL-DDDDD", Kind: bot.KindComplaint, Channel: bot.WhatsApp, CreatedAt: nov.Add(time.Minute),
			Answers: map[string]string{"topic": "fee"}},
		{Code: "PL-EEEEE", Kind: bot.KindComplaint, Channel: bot.SMS, CreatedAt: dec.Add(-time.Nanosecond),
			Urgent: true, Answers: map[string]string{"topic": "bribes"}},
		// Outside November: not counted.
		caseTicket("KS-FFFFF", nov.Add(-time.Nanosecond), map[string]string{"kecamatan": "borong"}),
		caseTicket("KS-GGGGG", dec, map[string]string{"kecamatan": "borong"}),
	}
	r := bot.MonthlyReport(ts, nil, nov, dec, asOf)
	if r.Tickets != 5 || r.Cases != 3 || r.Complaints != 2 || r.Urgent != 1 {
		t.Fatalf("tickets, cases, complaints, urgent = %d, %d, %d, %d, want 5, 3, 2, 1",
			r.Tickets, r.Cases, r.Complaints, r.Urgent)
	}
	tests := []struct {
		label string
		got   []bot.Count
		want  string
	}{
		{"kind", r.ByKind, "case=3 complaint=2"},
		{"channel", r.ByChannel, "sms=4 whatsapp=1"},
		{"violence", r.ByViolence, "physical=2 psychological=0 sexual=1 neglect=0 exploitation=0 domestic=0 other=0 unknown=1"},
		{"kecamatan", r.ByKecamatan, "borong=1 lamba-leda-selatan=0 lamba-leda=0 sambi-rampas=0 elar=1 kota-komba=0 " +
			"rana-mese=0 lamba-leda-timur=0 elar-selatan=0 kota-komba-utara=0 lamba-leda-utara=0 congkar=0 luar=0 unknown=1"},
		{"age group", r.ByAgeGroup, "child=1 adult=1 unknown=1"},
		{"sex", r.BySex, "female=2 male=0 unknown=1"},
		{"victim", r.ByVictim, "child-female=1 child-male=0 child-unknown=0 adult-female=1 adult-male=0 " +
			"adult-unknown=0 unknown-female=0 unknown-male=0 unknown-unknown=1"},
		{"topic", r.ByTopic, "slow=0 attitude=0 fee=1 requirements=0 other=0 bribes=1"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			if got := counts(tt.got); got != tt.want {
				t.Errorf("got = %s, want %s", got, tt.want)
			}
		})
	}
}

func counts(cs []bot.Count) string {
	var parts []string
	for _, c := range cs {
		parts = append(parts, c.Key+"="+strconv.Itoa(c.N))
	}
	return strings.Join(parts, " ")
}

func TestMonthlyReportStandard(t *testing.T) {
	at := func(d time.Duration) time.Time { return nov.Add(d) }
	ev := func(code string, d time.Duration, typ, detail string) bot.Event {
		return bot.Event{TicketCode: code, At: at(d), Type: typ, Detail: detail}
	}
	late := asOf.Sub(nov) - 3*24*time.Hour // created 3 days before asOf: done not yet due
	ts := []bot.Ticket{
		caseTicket("KS-A2222", at(0), nil),              // accepted in 10m, closed in 2d
		caseTicket("KS-B2222", at(time.Hour), nil),      // accepted in 30m exactly, status done in 8d
		caseTicket("KS-C2222", at(2*time.Hour), nil),    // accepted in 2h, never done: missed
		caseTicket("KS-D2222", at(late), nil),           // nothing yet: response missed, done open
		caseTicket("KS-E2222", at(3*time.Hour), nil),    // accepted after asOf: missed
		caseTicket("KS-F2222", at(4*time.Hour), nil),    // status done without event: UpdatedAt
		caseTicket("KS-G2222", at(late+time.Hour), nil), // accepted in 1m, done open
	}
	ts[5].Status, ts[5].UpdatedAt = bot.StatusDone, at(4*time.Hour+24*time.Hour)
	events := map[string][]bot.Event{
		"KS-A2222": {ev("KS-A2222", 0, "created", ""), ev("KS-A2222", 10*time.Minute, "accepted", ""),
			ev("KS-A2222", 20*time.Minute, "accepted", ""), ev("KS-A2222", 48*time.Hour, "closed", "")},
		"KS-B2222": {ev("KS-B2222", time.Hour+30*time.Minute, "accepted", ""),
			ev("KS-B2222", time.Hour+2*24*time.Hour, "status", "accompanied"),
			ev("KS-B2222", time.Hour+8*24*time.Hour, "status", "done")},
		"KS-C2222": {ev("KS-C2222", 4*time.Hour, "accepted", "")},
		"KS-E2222": {{TicketCode: "KS-E2222", At: asOf.Add(time.Minute), Type: "accepted"}},
		"KS-G2222": {ev("KS-G2222", late+time.Hour+time.Minute, "accepted", "")},
	}
	r := bot.MonthlyReport(ts, events, nov, dec, asOf)
	all := r.Standard[0]
	if all.Kind != "" || all.Tickets != 7 {
		t.Fatalf("all: kind %q, tickets %d, want \"\", 7", all.Kind, all.Tickets)
	}
	tests := []struct {
		label string
		got   bot.Timeliness
		want  bot.Timeliness
	}{
		// Responses: A 10m, B 30m, C 2h, G 1m; D, E and F missed.
		{"response", all.Response, bot.Timeliness{Target: bot.ResponseTarget, Met: 3, Late: 1, Missed: 3,
			Median: (10*time.Minute + 30*time.Minute) / 2}},
		// Done: A 2d, B 8d (late), F 1d; C, E missed; D, G open.
		{"done", all.Done, bot.Timeliness{Target: bot.DoneTarget, Met: 2, Late: 1, Missed: 2, Open: 2,
			Median: 48 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got = %+v, want %+v", tt.got, tt.want)
			}
		})
	}
	if p, ok := all.Response.Percent(); !ok || int(p) != 42 {
		t.Errorf("response percent = %v, %v, want 42.8, true", p, ok)
	}
	if r.Standard[1].Kind != bot.KindCase || r.Standard[1].Tickets != 7 || r.Standard[2].Tickets != 0 {
		t.Errorf("by kind = %+v", r.Standard[1:])
	}
	if _, ok := r.Standard[2].Response.Percent(); ok {
		t.Errorf("no complaints, yet a response percent")
	}

	// Ten minutes after a ticket came in, neither promise is due yet.
	early := bot.MonthlyReport(ts[:1], nil, nov, dec, nov.Add(10*time.Minute)).Standard[0]
	if early.Response.Open != 1 || early.Done.Open != 1 || early.Response.Settled() != 0 {
		t.Errorf("ten minutes in: response %+v, done %+v, want both open", early.Response, early.Done)
	}
}

func TestReportSummary(t *testing.T) {
	ts := []bot.Ticket{
		caseTicket("KS-A3333", nov, nil),
		{Code: "PL-B3333", Kind: bot.KindComplaint, CreatedAt: nov.Add(time.Hour), Urgent: true},
	}
	events := map[string][]bot.Event{
		"KS-A3333": {{At: nov.Add(12 * time.Minute), Type: "accepted"}, {At: nov.Add(30 * time.Hour), Type: "closed"}},
	}
	got := bot.MonthlyReport(ts, events, nov, dec, nov.Add(72*time.Hour)).Summary()
	want := "Rekap November 2026: 2 tiket (1 kekerasan, 1 pengaduan), 1 darurat.\n" +
		"Respons dlm 30 mnt: 1/2 (50%), median 12 mnt.\n" +
		"Selesai dlm 7 hr: 1/1 (100%), median 30 jam, 1 masih berjalan."
	if got != want {
		t.Errorf("summary =\n%s\nwant\n%s", got, want)
	}
	if len(got) > 306 {
		t.Errorf("summary is %d characters, want two SMS at most", len(got))
	}
}

func TestMonthOf(t *testing.T) {
	wita := time.FixedZone("WITA", 8*3600)
	tests := []struct {
		at       time.Time
		from, to time.Time
	}{
		{time.Date(2026, 11, 30, 23, 59, 0, 0, wita), time.Date(2026, 11, 1, 0, 0, 0, 0, wita), time.Date(2026, 12, 1, 0, 0, 0, 0, wita)},
		{time.Date(2026, 12, 1, 0, 0, 0, 0, wita), time.Date(2026, 12, 1, 0, 0, 0, 0, wita), time.Date(2027, 1, 1, 0, 0, 0, 0, wita)},
		{time.Date(2028, 2, 29, 12, 0, 0, 0, time.UTC), time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 3, 1, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		from, to := bot.MonthOf(tt.at)
		if !from.Equal(tt.from) || !to.Equal(tt.to) || from.Location() != tt.at.Location() {
			t.Errorf("MonthOf(%v) = %v, %v, want %v, %v", tt.at, from, to, tt.from, tt.to)
		}
	}
}

// The report's kecamatan are the gazetteer's, and a ticket stored under a
// former name is counted under the new one.
func TestReportKecamatanFollowTheGazetteer(t *testing.T) {
	g := flows.Places()
	var ts []bot.Ticket
	for i, former := range []string{"poco-ranaka", "poco-ranaka-timur"} {
		ts = append(ts, caseTicket(fmt.Sprintf("KS-OLD%02d", i), nov.Add(time.Hour), map[string]string{"kecamatan": former}))
	}
	r := bot.MonthlyReport(ts, nil, nov, dec, asOf)
	var want []string
	for _, a := range g.Areas() {
		n := "0"
		if c, _ := g.Canonical("poco-ranaka"); c == a.Slug {
			n = "1"
		}
		if c, _ := g.Canonical("poco-ranaka-timur"); c == a.Slug {
			n = "1"
		}
		want = append(want, a.Slug+"="+n)
	}
	want = append(want, "luar=0", "unknown=0")
	if got := counts(r.ByKecamatan); got != strings.Join(want, " ") {
		t.Errorf("kecamatan = %s\nwant       %s", got, strings.Join(want, " "))
	}
}
