package bot_test

import (
	"testing"

	"aduan/bot"
)

func TestFileExt(t *testing.T) {
	tests := []struct {
		kind, mime, want string
	}{
		{bot.FileImage, "image/jpeg", ".jpg"},
		{bot.FileImage, "image/png", ".png"},
		{bot.FileVoice, "audio/ogg; codecs=opus", ".ogg"},
		{bot.FileVideo, "video/mp4", ".mp4"},
		{bot.FileDocument, "application/pdf", ".pdf"},
		{bot.FileLocation, "text/plain", ".txt"},
		{bot.FileLocation, "", ".txt"},
		{bot.FileDocument, "application/x-tidak-dikenal", ".bin"},
		{bot.FileDocument, "", ".bin"},
		{bot.FileDocument, "../../etc/passwd", ".bin"},
	}
	for _, tt := range tests {
		if got := bot.FileExt(tt.kind, tt.mime); got != tt.want {
			t.Errorf("FileExt(%q, %q) = %q, want %q", tt.kind, tt.mime, got, tt.want)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int]string{0: "0 B", 999: "999 B", 1000: "1 KB", 12_345: "12 KB", 999_499: "999 KB",
		999_500: "1.0 MB", 3_400_000: "3.4 MB"} {
		if got := bot.ByteSize(n); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
