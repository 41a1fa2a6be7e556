// Package dialog is aduan's conversation engine: flows as data (steps that
// prompt, offer numbered choices, validate, store an answer and branch) and
// a pure Step function that moves a conversation State forward on one
// message. It does no I/O and reads no clock: the time is passed in.
package dialog

import (
	"fmt"
	"sort"
	"strings"
)

// Lang is a language code: "id" (Bahasa Indonesia, the default) or "en".
type Lang string

const (
	Indonesian Lang = "id"
	English    Lang = "en"
)

// Langs are the languages every text must exist in.
var Langs = []Lang{Indonesian, English}

// Text is one user-facing text in every language.
type Text map[Lang]string

// In returns the text in lang, falling back to Bahasa Indonesia.
func (t Text) In(lang Lang) string {
	if s, ok := t[lang]; ok && s != "" {
		return s
	}
	return t[Indonesian]
}

// Kind is what a step expects.
type Kind string

const (
	KindChoice  Kind = "choice"  // one of the numbered choices
	KindMulti   Kind = "multi"   // one or more of the numbered choices
	KindText    Kind = "text"    // free text
	KindConfirm Kind = "confirm" // the summary: choices, one of which submits
	KindInfo    Kind = "info"    // a message; the conversation moves to Next at once
	KindPlace   Kind = "place"   // where it happened: a village or kecamatan read with the gazetteer
)

// Step is one question or message of a flow.
type Step struct {
	ID      string   `yaml:"id"`
	Kind    Kind     `yaml:"kind"`
	Prompt  Text     `yaml:"prompt"`
	Field   string   `yaml:"field,omitempty"`   // where the answer is stored
	Label   Text     `yaml:"label,omitempty"`   // the field's name in the summary
	Choices []Choice `yaml:"choices,omitempty"` // for choice, multi and confirm
	Next    string   `yaml:"next,omitempty"`    // the step after this one, unless a choice says otherwise
	MaxLen  int      `yaml:"max_len,omitempty"` // for text: longer answers are cut at a word boundary
	Submit  string   `yaml:"submit,omitempty"`  // on a choice with action submit: the kind of ticket to open
	// Optional text steps accept "0", "tidak", "lewati"... as no answer.
	Optional bool `yaml:"optional,omitempty"`
	// More lets further messages add to this free-text answer while the
	// next question is open.
	More bool `yaml:"more,omitempty"`
	// Accept lets a choice step take free text when no choice matches:
	// "any" keeps it as typed.
	Accept string `yaml:"accept,omitempty"`
	// Read names a reader for the step's answers besides its choices:
	// "date" (a day: "kmrn", "3 hari lalu", "12/11", stored as 2026-11-26),
	// "danger" (the answer to "in danger now?": explicit answers win over
	// words; choices must be in danger, safe, don't know), "victim" (sex
	// and age: "anak perempuan, 9 tahun"; choices child-female,
	// child-male, adult-female, adult-male, unknown).
	Read string `yaml:"read,omitempty"`
	// Action "status" makes a text step a ticket status lookup.
	Action string `yaml:"action,omitempty"`
	// Variants are other prompts, said when an earlier answer is as
	// given: {if: "reporter=victim", prompt: ...}.
	Variants []Variant `yaml:"variants,omitempty"`
	// Answers, on an info step, names the questions it answers from
	// anywhere in a conversation: cost, office, requirements, duration,
	// officers, hours, procedure (see ReadIntent).
	Answers []string `yaml:"answers,omitempty"`
	// PlaceField, on a place step, is where the village or the place as
	// typed is stored; Field holds the kecamatan's slug. KnownNext is the
	// step after a village was confirmed (Next asks for the village).
	PlaceField string `yaml:"place_field,omitempty"`
	KnownNext  string `yaml:"known_next,omitempty"`

	flow    *Flow
	phrases []phrase
}

// Variant is a prompt said instead of the step's own when an earlier
// answer is as If says: "field=value", or "field" for any answer at all.
type Variant struct {
	If     string `yaml:"if"`
	Prompt Text   `yaml:"prompt"`
}

// Choice is one numbered option of a step.
type Choice struct {
	Value  string   `yaml:"value"`            // stored as the answer
	Label  Text     `yaml:"label"`            // shown after its number
	Words  []string `yaml:"words,omitempty"`  // further words that pick it
	Exact  []string `yaml:"exact,omitempty"`  // words that pick it only as the whole answer ("saya")
	Next   string   `yaml:"next,omitempty"`   // branch; default the step's Next
	Reply  Text     `yaml:"reply,omitempty"`  // said at once when picked
	Urgent bool     `yaml:"urgent,omitempty"` // picking it marks the report urgent
	Action string   `yaml:"action,omitempty"` // "submit", "cancel" or "edit"
	// Set stores further answers when the choice is picked.
	Set map[string]string `yaml:"set,omitempty"`
	// Short is the label in the summary, when Label is long.
	Short Text `yaml:"short,omitempty"`
}

