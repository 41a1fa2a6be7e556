package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"aduan/bot"
)

func ticketsCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "tickets",
		Short: "list tickets, show one with its history, write out its files, export, or erase its personal data",
		Long: "Tickets in the database. These commands need only the database: ADUAN_POSTGRES_URL and the\n" +
			"keys (ADUAN_ENCRYPTION_KEY, ADUAN_LOOKUP_KEY) in the environment are enough. Times are WITA.",
		Example: "  aduan-env tickets list --status received\n  aduan-env tickets show KS-7HQ4XM --json",
		RunE:    group("tickets", "list, show, files, export or erase"),
	}
	var o ticketsOptions
	list := &cobra.Command{
		Use:     "list [flags]",
		Short:   "list tickets, newest first",
		Example: "  aduan-env tickets list --status received\n  aduan-env tickets list --late --json",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return ticketsShow(c.Context(), e, o, "")
		},
	}
	configFlag(list, &o.path)
	list.Flags().BoolVar(&o.json, "json", false, "print JSON")
	list.Flags().StringVar(&o.status, "status", "", "only tickets with this status (received, done, ...)")
	list.Flags().StringVar(&o.kind, "kind", "", "only tickets of this kind (case or complaint)")
	list.Flags().IntVar(&o.limit, "limit", 100, "at most this many tickets, newest first")
	list.Flags().BoolVar(&o.late, "late", false, "only open tickets past a clock of the service standard (clocks in the configuration)")
	var so ticketsOptions
	show := &cobra.Command{
		Use:     "show [flags] CODE",
		Short:   "one ticket with its answers, its files (listed, not shown) and its history",
		Example: "  aduan-env tickets show KS-7HQ4XM\n  aduan-env tickets show ks7hq4xm --json",
		Args:    oneArg("ticket code"),
		RunE: func(c *cobra.Command, args []string) error {
			code := bot.NormalizeCode(args[0])
			if code == "" {
				return usagef("tickets show: %q is not a ticket code", args[0])
			}
			return ticketsShow(c.Context(), e, so, code)
		},
	}
	configFlag(show, &so.path)
	show.Flags().BoolVar(&so.json, "json", false, "print JSON")
	c.AddCommand(list, show, ticketsFilesCommand(e), ticketsExportCommand(e), ticketsEraseCommand(e))
	return c
}

// ticketsOptions are the flags of `tickets list` and `tickets show`.
type ticketsOptions struct {
	path, status, kind string
	limit              int
	late, json         bool
}

// ticketsShow is `tickets show` for a code, `tickets list` without one.
func ticketsShow(ctx context.Context, e env, o ticketsOptions, code string) error {
	sub := "list"
	if code != "" {
		sub = "show"
	}
	asJSON, status, kind, limit, late := &o.json, &o.status, &o.kind, &o.limit, &o.late
	cfg, err := loadStoreConfig(o.path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "tickets "+sub)
	if err != nil {
		return err
	}
	defer pg.Close()
	if sub == "list" {
		f := bot.TicketFilter{Status: bot.Status(*status), Kind: bot.Kind(*kind), Limit: *limit}
		if *late {
			f.Open, f.Limit = true, 0
		}
		ts, err := pg.Tickets(ctx, f)
		if *late {
			clocks, now, kept := cfg.Clocks.Bot(), time.Now(), ts[:0]
			for i := range ts {
				if clocks.IsLate(&ts[i], now) {
					kept = append(kept, ts[i])
				}
			}
			ts = kept
		}
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(e, ticketsJSON(ts))
		}
		tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "CODE\tKIND\tSTATUS\tURGENT\tKECAMATAN\tCHANNEL\tCREATED (WITA)")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Code, t.Kind, t.Status, yesNo(t.Urgent),
				dash(t.Kecamatan), t.Channel, t.CreatedAt.In(bot.WITA).Format("2006-01-02 15:04"))
		}
		return tw.Flush()
	}
	t, err := pg.Ticket(ctx, code)
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return fmt.Errorf("tickets show: no ticket %s", code)
		}
		return err
	}
	evs, err := pg.Events(ctx, code)
	if err != nil {
		return err
	}
	files, err := pg.Attachments(ctx, code)
	if err != nil {
		return err
	}
	if *asJSON {
		v := ticketsJSON([]bot.Ticket{t})[0]
		v.Events = evs
		v.Files = filesJSON(files)
		return writeJSON(e, v)
	}
	fmt.Fprintf(e.stdout, "Ticket %s\n  kind:      %s\n  status:    %s\n  urgent:    %s\n  kecamatan: %s\n"+
		"  channel:   %s\n  reporter:  %s\n  created:   %s\n  updated:   %s\nAnswers:\n",
		t.Code, t.Kind, t.Status, yesNo(t.Urgent), dash(t.Kecamatan), t.Channel, bot.Mask(t.Reporter),
		wita(t.CreatedAt), wita(t.UpdatedAt))
	keys := make([]string, 0, len(t.Answers))
	for k := range t.Answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "  %-12s %s\n", k+":", strings.ReplaceAll(t.Answers[k], "\n", " "))
	}
	// Files are listed by what they are, never by what they hold or who
	// sent them: `tickets files` writes them out, and records that it did.
	fmt.Fprintln(e.stdout, "Files:")
	if len(files) == 0 {
		fmt.Fprintln(e.stdout, "  -")
	}
	for i, f := range files {
		fmt.Fprintf(e.stdout, "  %d  %-24s %-28s %8s  %s\n", i+1, fileKind(f.Kind), dash(printable(f.MIME)), bot.ByteSize(f.Size),
			wita(f.Received))
	}
	fmt.Fprintln(e.stdout, "Events:")
	for _, ev := range evs {
		fmt.Fprintf(e.stdout, "  %s  %-10s %-8s %s\n", wita(ev.At), ev.Type,
			actor(ev.Actor), ev.Detail)
	}
	return nil
}

