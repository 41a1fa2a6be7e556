package dialog_test

import (
	"testing"
	"time"

	"aduan/dialog"
)

// The examples of issue 16, read by the functions bot/ may call.
func TestReadersIssueExamples(t *testing.T) {
	for _, s := range []string{"tlg sy dipukul suami", "tlg cpt dia dtg lg bawa parang", "mau bunuh sy", "dia bawa parang",
		"toloong", "tolongg sy"} {
		if d := dialog.ReadDanger(s); !d.Danger {
			t.Errorf("ReadDanger(%q) = %+v, want danger", s, d)
		}
	}
	for _, s := range []string{"tolong info alamat kantor", "tidak, tidak dalam bahaya", "toe bahaya"} {
		if d := dialog.ReadDanger(s); d.Danger {
			t.Errorf("ReadDanger(%q) = %+v, want no danger", s, d)
		}
	}
	for s, want := range map[string]dialog.DangerAnswer{"toe bahaya": dialog.AnswerSafe, "tidak, tidak dalam bahaya": dialog.AnswerSafe,
		"tdk tau": dialog.AnswerUnknown, "ga tau": dialog.AnswerUnknown, "tidak tahu": dialog.AnswerUnknown,
		"ya": dialog.AnswerDanger, "masih bahaya": dialog.AnswerDanger, "ok": dialog.AnswerUnclear} {
		if got := dialog.ReadDangerAnswer(s); got != want {
			t.Errorf("ReadDangerAnswer(%q) = %v, want %v", s, got, want)
		}
	}
	for s, want := range map[string]dialog.Intent{"brp biaya?": dialog.IntentCost, "bayar ga?": dialog.IntentCost,
		"alamat kantor": dialog.IntentOffice, "kantor dimana": dialog.IntentOffice, "syarat apa": dialog.IntentRequirements,
		"berapa lama prosesnya": dialog.IntentDuration, "no hp petugas brp?": dialog.IntentOfficers,
		"english please": dialog.IntentEnglish, "bahasa inggris": dialog.IntentEnglish, "STOP": dialog.IntentStop,
		"jgn kirim sms lg": dialog.IntentStop, "halo": dialog.IntentGreeting} {
		if got := dialog.ReadIntent(s).Intent; got != want {
			t.Errorf("ReadIntent(%q) = %q, want %q", s, got, want)
		}
	}
	if r := dialog.ReadIntent("brp biaya kalau mau lapor?"); r.Intent != dialog.IntentCost || !r.Report {
		t.Errorf("ReadIntent(brp biaya kalau mau lapor?) = %+v, want cost, offering the report", r)
	}
	for _, s := range []string{"status KS-FDJRSF", "cek KS-FDJRSF", "ks fdjrsf", "KS-FDJRSF", "ksfdjrsf"} {
		if got := dialog.FindCode(s); got != "KS-FDJRSF" {
			t.Errorf("FindCode(%q) = %q, want KS-FDJRSF", s, got)
		}
	}
	for _, s := range []string{"dia tdk mau stop pukul sy", "stop dia pukul anak"} {
		if dialog.IsStop(s) {
			t.Errorf("IsStop(%q) = true, want false", s)
		}
	}
	now := time.Date(2026, 11, 27, 9, 0, 0, 0, dialog.WITA) // a Friday
	for s, want := range map[string]string{"kemarin": "2026-11-26", "kmrn": "2026-11-26", "tadi malam": "2026-11-26",
		"minggu lalu": "~2026-11-20", "sabtu kemarin": "2026-11-21", "3 hari lalu": "2026-11-24", "12/11": "2026-11-12",
		"12 Nov": "2026-11-12", "kemarin malam": "2026-11-26"} {
		d, ok := dialog.ReadDate(s, now)
		if !ok || d.Value() != want {
			t.Errorf("ReadDate(%q) = %q, %v; want %q", s, d.Value(), ok, want)
		}
	}
	if _, ok := dialog.ReadDate("dia masih sering pukul istrinya kalau mabuk, kemarin juga", now); ok {
		t.Errorf("a story that mentions kemarin was read as a date")
	}
}
