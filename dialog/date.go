package dialog

import (
	"strconv"
	"strings"
	"time"
)

// WITA is the time zone of Manggarai Timur (UTC+8): dates are read and
// shown in it.
var WITA = time.FixedZone("WITA", 8*60*60)

// Precision says how exact a Date is.
type Precision uint8

const (
	PrecDay   Precision = iota + 1 // "kemarin", "12/11", "sabtu kemarin"
	PrecAbout                      // about that day: "minggu lalu", "2 minggu lalu"
	PrecMonth                      // "bulan lalu"
	PrecYear                       // "tahun lalu"
)

// Date is a day (or a less exact time) read from what a person typed.
type Date struct {
	Day  time.Time // midnight WITA of the day (the first of the month, of the year)
	Prec Precision
}

// Value is how a Date is stored as an answer: "2026-11-26", "~2026-11-20"
// (about), "2026-10" (a month), "2025" (a year).
func (d Date) Value() string {
	switch d.Prec {
	case PrecAbout:
		return "~" + d.Day.Format("2006-01-02")
	case PrecMonth:
		return d.Day.Format("2006-01")
	case PrecYear:
		return d.Day.Format("2006")
	}
	return d.Day.Format("2006-01-02")
}

// ParseDateValue reads what Value wrote; ok is false for anything else
// (a choice value such as "today", or text typed before dates were read).
func ParseDateValue(v string) (Date, bool) {
	about := strings.HasPrefix(v, "~")
	v = strings.TrimPrefix(v, "~")
	for _, f := range []struct {
		layout string
		prec   Precision
	}{{"2006-01-02", PrecDay}, {"2006-01", PrecMonth}, {"2006", PrecYear}} {
		if len(v) != len(f.layout) {
			continue
		}
		if t, err := time.ParseInLocation(f.layout, v, WITA); err == nil {
			p := f.prec
			if about && p == PrecDay {
				p = PrecAbout
			}
			return Date{Day: t, Prec: p}, true
		}
	}
	return Date{}, false
}

var monthShort = [...]string{"Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"}
var monthShortEn = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// Show renders a Date for people: "26 Nov 2026", "sekitar 20 Nov 2026",
// "Okt 2026", "2025".
func (d Date) Show(lang Lang) string {
	months := monthShort
	about := "sekitar "
	if lang == English {
		months, about = monthShortEn, "about "
	}
	day := strconv.Itoa(d.Day.Day()) + " " + months[d.Day.Month()-1] + " " + strconv.Itoa(d.Day.Year())
	switch d.Prec {
	case PrecAbout:
		return about + day
	case PrecMonth:
		return months[d.Day.Month()-1] + " " + strconv.Itoa(d.Day.Year())
	case PrecYear:
		return strconv.Itoa(d.Day.Year())
	}
	return day
}

var monthWords = map[string]time.Month{
	"jan": 1, "januari": 1, "january": 1, "feb": 2, "februari": 2, "pebruari": 2, "february": 2, "mar": 3, "maret": 3,
	"march": 3, "apr": 4, "april": 4, "mei": 5, "may": 5, "jun": 6, "juni": 6, "june": 6, "jul": 7, "juli": 7,
	"july": 7, "agu": 8, "agt": 8, "agus": 8, "agustus": 8, "aug": 8, "august": 8, "sep": 9, "sept": 9,
	"september": 9, "okt": 10, "oktober": 10, "oct": 10, "october": 10, "nov": 11, "nop": 11, "november": 11,
	"nopember": 11, "des": 12, "desember": 12, "dec": 12, "december": 12,
}

var dayWords = map[string]time.Weekday{
	"senin": time.Monday, "selasa": time.Tuesday, "rabu": time.Wednesday, "kamis": time.Thursday,
	"jumat": time.Friday, "jumaat": time.Friday, "jum": time.Friday, "sabtu": time.Saturday,
	"monday": time.Monday, "tuesday": time.Tuesday, "wednesday": time.Wednesday, "thursday": time.Thursday,
	"friday": time.Friday, "saturday": time.Saturday, "sunday": time.Sunday,
}

// dateFillers are words a date phrase may carry besides its date words.
var dateFillers = map[string]bool{"yang": true, "tanggal": true, "hari": true, "pada": true, "waktu": true,
	"sekitar": true, "kira": true, "kira2": true, "jam": true, "pagi": true, "siang": true, "sore": true,
	"malam": true, "on": true, "the": true, "at": true, "last": true, "ago": true, "lalu": true, "kemarin": true,
	"tadi": true, "sekitaran": true, "itu": true, "kejadian": true, "kejadiannya": true, "terjadi": true,
	"waktunya": true, "di": true, "ya": true, "kak": true, "pak": true, "bu": true, "saja": true, "dia": true}

