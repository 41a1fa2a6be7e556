package dialog

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Names of the shared texts a Book must have.
const (
	TextGreeting     = "greeting"      // before the first prompt of a new conversation
	TextRetry        = "retry"         // before a prompt repeated after an answer not understood
	TextHelp         = "help"          // BANTUAN
	TextCancelled    = "cancelled"     // BATAL
	TextSubmitted    = "submitted"     // after a ticket is opened; {code} is its code
	TextEmergency    = "emergency"     // said at once on words of immediate danger
	TextEmpty        = "empty"         // a message with no text (a picture, a voice note)
	TextAttached     = "attached"      // a file kept with the report
	TextEmoji        = "emoji"         // a message of only emoji or symbols
	TextHandover     = "handover"      // after three answers not understood
	TextLanguage     = "language"      // after switching language
	TextResume       = "resume"        // on return after a long pause
	TextMore         = "more"          // extra text added to the last free-text answer
	TextStop         = "stop"          // STOP: no more messages until the person writes again
	TextWipe         = "wipe"          // HAPUS: the chat is being cleared
	TextStatus       = "status"        // a ticket's status: {code} and {status}
	TextStatusShort  = "status_short"  // the same in the middle of a report, the question following
	TextStatusNone   = "status_none"   // no ticket with that code for this number
	TextStatusWords  = "status_words"  // not a text: see StatusText
	TextAskMore      = "ask_more"      // after a question answered: anything else?
	TextOfferReport  = "offer_report"  // after a question that spoke of reporting: how to report
	TextHello        = "hello"         // a greeting in the middle of a conversation, before the question again
	TextBlank        = "blank"         // a message with nothing in it at all
	TextPlaceVillage = "place_village" // {village}, Kec. {kecamatan}? 1.Ya 2.Bukan
	TextPlacePick    = "place_pick"    // {village} is in several kecamatan: which?
	TextPlaceList    = "place_list"    // which kecamatan? (the list follows)
	TextPlaceUnknown = "place_unknown" // {place} is not in the list: which kecamatan?
	TextPlaceOutside = "place_outside" // {place} is outside the regency: kept as typed
	TextLost         = "lost"          // the conversation's state was lost: start again
	TextGreetingSMS  = "greeting_sms"  // the greeting where HAPUS cannot take messages back (SMS)
	TextWipeSMS      = "wipe_sms"      // HAPUS where messages cannot be taken back: delete them yourself
	TextKept         = "report_kept"   // after STOP, HAPUS or BATAL: report {code} stays with the officers
	TextDraftKept    = "draft_kept"    // after STOP in the middle of a report: the answers wait
	TextCancelFiled  = "cancel_filed"  // BATAL with no report under way but report {code} filed
	TextStoryKept    = "story_kept"    // a first message that tells the story: thanks, a few questions follow
	TextStoryCut     = "story_cut"     // a story longer than its step keeps: the first {n} characters are kept
	TextWithdraw     = "withdraw"      // BATAL after urgent report {code} was sent: it stays; safe to close it?
	TextWithdrawn    = "withdrawn"     // the person is safe: report {code} closed
)

// FieldPlace is the answer a shared location gives: the place where it
// happened.
const FieldPlace = "place"

var requiredTexts = []string{TextGreeting, TextRetry, TextHelp, TextCancelled, TextSubmitted, TextEmergency,
	TextEmpty, TextAttached, TextEmoji, TextHandover, TextLanguage, TextResume, TextMore, TextStop, TextWipe, TextStatus,
	TextStatusNone, TextStatusShort, TextAskMore, TextOfferReport, TextHello, TextBlank, TextPlaceVillage, TextPlacePick, TextPlaceList,
	TextPlaceUnknown, TextPlaceOutside, TextLost, TextGreetingSMS, TextWipeSMS, TextKept, TextDraftKept, TextCancelFiled,
	TextStoryKept, TextStoryCut, TextWithdraw, TextWithdrawn, "status.received", "status.assessed", "status.accompanied", "status.referred", "status.done",
	// said by the bot package, not the engine: relays and progress messages
	"relay_ack", "relay_urgent", "relay_closed", "relay_which", "relay_picked", "rate_limited", "lookups_limited", "progress.accepted", "progress.received", "progress.assessed", "progress.accompanied",
	"progress.referred", "progress.done", "progress.accepted.complaint", "progress.update.complaint", "progress.done.complaint",
	"progress.accepted.request", "progress.update.request", "progress.done.request"}

// Idle is how long a conversation may rest before the person is asked
// whether to go on where they left off or start again.
const Idle = 24 * time.Hour

