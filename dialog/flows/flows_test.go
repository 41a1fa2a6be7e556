package flows_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aduan/dialog"
	"aduan/dialog/flows"
)

func TestDefaultsCompile(t *testing.T) {
	if _, err := flows.Load(""); err != nil {
		t.Fatalf("embedded flows do not compile:\n%v", err)
	}
}

// copyDefaults copies the embedded flows' files into a new directory.
func copyDefaults(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob("default/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no default flows: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOfficeChangesAQuestion(t *testing.T) {
	dir := copyDefaults(t)
	path := filepath.Join(dir, "case.yaml")
	b, _ := os.ReadFile(path)
	b = []byte(strings.Replace(string(b), `id: "Siapa yang melapor?"`, `id: "Anda siapa?"`, 1))
	b = []byte(strings.Replace(string(b), `      - value: other
        label: {id: "Lainnya", en: "Other"}
        words: [lain, lainnya, other, kepala desa`, `      - value: teacher
        label: {id: "Guru", en: "Teacher"}
      - value: other
        label: {id: "Lainnya", en: "Other"}
        words: [lain, lainnya, other, kepala desa`, 1))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	book, err := flows.Load(dir)
	if err != nil {
		t.Fatalf("changed flows: %v", err)
	}
	var st dialog.State
	book.Handle(&st, dialog.Input{Text: "halo"}, time.Now())
	r := book.Handle(&st, dialog.Input{Text: "1"}, time.Now())
	if !strings.HasPrefix(r.Replies[0], "Anda siapa?") || !strings.Contains(r.Replies[0], "5.Guru") {
		t.Errorf("changed question = %q", r.Replies[0])
	}
	book.Handle(&st, dialog.Input{Text: "5"}, time.Now())
	if st.Get("reporter") != "teacher" {
		t.Errorf("new choice not taken: reporter = %q", st.Get("reporter"))
	}
}

func TestBrokenFlowsListEveryProblem(t *testing.T) {
	dir := copyDefaults(t)
	path := filepath.Join(dir, "case.yaml")
	b, _ := os.ReadFile(path)
	s := strings.Replace(string(b), "    next: case.where\n", "    next: case.nowhere\n", 1)
	s = strings.Replace(s, `en: "Who is reporting?"`, `en: ""`, 1)
	s = strings.Replace(s, `id: "Ceritakan apa yang terjadi. Boleh dalam beberapa pesan."`,
		`id: "`+strings.Repeat("Ceritakan apa yang terjadi. ", 20)+`"`, 1)
	os.WriteFile(path, []byte(s), 0o644)
	_, err := flows.Load(dir)
	if err == nil {
		t.Fatal("broken flows loaded")
	}
	for _, want := range []string{`next step "case.nowhere" does not exist`, "step case.who prompt: no en text",
		"SMS segments, over 3", "step case.where: unreachable"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("problems lack %q:\n%v", want, err)
		}
	}
}
