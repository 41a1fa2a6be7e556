package whatsapp

import (
	"context"
	"time"

	"go.mau.fi/whatsmeow/types"

	"aduan/bot"
)

// DefaultFetchFailed is the reply to an attachment that could not be
// downloaded from WhatsApp's media servers.
const DefaultFetchFailed = "Maaf, berkas Anda gagal kami terima. Mohon kirim sekali lagi. / " +
	"Sorry, we could not receive your file. Please send it again."

// locationMIME is the type of a shared location kept as a file.
const locationMIME = "text/plain; charset=utf-8"

// fetch returns the files that go with the message: its attachment,
// downloaded, or its shared location as text. A download is tried
// HandleAttempts times; when it still fails, or the file turns out larger
// than the limit, the sender is told and fetch returns no file, with ok
// false.
func (c *Channel) fetch(ctx context.Context, cli Client, info *types.MessageInfo, from string, body *content) (files []bot.File, ok bool) {
	if body.kind == bot.FileLocation && body.text != "" {
		return []bot.File{{Kind: bot.FileLocation, MIME: locationMIME, Data: []byte(body.text)}}, true
	}
	if body.file == nil {
		return nil, true
	}
	start := time.Now()
	var data []byte
	var err error
	pause := c.cfg.RetryWait
	for attempt := 1; ; attempt++ {
		if data, err = cli.Download(ctx, body.file); err == nil || attempt >= c.cfg.HandleAttempts || !wait(ctx, pause) {
			break
		}
		pause *= 2
	}
	switch {
	case err != nil:
		c.log.Warn("whatsapp attachment not downloaded", "id", info.ID, "from", bot.Mask(from), "kind", body.kind,
			"err", maskDigits(err.Error()))
		c.notice(from, c.cfg.FetchFailed, "fetch-failed notice")
		return nil, false
	case int64(len(data)) > c.cfg.MediaMaxBytes:
		c.tooLarge(from, body.kind)
		return nil, false
	}
	mime := body.mime
	if mime == "" {
		mime = "application/octet-stream"
	}
	c.log.Debug("whatsapp attachment downloaded", "id", info.ID, "kind", body.kind, "bytes", len(data),
		"took", time.Since(start))
	return []bot.File{{Kind: body.kind, MIME: mime, Data: data}}, true
}

// notice sends text to the sender in the background, outside the
// pipeline: it answers a file the pipeline never saw.
func (c *Channel) notice(to, text, what string) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := c.sender.Send(ctx, bot.Outbound{Channel: bot.WhatsApp, To: to, Body: text,
			Purpose: bot.PurposeReply, CreatedAt: c.cfg.Now()})
		if err != nil {
			c.log.Warn("whatsapp "+what+" not sent", "to", bot.Mask(to), "err", err)
		}
	}()
}
