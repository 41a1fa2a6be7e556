package main

import (
	"context"
	"fmt"
	"time"
)

// unfiledFilesDays is how long the files a citizen sent are kept when the
// report they came with was never filed: long past bot.AttachmentWindow,
// in which filing a report takes them, and short, since nobody handles
// them and they may be a victim's photos.
const unfiledFilesDays = 7

func purgeCmd(ctx context.Context, e env, args []string) error {
	fs := flags(e, "purge", "purge [--config FILE] [--dry-run] [--days N]")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	dryRun := fs.Bool("dry-run", false, "say what would be removed, and remove nothing")
	days := fs.Int("days", 0, "remove what belongs to tickets done more than N days ago; default: retention.days")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usagef("purge: unexpected argument %q", fs.Arg(0))
	}
	if *days < 0 {
		return usagef("purge: --days %d is negative", *days)
	}
	cfg, err := loadConfig(*path, e)
	if err != nil {
		return err
	}
	if *days == 0 {
		*days = cfg.Retention.Days
	}
	pg, _, err := openStore(ctx, cfg, "purge")
	if err != nil {
		return err
	}
	defer pg.Close()
	before := time.Now().AddDate(0, 0, -*days)
	n, err := pg.Purge(ctx, before, *dryRun)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	verb := "purged"
	if *dryRun {
		verb = "would purge"
	}
	fmt.Fprintf(e.stdout, "%s the transcripts and personal data of tickets done before %s (%d days): %s\n",
		verb, before.Local().Format("2006-01-02 15:04"), *days, n)
	unfiled := time.Now().AddDate(0, 0, -unfiledFilesDays)
	files, err := pg.PurgeAttachments(ctx, unfiled, *dryRun)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	verb = "deleted"
	if *dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(e.stdout, "%s the files of reports never filed, received before %s (%d days): %d\n",
		verb, unfiled.Local().Format("2006-01-02 15:04"), unfiledFilesDays, files)
	return nil
}
