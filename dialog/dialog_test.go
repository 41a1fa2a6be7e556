package dialog_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"aduan/dialog"
	"aduan/dialog/flows"
)

func book(t testing.TB) *dialog.Book {
	t.Helper()
	b, err := flows.Load("")
	if err != nil {
		t.Fatalf("load flows: %v", err)
	}
	return b
}

var now = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// play sends each message in turn and returns the last result.
func play(t *testing.T, b *dialog.Book, st *dialog.State, msgs ...string) dialog.Result {
	t.Helper()
	var r dialog.Result
	for _, m := range msgs {
		r = b.Handle(st, dialog.Input{Text: m}, now)
	}
	return r
}

func TestCaseReport(t *testing.T) {
	b := book(t)
	var st dialog.State
	r := play(t, b, &st, "halo")
	if len(r.Replies) != 1 || !strings.Contains(r.Replies[0], "110") || !strings.Contains(r.Replies[0], "1.Lapor kekerasan") {
		t.Fatalf("greeting = %q, want emergency numbers and the menu", r.Replies)
	}
	r = play(t, b, &st, "1", "dua", "ya bahaya")
	if !st.Urgent || !r.Urgent || st.Get("safe") != "no" || st.Step != "case.type" {
		t.Fatalf("after 'ya bahaya': urgent %v/%v safe %q step %q; want urgent, not safe, next question",
			st.Urgent, r.Urgent, st.Get("safe"), st.Step)
	}
	if n := strings.Count(strings.Join(r.Replies, "|"), "110"); n != 1 {
		t.Errorf("emergency numbers said %d times, want once: %q", n, r.Replies)
	}
	r = play(t, b, &st, "1 3", "1", "Borong", "Desa Nggalak", "masih", "Suami memukul saya tadi malam", "1 4", "3")
	if st.Step != "case.confirm" {
		t.Fatalf("step = %q, want case.confirm", st.Step)
	}
	summary := r.Replies[len(r.Replies)-1]
	for _, want := range []string{"Keluarga", "Fisik, Seksual", "Anak perempuan", "Borong", "Nggalak",
		"Masih terjadi", "Suami memukul", "Medis, Rumah aman", "Pesan saja"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	r = play(t, b, &st, "ya")
	if r.Submit == nil || !r.End {
		t.Fatalf("confirm: submit = %v, end = %v; want a submission that ends the conversation", r.Submit, r.End)
	}
	got := map[string]string{}
	for _, a := range r.Submit.Answers {
		got[a.Field] = a.Value
	}
	want := map[string]string{"reporter": "family", "safe": "no", "violence": "physical,sexual",
		"victim": "child-female", "age_group": "child", "sex": "female", "kecamatan": "borong",
		"place": "Desa Nggalak", "when": "ongoing", "description": "Suami memukul saya tadi malam",
		"help": "medical,shelter", "contact": "message", "consent": "yes"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("answers = %v, want %v", got, want)
	}
	if r.Submit.Kind != "case" || !r.Submit.Urgent || !strings.Contains(r.Submit.Done, "{code}") {
		t.Errorf("submission = %+v, want an urgent case with a {code} reply", r.Submit)
	}
}

func TestStoryInSeveralMessages(t *testing.T) {
	b := book(t)
	st := dialog.State{Step: "case.what"}
	play(t, b, &st, "Suami memukul saya.")
	r := play(t, b, &st, "Dia juga mengancam anak kami.")
	if st.Step != "case.help" || !strings.HasPrefix(r.Replies[0], "Tambahan cerita dicatat.") {
		t.Fatalf("step %q replies %q; want the addition noted and the same question", st.Step, r.Replies)
	}
	if got := st.Get("description"); got != "Suami memukul saya. Dia juga mengancam anak kami." {
		t.Errorf("description = %q", got)
	}
	play(t, b, &st, "1")
	r = play(t, b, &st, "dan lagi satu hal penting")
	if st.Step != "case.contact" || !strings.HasPrefix(r.Replies[0], "Tambahan cerita") ||
		!strings.HasSuffix(st.Get("description"), "anak kami. dan lagi satu hal penting") {
		t.Errorf("a story at a later question: step %q replies %q description %q; want it kept, the question again",
			st.Step, r.Replies, st.Get("description"))
	}
	r = play(t, b, &st, "hmm")
	if st.Step != "case.contact" || !strings.HasPrefix(r.Replies[0], "Maaf") {
		t.Errorf("a short word that answers nothing: step %q replies %q; want a miss", st.Step, r.Replies)
	}
}

func TestWhenAcceptsADate(t *testing.T) {
	b := book(t)
	// now is Friday 27 November 2026, 17:00 WITA.
	for in, want := range map[string]string{"12/11/2026": "2026-11-12", "3 hari lalu": "2026-11-24", "2": "this-week",
		"kemarin": "2026-11-26", "kemarin malam": "2026-11-26", "tadi malam": "2026-11-26", "sabtu kemarin": "2026-11-21",
		"12 Nov": "2026-11-12", "kmrn": "2026-11-26", "minggu lalu": "~2026-11-20", "1 desember": "2025-12-01",
		"masih": "ongoing", "hari ini": "today"} {
		st := dialog.State{Step: "case.when"}
		b.Handle(&st, dialog.Input{Text: in}, now)
		if got := st.Get("when"); got != want {
			t.Errorf("when for %q = %q, want %q", in, got, want)
		}
	}
	st0 := dialog.State{Step: "case.when", Trail: []string{"case.when"}, Answers: []dialog.Answer{{"when", "2026-11-26"}}}
	if got := b.Summary(&st0); got != "Waktu: 26 Nov 2026" {
		t.Errorf("summary of a date = %q, want it shown as a date", got)
	}
	st := dialog.State{Step: "case.when"}
	b.Handle(&st, dialog.Input{Text: "9"}, now)
	if st.Step != "case.when" {
		t.Errorf("a number beyond the choices was taken as a date")
	}
}

func TestResumeAfterIdle(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "halo", "1", "2")
	later := now.Add(25 * time.Hour)
	r := b.Handle(&st, dialog.Input{Text: "halo lagi"}, later)
	if !st.Paused || !strings.Contains(r.Replies[0], "belum selesai") {
		t.Fatalf("after a day away: paused %v replies %q; want the resume question", st.Paused, r.Replies)
	}
	r = b.Handle(&st, dialog.Input{Text: "1"}, later)
	if st.Paused || st.Step != "case.danger" || st.Get("reporter") != "family" {
		t.Errorf("continue: step %q reporter %q; want where they left off", st.Step, st.Get("reporter"))
	}
	b.Handle(&st, dialog.Input{Text: "x"}, later.Add(30*time.Hour))
	b.Handle(&st, dialog.Input{Text: "2"}, later.Add(30*time.Hour))
	if st.Step != "menu" || len(st.Answers) != 0 {
		t.Errorf("start again: step %q answers %v; want the menu, nothing kept", st.Step, st.Answers)
	}
}

