package config_test

import (
	"errors"
	"testing"

	"aduan/internal/config"
)

func TestNormalizePhone(t *testing.T) {
	for _, tc := range []struct {
		raw, region, want string
	}{
		{"081337785111", "ID", "+6281337785111"},
		{"081337785111", "id", "+6281337785111"},
		{"+6281337785111", "ID", "+6281337785111"},
		{"6281337785111", "ID", "+6281337785111"},
		{" 0813-3778-5111 ", "ID", "+6281337785111"},
		{"+62 813 3778 5111", "", "+6281337785111"},
		{"+14155552671", "ID", "+14155552671"},
		{"(415) 555-2671", "US", "+14155552671"},
	} {
		t.Run(tc.raw+"/"+tc.region, func(t *testing.T) {
			got, err := config.NormalizePhone(tc.raw, tc.region)
			if err != nil {
				t.Fatalf("NormalizePhone(%q, %q) = %v", tc.raw, tc.region, err)
			}
			if got != tc.want {
				t.Errorf("NormalizePhone(%q, %q) = %q, want %q", tc.raw, tc.region, got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		raw, region string
	}{
		{"0813", "ID"},
		{"", "ID"},
		{"hello", "ID"},
		{"081337785111", ""},
		{"081337785111", "XX"},
		{"+62", "ID"},
		{"+999123456789", "ID"},
	} {
		t.Run("invalid "+tc.raw+"/"+tc.region, func(t *testing.T) {
			_, err := config.NormalizePhone(tc.raw, tc.region)
			if !errors.Is(err, config.ErrInvalidPhone) {
				t.Fatalf("NormalizePhone(%q, %q) = %v, want ErrInvalidPhone", tc.raw, tc.region, err)
			}
			wantErr(t, err, `is not a valid phone number`)
		})
	}
}
