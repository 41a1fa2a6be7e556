// Command aduan-bench measures aduan against the bar of issue 8: it drives
// simulated citizens through whole case-report conversations over signed
// Twilio webhooks against one or more `aduan serve` processes, with its
// own fake Twilio REST API receiving the replies, and checks afterwards
// that every citizen got exactly one ticket and every officer exactly one
// notification per ticket. It also seeds the tickets table for a lookup
// measurement and measures Redis memory per live conversation.
//
//	aduan-bench suite                     every figure of docs/BENCHMARKS.md
//	aduan-bench load [--spawn N] [--mode closed|open|flood] ...
//	aduan-bench seed --tickets 1000000
//	aduan-bench lookup
//	aduan-bench redis-mem --conversations 100000
//	aduan-bench chaos --kills 6 --conversations 1500
//
// Run `aduan-bench <command> -h` for the flags of each.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

func main() {
	// The bench shares the machine with what it measures: collect garbage
	// less often, for less CPU, at the cost of memory it has plenty of.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "aduan-bench:", err)
		os.Exit(1)
	}
}

// run dispatches to a command. Tests call it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		args = []string{"help"}
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "load":
		return loadCmd(ctx, rest, stdout, stderr)
	case "chaos":
		return chaosCmd(ctx, rest, stdout, stderr)
	case "suite":
		return suiteCmd(ctx, rest, stdout, stderr)
	case "seed":
		return seedCmd(ctx, rest, stdout, stderr)
	case "lookup":
		return lookupCmd(ctx, rest, stdout, stderr)
	case "redis-mem":
		return redisMemCmd(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

const usage = `aduan-bench measures aduan's pipeline end to end.

Commands:
  suite      every figure of docs/BENCHMARKS.md: 1,000 msgs/s and flood at 1 and 3
             replicas, Redis memory per conversation, 1,000,000-ticket lookup
  load       drive simulated citizens through case reports over signed Twilio webhooks
  seed       fill the tickets table with realistic rows (COPY)
  lookup     measure ticket status lookups by code
  redis-mem  measure Redis memory per live conversation
  chaos      kill -9 and restart replicas under load; check that no message is lost or
             applied to the wrong question, and no report lost or filed twice

Run 'aduan-bench <command> -h' for its flags.
`

// newFlags returns a flag set that prints its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("aduan-bench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
