package main

import (
	"context"
	"time"

	"aduan/bot"
)

// The supervisors are told of an outage (the WhatsApp channel, the SMS
// gateway phone) once, across restarts and replicas: the process that
// tells them first marks the outage in Redis, and the end of the outage,
// seen by any process, clears the mark. The mark lasts downClaimTTL until
// the notice is in the outbox, then downNoticeTTL: a process that dies in
// between silences no later outage.
const (
	// downClaimTTL bounds a mark whose notice is not yet written: long
	// enough for one process to write it.
	downClaimTTL = 2 * time.Minute
	// downNoticeTTL bounds a mark that is never cleared (the channel
	// never came back, or the clearing failed), so that it cannot
	// silence a later outage for ever.
	downNoticeTTL = 7 * 24 * time.Hour
)

// outage is the Redis key marking an outage the supervisors were told of.
type outage string

const (
	whatsappOutage outage = "aduan:whatsapp:down-notified"
	smsgateOutage  outage = "aduan:smsgate:down-notified"
)

// name is the outage's channel, for logs.
func (o outage) name() string {
	if o == smsgateOutage {
		return "sms gateway"
	}
	return "whatsapp"
}

// tellDown writes body to the supervisors on ch, once per outage o across
// processes (state names how it is down, for the mark and the logs). A
// notice that cannot be written leaves the outage unmarked, for the next
// process that sees it to try again.
func (s *server) tellDown(o outage, state string, ch bot.Channel, body string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !s.claimDownNotice(ctx, o, state) {
		s.app.log.Info("supervisors already told of the outage", "channel", o.name(), "state", state)
		return
	}
	n, err := s.app.notifySupervisors(ctx, ch, body)
	if err != nil {
		s.app.log.Error("supervisors not told of the outage", "channel", o.name(), "state", state, "err", err)
		s.unclaimDownNotice(ctx, o)
		return
	}
	s.confirmDownNotice(ctx, o)
	s.app.log.Info("supervisors told of the outage", "channel", o.name(), "state", state, "supervisors", n, "by", ch)
}

// claimDownNotice marks outage o as being told, for downClaimTTL, and
// reports whether this caller marked it, and so is to tell the
// supervisors and then call confirmDownNotice. When Redis does not answer
// it returns true: better twice than never.
func (s *server) claimDownNotice(ctx context.Context, o outage, state string) bool {
	mark := state + " " + time.Now().UTC().Format(time.RFC3339)
	ok, err := s.rd.Client().SetNX(ctx, string(o), mark, downClaimTTL).Result()
	if err != nil {
		s.app.log.Warn("down notice not marked in redis; telling the supervisors anyway, perhaps again",
			"channel", o.name(), "state", state, "err", err)
		return true
	}
	return ok
}

// confirmDownNotice keeps the mark for downNoticeTTL, once the notice is
// in the outbox.
func (s *server) confirmDownNotice(ctx context.Context, o outage) {
	if err := s.rd.Client().Expire(ctx, string(o), downNoticeTTL).Err(); err != nil {
		s.app.log.Warn("down mark not extended; the outage may be told again when it expires",
			"channel", o.name(), "ttl", downClaimTTL.String(), "err", err)
	}
}

// unclaimDownNotice removes the mark of a notice that could not be sent,
// so that the next process to see the outage tries again.
func (s *server) unclaimDownNotice(ctx context.Context, o outage) {
	if err := s.rd.Client().Del(ctx, string(o)).Err(); err != nil {
		s.app.log.Warn("down mark not removed", "channel", o.name(), "err", err)
	}
}

// clearDownNotice clears the mark of outage o: the channel is back, so
// the next outage is told again. It reports whether there was a mark to
// clear (this process is the one to say the outage is over, if anyone
// is).
func (s *server) clearDownNotice(o outage) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := s.rd.Client().Del(ctx, string(o)).Result()
	if err != nil {
		s.app.log.Warn("down mark not cleared; the next outage may go untold until it expires",
			"channel", o.name(), "ttl", downNoticeTTL.String(), "err", err)
		return false
	}
	return n > 0
}

// whatsappUp clears the WhatsApp outage mark: the channel is connected,
// so the next outage is told again. The channel calls it after an outage
// and at its first connection.
func (s *server) whatsappUp() {
	if s.clearDownNotice(whatsappOutage) {
		s.app.log.Info("whatsapp up again; the outage mark is cleared")
	}
}
