package dialog

import "strings"

// Words is a message read as words: lower case, letters and digits only,
// each word in its canonical spelling. People in Manggarai Timur text in
// abbreviated, informal Indonesian with Manggarai words, so "tlg sy dipukul
// lg" reads as "tolong saya dipukul lagi", "toloong" and "tolongg" as
// "tolong", "laki2" as "laki laki", "toe" (Manggarai: no) as "tidak" and
// "suaminya" keeps its root "suami" alongside.
type Words struct {
	Tok  []string // canonical words in order
	Root []string // each word without a possessive ending (-nya, -ku, -mu); "" when it has none
}

// ReadWords reads text as canonical words. It never fails: text with no
// letters or digits gives no words.
func ReadWords(text string) Words {
	norm := Normalize(text)
	var w Words
	if norm == "" {
		return w
	}
	raw := strings.Fields(norm)
	w.Tok = make([]string, 0, len(raw)+2)
	for _, t := range raw {
		// "laki2", "anak2", "dihina2": a word said twice.
		if n := len(t); n > 2 && t[n-1] == '2' && isLetters(t[:n-1]) {
			base := canonWord(t[:n-1])
			w.Tok = append(w.Tok, base, base)
			continue
		}
		for _, c := range strings.Fields(canonWord(t)) {
			w.Tok = append(w.Tok, c)
		}
	}
	w.Root = make([]string, len(w.Tok))
	for i, t := range w.Tok {
		w.Root[i] = root(t)
	}
	return w
}

// Has reports whether any word (or its root) is one of words.
func (w Words) Has(words ...string) bool {
	return w.Index(words...) >= 0
}

// Index returns the position of the first word (or root) that is one of
// words, or -1.
func (w Words) Index(words ...string) int {
	for i := range w.Tok {
		for _, x := range words {
			if w.Tok[i] == x || w.Root[i] == x {
				return i
			}
		}
	}
	return -1
}

// At reports whether the word at i (or its root) is one of words; false
// when i is out of range.
func (w Words) At(i int, words ...string) bool {
	if i < 0 || i >= len(w.Tok) {
		return false
	}
	for _, x := range words {
		if w.Tok[i] == x || w.Root[i] == x {
			return true
		}
	}
	return false
}

// Phrase returns the position where the words of phrase (canonical, space
// separated) follow one another, or -1.
func (w Words) Phrase(phrase string) int {
	p := strings.Fields(phrase)
	if len(p) == 0 {
		return -1
	}
	for i := 0; i+len(p) <= len(w.Tok); i++ {
		ok := true
		for j, x := range p {
			if w.Tok[i+j] != x && w.Root[i+j] != x {
				ok = false
				break
			}
		}
		if ok {
			return i
		}
	}
	return -1
}

// String returns the canonical words joined by spaces.
func (w Words) String() string { return strings.Join(w.Tok, " ") }

func isLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 'a' || s[i] > 'z' {
			return false
		}
	}
	return s != ""
}

// canonWord returns the canonical spelling of one normalized word: an
// abbreviation expanded, letters held long ("toloong", "tolongg",
// "TOLONGGG") squeezed. The result may be two words ("ortu").
func canonWord(t string) string {
	if c, ok := slang[t]; ok {
		return c
	}
	if known[t] {
		return t
	}
	// Elongation: letters repeated for emphasis. Runs of three or more
	// are always emphasis; a double letter is squeezed only when that
	// gives a word we know.
	if s := squeeze(t, 2); s != t {
		if c, ok := slang[s]; ok {
			return c
		}
		if known[s] {
			return s
		}
		t = s
	}
	if s := squeeze(t, 1); s != t {
		if c, ok := slang[s]; ok {
			return c
		}
		if known[s] {
			return s
		}
	}
	return t
}

// squeeze shortens every run of the same letter longer than keep to keep
// letters.
func squeeze(t string, keep int) string {
	if len(t) < 3 {
		return t
	}
	var sb []byte
	run := 0
	for i := 0; i < len(t); i++ {
		if i > 0 && t[i] == t[i-1] && t[i] >= 'a' && t[i] <= 'z' {
			run++
		} else {
			run = 1
		}
		if run > keep {
			if sb == nil {
				sb = append(make([]byte, 0, len(t)), t[:i]...)
			}
			continue
		}
		if sb != nil {
			sb = append(sb, t[i])
		}
	}
	if sb == nil {
		return t
	}
	return string(sb)
}

// root strips a possessive ending: "suaminya" -> "suami", "anakku" ->
// "anak". It returns "" when the word has none or would be too short.
func root(t string) string {
	for _, suf := range []string{"nya", "ku", "mu"} {
		if len(t) >= len(suf)+3 && strings.HasSuffix(t, suf) {
			r := t[:len(t)-len(suf)]
			if c, ok := slang[r]; ok && !strings.Contains(c, " ") {
				return c
			}
			return r
		}
	}
	return ""
}

