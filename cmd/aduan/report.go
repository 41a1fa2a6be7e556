package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the office's time zone, even on a system without tzdata
	"unicode/utf8"

	"github.com/spf13/cobra"

	"aduan/bot"
	"aduan/dialog"
	"aduan/dialog/flows"
	"aduan/internal/config"
)

// DefaultReportZone is Manggarai Timur's time zone (WITA): months begin
// and end at its midnight.
const DefaultReportZone = "Asia/Makassar"

// reportOptions are the flags of `aduan report`.
type reportOptions struct {
	path, month, format, lang, zone, asOf, csvSep string
}

func reportCommand(e env) *cobra.Command {
	var o reportOptions
	c := &cobra.Command{
		Use:   "report [flags]",
		Short: "the monthly report: tickets by kind, place and victim, and the service standard",
		Long: "The monthly report for the Head of the Dinas: the tickets created in the month by kind,\n" +
			"channel, type of violence, kecamatan and victim, complaints by topic, and the service\n" +
			"standard's two promises. It needs only the database (ADUAN_POSTGRES_URL and the keys).",
		Example: "  aduan-env report --config /etc/aduan/aduan.yaml --month 2026-11 --format html > 2026-11.html\n" +
			"  aduan report --month 2026-11 --format csv > 2026-11.csv",
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return report(c.Context(), e, o)
		},
	}
	configFlag(c, &o.path)
	f := c.Flags()
	f.StringVar(&o.month, "month", "", "the month to report, such as 2026-11; default: last month")
	f.StringVar(&o.format, "format", "text", "text, csv or html (one page with charts, to print or send)")
	f.StringVar(&o.lang, "lang", "id", "language of the report: id (Bahasa Indonesia) or en")
	f.StringVar(&o.zone, "tz", DefaultReportZone, "time zone in which months begin and end")
	f.StringVar(&o.asOf, "as-of", "", "count what had happened by the end of this day (YYYY-MM-DD), to reproduce an earlier report; default: now")
	f.StringVar(&o.csvSep, "csv-sep", ";", `CSV field separator: ";" (with a BOM and decimal commas) opens in columns in Excel set to Indonesian; "," for programs`)
	return c
}

func report(ctx context.Context, e env, o reportOptions) error {
	format, lang, zone, asOf, month := &o.format, &o.lang, &o.zone, &o.asOf, &o.month
	switch *format {
	case "text", "csv", "html":
	default:
		return usagef("report: --format %q is not text, csv or html", *format)
	}
	if *lang != "id" && *lang != "en" {
		return usagef("report: --lang %q is not id or en", *lang)
	}
	if o.csvSep != ";" && o.csvSep != "," && o.csvSep != "\t" && o.csvSep != "tab" {
		return usagef("report: --csv-sep %q is not \";\", \",\" or tab", o.csvSep)
	}
	loc, err := time.LoadLocation(*zone)
	if err != nil {
		return usagef("report: --tz %q is not a time zone (such as Asia/Makassar)", *zone)
	}
	now := time.Now().In(loc)
	if *asOf != "" {
		day, err := time.ParseInLocation("2006-01-02", *asOf, loc)
		if err != nil {
			return usagef("report: --as-of %q is not a day such as 2026-12-05", *asOf)
		}
		now = day.AddDate(0, 0, 1).Add(-time.Nanosecond)
	}
	from, err := reportMonth(*month, now)
	if err != nil {
		return err
	}
	to := from.AddDate(0, 1, 0)
	cfg, err := loadStoreConfig(o.path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "report")
	if err != nil {
		return err
	}
	defer pg.Close()
	ts, events, err := pg.TicketsCreated(ctx, from, to)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	prevFrom := from.AddDate(0, -1, 0)
	pts, pevents, err := pg.TicketsCreated(ctx, prevFrom, from)
	if err != nil {
		return fmt.Errorf("report: the month before: %w", err)
	}
	book, err := flows.Load("")
	if err != nil {
		return err
	}
	r := bot.MonthlyReport(ts, events, from, to, now)
	prev := bot.MonthlyReport(pts, pevents, prevFrom, from, now)
	v := newReportView(r, prev, book, dialog.Lang(*lang), loc)
	v.office(cfg.Office, now)
	switch *format {
	case "csv":
		return v.writeCSV(e.stdout, o.csvSep)
	case "html":
		return v.writeHTML(e.stdout)
	}
	return v.writeText(e.stdout)
}

