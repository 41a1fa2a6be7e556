package whatsapp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"aduan/bot"
)

// DefaultFetchFailed is the reply to an attachment that could not be
// downloaded from WhatsApp's media servers.
const DefaultFetchFailed = "Maaf, berkas Anda gagal kami terima. Mohon kirim sekali lagi. / " +
	"Sorry, we could not receive your file. Please send it again."

// locationMIME is the type of a shared location kept as a file.
const locationMIME = "text/plain; charset=utf-8"

// fetchOutcome is what became of a message's attachment.
type fetchOutcome int

const (
	fetched fetchOutcome = iota // downloaded, or nothing to download
	refused                     // not kept, for good; the sender was told
	later                       // not downloaded for now: WhatsApp is to deliver the message again
)

// fetchRetries is how often a message whose attachment could not be
// downloaded for a passing reason is left for WhatsApp to deliver again,
// before the sender is asked to send the file again instead.
const fetchRetries = 3

// fetch returns the files that go with the message: its attachment,
// downloaded, or its shared location as text. whatsmeow retries a
// download a few times itself; one that still fails for a passing reason
// (a timeout, the media server's 5xx) leaves the message for WhatsApp to
// deliver again, up to fetchRetries times. Expired media, a bad file, or
// one larger than the limit is refused: the sender is told.
func (c *Channel) fetch(cli Client, info *types.MessageInfo, from string, body *content) ([]bot.File, fetchOutcome) {
	if body.kind == bot.FileLocation && body.text != "" {
		return []bot.File{{Kind: bot.FileLocation, MIME: locationMIME, Data: []byte(body.text)}}, fetched
	}
	if body.file == nil {
		return nil, fetched
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DownloadTimeout)
	data, err := cli.Download(ctx, body.file)
	cancel()
	switch {
	case err != nil && transient(err) && c.failedBefore(info.ID) < fetchRetries:
		c.log.Warn("whatsapp attachment not downloaded yet; the message is left for WhatsApp to deliver again",
			"id", info.ID, "kind", body.kind, "err", maskDigits(err.Error()))
		return nil, later
	case err != nil:
		c.forgetFailures(info.ID)
		c.log.Warn("whatsapp attachment not downloaded", "id", info.ID, "from", bot.Mask(from), "kind", body.kind,
			"err", maskDigits(err.Error()))
		c.notice(from, c.cfg.FetchFailed, "fetch-failed notice")
		return nil, refused
	case int64(len(data)) > c.cfg.MediaMaxBytes:
		c.forgetFailures(info.ID)
		c.tooLarge(from, body.kind)
		return nil, refused
	}
	c.forgetFailures(info.ID)
	mime := body.mime
	if mime == "" {
		mime = "application/octet-stream"
	}
	c.log.Debug("whatsapp attachment downloaded", "id", info.ID, "kind", body.kind, "bytes", len(data),
		"took", time.Since(start))
	return []bot.File{{Kind: body.kind, MIME: mime, Data: data}}, fetched
}

// transient reports whether a download failed for a reason that may pass:
// a timeout, the network, the media server overloaded. Expired media
// (404, 410), a refused one (403) and a file that fails its checks will
// not come right.
func transient(err error) bool {
	var he whatsmeow.DownloadHTTPError
	if errors.As(err, &he) && he.Response != nil {
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusRequestTimeout
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// failedBefore counts a passing download failure of the message and
// returns how many there were before it.
func (c *Channel) failedBefore(id types.MessageID) int {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	if c.fetchFails == nil || len(c.fetchFails) > 10_000 {
		c.fetchFails = make(map[types.MessageID]int)
	}
	n := c.fetchFails[id]
	c.fetchFails[id] = n + 1
	return n
}

func (c *Channel) forgetFailures(id types.MessageID) {
	c.fetchMu.Lock()
	delete(c.fetchFails, id)
	c.fetchMu.Unlock()
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
