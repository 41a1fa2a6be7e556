package dialog

import (
	"strconv"
	"strings"
)

// Fields the engine keeps for itself while a place is being asked; they
// never reach a ticket (see Shown).
const (
	fieldWhere   = "_where"   // the place step's phase: "village", "pick", "unknown", "list"
	fieldVillage = "_village" // the village to confirm, or that several kecamatan have
	// FieldPlaceCheck is set on a report whose place is not in the
	// regency's list ("unlisted") or lies outside it ("outside"), for the
	// officer to check.
	FieldPlaceCheck = "place_check"
)

// Kecamatan values besides the gazetteer's slugs.
const (
	KecamatanUnknown = "unknown" // the person does not know
	KecamatanOutside = "luar"    // outside the regency
)

// place reads an answer to a place step: a village, confirmed in one short
// question; a kecamatan, after which the village is asked (Next); a
// village several kecamatan have, asked about; a place outside the
// regency, kept as typed with a kind note; a name not found, kept as typed
// and flagged, with the kecamatan asked from the list.
func (b *Book) place(st *State, s *Step, text string, w Words, in Input, r *Result) {
	phase := st.Get(fieldWhere)
	if in.Location {
		st.set(s.PlaceField, cut(text, 100))
		st.set(fieldWhere, "list")
		st.Misses = 0
		r.Replies = append(r.Replies, b.text(TextAttached, st)+" "+b.prompt(st, s))
		return
	}
	if phase == "" && isNumber(w.String()) && w.String() != "0" {
		b.miss(st, s, r) // a number answers no list: none was shown
		return
	}
	switch phase {
	case "village":
		if yes(w) {
			b.placeDone(st, s, st.Get("_kec"), st.Get(fieldVillage), s.KnownNext, r)
			return
		}
		if no(w) {
			st.set(s.PlaceField, st.Get(fieldVillage))
			b.listPhase(st, s, "list", r)
			return
		}
	case "pick", "unknown", "list":
		if i, ok := b.listPick(w); ok {
			kec := KecamatanUnknown
			if i < len(b.Places.Areas()) {
				kec = b.Places.Areas()[i].Slug
			}
			next := s.Next
			if st.Get(s.PlaceField) != "" || phase == "pick" {
				next = s.KnownNext
			}
			b.placeDone(st, s, kec, st.Get(s.PlaceField), next, r)
			return
		}
		if dontKnow(w) {
			b.placeDone(st, s, KecamatanUnknown, st.Get(s.PlaceField), s.KnownNext, r)
			return
		}
	}
	p := b.Places.ResolvePlace(text)
	switch p.Kind {
	case PlaceNone:
		if phase == "" {
			b.placeDone(st, s, KecamatanUnknown, "", s.KnownNext, r)
			return
		}
	case PlaceVillage:
		if phase == "pick" || phase == "unknown" || phase == "list" {
			b.placeDone(st, s, p.Kecamatan, p.Village, s.KnownNext, r)
			return
		}
		st.set("_kec", p.Kecamatan)
		st.set(fieldVillage, p.Village)
		st.set(fieldWhere, "village")
		st.Misses = 0
		r.Replies = append(r.Replies, b.prompt(st, s))
		return
	case PlaceKecamatan:
		keep := st.Get(s.PlaceField)
		next := s.Next
		if keep != "" {
			next = s.KnownNext
		}
		b.placeDone(st, s, p.Kecamatan, keep, next, r)
		return
	case PlaceAmbiguous:
		st.set(fieldVillage, p.Village)
		st.set(s.PlaceField, p.Village)
		b.listPhase(st, s, "pick", r)
		return
	case PlaceOutside:
		st.set(FieldPlaceCheck, "outside")
		r.Replies = append(r.Replies, strings.ReplaceAll(b.text(TextPlaceOutside, st), "{place}", cut(Clean(text), 40)))
		b.placeDone(st, s, KecamatanOutside, cut(Clean(text), 100), s.KnownNext, r)
		return
	case PlaceUnknown:
		if len(w.Tok) > 6 {
			if b.keepStory(st, s, text, w, r) {
				r.Replies = append(r.Replies, b.text(TextMore, st)+" "+b.prompt(st, s))
				return
			}
			break
		}
		if phase == "" || phase == "village" {
			st.set(s.PlaceField, p.Name)
			st.set(FieldPlaceCheck, "unlisted")
			b.listPhase(st, s, "unknown", r)
			return
		}
	}
	b.miss(st, s, r)
}

