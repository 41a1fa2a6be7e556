package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/dialog/flows"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want bot.Command
		ok   bool
	}{
		{"TERIMA KS-7HQ4XM", bot.Command{Verb: "terima", Code: "KS-7HQ4XM"}, true},
		{"  terima   ks-7hq4xm ", bot.Command{Verb: "terima", Code: "KS-7HQ4XM"}, true},
		{"Terima ks7hq4xm", bot.Command{Verb: "terima", Code: "KS-7HQ4XM"}, true},
		{"terima KS 7HQ4XM", bot.Command{Verb: "terima", Code: "KS-7HQ4XM"}, true},
		{"CATAT KS-7HQ4XM sudah ditelepon, aman", bot.Command{Verb: "catat", Code: "KS-7HQ4XM", Arg: "sudah ditelepon, aman"}, true},
		{"balas ks-7hq4xm Ibu, kami datang besok jam 9.", bot.Command{Verb: "balas", Code: "KS-7HQ4XM", Arg: "Ibu, kami datang besok jam 9."}, true},
		{"STATUS KS-7HQ4XM didampingi", bot.Command{Verb: "status", Code: "KS-7HQ4XM", Arg: "didampingi"}, true},
		{"ALIHKAN KS-7HQ4XM tija", bot.Command{Verb: "alihkan", Code: "KS-7HQ4XM", Arg: "tija"}, true},
		{"rekap minggu", bot.Command{Verb: "rekap", Arg: "minggu"}, true},
		{"TIKET", bot.Command{Verb: "tiket"}, true},
		{"terima", bot.Command{Verb: "terima"}, true},
		{"terima bukan-kode", bot.Command{Verb: "terima", Arg: "bukan-kode"}, true},
		{"halo", bot.Command{}, false},
		{"", bot.Command{}, false},
		{"\u200bterima\u200b KS-7HQ4XM", bot.Command{Verb: "terima", Code: "KS-7HQ4XM"}, true},
	}
	for _, tt := range tests {
		got, ok := bot.ParseCommand(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"TERIMA KS-7HQ4XM", "balas ks 7hq4xm halo", "rekap bulan", "\x00\xff", "status"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, ok := bot.ParseCommand(s)
		if !ok {
			return
		}
		if c.Verb == "" {
			t.Fatalf("ParseCommand(%q): command without a verb", s)
		}
		if c.Code != "" && !bot.CodePattern.MatchString(c.Code) {
			t.Fatalf("ParseCommand(%q): code %q does not match the pattern", s, c.Code)
		}
		if strings.ContainsRune(c.Arg, 0) {
			t.Fatalf("ParseCommand(%q): argument keeps a NUL", s)
		}
	})
}

func TestParseHours(t *testing.T) {
	wita := func(day, hh, mm int) time.Time { return time.Date(2026, 11, day, hh, mm, 0, 0, bot.WITA) } // 23 Nov 2026 is a Monday
	tests := []struct {
		spec string
		at   time.Time
		on   bool
	}{
		{"", wita(29, 3, 0), true},
		{"08:00-16:00", wita(24, 8, 0), true},
		{"08:00-16:00", wita(24, 16, 0), false},
		{"08:00-16:00", wita(24, 7, 59), false},
		{"mon-fri 08:00-16:00", wita(28, 10, 0), false}, // Saturday
		{"sen-jum 08:00-16:00", wita(27, 10, 0), true},  // Friday
		{"22:00-06:00", wita(24, 23, 0), true},
		{"22:00-06:00", wita(25, 5, 0), true},
		{"fri-fri 22:00-06:00", wita(28, 5, 0), true}, // Saturday morning belongs to Friday night
		{"fri-fri 22:00-06:00", wita(27, 5, 0), false},
		{"08.00-16.00", wita(24, 15, 59), true}, // the Indonesian way of writing times
		{"08.00-16.00", wita(24, 16, 0), false},
		{"sen-jum 07.30-15.30", wita(27, 7, 30), true},
		{"sen-jum 07.30-15.30", wita(27, 7, 29), false},
	}
	for _, tt := range tests {
		h, err := bot.ParseHours(tt.spec)
		if err != nil {
			t.Fatalf("ParseHours(%q): %v", tt.spec, err)
		}
		if got := h.On(tt.at); got != tt.on {
			t.Errorf("%q at %s: on = %v, want %v", tt.spec, tt.at.Format("Mon 15:04"), got, tt.on)
		}
	}
	for _, bad := range []string{"8-16x", "25:00-26:00", "xyz 08:00-16:00", "08:00-08:00", "08:00", "08.60-16.00", "08..00-16.00"} {
		if _, err := bot.ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q): no error", bad)
		}
	}
}

