package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version and commit name the build. Release builds set them:
//
//	go build -ldflags "-X main.version=v1.2.0 -X main.commit=$(git rev-parse --short HEAD)" ./cmd/aduan
//
// When they are empty, the module version and the VCS stamp that go build
// records in a Git checkout (unless -buildvcs=false) are used.
var (
	version string
	commit  string
)

// build describes the running binary.
type build struct {
	Version  string // "v1.2.0", or "devel"
	Commit   string // short revision, "unknown" when not recorded
	Time     string // commit time (RFC 3339), "" when not recorded
	Modified bool   // built from a checkout with uncommitted changes
	Go       string
}

// buildInfo reads the build's version and commit: the -ldflags values
// first, then what the Go toolchain recorded.
func buildInfo() build {
	b := build{Version: version, Commit: commit, Go: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if len(b.Commit) > 12 {
		b.Commit = b.Commit[:12]
	}
	return b
}

// String is the one line `aduan version` prints.
func (b build) String() string {
	s := fmt.Sprintf("aduan %s (commit %s", b.Version, b.Commit)
	if b.Modified {
		s += ", modified"
	}
	if b.Time != "" {
		s += ", " + b.Time
	}
	return s + ") " + b.Go + " " + runtime.GOOS + "/" + runtime.GOARCH
}

func versionCommand(e env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print the version and commit of this build",
		Example: "  aduan version     # aduan v1.2.0 (commit 3f2a9c1d0e4b, 2026-12-01T08:00:00Z) go1.26.8 linux/amd64",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			fmt.Fprintln(e.stdout, buildInfo())
			return nil
		},
	}
}