// reportMonth reads --month in loc; an empty one means the month before
// now's.
func reportMonth(s string, now time.Time) (time.Time, error) {
	if s == "" {
		this, _ := bot.MonthOf(now)
		return this.AddDate(0, -1, 0), nil
	}
	t, err := time.ParseInLocation("2006-01", s, now.Location())
	if err != nil {
		return time.Time{}, usagef("report: --month %q is not a month such as 2026-11", s)
	}
	return t, nil
}

// reportView is the report with every label in one language, ready for
// each format.
type reportView struct {
	Lang     dialog.Lang
	Office   string // the office's name
	Address  string
	Title    string
	Period   string // "1 November 2026 – 30 November 2026 (WITA)"
	AsOf     string
	Month    string // "2026-11"
	Summary  []viewRow
	Sections []viewSection
	StdHeads []string // "All tickets", "Cases", "Complaints"
	Standard []viewStandard
	Notes    []string
	T        map[string]string // fixed texts
	PrevName string            // "Oktober 2026": the month before's column
	Sign     viewSignature
}

// viewSignature is the block the head of the office signs.
type viewSignature struct {
	PlaceDate string // "Borong, 5 Desember 2026"
	Title     string
	Name      string // "" leaves a line to write it
	NIP       string
}

type viewRow struct {
	Key   string
	Label string
	N     int
	Prev  int // the month before
	Width int // bar length, 0 to barWidth
}

type viewSection struct {
	Key   string
	Title string
	Note  string
	Rows  []viewRow
}

// viewStandard is one promise for each group of tickets.
type viewStandard struct {
	Key    string // "response", "done"
	Title  string
	Groups []viewTimeliness
}

type viewTimeliness struct {
	bot.Timeliness
	Tickets  int
	Percent  string // "75%", or "–" when nothing is settled
	PrevPct  string // the same, the month before
	prevPct  float64
	prevOK   bool // the month before had tickets due
	Median   string
	Bars     [4]int // widths of met, late, missed, open, out of barWidth
	BarStart [4]int
}

const barWidth = 240