func TestGlobalCommands(t *testing.T) {
	b := book(t)
	tests := []struct {
		in   string
		want func(dialog.Result) bool
	}{
		// In the middle of a report STOP keeps the answers for when the
		// person writes again.
		{"STOP", func(r dialog.Result) bool { return r.OptOut && !r.End && strings.Contains(r.Replies[0], "tersimpan") }},
		{"hapus", func(r dialog.Result) bool { return r.Wipe && r.End }},
		{"DELETE", func(r dialog.Result) bool { return r.Wipe }},
		{"Petugas", func(r dialog.Result) bool { return strings.Contains(r.Replies[0], "pesan singkat") }},
	}
	for _, tt := range tests {
		st := dialog.State{Step: "case.type"}
		if r := b.Handle(&st, dialog.Input{Text: tt.in}, now); !tt.want(r) {
			t.Errorf("%q: result %+v", tt.in, r)
		}
	}
}

func TestStatusLookup(t *testing.T) {
	b := book(t)
	var st dialog.State
	r := play(t, b, &st, "halo", "4", "ks-7hq4xm")
	if r.Lookup != "KS-7HQ4XM" || st.Step != "menu" {
		t.Errorf("lookup = %q step %q; want the code handed to the caller, back at the menu", r.Lookup, st.Step)
	}
}

