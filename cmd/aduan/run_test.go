package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the program with args and returns its output and error.
func runCmd(t *testing.T, stdin string, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	err = run(context.Background(), args, getenv, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

func TestDemoPlaysAPipedCaseReport(t *testing.T) {
	script := "halo\n1\n2\ntidak\n1 6\n3\nkota komba\n0\nhari ini\nIpar saya dipukul suami\n1\n3\nya\n"
	out, _, err := runCmd(t, script, nil, "demo")
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	code := ""
	for _, line := range strings.Split(out, "\n") {
		if c := findCode(line); c != "" {
			code = c
			break
		}
	}
	if code == "" {
		t.Fatalf("demo output has no ticket code:\n%s", out)
	}
	for _, want := range []string{
		"< to +6281234567001:",                             // replies to the citizen
		"< to +6281337785111 (Genoveva Lindung, officer):", // the officers' SMS
		"< to +6281337973213 (Tija Ndaka, officer):",
		"Tiket baru " + code + ": laporan kekerasan, Kec. Kota Komba, korban aman.",
		"Anda petugas utama; balas TERIMA " + code,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "+6281234567890 (Kepala Dinas") {
		t.Errorf("the supervisor was notified; only officers should be")
	}
}

func TestDemoFromSwitchesSender(t *testing.T) {
	out, _, err := runCmd(t, "halo\n/from 081337785111\nhalo\n/from 12\n", nil, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "* now typing as +6281337785111 (Genoveva Lindung, officer)") {
		t.Errorf("no switch to the officer:\n%s", out)
	}
	if !strings.Contains(out, "< to +6281337785111 (Genoveva Lindung, officer):") {
		t.Errorf("the officer got no reply:\n%s", out)
	}
	if !strings.Contains(out, `! /from: "12" is not a valid phone number`) {
		t.Errorf("a bad /from is not refused clearly:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http:\n  listn: x\n"), 0o600)
	noTwilio := filepath.Join(dir, "notwilio.yaml")
	os.WriteFile(noTwilio, []byte("officers:\n  - {name: A, phone: \"081337785111\", role: officer}\n"), 0o600)
	tests := []struct {
		label string
		args  []string
		want  string
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"bad flag", []string{"serve", "--nope"}, "flag provided but not defined: -nope"},
		{"unknown config key", []string{"serve", "--config", bad}, `unknown key "http.listn"`},
		{"missing config file", []string{"serve", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"serve without twilio", []string{"serve", "--config", noTwilio}, "twilio.account_sid"},
		{"no officers", []string{"serve"}, "officers"},
		{"tickets without verb", []string{"tickets"}, "say list, show, files, export or erase"},
		{"tickets show bad code", []string{"tickets", "show", "nope"}, "not a ticket code"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			_, _, err := runCmd(t, "", map[string]string{}, tt.args...)
			var u usageError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want a usage error (exit 2)", err)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %q, want one line naming %q", err, tt.want)
			}
		})
	}
}

func TestHelpNamesEveryCommandAndFlag(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range commands() {
		if !strings.Contains(out, c.name) {
			t.Errorf("help lacks %s", c.name)
		}
		hout, _, err := runCmd(t, "", nil, c.name, "-h")
		if err != nil {
			t.Errorf("%s -h: %v", c.name, err)
		}
		if !strings.Contains(hout, "Usage: aduan "+c.name) && !strings.Contains(hout, "aduan "+c.name) {
			t.Errorf("%s -h printed %q", c.name, hout)
		}
	}
	out, _, _ = runCmd(t, "", nil, "serve", "-h")
	if !strings.Contains(out, "-config") {
		t.Errorf("serve -h does not explain --config:\n%s", out)
	}
}

func TestFlowsCheck(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "flows", "check")
	if err != nil || !strings.Contains(out, "flows ok") {
		t.Fatalf("flows check = %q, %v", out, err)
	}
}
