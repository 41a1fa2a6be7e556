package bot

import "log/slog"

// logTickets writes one info line per ticket opened and per ticket closed
// in ch, once ch is stored, so that an operator can follow the service's
// work in the journal. The lines carry the code, kind, channel and urgency:
// never the reporter, a name, a place or a story.
func logTickets(log *slog.Logger, ch *Changes) {
	for i := range ch.Tickets {
		t := &ch.Tickets[i]
		log.Info("ticket opened", "code", t.Code, "kind", t.Kind, "channel", t.Channel, "urgent", t.Urgent)
	}
	for _, ev := range ch.Events {
		if ev.Type != "closed" && ev.Type != "withdrawn" {
			continue
		}
		for i := range ch.Updates {
			if t := &ch.Updates[i]; t.Code == ev.TicketCode {
				log.Info("ticket closed", "code", t.Code, "kind", t.Kind, "channel", t.Channel, "urgent", t.Urgent)
				break
			}
		}
	}
}
