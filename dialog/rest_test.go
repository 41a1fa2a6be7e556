package dialog_test

import (
	"testing"

	"aduan/dialog"
)

// What a reporter writes after filing is for the officer unless it is
// plainly for the conversation (issue 15).
func TestReadRest(t *testing.T) {
	b := book(t)
	idle := &dialog.State{}
	menu := &dialog.State{Step: "menu"}
	tests := []struct {
		st   *dialog.State
		text string
		want dialog.Rest
	}{
		{idle, "makasih kak", dialog.RestMessage},
		{idle, "kak nanti yg datang siapa?", dialog.RestMessage},
		{idle, "aku lari ke rumah om kak", dialog.RestMessage},
		{idle, "om nya dtg lg ke sekolah tadi siang", dialog.RestMessage},
		{idle, "jgn sms lg, suami sy sdh pulang", dialog.RestCommand},
		{idle, "halo", dialog.RestMessage},
		{idle, "1", dialog.RestMessage}, // the officer asked something
		{idle, "ya", dialog.RestMessage},
		{menu, "1", dialog.RestCommand},
		{menu, "9", dialog.RestMessage},
		{menu, "aku lari ke rumah om kak", dialog.RestMessage},
		{idle, "MENU", dialog.RestCommand},
		{idle, "batal", dialog.RestCommand},
		{idle, "back", dialog.RestMessage}, // KEMBALI has nothing to go back to
		{idle, "stop", dialog.RestCommand},
		{idle, "HAPUS", dialog.RestCommand},
		{idle, "english", dialog.RestCommand},
		{idle, "cek KS-7HQ4XM", dialog.RestCommand},
		{idle, "KS-7HQ4XM kak sy sdh aman di rumah om", dialog.RestMessage},
		{idle, "mau lapor lagi", dialog.RestCommand},
		{idle, "dia dipukul lagi", dialog.RestMessage},
		{idle, "alamat kantor dimana?", dialog.RestQuestion},
		{idle, "tolong kak bapak sdh pulang, dia mabuk cari aku", dialog.RestMessage},
	}
	for _, tt := range tests {
		if got := b.ReadRest(tt.st, tt.text); got != tt.want {
			t.Errorf("ReadRest(step %q, %q) = %d, want %d", tt.st.Step, tt.text, got, tt.want)
		}
	}
}

func TestPickTicket(t *testing.T) {
	codes := []string{"KS-7HQ4XM", "PL-ABCDEF"}
	for text, want := range map[string]string{"1": "KS-7HQ4XM", "2": "PL-ABCDEF", "no 2": "PL-ABCDEF", "dua": "PL-ABCDEF",
		"pl abcdef": "PL-ABCDEF", "3": "", "KS-2345AB": "", "aku lari": ""} {
		if got := dialog.PickTicket(text, codes); got != want {
			t.Errorf("PickTicket(%q) = %q, want %q", text, got, want)
		}
	}
}
