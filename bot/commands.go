package bot

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"aduan/dialog"
)

// Command is an officer's or supervisor's message, parsed.
type Command struct {
	Verb string // canonical Indonesian verb: terima, info, catat, ...
	Code string // the ticket code, normalized; "" when none was given
	Arg  string // the rest: a note, a message, a status, an officer, a period
}

// verbs maps what officers may type to the canonical verb.
var verbs = map[string]string{
	"terima": "terima", "accept": "terima", "ambil": "terima",
	"info": "info", "detail": "info", "rincian": "info",
	"catat": "catat", "catatan": "catat", "note": "catat",
	"balas": "balas", "reply": "balas", "kirim": "balas",
	"status":  "status",
	"selesai": "selesai", "done": "selesai", "tutup": "selesai", "close": "selesai",
	"alihkan": "alihkan", "transfer": "alihkan", "pindah": "alihkan",
	"tiket": "tiket", "tickets": "tiket", "mine": "tiket",
	"bantuan": "bantuan", "help": "bantuan", "menu": "bantuan",
	"rekap": "rekap", "summary": "rekap",
	"terlambat": "terlambat", "late": "terlambat",
	"petugas": "petugas", "officers": "petugas",
	"lampiran": "lampiran", "files": "lampiran", "berkas": "lampiran", "foto": "lampiran",
}

// needsCode lists the verbs that act on one ticket, with their usage.
var needsCode = map[string]string{
	"terima":   "TERIMA <kode>",
	"info":     "INFO <kode> [bagian]",
	"catat":    "CATAT <kode> <catatan>",
	"balas":    "BALAS <kode> <pesan>",
	"selesai":  "SELESAI <kode> <ringkasan>",
	"alihkan":  "ALIHKAN <kode> <nama petugas>",
	"lampiran": "LAMPIRAN <kode>",
}

// ParseCommand reads an officer's message: case-insensitive, forgiving about
// spacing and about how the code is typed ("ks 7hq4xm", "KS7HQ4XM"). It
// reports false if the message is not a command at all.
func ParseCommand(text string) (Command, bool) {
	text = dialog.Clean(text)
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return Command{}, false
	}
	verb, ok := verbs[strings.ToLower(strings.Trim(fields[0], ".,:;!?"))]
	if !ok {
		return Command{}, false
	}
	c := Command{Verb: verb}
	rest := fields[1:]
	if _, takesCode := needsCode[verb]; (takesCode || verb == "status") && len(rest) > 0 {
		switch {
		case NormalizeCode(rest[0]) != "":
			c.Code, rest = NormalizeCode(rest[0]), rest[1:]
		case len(rest) > 1 && isPrefix(rest[0]) && NormalizeCode(rest[0]+rest[1]) != "":
			c.Code, rest = NormalizeCode(rest[0]+rest[1]), rest[2:] // "KS 7HQ4XM"
		}
	}
	c.Arg = strings.Join(rest, " ")
	return c, true
}

