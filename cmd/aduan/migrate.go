package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"aduan/store/postgres"
)

func migrateCmd(ctx context.Context, e env, args []string) error {
	fs := flags(e, "migrate", "migrate [--config FILE] [--status]")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	status := fs.Bool("status", false, "show which migrations are applied instead of applying them")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*path, e)
	if err != nil {
		return err
	}
	pg, err := postgres.Open(ctx, cfg.Postgres.URL)
	if err != nil {
		return err
	}
	defer pg.Close()
	if !*status {
		if err := postgres.Migrate(ctx, pg.Pool()); err != nil {
			return err
		}
	}
	states, err := postgres.MigrationStatus(ctx, pg.Pool())
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED")
	for _, s := range states {
		applied := "pending"
		if s.Applied {
			applied = s.AppliedAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.Source, applied)
	}
	return tw.Flush()
}
