package whatsapp

import (
	"context"
	"errors"
	"fmt"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"google.golang.org/protobuf/proto"

	"aduan/bot"
)

// file builds the message that sends m's kept file with m.Body as its
// caption: the file is read from the store, uploaded, and sent as what it
// is (a photo as a photo, a voice note as a voice note). A shared location
// goes as text.
func (s *Sender) file(ctx context.Context, cli Client, m bot.Outbound) (*waE2E.Message, error) {
	const op = "whatsapp.SendFile"
	if s.cfg.Files == nil {
		return nil, bot.E(op, bot.Permanent, errors.New("this sender cannot read files"))
	}
	f, err := s.cfg.Files(ctx, m.Attachment)
	switch {
	case bot.KindOf(err) == bot.NotFound:
		return nil, bot.E(op, bot.Permanent, fmt.Errorf("file %d is gone (erased or purged)", m.Attachment))
	case err != nil:
		return nil, bot.E(op, bot.Temporary, fmt.Errorf("read file %d: %w", m.Attachment, err))
	}
	if f.Kind == bot.FileLocation {
		return s.text(m.To, m.Body+"\n"+string(f.Data)), nil
	}
	kind := mediaTypeOf(f.Kind)
	up, err := cli.Upload(ctx, f.Data, kind)
	if err != nil {
		return nil, bot.E(op, bot.Temporary, fmt.Errorf("upload file %d: %w", m.Attachment, err))
	}
	var ci *waE2E.ContextInfo
	s.mu.Lock()
	if exp := s.expiry[m.To]; exp != 0 {
		ci = &waE2E.ContextInfo{Expiration: proto.Uint32(exp)}
	}
	s.mu.Unlock()
	mimeType := f.MIME
	switch kind {
	case whatsmeow.MediaImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{Caption: proto.String(m.Body), Mimetype: proto.String(mimeType),
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, ContextInfo: ci}}, nil
	case whatsmeow.MediaVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{Caption: proto.String(m.Body), Mimetype: proto.String(mimeType),
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, ContextInfo: ci}}, nil
	case whatsmeow.MediaAudio:
		// An audio message shows no caption; the officer's answer to
		// LAMPIRAN lists the files in the order they come.
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{Mimetype: proto.String(mimeType), PTT: proto.Bool(f.Kind == bot.FileVoice),
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: &up.FileLength, ContextInfo: ci}}, nil
	}
	return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{Caption: proto.String(m.Body), Mimetype: proto.String(mimeType),
		FileName: proto.String(fileName(m, f)), Title: proto.String(fileName(m, f)),
		URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
		FileSHA256: up.FileSHA256, FileLength: &up.FileLength, ContextInfo: ci}}, nil
}

// mediaTypeOf is the WhatsApp media type a file of the kind is sent as.
func mediaTypeOf(kind string) whatsmeow.MediaType {
	switch kind {
	case bot.FileImage:
		return whatsmeow.MediaImage
	case bot.FileVideo:
		return whatsmeow.MediaVideo
	case bot.FileVoice, bot.FileAudio:
		return whatsmeow.MediaAudio
	}
	return whatsmeow.MediaDocument
}

// fileName names a document for the officer: the ticket code and the
// file's ID, with an extension from its type ("KS-7HQ4XM-12.pdf").
func fileName(m bot.Outbound, f bot.Attachment) string {
	name := m.TicketCode
	if name == "" {
		name = "lampiran"
	}
	return fmt.Sprintf("%s-%d%s", name, f.ID, bot.FileExt(f.Kind, f.MIME))
}
