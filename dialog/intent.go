package dialog

import "strings"

// Intent is what a message asks for, read from its words.
type Intent string

// The intents ReadIntent knows. The questions (IntentCost ... IntentServices)
// are answered from the flows: an info step whose `answers` names the intent.
const (
	IntentNone         Intent = ""
	IntentCost         Intent = "cost"         // "brp biaya?", "bayar ga?"
	IntentOffice       Intent = "office"       // "alamat kantor", "kantor dimana"
	IntentRequirements Intent = "requirements" // "syarat apa", "perlu bawa ktp ga"
	IntentDuration     Intent = "duration"     // "berapa lama prosesnya"
	IntentOfficers     Intent = "officers"     // "no hp petugas brp?"
	IntentHours        Intent = "hours"        // "kantor buka jam brp"
	IntentProcedure    Intent = "procedure"    // "gmn caranya lapor"
	IntentStatus       Intent = "status"       // a ticket code: "cek KS-FDJRSF", "ks fdjrsf"
	IntentEnglish      Intent = "english"      // "english please", or a message written in English
	IntentIndonesian   Intent = "indonesian"   // "bahasa indonesia"
	IntentStop         Intent = "stop"         // "STOP", "jgn kirim sms lg"
	IntentReport       Intent = "report"       // "mau lapor", or a story of violence
	IntentComplaint    Intent = "complaint"    // "mau mengadu, petugas kasar"
	IntentGreeting     Intent = "greeting"     // "halo", "tabe", "pagi pak"
)

// Question reports whether the intent is a question the service answers
// from its published standard.
func (i Intent) Question() bool {
	switch i {
	case IntentCost, IntentOffice, IntentRequirements, IntentDuration, IntentOfficers, IntentHours, IntentProcedure:
		return true
	}
	return false
}

// IntentReading is ReadIntent's answer.
type IntentReading struct {
	Intent Intent
	Code   string // for IntentStatus: the ticket code, upper case with its dash ("KS-FDJRSF")
	// Report: with a question, the message also speaks of reporting
	// ("brp biaya kalau mau lapor?"): answer, then say how to report.
	// With IntentEnglish, the message asks to report.
	Report bool
	// English: the message is written in English.
	English bool
}

// ReadIntent reads what a message asks for: a question about the service
// (cost, office, requirements, duration, officers' numbers, hours,
// procedure), a ticket code, a choice of language, STOP, a wish to report
// or complain, a greeting. It returns IntentNone for anything else,
// including stories: a question must look like one ("?", "brp", "apa",
// "dimana", "ga?"), so "sy tdk punya uang utk biaya" is no question.
func ReadIntent(text string) IntentReading {
	return readIntent(text, ReadWords(text))
}

func readIntent(text string, w Words) IntentReading {
	r := IntentReading{English: english(w)}
	if len(w.Tok) == 0 {
		return r
	}
	if code := FindCode(text); code != "" && !officerVerbs[w.Tok[0]] {
		r.Intent, r.Code = IntentStatus, code
		return r
	}
	if isStop(w) {
		r.Intent = IntentStop
		return r
	}
	if lang, ok := languageChoice(w); ok {
		if lang == English {
			r.Intent = IntentEnglish
		} else {
			r.Intent = IntentIndonesian
		}
		return r
	}
	asks := question(text, w)
	reportWords := w.Has("lapor", "melapor", "laporan", "report", "mengadu", "adukan", "komplain")
	switch {
	case w.Has("diminta", "dimintai", "pungli", "minta") && w.Has("bayar", "uang", "biaya") && !asks:
		r.Intent = IntentComplaint
	case w.Has("jam", "hours", "open", "buka") && (w.Has("buka", "kerja", "kantor", "layanan", "pelayanan", "open", "office") ||
		w.Has("sabtu", "minggu")) && (asks || len(w.Tok) <= 4):
		r.Intent = IntentHours
	case w.Has("biaya", "bayar", "gratis", "ongkos", "ongkosnya", "tarif", "harga", "cost", "pay", "fee", "free", "charge") &&
		(asks || len(w.Tok) <= 3):
		r.Intent = IntentCost
	case w.Has("syarat", "persyaratan", "requirements", "requirement") ||
		w.Has("ktp", "kk", "dokumen", "documents", "identitas") && w.Has("perlu", "harus", "bawa", "need", "wajib", "apa") && asks:
		r.Intent = IntentRequirements
	case w.Has("lama", "long") && w.Has("proses", "prosesnya", "ditangani", "selesai", "berapa", "take") && asks ||
		w.Phrase("berapa hari") >= 0 && w.Has("selesai", "proses", "prosesnya", "ditangani"):
		r.Intent = IntentDuration
	case w.Has("nomor", "no", "kontak", "contact", "number", "hp", "wa", "whatsapp") &&
		w.Has("petugas", "hp", "wa", "telepon", "dinsos", "officer", "genoveva", "tija", "kantor", "phone") &&
		(asks || w.Has("minta", "kirim", "tolong", "bisa")) && !w.Has("alamat"):
		r.Intent = IntentOfficers
	case w.Has("alamat", "address", "lokasi", "location") ||
		w.Has("kantor", "dinsos", "office") && w.Has("dimana", "mana", "where", "letak"):
		r.Intent = IntentOffice
	case w.Has("cara", "caranya", "prosedur", "procedure", "how") && (reportWords || w.Has("prosedur", "procedure")) ||
		w.Has("bagaimana") && reportWords && asks:
		r.Intent = IntentProcedure
	case w.Has("mengadu", "adukan", "komplain", "complain", "complaint", "keluhan", "aduan", "pengaduan") ||
		w.Has("petugas", "pelayanan", "layanan") && w.Has("kasar", "lambat", "lama"):
		r.Intent = IntentComplaint
	case r.English && len(w.Tok) >= 4:
		// Written in English: the language is the first thing to answer.
		r.Intent = IntentEnglish
		r.Report = reportWords || w.Has("violence", "case") || storyOfViolence(w)
	case reportWords || w.Has("kekerasan", "kdrt", "violence", "kasus") || storyOfViolence(w):
		r.Intent = IntentReport
	case greeting(w):
		r.Intent = IntentGreeting
	}
	if r.Intent.Question() && reportWords && r.Intent != IntentProcedure {
		r.Report = true
	}
	return r
}