// isPrefix reports whether s can be a code's prefix: two to four letters.
func isPrefix(s string) bool {
	if len(s) < 2 || len(s) > 4 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// commandHelp is BANTUAN for officers: two SMS at most.
const commandHelp = "Perintah: TERIMA kode | INFO kode | CATAT kode teks | BALAS kode pesan | " +
	"STATUS kode dinilai/didampingi/dirujuk/selesai | SELESAI kode ringkasan | ALIHKAN kode nama | TIKET | " +
	"LAMPIRAN kode"

const supervisorHelp = " | Pimpinan: STATUS kode | REKAP / REKAP MINGGU / REKAP BULAN | TERLAMBAT | PETUGAS"

// statusWords maps what officers may type to a status.
var statusWords = map[string]Status{
	"diterima": StatusReceived, "received": StatusReceived, "terima": StatusReceived,
	"dinilai": StatusAssessed, "asesmen": StatusAssessed, "assessed": StatusAssessed, "dinilaikan": StatusAssessed,
	"didampingi": StatusAccompanied, "pendampingan": StatusAccompanied, "accompanied": StatusAccompanied,
	"proses": StatusAccompanied, "diproses": StatusAccompanied,
	"dirujuk": StatusReferred, "rujuk": StatusReferred, "referred": StatusReferred,
	"selesai": StatusDone, "done": StatusDone,
}

// isStatusWord reports whether arg starts with a status an officer may set.
func isStatusWord(arg string) bool {
	f := strings.Fields(arg)
	return len(f) > 0 && statusWords[strings.ToLower(f[0])] != ""
}

// statusName is a status in the officers' words.
var statusName = map[Status]string{StatusReceived: "diterima", StatusAssessed: "dinilai",
	StatusAccompanied: "didampingi", StatusReferred: "dirujuk", StatusDone: "selesai"}

// LockingTx is a transaction that can read a ticket for change.
type LockingTx interface {
	// Ticket reads a ticket and locks it until the transaction ends.
	// Returns NotFound if no ticket has the code.
	Ticket(ctx context.Context, code string) (Ticket, error)
}

// TicketsLocker is a transaction that can read several tickets for
// change in one round trip.
type TicketsLocker interface {
	// LockTickets reads the tickets with the codes and locks them until
	// the transaction ends. Codes no ticket has are left out.
	LockTickets(ctx context.Context, codes []string) ([]Ticket, error)
}

// work is what one batch reads and changes of existing tickets: each
// ticket is read once, under lock, and written once.
type work struct {
	tx      Tx
	retry   bool // the batch is tried again after a Conflict
	tickets map[string]*Ticket
	changed []string
}

func (w *work) ticket(ctx context.Context, code string) (*Ticket, error) {
	if t, ok := w.tickets[code]; ok {
		return t, nil
	}
	lt, ok := w.tx.(LockingTx)
	if !ok {
		return nil, E("read ticket", Other, fmt.Errorf("store cannot lock tickets"))
	}
	t, err := lt.Ticket(ctx, code)
	if err != nil {
		return nil, err
	}
	if w.tickets == nil {
		w.tickets = map[string]*Ticket{}
	}
	w.tickets[code] = &t
	return &t, nil
}

// prefetch reads, under lock, the tickets with the codes that the batch
// is likely to change, in one round trip where the store can; ticket then
// finds them. A code with no ticket is left for ticket to report.
func (w *work) prefetch(ctx context.Context, codes []string) error {
	tl, ok := w.tx.(TicketsLocker)
	if !ok || len(codes) == 0 {
		return nil
	}
	ts, err := tl.LockTickets(ctx, codes)
	if err != nil {
		return err
	}
	if w.tickets == nil {
		w.tickets = make(map[string]*Ticket, len(ts))
	}
	for i := range ts {
		if _, ok := w.tickets[ts[i].Code]; !ok {
			w.tickets[ts[i].Code] = &ts[i]
		}
	}
	return nil
}

func (w *work) touch(t *Ticket, now time.Time) {
	t.UpdatedAt = now
	if !contains(w.changed, t.Code) {
		w.changed = append(w.changed, t.Code)
	}
}

// flush adds the changed tickets to ch, with their next clock action.
func (w *work) flush(ch *Changes, clocks Clocks) {
	for _, code := range w.changed {
		t := w.tickets[code]
		t.NextDue = clocks.NextDue(t)
		ch.Updates = append(ch.Updates, *t)
	}
}

// command carries out one officer's command and answers them.
func (s *Service) command(ctx context.Context, w *work, o Officer, c Command, m Inbound, now time.Time, ch *Changes) error {
	reply := func(text string) {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: m.Channel, To: m.From, Body: text, Purpose: PurposeReply,
			TicketCode: c.Code, CreatedAt: now})
	}
	event := func(t *Ticket, typ, detail string) {
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: o.Phone, Type: typ, Detail: detail})
	}
	if summary := c.Verb == "rekap" || c.Verb == "terlambat" || c.Verb == "petugas" ||
		c.Verb == "status" && c.Code != "" && o.Role == RoleSupervisor && !isStatusWord(c.Arg); summary && s.cfg.SupervisorPIN != "" {
		arg, ok := strings.CutSuffix(" "+c.Arg, " "+s.cfg.SupervisorPIN)
		if !ok || o.Role != RoleSupervisor {
			reply("Perintah pimpinan perlu PIN di akhir, mis: " + strings.ToUpper(c.Verb) + " PIN.")
			return nil
		}
		c.Arg = strings.TrimSpace(arg)
	}
	if usage, ok := needsCode[c.Verb]; ok && c.Code == "" {
		reply("Format: " + usage)
		return nil
	}
	if c.Verb == "status" && c.Code == "" {
		reply("Format: STATUS <kode> [dinilai/didampingi/dirujuk/selesai]")
		return nil
	}
	var t *Ticket
	if c.Code != "" {
		var err error
		t, err = w.ticket(ctx, c.Code)
		if KindOf(err) == NotFound {
			reply("Tiket " + c.Code + " tidak ditemukan.")
			return nil
		}
		if err != nil {
			return err
		}
		if t.StaffComplaint() && o.Role != RoleSupervisor && t.Assignee != o.Phone && !contains(t.Backups, o.Phone) {
			reply(t.Code + " adalah aduan tentang sikap petugas: hanya untuk pimpinan.")
			return nil
		}
	}
	switch c.Verb {
	case "terima":
		if !t.Open() {
			reply(t.Code + " sudah selesai.")
			return nil
		}
		if t.Assignee != "" && t.Assignee != o.Phone && !t.AcceptedAt.IsZero() {
			reply(t.Code + " sudah diterima oleh " + s.staff.Name(t.Assignee) + ".")
			return nil
		}
		first := t.AcceptedAt.IsZero()
		t.Assignee = o.Phone
		if first {
			t.AcceptedAt = now
		}
		w.touch(t, now)
		event(t, "accepted", "")
		reply(t.Code + " Anda terima. INFO " + t.Code + " untuk rincian.")
		if first {
			s.tellCitizen(ctx, t, "progress.accepted", now, ch)
		}
	case "info":
		if !s.mayRead(o, t) {
			reply(t.Code + " ditangani petugas lain. Hubungi pimpinan.")
			return nil
		}
		evs, err := s.cfg.Store.Events(ctx, t.Code)
		if err != nil {
			return err
		}
		files, err := s.cfg.Store.Attachments(ctx, t.Code)
		if err != nil {
			return err
		}
		out, err := s.optedOut(ctx, t.Reporter)
		if err != nil {
			return err
		}
		pages := s.details(t, evs, files, out, now)
		page := 1
		if n, err := strconv.Atoi(strings.TrimSpace(c.Arg)); err == nil {
			page = n
		}
		if page < 1 || page > len(pages) {
			reply(fmt.Sprintf("%s hanya %d bagian: INFO %s 1 sampai %d.", t.Code, len(pages), t.Code, len(pages)))
			return nil
		}
		reply(pages[page-1])
		detail := "" // who read a report is part of its history
		if page > 1 {
			detail = "bagian " + strconv.Itoa(page)
		}
		event(t, "viewed", detail)
	case "lampiran":
		if !s.mayRead(o, t) {
			reply(t.Code + " ditangani petugas lain. Hubungi pimpinan.")
			return nil
		}
		files, err := s.cfg.Store.Attachments(ctx, t.Code)
		if err != nil {
			return err
		}
		s.sendFiles(t, files, m, now, ch, reply)
		if len(files) > 0 && m.Channel == WhatsApp && s.cfg.SendFiles {
			event(t, "files_sent", fmt.Sprintf("%d", min(len(files), maxFilesSent)))
		}
	case "catat":
		if c.Arg == "" {
			reply("Format: " + needsCode["catat"])
			return nil
		}
		event(t, "note", c.Arg)
		w.touch(t, now)
		reply("Catatan disimpan di " + t.Code + ".")
	case "balas":
		if c.Arg == "" {
			reply("Format: " + needsCode["balas"])
			return nil
		}
		if !t.Open() && now.Sub(t.ClosedAt) > LiveWindow {
			reply(t.Code + " sudah selesai lebih dari 7 hari; pesan tidak dikirim.")
			return nil
		}
		if t.Assignee != "" && t.Assignee != o.Phone && o.Role != RoleSupervisor {
			reply(t.Code + " ditangani " + s.staff.Name(t.Assignee) + "; pesan tidak dikirim.")
			return nil
		}
		if t.Answers["contact"] == "none" {
			reply("Pelapor " + t.Code + " minta tidak dihubungi lebih dulu; pesan tidak dikirim.")
			return nil
		}
		if out, err := s.optedOut(ctx, t.Reporter); err != nil {
			return err
		} else if out {
			reply("Pelapor " + t.Code + " menulis STOP; pesan tidak dikirim sampai ia menulis lagi.")
			return nil
		}
		if t.Assignee == "" {
			t.Assignee = o.Phone
			if t.AcceptedAt.IsZero() {
				t.AcceptedAt = now
				event(t, "accepted", "")
			}
		}
		t.Relay = t.Open()
		w.touch(t, now)
		ch.Outbox = append(ch.Outbox, Outbound{Channel: t.Channel, To: t.Reporter,
			Body: "Petugas Dinsos (" + t.Code + "): " + c.Arg, Purpose: PurposeRelay, TicketCode: t.Code, CreatedAt: now})
		event(t, "relay_out", c.Arg)
		reply("Terkirim ke pelapor " + t.Code + ".")
	case "status":
		if c.Arg == "" {
			reply(s.statusLine(t, now))
			return nil
		}
		st, ok := statusWords[strings.ToLower(strings.Fields(c.Arg)[0])]
		if !ok {
			reply("Status tidak dikenal. Pilih: dinilai, didampingi, dirujuk, selesai.")
			return nil
		}
		if !t.Open() {
			reply(t.Code + " sudah selesai.")
			return nil
		}
		s.setStatus(ctx, w, t, st, o, "", now, ch)
		reply(t.Code + " sekarang " + statusName[st] + ".")
	case "selesai":
		if !t.Open() {
			reply(t.Code + " sudah selesai.")
			return nil
		}
		s.setStatus(ctx, w, t, StatusDone, o, c.Arg, now, ch)
		reply(t.Code + " ditutup. Terima kasih.")
	case "alihkan":
		to, ok := s.staff.Find(c.Arg)
		if !ok || to.Role != RoleOfficer && to.Role != RoleSupervisor {
			reply("Petugas \"" + dialogCut(c.Arg, 20) + "\" tidak dikenal. Tulis sebagian nama atau nomornya.")
			return nil
		}
		if !t.Open() {
			reply(t.Code + " sudah selesai.")
			return nil
		}
		from := t.Assignee
		t.Assignee = to.Phone
		w.touch(t, now)
		event(t, "transferred", s.staff.Name(from)+" -> "+to.Name)
		ch.Outbox = append(ch.Outbox, Outbound{Channel: to.NotifyChannel(), To: to.Phone, Purpose: PurposeNotify, TicketCode: t.Code,
			Body:      t.Code + " dialihkan kepada Anda oleh " + o.Name + ". Balas TERIMA " + t.Code + ", INFO " + t.Code + ".",
			CreatedAt: now})
		reply(t.Code + " dialihkan ke " + to.Name + ".")
	case "tiket":
		ts, err := s.cfg.Store.Tickets(ctx, TicketFilter{Assignee: o.Phone, Open: true, Limit: 200})
		if err != nil {
			return err
		}
		reply(s.ticketList("Tiket Anda", ts, now))
	case "bantuan":
		if o.Role == RoleSupervisor {
			reply(commandHelp + supervisorHelp)
		} else {
			reply(commandHelp)
		}
	case "rekap", "terlambat", "petugas":
		if o.Role != RoleSupervisor {
			reply("Perintah ini untuk pimpinan. Ketik BANTUAN.")
			return nil
		}
		text, err := s.supervisorReport(ctx, c, now)
		if err != nil {
			return err
		}
		reply(text)
	}
	return nil
}

