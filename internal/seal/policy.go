package seal

import "fmt"

// statistic lists the ticket answer fields kept in clear: choices from a
// fixed list that statistics and routing count, and that say nothing of
// who wrote in. Every other field (place, description, name, contact
// time, service, and any field a flow adds) is sealed, and purged after
// the retention period.
var statistic = map[string]bool{
	"reporter":  true, // victim, family, ... : who reports, not the address
	"safe":      true,
	"violence":  true,
	"age_group": true,
	"sex":       true,
	"kecamatan": true,
	"help":      true,
	"contact":   true, // call or message
	"consent":   true,
	"lang":      true,
	"topic":     true,
	"outcome":   true, // withdrawn: the reporter closed it, safe
}

// Statistic reports whether a ticket answer field is kept in clear for
// statistics. Unknown fields are not: they are sealed.
func Statistic(field string) bool { return statistic[field] }

// StatisticFields returns the fields Statistic accepts, for queries.
func StatisticFields() []string {
	out := make([]string, 0, len(statistic))
	for f := range statistic {
		out = append(out, f)
	}
	return out
}

// transcript lists the event types whose detail is conversation text.
var transcript = map[string]bool{"note": true, "relay_out": true, "relay_in": true}

// TranscriptEvent reports whether events of type typ carry conversation
// text (an officer's note, a message relayed between officer and citizen):
// the retention purge blanks their detail.
func TranscriptEvent(typ string) bool { return transcript[typ] }

// TranscriptEvents returns the types TranscriptEvent accepts, for queries.
func TranscriptEvents() []string { return []string{"note", "relay_out", "relay_in"} }

// Counts says how many rows of each table an operation changed, or would
// change.
type Counts struct {
	Tickets int64
	Events  int64
	Outbox  int64
	// Attachments counts files deleted, or sealed again by Rotate.
	Attachments int64
}

// Total is the sum of the counts.
func (c Counts) Total() int64 { return c.Tickets + c.Events + c.Outbox + c.Attachments }

func (c Counts) String() string {
	if c.Attachments == 0 {
		return fmt.Sprintf("tickets %d, events %d, outbox messages %d", c.Tickets, c.Events, c.Outbox)
	}
	return fmt.Sprintf("tickets %d, events %d, outbox messages %d, attachments %d", c.Tickets, c.Events, c.Outbox, c.Attachments)
}

// SplitAnswers divides ticket answers into those kept in clear
// (Statistic) and the rest, to be sealed. Either may be nil.
func SplitAnswers(a map[string]string) (clear, private map[string]string) {
	for k, v := range a {
		if Statistic(k) {
			if clear == nil {
				clear = make(map[string]string, len(a))
			}
			clear[k] = v
		} else {
			if private == nil {
				private = make(map[string]string, len(a))
			}
			private[k] = v
		}
	}
	return clear, private
}
