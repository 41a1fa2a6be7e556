package storetest

import (
	"bytes"
	"crypto/rand"
	"reflect"
	"testing"
	"time"

	"aduan/bot"
)

// Senders of the attachment tests.
const (
	senderA = "+6281300000101"
	senderB = "+6281300000202"
)

// file is an attachment of message ext, the idx-th of its files, from
// sender on WhatsApp, about the ticket code ("" for a report not filed).
func file(code, sender, ext string, idx int, received time.Time, data []byte) bot.Attachment {
	return bot.Attachment{TicketCode: code, Channel: bot.WhatsApp, Sender: sender, ExternalID: ext, Index: idx,
		Kind: bot.FileImage, MIME: "image/jpeg", Size: len(data), Data: data, Received: received}
}

// randomBytes returns n random bytes: a file that does not compress.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// listed is what Attachments gives back for an attachment written as a,
// with the ID Apply set and about the ticket code: no data, the time in
// UTC at microsecond precision.
func listed(a bot.Attachment, code string) bot.Attachment {
	a.TicketCode = code
	a.Data = nil
	a.Received = micro(a.Received)
	return a
}

// attachmentIDs returns the IDs of as, in order.
func attachmentIDs(as []bot.Attachment) []int64 {
	ids := make([]int64, len(as))
	for i, a := range as {
		ids[i] = a.ID
	}
	return ids
}

// checkAttachment reads the attachment with want's ID and compares it with
// want, about the ticket code; the data are compared, not printed.
func checkAttachment(t *testing.T, s bot.Store, want bot.Attachment, code string) {
	t.Helper()
	got, err := s.Attachment(t.Context(), want.ID)
	if err != nil {
		t.Errorf("Attachment(%d): %v", want.ID, err)
		return
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Attachment(%d).Data: %d bytes, not the %d written", want.ID, len(got.Data), len(want.Data))
	}
	if got.Data == nil {
		t.Errorf("Attachment(%d).Data = nil, want the data", want.ID)
	}
	if g, w := listed(got, got.TicketCode), listed(want, code); !reflect.DeepEqual(g, w) {
		t.Errorf("Attachment(%d) = %+v, want %+v", want.ID, g, w)
	}
}

// listAttachments returns the attachments of the ticket, failing t on an
// error.
func listAttachments(t *testing.T, s bot.Store, code string) []bot.Attachment {
	t.Helper()
	as, err := s.Attachments(t.Context(), code)
	if err != nil {
		t.Fatalf("Attachments(%s): %v", code, err)
	}
	return as
}

func testAttachmentsReadBack(t *testing.T, s bot.Store) {
	tk := sampleChanges().Tickets
	big := randomBytes(5 << 20)
	c := &bot.Changes{
		Tickets: tk,
		Attachments: []bot.Attachment{
			file("KS-0001", "+6281337785111", "wamid.A", 0, t0.Add(2*time.Second).In(wita), big),
			file("KS-0001", "+6281337785111", "wamid.A", 1, t0, []byte{0}),
			file("", "+6281337785111", "wamid.B", 0, t0.Add(time.Second), []byte("Lokasi: -8.61,120.45 (Borong)")),
		},
	}
	c.Attachments[1].Kind, c.Attachments[1].MIME = bot.FileDocument, "application/octet-stream"
	c.Attachments[2].Kind, c.Attachments[2].MIME = bot.FileLocation, "text/plain"
	Apply(t, s, c, t0)
	// Written later, received between the first two.
	later := &bot.Changes{Attachments: []bot.Attachment{
		file("KS-0001", "+6281337785111", "wamid.C", 0, t0.Add(time.Second), []byte("OggS voice")),
	}}
	later.Attachments[0].Kind, later.Attachments[0].MIME = bot.FileVoice, "audio/ogg; codecs=opus"
	Apply(t, s, later, t0)

	all := append(append([]bot.Attachment{}, c.Attachments...), later.Attachments...)
	seen := map[int64]bool{}
	for i, a := range all {
		if a.ID == 0 || seen[a.ID] {
			t.Fatalf("attachment %d: Apply set ID %d, want a fresh one (IDs %v)", i, a.ID, attachmentIDs(all))
		}
		seen[a.ID] = true
	}

	// Oldest first, without data; the pending file is no ticket's.
	got := listAttachments(t, s, "KS-0001")
	want := []bot.Attachment{listed(all[1], "KS-0001"), listed(all[3], "KS-0001"), listed(all[0], "KS-0001")}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Attachments(KS-0001) = %+v, want %+v", got, want)
	}
	for _, a := range got {
		if a.Received.Location() != time.UTC {
			t.Errorf("attachment %d received in %v, want UTC", a.ID, a.Received.Location())
		}
	}
	if as := listAttachments(t, s, "PG-0002"); len(as) != 0 {
		t.Errorf("Attachments(ticket without files) = %+v, want none", as)
	}

	// Each with its data, byte for byte.
	for i, a := range all {
		code := a.TicketCode
		if i == 2 {
			code = ""
		}
		checkAttachment(t, s, a, code)
	}
}