// setStatus moves t to st, recording the change and telling the reporter.
func (s *Service) setStatus(ctx context.Context, w *work, t *Ticket, st Status, o Officer, summary string, now time.Time, ch *Changes) {
	t.Status = st
	if t.Assignee == "" {
		t.Assignee = o.Phone
	}
	if t.AcceptedAt.IsZero() {
		t.AcceptedAt = now
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: o.Phone, Type: "accepted"})
	}
	w.touch(t, now)
	ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: o.Phone, Type: "status", Detail: string(st)})
	if st == StatusDone {
		t.ClosedAt = now
		t.Relay = false
		ch.Events = append(ch.Events, Event{TicketCode: t.Code, At: now, Actor: o.Phone, Type: "closed", Detail: summary})
	}
	s.tellCitizen(ctx, t, "progress."+string(st), now, ch)
}

// tellCitizen sends the reporter a short progress message in their
// language, in words that fit what they sent (a report, a complaint, a
// request to talk to an officer), unless they asked not to be written to
// first or said STOP, or told nothing the message could be about (a cry
// for help that went no further, a question taken for one), or closed the
// ticket themselves.
func (s *Service) tellCitizen(ctx context.Context, t *Ticket, text string, now time.Time, ch *Changes) {
	if t.Reporter == "" || t.Answers["contact"] == "none" || !t.HasContent() || t.Answers["outcome"] == OutcomeWithdrawn {
		return
	}
	if out, err := s.optedOut(ctx, t.Reporter); err != nil || out {
		return
	}
	body := s.cfg.Book.Text(s.progressText(t, text), dialog.Lang(t.Answers["lang"]))
	if body == "" {
		return
	}
	ch.Outbox = append(ch.Outbox, Outbound{Channel: t.Channel, To: t.Reporter, Purpose: PurposeProgress,
		TicketCode: t.Code, Body: strings.ReplaceAll(body, "{code}", t.Code), CreatedAt: now})
}

