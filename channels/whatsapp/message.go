package whatsapp

import (
	"strings"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"aduan/bot"
)

// ignoreReason says why a message event is not for the pipeline, or ""
// when it is: only a person's direct message counts.
func ignoreReason(evt *events.Message) string {
	info := &evt.Info
	switch {
	case info.IsFromMe:
		return "from the service's own number"
	case info.IsGroup || info.Chat.Server == types.GroupServer:
		return "group"
	case info.Chat.Server == types.BroadcastServer:
		return "status or broadcast list"
	case info.Chat.Server == types.NewsletterServer:
		return "channel (newsletter)"
	case info.Sender.IsBot() || info.Chat.IsBot():
		return "bot"
	case info.Chat.Server != types.DefaultUserServer && info.Chat.Server != types.HiddenUserServer:
		return "unknown chat kind"
	case evt.Message == nil:
		return "empty"
	case evt.IsEdit:
		return "edit"
	}
	m := evt.Message
	switch {
	case m.ProtocolMessage != nil:
		return "protocol message"
	case m.ReactionMessage != nil, m.EncReactionMessage != nil:
		return "reaction"
	case m.PollUpdateMessage != nil:
		return "poll vote"
	case m.KeepInChatMessage != nil, m.PinInChatMessage != nil:
		return "chat action"
	case m.SenderKeyDistributionMessage != nil && m.Conversation == nil && m.ExtendedTextMessage == nil &&
		m.ImageMessage == nil && m.AudioMessage == nil && m.VideoMessage == nil && m.DocumentMessage == nil &&
		m.LocationMessage == nil && m.LiveLocationMessage == nil:
		return "key distribution"
	}
	return ""
}

// content is what a message says, as the dialog takes it.
type content struct {
	text     string
	media    int    // attachments accepted
	tooLarge bool   // an attachment was over the size limit and not counted
	kind     string // text, or a bot.File kind: image, voice, audio, video, document, location; or other

	// file is the accepted attachment to download, with its declared
	// type; nil when there is none.
	file whatsmeow.DownloadableMessage
	mime string
}

// extract reads m's text, caption or location and finds its attachment.
// An attachment larger than maxBytes is not taken and sets tooLarge.
func extract(m *waE2E.Message, maxBytes int64) content {
	var c content
	attach := func(kind string, file whatsmeow.DownloadableMessage, size uint64, mime, caption string) {
		c.kind, c.text = kind, caption
		if maxBytes > 0 && size > uint64(maxBytes) {
			c.tooLarge = true
			return
		}
		c.media, c.file, c.mime = 1, file, mime
	}
	switch {
	case m.Conversation != nil:
		c.kind, c.text = "text", m.GetConversation()
	case m.ExtendedTextMessage != nil:
		c.kind, c.text = "text", m.GetExtendedTextMessage().GetText()
	case m.ImageMessage != nil:
		im := m.GetImageMessage()
		attach(bot.FileImage, im, im.GetFileLength(), im.GetMimetype(), im.GetCaption())
	case m.DocumentMessage != nil:
		d := m.GetDocumentMessage()
		attach(bot.FileDocument, d, d.GetFileLength(), d.GetMimetype(), d.GetCaption())
	case m.AudioMessage != nil:
		a := m.GetAudioMessage()
		kind := bot.FileAudio
		if a.GetPTT() {
			kind = bot.FileVoice
		}
		attach(kind, a, a.GetFileLength(), a.GetMimetype(), "")
	case m.VideoMessage != nil:
		v := m.GetVideoMessage()
		attach(bot.FileVideo, v, v.GetFileLength(), v.GetMimetype(), v.GetCaption())
	case m.LocationMessage != nil:
		l := m.GetLocationMessage()
		c.kind = bot.FileLocation
		c.text = bot.LocationText(l.GetDegreesLatitude(), l.GetDegreesLongitude(), l.GetName(), l.GetAddress(), l.GetComment())
	case m.LiveLocationMessage != nil:
		l := m.GetLiveLocationMessage()
		c.kind = bot.FileLocation
		c.text = bot.LocationText(l.GetDegreesLatitude(), l.GetDegreesLongitude(), "", "", l.GetCaption())
	default:
		// A sticker, contact card, poll...: the dialog gets an empty
		// message and answers as it does to anything it does not
		// understand.
		c.kind = "other"
	}
	c.text = strings.TrimSpace(c.text)
	return c
}

// expiration returns the disappearing-message timer a message carries (in
// its context info), and whether it carries one at all.
func expiration(m *waE2E.Message) (uint32, bool) {
	if pm := m.GetProtocolMessage(); pm != nil && pm.GetType() == waE2E.ProtocolMessage_EPHEMERAL_SETTING {
		return pm.GetEphemeralExpiration(), true
	}
	var ci *waE2E.ContextInfo
	switch {
	case m.ExtendedTextMessage != nil:
		ci = m.GetExtendedTextMessage().GetContextInfo()
	case m.ImageMessage != nil:
		ci = m.GetImageMessage().GetContextInfo()
	case m.DocumentMessage != nil:
		ci = m.GetDocumentMessage().GetContextInfo()
	case m.AudioMessage != nil:
		ci = m.GetAudioMessage().GetContextInfo()
	case m.VideoMessage != nil:
		ci = m.GetVideoMessage().GetContextInfo()
	case m.LocationMessage != nil:
		ci = m.GetLocationMessage().GetContextInfo()
	}
	if ci == nil || ci.Expiration == nil {
		return 0, false
	}
	return ci.GetExpiration(), true
}