// placeDone stores the place and moves on to next.
func (b *Book) placeDone(st *State, s *Step, kec, place, next string, r *Result) {
	st.set(s.Field, kec)
	if place != "" {
		st.set(s.PlaceField, place)
	} else {
		st.unset(s.PlaceField)
	}
	if kec != KecamatanOutside && st.Get(FieldPlaceCheck) == "outside" {
		st.unset(FieldPlaceCheck)
	}
	st.unset(fieldWhere)
	st.unset(fieldVillage)
	st.unset("_kec")
	if next == "" {
		next = s.Next
	}
	b.advance(st, s, next, r)
}

// listPhase asks for the kecamatan from the list.
func (b *Book) listPhase(st *State, s *Step, phase string, r *Result) {
	st.set(fieldWhere, phase)
	st.Misses = 0
	r.Replies = append(r.Replies, b.prompt(st, s))
}

// listPick reads a pick from the kecamatan list: its number, or a name
// (current or former). The index past the last kecamatan is "don't know".
func (b *Book) listPick(w Words) (int, bool) {
	areas := b.Places.Areas()
	s := w.String()
	if k, ok := number(strings.TrimSuffix(s, " ")); ok && !strings.Contains(s, " ") {
		if k >= 1 && k <= len(areas)+1 {
			return k - 1, true
		}
		return 0, false
	}
	p := b.Places.ResolvePlace(s)
	if p.Kind == PlaceKecamatan || p.Kind == PlaceVillage {
		for i, a := range areas {
			if a.Slug == p.Kecamatan {
				return i, true
			}
		}
	}
	return 0, false
}

// placePrompt renders the place step's question for its phase.
func (b *Book) placePrompt(st *State, s *Step) string {
	lang := st.lang()
	repl := strings.NewReplacer("{village}", st.Get(fieldVillage), "{kecamatan}", b.KecamatanName(st.Get("_kec"), lang),
		"{place}", cut(st.Get(s.PlaceField), 40))
	switch st.Get(fieldWhere) {
	case "village":
		return repl.Replace(b.Text(TextPlaceVillage, lang))
	case "pick", "unknown", "list":
		name := map[string]string{"pick": TextPlacePick, "unknown": TextPlaceUnknown, "list": TextPlaceList}[st.Get(fieldWhere)]
		var sb strings.Builder
		sb.WriteString(repl.Replace(b.Text(name, lang)))
		areas := b.Places.Areas()
		for i, a := range areas {
			sb.WriteString("\n" + strconv.Itoa(i+1) + "." + a.Name)
		}
		dk := "Tidak tahu"
		if lang == English {
			dk = "Not sure"
		}
		sb.WriteString("\n" + strconv.Itoa(len(areas)+1) + "." + dk)
		return sb.String()
	}
	return s.Prompt.In(lang)
}

// placeSummary renders a place answer: "Mandosawu, Kec. Lamba Leda Selatan".
func (b *Book) placeSummary(st *State, s *Step, lang Lang) string {
	kec, place := st.Get(s.Field), st.Get(s.PlaceField)
	var parts []string
	if place != "" {
		parts = append(parts, cut(place, 30))
	}
	switch kec {
	case "", KecamatanUnknown:
		if place == "" {
			parts = append(parts, b.KecamatanName(KecamatanUnknown, lang))
		}
	case KecamatanOutside:
		parts = append(parts, b.KecamatanName(kec, lang))
	default:
		parts = append(parts, "Kec. "+b.KecamatanName(kec, lang))
	}
	return strings.Join(parts, ", ")
}

// KecamatanName names a stored kecamatan value for people: the current
// name of a slug, also of a former one ("poco-ranaka" -> "Lamba Leda
// Selatan"), "Tidak tahu" for unknown, "luar Matim" for outside the
// regency, and the value itself for anything else.
func (b *Book) KecamatanName(v string, lang Lang) string {
	switch v {
	case KecamatanUnknown:
		if lang == English {
			return "Not sure"
		}
		return "Tidak tahu"
	case KecamatanOutside:
		if lang == English {
			return "outside Matim"
		}
		return "luar Matim"
	}
	if n := b.Places.Name(v); n != "" {
		return n
	}
	return v
}

// CanonicalKecamatan returns the current slug of a stored kecamatan value
// (a former slug such as "poco-ranaka" gives "lamba-leda-selatan"), or the
// value unchanged when the list does not know it.
func (b *Book) CanonicalKecamatan(v string) string {
	c, _ := b.Places.Canonical(v)
	return c
}

func yes(w Words) bool {
	s := w.String()
	return s == "1" || s == "satu" || w.At(0, "ya", "iya", "yes", "y", "benar", "betul", "bener", "ok", "oke", "yup", "iy") &&
		len(w.Tok) <= 4 && !w.Has("bukan", "salah")
}

