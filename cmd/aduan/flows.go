package main

import (
	"context"
	"fmt"
	"strings"

	"aduan/dialog"
	"aduan/dialog/flows"
)

// MaxReportSegments is the most SMS segments a complete report may cost.
const MaxReportSegments = 14

func flowsCmd(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(e.stdout, "Usage: aduan flows check [DIR]\n\nChecks the flows in DIR, or the embedded defaults.\n")
			return nil
		}
		return usagef("flows: say check (see aduan flows -h)")
	}
	fs := flags(e, "flows check", "flows check [--cost] [DIR]")
	cost := fs.Bool("cost", false, "also print what a complete report costs over SMS, per flow and language")
	if err := parse(fs, args[1:]); err != nil {
		return helpOK(err)
	}
	dir := fs.Arg(0)
	book, err := flows.Load(dir)
	if err != nil {
		fmt.Fprintln(e.stdout, strings.TrimRight(err.Error(), "\n"))
		return fmt.Errorf("flows check: %d problem(s)", strings.Count(err.Error(), "\n")+1)
	}
	n := 0
	for _, f := range book.Flows() {
		n += len(f.Steps)
	}
	fmt.Fprintf(e.stdout, "flows ok: %d flows, %d steps\n", len(book.Flows()), n)
	if !*cost {
		return nil
	}
	over := 0
	for _, lang := range dialog.Langs {
		for _, c := range book.Costs(lang) {
			mark := ""
			if c.Segments > MaxReportSegments {
				mark = fmt.Sprintf("  OVER the budget of %d", MaxReportSegments)
				over++
			}
			fmt.Fprintf(e.stdout, "cost %-10s %s: %2d answers, %2d messages, %2d SMS segments%s\n",
				c.Flow, lang, c.Steps, c.Messages, c.Segments, mark)
		}
	}
	if over > 0 {
		return fmt.Errorf("flows check: %d flow(s) over the SMS budget", over)
	}
	return nil
}