var reportTexts = map[dialog.Lang]map[string]string{
	dialog.Indonesian: {
		"title":      "Laporan bulanan layanan pengaduan",
		"period":     "Tiket yang masuk",
		"asof":       "Data per",
		"summary":    "Ringkasan",
		"tickets":    "Tiket",
		"cases":      "Laporan kekerasan",
		"complaints": "Pengaduan layanan",
		"urgent":     "Darurat (korban dalam bahaya)",
		"withdrawn":  "Darurat yang ditutup pelapor (aman, tidak ditangani)",
		"kind":       "Menurut jenis tiket",
		"channel":    "Menurut kanal",
		"violence":   "Laporan kekerasan menurut jenis kekerasan",
		"violence_n": "Satu laporan dapat menyebut beberapa jenis.",
		"kecamatan":  "Laporan kekerasan menurut kecamatan",
		"victim":     "Korban menurut kelompok umur dan jenis kelamin",
		"age_group":  "Korban menurut kelompok umur",
		"sex":        "Korban menurut jenis kelamin",
		"topic":      "Pengaduan layanan menurut soal",
		"standard":   "Standar pelayanan",
		"response":   "Respons pertama dalam 30 menit",
		"done":       "Selesai dalam 7 hari",
		"all":        "Semua tiket",
		"met":        "Tepat waktu",
		"late":       "Terlambat",
		"missed":     "Belum, lewat batas",
		"open":       "Belum, masih dalam batas",
		"percent":    "Tepat waktu (dari yang sudah jatuh tempo)",
		"median":     "Median waktu",
		"unknown":    "Tidak diketahui",
		"none":       "–",
		"std_note":   "Respons pertama: petugas menerima tiket. Selesai: tiket ditutup. Persentase dihitung dari tiket yang sudah ditangani atau sudah lewat batas waktunya.",
		"this":       "Bulan ini",
		"prev":       "Bulan lalu",
		"prev_pct":   "Tepat waktu bulan lalu",
		"nip":        "NIP.",
	},
	dialog.English: {
		"title":      "Monthly report of the complaints service",
		"period":     "Tickets received",
		"asof":       "Data as of",
		"summary":    "Summary",
		"tickets":    "Tickets",
		"cases":      "Violence reports",
		"complaints": "Service complaints",
		"urgent":     "Urgent (victim in danger)",
		"withdrawn":  "Urgent, closed by the reporter (safe, not handled)",
		"kind":       "By kind of ticket",
		"channel":    "By channel",
		"violence":   "Violence reports by type of violence",
		"violence_n": "One report may name several types.",
		"kecamatan":  "Violence reports by kecamatan",
		"victim":     "Victims by age group and sex",
		"age_group":  "Victims by age group",
		"sex":        "Victims by sex",
		"topic":      "Service complaints by topic",
		"standard":   "Service standard",
		"response":   "First response within 30 minutes",
		"done":       "Done within 7 days",
		"all":        "All tickets",
		"met":        "On time",
		"late":       "Late",
		"missed":     "Not yet, past the deadline",
		"open":       "Not yet, within the deadline",
		"percent":    "On time (of those due)",
		"median":     "Median time",
		"unknown":    "Unknown",
		"none":       "–",
		"std_note":   "First response: an officer takes the ticket. Done: the ticket is closed. Percentages count the tickets handled or past their deadline.",
		"this":       "This month",
		"prev":       "Month before",
		"prev_pct":   "On time, month before",
		"nip":        "NIP",
	},
}

// reportLabels are the labels of values no flow step names.
var reportLabels = map[dialog.Lang]map[string]string{
	dialog.Indonesian: {
		"kind:case":              "Laporan kekerasan",
		"kind:complaint":         "Pengaduan layanan",
		"channel:sms":            "SMS",
		"channel:whatsapp":       "WhatsApp",
		"channel:console":        "Konsol (uji coba)",
		"age_group:child":        "Anak (di bawah 18 th)",
		"age_group:adult":        "Dewasa",
		"sex:female":             "Perempuan",
		"sex:male":               "Laki-laki",
		"violence:physical":      "Fisik",
		"violence:psychological": "Psikis",
		"violence:sexual":        "Seksual",
		"violence:neglect":       "Penelantaran",
		"violence:exploitation":  "Eksploitasi",
		"violence:domestic":      "KDRT",
		"violence:other":         "Lainnya",
		"topic:slow":             "Layanan lambat",
		"topic:attitude":         "Sikap petugas",
		"topic:fee":              "Diminta bayar",
		"topic:requirements":     "Syarat/dokumen",
		"topic:other":            "Lainnya",
	},
	dialog.English: {
		"kind:case":              "Violence report",
		"kind:complaint":         "Service complaint",
		"channel:sms":            "SMS",
		"channel:whatsapp":       "WhatsApp",
		"channel:console":        "Console (trial)",
		"age_group:child":        "Child (under 18)",
		"age_group:adult":        "Adult",
		"sex:female":             "Female",
		"sex:male":               "Male",
		"violence:physical":      "Physical",
		"violence:psychological": "Psychological",
		"violence:sexual":        "Sexual",
		"violence:neglect":       "Neglect",
		"violence:exploitation":  "Exploitation",
		"violence:domestic":      "Domestic violence",
		"violence:other":         "Other",
		"topic:slow":             "Slow service",
		"topic:attitude":         "Staff attitude",
		"topic:fee":              "Asked to pay",
		"topic:requirements":     "Requirements",
		"topic:other":            "Other",
	},
}