// ReadDate reads a day from what a person typed, at now: "kemarin",
// "kmrn", "tadi malam", "minggu lalu", "sabtu kemarin", "3 hari lalu",
// "12/11", "12 Nov", "tgl 2". Days are WITA days; a day without a year
// that would be in the future is taken from the year before. ok is false
// when text names no day, or says much more than a day (a story that
// mentions "kemarin" is a story, not a date).
func ReadDate(text string, now time.Time) (Date, bool) {
	w := ReadWords(text)
	return readDate(w, now)
}

func readDate(w Words, now time.Time) (Date, bool) {
	n := len(w.Tok)
	if n == 0 || n > 6 {
		return Date{}, false
	}
	now = now.In(WITA)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, WITA)
	used := make([]bool, n)
	use := func(is ...int) {
		for _, i := range is {
			if i >= 0 && i < n {
				used[i] = true
			}
		}
	}
	var d Date
	found := false
	set := func(t time.Time, p Precision) {
		if !found {
			d, found = Date{Day: t, Prec: p}, true
		}
	}
	for i := 0; i < n; i++ {
		t := w.Tok[i]
		switch {
		case t == "kemarin" || t == "yesterday":
			if w.At(i+1, "lusa") {
				set(today.AddDate(0, 0, -2), PrecDay)
				use(i, i+1)
				continue
			}
			if _, ok := dayWords[w.Tok[max(i-1, 0)]]; ok && i > 0 {
				use(i) // "sabtu kemarin": the weekday decides
				continue
			}
			if w.At(i-1, "bulan") || w.At(i-1, "tahun") || w.At(i-1, "minggu") {
				use(i)
				continue
			}
			set(today.AddDate(0, 0, -1), PrecDay)
			use(i)
		case t == "semalam" || t == "tadi" && w.At(i+1, "malam") || t == "last" && w.At(i+1, "night"):
			set(today.AddDate(0, 0, -1), PrecDay)
			use(i, i+1)
		case t == "tadi" && w.At(i+1, "pagi", "siang", "sore"), t == "this" && w.At(i+1, "morning"):
			set(today, PrecDay)
			use(i, i+1)
		case t == "seminggu" && w.At(i+1, "lalu", "yang", "kemarin"):
			set(today.AddDate(0, 0, -7), PrecAbout)
			use(i)
		case t == "minggu" || t == "week":
			if k, ok := countBefore(w, i); ok && w.At(i+1, "lalu", "yang", "ago", "kemarin") {
				set(today.AddDate(0, 0, -7*k), PrecAbout)
				use(i, i-1)
			} else if w.At(i+1, "lalu", "kemarin") || w.At(i-1, "last") {
				set(today.AddDate(0, 0, -7), PrecAbout)
				use(i, i-1)
			} else if w.At(i-1, "hari") || w.At(i+1, "pagi", "siang", "sore", "malam") || i == 0 && n == 1 {
				set(lastWeekday(today, time.Sunday, false), PrecDay)
				use(i)
			}
		case t == "bulan" || t == "month":
			m := 1
			if k, ok := countBefore(w, i); ok {
				m = k
				use(i - 1)
			}
			if w.At(i+1, "lalu", "kemarin", "yang", "ago") || w.At(i-1, "last") {
				first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, WITA)
				set(first.AddDate(0, -m, 0), PrecMonth)
				use(i)
			}
		case t == "tahun" || t == "year":
			y := 1
			if k, ok := countBefore(w, i); ok {
				y = k
				use(i - 1)
			}
			if w.At(i+1, "lalu", "kemarin", "ago") || w.At(i-1, "last") {
				set(time.Date(today.Year()-y, 1, 1, 0, 0, 0, 0, WITA), PrecYear)
				use(i)
			}
		case t == "hari" || t == "days" || t == "day":
			if k, ok := countBefore(w, i); ok && w.At(i+1, "lalu", "yang", "ago", "kemarin", "sebelumnya") {
				set(today.AddDate(0, 0, -k), PrecDay)
				use(i, i-1)
			}
		case t == "lusa" && w.At(i-1, "kemarin"):
		default:
			if wd, ok := dayWords[t]; ok {
				// "jumat lalu" on a Friday: a week ago; "jumat" alone: today.
				set(lastWeekday(today, wd, w.At(i+1, "lalu", "kemarin", "last") || w.At(i-1, "last")), PrecDay)
				use(i)
				continue
			}
			if _, ok := monthWords[t]; ok && i > 0 {
				if day, ok := dayNumber(w.Tok[i-1]); ok {
					m := monthWords[t]
					y, hasYear := yearAt(w, i+1)
					dt := time.Date(today.Year(), m, day, 0, 0, 0, 0, WITA)
					if hasYear {
						dt = time.Date(y, m, day, 0, 0, 0, 0, WITA)
						use(i + 1)
					} else if dt.After(today) {
						dt = dt.AddDate(-1, 0, 0)
					}
					if dt.Day() == day {
						set(dt, PrecDay)
						use(i, i-1)
					}
				}
			}
		}
	}
	if !found {
		// "12/11", "12-11-2026", "12 11": day and month in numbers.
		if dt, ok := numericDate(w, today); ok {
			set(dt, PrecDay)
			for i := range used {
				_, isNum := dayNumber(w.Tok[i])
				_, isYear := yearAt(w, i)
				used[i] = used[i] || isNum || isYear
			}
		}
	}
	if !found && w.At(0, "tanggal") && n >= 2 {
		// "tgl 2": a day of this month, or of the month before.
		if day, ok := dayNumber(w.Tok[1]); ok {
			dt := time.Date(today.Year(), today.Month(), day, 0, 0, 0, 0, WITA)
			if dt.After(today) {
				dt = dt.AddDate(0, -1, 0)
			}
			if dt.Day() == day {
				set(dt, PrecDay)
				use(0, 1)
			}
		}
	}
	if !found {
		return Date{}, false
	}
	for i, u := range used {
		if !u && !dateFillers[w.Tok[i]] {
			if _, ok := dayNumber(w.Tok[i]); !ok {
				return Date{}, false
			}
		}
	}
	return d, true
}

