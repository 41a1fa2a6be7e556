package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"aduan/bot"
)

// fileMarker is in the content of the test's photo: it must never be
// printed by show.
const fileMarker = "ISI-FOTO-RAHASIA-7731"

// ticketWithFiles is an open case report from the citizen with a photo, a
// voice note and a shared location, received at at.
func ticketWithFiles(code string, at time.Time) *bot.Changes {
	photo := append([]byte("\xff\xd8\xff\xe0"+fileMarker), bytes.Repeat([]byte{0x5a}, 150_000)...)
	file := func(i int, kind, mime string, data []byte) bot.Attachment {
		return bot.Attachment{TicketCode: code, Channel: bot.WhatsApp, Sender: citizen, ExternalID: "3EB0" + code,
			Index: i, Kind: kind, MIME: mime, Size: len(data), Data: data, Received: at}
	}
	return &bot.Changes{
		Tickets: []bot.Ticket{{Code: code, Kind: bot.KindCase, Status: bot.StatusReceived, Channel: bot.WhatsApp,
			Reporter: citizen, CreatedAt: at, UpdatedAt: at}},
		Attachments: []bot.Attachment{
			file(0, bot.FileImage, "image/jpeg", photo),
			file(1, bot.FileVoice, "audio/ogg; codecs=opus", []byte("OggS voice")),
			file(2, bot.FileLocation, "text/plain", []byte("Lokasi: -8.61,120.45 (Pasar Borong)")),
		},
	}
}

func TestTicketsShowListsFiles(t *testing.T) {
	file, pg := commandSetup(t)
	at := time.Date(2026, 11, 10, 1, 30, 0, 0, time.UTC) // 09:30 WITA
	ch := ticketWithFiles("KS-FYLEA", at)
	// A type the sender chose, that would colour the terminal.
	hostile := ch.Attachments[0]
	hostile.Index, hostile.MIME, hostile.Data, hostile.Size = 3, "image/png\x1b[31m\r\u200e; x=1", []byte("PNG"), 3
	ch.Attachments = append(ch.Attachments, hostile)
	storeChanges(t, pg, ch)

	out, _, err := runCmd(t, "", nil, "tickets", "show", "--config", file, "KS-FYLEA")
	if err != nil {
		t.Fatalf("tickets show: %v", err)
	}
	for _, want := range []string{"Files:", "1  foto (image)", "image/jpeg", "150 KB", "2026-11-10 09:30:00 WITA",
		"2  pesan suara (voice)", "audio/ogg; codecs=opus", "10 B", "3  lokasi (location)",
		"4  foto (image)", "image/png[31m; x=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	for _, s := range append(phoneForms(citizen)[:3], fileMarker, "Pasar Borong", "OggS", "\x1b", "\r", "\u200e") {
		if strings.Contains(out, s) {
			t.Errorf("show prints %q:\n%s", s, out)
		}
	}

	out, _, err = runCmd(t, "", nil, "tickets", "show", "--config", file, "--json", "KS-FYLEA")
	if err != nil {
		t.Fatalf("tickets show --json: %v", err)
	}
	if !strings.Contains(out, `"mime": "image/jpeg"`) || strings.Contains(out, fileMarker) || strings.Contains(out, "Pasar Borong") {
		t.Errorf("show --json: want the files listed without their content:\n%s", out)
	}
}