var monthNamesID = [...]string{"Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
	"September", "Oktober", "November", "Desember"}

// newReportView is r in lang, with the figures of prev, the month before,
// beside its own.
func newReportView(r, prev bot.Report, book *dialog.Book, lang dialog.Lang, loc *time.Location) *reportView {
	t := reportTexts[lang]
	v := &reportView{Lang: lang, T: t, Month: r.From.Format("2006-01"),
		PrevName: monthName(prev.From, lang) + " " + strconv.Itoa(prev.From.Year())}
	v.Title = t["title"] + ": " + monthName(r.From, lang) + " " + strconv.Itoa(r.From.Year())
	zone, _ := r.From.Zone()
	v.Period = fmt.Sprintf("%s %s – %s (%s)", t["period"], longDate(r.From, lang), longDate(r.To.AddDate(0, 0, -1), lang), zone)
	v.AsOf = t["asof"] + " " + longDate(r.AsOf.In(loc), lang) + " " + r.AsOf.In(loc).Format("15:04")
	v.Summary = []viewRow{
		{Key: "tickets", Label: t["tickets"], N: r.Tickets, Prev: prev.Tickets},
		{Key: "cases", Label: t["cases"], N: r.Cases, Prev: prev.Cases},
		{Key: "complaints", Label: t["complaints"], N: r.Complaints, Prev: prev.Complaints},
		{Key: "urgent", Label: t["urgent"], N: r.Urgent, Prev: prev.Urgent},
	}
	if r.Withdrawn > 0 || prev.Withdrawn > 0 {
		v.Summary = append(v.Summary, viewRow{Key: "withdrawn", Label: t["withdrawn"], N: r.Withdrawn, Prev: prev.Withdrawn})
	}
	label := func(field, key string) string {
		if key == bot.Unknown {
			return t["unknown"]
		}
		if s := book.Field(field); s != nil && len(s.Choices) > 0 {
			for _, c := range s.Choices {
				if c.Value == key {
					return c.Label.In(lang)
				}
			}
		}
		if l, ok := reportLabels[lang][field+":"+key]; ok {
			return l
		}
		if field == "victim" { // "child-female": age group and sex
			if age, sex, ok := strings.Cut(key, "-"); ok {
				return label2(t, lang, "age_group", age) + ", " + label2(t, lang, "sex", sex)
			}
		}
		return key
	}
	section := func(key, field string, cs, before []bot.Count) viewSection {
		s := viewSection{Key: key, Title: t[key]}
		prevN := make(map[string]int, len(before))
		for _, c := range before {
			prevN[c.Key] = c.N
		}
		// A value counted only the month before still has its line.
		for _, c := range before {
			if !slices.ContainsFunc(cs, func(x bot.Count) bool { return x.Key == c.Key }) {
				cs = append(cs, bot.Count{Key: c.Key})
			}
		}
		top := 0
		for _, c := range cs {
			top = max(top, c.N)
		}
		for _, c := range cs {
			w := 0
			if top > 0 {
				w = c.N * barWidth / top
			}
			s.Rows = append(s.Rows, viewRow{Key: c.Key, Label: label(field, c.Key), N: c.N, Prev: prevN[c.Key], Width: w})
		}
		return s
	}
	v.Sections = []viewSection{
		section("kind", "kind", r.ByKind, prev.ByKind),
		section("channel", "channel", r.ByChannel, prev.ByChannel),
		section("violence", "violence", r.ByViolence, prev.ByViolence),
		section("kecamatan", "kecamatan", r.ByKecamatan, prev.ByKecamatan),
		section("victim", "victim", r.ByVictim, prev.ByVictim),
		section("age_group", "age_group", r.ByAgeGroup, prev.ByAgeGroup),
		section("sex", "sex", r.BySex, prev.BySex),
		section("topic", "topic", r.ByTopic, prev.ByTopic),
	}
	v.Sections[2].Note = t["violence_n"]
	v.StdHeads = []string{t["all"], t["cases"], t["complaints"]}
	for _, p := range []string{"response", "done"} {
		vs := viewStandard{Key: p, Title: t[p]}
		for i, g := range r.Standard {
			tl := g.Response
			if p == "done" {
				tl = g.Done
			}
			vt := viewTimeliness{Timeliness: tl, Tickets: g.Tickets, Percent: t["none"], PrevPct: t["none"], Median: t["none"]}
			if pct, ok := tl.Percent(); ok {
				vt.Percent = strconv.FormatFloat(pct, 'f', 0, 64) + "%"
			}
			if i < len(prev.Standard) {
				ptl := prev.Standard[i].Response
				if p == "done" {
					ptl = prev.Standard[i].Done
				}
				if pct, ok := ptl.Percent(); ok {
					vt.PrevPct = strconv.FormatFloat(pct, 'f', 0, 64) + "%"
					vt.prevPct, vt.prevOK = pct, true
				}
			}
			if tl.Met+tl.Late > 0 {
				vt.Median = humanDuration(tl.Median, lang)
			}
			if g.Tickets > 0 {
				start := 0
				for i, n := range []int{tl.Met, tl.Late, tl.Missed, tl.Open} {
					vt.BarStart[i] = start
					vt.Bars[i] = n * barWidth / g.Tickets
					start += vt.Bars[i]
				}
			}
			vs.Groups = append(vs.Groups, vt)
		}
		v.Standard = append(v.Standard, vs)
	}
	return v
}