// officerVerbs begin the officers' commands ("TERIMA KS-7HQ4XM"): from a
// citizen they are no status question, and get the menu.
var officerVerbs = map[string]bool{"terima": true, "info": true, "catat": true, "balas": true, "selesai": true,
	"alihkan": true, "lampiran": true}

// question reports whether a message is shaped as a question.
func question(text string, w Words) bool {
	if strings.Contains(text, "?") {
		return true
	}
	if w.Has("berapa", "apa", "apakah", "dimana", "mana", "bagaimana", "kapan", "kah", "what", "where", "how",
		"when", "which", "is", "do", "does", "can", "tanya", "bertanya", "atau", "info", "informasi", "minta") {
		return true
	}
	if len(w.Tok) <= 5 && w.Index("tidak") > 0 {
		return true // "lama ga prosesnya", "bayar ga"
	}
	last := w.Tok[len(w.Tok)-1]
	return last == "tidak" || last == "kah" || last == "ya" || last == "kak" || last == "pak" || last == "bu"
}

// storyOfViolence reports whether the message tells of violence.
func storyOfViolence(w Words) bool {
	for i, t := range w.Tok {
		if violent(t) || killWord(t) || t == "diancam" || t == "ancam" || t == "dikurung" || t == "diperkosa" ||
			t == "dicabuli" || t == "dilecehkan" || t == "ditampar" || t == "dijual" || t == "disiksa" ||
			weapon(t) && w.Has(weaponVerbs...) || w.Root[i] == "dipukul" {
			return true
		}
	}
	return false
}

func greeting(w Words) bool {
	greet := false
	for _, t := range w.Tok {
		switch t {
		case "halo", "hallo", "helo", "hello", "hai", "hi", "hey", "tabe", "selamat", "met", "pagi", "siang", "sore",
			"malam", "assalamualaikum", "shalom", "salam", "p", "permisi", "good", "morning", "afternoon", "evening":
			greet = true
		case "pak", "bu", "ibu", "bapak", "kak", "kakak", "kk", "mas", "mbak", "admin", "dinsos", "semua", "ka", "sir",
			"madam", "there":
		default:
			return false
		}
	}
	return greet
}

// english reports whether a message is written in English.
func english(w Words) bool {
	en, id := 0, 0
	for _, t := range w.Tok {
		if englishWords[t] {
			en++
		}
		if indonesianWords[t] {
			id++
		}
	}
	// Two English words at least: "hello" alone is how many Indonesians
	// greet too.
	return en >= 2 && en > id*2
}

var englishWords = map[string]bool{"i": true, "you": true, "the": true, "is": true, "are": true, "am": true, "my": true,
	"for": true, "and": true, "to": true, "of": true, "in": true, "with": true, "want": true, "work": true, "need": true,
	"hello": true, "please": true, "can": true, "how": true, "what": true, "where": true, "she": true, "he": true,
	"her": true, "his": true, "they": true, "we": true, "our": true, "this": true, "that": true, "have": true, "has": true,
	"was": true, "were": true, "be": true, "do": true, "does": true, "speak": true, "english": true, "report": true,
	"case": true, "help": true, "friend": true, "husband": true, "wife": true, "child": true, "an": true, "a": true,
	"would": true, "like": true, "write": true, "reply": true, "thank": true, "thanks": true, "hi": true, "it": true,
	"me": true, "not": true, "yes": true, "no": true, "by": true, "from": true, "at": true, "beaten": true, "about": true}

