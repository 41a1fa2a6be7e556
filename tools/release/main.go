// Command release builds aduan's Debian packages: the binary cross-compiled
// for each architecture (CGO off, the version stamped in), a .deb for each
// made by nfpm from deploy/nfpm.yaml, and SHA256SUMS over them. Run it from
// the repository's root:
//
//	go run -C tools/release . [--arch amd64,arm64] [--version 1.0.0] [--out dist]
//
// It is a module of its own, so that the packager's dependencies stay out
// of aduan's.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	archs := fs.String("arch", "amd64,arm64", "architectures to build, separated by commas")
	version := fs.String("version", "", "package version such as 1.0.0; default: the tag at HEAD (v1.0.0), else CHANGELOG.md's newest release with +git.COMMIT")
	out := fs.String("out", "dist", "directory for the packages and SHA256SUMS, relative to the repository's root")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := git("", "rev-parse", "--show-toplevel")
	if err != nil {
		return fmt.Errorf("find the repository: %w", err)
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	commit, err := git(root, "rev-parse", "--short=12", "HEAD")
	if err != nil {
		return err
	}
	if *version == "" {
		if *version, err = defaultVersion(root, commit); err != nil {
			return err
		}
	}
	if !regexp.MustCompile(`^[0-9][0-9A-Za-z.+~-]*$`).MatchString(*version) {
		return fmt.Errorf("version %q: want a Debian version starting with a digit, such as 1.0.0", *version)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var made []string
	for _, arch := range strings.Split(*archs, ",") {
		arch = strings.TrimSpace(arch)
		bin := filepath.Join(*out, "aduan_linux_"+arch)
		if err := build(bin, arch, *version, commit); err != nil {
			return err
		}
		pkg, err := packageDeb(bin, arch, *version, *out)
		if err != nil {
			return err
		}
		os.Remove(bin)
		fmt.Println(pkg)
		made = append(made, pkg)
	}
	return writeSums(*out)
}

// build cross-compiles aduan for linux/arch without cgo, with the version
// and commit stamped into `aduan version`.
func build(bin, arch, version, commit string) error {
	ldflags := fmt.Sprintf("-s -w -X main.version=v%s -X main.commit=%s", version, commit)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, "./cmd/aduan")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build aduan for %s: %w", arch, err)
	}
	return nil
}

// packageDeb makes the .deb for arch from deploy/nfpm.yaml and returns its
// path.
func packageDeb(bin, arch, version, out string) (string, error) {
	vars := map[string]string{"ARCH": arch, "VERSION": version, "BINARY": bin}
	cfg, err := nfpm.ParseFileWithEnvMapping("deploy/nfpm.yaml", func(k string) string { return vars[k] })
	if err != nil {
		return "", fmt.Errorf("deploy/nfpm.yaml: %w", err)
	}
	info, err := cfg.Get("deb")
	if err != nil {
		return "", err
	}
	info = nfpm.WithDefaults(info)
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", fmt.Errorf("deploy/nfpm.yaml: %w", err)
	}
	name := filepath.Join(out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(name)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(name)
		return "", fmt.Errorf("package %s: %w", arch, err)
	}
	return name, f.Close()
}

// writeSums writes SHA256SUMS over the .deb files in dir, in the form
// sha256sum -c reads.
func writeSums(dir string) error {
	debs, err := filepath.Glob(filepath.Join(dir, "*.deb"))
	if err != nil {
		return err
	}
	sort.Strings(debs)
	var b bytes.Buffer
	for _, p := range debs {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
	}
	return os.WriteFile(filepath.Join(dir, "SHA256SUMS"), b.Bytes(), 0o644)
}

var releaseHeading = regexp.MustCompile(`(?m)^## \[([0-9][^\]]*)\]`)

// defaultVersion is the version of a tag vX.Y.Z at HEAD, else CHANGELOG.md's
// newest release followed by +git.COMMIT (and .dirty for uncommitted
// changes): a build past a release sorts after it.
func defaultVersion(root, commit string) (string, error) {
	if tag, err := git(root, "describe", "--tags", "--exact-match", "--match", "v[0-9]*"); err == nil {
		return strings.TrimPrefix(tag, "v"), nil
	}
	log, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		return "", err
	}
	m := releaseHeading.FindSubmatch(log)
	if m == nil {
		return "", errors.New("CHANGELOG.md names no release (## [1.0.0] - date); give --version")
	}
	v := string(m[1]) + "+git." + commit
	if st, _ := git(root, "status", "--porcelain", "--untracked-files=no"); st != "" {
		v += ".dirty"
	}
	return v, nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}
