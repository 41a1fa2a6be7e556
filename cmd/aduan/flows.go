package main

import (
	"context"
	"fmt"
	"strings"

	"aduan/dialog/flows"
)

func flowsCmd(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(e.stdout, "Usage: aduan flows check [DIR]\n\nChecks the flows in DIR, or the embedded defaults.\n")
			return nil
		}
		return usagef("flows: say check (see aduan flows -h)")
	}
	fs := flags(e, "flows check", "flows check [DIR]")
	if err := parse(fs, args[1:]); err != nil {
		return helpOK(err)
	}
	dir := fs.Arg(0)
	book, err := flows.Load(dir)
	if err != nil {
		fmt.Fprintln(e.stdout, err.Error())
		return fmt.Errorf("flows check: %d problem(s)", strings.Count(err.Error(), "\n")+1)
	}
	n := 0
	for _, f := range book.Flows() {
		n += len(f.Steps)
	}
	fmt.Fprintf(e.stdout, "flows ok: %d flows, %d steps\n", len(book.Flows()), n)
	return nil
}
