package main

import (
	"context"
	"time"
)

// The supervisors are told of a WhatsApp outage once, across restarts and
// replicas: the process that tells them first marks the outage in Redis,
// and the channel's next connection, in any process, clears the mark. The
// mark lasts downClaimTTL until the notice is in the outbox, then
// downNoticeTTL: a process that dies in between silences no later outage.
const (
	// downNoticeKey marks an outage the supervisors have been told of.
	downNoticeKey = "aduan:whatsapp:down-notified"
	// downClaimTTL bounds a mark whose notice is not yet written: long
	// enough for one process to write it.
	downClaimTTL = 2 * time.Minute
	// downNoticeTTL bounds a mark that is never cleared (the channel
	// never connected again, or the clearing failed), so that it cannot
	// silence a later outage for ever.
	downNoticeTTL = 7 * 24 * time.Hour
)

// claimDownNotice marks the present WhatsApp outage as being told, for
// downClaimTTL, and reports whether this caller marked it, and so is to
// tell the supervisors and then call confirmDownNotice. When Redis does
// not answer it returns true: better twice than never.
func (s *server) claimDownNotice(ctx context.Context, state string) bool {
	mark := state + " " + time.Now().UTC().Format(time.RFC3339)
	ok, err := s.rd.Client().SetNX(ctx, downNoticeKey, mark, downClaimTTL).Result()
	if err != nil {
		s.app.log.Warn("whatsapp down notice not marked in redis; telling the supervisors anyway, perhaps again",
			"state", state, "err", err)
		return true
	}
	return ok
}

// confirmDownNotice keeps the mark for downNoticeTTL, once the notice is
// in the outbox.
func (s *server) confirmDownNotice(ctx context.Context) {
	if err := s.rd.Client().Expire(ctx, downNoticeKey, downNoticeTTL).Err(); err != nil {
		s.app.log.Warn("whatsapp down mark not extended; the outage may be told again when it expires",
			"ttl", downClaimTTL.String(), "err", err)
	}
}

// unclaimDownNotice removes the mark of a notice that could not be sent,
// so that the next process to see the outage tries again.
func (s *server) unclaimDownNotice(ctx context.Context) {
	if err := s.rd.Client().Del(ctx, downNoticeKey).Err(); err != nil {
		s.app.log.Warn("whatsapp down mark not removed", "err", err)
	}
}

// whatsappUp clears the outage mark: the WhatsApp channel is connected, so
// the next outage is told again. The channel calls it after an outage and
// at its first connection.
func (s *server) whatsappUp() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := s.rd.Client().Del(ctx, downNoticeKey).Result()
	if err != nil {
		s.app.log.Warn("whatsapp down mark not cleared; the next outage may go untold until it expires",
			"ttl", downNoticeTTL.String(), "err", err)
		return
	}
	if n > 0 {
		s.app.log.Info("whatsapp up again; the outage mark is cleared")
	}
}
