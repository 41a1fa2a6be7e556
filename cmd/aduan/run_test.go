package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
		{"bad flag", []string{"serve", "--nope"}, "unknown flag: --nope"},
		{"bad flag after an argument", []string{"tickets", "show", "KS-7HQ4XM", "--nope"}, "unknown flag: --nope"},
		{"missing argument", []string{"tickets", "show"}, "give one ticket code"},
		{"unknown subcommand", []string{"tickets", "frob"}, `unknown command "frob"`},
		{"bad flag value", []string{"purge", "--days", "many"}, "invalid argument"},
		{"unknown config key", []string{"serve", "--config", bad}, `unknown key "http.listn"`},
		{"missing config file", []string{"serve", "--config", filepath.Join(dir, "none.yaml")}, "none.yaml"},
		{"serve without twilio", []string{"serve", "--config", noTwilio}, "twilio.account_sid"},
		{"no officers", []string{"serve"}, "officers"},
		{"tickets without verb", []string{"tickets"}, "say list, show, files, export or erase"},
		{"version with an argument", []string{"version", "extra"}, `unexpected argument "extra"`},
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

// leaves returns every command of the tree under c that does the work
// (those without subcommands), with its path from aduan.
func leaves(c *cobra.Command) []*cobra.Command {
	if !c.HasSubCommands() {
		return []*cobra.Command{c}
	}
	var out []*cobra.Command
	for _, sub := range c.Commands() {
		if sub.Name() != "help" {
			out = append(out, leaves(sub)...)
		}
	}
	return out
}

// TestHelpOnEveryCommand: `aduan help` names every command; for each
// command, -h, --help and `aduan help CMD` print its help once, to stdout,
// with an example and its flags, and exit 0.
func TestHelpOnEveryCommand(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "help")
	if err != nil {
		t.Fatal(err)
	}
	root := rootCommand(env{getenv: func(string) string { return "" }})
	for _, c := range root.Commands() {
		if !strings.Contains(out, "  "+c.Name()+" ") {
			t.Errorf("aduan help lacks %s:\n%s", c.Name(), out)
		}
	}
	for _, c := range leaves(root) {
		path := strings.Fields(c.CommandPath())[1:]
		t.Run(strings.Join(path, " "), func(t *testing.T) {
			if c.Example == "" {
				t.Errorf("%s has no example in its help", c.CommandPath())
			}
			var first string
			for _, args := range [][]string{append(path, "-h"), append(path, "--help"), append([]string{"help"}, path...)} {
				out, errOut, err := runCmd(t, "", nil, args...)
				if err != nil || errOut != "" {
					t.Errorf("%q: err %v, stderr %q; want help on stdout and exit 0", args, err, errOut)
				}
				if n := strings.Count(out, "Usage:"); n != 1 {
					t.Errorf("%q printed its usage %d times, want once:\n%s", args, n, out)
				}
				if !strings.Contains(out, c.CommandPath()) || !strings.Contains(out, "Examples:") {
					t.Errorf("%q printed %q, want %s's usage with its examples", args, out, c.CommandPath())
				}
				if c.HasAvailableLocalFlags() && !strings.Contains(out, "--") {
					t.Errorf("%q does not list its flags:\n%s", args, out)
				}
				if first == "" {
					first = out
				} else if out != first {
					t.Errorf("%q printed another help than %q", args, path)
				}
			}
		})
	}
	out, _, _ = runCmd(t, "", nil, "help", "report")
	if !strings.Contains(out, "aduan report [flags]") || !strings.Contains(out, "--month") {
		t.Errorf("aduan help report does not show report's help:\n%s", out)
	}
}

// TestFlagsAfterArguments: flags may follow the arguments, as the README
// writes `aduan tickets show CODE --json`; the parse does not depend on
// where they are.
func TestFlagsAfterArguments(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("http:\n  listn: x\n"), 0o600)
	for _, args := range [][]string{
		{"tickets", "show", "--config", bad, "--json", "KS-7HQ4XM"},
		{"tickets", "show", "KS-7HQ4XM", "--json", "--config", bad},
		{"tickets", "show", "KS-7HQ4XM", "--config=" + bad, "--json"},
	} {
		_, _, err := runCmd(t, "", nil, args...)
		// The flag was read wherever it stood: the configuration it names
		// is the one refused.
		if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), `unknown key "http.listn"`) {
			t.Errorf("%q: err = %v, want the --config file's error", args, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "none")
	_, _, err := runCmd(t, "", nil, "flows", "check", dir, "--cost")
	_, _, err2 := runCmd(t, "", nil, "flows", "check", "--cost", dir)
	if err == nil || err2 == nil || err.Error() != err2.Error() || !strings.Contains(err.Error(), "flows check") {
		t.Errorf("flows check DIR --cost = %v, flows check --cost DIR = %v; want the same error about DIR", err, err2)
	}
}

func TestFlowsCheck(t *testing.T) {
	out, _, err := runCmd(t, "", nil, "flows", "check")
	if err != nil || !strings.Contains(out, "flows ok") {
		t.Fatalf("flows check = %q, %v", out, err)
	}
}
