package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"aduan/dialog"
	"aduan/dialog/flows"
)

// MaxReportSegments is the most SMS segments a complete report may cost.
const MaxReportSegments = 14

func flowsCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:     "flows",
		Short:   "check conversation flows",
		Example: "  aduan flows check --cost\n  aduan flows check /etc/aduan/flows",
		RunE:    group("flows", "check"),
	}
	var cost bool
	check := &cobra.Command{
		Use:   "check [flags] [DIR]",
		Short: "check the flows in DIR, or the built-in ones",
		Long: "Checks the conversation flows in DIR, or the built-in ones: dangling or unreachable steps,\n" +
			"texts missing a language, characters outside GSM-7, messages over three SMS segments,\n" +
			"and the place list (gazetteer.csv in DIR, or the built-in one).\n" +
			"--cost also prints what a complete report costs over SMS, and fails over the budget.",
		Example: "  aduan flows check --cost\n  aduan flows check /etc/aduan/flows --cost",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			dir := ""
			if len(args) > 0 {
				dir = args[0]
			}
			return flowsCheck(e, dir, cost)
		},
	}
	check.Flags().BoolVar(&cost, "cost", false, "also print what a complete report costs over SMS, per flow and language")
	c.AddCommand(check)
	return c
}

// flowsCheck is `aduan flows check`.
func flowsCheck(e env, dir string, cost bool) error {
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
	where := "embedded"
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, flows.GazetteerFile)); err == nil {
			where = filepath.Join(dir, flows.GazetteerFile)
		}
	}
	fmt.Fprintf(e.stdout, "gazetteer ok (%s): %d kecamatan, %d villages\n", where, len(book.Places.Areas()), book.Places.Villages())
	if !cost {
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
			name := c.Flow
			if c.Story {
				name += ", story first"
			}
			fmt.Fprintf(e.stdout, "cost %-22s %s: %2d answers, %2d messages, %2d SMS segments%s\n",
				name, lang, c.Steps, c.Messages, c.Segments, mark)
		}
	}
	if over > 0 {
		return fmt.Errorf("flows check: %d flow(s) over the SMS budget", over)
	}
	return nil
}
