package dialog

import "strings"

// Rest is what a message says that a person who filed a report writes
// while no report is under way (Book.AtRest): is it for the conversation,
// or for the officer of their report?
type Rest int

const (
	// RestMessage is for the officer: news ("aku lari ke rumah om"), a
	// question for them ("kak nanti yg datang siapa?"), thanks, a
	// greeting, an answer to what the officer asked ("1", "ya").
	RestMessage Rest = iota
	// RestCommand is for the conversation: MENU and the other commands,
	// STOP in words, a ticket's status asked, a language chosen, a menu
	// choice (by number while the menu is shown, or in its words), a wish
	// to report or complain again.
	RestCommand
	// RestQuestion is a question the service answers from its published
	// standard ("alamat kantor dimana?"): the conversation answers it,
	// and the officer may read it too.
	RestQuestion
)

// ReadRest reads what a message written at rest is for (see Rest). It
// prefers RestMessage: a story that happens to say "lapor" or hold a
// ticket's code is for the officer; only short messages are commands.
func (b *Book) ReadRest(st *State, text string) Rest {
	text = Clean(text)
	norm := Normalize(text)
	w := ReadWords(text)
	n := len(w.Tok)
	if n == 0 {
		return RestMessage
	}
	if cmd, ok := commands[norm]; ok && cmd != cmdBack || isStop(w) {
		return RestCommand // KEMBALI has nothing to go back to: "back" is a word of a message
	}
	if _, ok := languageChoice(w); ok && n <= 3 {
		return RestCommand
	}
	intent := readIntent(text, w)
	if intent.Intent == IntentStatus && n <= 4 {
		return RestCommand // "cek KS-7HQ4XM"; a code with more said is for the officer
	}
	if start := b.steps[b.Start]; start != nil && start.Kind == KindChoice {
		if k, ok := number(w.String()); ok || n == 2 && w.At(0, "no", "nomor", "pilih") && isNumber(w.Tok[1]) {
			if !ok {
				k, _ = number(w.Tok[1])
			}
			// A number answers the menu only while it is shown; else it
			// answers whatever the officer asked.
			if st.Step == b.Start && k >= 1 && k <= len(start.Choices) {
				return RestCommand
			}
			return RestMessage
		}
		if picks := readChoices(start.Choices, start.phrases, w, false); len(picks) == 1 && n <= 3 {
			return RestCommand // "lapor", "cek tiket", "info"
		}
	}
	if n <= 5 && !storyOfViolence(w) && w.Has("lapor", "melapor", "laporan", "report", "mengadu", "adukan", "komplain",
		"aduan", "pengaduan", "complain") {
		return RestCommand // "mau lapor lagi", "sy mau mengadu"
	}
	if intent.Intent.Question() && question(text, w) && b.answers[intent.Intent] != "" {
		return RestQuestion
	}
	return RestMessage
}

// PickTicket reads which of codes a message names: its place in the list
// as offered ("1", "no 2", "dua") or the code itself ("ks 7hq4xm"). It
// returns "" when the message names none of them.
func PickTicket(text string, codes []string) string {
	if c := FindCode(text); c != "" {
		for _, x := range codes {
			if strings.EqualFold(x, c) {
				return x
			}
		}
		return ""
	}
	w := ReadWords(text)
	var tok string
	switch {
	case len(w.Tok) == 1:
		tok = w.Tok[0]
	case len(w.Tok) == 2 && w.At(0, "no", "nomor", "pilih", "yang"):
		tok = w.Tok[1]
	default:
		return ""
	}
	if k, ok := number(tok); ok && k >= 1 && k <= len(codes) {
		return codes[k-1]
	}
	return ""
}