// office puts the office's name and address at the top of the report and
// its head's signature block, dated signed, at the bottom.
func (v *reportView) office(o config.Office, signed time.Time) {
	v.Office, v.Address = o.Name, o.Address
	v.Sign = viewSignature{PlaceDate: o.Place + ", " + longDate(signed, v.Lang), Title: o.HeadTitle,
		Name: o.HeadName, NIP: o.HeadNIP}
	if v.Sign.Title == "" {
		v.Sign.Title = o.Name
	}
}

func label2(t map[string]string, lang dialog.Lang, field, key string) string {
	if key == bot.Unknown {
		return t["unknown"]
	}
	if l, ok := reportLabels[lang][field+":"+key]; ok {
		return l
	}
	return key
}

func monthName(t time.Time, lang dialog.Lang) string {
	if lang == dialog.Indonesian {
		return monthNamesID[t.Month()-1]
	}
	return t.Month().String()
}

func longDate(t time.Time, lang dialog.Lang) string {
	return strconv.Itoa(t.Day()) + " " + monthName(t, lang) + " " + strconv.Itoa(t.Year())
}

// humanDuration writes d to the minute, in at most two units: "12 mnt",
// "5 jam 20 mnt", "3 hari 4 jam".
func humanDuration(d time.Duration, lang dialog.Lang) string {
	units := [3]string{"hari", "jam", "mnt"}
	if lang == dialog.English {
		units = [3]string{"d", "h", "min"}
	}
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%d %s %d %s", days, units[0], hours, units[1])
	case days > 0:
		return fmt.Sprintf("%d %s", days, units[0])
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%d %s %d %s", hours, units[1], mins, units[2])
	case hours > 0:
		return fmt.Sprintf("%d %s", hours, units[1])
	}
	return fmt.Sprintf("%d %s", mins, units[2])
}