var indonesianWords = map[string]bool{"saya": true, "yang": true, "dan": true, "di": true, "ke": true, "dari": true,
	"tidak": true, "ini": true, "itu": true, "mau": true, "ada": true, "dia": true, "dengan": true, "untuk": true,
	"sudah": true, "apa": true, "bisa": true, "tolong": true, "kami": true, "pak": true, "bu": true, "kak": true,
	"lapor": true, "berapa": true, "bahasa": true, "kantor": true, "saja": true, "juga": true, "lagi": true}

// languageChoice reads an explicit choice of language: "english please",
// "do you speak English?", "bahasa inggris", "in english"; "bahasa
// indonesia", "indonesian please".
func languageChoice(w Words) (Lang, bool) {
	if len(w.Tok) > 8 {
		return "", false
	}
	switch {
	case w.Has("english", "inggris", "inggeris", "eng"):
		return English, true
	case w.Has("indonesia", "indonesian", "indo") && (len(w.Tok) <= 3 || w.Has("bahasa", "speak", "please", "in")):
		return Indonesian, true
	}
	return "", false
}

// IsStop reports whether text asks the service to stop writing or
// calling: "STOP", "stop sms", "berhenti", "jgn kirim sms lg", "tdk usah
// kirim pesan lg", "jangan hubungi saya lagi", "jgn sms lg, suami sy sdh
// pulang", "don't text me". "dia tdk mau stop" and "stop dia pukul anak"
// are not: someone else is the one who does not stop, or nothing about
// contact is stopped.
func IsStop(text string) bool {
	return isStop(ReadWords(text))
}

func isStop(w Words) bool {
	n := len(w.Tok)
	if n == 0 || n > 10 {
		return false
	}
	first := w.Tok[0]
	if (first == "stop" || first == "berhenti" || first == "unsubscribe" || first == "unreg") &&
		(n == 1 || w.At(1, "sms", "pesan", "kirim", "wa", "dulu", "saja", "please", "messages", "sending", "texting",
			"contacting", "calling")) {
		return true
	}
	// A word that stops, then within three words one that names contact;
	// nobody named before it (the person who hurts, who "does not stop").
	for i := range w.Tok {
		k := stopAt(w, i)
		if k == 0 {
			continue
		}
		for j := i + k; j < n && j < i+k+3; j++ {
			if w.At(j, "kirim", "kirimi", "send") && j+1 < n && !w.At(j+1, "sms", "pesan", "wa", "lagi", "message",
				"messages", "again", "saya", "me") {
				break // "jangan kirim uang ke dia"
			}
			if contactWord(w.Tok[j]) {
				other := w.Index("dia", "suami", "istri", "bapak", "ayah", "pelaku", "he", "she", "mereka")
				return other < 0 || other > i
			}
		}
	}
	return false
}

// stopAt returns how many words from i say "don't" or "stop": "jangan",
// "stop", "berhenti", "tidak usah", "tidak perlu", "dont", "don t", "do
// not"; 0 when none.
func stopAt(w Words, i int) int {
	switch {
	case w.At(i, "jangan", "stop", "berhenti", "dont"):
		return 1
	case w.At(i, "tidak") && w.At(i+1, "usah", "perlu"), w.At(i, "don") && w.At(i+1, "t"),
		w.At(i, "do") && w.At(i+1, "not"):
		return 2
	}
	return 0
}

// contactWord reports whether t names a way of being contacted.
func contactWord(t string) bool {
	switch t {
	case "kirim", "kirimi", "send", "sms", "hubungi", "menghubungi", "dihubungi", "kontak", "telepon", "ditelepon",
		"menelepon", "call", "text", "pesan", "wa", "whatsapp", "chat", "contact", "message", "messages":
		return true
	}
	return false
}

// FindCode returns the ticket code in text, upper case with its dash, as
// people type it: "KS-FDJRSF", "ks fdjrsf", "ks-fdjrsf", "KSFDJRSF",
// "status KS-FDJRSF", "cek ks 7hq4xm". It returns "" if there is none.
// Only the prefixes the service issues (KS, PL, TK) are read, so that
// ordinary words are not taken for codes.
func FindCode(text string) string {
	toks := strings.Fields(Normalize(text))
	for i, t := range toks {
		if len(t) >= 7 && len(t) <= 8 && codePrefix(t[:2]) && codeBody(t[2:]) {
			return strings.ToUpper(t[:2] + "-" + t[2:])
		}
		if codePrefix(t) && i+1 < len(toks) && codeBody(toks[i+1]) {
			return strings.ToUpper(t + "-" + toks[i+1])
		}
	}
	return ""
}

func codePrefix(s string) bool { return s == "ks" || s == "pl" || s == "tk" }

// codeBody reports whether s can be the part of a code after its dash: 5
// or 6 of 2-9 and the letters without I and O.
func codeBody(s string) bool {
	if len(s) < 5 || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '2' && c <= '9':
		case c >= 'a' && c <= 'z' && c != 'i' && c != 'o':
		default:
			return false
		}
	}
	return true
}
