package whatsapp_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"aduan/bot"
	"aduan/channels/whatsapp"
)

func voiceNote(path string, size int) *waE2E.Message {
	return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{PTT: proto.Bool(true), Seconds: proto.Uint32(9),
		FileLength: proto.Uint64(uint64(size)), Mimetype: proto.String("audio/ogg; codecs=opus"), DirectPath: proto.String(path)}}
}

func photoMsg(path, caption string, size int) *waE2E.Message {
	return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{FileLength: proto.Uint64(uint64(size)),
		Mimetype: proto.String("image/jpeg"), DirectPath: proto.String(path), Caption: proto.String(caption)}}
}

func locationMsg(lat, lon float64, name string) *waE2E.Message {
	return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{DegreesLatitude: proto.Float64(lat),
		DegreesLongitude: proto.Float64(lon), Name: proto.String(name)}}
}

// say sends the citizen's texts one by one, each a new message.
func (h *harness) say(prefix string, texts ...string) {
	h.t.Helper()
	for i, s := range texts {
		if !h.fake.emit(dm(prefix+string(rune('a'+i)), citizen, text(s))) {
			h.t.Fatalf("%q not acknowledged", s)
		}
	}
}

// onlyTicket returns the one ticket in the store.
func (h *harness) onlyTicket() bot.Ticket {
	h.t.Helper()
	ts, err := h.pg.Tickets(context.Background(), bot.TicketFilter{})
	if err != nil || len(ts) != 1 {
		h.t.Fatalf("tickets = %d (%v), want 1", len(ts), err)
	}
	return ts[0]
}

