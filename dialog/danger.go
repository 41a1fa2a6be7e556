package dialog

// DangerReading is what a message says about immediate danger.
type DangerReading struct {
	// Danger: the message speaks of immediate or imminent danger (a cry
	// for help, violence going on, a threat to kill, a weapon raised,
	// hiding, being taken away).
	Danger bool
	// Denied: the message says there is no danger ("toe bahaya", "sudah
	// aman", "tidak dalam bahaya"). A message is never both.
	Denied bool
	// Cue names what was read, for tests and logs (never the message):
	// "cry", "threat", "weapon", "violence-now", "trapped", "taken",
	// "self-harm", "word", "denied".
	Cue string
}

// ReadDanger reads whether text speaks of immediate danger. It reads
// abbreviations and elongated letters ("tlg", "toloong"), weapons and
// threats, negation ("toe bahaya", "tidak dalam bahaya") and polite
// requests: "tolong" followed by a request for information ("tolong info
// alamat kantor") is not a cry for help. It is a pure function and cheap
// enough for every message.
//
// What can go wrong: it reads words, not meaning. A past threat told as a
// story may be read as danger, and a danger described without any of the
// words it knows is missed; the corpus test measures both.
func ReadDanger(text string) DangerReading {
	return readDanger(ReadWords(text))
}

func readDanger(w Words) DangerReading {
	n := len(w.Tok)
	if n == 0 {
		return DangerReading{}
	}
	denied := deniesDanger(w)
	cue := ""
	for i := 0; i < n && cue == ""; i++ {
		t := w.Tok[i]
		switch {
		case isCry(t):
			if !politeRequest(w) {
				cue = "cry"
			}
		case t == "help" && (w.At(i+1, "me", "us", "please", "her", "him") || w.At(i-1, "please") || n == 1):
			cue = "cry"
		case t == "sos" || t == "darurat" || t == "emergency" || t == "bahaya" || t == "danger" ||
			near(t, "darurat", 1) || near(t, "bahaya", 1) && t != "bahasa":
			if !negatedAt(w, i) {
				cue = "word"
			}
		case killWord(t):
			if t == "dibunuh" || t == "membunuh" && !w.Has("pernah") || w.Has("mau", "akan", "ancam", "diancam",
				"mengancam", "bilang", "sekarang", "kill", "takut", "nanti", "besok") && !w.Has("pernah") ||
				w.Phrase("malam ini") >= 0 || n <= 3 || w.At(i+1, "diri") {
				cue = "threat"
			}
		case t == "kill" || t == "killing":
			cue = "threat"
		case weapon(t):
			if !negatedAt(w, i) && !negatedAt(w, i-1) && w.Has(weaponVerbs...) {
				cue = "weapon"
			}
		case t == "ngamuk" || t == "mengamuk":
			cue = "violence-now"
		case t == "sembunyi" || t == "bersembunyi" || t == "dikurung" || t == "disekap" || t == "dikunci" ||
			t == "hiding" || t == "locked":
			cue = "trapped"
		case t == "diculik" || t == "kidnapped" || (t == "dibawa" && w.At(i+1, "paksa", "lari", "kabur")) ||
			(t == "dijual" || t == "sold") && w.At(i-1, "mau", "akan", "sedang"):
			cue = "taken"
		case t == "diperkosa" || t == "perkosa" || t == "raped":
			if w.At(i-1, "mau", "akan", "sedang", "lagi", "being") {
				cue = "threat"
			}
		case t == "mati" && w.At(i-1, "mau", "ingin", "takut") && w.Has("saya", "rasanya"):
			cue = "self-harm"
		case violent(t):
			if violenceNow(w, i) {
				cue = "violence-now"
			}
		case t == "datang" || t == "coming":
			if w.At(i+1, "lagi", "back") && !w.Has("besok", "minggu", "bulan") || w.At(i-1, "cepat", "segera") {
				cue = "violence-now"
			}
		case t == "cepat" || t == "segera":
			if w.At(i+1, "kesini", "sini", "datang", "tolong", "bantu") {
				cue = "cry"
			}
		}
	}
	if cue != "" && !(denied && cue == "word") {
		if denied && (cue == "violence-now" || cue == "weapon" || cue == "threat") && !w.Has("tolong") {
			return DangerReading{Denied: true, Cue: "denied"}
		}
		return DangerReading{Danger: true, Cue: cue}
	}
	if denied {
		return DangerReading{Denied: true, Cue: "denied"}
	}
	return DangerReading{}
}

