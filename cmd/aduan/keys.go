package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"aduan/internal/config"
	"aduan/internal/seal"
	"aduan/store/sqlstore"
)

func keysCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "keys",
		Short: "make encryption keys, or encrypt stored data again under a new one",
		Example: "  aduan keys generate -n 2\n" +
			"  aduan keys rotate --config /etc/aduan/aduan.yaml",
		RunE: group("keys", "generate or rotate"),
	}
	var n int
	gen := &cobra.Command{
		Use:   "generate [flags]",
		Short: "print new random keys, one per line",
		Long: "Prints N new random keys (base64 of 32 bytes), one per line: for security.encryption_key\n" +
			"(ADUAN_ENCRYPTION_KEY) and security.lookup_key (ADUAN_LOOKUP_KEY).",
		Example: "  aduan keys generate -n 2     # the first for ADUAN_ENCRYPTION_KEY, the second for ADUAN_LOOKUP_KEY",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if n < 1 {
				return usagef("keys generate: -n must be at least 1")
			}
			for range n {
				fmt.Fprintln(e.stdout, seal.Generate())
			}
			return nil
		},
	}
	gen.Flags().IntVarP(&n, "count", "n", 1, "how many keys to print")
	var path string
	var batch int
	rot := &cobra.Command{
		Use:   "rotate [flags]",
		Short: "encrypt every stored personal value again under security.encryption_key",
		Long: "Encrypts every stored personal value again under security.encryption_key, while the service\n" +
			"runs; the former key must be in security.old_keys (ADUAN_ENCRYPTION_OLD_KEYS). It brings the\n" +
			"schema up to date first. See docs/SECURITY.md.",
		Example: "  ADUAN_ENCRYPTION_OLD_KEYS=<old key> aduan-env keys rotate --config /etc/aduan/aduan.yaml",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return keysRotate(c.Context(), e, path, batch)
		},
	}
	configFlag(rot, &path)
	rot.Flags().IntVar(&batch, "batch", sqlstore.DefaultRotateBatch, "rows rewritten per transaction")
	c.AddCommand(gen, rot)
	return c
}

func keysRotate(ctx context.Context, e env, path string, batch int) error {
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	pg, keys, err := openStore(ctx, cfg, "keys rotate")
	if err != nil {
		return err
	}
	defer pg.Close()
	// Rows written before sealing began need the sealed schema.
	if err := pg.Migrate(ctx); err != nil {
		return fmt.Errorf("keys rotate: migrate: %w", err)
	}
	fmt.Fprintf(e.stdout, "encrypting every personal value under key %s, %d rows at a time\n", keys.CurrentID(), batch)
	n, err := pg.Rotate(ctx, batch)
	if err != nil {
		return fmt.Errorf("keys rotate: after %s: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "rotated: %s\n", n)
	if stale, err := pg.StaleConversations(ctx); err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	} else if stale > 0 {
		fmt.Fprintf(e.stdout, "conversations under way sealed under an old key: %d (each is sealed again at its next\n"+
			"message and expires after conversation.state_ttl, %s: keep the old keys at least that long)\n",
			stale, cfg.Conversation.StateTTL.Std())
	}
	if len(cfg.Security.OldKeys) > 0 {
		fmt.Fprintln(e.stdout, "Every value is now under the current key. Keep the old keys as long as\n"+
			"backups made before this rotation are kept: those backups need them.")
	}
	return nil
}

// openStore opens PostgreSQL with the keyring of the configuration: every
// command that reads or writes tickets goes through it. A configuration
// without keys is a usage error naming them; what stands for cmd names
// the command.
func openStore(ctx context.Context, cfg *config.Config, cmd string) (*sqlstore.Store, *seal.Keyring, error) {
	keys, err := keyring(cfg, cmd)
	if err != nil {
		return nil, nil, err
	}
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL, sqlstore.WithKeyring(keys))
	if err != nil {
		return nil, nil, err
	}
	return pg, keys, nil
}

// keyring returns the configuration's keyring, or a usage error for cmd.
func keyring(cfg *config.Config, cmd string) (*seal.Keyring, error) {
	k, err := cfg.Keyring()
	if err != nil {
		return nil, usageError{cmd + ": " + strings.ReplaceAll(err.Error(), "\n", "; ")}
	}
	return k, nil
}
