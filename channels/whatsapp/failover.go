package whatsapp

import (
	"context"
	"log/slog"

	"aduan/bot"
)

// Failover sends WhatsApp messages to staff by SMS when WhatsApp cannot
// deliver them: when the channel is down, or when the WhatsApp send fails.
// Messages to anyone else (citizens) stay on WhatsApp and are retried
// there: a person who wrote on WhatsApp may not want an SMS on a phone
// that someone else reads.
//
// The outbox records the SMS provider's ID for a message that went by SMS,
// so its delivery reports still find it.
type Failover struct {
	WhatsApp bot.Sender
	SMS      bot.Sender
	// IsStaff reports whether an address is an officer or supervisor.
	IsStaff func(addr string) bool
	// Up reports whether WhatsApp is connected; nil means always try it.
	Up     func() bool
	Logger *slog.Logger
}

var (
	_ bot.Sender = (*Failover)(nil)
	_ bot.Wiper  = (*Failover)(nil)
)

// Send sends m on WhatsApp, or for staff by SMS when WhatsApp is down or
// refuses. A file (m.Attachment) goes by SMS, as its caption and where to
// see it, only when WhatsApp is down or refuses it for good: a passing
// failure is left to the outbox to retry on WhatsApp. The error is the SMS sender's when it was tried, else the
// WhatsApp sender's.
func (f *Failover) Send(ctx context.Context, m bot.Outbound) (string, error) {
	if m.Channel != bot.WhatsApp || f.SMS == nil || f.IsStaff == nil || !f.IsStaff(m.To) {
		return f.WhatsApp.Send(ctx, m)
	}
	if f.Up == nil || f.Up() {
		id, err := f.WhatsApp.Send(ctx, m)
		if err == nil {
			return id, nil
		}
		if m.Attachment != 0 && bot.KindOf(err) == bot.Temporary {
			// A file only WhatsApp can carry: the outbox tries again
			// while WhatsApp is up.
			return "", err
		}
		f.log().Warn("whatsapp send to staff failed; sending by SMS", "outbox_id", m.ID, "to", bot.Mask(m.To), "err", err)
	}
	sms := m
	sms.Channel = bot.SMS
	if m.Attachment != 0 { // SMS carries no file: say where it is
		sms.Attachment = 0
		sms.Body += " (berkas hanya bisa dikirim lewat WhatsApp; lihat di kantor)"
	}
	return f.SMS.Send(ctx, sms)
}

// Wipe passes on to the WhatsApp sender when it can wipe.
func (f *Failover) Wipe(ctx context.Context, to string, providerIDs []string) error {
	if w, ok := f.WhatsApp.(bot.Wiper); ok {
		return w.Wipe(ctx, to, providerIDs)
	}
	return nil
}

func (f *Failover) log() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}