// State is where one conversation stands. It is small on purpose: it lives
// in Redis for every open conversation.
type State struct {
	Step    string   // the step waiting for an answer; "" for a new conversation
	Lang    Lang     // "" means Indonesian
	Answers []Answer // in the order given
	Trail   []string // the steps answered, for KEMBALI
	Return  string   // after a correction, go back here instead of Next
	More    string   // a free-text field that further messages may add to
	Ticket  string   // the code of a ticket already opened for this conversation
	Misses  int      // answers not understood in a row
	Files   int      // attachments kept during the conversation
	Urgent  bool     // the victim is in danger
	Paused  bool     // asked whether to continue after a long pause
	Stopped bool     // STOP in the middle of a report: its answers wait for the person to write again
	Updated int64    // Unix seconds of the last message
	// Report identifies the report under way, for the caller: it survives
	// MENU and the like, and the caller sets a new one once a report is
	// filed, so that a filing replayed on the same state is seen as one.
	Report string

	// Where the person's messages go while no report is under way, for a
	// person with several tickets (kept by the caller, see Book.AtRest):
	// Relay is the code they chose, Asked the codes offered when they
	// were asked which ("" until asked, and asked once).
	Relay string
	Asked string
}

// rest is the state of a conversation with no report under way: what
// outlives a report (the language, danger said, an urgent ticket already
// opened, files kept, the time, where messages at rest go).
func (s *State) rest() State {
	return State{Lang: s.Lang, Urgent: s.Urgent, Ticket: s.Ticket, Files: s.Files, Updated: s.Updated,
		Report: s.Report, Relay: s.Relay, Asked: s.Asked}
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
	// Kept is how many of them the service kept with the report (a
	// channel that cannot fetch files keeps none); Location says the
	// message is a shared location, given as Text.
	Kept     int
	Location bool
	// Lost says the conversation was under way but its state is gone
	// (it could not be read): the person is told so, and their message,
	// which answered a question we no longer know, is not taken as an
	// answer to the first one.
	Lost bool
	// Wipes says the channel can take the service's messages off the
	// person's phone (WhatsApp as a linked device): only then do the
	// greeting and HAPUS promise it.
	Wipes bool
	// Filed is the code of a report the person filed that is still
	// open, or "": STOP, HAPUS and BATAL then say that it stays.
	Filed string
}

// Result is what one message does.
type Result struct {
	Replies []string    // messages to send back, in order
	Submit  *Submission // a ticket to open (or, with Submission.Ticket, to complete)
	Urgent  bool        // the message spoke of immediate danger
	Lookup  string      // the person asks for the status of this ticket code (as typed)
	After   []string    // with Lookup: messages to send after the status (TextStatusShort), the question under way again
	OptOut  bool        // STOP: send nothing more until the person writes again
	Wipe    bool        // HAPUS: clear the chat from the person's phone where the channel can
	End     bool        // the conversation is over: forget its state
	// Withdraw is the code of the urgent ticket opened earlier in the
	// conversation that the person, safe now, asked to close after BATAL.
	Withdraw string

	warned bool   // the emergency numbers were already given in this result
	in     Input  // the message, for texts that depend on its channel
	full   string // the message cleaned to MaxStory runes, when it is longer than MaxInput
	long   bool   // full is cut: the message is longer than MaxStory
	cut    int    // a story was cut to this many runes: the person is told so
}

// story returns text, the message as the engine reads it, or the whole
// message when it was longer: what a story keeps.
func (r *Result) story(text string) string {
	if r.full == "" {
		return text
	}
	if r.long {
		r.cut = MaxStory
	}
	return r.full
}

// keepCut cuts a story at max runes (when max is set), noting that it did
// so that the person is told what was kept.
func (r *Result) keepCut(v string, max int) string {
	if max <= 0 {
		return v
	}
	if c := cut(v, max); c != v {
		r.cut = max
		return c
	}
	return v
}

// Submission is a completed report: the caller opens a ticket (or
// completes the one named by Ticket) and sends Done with its code in place
// of {code}.
type Submission struct {
	Kind    string
	Ticket  string // the code of a ticket opened earlier in the conversation, or ""
	Answers []Answer
	Urgent  bool
	Lang    Lang
	Done    string
	Files   int // attachments kept during the conversation
}

// Handle moves the conversation st forward on one message at now, and
// returns what to say. It changes st in place. It never fails: input it
// does not understand gets a helpful re-prompt.
func (b *Book) Handle(st *State, in Input, now time.Time) Result {
	r := b.handle(st, in, now)
	if r.cut > 0 && len(r.Replies) > 0 {
		// The story is longer than a report keeps: say what was kept.
		r.Replies[len(r.Replies)-1] += "\n" + strings.ReplaceAll(b.text(TextStoryCut, st), "{n}", thousands(r.cut, st.lang()))
	}
	return r
}

// thousands writes n with its thousands marked as the language does:
// 20.000 in Indonesian, 20,000 in English.
func thousands(n int, l Lang) string {
	sep := "."
	if l == English {
		sep = ","
	}
	d := strconv.Itoa(n)
	for i := len(d) - 3; i > 0; i -= 3 {
		d = d[:i] + sep + d[i:]
	}
	return d
}

