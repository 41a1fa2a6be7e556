package bot

import (
	"strings"

	"aduan/dialog"
)

// UrgentMark starts the notifications of an urgent ticket: the first one
// (Notification) and the resends until an officer takes it.
const UrgentMark = "DARURAT! "

// Urgent reports whether m must go ahead of other messages where a channel
// queues them (the SMS gateway phone): the emergency numbers sent to
// someone in danger, and the notifications of an urgent ticket.
func (s *Service) Urgent(m Outbound) bool {
	switch m.Purpose {
	case PurposeNotify:
		return strings.HasPrefix(m.Body, UrgentMark)
	case PurposeReply:
		s.live.RLock()
		book := s.cfg.Book // as the last reload left it
		s.live.RUnlock()
		for _, l := range dialog.Langs {
			if m.Body == book.Text(dialog.TextEmergency, l) {
				return true
			}
		}
	}
	return false
}