func testAttachmentLinks(t *testing.T, s bot.Store) {
	old := t0.Add(-time.Hour)
	at := func(d time.Duration) time.Time { return t0.Add(-d) }
	c := &bot.Changes{
		Tickets: []bot.Ticket{privateTicket("KS-LINK0", senderA, bot.WhatsApp, old)},
		Attachments: []bot.Attachment{
			file("", senderA, "m1", 0, at(2*time.Hour), []byte("older than the window")),
			file("", senderA, "m2", 0, at(30*time.Minute), []byte("in the window")),
			file("", senderA, "m2", 1, at(30*time.Minute), []byte("in the window, second file")),
			file("", senderB, "m3", 0, at(10*time.Minute), []byte("another sender")),
			file("KS-LINK0", senderA, "m5", 0, at(10*time.Minute), []byte("linked already")),
			file("", senderA, "m6", 0, old, []byte("at the window's start")),
		},
	}
	sms := file("", senderA, "m4", 0, at(10*time.Minute), []byte("another channel"))
	sms.Channel = bot.SMS
	c.Attachments = append(c.Attachments, sms)
	Apply(t, s, c, t0)

	// The report is filed with a last file, in one Apply: the file is
	// written before the link, and taken too.
	filed := &bot.Changes{
		Tickets:     []bot.Ticket{privateTicket("KS-LINK1", senderA, bot.WhatsApp, t0)},
		Attachments: []bot.Attachment{file("", senderA, "m7", 0, t0, []byte("with the report"))},
		Links:       []bot.AttachmentLink{{TicketCode: "KS-LINK1", Channel: bot.WhatsApp, Sender: senderA, Since: old}},
	}
	Apply(t, s, filed, t0)
	a := c.Attachments
	if got, want := attachmentIDs(listAttachments(t, s, "KS-LINK1")),
		attachmentIDs([]bot.Attachment{a[5], a[1], a[2], filed.Attachments[0]}); !reflect.DeepEqual(got, want) {
		t.Errorf("Attachments(KS-LINK1) = IDs %v, want %v (the window's, this sender's, this channel's, pending)", got, want)
	}
	if got, want := attachmentIDs(listAttachments(t, s, "KS-LINK0")), []int64{a[4].ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Attachments(KS-LINK0) = IDs %v, want %v (kept)", got, want)
	}
	pending := []bot.Attachment{a[0], a[3], a[6]}
	for _, p := range pending {
		checkAttachment(t, s, p, "")
	}

	// A later report takes only what is still pending: not another
	// ticket's files.
	Apply(t, s, &bot.Changes{
		Tickets: []bot.Ticket{privateTicket("KS-LINK2", senderA, bot.WhatsApp, t0)},
		Links:   []bot.AttachmentLink{{TicketCode: "KS-LINK2", Channel: bot.WhatsApp, Sender: senderA, Since: at(3 * time.Hour)}},
	}, t0)
	if got, want := attachmentIDs(listAttachments(t, s, "KS-LINK2")), []int64{a[0].ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Attachments(KS-LINK2) = IDs %v, want %v (only the one still pending)", got, want)
	}
	if got := listAttachments(t, s, "KS-LINK1"); len(got) != 4 {
		t.Errorf("Attachments(KS-LINK1) after another link = %d files, want 4", len(got))
	}
	// A link that finds nothing is no error.
	Apply(t, s, &bot.Changes{Links: []bot.AttachmentLink{{TicketCode: "KS-LINK2", Channel: bot.WhatsApp, Sender: senderA, Since: old}}}, t0)
}

