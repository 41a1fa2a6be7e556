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
	r = play(t, b, &st, "1", "dua", "tidak", "1 3", "Borong", "Suami memukul saya tadi malam")
	if st.Step != "case.confirm" {
		t.Fatalf("step = %q, want case.confirm", st.Step)
	}
	if !st.Urgent {
		t.Errorf("urgent = false after 'not safe', want true")
	}
	summary := r.Replies[len(r.Replies)-1]
	for _, want := range []string{"Keluarga korban", "Fisik, Seksual", "Borong", "Suami memukul"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q lacks %q", summary, want)
		}
	}
	r = play(t, b, &st, "ya")
	if r.Submit == nil || !r.End {
		t.Fatalf("confirm: submit = %v, end = %v; want a submission that ends the conversation", r.Submit, r.End)
	}
	want := []dialog.Answer{{"reporter", "family"}, {"safe", "no"}, {"violence", "physical,sexual"},
		{"kecamatan", "borong"}, {"description", "Suami memukul saya tadi malam"}}
	if !reflect.DeepEqual(r.Submit.Answers, want) {
		t.Errorf("answers = %v, want %v", r.Submit.Answers, want)
	}
	if r.Submit.Kind != "case" || !r.Submit.Urgent || !strings.Contains(r.Submit.Done, "{code}") {
		t.Errorf("submission = %+v, want an urgent case with a {code} reply", r.Submit)
	}
}

func TestChoiceMatching(t *testing.T) {
	b := book(t)
	tests := []struct {
		label, input, want string
	}{
		{"number", "2", "rana-mese"},
		{"number with dot", "2.", "rana-mese"},
		{"number word", "dua", "rana-mese"},
		{"label any case", "KOTA KOMBA", "kota-komba"},
		{"label with typo", "Borog", "borong"},
		{"label with spaces", "  elar   selatan ", "elar-selatan"},
		{"extra word", "ranamese", "rana-mese"},
		{"nomor prefix", "no 9", "lamba-leda"},
		{"not sure", "tidak tahu", "unknown"},
		{"ten", "10", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.label, func(t *testing.T) {
			st := dialog.State{Step: "case.where", Trail: []string{"case.who"}}
			b.Handle(&st, dialog.Input{Text: tt.input}, now)
			if got := st.Get("kecamatan"); got != tt.want {
				t.Errorf("kecamatan for %q = %q, want %q", tt.input, got, tt.want)
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
	if st.Step != "case.safe" {
		t.Fatalf("step = %q, want case.safe", st.Step)
	}
	play(t, b, &st, "KEMBALI")
	if st.Step != "case.who" || st.Get("reporter") != "" {
		t.Errorf("after KEMBALI: step %q reporter %q; want case.who with the answer removed", st.Step, st.Get("reporter"))
	}
	r := play(t, b, &st, "bahasa")
	if st.Lang != dialog.English || !strings.Contains(r.Replies[len(r.Replies)-1], "Who is reporting") {
		t.Errorf("after BAHASA: lang %q replies %q; want English", st.Lang, r.Replies)
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
	play(t, b, &st, "hi", "1", "1", "1", "1", "1", "cerita")
	play(t, b, &st, "2", "4", "3")
	if st.Step != "case.confirm" || st.Get("kecamatan") != "kota-komba" {
		t.Fatalf("after correction: step %q kecamatan %q; want back at confirm with kota-komba", st.Step, st.Get("kecamatan"))
	}
	if st.Get("description") != "cerita" {
		t.Errorf("description lost in correction: %q", st.Get("description"))
	}
}

func TestStateCodec(t *testing.T) {
	in := dialog.State{Step: "case.where", Lang: dialog.English, Urgent: true, Misses: 2, Updated: now.Unix(),
		Return: "case.confirm", Trail: []string{"case.who", "case.safe"},
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
	msgs := []string{"halo", "1", "2", "1", "1 3", "borong", "Suami memukul saya", "ya"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var st dialog.State
		for _, m := range msgs {
			bk.Handle(&st, dialog.Input{Text: m}, now)
		}
	}
}

func BenchmarkStateCodec(b *testing.B) {
	st := dialog.State{Step: "case.what", Updated: now.Unix(), Trail: []string{"case.who", "case.safe", "case.type", "case.where"},
		Answers: []dialog.Answer{{"reporter", "family"}, {"safe", "no"}, {"violence", "physical,sexual"}, {"kecamatan", "borong"}}}
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