// isCry reports whether t is "tolong" as people type it: "tlg", "tolongg",
// "tlong", "tolng" (the last two are small typos).
func isCry(t string) bool {
	if t == "tolong" {
		return true
	}
	if len(t) < 4 || len(t) > 12 || t[0] != 't' {
		return false
	}
	return near(t, "tolong", 1) || near(squeeze(t, 1), "tolong", 1)
}

// near reports whether t is within max edits of w, for words of four
// letters or more.
func near(t, w string, max int) bool {
	if t == w {
		return true
	}
	if len(t) < 4 {
		return false
	}
	return distance(t, w, max) <= max
}

// politeRequest reports whether the message asks for something other than
// rescue: information, a number, an explanation, that a case be handled.
// "tolong info alamat kantor" is polite; "tolong saya dipukul" is not.
func politeRequest(w Words) bool {
	for i := range w.Tok {
		if requestWords[w.Tok[i]] || requestWords[w.Root[i]] {
			return true
		}
	}
	return w.Phrase("kasih tahu") >= 0
}

var requestWords = map[string]bool{"info": true, "informasi": true, "infonya": true, "alamat": true,
	"nomor": true, "syarat": true, "syaratnya": true, "cara": true, "caranya": true, "jelaskan": true,
	"dijelaskan": true, "tanya": true, "bertanya": true, "kirim": true, "kirimkan": true, "sampaikan": true,
	"disampaikan": true, "diproses": true, "proses": true, "prosesnya": true, "dibantu": true, "dicek": true,
	"cek": true, "status": true, "dibalas": true, "balas": true, "telepon": true, "hubungi": true,
	"biaya": true, "jam": true, "kabar": true, "dijawab": true, "tiket": true, "kode": true}

// deniesDanger reports whether the message says there is no danger.
func deniesDanger(w Words) bool {
	for i, t := range w.Tok {
		switch t {
		case "aman", "safe":
			if !negatedAt(w, i) && !w.At(i-1, "kurang", "belum", "not") {
				return true
			}
		case "bahaya", "darurat", "danger", "emergency", "terancam":
			if negatedAt(w, i) || w.At(i-1, "dalam", "in") && negatedAt(w, i-1) {
				return true
			}
		}
	}
	return false
}

// negatedAt reports whether the word at i follows a negation within two
// words: "tidak bahaya", "toe bahaya", "bukan darurat", "not in danger".
func negatedAt(w Words, i int) bool {
	for j := i - 1; j >= 0 && j >= i-3; j-- {
		if w.At(j, "tidak", "bukan", "no", "not", "never", "jangan", "tanpa") {
			return true
		}
		if w.At(j, "ada", "in", "dalam", "lagi", "begitu", "terlalu", "keadaan", "a", "an", "any", "yang") {
			continue
		}
		break
	}
	return false
}

func killWord(t string) bool {
	switch t {
	case "bunuh", "dibunuh", "membunuh", "bunuhnya", "kubunuh", "bacok", "dibacok", "tikam", "ditikam",
		"menikam", "membacok", "tembak", "ditembak", "potong", "dipotong", "bakar", "dibakar", "membakar":
		return true
	}
	return near(t, "bunuh", 1) && t[0] == 'b' || near(t, "dibunuh", 1)
}

func weapon(t string) bool {
	switch t {
	case "parang", "pisau", "golok", "kelewang", "klewang", "tombak", "senjata", "senapan", "pistol", "celurit",
		"sabit", "machete", "knife", "gun", "weapon", "cerulit", "panah", "linggis":
		return true
	}
	return false
}

var weaponVerbs = []string{"bawa", "membawa", "pegang", "memegang", "acung", "mengacungkan", "diacungkan", "kejar",
	"mengejar", "dikejar", "ancam", "mengancam", "diancam", "datang", "ngamuk", "mengamuk", "mau", "tebas",
	"with", "has", "holding", "coming", "sedang", "lagi", "sekarang"}

