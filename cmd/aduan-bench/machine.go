package main

import (
	"os"
	"os/exec"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// commitOf names the commit the bench was built from ("unknown" outside a
// checkout), with "+dirty" when the tree had changes: figures are worth
// little without it.
func commitOf() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if rev == "" { // go run stamps no revision: ask git
		out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
		if err != nil {
			return "unknown"
		}
		rev = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			dirty = "+dirty"
		}
		return rev + dirty
	}
	return rev[:min(12, len(rev))] + dirty
}

// idleShare measures the share of the machine's CPU time that is idle over
// d (from /proc/stat): what a quiet machine is, before a run. It returns
// -1 where /proc/stat cannot be read.
func idleShare(d time.Duration) float64 {
	read := func() (idle, total float64, ok bool) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0, false
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) < 5 || f[0] != "cpu" {
			return 0, 0, false
		}
		for i, v := range f[1:] {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, 0, false
			}
			total += n
			if i == 3 || i == 4 { // idle, iowait
				idle += n
			}
		}
		return idle, total, true
	}
	i0, t0, ok0 := read()
	time.Sleep(d)
	i1, t1, ok1 := read()
	if !ok0 || !ok1 || t1 <= t0 {
		return -1
	}
	return (i1 - i0) / (t1 - t0)
}

// percent writes a share as a percentage, "unknown" when negative.
func percent(share float64) string {
	if share < 0 {
		return "unknown"
	}
	return strconv.FormatFloat(100*share, 'f', 0, 64) + "%"
}