func (v *reportView) writeText(w io.Writer) error {
	ew := &errWriter{w: w}
	ew.printf("%s\n%s\n\n%s\n%s\n%s\n", v.Office, v.Address, v.Title, v.Period, v.AsOf)
	head := func(title string) {
		ew.printf("\n%-44s %12s %12s\n", title, v.T["prev"], v.T["this"])
	}
	head(v.T["summary"])
	for _, r := range v.Summary {
		ew.printf("  %-42s %12d %12d\n", r.Label, r.Prev, r.N)
	}
	ew.printf("\n%s\n", v.T["standard"])
	col := 0
	for _, h := range v.StdHeads {
		col = max(col, utf8.RuneCountInString(h))
	}
	ew.printf("  %-42s", "")
	for _, h := range v.StdHeads {
		ew.printf("  %*s", col, h)
	}
	ew.printf("\n")
	for _, s := range v.Standard {
		ew.printf("  %s\n", s.Title)
		row := func(label string, f func(viewTimeliness) string) {
			ew.printf("    %-40s", label)
			for _, g := range s.Groups {
				ew.printf("  %*s", col, f(g))
			}
			ew.printf("\n")
		}
		row(v.T["met"], func(g viewTimeliness) string { return strconv.Itoa(g.Met) })
		row(v.T["late"], func(g viewTimeliness) string { return strconv.Itoa(g.Late) })
		row(v.T["missed"], func(g viewTimeliness) string { return strconv.Itoa(g.Missed) })
		row(v.T["open"], func(g viewTimeliness) string { return strconv.Itoa(g.Open) })
		row(v.T["percent"], func(g viewTimeliness) string { return g.Percent })
		row(v.T["prev_pct"], func(g viewTimeliness) string { return g.PrevPct })
		row(v.T["median"], func(g viewTimeliness) string { return g.Median })
	}
	ew.printf("  %s\n", v.T["std_note"])
	for _, s := range v.Sections {
		head(s.Title)
		if s.Note != "" {
			ew.printf("  (%s)\n", s.Note)
		}
		for _, r := range s.Rows {
			ew.printf("  %-42s %12d %12d\n", r.Label, r.Prev, r.N)
		}
	}
	const indent = "                                        "
	name := v.Sign.Name
	if name == "" {
		name = "(................................)"
	}
	nip := v.Sign.NIP
	if nip == "" {
		nip = "...................."
	}
	ew.printf("\n\n%s%s\n%s%s\n\n\n\n%s%s\n%s%s %s\n", indent, v.Sign.PlaceDate, indent, v.Sign.Title,
		indent, name, indent, v.T["nip"], nip)
	return ew.err
}

// writeCSV writes one figure per line: section, key, label, value, and
// the value the month before; the office at the top, the signature block
// at the bottom. Times are in minutes. With sep ";" or tab (Excel in an
// Indonesian locale, where the comma is the decimal mark) it starts with
// a UTF-8 BOM, so that Excel reads the accents, and writes decimals with a
// comma; with "," it writes plain CSV for programs.
func (v *reportView) writeCSV(w io.Writer, sep string) error {
	comma := ','
	switch sep {
	case ";":
		comma = ';'
	case "\t", "tab":
		comma = '\t'
	}
	decimal := func(f float64) string {
		s := strconv.FormatFloat(f, 'f', 1, 64)
		if comma != ',' {
			s = strings.Replace(s, ".", ",", 1)
		}
		return s
	}
	if comma != ',' {
		if _, err := io.WriteString(w, "\ufeff"); err != nil {
			return err
		}
	}
	cw := csv.NewWriter(w)
	cw.Comma = comma
	cw.Write([]string{"section", "key", "label", "value", "previous"})
	cw.Write([]string{"office", "name", "", v.Office, ""})
	cw.Write([]string{"office", "address", "", v.Address, ""})
	cw.Write([]string{"month", "month", v.Title, v.Month, v.PrevName})
	for _, r := range v.Summary {
		cw.Write([]string{"summary", r.Key, r.Label, strconv.Itoa(r.N), strconv.Itoa(r.Prev)})
	}
	groups := []string{"all", string(bot.KindCase), string(bot.KindComplaint)}
	for _, s := range v.Standard {
		for i, g := range s.Groups {
			sec := s.Key + "_" + groups[i]
			label := s.Title + " – " + v.StdHeads[i]
			for _, f := range []struct {
				key string
				n   int
			}{{"tickets", g.Tickets}, {"met", g.Met}, {"late", g.Late}, {"missed", g.Missed}, {"open", g.Open}} {
				cw.Write([]string{sec, f.key, label, strconv.Itoa(f.n), ""})
			}
			pct := ""
			if p, ok := g.Timeliness.Percent(); ok {
				pct = decimal(p)
			}
			prevPct := ""
			if g.prevOK {
				prevPct = decimal(g.prevPct)
			}
			cw.Write([]string{sec, "percent_met", label, pct, prevPct})
			med := ""
			if g.Met+g.Late > 0 {
				med = decimal(g.Timeliness.Median.Minutes())
			}
			cw.Write([]string{sec, "median_minutes", label, med, ""})
		}
	}
	for _, s := range v.Sections {
		for _, r := range s.Rows {
			cw.Write([]string{s.Key, r.Key, r.Label, strconv.Itoa(r.N), strconv.Itoa(r.Prev)})
		}
	}
	cw.Write([]string{"signature", "place_date", "", v.Sign.PlaceDate, ""})
	cw.Write([]string{"signature", "title", "", v.Sign.Title, ""})
	cw.Write([]string{"signature", "name", "", v.Sign.Name, ""})
	cw.Write([]string{"signature", "nip", "", v.Sign.NIP, ""})
	cw.Flush()
	return cw.Error()
}