func (b *Book) handle(st *State, in Input, now time.Time) Result {
	r := Result{in: in}
	idle := st.Step != "" && st.Step != b.Start && st.Updated > 0 && now.Unix()-st.Updated > int64(Idle/time.Second)
	if st.Step == b.Start && st.Updated > 0 && now.Unix()-st.Updated > int64(Idle/time.Second) {
		st.Step = "" // a day after the menu or an answer: greet again
	}
	st.Updated = now.Unix()
	st.Files += in.Kept
	text := Clean(in.Text)
	if len(in.Text) > MaxInput && utf8.RuneCountInString(text) >= MaxInput-1 {
		r.full = CleanStory(in.Text)
		r.long = len(in.Text) > len(r.full) && utf8.RuneCountInString(r.full) >= MaxStory-1
	}
	norm := Normalize(text)
	w := ReadWords(text)
	cur := b.steps[st.Step]

	// Danger: at the question whether someone is in danger, the answer
	// decides (read in answer); elsewhere words of danger get the
	// emergency numbers at once.
	if cur == nil || cur.Read != "danger" || st.Paused {
		if d := readDanger(w); d.Danger {
			r.Urgent, r.warned = true, true
			st.Urgent = true
		}
	}
	st.Stopped = false // writing again after STOP
	if st.Get(fieldWithdraw) != "" && commands[norm] != cmdCancel && b.withdraw(st, w, &r) {
		return r
	}
	if cur == nil {
		b.first(st, in, text, norm, w, &r)
		return r
	}
	if cmd, ok := commands[norm]; ok {
		b.warn(st, &r)
		b.command(st, cmd, &r)
		return r
	}
	if idle {
		st.Paused = true
		b.warn(st, &r)
		r.Replies = append(r.Replies, b.text(TextResume, st))
		return r
	}
	if st.Paused {
		b.warn(st, &r)
		b.resume(st, norm, &r)
		return r
	}
	b.warn(st, &r)
	if b.aside(st, cur, text, w, in, &r) {
		return r
	}
	if r.Urgent && len(w.Tok) <= 3 && !isNumber(w.String()) {
		// A short cry for help is not an answer to the question: keep the
		// step, and remind what it asks after the emergency numbers.
		r.Replies = append(r.Replies, b.prompt(st, cur))
		return r
	}
	b.answer(st, cur, text, norm, w, in, &r)
	return r
}

// warn says the emergency numbers first when the message spoke of danger.
func (b *Book) warn(st *State, r *Result) {
	if r.Urgent && len(r.Replies) == 0 {
		r.Replies = append(r.Replies, b.text(TextEmergency, st))
	}
}

// first handles the first message of a conversation: a command, a ticket
// code, a question, a choice of language, a wish to report; else the
// greeting and the menu.
func (b *Book) first(st *State, in Input, text, norm string, w Words, r *Result) {
	*st = st.rest()
	intent := readIntent(text, w)
	if intent.English && !r.Urgent || intent.Intent == IntentEnglish {
		st.Lang = English
	}
	if intent.Intent == IntentIndonesian {
		st.Lang = Indonesian
	}
	b.warn(st, r)
	cmd, isCmd := commands[norm]
	switch {
	case isCmd && cmd == cmdLanguage:
		st.Lang = English // and the greeting in English
	case isCmd && cmd == cmdIndonesian:
		st.Lang = Indonesian
	case isCmd && cmd != cmdMenu && cmd != cmdBack && cmd != cmdHelp:
		b.command(st, cmd, r)
		return
	}
	if in.Lost {
		// The state was lost: say so, and take the message for no choice.
		n := len(r.Replies)
		b.enter(st, b.Start, r)
		r.Replies[n] = b.text(TextLost, st) + "\n" + r.Replies[n]
		return
	}
	switch {
	case intent.Intent == IntentStatus && !r.Urgent:
		r.Lookup = intent.Code
		st.Step = b.Start
		return
	case intent.Intent == IntentStop:
		b.command(st, cmdStop, r)
		return
	case intent.Intent.Question() && !r.Urgent:
		if id := b.answers[intent.Intent]; id != "" {
			r.Replies = append(r.Replies, b.greeting(r, st)+"\n"+b.steps[id].Prompt.In(st.lang()))
			b.askMore(st, intent, r)
			return
		}
	}
	n := len(r.Replies)
	start := b.steps[b.Start]
	next, story := "", false
	if start != nil && start.Kind == KindChoice {
		// A first message that names a menu choice in words ("lapor", "cek
		// tiket") goes straight there, still after the greeting.
		if picks := readChoices(start.Choices, start.phrases, w, false); intent.Intent != IntentGreeting &&
			len(picks) == 1 && !isNumber(norm) && start.Choices[picks[0]].Next != "" && start.Choices[picks[0]].Action == "" {
			next = start.Choices[picks[0]].Next
		}
		// A first message that tells what happened starts the report, its
		// words the beginning of the story; so does one that speaks of
		// danger, or asks to report or complain.
		story = tells(text, w, intent)
		complaint := intent.Intent == IntentComplaint
		report := intent.Intent == IntentReport || intent.Intent == IntentEnglish && intent.Report || r.Urgent || story
		if next == "" || story {
			for _, c := range start.Choices {
				if c.Value == "complaint" && complaint || c.Value == "case" && report && !complaint {
					next = c.Next
				}
			}
		}
	}
	if next != "" {
		st.Trail = append(st.Trail, b.Start)
		b.enter(st, next, r)
		head := b.greeting(r, st)
		if f := b.steps[next].flow; story && f != nil && f.story != "" {
			story := r.story(text)
			if ms := b.Field(f.story); ms != nil {
				story = r.keepCut(story, ms.MaxLen)
			}
			st.set(f.story, story)
			head += "\n" + b.text(TextStoryKept, st)
		}
		r.Replies[n] = head + "\n" + r.Replies[n]
		return
	}
	b.enter(st, b.Start, r)
	// One message, not two: the greeting leads the first prompt, and
	// a file that came with the message is acknowledged first.
	r.Replies[n] = b.greeting(r, st) + "\n" + r.Replies[n]
	if in.Kept > 0 {
		r.Replies[n] = b.text(TextAttached, st) + " " + r.Replies[n]
	}
}

