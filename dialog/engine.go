package dialog

import (
	"strings"
	"time"
)

// Names of the shared texts a Book must have.
const (
	TextGreeting  = "greeting"  // before the first prompt of a new conversation
	TextRetry     = "retry"     // before a prompt repeated after an answer not understood
	TextHelp      = "help"      // BANTUAN
	TextCancelled = "cancelled" // BATAL
	TextSubmitted = "submitted" // after a ticket is opened; {code} is its code
	TextEmergency = "emergency" // said at once on words of immediate danger
	TextEmpty     = "empty"     // a message with no text (a picture, a sticker)
	TextHandover  = "handover"  // after three answers not understood
	TextLanguage  = "language"  // after switching language
)

var requiredTexts = []string{TextGreeting, TextRetry, TextHelp, TextCancelled, TextSubmitted,
	TextEmergency, TextEmpty, TextHandover, TextLanguage}

// State is where one conversation stands. It is small on purpose: it lives
// in Redis for every open conversation.
type State struct {
	Step    string   // the step waiting for an answer; "" for a new conversation
	Lang    Lang     // "" means Indonesian
	Answers []Answer // in the order given
	Trail   []string // the steps answered, for KEMBALI
	Return  string   // after a correction, go back here instead of Next
	Misses  int      // answers not understood in a row
	Urgent  bool     // the victim is in danger
	Updated int64    // Unix seconds of the last message
}

// Answer is one stored answer.
type Answer struct {
	Field string
	Value string
}

// Get returns the answer stored for field, or "".
func (s *State) Get(field string) string {
	for _, a := range s.Answers {
		if a.Field == field {
			return a.Value
		}
	}
	return ""
}

func (s *State) set(field, value string) {
	for i := range s.Answers {
		if s.Answers[i].Field == field {
			s.Answers[i].Value = value
			return
		}
	}
	s.Answers = append(s.Answers, Answer{field, value})
}

func (s *State) unset(field string) {
	for i := range s.Answers {
		if s.Answers[i].Field == field {
			s.Answers = append(s.Answers[:i], s.Answers[i+1:]...)
			return
		}
	}
}

func (s *State) lang() Lang {
	if s.Lang == "" {
		return Indonesian
	}
	return s.Lang
}

// Input is one message from the person.
type Input struct {
	Text  string
	Media int // attachments with the message
}

// Result is what one message does.
type Result struct {
	Replies []string    // messages to send back, in order
	Submit  *Submission // a ticket to open, if any
	Urgent  bool        // the message spoke of immediate danger
	End     bool        // the conversation is over: forget its state
}

// Submission is a completed report: the caller opens a ticket and sends
// Done with its code in place of {code}.
type Submission struct {
	Kind    string
	Answers []Answer
	Urgent  bool
	Lang    Lang
	Done    string
}

// Handle moves the conversation st forward on one message at now, and
// returns what to say. It changes st in place. It never fails: input it
// does not understand gets a helpful re-prompt.
func (b *Book) Handle(st *State, in Input, now time.Time) Result {
	var r Result
	st.Updated = now.Unix()
	text := Clean(in.Text)
	norm := Normalize(text)

	if b.danger(norm) {
		r.Urgent = true
		st.Urgent = true
		r.Replies = append(r.Replies, b.text(TextEmergency, st))
	}
	if st.Step == "" || b.steps[st.Step] == nil {
		*st = State{Lang: st.Lang, Urgent: st.Urgent, Updated: st.Updated}
		n := len(r.Replies)
		b.enter(st, b.Start, &r)
		// One message, not two: the greeting leads the first prompt.
		r.Replies[n] = b.text(TextGreeting, st) + "\n" + r.Replies[n]
		return r
	}
	if cmd, ok := commands[norm]; ok {
		b.command(st, cmd, &r)
		return r
	}
	if r.Urgent && len(norm) > 0 && len(strings.Fields(norm)) <= 3 {
		// A short cry for help is not an answer to the question: keep the
		// step, and remind what it asks after the emergency numbers.
		r.Replies = append(r.Replies, b.prompt(st, b.steps[st.Step]))
		return r
	}
	b.answer(st, b.steps[st.Step], text, norm, in.Media, &r)
	return r
}