func testAttachmentsUnknown(t *testing.T, s bot.Store) {
	ctx := t.Context()
	Apply(t, s, &bot.Changes{
		Tickets:     sampleChanges().Tickets[:1],
		Attachments: []bot.Attachment{file("", senderA, "p1", 0, t0, []byte("pending"))},
	}, t0)
	wantKind(t, "Attachment(unknown)", errOf(s.Attachment(ctx, 1<<40)), bot.NotFound)
	wantKind(t, "Attachments(unknown)", errOf(s.Attachments(ctx, "XX-9999")), bot.NotFound)
	tests := []struct {
		name string
		c    *bot.Changes
	}{
		{"attachment of an unknown ticket", &bot.Changes{
			Attachments: []bot.Attachment{file("XX-9999", senderA, "u1", 0, t0, []byte("x"))}}},
		{"link to an unknown ticket that finds files", &bot.Changes{
			Links: []bot.AttachmentLink{{TicketCode: "XX-9999", Channel: bot.WhatsApp, Sender: senderA, Since: t0}}}},
		{"link to an unknown ticket that finds none", &bot.Changes{
			Links: []bot.AttachmentLink{{TicketCode: "XX-9999", Channel: bot.WhatsApp, Sender: senderB, Since: t0}}}},
		{"with other changes", &bot.Changes{
			Outbox:      outbound("u", 2),
			Attachments: []bot.Attachment{file("", senderA, "u2", 0, t0, []byte("x"))},
			Links:       []bot.AttachmentLink{{TicketCode: "XX-9999", Channel: bot.WhatsApp, Sender: senderA, Since: t0}}}},
	}
	for _, tt := range tests {
		wantKind(t, tt.name, tryApply(t, s, tt.c), bot.NotFound)
	}
	// The failed transactions changed nothing.
	if as := listAttachments(t, s, "KS-0001"); len(as) != 0 {
		t.Errorf("Attachments(KS-0001) = %+v, want none", as)
	}
	if out := outbox(t, s); len(out) != 0 {
		t.Errorf("Outbox = %d messages; want none", len(out))
	}
	// The pending file is still pending: a known ticket takes it.
	Apply(t, s, &bot.Changes{Links: []bot.AttachmentLink{{TicketCode: "KS-0001", Channel: bot.WhatsApp, Sender: senderA, Since: t0}}}, t0)
	if as := listAttachments(t, s, "KS-0001"); len(as) != 1 || as[0].ExternalID != "p1" {
		t.Errorf("Attachments(KS-0001) = %+v, want the pending file", as)
	}
}

func testAttachmentRepeat(t *testing.T, s bot.Store) {
	first := file("", senderA, "r1", 0, t0, []byte("first"))
	c := &bot.Changes{Attachments: []bot.Attachment{first, file("", senderA, "r1", 0, t0, []byte("again, same Apply"))}}
	Apply(t, s, c, t0)
	if c.Attachments[0].ID == 0 || c.Attachments[1].ID != 0 {
		t.Errorf("IDs = %v, want the first set and the repeat 0", attachmentIDs(c.Attachments))
	}
	again := &bot.Changes{Attachments: []bot.Attachment{file("", senderA, "r1", 0, t0, []byte("again, later")),
		file("", senderA, "r1", 1, t0, []byte("the message's second file"))}}
	Apply(t, s, again, t0)
	if again.Attachments[0].ID != 0 || again.Attachments[1].ID == 0 {
		t.Errorf("IDs = %v, want the repeat 0 and the new file set", attachmentIDs(again.Attachments))
	}
	first.ID = c.Attachments[0].ID
	checkAttachment(t, s, first, "")
}