func TestRoute(t *testing.T) {
	day, _ := bot.ParseHours("08:00-16:00")
	night, _ := bot.ParseHours("16:00-08:00")
	staff := bot.NewDirectory([]bot.Officer{
		{Name: "A", Phone: "+621", Role: bot.RoleOfficer, Duty: day, Areas: []string{"borong", "elar"}},
		{Name: "B", Phone: "+622", Role: bot.RoleOfficer, Duty: day},
		{Name: "C", Phone: "+623", Role: bot.RoleOfficer, Duty: night, Kinds: []bot.Kind{bot.KindCase}},
		{Name: "S", Phone: "+629", Role: bot.RoleSupervisor},
	})
	noon := time.Date(2026, 11, 24, 12, 0, 0, 0, bot.WITA)
	midnight := time.Date(2026, 11, 24, 23, 0, 0, 0, bot.WITA)
	names := func(os []bot.Officer) string {
		var n []string
		for _, o := range os {
			n = append(n, o.Name)
		}
		return strings.Join(n, ",")
	}
	tests := []struct {
		label             string
		t                 bot.Ticket
		at                time.Time
		last              string
		assignee, backups string
		others            string
	}{
		{"round robin start", bot.Ticket{Kind: bot.KindCase, Kecamatan: "borong"}, noon, "", "A", "B", ""},
		{"round robin next", bot.Ticket{Kind: bot.KindCase, Kecamatan: "borong"}, noon, "+621", "B", "A", ""},
		{"outside an area", bot.Ticket{Kind: bot.KindCase, Kecamatan: "lamba-leda"}, noon, "", "B", "", ""},
		{"unknown area", bot.Ticket{Kind: bot.KindCase, Kecamatan: "unknown"}, noon, "+621", "B", "A", ""},
		{"night case", bot.Ticket{Kind: bot.KindCase}, midnight, "", "C", "", ""},
		{"nobody on duty", bot.Ticket{Kind: bot.KindComplaint}, midnight, "", "", "", "A,B,C,S"},
		{"urgent", bot.Ticket{Kind: bot.KindCase, Kecamatan: "borong", Urgent: true}, noon, "", "A", "B", "C,S"},
	}
	for _, tt := range tests {
		r := staff.Route(&tt.t, tt.at, tt.last)
		if r.Assignee.Name != tt.assignee || names(r.Backups) != tt.backups || names(r.Others) != tt.others {
			t.Errorf("%s: assignee %q backups %q others %q; want %q %q %q", tt.label, r.Assignee.Name,
				names(r.Backups), names(r.Others), tt.assignee, tt.backups, tt.others)
		}
	}
}

func TestFind(t *testing.T) {
	staff := bot.NewDirectory([]bot.Officer{
		{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: bot.RoleOfficer},
		{Name: "Tija Ndaka", Phone: "+6281337973213", Role: bot.RoleOfficer},
	})
	for q, want := range map[string]string{"tija": "Tija Ndaka", "GENOVEVA": "Genoveva Lindung",
		"081337973213": "Tija Ndaka", "a": "", "nobody": ""} {
		o, _ := staff.Find(q)
		if o.Name != want {
			t.Errorf("Find(%q) = %q, want %q", q, o.Name, want)
		}
	}
}

func TestSupervisorPIN(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, func(c *bot.Config) { c.SupervisorPIN = "2468" })
	for _, tt := range []struct{ text, want string }{
		{"REKAP", "perlu PIN"},
		{"REKAP 1111", "perlu PIN"},
		{"REKAP 2468", "REKAP hari ini"},
		{"rekap minggu 2468", "REKAP 7 hari"},
		{"TERLAMBAT 2468", "Tidak ada tiket terlambat"},
		{"PETUGAS", "perlu PIN"},
	} {
		got, err := say(t, e, svc, out, kepala, tt.text)
		if err != nil || len(got) != 1 || !strings.Contains(got[0], tt.want) {
			t.Errorf("%q: %q, %v; want %q", tt.text, got, err, tt.want)
		}
	}
}

