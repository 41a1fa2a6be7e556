package dialog

import "strings"

// Cost is what one complete pass through a flow costs over SMS.
type Cost struct {
	Flow     string
	Story    bool // the first message told the story (the report began with it), rather than "halo" and the menu
	Messages int  // bot messages
	Segments int  // SMS segments of those messages
	Steps    int  // answers the person gives
}

// sampleText stands for a typical free-text answer.
const sampleText = "Suami memukul istrinya setiap malam, anak-anak ketakutan dan tidak mau pulang ke rumah."

// Costs walks each flow that ends in a ticket along its plain path (the
// first choice that neither branches to an emergency reply nor edits,
// cancels or submits early; at a summary, send) from a new conversation
// greeted with the menu, and counts what the bot sends over SMS, in lang.
// For the flow a first message's story starts (the case report), it walks
// that path too: the story first, nothing to add when asked.
func (b *Book) Costs(lang Lang) []Cost {
	var out []Cost
	start := b.steps[b.Start]
	for i, c := range start.Choices {
		first := b.steps[c.Next]
		if first == nil || !b.submits(first.flow) {
			continue
		}
		out = append(out, b.cost(lang, first.flow.ID, false, "halo", itoa(i+1)))
		if c.Value == "case" && first.flow.story != "" {
			out = append(out, b.cost(lang, first.flow.ID, true, sampleText))
		}
	}
	return out
}

// cost walks one plain path from the opening messages.
func (b *Book) cost(lang Lang, flow string, story bool, opening ...string) Cost {
	st := State{Lang: lang}
	cost := Cost{Flow: flow, Story: story}
	count := func(r Result) {
		for _, m := range r.Replies {
			cost.Messages++
			cost.Segments += Segments(m)
		}
		if r.Submit != nil {
			done := strings.Replace(r.Submit.Done, "{code}", "KS-7HQ4XM", 1)
			cost.Messages++
			cost.Segments += Segments(done)
		}
	}
	now := int64(0)
	var r Result
	step := func(text string) {
		now++
		r = b.Handle(&st, Input{Text: text}, unix(now))
		count(r)
		cost.Steps++
	}
	for _, text := range opening {
		step(text)
	}
	for n := 0; n < 40 && !r.End && r.Submit == nil; n++ {
		s := b.steps[st.Step]
		if s == nil {
			break
		}
		step(b.plainAnswer(&st, s))
	}
	if !story {
		cost.Steps-- // the greeting is not an answer
	}
	return cost
}

func (b *Book) submits(f *Flow) bool {
	for _, s := range f.Steps {
		if s.Submit != "" {
			return true
		}
	}
	return false
}

// plainAnswer picks the plain path's answer to s: at a place, the first
// village of the list, then "yes" to its kecamatan.
func (b *Book) plainAnswer(st *State, s *Step) string {
	switch s.Kind {
	case KindPlace:
		if st.Get(fieldWhere) == "village" {
			return "1"
		}
		for _, k := range b.Places.keys {
			for _, e := range b.Places.entries[k] {
				if e.kind == PlaceVillage {
					return e.name
				}
			}
		}
		return "0"
	case KindText:
		if s.Optional || s.More && st.Get(s.Field) != "" {
			return "0" // nothing to add to the story
		}
		return sampleText
	case KindConfirm:
		for i, c := range s.Choices {
			if c.Action == "submit" {
				return itoa(i + 1)
			}
		}
	}
	for i, c := range s.Choices {
		if c.Action == "" && c.Reply == nil && !c.Urgent && (c.Next == "" || c.Next == s.Next) {
			return itoa(i + 1)
		}
	}
	for i, c := range s.Choices {
		if c.Action == "submit" || c.Action == "" {
			return itoa(i + 1)
		}
	}
	return "1"
}

func itoa(n int) string {
	var sb strings.Builder
	writeInt(&sb, n)
	return sb.String()
}