func TestTicketsFiles(t *testing.T) {
	file, pg := commandSetup(t)
	ctx := context.Background()
	ch := ticketWithFiles("KS-FYLEB", time.Now().Add(-time.Hour))
	storeChanges(t, pg, ch)
	storeChanges(t, pg, &bot.Changes{Tickets: []bot.Ticket{{Code: "KS-TANPA", Kind: bot.KindCase,
		Status: bot.StatusReceived, Channel: bot.SMS, Reporter: citizen, CreatedAt: time.Now(), UpdatedAt: time.Now()}}})

	dir := filepath.Join(t.TempDir(), "kasus", "ks-fyleb")
	out, _, err := runCmd(t, "", nil, "tickets", "files", "--config", file, "--by", "Kepala Dinas", "--dir", dir, "ks-fyleb")
	if err != nil {
		t.Fatalf("tickets files: %v", err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("the directory: %v, %v; want it made with mode 0700", st, err)
	}
	names := []string{"KS-FYLEB-1.jpg", "KS-FYLEB-2.ogg", "KS-FYLEB-3.txt"}
	for i, name := range names {
		path := filepath.Join(dir, name)
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("file %d: %v", i+1, err)
			continue
		}
		if !bytes.Equal(got, ch.Attachments[i].Data) {
			t.Errorf("%s holds %d bytes, not the %d received", name, len(got), len(ch.Attachments[i].Data))
		}
		if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", name, st.Mode().Perm(), err)
		}
		if !strings.Contains(out, path+"  "+fileKind(ch.Attachments[i].Kind)) {
			t.Errorf("the output lacks a line for %s:\n%s", path, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != len(names) {
		t.Errorf("the output has %d lines, want one per file:\n%s", lines, out)
	}
	evs, err := pg.Events(ctx, "KS-FYLEB")
	if err != nil || len(evs) == 0 {
		t.Fatalf("events: %+v, %v", evs, err)
	}
	if last := evs[len(evs)-1]; last.Type != "files_exported" || last.Actor != "Kepala Dinas" || last.Detail != "3 files" {
		t.Errorf("last event = %+v; want files_exported by Kepala Dinas, 3 files", last)
	}

	// Again into the same directory: nothing is overwritten, nor recorded.
	if err := os.WriteFile(filepath.Join(dir, names[0]), []byte("diubah"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = runCmd(t, "", nil, "tickets", "files", "--config", file, "--dir", dir, "KS-FYLEB")
	if err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second export into the directory: %v, want a refusal", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, names[0])); string(got) != "diubah" {
		t.Errorf("the file was overwritten")
	}
	if again, _ := pg.Events(ctx, "KS-FYLEB"); len(again) != len(evs) {
		t.Errorf("a refused export was recorded: %+v", again[len(evs):])
	}

	out, _, err = runCmd(t, "", nil, "tickets", "files", "--config", file, "--dir", t.TempDir(), "KS-TANPA")
	if err != nil || !strings.Contains(out, "KS-TANPA has no files") {
		t.Errorf("a ticket without files: %q, %v", out, err)
	}
	if evs, _ := pg.Events(ctx, "KS-TANPA"); len(evs) != 0 {
		t.Errorf("exporting no files was recorded: %+v", evs)
	}
	if _, _, err := runCmd(t, "", nil, "tickets", "files", "--config", file, "--dir", t.TempDir(), "KS-ZZZZ9"); err == nil ||
		!strings.Contains(err.Error(), "no ticket KS-ZZZZ9") {
		t.Errorf("an unknown ticket: %v, want no ticket", err)
	}
}

func TestPurgeUnfiledFiles(t *testing.T) {
	file, pg := commandSetup(t)
	ctx := context.Background()
	now := time.Now()
	ch := ticketWithFiles("KS-FYLEC", now.AddDate(0, 0, -10)) // an open ticket's files: kept
	pending := func(ext string, at time.Time) bot.Attachment {
		return bot.Attachment{Channel: bot.WhatsApp, Sender: "+6281299990002", ExternalID: ext, Kind: bot.FileImage,
			MIME: "image/jpeg", Size: 3, Data: []byte("jpg"), Received: at}
	}
	ch.Attachments = append(ch.Attachments,
		pending("3EB0OLD", now.AddDate(0, 0, -unfiledFilesDays-1)), // never filed: deleted
		pending("3EB0NEW", now.AddDate(0, 0, -unfiledFilesDays+1))) // may still be filed: kept
	storeChanges(t, pg, ch)
	exists := func() []bool {
		var out []bool
		for _, a := range ch.Attachments {
			_, err := pg.Attachment(ctx, a.ID)
			if err != nil && bot.KindOf(err) != bot.NotFound {
				t.Fatal(err)
			}
			out = append(out, err == nil)
		}
		return out
	}
	all := []bool{true, true, true, true, true}
	if got := exists(); !slices.Equal(got, all) {
		t.Fatalf("stored files = %v, want all", got)
	}

	out, _, err := runCmd(t, "", nil, "purge", "--config", file, "--dry-run")
	if err != nil || !strings.Contains(out, "would delete the files of reports never filed") ||
		!strings.Contains(out, "(7 days): 1\n") {
		t.Fatalf("purge --dry-run = %q, %v; want one file counted", out, err)
	}
	if got := exists(); !slices.Equal(got, all) {
		t.Errorf("after a dry run, files = %v, want all kept", got)
	}
	out, _, err = runCmd(t, "", nil, "purge", "--config", file)
	if err != nil || !strings.Contains(out, "deleted the files of reports never filed") || !strings.Contains(out, "(7 days): 1\n") {
		t.Fatalf("purge = %q, %v; want one file deleted", out, err)
	}
	if got, want := exists(), []bool{true, true, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("after purge, files = %v, want %v", got, want)
	}
}
