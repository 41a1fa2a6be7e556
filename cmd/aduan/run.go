package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

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

// commands returns aduan's commands, each a cobra command whose RunE does
// the work with what e gives.
func commands(e env) []*cobra.Command {
	return []*cobra.Command{
		serveCommand(e), demoCommand(e), migrateCommand(e), ticketsCommand(e), flowsCommand(e),
		whatsappCommand(e), smsgateCommand(e), keysCommand(e), purgeCommand(e), reportCommand(e), configCommand(e),
		versionCommand(e),
	}
}

// rootCommand is `aduan`: the commands, `help [COMMAND]`, and -h on each.
// Flags may come before or after arguments.
func rootCommand(e env) *cobra.Command {
	root := &cobra.Command{
		Use:   "aduan",
		Short: "report violence or complain about a public service by SMS or WhatsApp",
		Long: "aduan: report violence or complain about a public service by SMS or WhatsApp.\n\n" +
			"Exit status: 0 done, 1 failed (the message says why), 2 a bad command line or\n" +
			"configuration (the message names the flag or the key).",
		Example: "  aduan serve --config /etc/aduan/aduan.yaml\n  aduan help report",
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q (see aduan help)", args[0])
			}
			c.SetOut(e.stderr)
			c.Usage()
			return usagef("no command given")
		},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%s: %v (see %s -h)", c.CommandPath(), err, c.CommandPath())
	})
	root.AddCommand(commands(e)...)
	return root
}

// run is the whole program: main only adds the process around it. An
// error that cobra returns before a command runs (an unknown command or
// flag, a missing argument) is a usage error.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := rootCommand(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	started := false
	root.PersistentPreRun = func(*cobra.Command, []string) { started = true }
	err := root.ExecuteContext(ctx)
	if err != nil && !started && !errors.As(err, new(usageError)) {
		return usagef("%v (see aduan help)", err)
	}
	return err
}

// group is the RunE of a command that only holds others: without one of
// them it is a usage error naming them.
func group(name, verbs string) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("%s: unknown command %q: say %s (see aduan %s -h)", name, args[0], verbs, name)
		}
		return usagef("%s: say %s (see aduan %s -h)", name, verbs, name)
	}
}

// noArgs refuses any argument, as a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s: unexpected argument %q", strings.TrimPrefix(c.CommandPath(), "aduan "), args[0])
	}
	return nil
}

// oneArg wants exactly one argument, named what.
func oneArg(what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s: give one %s", strings.TrimPrefix(c.CommandPath(), "aduan "), what)
		}
		return nil
	}
}

// configFlag adds --config to c, into path.
func configFlag(c *cobra.Command, path *string) {
	c.Flags().StringVar(path, "config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
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

// loadStoreConfig is loadConfig for the commands that use only the
// database: the configuration may list no officers, so that
// ADUAN_POSTGRES_URL and the keys in the environment are enough.
func loadStoreConfig(path string, e env) (*config.Config, error) {
	c, err := config.LoadForStore(path, e.getenv)
	if err != nil {
		return nil, usageError{strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return c, nil
}
