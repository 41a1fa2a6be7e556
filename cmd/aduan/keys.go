package main

import (
	"context"
	"fmt"
	"strings"

	"aduan/internal/config"
	"aduan/internal/seal"
	"aduan/store/postgres"
)

func keysCmd(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage:\n"+
			"  aduan keys generate [-n N]\n"+
			"      print N new random keys (base64 of 32 bytes), one per line: for\n"+
			"      security.encryption_key (ADUAN_ENCRYPTION_KEY) and security.lookup_key\n"+
			"      (ADUAN_LOOKUP_KEY)\n"+
			"  aduan keys rotate [--config FILE] [--batch N]\n"+
			"      encrypt every stored personal value again under security.encryption_key,\n"+
			"      while the service runs; the former key must be in security.old_keys.\n"+
			"      It brings the schema up to date first. See docs/SECURITY.md.\n")
		if len(args) == 0 {
			return usagef("keys: say generate or rotate (see aduan keys -h)")
		}
		return nil
	}
	switch args[0] {
	case "generate":
		return keysGenerate(e, args[1:])
	case "rotate":
		return keysRotate(ctx, e, args[1:])
	}
	return usagef("keys: say generate or rotate (see aduan keys -h)")
}

func keysGenerate(e env, args []string) error {
	fs := flags(e, "keys generate", "keys generate [-n N]")
	n := fs.Int("n", 1, "how many keys to print")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if *n < 1 || fs.NArg() > 0 {
		return usagef("keys generate: -n must be at least 1, and no arguments follow")
	}
	for range *n {
		fmt.Fprintln(e.stdout, seal.Generate())
	}
	return nil
}

func keysRotate(ctx context.Context, e env, args []string) error {
	fs := flags(e, "keys rotate", "keys rotate [--config FILE] [--batch N]")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	batch := fs.Int("batch", postgres.DefaultRotateBatch, "rows rewritten per transaction")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() > 0 {
		return usagef("keys rotate: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*path, e)
	if err != nil {
		return err
	}
	pg, keys, err := openStore(ctx, cfg, "keys rotate")
	if err != nil {
		return err
	}
	defer pg.Close()
	// Rows written before sealing began need the sealed schema.
	if err := postgres.Migrate(ctx, pg.Pool()); err != nil {
		return fmt.Errorf("keys rotate: migrate: %w", err)
	}
	fmt.Fprintf(e.stdout, "encrypting every personal value under key %s, %d rows at a time\n", keys.CurrentID(), *batch)
	n, err := pg.Rotate(ctx, *batch)
	if err != nil {
		return fmt.Errorf("keys rotate: after %s: %w", n, err)
	}
	fmt.Fprintf(e.stdout, "rotated: %s\n", n)
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
func openStore(ctx context.Context, cfg *config.Config, cmd string) (*postgres.Store, *seal.Keyring, error) {
	keys, err := keyring(cfg, cmd)
	if err != nil {
		return nil, nil, err
	}
	pg, err := postgres.Open(ctx, cfg.Postgres.URL, postgres.WithKeyring(keys))
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