// A voice note and a location sent during a report are kept with its
// ticket, sealed, and the officer hears of them; a location shared at the
// question of the place answers it.
func TestFilesKeptWithReport(t *testing.T) {
	h := newHarness(t)
	voice := bytes.Repeat([]byte("OggS voice "), 4000)
	h.fake.putMedia("/v/voice1", voice)

	h.say("A", "halo", "1", "1", "tidak", "1") // at the victim question
	if !h.fake.emit(dm("V1", citizen, voiceNote("/v/voice1", len(voice)))) {
		t.Fatal("voice note not acknowledged")
	}
	h.settle()
	replies := h.repliesTo(citizen)
	if last := replies[len(replies)-1]; !strings.HasPrefix(last, "Terima kasih, berkas Anda kami simpan") ||
		!strings.Contains(last, "Korban adalah") {
		t.Errorf("reply to a voice note = %q, want it acknowledged and the question asked again", last)
	}
	if !h.fake.emit(dm("P1", citizen, locationMsg(-8.61, 120.45, "Pasar Borong"))) { // not the place question: kept
		t.Fatal("location not acknowledged")
	}
	h.say("B", "1")
	if !h.fake.emit(dm("P2", citizen, locationMsg(-8.62, 120.46, "Rumah"))) { // the place question
		t.Fatal("location not acknowledged")
	}
	h.say("C", "Borong", "masih", "Dipukul suami", "1", "3", "ya")
	h.settle()

	tk := h.onlyTicket()
	if got, want := tk.Answers["place"], "Lokasi: -8.620000,120.460000 (Rumah)"; got != want {
		t.Errorf("place = %q, want the shared location %q", got, want)
	}
	files, err := h.pg.Attachments(context.Background(), tk.Code)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, f := range files {
		kinds = append(kinds, f.Kind)
		if f.Sender != "+"+citizen || f.Data != nil {
			t.Errorf("listed file %+v: want the citizen as sender and no data in a listing", f)
		}
	}
	if strings.Join(kinds, ",") != "voice,location,location" {
		t.Fatalf("files = %v, want voice,location,location", kinds)
	}
	got, err := h.pg.Attachment(context.Background(), files[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, voice) || got.MIME != "audio/ogg; codecs=opus" || got.Size != len(voice) {
		t.Errorf("voice note read back: %s, %d bytes (%d), want the %d bytes sent", got.MIME, len(got.Data), got.Size, len(voice))
	}
	entries, err := h.pg.Outbox(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var note string
	for _, e := range entries {
		if e.To == officer && e.Purpose == bot.PurposeNotify {
			note = e.Body
		}
	}
	if !strings.Contains(note, tk.Code) || !strings.Contains(note, "Lampiran: 3") {
		t.Errorf("officer's notice = %q, want the ticket and its 3 files", note)
	}
}

// A file sent once an urgent ticket is open goes straight to it, with an
// event in its history.
func TestFileOnOpenTicket(t *testing.T) {
	h := newHarness(t)
	photo := []byte("\xff\xd8\xff a bruise")
	h.fake.putMedia("/v/bruise", photo)
	h.say("D", "halo", "tolong saya dipukul suami") // words of danger: an urgent ticket now
	tk := h.onlyTicket()
	if !h.fake.emit(dm("I1", citizen, photoMsg("/v/bruise", "", len(photo)))) {
		t.Fatal("photo not acknowledged")
	}
	files, err := h.pg.Attachments(context.Background(), tk.Code)
	if err != nil || len(files) != 1 || files[0].Kind != bot.FileImage {
		t.Fatalf("files of %s = %+v (%v), want the photo", tk.Code, files, err)
	}
	evs, err := h.pg.Events(context.Background(), tk.Code)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != "attachment" || !strings.HasPrefix(last.Detail, "image") {
		t.Errorf("last event = %+v, want the photo's", last)
	}
}

// A download that fails for a passing reason leaves the message for
// WhatsApp to deliver again; one that keeps failing, or cannot succeed, is
// not stored, and the citizen is asked to send it again. A file larger
// than it said it was is refused like any too large one.
func TestFetchFailures(t *testing.T) {
	h := newHarness(t, func(c *whatsapp.Config) { c.MediaMaxBytes = 1000 })
	h.fake.putMedia("/v/flaky", []byte("photo"))
	h.fake.mediaFail["/v/flaky"] = 2 // the media server fails twice
	evt := dm("X1", citizen, photoMsg("/v/flaky", "", 5))
	for i := 1; i <= 2; i++ {
		if h.fake.emit(evt) {
			t.Fatalf("delivery %d acknowledged although its photo was not downloaded", i)
		}
	}
	if !h.fake.emit(evt) { // WhatsApp delivers it a third time
		t.Fatal("third delivery not acknowledged")
	}
	if got := h.rec.received(); len(got) != 1 || len(got[0].Files) != 1 || string(got[0].Files[0].Data) != "photo" {
		t.Fatalf("pipeline got %+v, want the photo once, on the third delivery", got)
	}
	// A media server that keeps failing: after fetchRetries deliveries the
	// citizen is asked to send it again, and the message is acknowledged.
	h.fake.putMedia("/v/down", []byte("photo"))
	h.fake.mediaFail["/v/down"] = 100
	down := dm("X0", citizen, photoMsg("/v/down", "", 5))
	acked := 0
	for i := 0; i < 5 && acked == 0; i++ {
		if h.fake.emit(down) {
			acked = i + 1
		}
	}
	if acked != 4 {
		t.Errorf("a file that never downloads: acknowledged on delivery %d, want 4 (after 3 left for redelivery)", acked)
	}

	// Expired on WhatsApp's servers: no file, a request to send it again.
	if !h.fake.emit(dm("X2", citizen, photoMsg("/v/gone", "", 5))) {
		t.Fatal("not acknowledged")
	}
	eventually(t, "two requests to send again", func() bool {
		n := 0
		for _, r := range h.repliesTo(citizen) {
			if strings.Contains(r, "gagal kami terima") {
				n++
			}
		}
		return n == 2
	})
	if got := h.rec.received(); len(got) != 1 {
		t.Errorf("pipeline got %d messages, want still 1: a lost file alone is not a message", len(got))
	}
	// With a caption, the caption still goes on, without the file.
	if !h.fake.emit(dm("X3", citizen, photoMsg("/v/gone", "Borong", 5))) {
		t.Fatal("not acknowledged")
	}
	if got := h.rec.received(); len(got) != 2 || got[1].Text != "Borong" || len(got[1].Files) != 0 {
		t.Errorf("pipeline got %+v, want the caption alone", got[len(got)-1])
	}

	// Said 5 bytes, is 5000.
	h.fake.putMedia("/v/liar", bytes.Repeat([]byte("x"), 5000))
	if !h.fake.emit(dm("X4", citizen, photoMsg("/v/liar", "", 5))) {
		t.Fatal("not acknowledged")
	}
	eventually(t, "the too-large notice", func() bool {
		for _, r := range h.repliesTo(citizen) {
			if strings.Contains(r, "terlalu besar") {
				return true
			}
		}
		return false
	})
	if got := h.rec.received(); len(got) != 2 {
		t.Errorf("pipeline got %d messages, want 2", len(got))
	}
}

// An officer on WhatsApp asks for a ticket's files and gets each as what it
// is, with a caption; a location comes as text. The request is part of the
// ticket's history.
func TestOfficerGetsFiles(t *testing.T) {
	h := newHarness(t)
	photo, voice := []byte("\xff\xd8\xff a bruise"), []byte("OggS the story")
	h.fake.putMedia("/v/p", photo)
	h.fake.putMedia("/v/v", voice)
	h.say("E", "halo", "tolong saya dipukul suami") // an urgent ticket now
	tk := h.onlyTicket()
	for i, m := range []*waE2E.Message{photoMsg("/v/p", "", len(photo)), voiceNote("/v/v", len(voice)),
		locationMsg(-8.6, 120.5, "Rumah")} {
		if !h.fake.emit(dm("F"+string(rune('a'+i)), citizen, m)) {
			t.Fatal("not acknowledged")
		}
	}
	h.settle()
	before := len(h.fake.Sent())
	staff := strings.TrimPrefix(officer, "+")
	if !h.fake.emit(dm("O1", staff, text("lampiran "+tk.Code))) {
		t.Fatal("command not acknowledged")
	}
	h.settle()
	var got []sent
	for _, s := range h.fake.Sent()[before:] {
		if s.To == pn(staff) {
			got = append(got, s)
		}
	}
	if len(got) != 4 {
		t.Fatalf("officer got %d messages, want the list and 3 files", len(got))
	}
	if want := tk.Code + ": 3 lampiran (foto, pesan suara, lokasi)."; got[0].Text() != want {
		t.Errorf("list = %q, want %q", got[0].Text(), want)
	}
	img := got[1].Msg.GetImageMessage()
	if img == nil || !bytes.Equal(h.fake.mediaAt(img.GetDirectPath()), photo) ||
		!strings.HasPrefix(img.GetCaption(), "["+tk.Code+"] 1/3 foto") || img.GetMimetype() != "image/jpeg" {
		t.Errorf("first file = %v, want the photo with its caption", got[1].Msg)
	}
	audio := got[2].Msg.GetAudioMessage()
	if audio == nil || !audio.GetPTT() || !bytes.Equal(h.fake.mediaAt(audio.GetDirectPath()), voice) {
		t.Errorf("second file = %v, want the voice note", got[2].Msg)
	}
	if loc := got[3].Text(); !strings.Contains(loc, "3/3 lokasi") || !strings.Contains(loc, "Lokasi: -8.600000,120.500000 (Rumah)") {
		t.Errorf("third file = %q, want the location as text", loc)
	}
	evs, err := h.pg.Events(context.Background(), tk.Code)
	if err != nil {
		t.Fatal(err)
	}
	if last := evs[len(evs)-1]; last.Type != "files_sent" || last.Actor != officer || last.Detail != "3" {
		t.Errorf("last event = %+v, want the officer's files_sent 3", last)
	}
}
