package dialog

import "strings"

// MaxSegments is the most SMS segments one bot message may take.
const MaxSegments = 3

// gsm7 holds the GSM 03.38 basic character set; gsm7ext the characters
// that take an escape (two septets).
const (
	gsm7 = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7ext = "^{}\\[~]|€\f"
)

// Segments returns how many SMS segments s takes: GSM-7 where every
// character allows it (160 septets in one segment, 153 in each of several),
// UCS-2 otherwise (70, or 67 each).
func Segments(s string) int {
	septets, ucs2 := 0, false
	for _, r := range s {
		switch {
		case strings.ContainsRune(gsm7, r):
			septets++
		case strings.ContainsRune(gsm7ext, r):
			septets += 2
		default:
			ucs2 = true
		}
	}
	if ucs2 {
		units := 0
		for _, r := range s {
			units++
			if r > 0xFFFF {
				units++
			}
		}
		return parts(units, 70, 67)
	}
	return parts(septets, 160, 153)
}

func parts(n, single, each int) int {
	if n <= single {
		return 1
	}
	return (n + each - 1) / each
}

// nonGSM returns the characters of s outside GSM-7, or "".
func nonGSM(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !strings.ContainsRune(gsm7, r) && !strings.ContainsRune(gsm7ext, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