// Flow is a named group of steps, such as the case report.
type Flow struct {
	ID    string  `yaml:"flow"`
	Title Text    `yaml:"title,omitempty"`
	Steps []*Step `yaml:"steps"`

	story string // the field of the flow's story (its step with More), or ""
}

// Book is a compiled set of flows plus the shared texts the engine uses.
type Book struct {
	Start    string          // the step a new conversation is greeted with
	Handover string          // the step PETUGAS leads to; "" if none
	Texts    map[string]Text // shared texts by name, see the names used in engine.go
	Places   *Gazetteer      // the regency's places; nil: places are kept as typed
	steps    map[string]*Step
	flows    []*Flow
	answers  map[Intent]string // question -> the info step that answers it
}

// Compile checks flows and texts and builds a Book whose conversations
// start at start and whose PETUGAS command leads to handover ("" for
// none). It returns every problem found, one per line, as Check does.
func Compile(start, handover string, flows []*Flow, texts map[string]Text, places *Gazetteer) (*Book, error) {
	b := &Book{Start: start, Handover: handover, Texts: texts, Places: places, steps: map[string]*Step{}, flows: flows,
		answers: map[Intent]string{}}
	for _, f := range flows {
		for _, s := range f.Steps {
			s.flow = f
			s.phrases = compilePhrases(s.Choices)
			b.steps[s.ID] = s
			if s.More && s.Field != "" && f.story == "" {
				f.story = s.Field
			}
			for _, a := range s.Answers {
				if _, dup := b.answers[Intent(a)]; !dup {
					b.answers[Intent(a)] = s.ID
				}
			}
		}
	}
	if problems := b.Check(); len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return b, nil
}

// Step returns the step with the id, or nil.
func (b *Book) Step(id string) *Step { return b.steps[id] }

// Flows returns the flows of the book.
func (b *Book) Flows() []*Flow { return b.flows }

