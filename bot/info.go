package bot

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"aduan/dialog"
)

// InfoSegments is the most SMS segments one part of INFO takes.
const InfoSegments = 3

// details is INFO: the ticket, how the reporter may be contacted, its
// files, every answer whole and its whole history, in Indonesian, as parts
// of at most InfoSegments SMS segments each; the first part says how to
// read the next (INFO KODE 2). optedOut says the reporter said STOP. The
// reporter's number is shown only to call, when they agreed to calls.
func (s *Service) details(t *Ticket, evs []Event, files []Attachment, optedOut bool, now time.Time) []string {
	lines := []string{s.statusLine(t, now)}
	book := s.cfg.Book
	for _, f := range []string{"reporter", "safe", "violence", "victim", "kecamatan", "place", dialog.FieldPlaceCheck, "when",
		"help", "name", "topic", "service", "expect", "description"} {
		v := t.Answers[f]
		if v == "" {
			continue
		}
		switch st := book.Field(f); {
		case f == dialog.FieldPlaceCheck:
			v = map[string]string{"unlisted": "tidak ada di daftar desa, mohon dicek", "outside": "di luar Matim"}[v]
		case st != nil && (len(st.Choices) > 0 || st.Kind == dialog.KindPlace || st.Read != ""):
			v = book.Display(st, v, dialog.Indonesian)
		}
		label := f
		switch st := book.Field(f); {
		case f == "kecamatan":
			label = "Kec"
		case f == dialog.FieldPlaceCheck:
			label = "Cek tempat"
		case st != nil && st.Label != nil:
			label = st.Label.In(dialog.Indonesian)
		}
		lines = append(lines, label+": "+v)
	}
	lines = append(lines, s.contactLine(t, optedOut))
	if t.Answers["outcome"] == OutcomeWithdrawn {
		lines = append(lines, "Ditutup pelapor: ia menyatakan aman")
	}
	if len(files) > 0 {
		lines = append(lines, fmt.Sprintf("Lampiran: %d (%s), LAMPIRAN %s", len(files), attachmentNames(files), t.Code))
	}
	if len(evs) > 0 {
		lines = append(lines, "Riwayat:")
		last, n := "", 0
		for _, e := range evs {
			line := e.At.In(WITA).Format("02/01 15:04") + " " + s.eventText(e)
			if line == last { // read again the same minute: said once, counted
				n++
				lines[len(lines)-1] = line + " " + strconv.Itoa(n) + "x"
				continue
			}
			last, n = line, 1
			lines = append(lines, line)
		}
	}
	return paginate(t.Code, lines)
}

// contactLine says how an officer may reach the reporter: not at all
// (STOP, or "I will write"), only by BALAS, or by telephone at the number
// and hours they gave.
func (s *Service) contactLine(t *Ticket, optedOut bool) string {
	switch {
	case optedOut:
		return "JANGAN hubungi: pelapor minta STOP; tunggu ia menulis lagi"
	case t.Answers["contact"] == "none":
		return "Jangan hubungi lebih dulu: pelapor yang akan menulis"
	case t.Answers["contact"] == "call" && t.Reporter != "":
		hours := t.Answers["contact_time"]
		if hours == "" {
			hours = "kapan saja"
		}
		return "Telepon: " + t.Reporter + " (" + hours + ")"
	}
	return "Jangan telepon: hanya lewat BALAS"
}

// eventNames are the history's event types in Indonesian.
var eventNames = map[string]string{
	"created": "dibuat", "notified": "diteruskan ke petugas", "viewed": "dilihat", "accepted": "diterima",
	"note": "catatan", "relay_out": "balasan petugas", "relay_in": "pesan pelapor", "status": "status",
	"closed": "ditutup", "transferred": "dialihkan", "attachment": "lampiran", "files_sent": "lampiran dikirim",
	"files_exported": "lampiran diunduh", "completed": "dilengkapi pelapor", "updated": "pelapor menambah keterangan",
	"urgent": "DARURAT", "reopened": "dibuka lagi", "withdrawn": "ditutup pelapor", "stop": "pelapor minta STOP",
	"erased": "dihapus atas permintaan", "reminder": "pengingat", "escalated": "diteruskan ke atasan",
	"late": "terlambat", "undelivered": "pesan tidak terkirim",
}

// eventText is one event of the history in Indonesian, with what an
// officer needs of its detail: the messages and notes whole, the new
// status, who it went to; not the service's own bookkeeping.
func (s *Service) eventText(e Event) string {
	name, ok := eventNames[e.Type]
	if !ok {
		name = e.Type
	}
	who := ""
	if o, ok := s.staff.ByPhone(e.Actor); ok {
		who = " (" + firstName(o.Name) + ")"
	}
	switch e.Type {
	case "relay_in", "stop", "attachment":
		if e.Detail != "" {
			return name + ": " + e.Detail
		}
	case "note", "relay_out", "closed", "transferred", "withdrawn":
		if e.Detail != "" {
			return name + who + ": " + e.Detail
		}
	case "status":
		if st, ok := statusName[Status(e.Detail)]; ok {
			return name + who + ": " + st
		}
	}
	return name + who
}

// paginate cuts lines into parts of at most InfoSegments SMS segments,
// at line ends or, inside a long line, at spaces. Every part but the last
// ends saying how to read the next; every part but the first begins with
// the code and its number.
func paginate(code string, lines []string) []string {
	// Room for the widest header and footer a part may get.
	head := code + " (99/99)\n"
	foot := "\n(99/99) INFO " + code + " 99 untuk lanjut"
	fits := func(body string) bool { return dialog.Segments(head+body+foot) <= InfoSegments }
	var parts []string
	var cur strings.Builder
	add := func(piece string, sep string) {
		if cur.Len() > 0 && fits(cur.String()+sep+piece) {
			cur.WriteString(sep + piece)
			return
		}
		if cur.Len() == 0 && fits(piece) {
			cur.WriteString(piece)
			return
		}
		if cur.Len() > 0 {
			parts = append(parts, cur.String())
			cur.Reset()
		}
		cur.WriteString(piece)
	}
	for _, l := range lines {
		if fits(l) {
			add(l, "\n")
			continue
		}
		// A line longer than a part (a long story): word by word.
		for i, word := range strings.Fields(l) {
			sep := " "
			if i == 0 {
				sep = "\n"
			}
			for !fits(word) { // one word longer than a part: cut it
				r := []rune(word)
				k := len(r) - 1
				for k > 1 && !fits(string(r[:k])) {
					k = k * 3 / 4
				}
				add(string(r[:k]), sep)
				word, sep = string(r[k:]), ""
			}
			add(word, sep)
		}
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	n := len(parts)
	for i := range parts {
		if i > 0 {
			parts[i] = code + " (" + strconv.Itoa(i+1) + "/" + strconv.Itoa(n) + ")\n" + parts[i]
		}
		if i < n-1 {
			parts[i] += "\n(" + strconv.Itoa(i+1) + "/" + strconv.Itoa(n) + ") INFO " + code + " " + strconv.Itoa(i+2) + " untuk lanjut"
		}
	}
	return parts
}