func TestEmojiAndMedia(t *testing.T) {
	b := book(t)
	st := dialog.State{Step: "case.who"}
	r := b.Handle(&st, dialog.Input{Text: "🙏🙏"}, now)
	if !strings.HasPrefix(r.Replies[0], "Kami ada di sini") || st.Misses != 0 {
		t.Errorf("emoji: %q misses %d; want a gentle word and the question, not a miss", r.Replies, st.Misses)
	}
	r = b.Handle(&st, dialog.Input{Media: 1}, now)
	if !strings.HasPrefix(r.Replies[0], "Maaf, berkas ini tidak bisa kami terima") {
		t.Errorf("media only: %q", r.Replies)
	}
	r = b.Handle(&st, dialog.Input{}, now)
	if !strings.HasPrefix(r.Replies[0], "Pesan Anda kosong") {
		t.Errorf("an empty message: %q, want it called empty, not a file", r.Replies)
	}
}

// A file the channel kept is acknowledged, counted for the report, and
// answers no question: the step stays, and it is not a miss.
func TestKeptFiles(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "halo", "1", "1", "tidak")
	step := st.Step
	r := b.Handle(&st, dialog.Input{Media: 1, Kept: 1}, now)
	if len(r.Replies) != 1 || !strings.HasPrefix(r.Replies[0], "Terima kasih, berkas Anda kami simpan") {
		t.Errorf("photo alone: %q, want the file acknowledged and the question again", r.Replies)
	}
	if st.Step != step || st.Misses != 0 || st.Files != 1 {
		t.Errorf("after a photo: step %q misses %d files %d; want %q, 0, 1", st.Step, st.Misses, st.Files, step)
	}
	// A caption that answers nothing is taken as the file's.
	r = b.Handle(&st, dialog.Input{Text: "ini fotonya", Media: 1, Kept: 1}, now)
	if st.Step != step || st.Misses != 0 || !strings.HasPrefix(r.Replies[0], "Terima kasih, berkas") {
		t.Errorf("photo with a caption: step %q misses %d replies %q; want the file acknowledged, no miss", st.Step, st.Misses, r.Replies)
	}
	st.Files--
	// A caption answers the question; the file is counted too.
	b.Handle(&st, dialog.Input{Text: "1", Media: 1, Kept: 1}, now)
	if st.Step == step || st.Files != 2 {
		t.Errorf("photo with caption 1: step %q files %d; want the next question and 2 files", st.Step, st.Files)
	}
	// MENU starts over, but the files still go with the report.
	play(t, b, &st, "menu")
	if st.Files != 2 {
		t.Errorf("after MENU: files %d, want 2", st.Files)
	}
	r = play(t, b, &st, "1", "1", "tidak", "1", "1", "Borong", "Desa Nggalak", "masih", "Dipukul", "1", "3", "ya")
	if r.Submit == nil || r.Submit.Files != 2 {
		t.Fatalf("submission = %+v, want 2 files", r.Submit)
	}
}

// A shared location answers the question of the place, and only that one.
func TestLocation(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "halo", "1", "1", "tidak", "1")
	loc := dialog.Input{Text: "Lokasi: -8.612345,120.456789 (Pasar Borong)", Location: true, Kept: 1}
	r := b.Handle(&st, loc, now)
	if st.Step != "case.victim" || !strings.HasPrefix(r.Replies[0], "Terima kasih, berkas") {
		t.Errorf("location at the victim question: step %q replies %q; want it kept, the question again", st.Step, r.Replies)
	}
	play(t, b, &st, "3")
	if st.Step != "case.where" {
		t.Fatalf("step = %q, want case.where", st.Step)
	}
	r = b.Handle(&st, loc, now)
	if got := st.Get(dialog.FieldPlace); got != loc.Text || !strings.Contains(r.Replies[0], "1.Borong") {
		t.Errorf("place = %q, replies %q; want the location kept and the kecamatan asked", got, r.Replies)
	}
	play(t, b, &st, "1")
	if st.Step != "case.when" || st.Get("kecamatan") != "borong" || st.Get(dialog.FieldPlace) != loc.Text {
		t.Errorf("after the kecamatan: step %q kecamatan %q place %q", st.Step, st.Get("kecamatan"), st.Get(dialog.FieldPlace))
	}
}

