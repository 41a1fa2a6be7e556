package config_test

import (
	"math"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"aduan/internal/config"
)

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{in: "30m", want: 30 * time.Minute},
		{in: "10s", want: 10 * time.Second},
		{in: "1.5h", want: 90 * time.Minute},
		{in: "7d", want: 7 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "1d12h30m", want: 36*time.Hour + 30*time.Minute},
		{in: "0d", want: 0},
		{in: "0", want: 0},
		{in: "-1d", want: -24 * time.Hour},
		{in: "+2h", want: 2 * time.Hour},
		{in: "", wantErr: `"" is not a duration`},
		{in: "d", wantErr: `"d" is not a duration`},
		{in: "7x", wantErr: `"7x" is not a duration`},
		{in: "30", wantErr: `"30" has no unit`},
		{in: "1.5d", wantErr: `"1.5d" is not a duration`},
		{in: "1d-1h", wantErr: `"1d-1h" is not a duration`},
		{in: "--1h", wantErr: `"--1h" is not a duration`},
		{in: "1d1d", wantErr: `"1d1d" is not a duration`},
		{in: "106752d", wantErr: `"106752d" is too long`},
		{in: "106751d23h47m16.854775807s", want: math.MaxInt64},
		{in: "106751d23h47m17s", wantErr: `"106751d23h47m17s" is too long`},
		{in: "99999999999999999999d", wantErr: `is too long`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := config.ParseDuration(tc.in)
			if tc.wantErr != "" {
				wantErr(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%q) = %v", tc.in, err)
			}
			if got.Std() != tc.want {
				t.Errorf("ParseDuration(%q) = %v, want %v", tc.in, got.Std(), tc.want)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{10 * time.Second, "10s"},
		{30 * time.Minute, "30m"},
		{90 * time.Minute, "1h30m"},
		{1500 * time.Millisecond, "1.5s"},
		{7 * 24 * time.Hour, "7d"},
		{36 * time.Hour, "1d12h"},
		{24*time.Hour + time.Second, "1d1s"},
		{-36 * time.Hour, "-1d12h"},
		{math.MinInt64, time.Duration(math.MinInt64).String()},
	} {
		t.Run(tc.want, func(t *testing.T) {
			d := config.Duration(tc.in)
			if got := d.String(); got != tc.want {
				t.Fatalf("String() = %q, want %q", got, tc.want)
			}
			if tc.in == math.MinInt64 {
				return
			}
			back, err := config.ParseDuration(d.String())
			if err != nil || back != d {
				t.Errorf("ParseDuration(%q) = %v, %v, want %v", d.String(), back.Std(), err, tc.in)
			}
		})
	}
}

func TestDurationYAML(t *testing.T) {
	in := config.Conversation{StateTTL: config.Duration(36 * time.Hour), LeaseTTL: config.Duration(10 * time.Second)}
	out, err := yaml.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "state_ttl: 1d12h\nlease_ttl: 10s\n"; got != want {
		t.Errorf("Marshal = %q, want %q", got, want)
	}
	var back config.Conversation
	if err := yaml.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back != in {
		t.Errorf("Unmarshal = %+v, want %+v", back, in)
	}
}