// slang maps the abbreviations and informal spellings people text to a
// canonical word.
var slang = map[string]string{
	// function words
	"yg": "yang", "yng": "yang", "dgn": "dengan", "dg": "dengan", "dngn": "dengan", "dlm": "dalam",
	"utk": "untuk", "untk": "untuk", "u": "untuk", "krn": "karena", "karna": "karena", "krna": "karena",
	"tp": "tapi", "tpi": "tapi", "jg": "juga", "jga": "juga", "sm": "sama", "ama": "sama", "dr": "dari",
	"dri": "dari", "pd": "pada", "kpd": "kepada", "ttg": "tentang", "klo": "kalau", "kalo": "kalau",
	"kl": "kalau", "klw": "kalau", "ato": "atau", "atw": "atau", "sj": "saja", "aja": "saja", "aj": "saja",
	"ja": "saja", "sja": "saja", "lg": "lagi", "lgi": "lagi", "msh": "masih", "masi": "masih", "sdh": "sudah",
	"udh": "sudah", "udah": "sudah", "sudh": "sudah", "dah": "sudah", "blm": "belum", "blum": "belum",
	"belom": "belum", "sdg": "sedang", "lgsg": "langsung", "trs": "terus", "trus": "terus", "bgt": "banget",
	"sblm": "sebelum", "stlh": "setelah", "bs": "bisa", "bsa": "bisa", "dpt": "dapat", "kyk": "seperti",
	"bnyk": "banyak", "pake": "pakai", "pk": "pakai", "kasi": "kasih", "ksh": "kasih", "kek": "seperti",
	// no, don't, not
	"tdk": "tidak", "tdak": "tidak", "tak": "tidak", "gak": "tidak", "ga": "tidak", "gk": "tidak",
	"nggak": "tidak", "ngga": "tidak", "enggak": "tidak", "engga": "tidak", "nda": "tidak", "ndak": "tidak",
	"kaga": "tidak", "toe": "tidak", "tida": "tidak", "tdk2": "tidak", "jgn": "jangan", "jng": "jangan",
	"jangn": "jangan", "neka": "jangan",
	// people
	"sy": "saya", "sya": "saya", "aku": "saya", "aq": "saya", "ak": "saya", "gw": "saya", "gue": "saya",
	"sa": "saya", "beta": "saya", "ite": "anda", "kau": "kamu", "km": "kamu", "bpk": "bapak", "bapa": "bapak",
	"ema": "ayah", "ende": "ibu", "mamah": "mama", "mace": "mama", "mamak": "mama", "ade": "adik",
	"adek": "adik", "dek": "adik", "ortu": "orang tua", "org": "orang", "tmn": "teman", "tman": "teman",
	"suamiku": "suami saya", "istriku": "istri saya", "cewek": "perempuan", "cewe": "perempuan",
	"prmpuan": "perempuan", "prempuan": "perempuan", "perampuan": "perempuan", "pr": "perempuan",
	"cowok": "laki", "cowo": "laki", "lelaki": "laki", "enu": "perempuan", "nana": "laki",
	"pria": "laki", "lk": "laki", "kades": "kepala desa",
	// asking
	"gmn": "bagaimana", "gimana": "bagaimana", "bgmn": "bagaimana", "gmana": "bagaimana", "brp": "berapa",
	"brapa": "berapa", "dmn": "dimana", "dmna": "dimana", "dimn": "dimana", "knp": "kenapa", "napa": "kenapa",
	"tau": "tahu", "taw": "tahu", "tw": "tahu", "taunya": "tahu",
	// time
	"skrg": "sekarang", "skg": "sekarang", "skarang": "sekarang", "sekrg": "sekarang", "skrang": "sekarang",
	"kmrn": "kemarin", "kemaren": "kemarin", "kmarin": "kemarin", "kmaren": "kemarin", "kmrin": "kemarin",
	"kmren": "kemarin", "bsk": "besok", "besuk": "besok", "td": "tadi", "tdi": "tadi", "mlm": "malam",
	"mlam": "malam", "hr": "hari", "hri": "hari", "mgg": "minggu", "mgu": "minggu", "mg": "minggu",
	"bln": "bulan", "thn": "tahun", "th": "tahun", "thun": "tahun", "tgl": "tanggal", "tgll": "tanggal",
	"semlm": "semalam", "pgi": "pagi", "sore2": "sore",
	// verbs and things
	"tlg": "tolong", "tlng": "tolong", "tolongin": "tolong", "tulung": "tolong", "toong": "tolong",
	"mo": "mau", "mw": "mau", "pengen": "mau", "pgn": "mau", "ingin": "mau", "cpt": "cepat", "cepet": "cepat",
	"dtg": "datang", "dateng": "datang", "telp": "telepon", "tlp": "telepon", "telpon": "telepon",
	"nelpon": "telepon", "ditelp": "ditelepon", "ditelpon": "ditelepon", "ktr": "kantor", "kntr": "kantor",
	"alamt": "alamat", "almt": "alamat", "syrt": "syarat", "ptgs": "petugas", "sklh": "sekolah", "rmh": "rumah",
	"nmr": "nomor", "nomer": "nomor", "nmor": "nomor", "info2": "info", "mksh": "terima kasih",
	"makasih": "terima kasih", "trimakasih": "terima kasih", "thx": "terima kasih", "tq": "terima kasih",
	"trims": "terima kasih", "iya": "ya", "iyaa": "ya", "yaa": "ya", "iy": "ya", "yoi": "ya", "ok": "oke", "okay": "oke", "okey": "oke", "okee": "oke", "sip": "oke",
}

// known holds canonical words that a squeezed spelling may land on.
var known = func() map[string]bool {
	k := map[string]bool{}
	for _, v := range slang {
		for _, w := range strings.Fields(v) {
			k[w] = true
		}
	}
	for _, w := range []string{"tolong", "halo", "bahaya", "darurat", "aman", "ya", "iya", "bunuh", "pukul",
		"dipukul", "parang", "pisau", "takut", "cepat", "sakit", "mati", "lapor", "biaya", "bayar", "gratis",
		"alamat", "kantor", "syarat", "petugas", "help", "please", "kirim", "batal", "stop", "english",
		"sekali", "sendiri", "korban", "tetangga", "kakak", "keluarga", "saksi", "kemarin", "minggu", "bulan",
		"hallo", "hello", "hai", "pagi", "siang", "sore", "malam", "selamat", "tahun", "hari", "lalu",
		"tidak", "tahu", "saya", "sudah", "masih", "lagi", "ampun", "pergi", "sini", "kesini"} {
		k[w] = true
	}
	return k
}()
