package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aduan/internal/config"
)

// FuzzLoad loads arbitrary files: Load must return a config or a one-line
// error, never panic.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml")); err == nil {
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path, nil)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q, want one line", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Validate() after Load = %v, want nil", err)
		}
	})
}