// tells reports whether a first message tells what happened, rather than
// greets, names a menu choice or asks to report: a story of violence, or
// six words or more that are no question (ten, for a question or a
// request to report).
func tells(text string, w Words, intent IntentReading) bool {
	n := len(w.Tok)
	switch {
	case n < 4:
		return false
	case storyOfViolence(w) && !(question(text, w) && n < 7):
		return true
	case n >= 10:
		return true
	}
	return n >= 6 && !question(text, w) && intent.Intent != IntentReport && intent.Intent != IntentGreeting
}

// greeting is the greeting that leads a new conversation's first prompt:
// it promises that HAPUS clears the chat only where the channel can.
func (b *Book) greeting(r *Result, st *State) string {
	if r.in.Wipes {
		return b.text(TextGreeting, st)
	}
	return b.text(TextGreetingSMS, st)
}

// askMore follows an answered question: the conversation waits at the
// menu, and the person is asked whether there is anything else (and told
// how to report, when the question spoke of it).
func (b *Book) askMore(st *State, intent IntentReading, r *Result) {
	st.Step = b.Start
	more := b.text(TextAskMore, st)
	if intent.Report {
		more = b.text(TextOfferReport, st) + " " + more
	}
	r.Replies[len(r.Replies)-1] += "\n" + more
}

// aside handles a message that is not an answer to the question under
// way but asks something of its own: a ticket code, STOP in words, a
// choice of language, a question about the service, a greeting. It
// reports whether it did; the question under way stays open.
func (b *Book) aside(st *State, s *Step, text string, w Words, in Input, r *Result) bool {
	if len(w.Tok) == 0 || s.Action == "status" || in.Location || len(w.Tok) == 1 && isNumber(w.Tok[0]) {
		return false // nothing to read, or a plain number: the answer
	}
	intent := readIntent(text, w)
	short := len(w.Tok) <= 8
	asked := intent.Intent.Question() && question(text, w) && b.answers[intent.Intent] != ""
	if s.Kind != KindText && s.Kind != KindPlace && b.picks(st, s, w) && intent.Intent != IntentStatus && !asked {
		return false
	}
	if s.Read == "date" {
		if _, ok := readDate(w, unix(st.Updated)); ok {
			return false
		}
	}
	switch {
	case intent.Intent == IntentStatus:
		r.Lookup = intent.Code
		if st.Step != b.Start {
			r.After = append(r.After, b.prompt(st, s))
		}
	case intent.Intent == IntentStop:
		b.command(st, cmdStop, r)
	case intent.Intent == IntentEnglish || intent.Intent == IntentIndonesian:
		// Only an explicit choice ("english please", "bahasa inggris"):
		// a story written in English mid-report changes nothing.
		l, ok := languageChoice(w)
		if !ok {
			return false
		}
		b.setLang(st, l, r)
	case intent.Intent.Question() && short && (s.Kind != KindText || question(text, w)) && !r.Urgent:
		id := b.answers[intent.Intent]
		if id == "" {
			return false
		}
		r.Replies = append(r.Replies, b.steps[id].Prompt.In(st.lang()))
		if st.Step == b.Start {
			b.askMore(st, intent, r)
		} else {
			r.Replies = append(r.Replies, b.prompt(st, s))
		}
	case intent.Intent == IntentGreeting && !r.Urgent:
		if st.Step == b.Start {
			b.enter(st, b.Start, r)
			return true
		}
		r.Replies = append(r.Replies, b.text(TextHello, st)+" "+b.prompt(st, s))
	default:
		return false
	}
	return true
}

