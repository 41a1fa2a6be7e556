package dialog

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxInput is the most runes of one message the engine reads. Stories
// are kept longer (MaxStory); matching needs less.
const MaxInput = 2000

// MaxStory is the most runes of a story kept, in one message or in
// several: a story told in one long WhatsApp message (some 10,000
// characters) is kept whole, and the person is told what was kept of a
// longer one.
const MaxStory = 20000

// Clean makes text safe to store and show: valid UTF-8, no control or
// zero-width or direction-changing characters, spaces collapsed, trimmed,
// at most MaxInput runes.
func Clean(text string) string { return cleanN(text, MaxInput) }

// CleanStory is Clean keeping up to MaxStory runes: for text that is kept
// whole, a story or a message passed to an officer.
func CleanStory(text string) string { return cleanN(text, MaxStory) }

func cleanN(text string, max int) string {
	if text == "" {
		return ""
	}
	var sb strings.Builder
	sb.Grow(len(text))
	n, space := 0, false
	for i, w := 0, 0; i < len(text) && n < max; i += w {
		r, size := utf8.DecodeRuneInString(text[i:])
		w = size
		if r == utf8.RuneError && size <= 1 {
			continue
		}
		switch {
		case r == '\n' || r == '\t' || r == '\r' || unicode.IsSpace(r):
			space = sb.Len() > 0
			continue
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue // zero-width and bidi controls, NUL, ...
		}
		if space {
			if n+2 > max { // no room for the space and a rune after it
				break
			}
			sb.WriteByte(' ')
			space = false
			n++
		}
		sb.WriteRune(r)
		n++
	}
	return sb.String()
}

// Normalize lowers text and keeps only letters and digits, one space
// between words: "  Ya, KIRIM!! " becomes "ya kirim".
func Normalize(text string) string {
	var sb strings.Builder
	sb.Grow(len(text))
	space := false
	for _, r := range text {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if space && sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			space = false
			sb.WriteRune(unicode.ToLower(r))
			continue
		}
		space = true
	}
	return sb.String()
}

var numberWords = map[string]int{
	"satu": 1, "dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7,
	"delapan": 8, "sembilan": 9, "sepuluh": 10, "sebelas": 11,
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11,
	"pertama": 1, "kedua": 2, "ketiga": 3, "keempat": 4, "kelima": 5,
}

// number reads a choice number: "2", "no 2", "nomor dua", "dua".
func number(tok string) (int, bool) {
	if n, ok := numberWords[tok]; ok {
		return n, true
	}
	if len(tok) > 2 {
		if known[tok] || notNumbers[tok] {
			return 0, false
		}
		return numberWord(tok) // "tga", "sembilam": number words with a typo
	}
	if tok == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// notNumbers are words one typo away from a number word.
var notNumbers = map[string]bool{"lama": true, "tempat": true, "anam": true, "sate": true, "empati": true,
	"sama": true, "lain": true, "dian": true, "tiba": true, "lame": true, "satuan": true, "enak": true,
	"duo": true, "tiap": true, "lina": true, "nama": true, "ena": true, "kita": true, "siga": true}

// distance is the Levenshtein distance between a and b, or max+1 when it
// is over max.
func distance(a, b string, max int) int {
	if d := len(a) - len(b); d > max || -d > max {
		return max + 1
	}
	var buf [2][64]int
	if len(b) >= 63 {
		return max + 1
	}
	prev, cur := buf[0][:len(b)+1], buf[1][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			best = min(best, cur[j])
		}
		if best > max {
			return max + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