type command uint8

const (
	cmdMenu command = iota + 1
	cmdCancel
	cmdBack
	cmdHelp
	cmdLanguage
)

var commands = map[string]command{
	"menu": cmdMenu, "mulai": cmdMenu, "start": cmdMenu,
	"batal": cmdCancel, "cancel": cmdCancel,
	"kembali": cmdBack, "back": cmdBack,
	"bantuan": cmdHelp, "help": cmdHelp,
	"bahasa": cmdLanguage, "language": cmdLanguage, "english": cmdLanguage, "indonesia": cmdLanguage,
}

func (b *Book) command(st *State, cmd command, r *Result) {
	switch cmd {
	case cmdMenu:
		lang, urgent := st.Lang, st.Urgent
		*st = State{Lang: lang, Urgent: urgent, Updated: st.Updated}
		b.enter(st, b.Start, r)
	case cmdCancel:
		r.Replies = append(r.Replies, b.text(TextCancelled, st))
		r.End = true
	case cmdBack:
		if n := len(st.Trail); n > 0 {
			prev := st.Trail[n-1]
			st.Trail = st.Trail[:n-1]
			if s := b.steps[prev]; s != nil && s.Field != "" {
				st.unset(s.Field)
			}
			st.Return = ""
			b.enter(st, prev, r)
			return
		}
		b.enter(st, st.Step, r)
	case cmdHelp:
		r.Replies = append(r.Replies, b.text(TextHelp, st))
		r.Replies = append(r.Replies, b.prompt(st, b.steps[st.Step]))
	case cmdLanguage:
		if st.lang() == Indonesian {
			st.Lang = English
		} else {
			st.Lang = Indonesian
		}
		r.Replies = append(r.Replies, b.text(TextLanguage, st))
		r.Replies = append(r.Replies, b.prompt(st, b.steps[st.Step]))
	}
}

func (b *Book) answer(st *State, s *Step, text, norm string, media int, r *Result) {
	if norm == "" && text == "" {
		r.Replies = append(r.Replies, b.text(TextEmpty, st)+" "+b.prompt(st, s))
		return
	}
	switch s.Kind {
	case KindText:
		if norm == "" { // only symbols or emoji: kind, but ask again
			b.miss(st, s, r)
			return
		}
		if s.MaxLen > 0 {
			text = cut(text, s.MaxLen)
		}
		b.store(st, s, text)
		b.advance(st, s, s.Next, r)
	case KindChoice, KindConfirm:
		i := match(s.Choices, norm, st.lang())
		if i < 0 {
			b.miss(st, s, r)
			return
		}
		c := &s.Choices[i]
		if c.Urgent {
			st.Urgent = true
			r.Urgent = true
		}
		if c.Reply != nil {
			r.Replies = append(r.Replies, c.Reply.In(st.lang()))
		}
		switch c.Action {
		case "submit":
			sub := &Submission{Kind: s.Submit, Answers: append([]Answer(nil), st.Answers...),
				Urgent: st.Urgent, Lang: st.lang(), Done: b.text(TextSubmitted, st)}
			r.Submit = sub
			r.End = true
			return
		case "cancel":
			r.Replies = append(r.Replies, b.text(TextCancelled, st))
			r.End = true
			return
		case "edit":
			st.Misses = 0
			st.Return = s.Next
			b.enter(st, c.Next, r)
			return
		}
		b.store(st, s, c.Value)
		next := c.Next
		if next == "" {
			next = s.Next
		}
		b.advance(st, s, next, r)
	case KindMulti:
		picked := matchMany(s.Choices, norm, st.lang())
		if len(picked) == 0 {
			b.miss(st, s, r)
			return
		}
		vals := make([]string, 0, len(picked))
		next := s.Next
		for _, i := range picked {
			c := &s.Choices[i]
			vals = append(vals, c.Value)
			if c.Urgent {
				st.Urgent, r.Urgent = true, true
			}
			if c.Next != "" && next == "" {
				next = c.Next
			}
		}
		b.store(st, s, strings.Join(vals, ","))
		b.advance(st, s, next, r)
	default:
		b.enter(st, s.Next, r)
	}
}