func TestPlaces(t *testing.T) {
	b := book(t)
	tests := []struct {
		label, input, kec, place, step string
	}{
		{"kecamatan", "Kec. Borong", "borong", "", "case.place"},
		{"any case", "KOTA KOMBA", "kota-komba", "", "case.place"},
		{"typo", "Borog", "borong", "", "case.place"},
		{"spaces", "  elar   selatan ", "elar-selatan", "", "case.place"},
		{"former name", "poco ranaka", "lamba-leda-selatan", "", "case.place"},
		{"borong kota", "borong kota", "borong", "", "case.place"},
		{"not sure", "tidak tahu", "unknown", "", "case.when"},
		{"zero", "0", "unknown", "", "case.when"},
		{"outside", "Ruteng", "luar", "Ruteng", "case.when"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			st := dialog.State{Step: "case.where", Trail: []string{"case.who"}}
			b.Handle(&st, dialog.Input{Text: tt.input}, now)
			if got := st.Get("kecamatan"); got != tt.kec || st.Get("place") != tt.place || st.Step != tt.step {
				t.Errorf("%q: kecamatan %q place %q step %q, want %q %q %q", tt.input, got, st.Get("place"), st.Step,
					tt.kec, tt.place, tt.step)
			}
		})
	}
	// A village gives its kecamatan, confirmed in one short question.
	st := dialog.State{Step: "case.where"}
	r := b.Handle(&st, dialog.Input{Text: "mandosawu"}, now)
	if r.Replies[0] != "Desa Mandosawu, Kec. Lamba Leda Selatan?\n1.Ya\n2.Bukan" {
		t.Errorf("village: %q, want the kecamatan to confirm", r.Replies)
	}
	b.Handle(&st, dialog.Input{Text: "ya"}, now)
	if st.Get("kecamatan") != "lamba-leda-selatan" || st.Get("place") != "Mandosawu" || st.Step != "case.when" {
		t.Errorf("confirmed: %v step %q", st.Answers, st.Step)
	}
	// A village in two kecamatan is asked about.
	st = dialog.State{Step: "case.where"}
	r = b.Handle(&st, dialog.Input{Text: "golo nderu"}, now)
	if !strings.HasPrefix(r.Replies[0], "Golo Nderu ada di lebih dari 1 kecamatan") {
		t.Fatalf("ambiguous village: %q", r.Replies)
	}
	b.Handle(&st, dialog.Input{Text: "kota komba utara"}, now)
	if st.Get("kecamatan") != "kota-komba-utara" || st.Get("place") != "Golo Nderu" || st.Step != "case.when" {
		t.Errorf("picked: %v step %q", st.Answers, st.Step)
	}
	// A name not found is kept as typed, flagged, and the kecamatan asked.
	st = dialog.State{Step: "case.where"}
	r = b.Handle(&st, dialog.Input{Text: "kampung baru dekat kali"}, now)
	if !strings.HasPrefix(r.Replies[0], `Kami catat "kampung baru dekat kali". Di kecamatan mana?`) {
		t.Fatalf("unknown place: %q", r.Replies)
	}
	b.Handle(&st, dialog.Input{Text: "1"}, now)
	if st.Get("kecamatan") != "borong" || st.Get("place") != "kampung baru dekat kali" || st.Get(dialog.FieldPlaceCheck) != "unlisted" {
		t.Errorf("unknown place then 1: %v", st.Answers)
	}
}

func TestChoiceMatching(t *testing.T) {
	b := book(t)
	tests := []struct {
		step, input, field, want string
	}{
		{"case.who", "2", "reporter", "family"},
		{"case.who", "2.", "reporter", "family"},
		{"case.who", "dua", "reporter", "family"},
		{"case.who", "no 3", "reporter", "witness"},
		{"case.who", "aku tetangga", "reporter", "witness"},
		{"case.who", "sy gurunya", "reporter", "witness"},
		{"case.who", "Keluarg", "reporter", "family"},
		{"case.type", "fisik, dipukul pakai kayu", "violence", "physical"},
		{"case.type", "1 3", "violence", "physical,sexual"},
		{"case.victim", "anak perempuan, 9 tahun", "victim", "child-female"},
		{"case.victim", "dia dipukul suaminya pakai kayu", "victim", ""},
		{"case.victim", "tdk tau", "victim", "unknown"},
		{"case.help", "rumah aman dan obat", "help", "medical,shelter"},
		{"case.help", "pendampingan psikologis sm hukum", "help", "psychological,legal"},
		{"case.when", "sembilam", "when", ""},
		{"case.danger", "tidak tahu", "safe", "unknown"},
		{"case.danger", "toe bahaya", "safe", "yes"},
		{"case.danger", "tidak, tidak dalam bahaya", "safe", "yes"},
		{"case.danger", "ya", "safe", "no"},
	}
	for _, tt := range tests {
		t.Run(tt.step+" "+tt.input, func(t *testing.T) {
			st := dialog.State{Step: tt.step, Trail: []string{"case.who"}}
			b.Handle(&st, dialog.Input{Text: tt.input}, now)
			if got := st.Get(tt.field); got != tt.want {
				t.Errorf("%s for %q = %q, want %q", tt.field, tt.input, got, tt.want)
			}
		})
	}
}