// lastWeekday returns the latest day before or on today that falls on wd;
// strictly before today when before is set.
func lastWeekday(today time.Time, wd time.Weekday, before bool) time.Time {
	back := (int(today.Weekday()) - int(wd) + 7) % 7
	if back == 0 && before {
		back = 7
	}
	return today.AddDate(0, 0, -back)
}

// countBefore reads a count just before position i: "3 hari", "dua minggu".
func countBefore(w Words, i int) (int, bool) {
	if i == 0 {
		return 0, false
	}
	t := w.Tok[i-1]
	if k, ok := numberWord(t); ok {
		return k, true
	}
	if k, err := strconv.Atoi(t); err == nil && k > 0 && k < 400 {
		return k, true
	}
	return 0, false
}

func dayNumber(t string) (int, bool) {
	k, err := strconv.Atoi(t)
	if err != nil || k < 1 || k > 31 || len(t) > 2 {
		return 0, false
	}
	return k, true
}

func yearAt(w Words, i int) (int, bool) {
	if i >= len(w.Tok) {
		return 0, false
	}
	y, err := strconv.Atoi(w.Tok[i])
	if err != nil {
		return 0, false
	}
	if y >= 0 && y < 100 && len(w.Tok[i]) == 2 {
		y += 2000
	}
	if y < 2000 || y > 2100 {
		return 0, false
	}
	return y, true
}

// numericDate reads day and month typed as numbers ("12 11" after
// Normalize took the slash), with an optional year.
func numericDate(w Words, today time.Time) (time.Time, bool) {
	for i := 0; i+1 < len(w.Tok); i++ {
		day, ok1 := dayNumber(w.Tok[i])
		m, err := strconv.Atoi(w.Tok[i+1])
		if !ok1 || err != nil || m < 1 || m > 12 || len(w.Tok[i+1]) > 2 {
			continue
		}
		dt := time.Date(today.Year(), time.Month(m), day, 0, 0, 0, 0, WITA)
		if y, ok := yearAt(w, i+2); ok {
			dt = time.Date(y, time.Month(m), day, 0, 0, 0, 0, WITA)
		} else if dt.After(today) {
			dt = dt.AddDate(-1, 0, 0)
		}
		if dt.Day() != day {
			continue
		}
		return dt, true
	}
	return time.Time{}, false
}

// numberWord reads a number written as a word, with small typos: "dua",
// "tiga", "tujuh", "sembilan", "delapn".
func numberWord(t string) (int, bool) {
	if n, ok := numberWords[t]; ok {
		return n, true
	}
	if len(t) < 3 || known[t] || slang[t] != "" {
		return 0, false
	}
	found, n := 0, 0
	for w, v := range numberWords {
		// Three letters are read only as a four-letter word missing one:
		// "tga", "lma"; "dia" is not "dua".
		if len(w) >= 4 && (len(t) >= 4 || len(w) == 4) && distance(w, t, 1) <= 1 && v != n {
			found++
			n = v
		}
	}
	if found == 1 {
		return n, true
	}
	return 0, false
}
