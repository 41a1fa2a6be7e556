package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/config"
	"aduan/store/sqlstore"
)

// writeConfigFile writes a configuration for the test database, with the
// test keys, and returns its path.
func writeConfigFile(t *testing.T, pgURL, redisURL string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "aduan.yaml")
	yaml := fmt.Sprintf("postgres:\n  url: %q\nredis:\n  url: %q\nofficers:\n"+
		"  - {name: Genoveva Lindung, phone: \"081337785111\", role: officer}\n"+
		"security:\n  encryption_key: %q\n  lookup_key: %q\n"+
		"office:\n  head_name: %q\n  head_nip: %q\n",
		pgURL, redisURL, testSecurity.EncryptionKey, testSecurity.LookupKey, testHeadName, testHeadNIP)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The head of the office in the test configuration, under the report's
// signature.
const (
	testHeadName = "Yohana Nggoro, S.Sos."
	testHeadNIP  = "19700101 199803 2 001"
)

// reportTickets stores the tickets of the report test, through the store's
// own transaction, with their events. Times are in WITA (UTC+8), the
// office's zone, in which the month is counted.
func reportTickets(t *testing.T, pgURL string) {
	t.Helper()
	ctx := context.Background()
	keys, err := testSecurityConfig().Keyring()
	if err != nil {
		t.Fatal(err)
	}
	pg, err := sqlstore.OpenPostgres(ctx, pgURL, sqlstore.WithKeyring(keys))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	wita := time.FixedZone("WITA", 8*3600)
	day := func(d, h, m int) time.Time { return time.Date(2024, 11, d, h, m, 0, 0, wita) }
	type evt struct {
		after  time.Duration
		typ    string
		detail string
	}
	tickets := []struct {
		code    string
		kind    bot.Kind
		channel bot.Channel
		urgent  bool
		created time.Time
		answers map[string]string
		events  []evt
	}{
		{"KS-AAAA2", bot.KindCase, bot.SMS, true, day(3, 9, 0), map[string]string{"violence": "physical,sexual",
			"kecamatan": "borong", "age_group": "child", "sex": "female"},
			[]evt{{12 * time.Minute, "accepted", ""}, {48 * time.Hour, "closed", ""}}},
		{"KS-BBBB2", bot.KindCase, bot.WhatsApp, false, day(10, 10, 0), map[string]string{"violence": "psychological",
			"kecamatan": "elar", "age_group": "adult", "sex": "female"},
			[]evt{{45 * time.Minute, "accepted", ""}, {3 * 24 * time.Hour, "status", "accompanied"},
				{9 * 24 * time.Hour, "status", "done"}}},
		// The last half hour of November in WITA: still November.
		{"KS-CCCC2", bot.KindCase, bot.SMS, false, day(30, 23, 30), map[string]string{"violence": "domestic",
			"kecamatan": "poco-ranaka"},
			[]evt{{5 * time.Minute, "accepted", ""}}},
		// October and December in WITA, though November in UTC: not counted.
		{"KS-DDDD2", bot.KindCase, bot.SMS, false, time.Date(2024, 10, 31, 23, 30, 0, 0, wita),
			map[string]string{"kecamatan": "borong"}, nil},
		{"KS-EEEE2", bot.KindCase, bot.SMS, false, time.Date(2024, 12, 1, 0, 30, 0, 0, wita),
			map[string]string{"kecamatan": "borong"}, nil},
		{"PL-FFFF2", bot.KindComplaint, bot.SMS, false, day(15, 8, 0), map[string]string{"topic": "fee"},
			[]evt{{20 * time.Minute, "accepted", ""}, {24 * time.Hour, "closed", ""}}},
		{"PL-GGGG2", bot.KindComplaint, bot.SMS, false, day(20, 8, 0), map[string]string{"topic": "slow"}, nil},
	}
	var ch bot.Changes
	for _, tk := range tickets {
		ch.Tickets = append(ch.Tickets, bot.Ticket{Code: tk.code, Kind: tk.kind, Status: bot.StatusReceived,
			Urgent: tk.urgent, Kecamatan: tk.answers["kecamatan"], Answers: tk.answers, Channel: tk.channel,
			Reporter: citizen, CreatedAt: tk.created, UpdatedAt: tk.created})
		ch.Events = append(ch.Events, bot.Event{TicketCode: tk.code, At: tk.created, Actor: "citizen", Type: "created"})
		for _, e := range tk.events {
			ch.Events = append(ch.Events, bot.Event{TicketCode: tk.code, At: tk.created.Add(e.after),
				Actor: testOfficers[0].Phone, Type: e.typ, Detail: e.detail})
		}
	}
	tx, err := pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, &ch, time.Now()); err != nil {
		tx.Rollback(ctx)
		t.Fatalf("Apply: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}

// testSecurityConfig is a configuration holding only the test keys.
func testSecurityConfig() *config.Config {
	c := config.Default()
	c.Security = testSecurity
	return c
}

func TestReportFigures(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	reset(t, cfg)
	reportTickets(t, cfg.Postgres.URL)
	file := writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	args := []string{"report", "--config", file, "--month", "2024-11", "--as-of", "2024-12-31"}

	out, _, err := runCmd(t, "", nil, append(args, "--format", "csv", "--csv-sep", ",")...)
	if err != nil {
		t.Fatalf("report --format csv: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatalf("csv: %v\n%s", err, out)
	}
	got, prev := map[string]string{}, map[string]string{}
	for _, r := range rows {
		if len(r) != 5 {
			t.Fatalf("csv row %q has %d fields, want 5", r, len(r))
		}
		got[r[0]+"/"+r[1]] = r[3]
		prev[r[0]+"/"+r[1]] = r[4]
	}
	// October 2024 had one case, in Borong, never answered.
	for k, w := range map[string]string{"month/month": "Oktober 2024", "summary/tickets": "1", "summary/cases": "1",
		"summary/complaints": "0", "kecamatan/borong": "1", "kecamatan/elar": "0", "response_all/percent_met": "0.0", "response_complaint/percent_met": ""} {
		if prev[k] != w {
			t.Errorf("%s the month before = %q, want %q", k, prev[k], w)
		}
	}
	for k, w := range map[string]string{"office/name": config.DefaultOfficeName, "office/address": config.DefaultOfficeAddress,
		"signature/name": testHeadName, "signature/nip": testHeadNIP, "signature/place_date": "Borong, 31 Desember 2024"} {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}
	want := map[string]string{
		"month/month":        "2024-11",
		"summary/tickets":    "5",
		"summary/cases":      "3",
		"summary/complaints": "2",
		"summary/urgent":     "1",
		"kind/case":          "3",
		"kind/complaint":     "2",
		"channel/sms":        "4",
		"channel/whatsapp":   "1",
		"violence/physical":  "1", "violence/psychological": "1", "violence/sexual": "1", "violence/domestic": "1",
		"violence/neglect": "0",
		"kecamatan/borong": "1", "kecamatan/elar": "1", "kecamatan/lamba-leda-selatan": "1", "kecamatan/rana-mese": "0",
		"age_group/child": "1", "age_group/adult": "1", "age_group/unknown": "1",
		"sex/female": "2", "sex/male": "0", "sex/unknown": "1",
		"victim/child-female": "1", "victim/adult-female": "1", "victim/unknown-unknown": "1",
		"topic/fee": "1", "topic/slow": "1", "topic/attitude": "0",
		// Responses in 12m, 45m, 5m, 20m; one complaint never answered.
		"response_all/tickets": "5", "response_all/met": "3", "response_all/late": "1", "response_all/missed": "1",
		"response_all/open": "0", "response_all/percent_met": "60.0", "response_all/median_minutes": "16.0",
		"response_case/met": "2", "response_case/late": "1", "response_case/percent_met": "66.7",
		"response_complaint/met": "1", "response_complaint/missed": "1", "response_complaint/percent_met": "50.0",
		// Done in 2d, 9d (late), 1d; one case and one complaint never done.
		"done_all/met": "2", "done_all/late": "1", "done_all/missed": "2", "done_all/open": "0",
		"done_all/median_minutes": "2880.0", "done_case/missed": "1", "done_complaint/met": "1",
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %q, want %q", k, got[k], w)
		}
	}

	out, _, err = runCmd(t, "", nil, args...)
	if err != nil {
		t.Fatalf("report: %v", err)
	}
	for _, w := range []string{"Laporan bulanan layanan pengaduan: November 2024", "1 November 2024 – 30 November 2024",
		"Respons pertama dalam 30 menit", "16 mnt", "2 hari", "60%", config.DefaultOfficeName, "Bulan lalu",
		"Borong, 31 Desember 2024", testHeadName, "NIP. " + testHeadNIP} {
		if !strings.Contains(out, w) {
			t.Errorf("text report lacks %q:\n%s", w, out)
		}
	}

	out, _, err = runCmd(t, "", nil, append(args, "--format", "html", "--lang", "en")...)
	if err != nil {
		t.Fatalf("report --format html: %v", err)
	}
	for _, w := range []string{"<!DOCTYPE html>", "<svg", "@media print", "Monthly report of the complaints service: November 2024",
		config.DefaultOfficeName, "October 2024", testHeadName, testHeadNIP} {
		if !strings.Contains(out, w) {
			t.Errorf("html report lacks %q", w)
		}
	}
	for _, outside := range []string{"src=", "href=", "<script", "@import", "url(", "http://", "https://"} {
		if strings.Contains(out, outside) {
			t.Errorf("html report has %q: it must need nothing from outside", outside)
		}
	}
	for _, secret := range []string{citizen, testOfficers[0].Phone} {
		if strings.Contains(out, secret) {
			t.Errorf("html report shows a phone number")
		}
	}
}

// TestReportCSVForIndonesianExcel: by default the CSV is what Excel set to
// Indonesian opens in columns: a UTF-8 BOM, fields separated by ";",
// decimals with a comma.
func TestReportCSVForIndonesianExcel(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	reset(t, cfg)
	reportTickets(t, cfg.Postgres.URL)
	file := writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	out, _, err := runCmd(t, "", nil, "report", "--config", file, "--month", "2024-11", "--as-of", "2024-12-31", "--format", "csv")
	if err != nil {
		t.Fatalf("report --format csv: %v", err)
	}
	body, bom := strings.CutPrefix(out, "\ufeff")
	if !bom {
		t.Errorf("the CSV does not start with a UTF-8 BOM")
	}
	r := csv.NewReader(strings.NewReader(body))
	r.Comma = ';'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("csv with ';': %v", err)
	}
	found := false
	for _, row := range rows {
		if len(row) != 5 {
			t.Fatalf("row %q has %d fields, want 5", row, len(row))
		}
		if row[0] == "response_case" && row[1] == "percent_met" {
			found = true
			if row[3] != "66,7" {
				t.Errorf("response_case percent_met = %q, want the decimal comma of 66,7", row[3])
			}
		}
	}
	if !found {
		t.Errorf("no response_case percent_met row:\n%s", body)
	}
	if _, _, err := runCmd(t, "", nil, "report", "--csv-sep", "|"); !errors.As(err, new(usageError)) {
		t.Errorf("--csv-sep |: %v, want a usage error", err)
	}
}

func TestReportUsage(t *testing.T) {
	tests := []struct {
		label string
		args  []string
		want  string
	}{
		{"bad month", []string{"report", "--month", "2026-13"}, "is not a month"},
		{"bad format", []string{"report", "--format", "pdf"}, "not text, csv or html"},
		{"bad zone", []string{"report", "--tz", "Mars/Olympus"}, "not a time zone"},
		{"bad as-of", []string{"report", "--as-of", "kemarin"}, "not a day"},
		{"bad lang", []string{"report", "--lang", "fr"}, "not id or en"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			_, _, err := runCmd(t, "", nil, tt.args...)
			var u usageError
			if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want a usage error naming %q", err, tt.want)
			}
		})
	}
}

func TestReportMonthDefaultsToLastMonth(t *testing.T) {
	wita := time.FixedZone("WITA", 8*3600)
	tests := []struct {
		now  time.Time
		want time.Time
	}{
		{time.Date(2026, 12, 1, 0, 5, 0, 0, wita), time.Date(2026, 11, 1, 0, 0, 0, 0, wita)},
		{time.Date(2027, 1, 15, 12, 0, 0, 0, wita), time.Date(2026, 12, 1, 0, 0, 0, 0, wita)},
	}
	for _, tt := range tests {
		got, err := reportMonth("", tt.now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("reportMonth(\"\", %v) = %v, %v, want %v", tt.now, got, err, tt.want)
		}
	}
}
