package dialog

import (
	"encoding/csv"
	"fmt"
	"strings"
)

// Area is one kecamatan of the regency.
type Area struct {
	Slug    string   // stored with a report: "lamba-leda-selatan"
	Name    string   // "Lamba Leda Selatan"
	Code    string   // Kemendagri code: "53.19.02"
	Aliases []string // former and spoken names: "Poco Ranaka"
}

// PlaceKind says what a place reading found.
type PlaceKind uint8

const (
	PlaceUnknown   PlaceKind = iota // a name not in the list: keep it as typed, flag it for the officer
	PlaceKecamatan                  // a kecamatan, by its name or a former one
	PlaceVillage                    // a desa or kelurahan of one kecamatan
	PlaceAmbiguous                  // a village name found in several kecamatan: ask which
	PlaceOutside                    // a place outside the regency ("Ruteng"): keep it as typed
	PlaceNone                       // "tidak tahu", "0"
)

// Place is what ResolvePlace read.
type Place struct {
	Kind       PlaceKind
	Kecamatan  string   // the kecamatan's slug, for PlaceKecamatan and PlaceVillage
	Village    string   // the village's name as listed, for PlaceVillage and PlaceAmbiguous
	Name       string   // for PlaceOutside: the listed name; for PlaceUnknown: the text as typed
	Candidates []string // for PlaceAmbiguous: the kecamatan slugs, in list order
}

// Gazetteer is the list of the regency's kecamatan and villages, and of
// places outside it that people name. It is read from gazetteer.csv in the
// flows (generated from Kemendagri's codes, see scripts/gazetteer).
type Gazetteer struct {
	areas   []Area
	bySlug  map[string]int      // current and former slugs
	entries map[string][]gEntry // by squeezed name
	keys    []string            // the names, for typo matching
	longest int                 // words in the longest name
}

type gEntry struct {
	kind PlaceKind // PlaceKecamatan, PlaceVillage or PlaceOutside
	kec  string
	name string
}

