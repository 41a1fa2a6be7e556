package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// unfiledFilesDays is how long the files a citizen sent are kept when the
// report they came with was never filed: long past bot.AttachmentWindow,
// in which filing a report takes them, and short, since nobody handles
// them and they may be a victim's photos.
const unfiledFilesDays = 7

func purgeCommand(e env) *cobra.Command {
	var path string
	var dryRun bool
	var days int
	c := &cobra.Command{
		Use:   "purge [flags]",
		Short: "remove transcripts and personal data of tickets done long ago (retention.days)",
		Long: "Removes the transcripts and the reporter's personal data of tickets done more than\n" +
			"retention.days ago (keeping what statistics count), and the files of reports never filed\n" +
			"after 7 days.",
		Example: "  aduan purge --dry-run\n  aduan purge --config /etc/aduan/aduan.yaml --days 180",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return purge(c.Context(), e, path, dryRun, days)
		},
	}
	configFlag(c, &path)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be removed, and remove nothing")
	c.Flags().IntVar(&days, "days", 0, "remove what belongs to tickets done more than N days ago; default: retention.days")
	return c
}

func purge(ctx context.Context, e env, path string, dryRun bool, days int) error {
	if days < 0 {
		return usagef("purge: --days %d is negative", days)
	}
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	if days == 0 {
		days = cfg.Retention.Days
	}
	pg, _, err := openStore(ctx, cfg, "purge")
	if err != nil {
		return err
	}
	defer pg.Close()
	before := time.Now().AddDate(0, 0, -days)
	n, err := pg.Purge(ctx, before, dryRun)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	verb := "purged"
	if dryRun {
		verb = "would purge"
	}
	fmt.Fprintf(e.stdout, "%s the transcripts and personal data of tickets done before %s (%d days): %s\n",
		verb, wita(before), days, n)
	unfiled := time.Now().AddDate(0, 0, -unfiledFilesDays)
	files, err := pg.PurgeAttachments(ctx, unfiled, dryRun)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	verb = "deleted"
	if dryRun {
		verb = "would delete"
	}
	fmt.Fprintf(e.stdout, "%s the files of reports never filed, received before %s (%d days): %d\n",
		verb, wita(unfiled), unfiledFilesDays, files)
	// A conversation's checkpoint lives as long as its copy in Redis
	// (conversation.state_ttl); the mark left by one that ended, twice
	// that, so that no older copy can come back.
	ttl := cfg.Conversation.StateTTL.Std()
	idle := time.Now().Add(-ttl)
	convs, err := pg.PurgeConversations(ctx, idle, time.Now().Add(-2*ttl), dryRun)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	fmt.Fprintf(e.stdout, "%s the conversations idle since %s (conversation.state_ttl %s): %d\n",
		verb, wita(idle), ttl, convs)
	return nil
}
