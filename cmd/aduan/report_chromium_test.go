package main

import (
	"bytes"
	"context"
	"flag"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aduan/internal/config"
)

// reportSample, when set, is where TestReportInChromium also writes its
// PNG: go test ./cmd/aduan -run TestReportInChromium -report-sample ../../docs/report-sample.png
var reportSample = flag.String("report-sample", "", "write the rendered report's PNG to this file (for docs/)")

// chromiumFlags run Debian's chromium headless on a machine without a
// network: no sandbox (root in CI), no GPU, and none of its background
// connections, which the closed network refuses.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
	"--no-pdf-header-footer"}

// chromium runs Debian's chromium with a fresh profile and args, and fails
// t loudly if it is not installed: the report's look is tested, not
// skipped.
func chromium(t *testing.T, args ...string) {
	t.Helper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (apt-get install -y chromium; .ci/run installs it): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	all := append(append(append([]string{}, chromiumFlags...), "--user-data-dir="+t.TempDir()), args...)
	cmd := exec.CommandContext(ctx, bin, all...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
}

// TestReportInChromium renders the monthly report's HTML in headless
// Chromium, as the office prints it: to PDF (A4), whose text must hold the
// office's name and address, the month's and the month before's totals and
// the signature block; and to PNG, which must be a page with something on
// it.
func TestReportInChromium(t *testing.T) {
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Fatalf("pdftotext is not installed (apt-get install -y poppler-utils; .ci/run installs it): %v", err)
	}
	cfg := testConfig(t, "http://127.0.0.1:1")
	reset(t, cfg)
	reportTickets(t, cfg.Postgres.URL)
	file := writeConfigFile(t, cfg.Postgres.URL, cfg.Redis.URL)
	html, _, err := runCmd(t, "", nil, "report", "--config", file, "--month", "2024-11", "--as-of", "2024-12-31",
		"--format", "html")
	if err != nil {
		t.Fatalf("report --format html: %v", err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := os.WriteFile(page, []byte(html), 0o600); err != nil {
		t.Fatal(err)
	}

	pdf := filepath.Join(dir, "report.pdf")
	chromium(t, "--print-to-pdf="+pdf, "file://"+page)
	text, err := exec.Command(pdftotext, "-layout", pdf, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	lines := strings.Split(string(text), "\n")
	// The summary's first line: the month before (October, 1 ticket) beside
	// this month (November, 5).
	totals := false
	for _, l := range lines {
		if f := strings.Fields(l); len(f) >= 3 && f[0] == "Tiket" && f[len(f)-2] == "1" && f[len(f)-1] == "5" {
			totals = true
		}
	}
	if !totals {
		t.Errorf("the PDF has no line \"Tiket 1 5\" (the month before, this month):\n%s", text)
	}
	flat := strings.Join(strings.Fields(string(text)), " ")
	for _, want := range []string{strings.ToUpper(config.DefaultOfficeName), config.DefaultOfficeAddress,
		"Laporan bulanan layanan pengaduan: November 2024", "Oktober 2024", "Bulan ini",
		"Borong, 31 Desember 2024", config.DefaultOfficeHeadTitle, testHeadName, "NIP. " + testHeadNIP} {
		if !strings.Contains(flat, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}

	shot := filepath.Join(dir, "report.png")
	chromium(t, "--screenshot="+shot, "--window-size=1000,1400", "file://"+page)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("the screenshot is not a PNG: %v", err)
	}
	b := img.Bounds()
	if b.Dx() != 1000 || b.Dy() != 1400 {
		t.Errorf("the screenshot is %dx%d, want 1000x1400", b.Dx(), b.Dy())
	}
	// The office's name is dark text at the top: the page rendered.
	dark := 0
	for y := b.Min.Y; y < b.Min.Y+120; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, g, bl, _ := img.At(x, y).RGBA(); r+g+bl < 3*0x4000 {
				dark++
			}
		}
	}
	if dark < 200 {
		t.Errorf("the top of the screenshot has %d dark pixels: nothing rendered there", dark)
	}
	if *reportSample != "" {
		data, err := os.ReadFile(shot)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*reportSample, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