func (b *Book) store(st *State, s *Step, v string) {
	if s.Field != "" {
		st.set(s.Field, v)
	}
}

// advance leaves step s for next, or for the step a correction returns to.
func (b *Book) advance(st *State, s *Step, next string, r *Result) {
	st.Misses = 0
	st.Trail = append(st.Trail, s.ID)
	if st.Return != "" {
		next, st.Return = st.Return, ""
	}
	b.enter(st, next, r)
}

// enter makes id the current step and says its prompt; info steps are said
// and passed through.
func (b *Book) enter(st *State, id string, r *Result) {
	for hops := 0; hops < 8; hops++ {
		s := b.steps[id]
		if s == nil {
			r.End = true
			return
		}
		r.Replies = append(r.Replies, b.prompt(st, s))
		if s.Kind != KindInfo {
			st.Step = id
			return
		}
		if s.Next == "" {
			r.End = true
			return
		}
		id = s.Next
	}
	r.End = true
}

func (b *Book) miss(st *State, s *Step, r *Result) {
	st.Misses++
	if st.Misses >= 3 {
		st.Misses = 0
		r.Replies = append(r.Replies, b.text(TextHandover, st))
		return
	}
	r.Replies = append(r.Replies, b.text(TextRetry, st)+" "+b.prompt(st, s))
}

// prompt renders a step's prompt with its numbered choices and, for a
// confirm step, the summary of the answers.
func (b *Book) prompt(st *State, s *Step) string {
	lang := st.lang()
	p := s.Prompt.In(lang)
	if strings.Contains(p, "{summary}") {
		p = strings.Replace(p, "{summary}", b.Summary(st), 1)
	}
	if len(s.Choices) == 0 || strings.Contains(p, "{nochoices}") {
		return strings.Replace(p, "{nochoices}", "", 1)
	}
	var sb strings.Builder
	sb.Grow(len(p) + 16*len(s.Choices))
	sb.WriteString(p)
	for i, c := range s.Choices {
		sb.WriteByte('\n')
		writeInt(&sb, i+1)
		sb.WriteByte('.')
		sb.WriteString(c.Label.In(lang))
	}
	return sb.String()
}

// Summary renders the stored answers as "Label: value" lines, choices by
// their labels, long texts shortened.
func (b *Book) Summary(st *State) string {
	lang := st.lang()
	var sb strings.Builder
	for _, id := range st.Trail {
		s := b.steps[id]
		if s == nil || s.Field == "" {
			continue
		}
		v := st.Get(s.Field)
		if v == "" {
			continue
		}
		if sb.Len() > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(s.Label.In(lang))
		sb.WriteString(": ")
		sb.WriteString(b.Display(s, v, lang))
	}
	return sb.String()
}

// Display renders a stored value of step s for people: choice values by
// their labels, long text shortened.
func (b *Book) Display(s *Step, v string, lang Lang) string {
	if len(s.Choices) == 0 {
		return cut(v, 40)
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		label := part
		for _, c := range s.Choices {
			if c.Value == part {
				label = c.Label.In(lang)
				break
			}
		}
		out = append(out, label)
	}
	return strings.Join(out, ", ")
}

// Field finds the step that stores field, or nil.
func (b *Book) Field(field string) *Step {
	for _, f := range b.flows {
		for _, s := range f.Steps {
			if s.Field == field {
				return s
			}
		}
	}
	return nil
}

func (b *Book) text(name string, st *State) string {
	return b.Texts[name].In(st.lang())
}

func writeInt(sb *strings.Builder, n int) {
	if n >= 10 {
		writeInt(sb, n/10)
	}
	sb.WriteByte(byte('0' + n%10))
}

// cut shortens s to at most n runes, at a word boundary where one is near,
// marking the cut with "..".
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	r = r[:n-2]
	if i := strings.LastIndexByte(string(r), ' '); i > n/2 {
		return string(r)[:i] + ".."
	}
	return string(r) + ".."
}
