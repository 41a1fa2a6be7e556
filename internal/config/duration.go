package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written in YAML as a Go duration ("30m",
// "1h30m") or with whole days in front ("7d", "1d12h").
type Duration time.Duration

const day = 24 * time.Hour

// ParseDuration parses a Go duration optionally preceded by whole days:
// "30m", "7d", "1d12h", "-1d". It fails on anything else, on a number
// without a unit, and on a value that does not fit in a time.Duration.
func ParseDuration(s string) (Duration, error) {
	bad := func() (Duration, error) {
		return 0, fmt.Errorf("%q is not a duration (want e.g. \"30m\", \"7d\", \"1d12h\")", s)
	}
	rest := s
	neg := false
	if rest != "" && (rest[0] == '-' || rest[0] == '+') {
		neg = rest[0] == '-'
		rest = rest[1:]
	}
	if rest == "" || rest[0] == '-' || rest[0] == '+' {
		return bad()
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	if digits == len(rest) && rest != "0" {
		return 0, fmt.Errorf("%q has no unit (want e.g. \"30s\", \"30m\", \"7d\")", s)
	}
	var total time.Duration
	if digits > 0 && digits < len(rest) && rest[digits] == 'd' {
		days, err := strconv.ParseInt(rest[:digits], 10, 64)
		if err != nil || days > int64(math.MaxInt64/day) {
			return 0, fmt.Errorf("%q is too long", s)
		}
		total = time.Duration(days) * day
		rest = rest[digits+1:]
		if rest == "" {
			return signed(total, neg), nil
		}
		if rest[0] == '-' || rest[0] == '+' {
			return bad()
		}
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return bad()
	}
	if d > math.MaxInt64-total {
		return 0, fmt.Errorf("%q is too long", s)
	}
	return signed(total+d, neg), nil
}

func signed(d time.Duration, neg bool) Duration {
	if neg {
		return Duration(-d)
	}
	return Duration(d)
}

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d the way ParseDuration reads it, with whole days in
// front and no zero units at the end: "7d", "1d12h", "30m", "1.5s".
func (d Duration) String() string {
	t := time.Duration(d)
	if t < 0 {
		if t == math.MinInt64 {
			return t.String()
		}
		return "-" + Duration(-t).String()
	}
	days := t / day
	rest := t % day
	if days == 0 {
		return trimZeroUnits(rest.String())
	}
	if rest == 0 {
		return strconv.FormatInt(int64(days), 10) + "d"
	}
	return strconv.FormatInt(int64(days), 10) + "d" + trimZeroUnits(rest.String())
}

// trimZeroUnits turns time.Duration's "12h0m0s" into "12h" and "30m0s"
// into "30m".
func trimZeroUnits(s string) string {
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML reads a duration from a YAML scalar. A null leaves d as it
// was. Its errors are *yaml.TypeError so that they carry the line.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		// The form of yaml.v3's own type errors, which config.Load
		// rewrites as "want a duration such as ...".
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s into config.Duration", n.Line, n.ShortTag())}}
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*d = v
	return nil
}

// MarshalYAML writes d the way String formats it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
