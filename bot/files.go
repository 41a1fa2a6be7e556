package bot

import (
	"fmt"
	"strings"
	"time"
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
			ch.Events = append(ch.Events, Event{TicketCode: code, At: now, Actor: "citizen", Type: "attachment",
				Detail: fmt.Sprintf("%s, %s", f.Kind, byteSize(len(f.Data)))})
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

// byteSize writes a size for people: 900 B, 12 KB, 3.4 MB.
func byteSize(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%d KB", (n+500)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