// Check lists the problems of the book: duplicate or dangling steps,
// unreachable steps, choices without a target, texts missing in a language,
// and texts over the SMS budget.
func (b *Book) Check() []string {
	var p []string
	seen := map[string]bool{}
	for _, f := range b.flows {
		for _, s := range f.Steps {
			if s.ID == "" {
				p = append(p, fmt.Sprintf("flow %s: a step has no id", f.ID))
				continue
			}
			if seen[s.ID] {
				p = append(p, fmt.Sprintf("step %s: defined twice", s.ID))
			}
			seen[s.ID] = true
		}
	}
	if b.steps[b.Start] == nil {
		p = append(p, fmt.Sprintf("start step %q does not exist", b.Start))
	}
	if b.Handover != "" && b.steps[b.Handover] == nil {
		p = append(p, fmt.Sprintf("handover step %q does not exist", b.Handover))
	}
	checkText := func(where string, t Text, budget int) {
		for _, l := range Langs {
			s, ok := t[l]
			if !ok || strings.TrimSpace(s) == "" {
				p = append(p, fmt.Sprintf("%s: no %s text", where, l))
				continue
			}
			if n := Segments(s); n > budget {
				p = append(p, fmt.Sprintf("%s: %s text is %d SMS segments, over %d", where, l, n, budget))
			}
			if bad := nonGSM(s); bad != "" {
				p = append(p, fmt.Sprintf("%s: %s text has characters outside GSM-7: %q", where, l, bad))
			}
		}
	}
	target := func(where, id string) {
		if id == "" {
			p = append(p, fmt.Sprintf("%s: no next step", where))
		} else if b.steps[id] == nil {
			p = append(p, fmt.Sprintf("%s: next step %q does not exist", where, id))
		}
	}
	for _, f := range b.flows {
		for _, s := range f.Steps {
			where := "step " + s.ID
			switch s.Kind {
			case KindChoice, KindMulti, KindConfirm:
				if len(s.Choices) == 0 {
					p = append(p, where+": no choices")
				}
				for i, c := range s.Choices {
					cw := fmt.Sprintf("%s choice %d", where, i+1)
					checkText(cw, c.Label, 1)
					if c.Reply != nil {
						checkText(cw+" reply", c.Reply, MaxSegments)
					}
					if c.Action == "" && (s.Kind != KindMulti || s.Next == "") {
						if c.Next == "" {
							target(cw, s.Next)
						} else {
							target(cw, c.Next)
						}
					}
				}
				for _, c := range s.Choices {
					if c.Action == "submit" && s.Submit == "" {
						p = append(p, where+": a choice submits but the step names no ticket kind")
						break
					}
				}
				if s.Kind == KindConfirm && s.Submit == "" {
					p = append(p, where+": confirm step names no ticket kind to submit")
				}
			case KindText:
				if s.Action != "status" {
					target(where, s.Next)
				}
			case KindInfo:
				if s.Next != "" {
					target(where, s.Next)
				}
				for _, a := range s.Answers {
					if !Intent(a).Question() {
						p = append(p, fmt.Sprintf("%s: answers %q, which is not a question the service reads", where, a))
					}
				}
				if s.Next == "" {
					// Said with "anything else?", and as a first message's
					// answer also after the greeting and how to report.
					for _, l := range Langs {
						msg := s.Prompt.In(l) + "\n" + b.Texts[TextOfferReport].In(l) + " " + b.Texts[TextAskMore].In(l)
						if len(s.Answers) > 0 {
							msg = b.Texts[TextGreeting].In(l) + "\n" + msg
						}
						if n := Segments(msg); n > MaxSegments {
							p = append(p, fmt.Sprintf("%s: the %s answer with what follows it is %d SMS segments, over %d", where, l, n, MaxSegments))
						}
					}
				}
			case KindPlace:
				target(where, s.Next)
				if s.KnownNext != "" {
					target(where+" known_next", s.KnownNext)
				}
				if s.Field == "" || s.PlaceField == "" {
					p = append(p, where+": a place step needs field (the kecamatan) and place_field")
				}
				if b.Places == nil {
					p = append(p, where+": a place step needs the gazetteer (gazetteer.csv)")
				}
			default:
				p = append(p, fmt.Sprintf("%s: unknown kind %q", where, s.Kind))
			}
			if (s.Kind == KindChoice || s.Kind == KindMulti || s.Kind == KindText) && s.Field != "" {
				if s.Label == nil {
					p = append(p, where+": a stored answer needs a label for the summary")
				} else {
					checkText(where+" label", s.Label, 1)
				}
			}
			checkText(where+" prompt", s.Prompt, MaxSegments)
			for i, v := range s.Variants {
				checkText(fmt.Sprintf("%s variant %d", where, i+1), v.Prompt, MaxSegments)
				if f, _, _ := strings.Cut(v.If, "="); b.Field(f) == nil {
					p = append(p, fmt.Sprintf("%s variant %d: if %q must be field=value or field of a stored answer", where, i+1, v.If))
				}
			}
			switch s.Read {
			case "", "date", "danger", "victim":
			default:
				p = append(p, fmt.Sprintf("%s: unknown reader %q (date, danger, victim)", where, s.Read))
			}
		}
	}
	for _, name := range requiredTexts {
		t, ok := b.Texts[name]
		if !ok {
			p = append(p, fmt.Sprintf("text %s: missing", name))
			continue
		}
		checkText("text "+name, t, MaxSegments)
	}
	for _, g := range []string{TextGreeting, TextGreetingSMS} {
		if st := b.steps[b.Start]; st != nil && b.Texts[g] != nil {
			for _, l := range Langs {
				msg := b.Texts[g].In(l) + "\n" + b.prompt(&State{Lang: l}, st)
				if n := Segments(msg); n > 1 {
					p = append(p, fmt.Sprintf("text %s: with the menu the %s greeting is %d SMS segments (%d characters), over 1", g, l, n, len([]rune(msg))))
				}
			}
		}
	}
	p = append(p, b.checkWording()...)
	// Reachability from the start and from every text that names a step.
	reach := map[string]bool{}
	var walk func(id string)
	walk = func(id string) {
		s := b.steps[id]
		if s == nil || reach[id] {
			return
		}
		reach[id] = true
		walk(s.Next)
		for _, c := range s.Choices {
			walk(c.Next)
		}
	}
	walk(b.Start)
	walk(b.Handover)
	for _, id := range b.answers {
		walk(id)
	}
	var ids []string
	for id := range b.steps {
		if !reach[id] {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		p = append(p, fmt.Sprintf("step %s: unreachable from %s", id, b.Start))
	}
	return p
}

// informal are abbreviations fit for a text between friends, not for the
// office's replies.
var informal = []string{"dgn", "yg", "tdk", "utk", "sdh", "blm", "krn", "sy", "tlg", "jgn"}

// checkWording lists texts that use informal abbreviations ("dgn").
func (b *Book) checkWording() []string {
	var p []string
	look := func(where string, t Text) {
		for _, l := range Langs {
			for _, word := range strings.Fields(Normalize(t[l])) {
				for _, bad := range informal {
					if word == bad {
						p = append(p, fmt.Sprintf("%s: %s text writes %q; write the word out", where, l, bad))
					}
				}
			}
		}
	}
	names := make([]string, 0, len(b.Texts))
	for name := range b.Texts {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		look("text "+name, b.Texts[name])
	}
	for _, f := range b.flows {
		for _, s := range f.Steps {
			look("step "+s.ID+" prompt", s.Prompt)
			for i, c := range s.Choices {
				look(fmt.Sprintf("step %s choice %d", s.ID, i+1), c.Label)
				if c.Reply != nil {
					look(fmt.Sprintf("step %s choice %d reply", s.ID, i+1), c.Reply)
				}
			}
		}
	}
	return p
}
