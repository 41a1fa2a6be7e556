package bot_test

import (
	"testing"

	"aduan/bot"
)

func TestLocationText(t *testing.T) {
	cases := []struct {
		lat, lon               float64
		name, address, comment string
		want                   string
	}{
		{-8.612345, 120.456789, "Pasar Borong", "Jl. Trans Flores", "",
			"Lokasi: -8.612345,120.456789 (Pasar Borong, Jl. Trans Flores)"},
		{-8.6, 120.5, "", "", " rumah biru ", "Lokasi: -8.600000,120.500000\nrumah biru"},
		{-8.6, 120.5, " Rumah ", "", "", "Lokasi: -8.600000,120.500000 (Rumah)"},
		{-8.6, 120.5, "", "Jl. Trans Flores", "", "Lokasi: -8.600000,120.500000 (Jl. Trans Flores)"},
		{-8.61234567, 120.45678949, "", "  ", "\n", "Lokasi: -8.612346,120.456789"},
	}
	for _, c := range cases {
		if got := bot.LocationText(c.lat, c.lon, c.name, c.address, c.comment); got != c.want {
			t.Errorf("LocationText(%v, %v, %q, %q, %q) = %q, want %q", c.lat, c.lon, c.name, c.address, c.comment, got, c.want)
		}
	}
}