func no(w Words) bool {
	s := w.String()
	return s == "2" || s == "dua" || w.At(0, "bukan", "tidak", "no", "salah", "n") && len(w.Tok) <= 4
}

// dangerChoice maps the answer to "in danger now?" on the step's choices:
// the first is in danger, the second safe, the third "don't know".
func dangerChoice(s *Step, w Words) []int {
	i := -1
	switch readDangerAnswer(w) {
	case AnswerDanger:
		i = 0
	case AnswerSafe:
		i = 1
	case AnswerUnknown:
		i = 2
	}
	if i < 0 || i >= len(s.Choices) {
		return nil
	}
	return []int{i}
}

var (
	femaleWords = map[string]bool{"perempuan": true, "wanita": true, "ibu": true, "istri": true, "mama": true,
		"nenek": true, "tante": true, "bibi": true, "girl": true, "woman": true, "female": true, "putri": true,
		"gadis": true, "kakak perempuan": true, "mother": true, "wife": true}
	maleWords = map[string]bool{"laki": true, "bapak": true, "ayah": true, "suami": true, "kakek": true, "om": true,
		"paman": true, "boy": true, "man": true, "male": true, "putra": true, "husband": true, "father": true}
	adultWords = map[string]bool{"ibu": true, "istri": true, "wanita": true, "nenek": true, "tante": true,
		"bibi": true, "bapak": true, "ayah": true, "suami": true, "kakek": true, "om": true, "paman": true,
		"dewasa": true, "woman": true, "man": true, "adult": true, "mama": true, "mother": true, "wife": true,
		"husband": true, "father": true}
	childWords = map[string]bool{"anak": true, "kecil": true, "bayi": true, "balita": true, "sd": true, "smp": true,
		"sma": true, "kls": true, "kelas": true, "siswa": true, "siswi": true, "murid": true, "remaja": true,
		"girl": true, "boy": true, "child": true, "kid": true, "putri": true, "putra": true, "gadis": true}
	ageWords = map[string]bool{"tahun": true, "umur": true, "usia": true, "thn": true, "years": true, "old": true,
		"year": true, "umurnya": true, "usianya": true}
)

// victimChoice reads who the victim is from sex and age words: "anak
// perempuan, 9 tahun", "sy prempuan", "ibu sy", "nana, 14 thn". A word
// that names who did it ("dipukul suaminya", "pelakunya laki2") does not
// count, and a message with more than two other words is a story, not an
// answer. The choices must be child-female, child-male, adult-female,
// adult-male, unknown (by value). It returns -1 when unclear.
func victimChoice(s *Step, w Words, self bool) int {
	find := func(v string) int {
		for i, c := range s.Choices {
			if c.Value == v {
				return i
			}
		}
		return -1
	}
	if dontKnow(w) {
		return find("unknown")
	}
	var female, male, child, adult bool
	age := -1
	loose := 0
	agent := make([]bool, len(w.Tok))
	for i, t := range w.Tok {
		agent[i] = agentAt(w, i) || i > 0 && agent[i-1] && t == w.Tok[i-1]
		r := w.Root[i]
		word := func(m map[string]bool) bool { return m[t] || r != "" && m[r] }
		switch {
		case agent[i]:
			loose++
		case word(femaleWords) || word(maleWords) || word(childWords) || word(adultWords):
			female = female || word(femaleWords)
			male = male || word(maleWords)
			child = child || word(childWords)
			adult = adult || word(adultWords)
		case ageWords[t] || choiceFillers[t] || t == "sendiri" || t == "korban" || t == "korbannya":
		default:
			if k, err := strconv.Atoi(t); err == nil {
				if w.At(i+1, "tahun", "thn", "years", "th") || w.At(i-1, "umur", "usia", "tahun") || i > 0 && !w.At(i-1, "kelas", "kls") && !w.At(i+1, "sd", "smp", "sma") {
					age = k
				}
				continue
			}
			if strings.HasSuffix(t, "an") && len(t) <= 4 { // "40an"
				if k, err := strconv.Atoi(strings.TrimSuffix(t, "an")); err == nil {
					age = k
					continue
				}
			}
			loose++
		}
	}
	if loose > 2 || female == male {
		return -1
	}
	switch {
	case age >= 0 && age < 18:
		child, adult = true, false
	case age >= 18:
		child, adult = false, true
	}
	if child && adult {
		return -1
	}
	sex := "female"
	if male {
		sex = "male"
	}
	if child {
		return find("child-" + sex)
	}
	return find("adult-" + sex)
}