// progressText is the name of the progress text for t: name itself for a
// report, or its complaint or request form (progress.update.* for the
// steps between acceptance and the end).
func (s *Service) progressText(t *Ticket, name string) string {
	variant := ""
	switch {
	case t.Kind == KindComplaint:
		variant = "complaint"
	case t.Answers["request"] == "officer":
		variant = "request"
	default:
		return name
	}
	if name != "progress.accepted" && name != "progress.done" {
		name = "progress.update"
	}
	return name + "." + variant
}

// OptOuts is implemented by stores that remember who said STOP.
type OptOuts interface {
	OptedOut(ctx context.Context, addr string) (bool, error)
}

func (s *Service) optedOut(ctx context.Context, addr string) (bool, error) {
	if oo, ok := s.cfg.Store.(OptOuts); ok {
		return oo.OptedOut(ctx, addr)
	}
	return false, nil
}

// mayRead reports whether o may see t's details: supervisors, the
// assignee and the backups, or any officer while nobody has it.
func (s *Service) mayRead(o Officer, t *Ticket) bool {
	return o.Role == RoleSupervisor || t.Assignee == "" && !t.StaffComplaint() || t.Assignee == o.Phone ||
		contains(t.Backups, o.Phone)
}

// statusLine is a ticket's status, assignee, age and lateness in one line.
func (s *Service) statusLine(t *Ticket, now time.Time) string {
	line := t.Code + ": " + statusName[t.Status] + ", " + s.staff.Name(t.Assignee) + ", umur " + age(now.Sub(t.CreatedAt))
	if t.Urgent {
		line += ", DARURAT"
	}
	if first, done := s.cfg.Clocks.Late(t, now); first || done {
		line += ", TERLAMBAT"
	}
	return line + "."
}