func TestUnexpectedInputRePrompts(t *testing.T) {
	b := book(t)
	for _, in := range []string{"99", "xyz", "🙂", "", "?"} {
		st := dialog.State{Step: "case.who"}
		r := b.Handle(&st, dialog.Input{Text: in}, now)
		if st.Step != "case.who" || len(r.Replies) == 0 || !strings.Contains(r.Replies[0], "1.Saya korban") {
			t.Errorf("input %q: step %q replies %q; want the question again", in, st.Step, r.Replies)
		}
	}
	st := dialog.State{Step: "case.who"}
	r := play(t, b, &st, "x", "y", "z")
	if !strings.Contains(r.Replies[0], "081883419715") {
		t.Errorf("third miss = %q, want the office's number offered", r.Replies)
	}
}

func TestCommands(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "hi", "1", "1")
	if st.Step != "case.danger" {
		t.Fatalf("step = %q, want case.danger", st.Step)
	}
	play(t, b, &st, "KEMBALI")
	if st.Step != "case.who" || st.Get("reporter") != "" {
		t.Errorf("after KEMBALI: step %q reporter %q; want case.who with the answer removed", st.Step, st.Get("reporter"))
	}
	r := play(t, b, &st, "language")
	if st.Lang != dialog.English || !strings.Contains(r.Replies[len(r.Replies)-1], "Who is reporting") {
		t.Errorf("after LANGUAGE: lang %q replies %q; want English", st.Lang, r.Replies)
	}
	play(t, b, &st, "english")
	if st.Lang != dialog.English {
		t.Errorf("english twice: lang %q; want English kept (choose, never toggle)", st.Lang)
	}
	play(t, b, &st, "bahasa", "english please")
	if st.Lang != dialog.English {
		t.Errorf("bahasa, then english please: lang %q; want English", st.Lang)
	}
	r = play(t, b, &st, "batal")
	if !r.End {
		t.Errorf("BATAL did not end the conversation")
	}
}

func TestDangerWordsKeepStep(t *testing.T) {
	b := book(t)
	st := dialog.State{Step: "case.type"}
	r := b.Handle(&st, dialog.Input{Text: "tolong!!"}, now)
	if len(r.Replies) != 2 {
		t.Fatalf("replies = %q, want the emergency numbers and the question again", r.Replies)
	}
	if !r.Urgent || !st.Urgent || st.Step != "case.type" {
		t.Fatalf("urgent %v/%v step %q; want urgent and the same step", r.Urgent, st.Urgent, st.Step)
	}
	if !strings.Contains(r.Replies[0], "110") || !strings.Contains(r.Replies[0], "129") {
		t.Errorf("first reply %q, want emergency numbers", r.Replies[0])
	}
}

func TestCorrection(t *testing.T) {
	b := book(t)
	var st dialog.State
	play(t, b, &st, "hi", "1", "1", "2", "1", "3", "Borong", "0", "1", "cerita", "1", "1")
	if st.Step != "case.confirm" {
		t.Fatalf("step = %q, want case.confirm", st.Step)
	}
	play(t, b, &st, "2", "5", "kota komba")
	if st.Step != "case.confirm" || st.Get("kecamatan") != "kota-komba" {
		t.Fatalf("after correction: step %q kecamatan %q; want back at confirm with kota-komba", st.Step, st.Get("kecamatan"))
	}
	if st.Get("description") != "cerita" {
		t.Errorf("description lost in correction: %q", st.Get("description"))
	}
}

