package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"aduan/internal/testenv"
)

// redisDB is the Redis DB index of this package's tests.
const redisDB = 11

func TestAnswer(t *testing.T) {
	cases := []struct {
		Label  string
		Reply  string
		Want   string
		Prompt bool
	}{
		{"menu", "Dinsos Matim. Rahasia & gratis.\nPilih:\n1.Lapor kekerasan\n2.Aduan layanan", "1", true},
		{"choices with spaces", "Siapa yang melapor?\n 1. Saya korban\n 2. Keluarga", "1", true},
		{"summary", "Periksa:\nPelapor: Korban\nKec: Borong\n1.Ya, kirim\n2.Ubah\n3.Batal", "ya", true},
		{"summary in English", "Check:\nReporter: Victim\n1.Yes, send\n2.Change", "ya", true},
		{"old summary", "Periksa laporan Anda:\nCerita: dipukul\nSudah benar?", "ya", true},
		{"free text question", "Nama desa atau tempat kejadian? Ketik 0 bila tidak tahu.", stories[0], true},
		{"free text with colon", "Tulis nama Anda:", stories[0], true},
		{"free text statement", "Ceritakan apa yang terjadi. Boleh dalam beberapa pesan.", stories[0], false},
		{"notice", "Segera telp Polisi 110 atau 112, SAPA 129.", stories[0], false},
		{"ticket code", "Terima kasih. Laporan Anda diterima dgn kode KS-5P9PPD. Simpan kode ini.", stories[0], true},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			if got := answer(c.Reply, 0); got != c.Want {
				t.Fatalf("answer = %q, want %q", got, c.Want)
			}
			if got := isPrompt(c.Reply); got != c.Prompt {
				t.Fatalf("isPrompt = %v, want %v", got, c.Prompt)
			}
		})
	}
}

func TestFindCode(t *testing.T) {
	cases := []struct {
		Label string
		Text  string
		Want  string
	}{
		{"case", "diterima dgn kode KS-5P9PPD. Simpan", "KS-5P9PPD"},
		{"complaint", "Pengaduan Anda: PL-ABC234.", "PL-ABC234"},
		{"notification", "DARURAT! Tiket baru KS-7HQ4XM: laporan kekerasan", "KS-7HQ4XM"},
		{"none", "Ketik angka pilihan Anda: 1 3", ""},
		{"not a code alphabet", "KS-0OI1LL", ""},
	}
	for _, c := range cases {
		t.Run(c.Label, func(t *testing.T) {
			if got := findCode(c.Text); got != c.Want {
				t.Fatalf("findCode = %q, want %q", got, c.Want)
			}
		})
	}
}

// TestCitizenCompletesReport plays the simulated citizen through the
// embedded flows: if a flow change leaves it unable to finish a report,
// this fails before any load run does.
func TestCitizenCompletesReport(t *testing.T) {
	st, err := midConversation(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if st.Step == "" || len(st.Answers) < 5 {
		t.Fatalf("state before submitting: step %q, %d answers, want a step and at least 5 answers", st.Step, len(st.Answers))
	}
}

func TestSeedAndLookup(t *testing.T) {
	ctx := context.Background()
	pgURL := testenv.PostgresURL(t, "aduan_bench_seed")
	rep, err := seed(ctx, pgURL, 500, 2, true)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TotalTicket != 500 || rep.Events != 1000 {
		t.Fatalf("seeded %d tickets and %d events, want 500 and 1000", rep.TotalTicket, rep.Events)
	}
	// Lookups go through store/sqlstore: it must read what seed wrote.
	l, err := lookup(ctx, pgURL, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	if l.Ticket.N == 0 || l.Events.N == 0 || l.Missing.N == 0 {
		t.Fatalf("lookups = %+v, want samples of each kind", l)
	}
}

func TestRedisMem(t *testing.T) {
	rep, err := redisMem(context.Background(), testenv.RedisURL(redisDB), 500, false)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys != 500 || rep.StateBytes == 0 || rep.MemoryUsageMean == 0 {
		t.Fatalf("report = %+v, want 500 keys and sizes", rep)
	}
}

// TestLoadRun builds aduan, starts one replica, runs a tiny closed loop
// and checks that the final consistency check passed. It asserts nothing
// about speed.
func TestLoadRun(t *testing.T) {
	for _, provider := range []string{"twilio", "smsgate"} {
		t.Run(provider, func(t *testing.T) { loadRun(t, provider) })
	}
}

// loadRun runs a short closed loop through the provider's fake and checks
// its report.
func loadRun(t *testing.T, provider string) {
	// The bound covers building aduan too, which under `go test ./...`
	// shares the two cores with every other package's build and link.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"load", "--provider", provider, "--spawn", "1", "--mode", "closed", "--concurrency", "5",
		"--duration", "3s", "--warmup", "1s", "--redeliver", "0.2", "--json",
		"--postgres", testenv.PostgresURL(t, "aduan_bench"), "--redis", testenv.RedisURL(redisDB)}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("load: %v\nstderr:\n%s\nstdout:\n%s", err, stderr.String(), stdout.String())
	}
	var rep loadReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("report: %v\n%s", err, stdout.String())
	}
	if !rep.Check.Passed {
		t.Fatalf("check = %+v, want passed", rep.Check)
	}
	if rep.Completed == 0 || rep.Completed != rep.Citizens {
		t.Fatalf("completed = %d of %d citizens, want all and more than 0", rep.Completed, rep.Citizens)
	}
	if len(rep.Errors) != 0 {
		t.Fatalf("errors = %v, want none", rep.Errors)
	}
	if rep.Check.Tickets != rep.Completed || rep.Check.Notifications < rep.Completed {
		t.Fatalf("tickets = %d, notifications = %d, want %d and at least as many", rep.Check.Tickets,
			rep.Check.Notifications, rep.Completed)
	}
	if strings.Contains(stderr.String(), "panic") {
		t.Fatalf("stderr:\n%s", stderr.String())
	}
}

// The suite reports each figure as the median of its runs with their
// range, and lists every run with the machine's idle share before it.
func TestSuiteReportsSpread(t *testing.T) {
	if got := spreadOf([]float64{2400, 2100, 2300}); got != (spread{2100, 2300, 2400}) {
		t.Fatalf("spreadOf = %+v, want {2100 2300 2400}", got)
	}
	if got := spreadOf([]float64{4, 1, 3, 2}).median; got != 2.5 {
		t.Fatalf("median of four = %v, want 2.5", got)
	}
	run := func(msgs, idle float64) *loadReport {
		return &loadReport{IdleBefore: idle, Steady: window{MessagesPerS: msgs,
			CPU: &cpuUse{Aduan: msgs * 0.0003, Postgres: msgs * 0.0002}}}
	}
	r := &suiteReport{Commit: "abc123", Runs: 3, Loads: map[string][]*loadReport{
		"closed-1": {run(2400, 0.98), run(2100, 0.95), run(2300, 0.99)}}}
	var b strings.Builder
	r.print(&b, []int{1}, 1000, 128)
	for _, want := range []string{"commit abc123", "2300 (2100-2400)", "0.500 ms", "98%", "closed-1     3"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