// setLang chooses a language (never toggles: "english" twice keeps
// English) and says the question under way again in it.
func (b *Book) setLang(st *State, l Lang, r *Result) {
	st.Lang = l
	r.Replies = append(r.Replies, b.text(TextLanguage, st))
	if s := b.steps[st.Step]; s != nil {
		if st.Paused {
			r.Replies = append(r.Replies, b.text(TextResume, st))
		} else {
			r.Replies = append(r.Replies, b.prompt(st, s))
		}
	}
}

type command uint8

const (
	cmdMenu command = iota + 1
	cmdCancel
	cmdBack
	cmdHelp
	cmdLanguage
	cmdStop
	cmdWipe
	cmdOfficer
	cmdIndonesian
)

var commands = map[string]command{
	"menu": cmdMenu, "mulai": cmdMenu, "start": cmdMenu, "home": cmdMenu,
	"batal": cmdCancel, "cancel": cmdCancel, "batalkan": cmdCancel,
	"kembali": cmdBack, "back": cmdBack,
	"bantuan": cmdHelp, "help": cmdHelp,
	// Choose, never toggle: LANGUAGE is what an Indonesian speaker types for
	// English, BAHASA what an English speaker types for Indonesian.
	"language": cmdLanguage, "english": cmdLanguage, "inggris": cmdLanguage,
	"bahasa": cmdIndonesian, "indonesia": cmdIndonesian, "indonesian": cmdIndonesian,
	"stop": cmdStop, "berhenti": cmdStop, "unsubscribe": cmdStop,
	"hapus": cmdWipe, "delete": cmdWipe,
	"petugas": cmdOfficer, "officer": cmdOfficer,
}

func (b *Book) command(st *State, cmd command, r *Result) {
	switch cmd {
	case cmdMenu:
		*st = st.rest()
		b.enter(st, b.Start, r)
	case cmdCancel:
		switch {
		case st.Ticket != "" && st.Get(fieldWithdraw) == "":
			// An urgent report went to the officers already: say so, and
			// ask whether the person is safe before anything is closed.
			st.set(fieldWithdraw, "asked")
			r.Replies = append(r.Replies, b.coded(TextWithdraw, st, st.Ticket))
			return
		case st.Ticket != "":
			// BATAL again: no more questions; the report stays.
			r.Replies = append(r.Replies, b.coded(TextKept, st, st.Ticket))
		case r.in.Filed != "" && b.AtRest(st):
			r.Replies = append(r.Replies, b.text(TextCancelFiled, st)+" "+b.coded(TextKept, st, r.in.Filed))
		case r.in.Filed != "":
			r.Replies = append(r.Replies, b.text(TextCancelled, st)+" "+b.coded(TextKept, st, r.in.Filed))
		default:
			r.Replies = append(r.Replies, b.text(TextCancelled, st))
		}
		r.End = true
	case cmdBack:
		st.Paused = false
		if n := len(st.Trail); n > 0 {
			prev := st.Trail[n-1]
			st.Trail = st.Trail[:n-1]
			if s := b.steps[prev]; s != nil {
				b.forget(st, s)
			}
			st.Return = ""
			b.enter(st, prev, r)
			return
		}
		b.enter(st, st.Step, r)
	case cmdHelp:
		r.Replies = append(r.Replies, b.text(TextHelp, st))
		if s := b.steps[st.Step]; s != nil {
			r.Replies = append(r.Replies, b.prompt(st, s))
		}
	case cmdLanguage:
		b.setLang(st, English, r)
	case cmdIndonesian:
		b.setLang(st, Indonesian, r)
	case cmdStop:
		msg := b.text(TextStop, st)
		r.OptOut = true
		if b.AtRest(st) {
			r.End = true
		} else {
			// The answers so far wait: writing again goes on with them.
			st.Stopped, st.Paused = true, false
			msg += " " + b.text(TextDraftKept, st)
		}
		if code := b.filed(st, r); code != "" {
			msg += " " + b.coded(TextKept, st, code)
		}
		r.Replies = append(r.Replies, msg)
	case cmdWipe:
		msg := b.text(TextWipeSMS, st)
		if r.in.Wipes {
			msg = b.text(TextWipe, st)
		}
		if code := b.filed(st, r); code != "" {
			msg += " " + b.coded(TextKept, st, code)
		}
		r.Replies = append(r.Replies, msg)
		r.Wipe = true
		r.End = true
	case cmdOfficer:
		if b.Handover == "" || b.steps[b.Handover] == nil {
			r.Replies = append(r.Replies, b.text(TextHandover, st))
			return
		}
		st.Paused, st.Return, st.Misses = false, "", 0
		b.enter(st, b.Handover, r)
	}
}

// fieldWithdraw marks, in the engine's own answers, that the person was
// asked whether the urgent report may be closed (TextWithdraw).
const fieldWithdraw = "_withdraw"