// ticketList lists tickets oldest first in at most two SMS.
func (s *Service) ticketList(title string, ts []Ticket, now time.Time) string {
	if len(ts) == 0 {
		return title + ": tidak ada."
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].CreatedAt.Before(ts[j].CreatedAt) })
	b := strings.Builder{}
	b.WriteString(fmt.Sprintf("%s (%d):", title, len(ts)))
	for i, t := range ts {
		item := fmt.Sprintf("\n%s %s %s", t.Code, statusName[t.Status], age(now.Sub(t.CreatedAt)))
		if s.cfg.Clocks.IsLate(&t, now) {
			item += " TERLAMBAT"
		}
		if b.Len()+len(item) > 290 {
			b.WriteString(fmt.Sprintf("\n+%d lagi", len(ts)-i))
			break
		}
		b.WriteString(item)
	}
	return b.String()
}

// age says how old something is, shortly: 25m, 3j, 2h.
func age(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dj", int(d.Hours()))
	}
	return fmt.Sprintf("%dh", int(d.Hours()/24))
}

func dialogCut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-2]) + ".."
}

// supervisorReport answers REKAP, TERLAMBAT and PETUGAS.
func (s *Service) supervisorReport(ctx context.Context, c Command, now time.Time) (string, error) {
	local := now.In(WITA)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, WITA)
	switch c.Verb {
	case "rekap":
		since, title := day, "REKAP hari ini"
		switch strings.ToLower(strings.TrimSpace(c.Arg)) {
		case "minggu", "week", "mingguan":
			since, title = day.AddDate(0, 0, -6), "REKAP 7 hari"
		case "bulan", "month", "bulanan":
			// the monthly report's own numbers, as `aduan report` prints them
			if rs, ok := s.cfg.Store.(ReportStore); ok {
				from, to := MonthOf(local)
				ts, evs, err := rs.TicketsCreated(ctx, from, to)
				if err != nil {
					return "", err
				}
				return MonthlyReport(ts, evs, from, to, now).Summary(), nil
			}
			since, title = time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, WITA), "REKAP bulan ini"
		}
		n, err := s.count(ctx, since, now)
		if err != nil {
			return "", err
		}
		return s.recap(title, n), nil
	case "terlambat":
		open, err := s.cfg.Store.Tickets(ctx, TicketFilter{Open: true})
		if err != nil {
			return "", err
		}
		var late []Ticket
		for _, t := range open {
			if s.cfg.Clocks.IsLate(&t, now) {
				late = append(late, t)
			}
		}
		if len(late) == 0 {
			return "Tidak ada tiket terlambat.", nil
		}
		sort.Slice(late, func(i, j int) bool { return late[i].CreatedAt.Before(late[j].CreatedAt) })
		b := strings.Builder{}
		b.WriteString(fmt.Sprintf("Terlambat (%d):", len(late)))
		for i, t := range late {
			item := fmt.Sprintf("\n%s %s %s", t.Code, s.staff.Name(t.Assignee), age(now.Sub(t.CreatedAt)))
			if b.Len()+len(item) > 290 {
				b.WriteString(fmt.Sprintf("\n+%d lagi", len(late)-i))
				break
			}
			b.WriteString(item)
		}
		return b.String(), nil
	default: // petugas
		open, err := s.cfg.Store.Tickets(ctx, TicketFilter{Open: true})
		if err != nil {
			return "", err
		}
		b := strings.Builder{}
		b.WriteString("Petugas (terbuka/terlambat):")
		counts := map[string][2]int{}
		for _, t := range open {
			n := counts[t.Assignee]
			n[0]++
			if s.cfg.Clocks.IsLate(&t, now) {
				n[1]++
			}
			counts[t.Assignee] = n
		}
		for _, o := range s.staff.Officers() {
			n := counts[o.Phone]
			b.WriteString(fmt.Sprintf("\n%s %d/%d", o.Name, n[0], n[1]))
		}
		if n := counts[""]; n[0] > 0 {
			b.WriteString(fmt.Sprintf("\nBelum diambil %d/%d", n[0], n[1]))
		}
		return b.String(), nil
	}
}

