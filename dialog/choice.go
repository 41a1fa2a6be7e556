package dialog

import "strings"

// phrase is one way of naming a choice: its label or one of its words, as
// canonical words.
type phrase struct {
	choice int
	toks   []string
	exact  bool // names the choice only as the whole message
}

// compilePhrases lists the ways of naming each choice of s, longest first.
func compilePhrases(cs []Choice) []phrase {
	var out []phrase
	add := func(i int, text string, exact bool) {
		w := ReadWords(text)
		if len(w.Tok) > 0 {
			out = append(out, phrase{choice: i, toks: w.Tok, exact: exact})
		}
	}
	for i, c := range cs {
		for _, l := range Langs {
			add(i, c.Label[l], false)
		}
		for _, w := range c.Words {
			add(i, w, false)
		}
		for _, w := range c.Exact {
			add(i, w, true)
		}
	}
	// Longest first, so that "rumah aman" is read before "aman".
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && len(out[j].toks) > len(out[j-1].toks); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// choiceFillers are words that do not change which choice a message picks.
var choiceFillers = map[string]bool{"no": true, "nomor": true, "pilih": true, "pilihan": true, "number": true,
	"option": true, "yang": true, "ke": true, "saja": true, "ya": true, "dan": true, "and": true, "juga": true,
	"also": true, "sama": true, "dengan": true, "atau": true, "or": true, "kak": true, "pak": true, "bu": true,
	"ka": true, "tabe": true, "itu": true, "ini": true, "deh": true, "dong": true, "sih": true, "kok": true,
	"nih": true, "lah": true, "nya": true, "adalah": true, "the": true, "a": true, "an": true, "i": true,
	"am": true, "is": true, "it": true, "s": true, "my": true, "di": true, "dari": true, "oke": true, "iya": false,
	"saya": true, "dia": true, "ada": true, "sudah": true, "untuk": true, "for": true, "lewat": false}

// readChoices reads which choices of cs the words w pick: by number ("2",
// "no 2", "dua", "1 3"), by label or word, with small typos. A message is
// read as an answer only when the words that name choices are most of
// it: a story that happens to hold one choice's word ("dia dipukul
// suaminya pakai kayu" at "who is the victim?") picks nothing. A word
// right after a verb of violence in the passive, or after "oleh" or
// "pelaku", names who did it, not the answer ("dipukul bapaknya").
// With multi false, at most one choice is returned. nil means: not
// clearly an answer, ask again.
func readChoices(cs []Choice, ph []phrase, w Words, multi bool) []int {
	n := len(w.Tok)
	if n == 0 {
		return nil
	}
	// Numbers: every word a number or a filler.
	var nums []int
	allNum, outside := true, false
	for _, t := range w.Tok {
		if choiceFillers[t] {
			continue
		}
		k, ok := number(t)
		if !ok {
			allNum = false
			break
		}
		if k < 1 || k > len(cs) {
			outside = true
		}
		nums = appendUnique(nums, k-1)
	}
	if allNum && outside {
		return nil
	}
	if allNum && len(nums) > 0 {
		if !multi && len(nums) > 1 {
			return nil
		}
		return nums
	}
	// The whole message is a label or a word, exact ones included.
	whole := w.String()
	for _, p := range ph {
		if strings.Join(p.toks, " ") == whole {
			return []int{p.choice}
		}
	}
	// Words that name choices, longest phrases first; each word counts once.
	used := make([]bool, n)
	score := make([]int, len(cs))
	var picked []int
	for _, p := range ph {
		if p.exact {
			continue
		}
		for i := 0; i+len(p.toks) <= n; i++ {
			if !phraseAt(w, used, i, p.toks) || agentAt(w, i) {
				continue
			}
			for j := range p.toks {
				used[i+j] = true
			}
			score[p.choice] += len(p.toks)
			picked = appendUnique(picked, p.choice)
		}
	}
	// Small typos in a word: "keluarg", "fisk", "prempuan".
	for i, t := range w.Tok {
		if used[i] || len(t) < 4 || choiceFillers[t] {
			continue
		}
		max := 1
		if len(t) >= 8 {
			max = 2
		}
		hit := -1
		for _, p := range ph {
			if p.exact || len(p.toks) != 1 || len(p.toks[0]) < 4 {
				continue
			}
			if distance(p.toks[0], t, max) <= max {
				if hit >= 0 && hit != p.choice {
					hit = -2
					break
				}
				hit = p.choice
			}
		}
		if hit >= 0 && !agentAt(w, i) {
			used[i] = true
			score[hit]++
			picked = appendUnique(picked, hit)
		}
	}
	if len(picked) == 0 {
		return nil
	}
	matched, loose := 0, 0
	for i, t := range w.Tok {
		switch {
		case used[i]:
			matched++
		case choiceFillers[t]:
		default:
			loose++
		}
	}
	if loose > 2 && loose > matched {
		return nil // a story, not an answer
	}
	if multi {
		sortInts(picked)
		return picked
	}
	best, tie := -1, false
	for _, c := range picked {
		switch {
		case best < 0 || score[c] > score[best]:
			best, tie = c, false
		case score[c] == score[best]:
			tie = true
		}
	}
	if tie {
		return nil
	}
	return []int{best}
}

// phraseAt reports whether toks follow one another from position i,
// none of them used already.
func phraseAt(w Words, used []bool, i int, toks []string) bool {
	for j, x := range toks {
		if used[i+j] || w.Tok[i+j] != x && w.Root[i+j] != x {
			return false
		}
	}
	return true
}

// agentAt reports whether the word at i names who did something: it
// follows a verb of violence in the passive ("dipukul suaminya"), "oleh",
// "pelaku", or "yang pukul".
func agentAt(w Words, i int) bool {
	if i == 0 {
		return false
	}
	p := w.Tok[i-1]
	if p == "oleh" || p == "pelaku" || p == "pelakunya" || p == "by" || violent(p) && !strings.HasPrefix(p, "di") ||
		passive(p) {
		return true
	}
	return (p == "sama" || p == "dari") && i >= 2 && passive(w.Tok[i-2])
}

// passive reports whether t is a verb of harm in the passive: "dipukul",
// "ditampar", "diancam".
func passive(t string) bool {
	return strings.HasPrefix(t, "di") && len(t) > 5 && (violent(t) || killWord(t) || harmVerbs[t])
}

var harmVerbs = map[string]bool{"ditampar": true, "diancam": true, "diperkosa": true, "dicabuli": true,
	"dilecehkan": true, "dihina": true, "dimaki": true, "dikurung": true, "dijual": true, "ditelantarkan": true,
	"disiksa": true, "diusir": true, "dipaksa": true, "diraba": true}

func appendUnique(xs []int, x int) []int {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func sortInts(xs []int) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}