// ParseGazetteer reads the gazetteer file's text (CSV with # comments:
// kind,code,name,kecamatan,aliases). It returns every problem found, one
// per line: a row with a missing name, a village of an unknown kecamatan,
// a kecamatan listed twice, no kecamatan at all.
func ParseGazetteer(data string) (*Gazetteer, error) {
	var lines []string
	for _, l := range strings.Split(data, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			lines = append(lines, l)
		}
	}
	r := csv.NewReader(strings.NewReader(strings.Join(lines, "\n")))
	r.FieldsPerRecord = 5
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("gazetteer: %v", err)
	}
	g := &Gazetteer{bySlug: map[string]int{}, entries: map[string][]gEntry{}}
	var problems []string
	var villages [][]string
	for i, row := range rows {
		if i == 0 && row[0] == "kind" {
			continue
		}
		kind, code, name, kec, aliases := strings.TrimSpace(row[0]), strings.TrimSpace(row[1]),
			strings.TrimSpace(row[2]), strings.TrimSpace(row[3]), strings.TrimSpace(row[4])
		if name == "" {
			problems = append(problems, fmt.Sprintf("gazetteer row %d: no name", i+1))
			continue
		}
		var alias []string
		for _, a := range strings.Split(aliases, "|") {
			if a = strings.TrimSpace(a); a != "" {
				alias = append(alias, a)
			}
		}
		switch kind {
		case "kecamatan":
			if kec == "" {
				problems = append(problems, fmt.Sprintf("gazetteer row %d: kecamatan %s has no slug", i+1, name))
				continue
			}
			if _, dup := g.bySlug[kec]; dup {
				problems = append(problems, fmt.Sprintf("gazetteer row %d: kecamatan %s listed twice", i+1, kec))
				continue
			}
			g.bySlug[kec] = len(g.areas)
			g.areas = append(g.areas, Area{Slug: kec, Name: name, Code: code, Aliases: alias})
		case "desa":
			villages = append(villages, []string{name, kec, aliases, fmt.Sprint(i + 1)})
		case "luar":
			g.add(name, gEntry{kind: PlaceOutside, name: name})
			for _, a := range alias {
				g.add(a, gEntry{kind: PlaceOutside, name: name})
			}
		default:
			problems = append(problems, fmt.Sprintf("gazetteer row %d: kind %q is not kecamatan, desa or luar", i+1, kind))
		}
	}
	if len(g.areas) == 0 {
		problems = append(problems, "gazetteer: no kecamatan")
	}
	for i, a := range g.areas {
		g.add(a.Name, gEntry{kind: PlaceKecamatan, kec: a.Slug, name: a.Name})
		for _, al := range a.Aliases {
			g.add(al, gEntry{kind: PlaceKecamatan, kec: a.Slug, name: a.Name})
			if s := slug(al); s != a.Slug {
				if _, taken := g.bySlug[s]; !taken {
					g.bySlug[s] = i // a former name's slug, as old tickets stored it
				}
			}
		}
	}
	for _, v := range villages {
		if _, ok := g.bySlug[v[1]]; !ok {
			problems = append(problems, fmt.Sprintf("gazetteer row %s: village %s is in unknown kecamatan %q", v[3], v[0], v[1]))
			continue
		}
		kec := g.areas[g.bySlug[v[1]]].Slug
		g.add(v[0], gEntry{kind: PlaceVillage, kec: kec, name: v[0]})
		for _, a := range strings.Split(v[2], "|") {
			if a = strings.TrimSpace(a); a != "" {
				g.add(a, gEntry{kind: PlaceVillage, kec: kec, name: v[0]})
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return g, nil
}

func (g *Gazetteer) add(name string, e gEntry) {
	k := placeKey(name)
	if k == "" {
		return
	}
	if _, ok := g.entries[k]; !ok {
		g.keys = append(g.keys, k)
	}
	for _, have := range g.entries[k] {
		if have == e {
			return
		}
	}
	g.entries[k] = append(g.entries[k], e)
	g.longest = max(g.longest, len(strings.Fields(k)))
}

// placeKey is how names are compared: lower case, letters and digits,
// double letters squeezed ("Nggalak" and "ngalak" are one key).
func placeKey(name string) string {
	f := strings.Fields(Normalize(name))
	for i, t := range f {
		f[i] = squeeze(t, 1)
	}
	return strings.Join(f, " ")
}

func slug(name string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(name)), " ", "-")
}

// Areas returns the kecamatan in list order.
func (g *Gazetteer) Areas() []Area { return g.areas }

// Villages returns how many villages the list has.
func (g *Gazetteer) Villages() int {
	n := 0
	for _, es := range g.entries {
		for _, e := range es {
			if e.kind == PlaceVillage {
				n++
			}
		}
	}
	return n
}

// Canonical returns the current slug of a kecamatan given by its slug, a
// former slug ("poco-ranaka" -> "lamba-leda-selatan") or a name in any
// case ("Poco Ranaka Timur"). ok is false for anything else.
func (g *Gazetteer) Canonical(s string) (string, bool) {
	if g == nil {
		return s, false
	}
	if i, ok := g.bySlug[s]; ok {
		return g.areas[i].Slug, true
	}
	if i, ok := g.bySlug[slug(s)]; ok {
		return g.areas[i].Slug, true
	}
	for _, e := range g.entries[placeKey(s)] {
		if e.kind == PlaceKecamatan {
			return e.kec, true
		}
	}
	return s, false
}

// Name returns the current name of a kecamatan given by its slug or a
// former slug, or "" when there is none.
func (g *Gazetteer) Name(s string) string {
	if g == nil {
		return ""
	}
	if i, ok := g.bySlug[s]; ok {
		return g.areas[i].Name
	}
	return ""
}

// placeStop are words around a place name that are not part of it.
var placeStop = map[string]bool{"kec": true, "kecamatan": true, "desa": true, "kel": true, "kelurahan": true,
	"kampung": true, "kp": true, "dusun": true, "di": true, "dari": true, "dekat": true, "kab": true,
	"kabupaten": true, "kota": false, "ds": true, "village": true, "district": true, "in": true, "at": true,
	"near": true, "daerah": true, "wilayah": true, "sekitar": true, "kab.": true, "lingkungan": true}

