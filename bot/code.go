package bot

import (
	"crypto/rand"
	"regexp"
	"strings"
)

// codeAlphabet has no 0/O/1/I, which are easy to mistake on a phone.
const codeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// CodePattern matches every ticket code.
var CodePattern = regexp.MustCompile(`^[A-Z]{2,4}-[2-9A-HJ-NP-Z]{5,6}$`)

// codePrefix gives the code prefix of each kind of ticket.
var codePrefix = map[Kind]string{KindCase: "KS", KindComplaint: "PL"}

// NewCode returns a random ticket code for the kind, such as "KS-7HQ4XM".
// Codes are drawn from a cryptographic source, so one code says nothing of
// another. Uniqueness is the store's job: it returns Conflict on a repeat.
func NewCode(k Kind) string {
	prefix := codePrefix[k]
	if prefix == "" {
		prefix = "TK"
	}
	var raw [6]byte
	if _, err := rand.Read(raw[:]); err != nil {
		panic("bot: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	b := make([]byte, 0, len(prefix)+7)
	b = append(b, prefix...)
	b = append(b, '-')
	for _, r := range raw {
		b = append(b, codeAlphabet[r&31])
	}
	return string(b)
}

// NormalizeCode reads a code as a person might type it: any case, with
// spaces or without its dash. It returns "" if s cannot be a code.
func NormalizeCode(s string) string {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if CodePattern.MatchString(s) {
		return s
	}
	if strings.Contains(s, "-") {
		return ""
	}
	for i := 2; i <= 4 && i < len(s); i++ {
		if c := s[:i] + "-" + s[i:]; CodePattern.MatchString(c) {
			return c
		}
	}
	return ""
}
