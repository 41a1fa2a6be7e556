package bot

import (
	"fmt"
	"mime"
	"strings"
	"time"

	"aduan/dialog"
)

// keep records the files that came with m, for the ticket with the code,
// or, with code "", for the report its sender has not filed yet (the
// AttachmentLink written when it is filed gives them to it). A file kept
// with a ticket is an event in its history.
func keep(m Inbound, code string, now time.Time, ch *Changes) {
	for i, f := range m.Files {
		ch.Attachments = append(ch.Attachments, Attachment{TicketCode: code, Channel: m.Channel, Sender: m.From,
			ExternalID: m.ExternalID, Index: i, Kind: f.Kind, MIME: f.MIME, Size: len(f.Data), Data: f.Data,
			Received: now})
		if code != "" {
			detail := f.Kind + ", " + ByteSize(len(f.Data))
			if text := dialog.Clean(m.Text); text != "" && i == 0 {
				detail += ": " + text // the caption
			}
			ch.Events = append(ch.Events, Event{TicketCode: code, At: now, Actor: "citizen", Type: "attachment", Detail: detail})
		}
	}
}

// fileNames names files for an officer, in Indonesian: "foto, pesan suara".
func fileNames(fs []File) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = FileName(f.Kind)
	}
	return strings.Join(names, ", ")
}

// attachmentNames names kept files for an officer, like fileNames.
func attachmentNames(as []Attachment) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = FileName(a.Kind)
	}
	return strings.Join(names, ", ")
}

// FileName is a file kind's name in Indonesian, for officers.
func FileName(kind string) string {
	switch kind {
	case FileImage:
		return "foto"
	case FileVoice:
		return "pesan suara"
	case FileAudio:
		return "audio"
	case FileVideo:
		return "video"
	case FileDocument:
		return "dokumen"
	case FileLocation:
		return "lokasi"
	}
	return "berkas"
}

// ByteSize writes a size for people: 900 B, 12 KB, 3.4 MB.
func ByteSize(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000-500:
		return fmt.Sprintf("%d KB", (n+500)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}

// preferredExt names the extension of the types a file of WhatsApp
// usually has where the system's table gives several.
var preferredExt = map[string]string{
	"image/jpeg": ".jpg",
	"audio/ogg":  ".ogg",
	"audio/mpeg": ".mp3",
	"audio/mp4":  ".m4a",
	"audio/aac":  ".aac",
	"video/mp4":  ".mp4",
	"video/3gpp": ".3gp",
	"text/plain": ".txt",
}

// FileExt gives a file's name an extension from its MIME type: .txt for a
// shared location, .bin for a type it does not know.
func FileExt(kind, mimeType string) string {
	if kind == FileLocation {
		return ".txt"
	}
	mt, _, err := mime.ParseMediaType(mimeType)
	if err != nil {
		return ".bin"
	}
	if ext, ok := preferredExt[mt]; ok {
		return ext
	}
	exts, _ := mime.ExtensionsByType(mt)
	// The type came from the sender: keep to a plain extension.
	for _, ext := range exts {
		if len(ext) > 1 && len(ext) <= 10 && strings.Trim(ext[1:], "abcdefghijklmnopqrstuvwxyz0123456789") == "" &&
			ext[0] == '.' {
			return ext
		}
	}
	return ".bin"
}

// maxFilesSent bounds the files one LAMPIRAN sends.
const maxFilesSent = 10

// sendFiles answers LAMPIRAN: on WhatsApp (with Config.SendFiles), a list
// of the ticket's files then each file, with a caption saying which it
// is; elsewhere, the list and where to see them.
func (s *Service) sendFiles(t *Ticket, files []Attachment, m Inbound, now time.Time, ch *Changes, reply func(string)) {
	if len(files) == 0 {
		reply(t.Code + " tidak punya lampiran.")
		return
	}
	list := fmt.Sprintf("%s: %d lampiran (%s).", t.Code, len(files), attachmentNames(files))
	if m.Channel != WhatsApp || !s.cfg.SendFiles {
		reply(list + " Berkas hanya bisa dikirim lewat WhatsApp kantor; atau lihat di kantor.")
		return
	}
	n := min(len(files), maxFilesSent)
	if n < len(files) {
		list += fmt.Sprintf(" Dikirim %d pertama; sisanya lihat di kantor.", n)
	}
	reply(list)
	for i, a := range files[:n] {
		ch.Outbox = append(ch.Outbox, Outbound{Channel: WhatsApp, To: m.From, Purpose: PurposeFile, TicketCode: t.Code,
			Attachment: a.ID, CreatedAt: now,
			Body: fmt.Sprintf("[%s] %d/%d %s, %s", t.Code, i+1, len(files), FileName(a.Kind),
				a.Received.In(WITA).Format("02/01 15:04"))})
	}
}