// withdraw reads the answer to TextWithdraw. Safe ("1", "ya", "sudah
// aman"): the person closes the urgent report (Result.Withdraw). Not yet
// ("2", "belum", words of danger): the question under way again. Anything
// else answers the question under way instead. It reports whether the
// message was the answer.
func (b *Book) withdraw(st *State, w Words, r *Result) bool {
	st.unset(fieldWithdraw)
	s := w.String()
	d := readDanger(w)
	switch {
	case s == "2" || s == "dua" || no(w) || w.At(0, "belum", "lanjut", "lanjutkan", "masih") || d.Danger:
		b.warn(st, r)
		if cur := b.steps[st.Step]; cur != nil && !b.AtRest(st) {
			r.Replies = append(r.Replies, b.prompt(st, cur))
		} else {
			r.Replies = append(r.Replies, b.coded(TextKept, st, st.Ticket))
		}
		return true
	case s == "1" || s == "satu" || yes(w) || d.Denied || w.At(0, "aman", "tutup", "safe", "close"):
		r.Withdraw = st.Ticket
		r.Replies = append(r.Replies, b.coded(TextWithdrawn, st, st.Ticket))
		b.finish(st, r)
		st.Ticket = ""
		return true
	}
	return false
}

// filed is the report a STOP or HAPUS leaves with the officers: the urgent
// one opened in this conversation, or one filed before.
func (b *Book) filed(st *State, r *Result) string {
	if st.Ticket != "" {
		return st.Ticket
	}
	return r.in.Filed
}

// coded is the text name with code in place of {code}.
func (b *Book) coded(name string, st *State, code string) string {
	return strings.ReplaceAll(b.text(name, st), "{code}", code)
}

// AtRest reports whether no report is under way in the conversation: it
// is new, or waits at the menu.
func (b *Book) AtRest(st *State) bool {
	return st.Step == "" || st.Step == b.Start || b.steps[st.Step] == nil
}

// resume answers the question asked after a long pause: go on, or start again.
func (b *Book) resume(st *State, norm string, r *Result) {
	switch {
	case norm == "1" || norm == "satu" || strings.HasPrefix(norm, "lanjut") || strings.HasPrefix(norm, "continue") ||
		norm == "ya" || norm == "yes":
		st.Paused = false
		r.Replies = append(r.Replies, b.prompt(st, b.steps[st.Step]))
	case norm == "2" || norm == "dua" || strings.HasPrefix(norm, "mulai") || strings.HasPrefix(norm, "baru") ||
		strings.HasPrefix(norm, "restart") || strings.HasPrefix(norm, "new"):
		b.command(st, cmdMenu, r)
	default:
		r.Replies = append(r.Replies, b.text(TextRetry, st)+" "+b.text(TextResume, st))
	}
}

func (b *Book) answer(st *State, s *Step, text, norm string, w Words, in Input, r *Result) {
	if in.Location && (s.Kind != KindText || s.Field != FieldPlace) && s.Kind != KindPlace {
		// A shared location answers only the question of the place; at
		// any other question it is kept with the report, as a file.
		r.Replies = append(r.Replies, b.text(TextAttached, st)+" "+b.prompt(st, s))
		return
	}
	if norm == "" {
		switch {
		case in.Kept > 0: // a picture or a voice note, kept with the report
			r.Replies = append(r.Replies, b.text(TextAttached, st)+" "+b.prompt(st, s))
		case text != "": // emoji, a sticker's symbol, punctuation
			r.Replies = append(r.Replies, b.text(TextEmoji, st)+" "+b.prompt(st, s))
		case in.Media > 0: // a file the channel could not take
			r.Replies = append(r.Replies, b.text(TextEmpty, st)+" "+b.prompt(st, s))
		default: // nothing at all
			r.Replies = append(r.Replies, b.text(TextBlank, st)+" "+b.prompt(st, s))
		}
		return
	}
	if in.Kept > 0 && s.Kind != KindText && s.Kind != KindPlace && !b.picks(st, s, w) {
		// A caption that answers no choice: the file is what was meant.
		r.Replies = append(r.Replies, b.text(TextAttached, st)+" "+b.prompt(st, s))
		return
	}
	switch s.Kind {
	case KindText:
		if s.Optional && (skipWords[norm] || skipWords[w.String()] || dontKnow(w)) {
			b.forget(st, s)
			b.advance(st, s, s.Next, r)
			return
		}
		if s.More && st.Return == "" && st.Get(s.Field) != "" && (skipWords[norm] || skipWords[w.String()]) {
			// Nothing to add to the story told already.
			b.advance(st, s, s.Next, r)
			return
		}
		if s.More {
			text = r.story(text)
		}
		text = r.keepCut(text, s.MaxLen)
		if s.Action == "status" {
			// The caller answers; the person is back at the menu.
			if code := FindCode(text); code != "" {
				text = code
			}
			r.Lookup = text
			*st = st.rest()
			st.Step = b.Start
			return
		}
		if s.More && st.Return == "" && st.Get(s.Field) != "" {
			// The story began where a choice was asked: this is more of it.
			text = r.keepCut(st.Get(s.Field)+" "+text, s.MaxLen)
		}
		b.store(st, s, text)
		if s.More {
			st.More = s.Field
		}
		b.advance(st, s, s.Next, r)
	case KindPlace:
		b.place(st, s, text, w, in, r)
	case KindChoice, KindConfirm:
		if s.Read == "date" {
			if picks := b.readChoice(st, s, w); len(picks) == 1 && (isNumber(w.String()) || b.wholeChoice(s, w)) {
				b.choose(st, s, picks[0], r)
				return
			}
			if d, ok := readDate(w, unix(st.Updated)); ok {
				b.store(st, s, d.Value())
				b.advance(st, s, s.Next, r)
				return
			}
		}
		picks := b.readChoice(st, s, w)
		if len(picks) != 1 {
			b.unmatched(st, s, text, w, r)
			return
		}
		b.choose(st, s, picks[0], r)
	case KindMulti:
		picked := b.readChoice(st, s, w)
		if len(picked) == 0 {
			b.unmatched(st, s, text, w, r)
			return
		}
		vals := make([]string, 0, len(picked))
		for _, i := range picked {
			b.pick(st, &s.Choices[i], r)
			vals = append(vals, s.Choices[i].Value)
		}
		b.store(st, s, strings.Join(vals, ","))
		b.advance(st, s, s.Next, r)
	default:
		b.enter(st, s.Next, r)
	}
}