func ticketsEraseCommand(e env) *cobra.Command {
	var path, by string
	var yes bool
	c := &cobra.Command{
		Use:   "erase [flags] CODE",
		Short: "erase a ticket's personal data on the reporter's request",
		Long: "Erases a ticket's personal data on the reporter's request; it keeps the fields statistics\n" +
			"count and gets an \"erased\" event. It cannot be undone: --yes says so.",
		Example: "  aduan-env tickets erase --by \"Genoveva Lindung\" --yes KS-7HQ4XM",
		Args:    oneArg("ticket code"),
		RunE: func(c *cobra.Command, args []string) error {
			return ticketsErase(c.Context(), e, path, by, yes, args[0])
		},
	}
	configFlag(c, &path)
	c.Flags().StringVar(&by, "by", "admin", "who erases, for the ticket's history")
	c.Flags().BoolVar(&yes, "yes", false, "erase: it cannot be undone")
	return c
}

// ticketsErase is `aduan tickets erase`.
func ticketsErase(ctx context.Context, e env, path, by string, yes bool, arg string) error {
	code := bot.NormalizeCode(arg)
	if code == "" {
		return usagef("tickets erase: %q is not a ticket code", arg)
	}
	if !yes {
		return usagef("tickets erase: erasing %s cannot be undone; run again with --yes", code)
	}
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "tickets erase")
	if err != nil {
		return err
	}
	defer pg.Close()
	t, err := pg.Ticket(ctx, code)
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return fmt.Errorf("tickets erase: no ticket %s", code)
		}
		return err
	}
	n, err := pg.EraseTicket(ctx, code, time.Now(), by)
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return fmt.Errorf("tickets erase: no ticket %s", code)
		}
		return err
	}
	// The reporter's conversations under way, on every channel, end too
	// (their copies in Redis are then never used again).
	var convs int64
	if t.Reporter != "" {
		if convs, err = pg.ForgetConversations(ctx, bot.Inbound{Channel: bot.SMS, From: t.Reporter}.Key(),
			bot.Inbound{Channel: bot.WhatsApp, From: t.Reporter}.Key()); err != nil {
			return fmt.Errorf("tickets erase: %s erased, but not the reporter's conversation under way: %w", code, err)
		}
	}
	fmt.Fprintf(e.stdout, "erased the personal data of %s: %s, conversations under way %d\n", code, n, convs)
	return nil
}