// A ticket stored under a former kecamatan name routes to the officer of
// the new one.
func TestRouteFormerKecamatan(t *testing.T) {
	staff := bot.NewDirectory([]bot.Officer{
		{Name: "A", Phone: "+621", Role: bot.RoleOfficer, Areas: []string{"borong"}},
		{Name: "L", Phone: "+622", Role: bot.RoleOfficer, Areas: []string{"lamba-leda-selatan"}},
	})
	staff.Canonical = func(s string) string { c, _ := flows.Places().Canonical(s); return c }
	old := bot.Ticket{Kind: bot.KindCase, Kecamatan: "poco-ranaka"}
	if r := staff.Route(&old, time.Now(), ""); r.Assignee.Name != "L" || old.Kecamatan != "poco-ranaka" {
		t.Errorf("poco-ranaka: assignee %q, ticket kecamatan %q; want L, the ticket unchanged", r.Assignee.Name, old.Kecamatan)
	}
}

// Routing by area uses the kecamatan read from the village the citizen
// typed, and the officer is told its current name.
func TestRouteByInferredKecamatan(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	svc, out := e.start(t, func(c *bot.Config) {
		c.Officers = []bot.Officer{
			{Name: "Borong", Phone: "+6281337785111", Role: bot.RoleOfficer, Areas: []string{"borong"}},
			{Name: "Mandosawu", Phone: "+6281337973213", Role: bot.RoleOfficer, Areas: []string{"lamba-leda-selatan"}},
		}
	})
	var last []string
	for _, text := range []string{"halo", "1", "2", "2", "1", "3", "desa mandosawu", "ya", "kmrn", "Kakak dipukul.", "1", "3", "1"} {
		var err error
		if last, err = say(t, e, svc, out, transcriptCitizen, text); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
	}
	if len(last) == 0 || !strings.Contains(last[0], "kode KS-") {
		t.Fatalf("last replies %q, want the ticket code", last)
	}
	tickets, err := e.pg.Tickets(context.Background(), bot.TicketFilter{})
	if err != nil || len(tickets) != 1 {
		t.Fatalf("tickets: %v, %v", tickets, err)
	}
	tk := tickets[0]
	if tk.Kecamatan != "lamba-leda-selatan" || tk.Assignee != "+6281337973213" || tk.Answers["place"] != "Mandosawu" {
		t.Errorf("ticket kecamatan %q assignee %q place %q; want lamba-leda-selatan, the Mandosawu officer, Mandosawu",
			tk.Kecamatan, tk.Assignee, tk.Answers["place"])
	}
}

// The notification names the kecamatan by its current name (also for a
// ticket stored under a former one), says when the place is outside the
// regency, and never says both DARURAT and "korban aman".
func TestNotificationPlaceAndSafety(t *testing.T) {
	book, err := flows.Load("")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		t         bot.Ticket
		want, not string
	}{
		{bot.Ticket{Code: "KS-AAAAAA", Kind: bot.KindCase, Kecamatan: "poco-ranaka", Answers: map[string]string{"safe": "yes"}},
			"Tiket baru KS-AAAAAA: laporan kekerasan, Kec. Lamba Leda Selatan, korban aman.", ""},
		{bot.Ticket{Code: "KS-AAAAAA", Kind: bot.KindCase, Kecamatan: "luar", Answers: map[string]string{}},
			"Tiket baru KS-AAAAAA: laporan kekerasan, di luar Matim.", ""},
		{bot.Ticket{Code: "KS-AAAAAA", Kind: bot.KindCase, Urgent: true, Kecamatan: "unknown", Answers: map[string]string{"safe": "yes"}},
			"DARURAT! Tiket baru KS-AAAAAA: laporan kekerasan.", "aman"},
	} {
		got := bot.Notification(tt.t, book)
		if got != tt.want || tt.not != "" && strings.Contains(got, tt.not) {
			t.Errorf("notification = %q, want %q", got, tt.want)
		}
	}
}
