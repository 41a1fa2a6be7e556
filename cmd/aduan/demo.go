package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"aduan/bot"
	"aduan/channels/console"
	"aduan/internal/config"
	"aduan/internal/seal"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

// demoCitizen is who types in the demo until /from says otherwise.
const demoCitizen = "+6281234567001"

func demoCommand(e env) *cobra.Command {
	var path, dbPath, from string
	c := &cobra.Command{
		Use:   "demo [flags]",
		Short: "try the service in the terminal, with nothing else installed",
		Long: "Runs the whole service in the terminal, on an embedded database and Redis, with a console\n" +
			"channel: you type as a citizen; /from NUMBER types as someone else (an officer), /quit ends.\n" +
			"With standard input from a pipe it plays the lines as a script.",
		Example: "  aduan demo\n  printf 'halo\\n1\\n' | aduan demo --from 081337785111",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return demo(c.Context(), e, path, dbPath, from)
		},
	}
	c.Flags().StringVar(&path, "config", "", "configuration file (YAML); only officers, region and flows are used; default: the office's two contact officers")
	c.Flags().StringVar(&dbPath, "db", "", "SQLite file to keep tickets in; default: a temporary one, deleted at exit. "+
		"Its personal data is encrypted under a key made for the run, unless the configuration has security keys")
	c.Flags().StringVar(&from, "from", demoCitizen, "phone number you type as at first")
	return c
}

func demo(ctx context.Context, e env, path, dbPath, from string) error {
	cfg, err := demoConfig(path, e)
	if err != nil {
		return err
	}
	citizen, err := config.NormalizePhone(from, cfg.Region)
	if err != nil {
		return usagef("demo: --from: %q is not a valid phone number", from)
	}

	db := dbPath
	if db == "" {
		dir, err := os.MkdirTemp("", "aduan-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		db = filepath.Join(dir, "aduan.db")
	}
	// The demo's data lives no longer than the run, unless --db keeps it:
	// then a key of the configuration's keeps it readable by a later run.
	keys := seal.Random()
	if cfg.MissingSecurity() == nil {
		if keys, err = keyring(cfg, "demo"); err != nil {
			return err
		}
	}
	store, err := sqlstore.OpenSQLite(ctx, db, sqlstore.WithKeyring(keys))
	if err != nil {
		return err
	}
	defer store.Close()

	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		return fmt.Errorf("embedded redis: %w", err)
	}
	defer mr.Close()
	convs := redis.New(goredis.NewClient(&goredis.Options{Addr: mr.Addr()}), redis.Options{
		StateTTL: cfg.Conversation.StateTTL.Std(), LeaseTTL: cfg.Conversation.LeaseTTL.Std(), Keyring: keys})
	defer convs.Close()

	interactive := isTerminal(e.stdin)
	names := map[string]string{}
	for _, o := range cfg.Officers {
		names[o.Phone] = o.Name + ", " + o.Role
	}
	con := &console.Channel{In: e.stdin, Out: e.stdout, From: citizen, To: "+6281100000000", Names: names,
		Prompt:    interactive,
		Normalize: func(s string) (string, error) { return config.NormalizePhone(s, cfg.Region) },
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(cfg, store, convs, map[bot.Channel]bot.Sender{bot.SMS: con, bot.WhatsApp: con}, nil, time.Now, log)
	if err != nil {
		return err
	}
	con.Pipeline, con.Waiter = a.svc, a.outbox
	if interactive {
		fmt.Fprintf(e.stdout, "aduan demo: you are a citizen texting the service from %s.\n"+
			"Type /from NUMBER to type as someone else (an officer: %s), /quit or Ctrl-D to end.\n\n",
			citizen, officerList(cfg))
	}
	a.start()
	err = con.Run(ctx)
	a.stop()
	return err
}

// demoConfig is the configuration file when one is given, or else the
// defaults with the office's published contact officers.
func demoConfig(path string, e env) (*config.Config, error) {
	if path != "" {
		return loadConfig(path, e)
	}
	c := config.Default()
	c.Officers = []config.Officer{
		{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: config.RoleOfficer},
		{Name: "Tija Ndaka", Phone: "+6281337973213", Role: config.RoleOfficer},
		{Name: "Kepala Dinas", Phone: "+6281234567890", Role: config.RoleSupervisor},
	}
	return c, nil
}

func officerList(cfg *config.Config) string {
	s := ""
	for _, o := range cfg.Officers {
		if o.Role == config.RoleOfficer {
			if s != "" {
				s += ", "
			}
			s += o.Phone
		}
	}
	return s
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