func (v *reportView) writeHTML(w io.Writer) error {
	return reportHTML.Execute(w, v)
}

// errWriter keeps the first write error.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// reportHTML is one self-contained page: inline CSS and SVG, no scripts,
// no outside assets; it prints on A4.
var reportHTML = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
  :root { --met: #2e7d32; --late: #f9a825; --missed: #c62828; --open: #90a4ae; --bar: #37474f; }
  body { font-family: "DejaVu Sans", Arial, Helvetica, sans-serif; color: #212121; margin: 2em auto; max-width: 52em; padding: 0 1em; line-height: 1.4; }
  h1 { font-size: 1.5em; margin-bottom: .2em; }
  h2 { font-size: 1.15em; border-bottom: 1px solid #b0bec5; padding-bottom: .2em; margin-top: 1.6em; }
  p.meta { color: #546e7a; margin: .1em 0; }
  p.note { color: #546e7a; font-size: .9em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .25em .5em; border-bottom: 1px solid #eceff1; vertical-align: middle; }
  td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; width: 5em; }
  td.bar { width: 30%; min-width: 8em; }
  td.prev, th.prev { color: #78909c; }
  th.n { font-weight: normal; font-size: .85em; color: #546e7a; }
  header.office { border-bottom: 3px double #37474f; margin-bottom: 1em; padding-bottom: .4em; text-align: center; }
  header.office p { margin: 0; }
  .office-name { font-size: 1.3em; font-weight: bold; text-transform: uppercase; letter-spacing: .03em; }
  .office-address { color: #455a64; }
  section.signature { margin: 3em 0 0 55%; }
  section.signature p { margin: .1em 0; }
  .sign-space { height: 4.5em; }
  .sign-name { font-weight: bold; text-decoration: underline; }
  .summary td.n { font-size: 1.3em; font-weight: bold; }
  .legend span { display: inline-block; margin-right: 1.2em; font-size: .9em; }
  .legend i { display: inline-block; width: .9em; height: .9em; margin-right: .3em; vertical-align: -.1em; }
  svg { display: block; }
  section { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  @page { size: A4; margin: 15mm; }
  @media print {
    body { margin: 0; max-width: none; font-size: 10pt; }
    h2 { margin-top: 1em; }
  }
</style>
</head>
<body>
<header class="office">
<p class="office-name">{{.Office}}</p>
<p class="office-address">{{.Address}}</p>
</header>
<h1>{{.Title}}</h1>
<p class="meta">{{.Period}}</p>
<p class="meta">{{.AsOf}}</p>

<section class="summary">
<h2>{{.T.summary}}</h2>
<table>
<tr><th></th><th class="n prev">{{.PrevName}}</th><th class="n">{{.T.this}}</th></tr>
{{range .Summary}}<tr><td>{{.Label}}</td><td class="n prev">{{.Prev}}</td><td class="n">{{.N}}</td></tr>
{{end}}</table>
</section>

<section>
<h2>{{.T.standard}}</h2>
<p class="legend"><span><i style="background:var(--met)"></i>{{.T.met}}</span><span><i style="background:var(--late)"></i>{{.T.late}}</span><span><i style="background:var(--missed)"></i>{{.T.missed}}</span><span><i style="background:var(--open)"></i>{{.T.open}}</span></p>
{{$heads := .StdHeads}}{{$t := .T}}
{{range .Standard}}
<h3>{{.Title}}</h3>
<table>
<tr><th></th><th class="n">{{$t.tickets}}</th><th class="n">{{$t.met}}</th><th class="n">{{$t.late}}</th><th class="n">{{$t.missed}}</th><th class="n">{{$t.open}}</th><th class="n">%</th><th class="n prev">{{$t.prev}} %</th><th class="n">{{$t.median}}</th><th></th></tr>
{{range $i, $g := .Groups}}<tr><td>{{index $heads $i}}</td><td class="n">{{$g.Tickets}}</td><td class="n">{{$g.Met}}</td><td class="n">{{$g.Late}}</td><td class="n">{{$g.Missed}}</td><td class="n">{{$g.Open}}</td><td class="n">{{$g.Percent}}</td><td class="n prev">{{$g.PrevPct}}</td><td class="n">{{$g.Median}}</td>
<td class="bar"><svg width="100%" height="14" viewBox="0 0 240 14" preserveAspectRatio="none" role="img" aria-label="{{$g.Percent}}"><rect x="0" y="0" width="240" height="14" fill="#eceff1"/><rect x="{{index $g.BarStart 0}}" y="0" width="{{index $g.Bars 0}}" height="14" fill="#2e7d32"/><rect x="{{index $g.BarStart 1}}" y="0" width="{{index $g.Bars 1}}" height="14" fill="#f9a825"/><rect x="{{index $g.BarStart 2}}" y="0" width="{{index $g.Bars 2}}" height="14" fill="#c62828"/><rect x="{{index $g.BarStart 3}}" y="0" width="{{index $g.Bars 3}}" height="14" fill="#90a4ae"/></svg></td></tr>
{{end}}</table>
{{end}}
<p class="note">{{.T.std_note}}</p>
</section>

{{$prev := .PrevName}}{{range .Sections}}
<section>
<h2>{{.Title}}</h2>
{{if .Note}}<p class="note">{{.Note}}</p>{{end}}
<table>
<tr><th></th><th class="n prev">{{$prev}}</th><th class="n">{{$t.this}}</th><th></th></tr>
{{range .Rows}}<tr><td>{{.Label}}</td><td class="n prev">{{.Prev}}</td><td class="n">{{.N}}</td><td class="bar"><svg width="100%" height="14" viewBox="0 0 240 14" preserveAspectRatio="none" role="img" aria-label="{{.N}}"><rect x="0" y="0" width="{{.Width}}" height="14" fill="#37474f"/></svg></td></tr>
{{end}}</table>
</section>
{{end}}
<section class="signature">
<p>{{.Sign.PlaceDate}}</p>
<p>{{.Sign.Title}}</p>
<p class="sign-space"></p>
<p class="sign-name">{{if .Sign.Name}}{{.Sign.Name}}{{else}}(................................){{end}}</p>
<p>{{.T.nip}} {{if .Sign.NIP}}{{.Sign.NIP}}{{else}}....................{{end}}</p>
</section>
</body>
</html>
`))
