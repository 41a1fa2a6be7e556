package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"aduan/store/sqlstore"
)

func migrateCommand(e env) *cobra.Command {
	var path string
	var status bool
	c := &cobra.Command{
		Use:   "migrate [flags]",
		Short: "bring the PostgreSQL schema up to date, or show where it stands",
		Long: "Applies the schema migrations not yet applied (under a lock: serve may be running) and lists\n" +
			"them all. It needs only the database: ADUAN_POSTGRES_URL is enough, without a configuration.",
		Example: "  aduan migrate --status\n  ADUAN_POSTGRES_URL=postgres://aduan@127.0.0.1/aduan aduan migrate",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return migrate(c.Context(), e, path, status)
		},
	}
	configFlag(c, &path)
	c.Flags().BoolVar(&status, "status", false, "show which migrations are applied instead of applying them")
	return c
}

func migrate(ctx context.Context, e env, path string, status bool) error {
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL)
	if err != nil {
		return err
	}
	defer pg.Close()
	if !status {
		if err := pg.Migrate(ctx); err != nil {
			return err
		}
	}
	states, err := pg.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tMIGRATION\tAPPLIED")
	for _, s := range states {
		applied := "pending"
		if s.Applied {
			applied = wita(s.AppliedAt)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, s.Source, applied)
	}
	return tw.Flush()
}