// summaryCounts is what REKAP and the daily digest count: the tickets created
// since a time, the tickets open now, how many of those are late, and how
// many tickets were done since that time.
type summaryCounts struct {
	created, open []Ticket
	late, done    int
}

func (s *Service) count(ctx context.Context, since, now time.Time) (summaryCounts, error) {
	var n summaryCounts
	var err error
	if n.created, err = s.cfg.Store.Tickets(ctx, TicketFilter{Since: since}); err != nil {
		return n, err
	}
	if n.open, err = s.cfg.Store.Tickets(ctx, TicketFilter{Open: true}); err != nil {
		return n, err
	}
	closed, err := s.cfg.Store.Tickets(ctx, TicketFilter{Status: StatusDone, Since: since.AddDate(0, 0, -60)})
	if err != nil {
		return n, err
	}
	for i := range n.open {
		if s.cfg.Clocks.IsLate(&n.open[i], now) {
			n.late++
		}
	}
	for _, t := range closed {
		if !t.ClosedAt.Before(since) {
			n.done++
		}
	}
	return n, nil
}

// recap says new, open, urgent, late and done tickets, by kind and by officer.
func (s *Service) recap(title string, n summaryCounts) string {
	var newCase, newComplaint, urgent int
	for _, t := range n.created {
		if t.Kind == KindComplaint {
			newComplaint++
		} else {
			newCase++
		}
		if t.Urgent {
			urgent++
		}
	}
	byOfficer := map[string]int{}
	for _, t := range n.open {
		byOfficer[t.Assignee]++
	}
	b := strings.Builder{}
	b.WriteString(fmt.Sprintf("%s: baru %d (kasus %d, aduan %d), darurat %d, selesai %d. Terbuka %d, terlambat %d.",
		title, newCase+newComplaint, newCase, newComplaint, urgent, n.done, len(n.open), n.late))
	for _, o := range s.staff.Officers() {
		b.WriteString(fmt.Sprintf(" %s %d.", firstName(o.Name), byOfficer[o.Phone]))
	}
	if c := byOfficer[""]; c > 0 {
		b.WriteString(fmt.Sprintf(" Belum diambil %d.", c))
	}
	return b.String()
}

func firstName(n string) string {
	if f := strings.Fields(n); len(f) > 0 {
		return f[0]
	}
	return n
}
