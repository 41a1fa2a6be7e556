package main

import (
	"regexp"
	"strings"

	"aduan/bot"
)

// The simulated citizen answers whatever the bot asks instead of playing a
// fixed script, so that the bench keeps working as the flows grow: "1" to a
// numbered choice list, "ya" to the summary, free text otherwise, until a
// reply carries a ticket code.

var (
	// choiceLine matches a line of a numbered choice list ("1.Saya korban").
	choiceLine = regexp.MustCompile(`(?m)^[ \t]*[0-9]+\.[ \t]*\S`)
	// codeInText finds ticket code candidates inside a reply; each is then
	// checked with bot.CodePattern.
	codeInText = regexp.MustCompile(`[A-Z]{2,4}-[2-9A-HJ-NP-Z]{5,6}`)
	// confirmChoice matches the summary's "send it" choice.
	confirmChoice = regexp.MustCompile(`(?im)^[ \t]*[0-9]+\.[ \t]*(ya, kirim|yes, send)`)
)

// stories are the free-text answers, picked in turn: short, as people
// write them in an SMS.
var stories = []string{
	"Tetangga saya dipukul suaminya tadi malam, anaknya juga ketakutan",
	"Adik saya sering dimarahi dan diancam oleh majikannya di Borong",
	"Seorang anak ditinggal orang tuanya sudah dua minggu, tidak ada yang urus",
	"Ibu itu dipukul lagi kemarin sore di rumahnya dekat pasar",
	"Ada anak perempuan diganggu oleh pamannya, dia takut pulang ke rumah",
	"Kemarin malam",
	"Dekat gereja di kampung kami",
	"Saya mohon dibantu secepatnya, terima kasih",
}

// findCode returns the first ticket code in text, or "".
func findCode(text string) string {
	for _, c := range codeInText.FindAllString(text, -1) {
		if bot.CodePattern.MatchString(c) {
			return c
		}
	}
	return ""
}

// isPrompt reports whether a reply asks for an answer (a choice list, a
// question mark, a closing colon) or carries a ticket code. A reply that does neither
// may be followed by the prompt itself (as an emergency notice is), so the
// citizen waits a moment before answering it as a free-text prompt.
func isPrompt(reply string) bool {
	if choiceLine.MatchString(reply) || findCode(reply) != "" {
		return true
	}
	s := strings.TrimRight(reply, " \t\r\n")
	return strings.Contains(s, "?") || strings.HasSuffix(s, ":")
}

// answer returns what the citizen says to the bot's last reply: "ya" to a
// summary, "1" to a numbered choice list, free text (the n'th story) to
// anything else.
func answer(reply string, n int) string {
	lower := strings.ToLower(reply)
	switch {
	case confirmChoice.MatchString(reply), strings.Contains(lower, "sudah benar?"):
		return "ya"
	case choiceLine.MatchString(reply):
		return "1"
	}
	return stories[n%len(stories)]
}