func violent(t string) bool {
	switch t {
	case "pukul", "dipukul", "memukul", "pukuli", "dipukuli", "hajar", "dihajar", "menghajar", "aniaya",
		"dianiaya", "tendang", "ditendang", "siksa", "disiksa", "cekik", "dicekik", "injak", "diinjak",
		"hit", "hitting", "beating", "beat", "attacking":
		return true
	}
	return false
}

// violenceNow reports whether the violence word at i is going on now or
// about to happen: "lagi pukul mama", "dipukul sekarang", "takut dia pukul
// lagi malam ini", "is beating".
func violenceNow(w Words, i int) bool {
	if w.At(i-1, "sedang", "lagi", "mau", "akan", "is", "are") || w.At(i-2, "sedang", "mau", "akan") {
		return true
	}
	// Told as the past, or as what happens often: not going on now.
	if w.Has("sudah", "kemarin", "dulu", "pernah", "lalu", "aman", "sering", "tiap", "setiap", "kalau", "was", "last") {
		return false
	}
	if w.At(i-1, "masih") {
		return true
	}
	if w.Has("sekarang", "now") || w.Phrase("malam ini") >= 0 || w.Has("nanti") && w.Has("takut") {
		return true
	}
	return false
}

// DangerAnswer is a reading of the answer to "are you (is the victim) in
// danger now?".
type DangerAnswer int

const (
	AnswerUnclear DangerAnswer = iota // not an answer: ask again
	AnswerDanger                      // yes, in danger
	AnswerSafe                        // no, safe now
	AnswerUnknown                     // does not know
)

// ReadDangerAnswer reads an answer to the question whether someone is in
// danger now. An explicit answer wins over words: "tidak, tidak dalam
// bahaya" and "toe bahaya" are safe, "ya" and "masih bahaya" are danger,
// "tidak tahu", "tdk tau", "ga tau" do not know (never "no"). A message
// that is no answer but speaks of danger ("dia msh pegang parang") is
// danger. Anything else is AnswerUnclear.
func ReadDangerAnswer(text string) DangerAnswer {
	return readDangerAnswer(ReadWords(text))
}

func readDangerAnswer(w Words) DangerAnswer {
	if len(w.Tok) == 0 {
		return AnswerUnclear
	}
	if dontKnow(w) {
		return AnswerUnknown
	}
	first := w.Tok[0]
	d := readDanger(w)
	switch {
	case first == "1" && len(w.Tok) <= 2, first == "satu" && len(w.Tok) == 1:
		return AnswerDanger
	case first == "2" && len(w.Tok) <= 2, first == "dua" && len(w.Tok) == 1:
		return AnswerSafe
	case first == "3" && len(w.Tok) <= 2, first == "tiga" && len(w.Tok) == 1:
		return AnswerUnknown
	}
	if d.Denied {
		return AnswerSafe
	}
	yes := first == "ya" || first == "iya" || first == "yes" || first == "y" || first == "yup" || first == "betul" ||
		first == "benar" || first == "masih"
	no := first == "tidak" || first == "no" || first == "bukan" || first == "nope" || first == "n"
	switch {
	case yes:
		return AnswerDanger
	case no && !d.Danger:
		return AnswerSafe
	case d.Danger || w.Has("bahaya", "danger", "terancam"):
		return AnswerDanger
	}
	if w.Has("pergi", "kabur", "lari", "mengungsi") && w.Has("sudah") && len(w.Tok) <= 8 {
		return AnswerSafe // "sy sdh pergi dr rumah"
	}
	return AnswerUnclear
}

// dontKnow reports whether the message says "I don't know": "tidak tahu",
// "tdk tau", "ga tau", "blm tau", "kurang tau", "entahlah", "not sure".
func dontKnow(w Words) bool {
	for i := range w.Tok {
		if w.At(i, "tahu", "tau", "tw", "know", "sure", "ingat", "pasti", "yakin") &&
			w.At(i-1, "tidak", "belum", "kurang", "not", "dont", "don", "no") ||
			w.At(i, "tahu", "know", "sure", "ingat", "pasti", "yakin") && w.At(i-2, "tidak", "belum", "kurang", "not", "don", "dont") {
			return true
		}
		if w.At(i, "entah", "entahlah", "unknown", "embuh") {
			return true
		}
	}
	return false
}
