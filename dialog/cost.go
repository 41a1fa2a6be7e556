package dialog

import "strings"

// Cost is what one complete pass through a flow costs over SMS.
type Cost struct {
	Flow     string
	Messages int // bot messages
	Segments int // SMS segments of those messages
	Steps    int // answers the person gives
}

// sampleText stands for a typical free-text answer.
const sampleText = "Suami memukul istrinya setiap malam, anak-anak ketakutan dan tidak mau pulang ke rumah."

// Costs walks each flow that ends in a ticket along its plain path (the
// first choice that neither branches to an emergency reply nor edits,
// cancels or submits early; at a summary, send) from a new conversation,
// and counts what the bot sends, in lang.
func (b *Book) Costs(lang Lang) []Cost {
	var out []Cost
	start := b.steps[b.Start]
	for i, c := range start.Choices {
		first := b.steps[c.Next]
		if first == nil || !b.submits(first.flow) {
			continue
		}
		st := State{Lang: lang}
		cost := Cost{Flow: first.flow.ID}
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
		step := func(text string) Result {
			now++
			r := b.Handle(&st, Input{Text: text}, unix(now))
			count(r)
			cost.Steps++
			return r
		}
		step("halo")
		r := step(itoa(i + 1))
		for n := 0; n < 40 && !r.End && r.Submit == nil; n++ {
			s := b.steps[st.Step]
			if s == nil {
				break
			}
			r = step(b.plainAnswer(&st, s))
		}
		cost.Steps-- // the greeting is not an answer
		out = append(out, cost)
	}
	return out
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
		if s.Optional {
			return "0"
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
