package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"aduan/bot"
)

func ticketsFilesCommand(e env) *cobra.Command {
	var path, dir, by string
	c := &cobra.Command{
		Use:   "files [flags] CODE",
		Short: "write a ticket's files into DIR, decrypted, and record who did",
		Long: "Writes the files the reporter sent (photos, voice notes, documents) into DIR, decrypted,\n" +
			"one file each (0600, never overwriting); the ticket gets a \"files_exported\" event naming --by.",
		Example: "  aduan-env tickets files --by \"Genoveva Lindung\" --dir ~/kasus/KS-7HQ4XM KS-7HQ4XM",
		Args:    oneArg("ticket code"),
		RunE: func(c *cobra.Command, args []string) error {
			return ticketsFiles(c.Context(), e, path, dir, by, args[0])
		},
	}
	configFlag(c, &path)
	c.Flags().StringVar(&dir, "dir", "", "directory to write the files into; created (0700) if missing")
	c.Flags().StringVar(&by, "by", "admin", "who exports, for the ticket's history")
	return c
}

// ticketsFiles is `aduan tickets files`: it writes a ticket's attachments,
// decrypted, into a directory, one file each, and records in the ticket's
// history that they were exported and by whom. It never overwrites a file.
func ticketsFiles(ctx context.Context, e env, path, dir, by, arg string) error {
	code := bot.NormalizeCode(arg)
	if code == "" {
		return usagef("tickets files: %q is not a ticket code", arg)
	}
	if dir == "" {
		return usagef("tickets files: give --dir, the directory to write the files into")
	}
	if strings.TrimSpace(by) == "" {
		return usagef("tickets files: --by is empty")
	}
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "tickets files")
	if err != nil {
		return err
	}
	defer pg.Close()
	files, err := pg.Attachments(ctx, code)
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return fmt.Errorf("tickets files: no ticket %s", code)
		}
		return err
	}
	if len(files) == 0 {
		fmt.Fprintf(e.stdout, "%s has no files\n", code)
		return nil
	}
	// Every name is checked before anything is written, so that a second
	// run into the same directory writes nothing rather than half.
	names := make([]string, len(files))
	for i, f := range files {
		names[i] = filepath.Join(dir, fmt.Sprintf("%s-%d%s", code, i+1, bot.FileExt(f.Kind, f.MIME)))
		if _, err := os.Lstat(names[i]); err == nil {
			return fmt.Errorf("tickets files: %s exists; give another --dir or move it away", names[i])
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("tickets files: %w", err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tickets files: %w", err)
	}
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("tickets files: %w", err)
	} else if st.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "warning: others may read %s (mode %v); the files themselves are 0600\n", dir, st.Mode().Perm())
	}
	written := 0
	for i, f := range files {
		if err = writeAttachment(ctx, pg.Attachment, f.ID, names[i]); err != nil {
			err = fmt.Errorf("tickets files: %s: %w", names[i], err)
			break
		}
		written++
		fmt.Fprintf(e.stdout, "%s  %s  %s\n", names[i], fileKind(f.Kind), bot.ByteSize(f.Size))
	}
	if written == 0 {
		return err
	}
	// Whoever took a victim's files out of the service is part of the
	// record, even if not all of them came out.
	detail := fmt.Sprintf("%d of %d files", written, len(files))
	if written == len(files) {
		detail = fmt.Sprintf("%d files", written)
	}
	ev := bot.Event{TicketCode: code, At: time.Now(), Actor: by, Type: "files_exported", Detail: detail}
	if rerr := recordEvent(ctx, pg, ev); rerr != nil {
		return errors.Join(err, fmt.Errorf("tickets files: %d files written, but not recorded in the ticket's history: %w", written, rerr))
	}
	return err
}

// writeAttachment reads the attachment with the ID, with its data, and
// writes the data to a new file name, readable by its owner only. It
// removes what it wrote if it fails.
func writeAttachment(ctx context.Context, get func(context.Context, int64) (bot.Attachment, error), id int64, name string) error {
	a, err := get(ctx, id)
	if err != nil {
		return err
	}
	// O_EXCL: never overwrite, nor follow a link put there since the check.
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(a.Data)
	if err == nil {
		err = f.Chmod(0o600) // whatever the umask
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
	}
	return err
}

// recordEvent appends ev to its ticket's history, in one transaction.
func recordEvent(ctx context.Context, s bot.Store, ev bot.Event) error {
	tx, err := s.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := tx.Apply(ctx, &bot.Changes{Events: []bot.Event{ev}}, time.Now()); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// fileKind names a file's kind for an officer: "foto (image)".
func fileKind(kind string) string { return bot.FileName(kind) + " (" + kind + ")" }
