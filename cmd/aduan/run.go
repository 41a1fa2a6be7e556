package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"aduan/internal/config"
)

// usageError is a bad command line or a bad configuration: the command
// exits 2 after printing its one line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// env is what a command gets from the process, so that tests can call run.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "run the service: webhooks, conversations, outbox", serveCmd},
		{"demo", "try the service in the terminal, with nothing else installed", demoCmd},
		{"migrate", "bring the PostgreSQL schema up to date, or show where it stands", migrateCmd},
		{"tickets", "list tickets, show one with its history, write out its files, or erase its personal data", ticketsCmd},
		{"flows", "check conversation flows", flowsCmd},
		{"whatsapp", "pair the WhatsApp device, check it, or unlink it", whatsappCmd},
		{"keys", "make encryption keys, or encrypt stored data again under a new one", keysCmd},
		{"purge", "remove transcripts and personal data of tickets done long ago (retention.days)", purgeCmd},
		{"report", "the monthly report: tickets by kind, place and victim, and the service standard", reportCmd},
		{"config", "check a configuration file without starting anything", configCmd},
		{"version", "print the version and commit of this build", versionCmd},
	}
}

const intro = `aduan: report violence or complain about a public service by SMS or WhatsApp.

Usage: aduan <command> [flags]

Commands:
`

func usage(w io.Writer) {
	fmt.Fprint(w, intro)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "  help     show this help\n\nRun `aduan <command> -h` for a command's flags.\n")
}

// run is the whole program: main only adds the process around it.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return usagef("no command given")
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, rest)
		}
	}
	return usagef("unknown command %q (see aduan help)", name)
}

// flags makes a FlagSet whose errors come back as one usage line and whose
// -h prints the command's flags to stdout.
func flags(e env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(e.stdout, "Usage: aduan %s\n\nFlags:\n", synopsis)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args; it returns errHelp after printing usage for -h.
func parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fs.Usage()
		return errHelp
	}
	if err != nil {
		return usagef("%s: %v (see aduan %s -h)", fs.Name(), err, fs.Name())
	}
	return nil
}

// errHelp ends a command that printed its help.
var errHelp = errors.New("help shown")

func helpOK(err error) error {
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// loadConfig loads the file (or only defaults and environment when path
// is ""), turning every problem into a usage error.
func loadConfig(path string, e env) (*config.Config, error) {
	c, err := config.Load(path, e.getenv)
	if err != nil {
		return nil, usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return c, nil
}