type ticketJSON struct {
	Code      string            `json:"code"`
	Kind      bot.Kind          `json:"kind"`
	Status    bot.Status        `json:"status"`
	Urgent    bool              `json:"urgent"`
	Kecamatan string            `json:"kecamatan,omitempty"`
	Channel   bot.Channel       `json:"channel"`
	Reporter  string            `json:"reporter"`
	Answers   map[string]string `json:"answers,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	Events    []bot.Event       `json:"events,omitempty"`
	Files     []fileJSON        `json:"files,omitempty"`
}

// fileJSON describes an attachment in `tickets show --json`: not its
// content, nor its sender.
type fileJSON struct {
	Number   int       `json:"number"` // from 1, as `tickets files` names it
	Kind     string    `json:"kind"`
	MIME     string    `json:"mime"`
	Size     int       `json:"size"` // bytes
	Received time.Time `json:"received"`
}

func filesJSON(fs []bot.Attachment) []fileJSON {
	out := make([]fileJSON, len(fs))
	for i, f := range fs {
		out[i] = fileJSON{Number: i + 1, Kind: f.Kind, MIME: f.MIME, Size: f.Size, Received: f.Received.In(bot.WITA)}
	}
	return out
}

func ticketsJSON(ts []bot.Ticket) []ticketJSON {
	out := make([]ticketJSON, len(ts))
	for i, t := range ts {
		out[i] = ticketJSON{Code: t.Code, Kind: t.Kind, Status: t.Status, Urgent: t.Urgent, Kecamatan: t.Kecamatan,
			Channel: t.Channel, Reporter: t.Reporter, Answers: t.Answers, CreatedAt: t.CreatedAt.In(bot.WITA),
			UpdatedAt: t.UpdatedAt.In(bot.WITA)}
	}
	return out
}

func writeJSON(e env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable is s without its control characters and anything else not
// printable: for what a sender chose, such as a file's type, written to a
// terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
}

// wita writes t as the office reads it: "2026-11-05 14:03:07 WITA".
func wita(t time.Time) string { return t.In(bot.WITA).Format("2006-01-02 15:04:05") + " WITA" }

// actor shows who did something, masking a phone number.
func actor(a string) string {
	if strings.HasPrefix(a, "+") {
		return bot.Mask(a)
	}
	return a
}

func ticketsExportCommand(e env) *cobra.Command {
	var path, format, fromS, toS string
	c := &cobra.Command{
		Use:   "export [flags]",
		Short: "the tickets created in a period, with their handling times, without personal data",
		Long: "Writes the tickets created in [from, to), days in WITA, as CSV: what statistics count and\n" +
			"the handling times; never the reporter, a name or a story.",
		Example: "  aduan-env tickets export --format csv --from 2026-11-01 --to 2026-12-01 > 2026-11.csv",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return ticketsExport(c.Context(), e, path, format, fromS, toS)
		},
	}
	configFlag(c, &path)
	c.Flags().StringVar(&format, "format", "csv", "output format: csv")
	c.Flags().StringVar(&fromS, "from", "", "first day, YYYY-MM-DD (WITA)")
	c.Flags().StringVar(&toS, "to", "", "day after the last, YYYY-MM-DD (WITA)")
	return c
}

// ticketsExport writes the tickets created in a period as CSV: the fields
// statistics count and the handling times, never the reporter, a name or a
// story.
func ticketsExport(ctx context.Context, e env, path, format, fromS, toS string) error {
	if format != "csv" {
		return usagef("tickets export: --format %q: only csv", format)
	}
	from, err1 := time.ParseInLocation("2006-01-02", fromS, bot.WITA)
	to, err2 := time.ParseInLocation("2006-01-02", toS, bot.WITA)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return usagef("tickets export: give --from and --to as YYYY-MM-DD, from before to")
	}
	cfg, err := loadStoreConfig(path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "tickets export")
	if err != nil {
		return err
	}
	defer pg.Close()
	ts, _, err := pg.TicketsCreated(ctx, from, to)
	if err != nil {
		return err
	}
	clocks := cfg.Clocks.Bot()
	w := csv.NewWriter(e.stdout)
	w.Write([]string{"code", "kind", "status", "urgent", "kecamatan", "channel", "reporter_is", "violence",
		"age_group", "sex", "help", "topic", "created_at", "accepted_at", "closed_at", "first_response_minutes",
		"late_first_response", "late_done", "assignee"})
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(bot.WITA).Format(time.RFC3339)
	}
	now := time.Now()
	for i := range ts {
		t := &ts[i]
		first := ""
		if !t.AcceptedAt.IsZero() {
			first = fmt.Sprintf("%.0f", t.AcceptedAt.Sub(t.CreatedAt).Minutes())
		}
		lateFirst, lateDone := clocks.Late(t, now)
		if _, ok := t.Marks["late_first"]; ok {
			lateFirst = true
		}
		if _, ok := t.Marks["late_done"]; ok {
			lateDone = true
		}
		assignee := ""
		for _, o := range cfg.Officers {
			if o.Phone == t.Assignee {
				assignee = o.Name
			}
		}
		w.Write([]string{t.Code, string(t.Kind), string(t.Status), yesNo(t.Urgent), t.Kecamatan, string(t.Channel),
			t.Answers["reporter"], t.Answers["violence"], t.Answers["age_group"], t.Answers["sex"], t.Answers["help"],
			t.Answers["topic"], stamp(t.CreatedAt), stamp(t.AcceptedAt), stamp(t.ClosedAt), first,
			yesNo(lateFirst), yesNo(lateDone), assignee})
	}
	w.Flush()
	return w.Error()
}