func TestStateCodec(t *testing.T) {
	in := dialog.State{Step: "case.where", Lang: dialog.English, Urgent: true, Paused: true, Misses: 2, Files: 3,
		Updated: now.Unix(), Return: "case.confirm", More: "description", Ticket: "KS-7HQ4XM", Trail: []string{"case.who", "case.safe"},
		Answers: []dialog.Answer{{"reporter", "victim"}, {"description", "ünïcode ✓"}}}
	b, err := in.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var out dialog.State
	if err := out.UnmarshalBinary(b); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Errorf("round trip = %+v, want %+v", out, in)
	}
	for i := range b {
		var s dialog.State
		if err := s.UnmarshalBinary(b[:i]); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
	// Without files it is written as version 1, which replicas from
	// before Files read; version 1 is read back.
	in.Files = 0
	if b, _ = in.MarshalBinary(); b[0] != 1 {
		t.Errorf("a state without files is written as version %d, want 1", b[0])
	}
	if err := out.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("version 1 round trip = %+v, %v; want %+v", out, err, in)
	}
	// Where messages at rest go is written as version 4; STOP in the
	// middle of a report as a flag.
	in.Files, in.Stopped, in.Report, in.Relay, in.Asked = 1, true, "r1", "KS-7HQ4XM", "KS-7HQ4XM PL-ABCDEF"
	if b, _ = in.MarshalBinary(); b[0] != 4 {
		t.Errorf("a state with Relay is written as version %d, want 4", b[0])
	}
	if err := out.UnmarshalBinary(b); err != nil || !reflect.DeepEqual(in, out) {
		t.Errorf("version 4 round trip = %+v, %v; want %+v", out, err, in)
	}
	// Version 1, written before Files, is still read.
	v1 := []byte{1, 0, 5, 0, 0, 2, 'c', 'x', 0, 0, 0, 0, 0}
	if err := out.UnmarshalBinary(v1); err != nil || out.Step != "cx" || out.Updated != 5 || out.Files != 0 {
		t.Errorf("version 1: %+v, %v", out, err)
	}
}

func TestSegments(t *testing.T) {
	tests := []struct {
		s    string
		want int
	}{
		{strings.Repeat("a", 160), 1},
		{strings.Repeat("a", 161), 2},
		{strings.Repeat("a", 306), 2},
		{strings.Repeat("{", 80), 1},
		{strings.Repeat("{", 81), 2},
		{strings.Repeat("é", 160), 1},
		{strings.Repeat("✓", 70), 1},
		{strings.Repeat("✓", 71), 2},
	}
	for _, tt := range tests {
		if got := dialog.Segments(tt.s); got != tt.want {
			t.Errorf("Segments(%d x %q) = %d, want %d", len(tt.s), tt.s[:1], got, tt.want)
		}
	}
}

func TestClean(t *testing.T) {
	tests := map[string]string{
		"  a\tb\n\nc  ":           "a b c",
		"a\x00b":                  "ab",
		"a\u200bb\u202ec":         "abc",
		"bad \xff utf8":           "bad utf8",
		strings.Repeat("x", 5000): strings.Repeat("x", dialog.MaxInput),
	}
	for in, want := range tests {
		if got := dialog.Clean(in); got != want {
			t.Errorf("Clean(%.20q) = %.20q, want %.20q", in, got, want)
		}
	}
}

func BenchmarkStep(b *testing.B) {
	bk := book(b)
	msgs := []string{"halo", "1", "2", "2", "1 3", "3", "borong", "Desa Nggalak", "1", "Suami memukul saya", "1", "1", "ya"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var st dialog.State
		for _, m := range msgs {
			bk.Handle(&st, dialog.Input{Text: m}, now)
		}
	}
}

func BenchmarkStateCodec(b *testing.B) {
	st := dialog.State{Step: "case.what", Updated: now.Unix(),
		Trail: []string{"case.who", "case.danger", "case.type", "case.victim", "case.where", "case.place", "case.when"},
		Answers: []dialog.Answer{{"reporter", "family"}, {"safe", "no"}, {"violence", "physical,sexual"},
			{"victim", "child-female"}, {"age_group", "child"}, {"sex", "female"}, {"kecamatan", "borong"},
			{"place", "Desa Nggalak"}, {"when", "today"}}}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = st.AppendBinary(buf[:0])
		var out dialog.State
		if err := out.UnmarshalBinary(buf); err != nil {
			b.Fatal(err)
		}
	}
}

// A complete report costs at most 14 SMS segments in either language
// (MaxReportSegments in cmd/aduan; CI runs aduan flows check --cost too).
func TestCostsBothLanguages(t *testing.T) {
	b := book(t)
	for _, l := range dialog.Langs {
		costs := b.Costs(l)
		if len(costs) == 0 {
			t.Fatalf("%s: no costs", l)
		}
		for _, c := range costs {
			if c.Flow == "case" && (c.Segments > 14 || c.Steps < 10) {
				t.Errorf("%s case report: %+v, want a complete report in at most 14 segments", l, c)
			}
		}
	}
}