// ResolvePlace reads a place from what a person typed at "where did it
// happen?": a village gives its kecamatan, a kecamatan may be given by a
// former name ("Poco Ranaka"), with "Kec." or without, and small typos are
// read ("Borog"). A name in several kecamatan is PlaceAmbiguous; a place
// outside the regency is PlaceOutside; a name not found is PlaceUnknown
// with the text as typed. "tidak tahu" and "0" are PlaceNone.
func (g *Gazetteer) ResolvePlace(text string) Place {
	w := ReadWords(text)
	if len(w.Tok) == 0 || w.String() == "0" || dontKnow(w) || w.String() == "tidak" {
		return Place{Kind: PlaceNone}
	}
	typed := strings.TrimSpace(Clean(text))
	if g == nil {
		return Place{Kind: PlaceUnknown, Name: typed}
	}
	raw := strings.Fields(Normalize(text))
	toks := make([]string, len(raw))
	for i, t := range raw {
		toks[i] = squeeze(t, 1)
	}
	village := false
	for _, t := range raw {
		if t == "desa" || t == "kel" || t == "kelurahan" || t == "ds" || t == "village" {
			village = true
		}
	}
	var found []gEntry
	covered := make([]bool, len(toks))
	for size := min(g.longest, len(toks)); size >= 1; size-- {
		for i := 0; i+size <= len(toks); i++ {
			if anyTrue(covered[i : i+size]) {
				continue
			}
			k := strings.Join(toks[i:i+size], " ")
			es := g.entries[k]
			if len(es) == 0 && len(k) >= 5 {
				es = g.near(k)
			}
			if len(es) == 0 || size == 1 && placeStop[k] {
				continue
			}
			for j := i; j < i+size; j++ {
				covered[j] = true
			}
			found = append(found, es...)
		}
	}
	var kecs, vills, outs []gEntry
	for _, e := range found {
		switch e.kind {
		case PlaceKecamatan:
			kecs = append(kecs, e)
		case PlaceVillage:
			vills = append(vills, e)
		case PlaceOutside:
			outs = append(outs, e)
		}
	}
	loose := 0
	for i, t := range raw {
		if !covered[i] && !placeStop[t] && !choiceFillers[t] {
			loose++
		}
	}
	switch {
	case len(found) == 0 || loose > 3:
		return Place{Kind: PlaceUnknown, Name: cut(typed, 100)}
	case len(vills) > 0 && (village || len(kecs) == 0 || len(kecs) > 0 && sameKec(vills, kecs[0].kec)):
		if len(kecs) > 0 {
			for _, v := range vills {
				if v.kec == kecs[0].kec {
					return Place{Kind: PlaceVillage, Kecamatan: v.kec, Village: v.name}
				}
			}
		}
		var cands []string
		for _, v := range vills {
			if v.name == vills[0].name {
				cands = appendStr(cands, v.kec)
			}
		}
		if len(cands) > 1 {
			return Place{Kind: PlaceAmbiguous, Village: vills[0].name, Candidates: g.order(cands)}
		}
		return Place{Kind: PlaceVillage, Kecamatan: vills[0].kec, Village: vills[0].name}
	case len(kecs) > 0:
		return Place{Kind: PlaceKecamatan, Kecamatan: kecs[0].kec}
	case len(outs) > 0:
		return Place{Kind: PlaceOutside, Name: outs[0].name}
	}
	return Place{Kind: PlaceUnknown, Name: cut(typed, 100)}
}

// near finds the names within a small typo of k.
func (g *Gazetteer) near(k string) []gEntry {
	max := 1
	if len(k) >= 10 {
		max = 2
	}
	var out []gEntry
	for _, key := range g.keys {
		if key[0] == k[0] && distance(key, k, max) <= max {
			out = append(out, g.entries[key]...)
		}
	}
	return out
}

func (g *Gazetteer) order(slugs []string) []string {
	var out []string
	for _, a := range g.areas {
		for _, s := range slugs {
			if s == a.Slug {
				out = append(out, s)
			}
		}
	}
	return out
}

func sameKec(vs []gEntry, kec string) bool {
	for _, v := range vs {
		if v.kec == kec {
			return true
		}
	}
	return false
}

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

func appendStr(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}
