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

	"aduan/bot"
)

func ticketsCmd(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || (args[0] != "list" && args[0] != "show" && args[0] != "files" && args[0] != "erase" &&
		args[0] != "export" && args[0] != "-h" && args[0] != "--help") {
		return usagef("tickets: say list, show, files, export or erase (see aduan tickets -h)")
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(e.stdout, "Usage:\n  aduan tickets list [--config FILE] [--status S] [--kind K] [--limit N] [--json]\n"+
			"  aduan tickets show [--config FILE] [--json] CODE\n"+
			"  aduan tickets files [--config FILE] [--by NAME] --dir DIR CODE\n"+
			"      write the files the reporter sent (photos, voice notes, ...) into DIR,\n"+
			"      decrypted; the ticket gets a \"files_exported\" event\n"+
			"  aduan tickets export [--config FILE] --format csv --from 2026-11-01 --to 2026-12-01\n"+
			"      tickets created in [from, to), WITA, with their handling times; no personal data\n"+
			"  aduan tickets erase [--config FILE] [--by NAME] --yes CODE\n"+
			"      erase a ticket's personal data on the reporter's request; it keeps the\n"+
			"      fields statistics count and gets an \"erased\" event\n")
		return nil
	}
	sub := args[0]
	if sub == "erase" {
		return ticketsErase(ctx, e, args[1:])
	}
	if sub == "export" {
		return ticketsExport(ctx, e, args[1:])
	}
	if sub == "files" {
		return ticketsFiles(ctx, e, args[1:])
	}
	fs := flags(e, "tickets "+sub, "tickets "+sub+" [flags]")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	asJSON := fs.Bool("json", false, "print JSON")
	var status, kind *string
	var limit *int
	var late *bool
	if sub == "list" {
		status = fs.String("status", "", "only tickets with this status (received, done, ...)")
		kind = fs.String("kind", "", "only tickets of this kind (case or complaint)")
		limit = fs.Int("limit", 100, "at most this many tickets, newest first")
		late = fs.Bool("late", false, "only open tickets past a clock of the service standard (clocks in the configuration)")
	}
	if err := parse(fs, args[1:]); err != nil {
		return helpOK(err)
	}
	var code string
	if sub == "show" {
		if fs.NArg() != 1 {
			return usagef("tickets show: give one ticket code")
		}
		if code = bot.NormalizeCode(fs.Arg(0)); code == "" {
			return usagef("tickets show: %q is not a ticket code", fs.Arg(0))
		}
	} else if fs.NArg() > 0 {
		return usagef("tickets list: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(*path, e)
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
		fmt.Fprintln(tw, "CODE\tKIND\tSTATUS\tURGENT\tKECAMATAN\tCHANNEL\tCREATED")
		for _, t := range ts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Code, t.Kind, t.Status, yesNo(t.Urgent),
				dash(t.Kecamatan), t.Channel, t.CreatedAt.Local().Format("2006-01-02 15:04"))
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
		t.CreatedAt.Local().Format(time.RFC3339), t.UpdatedAt.Local().Format(time.RFC3339))
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
			f.Received.In(bot.WITA).Format("2006-01-02 15:04:05")+" WITA")
	}
	fmt.Fprintln(e.stdout, "Events:")
	for _, ev := range evs {
		fmt.Fprintf(e.stdout, "  %s  %-10s %-8s %s\n", ev.At.Local().Format("2006-01-02 15:04:05"), ev.Type,
			actor(ev.Actor), ev.Detail)
	}
	return nil
}

// ticketsErase is `aduan tickets erase`.
func ticketsErase(ctx context.Context, e env, args []string) error {
	fs := flags(e, "tickets erase", "tickets erase [--config FILE] [--by NAME] --yes CODE")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	by := fs.String("by", "admin", "who erases, for the ticket's history")
	yes := fs.Bool("yes", false, "erase: it cannot be undone")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if fs.NArg() != 1 {
		return usagef("tickets erase: give one ticket code")
	}
	code := bot.NormalizeCode(fs.Arg(0))
	if code == "" {
		return usagef("tickets erase: %q is not a ticket code", fs.Arg(0))
	}
	if !*yes {
		return usagef("tickets erase: erasing %s cannot be undone; run again with --yes", code)
	}
	cfg, err := loadConfig(*path, e)
	if err != nil {
		return err
	}
	pg, _, err := openStore(ctx, cfg, "tickets erase")
	if err != nil {
		return err
	}
	defer pg.Close()
	n, err := pg.EraseTicket(ctx, code, time.Now(), *by)
	if err != nil {
		if bot.KindOf(err) == bot.NotFound {
			return fmt.Errorf("tickets erase: no ticket %s", code)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "erased the personal data of %s: %s\n", code, n)
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
		out[i] = fileJSON{Number: i + 1, Kind: f.Kind, MIME: f.MIME, Size: f.Size, Received: f.Received}
	}
	return out
}

func ticketsJSON(ts []bot.Ticket) []ticketJSON {
	out := make([]ticketJSON, len(ts))
	for i, t := range ts {
		out[i] = ticketJSON{Code: t.Code, Kind: t.Kind, Status: t.Status, Urgent: t.Urgent, Kecamatan: t.Kecamatan,
			Channel: t.Channel, Reporter: t.Reporter, Answers: t.Answers, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
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

// actor shows who did something, masking a phone number.
func actor(a string) string {
	if strings.HasPrefix(a, "+") {
		return bot.Mask(a)
	}
	return a
}

// ticketsExport writes the tickets created in a period as CSV: the fields
// statistics count and the handling times, never the reporter, a name or a
// story.
func ticketsExport(ctx context.Context, e env, args []string) error {
	fs := flags(e, "tickets export", "tickets export [--config FILE] --format csv --from DATE --to DATE")
	path := fs.String("config", "", "configuration file (YAML)")
	format := fs.String("format", "csv", "output format: csv")
	fromS := fs.String("from", "", "first day, YYYY-MM-DD (WITA)")
	toS := fs.String("to", "", "day after the last, YYYY-MM-DD (WITA)")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	if *format != "csv" {
		return usagef("tickets export: --format %q: only csv", *format)
	}
	from, err1 := time.ParseInLocation("2006-01-02", *fromS, bot.WITA)
	to, err2 := time.ParseInLocation("2006-01-02", *toS, bot.WITA)
	if err1 != nil || err2 != nil || !from.Before(to) {
		return usagef("tickets export: give --from and --to as YYYY-MM-DD, from before to")
	}
	cfg, err := loadConfig(*path, e)
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