// choose applies choice i of s: stores it, or submits, cancels or edits.
func (b *Book) choose(st *State, s *Step, i int, r *Result) {
	c := &s.Choices[i]
	b.pick(st, c, r)
	switch c.Action {
	case "submit":
		if s.Kind != KindConfirm {
			b.store(st, s, c.Value)
		}
		r.Submit = &Submission{Kind: s.Submit, Ticket: st.Ticket, Answers: Shown(st.Answers), Files: st.Files,
			Urgent: st.Urgent, Lang: st.lang(), Done: b.text(TextSubmitted, st)}
		b.finish(st, r)
		return
	case "cancel":
		r.Replies = append(r.Replies, b.text(TextCancelled, st))
		b.finish(st, r)
		return
	case "edit":
		st.Misses = 0
		st.Return = s.Next
		if t := b.steps[c.Next]; t != nil {
			b.forget(st, t)
		}
		b.enter(st, c.Next, r)
		return
	}
	b.store(st, s, c.Value)
	next := c.Next
	if next == "" {
		next = s.Next
	}
	b.advance(st, s, next, r)
}

// finish ends a report. A conversation in a language other than the
// default keeps only that: the next message is greeted in it.
func (b *Book) finish(st *State, r *Result) {
	if st.Lang == "" || st.Lang == Indonesian {
		r.End = true
		return
	}
	*st = State{Lang: st.Lang, Updated: st.Updated}
}

// Shown returns a copy of the answers without the engine's own (those
// whose field starts with "_"), as a ticket may keep them.
func Shown(as []Answer) []Answer {
	out := make([]Answer, 0, len(as))
	for _, a := range as {
		if !strings.HasPrefix(a.Field, "_") {
			out = append(out, a)
		}
	}
	return out
}

// readChoice reads which choices of s the words pick, with the step's
// reader where it has one; nil when the message is not clearly an answer.
func (b *Book) readChoice(st *State, s *Step, w Words) []int {
	switch s.Read {
	case "danger":
		return dangerChoice(s, w)
	case "victim":
		if i := victimChoice(s, w, st.Get("reporter") == "victim"); i >= 0 {
			return []int{i}
		}
		if picks := readChoices(s.Choices, s.phrases, w, false); len(picks) == 1 && isNumber(w.String()) {
			return picks
		}
		return nil
	}
	return readChoices(s.Choices, s.phrases, w, s.Kind == KindMulti)
}

// wholeChoice reports whether the whole message is a label or word of one
// of s's choices.
func (b *Book) wholeChoice(s *Step, w Words) bool {
	whole := w.String()
	for _, p := range s.phrases {
		if strings.Join(p.toks, " ") == whole {
			return true
		}
	}
	return false
}

// picks reports whether the words answer a choice of s.
func (b *Book) picks(st *State, s *Step, w Words) bool {
	switch s.Kind {
	case KindChoice, KindConfirm, KindMulti:
		if s.Read == "date" {
			if _, ok := readDate(w, unix(st.Updated)); ok {
				return true
			}
		}
		return len(b.readChoice(st, s, w)) > 0
	}
	return false
}

// pick applies what choosing c does besides storing its value.
func (b *Book) pick(st *State, c *Choice, r *Result) {
	if c.Urgent {
		st.Urgent, r.Urgent = true, true
	}
	if c.Reply != nil && !(c.Urgent && r.warned) {
		r.Replies = append(r.Replies, c.Reply.In(st.lang()))
	}
	for k, v := range c.Set {
		st.set(k, v)
	}
}

// unmatched handles an answer that picks no choice: a story typed where a
// choice was asked is kept as more of the story and the question asked
// again briefly; free text where any is accepted is kept; else a gentle
// re-prompt.
func (b *Book) unmatched(st *State, s *Step, text string, w Words, r *Result) {
	if s.Accept == "any" && !isNumber(w.String()) {
		b.store(st, s, cut(text, 100))
		b.advance(st, s, s.Next, r)
		return
	}
	if b.keepStory(st, s, text, w, r) {
		r.Replies = append(r.Replies, b.text(TextMore, st)+" "+b.prompt(st, s))
		return
	}
	b.miss(st, s, r)
}

// keepStory adds text (the whole message, however long) to the story of
// the step's flow when it reads as one (four words or more). It reports
// whether it did.
func (b *Book) keepStory(st *State, s *Step, text string, w Words, r *Result) bool {
	field := st.More
	if field == "" && s.flow != nil {
		field = s.flow.story
	}
	if field == "" || len(w.Tok) < 4 || question(text, w) && len(w.Tok) < 7 {
		return false
	}
	ms := b.Field(field)
	if ms == nil {
		return false
	}
	v := r.story(text)
	if have := st.Get(field); have != "" {
		v = have + " " + v
	}
	st.set(field, r.keepCut(v, ms.MaxLen))
	return true
}

var skipWords = map[string]bool{"0": true, "tidak": true, "tdk": true, "lewati": true, "lewat": true, "skip": true,
	"no": true, "tidak ada": true, "ga": true, "gak": true, "nggak": true, "kosong": true, "none": true,
	"tidak usah": true, "tidak mau": true, "rahasia": true}

func (b *Book) store(st *State, s *Step, v string) {
	if s.Field != "" {
		st.set(s.Field, v)
	}
}

// forget removes what answering s stored.
func (b *Book) forget(st *State, s *Step) {
	if s.Field != "" {
		st.unset(s.Field)
	}
	if s.Kind == KindPlace {
		for _, f := range []string{s.PlaceField, fieldWhere, fieldVillage, "_kec", FieldPlaceCheck} {
			st.unset(f)
		}
	}
	for _, c := range s.Choices {
		for k := range c.Set {
			st.unset(k)
		}
	}
}

// advance leaves step s for next, or for the step a correction returns to.
func (b *Book) advance(st *State, s *Step, next string, r *Result) {
	st.Misses = 0
	if s.Field == "" || st.More != s.Field {
		st.More = ""
	}
	if !containsStr(st.Trail, s.ID) {
		st.Trail = append(st.Trail, s.ID)
	}
	if st.Return != "" {
		next, st.Return = st.Return, ""
	}
	b.enter(st, next, r)
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
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
			// An answer said: wait at the menu for another question.
			r.Replies[len(r.Replies)-1] += "\n" + b.text(TextAskMore, st)
			*st = st.rest()
			st.Step = b.Start
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
	if s.Kind == KindPlace {
		return b.placePrompt(st, s)
	}
	p := s.Prompt.In(lang)
	for _, v := range s.Variants {
		if f, val, ok := strings.Cut(v.If, "="); ok && st.Get(f) == val || !ok && st.Get(v.If) != "" {
			p = v.Prompt.In(lang)
			break
		}
	}
	if strings.Contains(p, "{summary}") {
		p = strings.Replace(p, "{summary}", b.Summary(st), 1)
	}
	if len(s.Choices) == 0 {
		return p
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
	placed := ""
	for _, id := range st.Trail {
		s := b.steps[id]
		if s == nil || s.Field == "" || s.Label == nil || s.Field == placed {
			continue
		}
		if s.Kind == KindPlace {
			placed = s.PlaceField // said with the place, not again
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
		if s.Kind == KindPlace {
			sb.WriteString(b.placeSummary(st, s, lang))
			continue
		}
		sb.WriteString(b.Display(s, v, lang))
	}
	return sb.String()
}

// Display renders a stored value of step s for people: choice values by
// their labels, long text shortened.
func (b *Book) Display(s *Step, v string, lang Lang) string {
	if s.Kind == KindPlace {
		return b.KecamatanName(v, lang)
	}
	if s.Read == "date" {
		if d, ok := ParseDateValue(v); ok {
			return d.Show(lang)
		}
	}
	if len(s.Choices) == 0 {
		return cut(v, 30)
	}
	var out []string
	for _, part := range strings.Split(v, ",") {
		label := part
		for _, c := range s.Choices {
			if c.Value == part {
				label = c.Label.In(lang)
				if c.Short != nil {
					label = c.Short.In(lang)
				}
				break
			}
		}
		out = append(out, label)
	}
	return cut(strings.Join(out, ", "), 40)
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

// Text returns the shared text name in lang.
func (b *Book) Text(name string, lang Lang) string {
	if lang == "" {
		lang = Indonesian
	}
	return b.Texts[name].In(lang)
}

// StatusText names a ticket status in plain words.
func (b *Book) StatusText(status string, lang Lang) string {
	if t, ok := b.Texts["status."+status]; ok {
		return t.In(lang)
	}
	return status
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

func isNumber(norm string) bool {
	_, ok := number(norm)
	return ok
}
