package sqlstore

import (
	"bytes"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
)

// The migrations are one set for both engines. A line after "-- only:
// postgres" (or sqlite) is that engine's alone, and so is a block between
// `-- only: postgres until "end only"` and "-- end only postgres", as in
// go.mau.fi/util/dbutil's upgrade files.
//
//go:embed migrations/*.sql
var migrations embed.FS

// VersionTable is the table where goose records aduan's applied migrations,
// apart from the tables of other users of the same database (whatsmeow).
const VersionTable = "aduan_schema_version"

// MigrationState is one migration and whether the database has it.
type MigrationState struct {
	Version   int64
	Source    string // the migration's file name
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

var (
	onlyMark = regexp.MustCompile(`^-- only: (postgres|sqlite)( until "end only")?\s*$`)
	endMark  = regexp.MustCompile(`^-- end only (postgres|sqlite)\s*$`)
)

// forEngine returns a migration file as engine runs it: the lines marked
// for the other engine, and the marks, are blanked, so that line numbers
// stay those of the file.
func forEngine(src []byte, engine string) ([]byte, error) {
	lines := bytes.Split(src, []byte("\n"))
	var next, block string // the engine of the next line, of the open block
	for i, l := range lines {
		only, end := onlyMark.FindSubmatch(l), endMark.FindSubmatch(l)
		keep := true
		switch {
		case (only != nil || end != nil) && next != "":
			return nil, fmt.Errorf("line %d: a mark where a marked line should be", i+1)
		case only != nil && block != "":
			return nil, fmt.Errorf("line %d: %q inside the block for %s", i+1, l, block)
		case only != nil && len(only[2]) > 0:
			block, keep = string(only[1]), false
		case only != nil:
			next, keep = string(only[1]), false
		case end != nil:
			if string(end[1]) != block {
				return nil, fmt.Errorf("line %d: %q ends no block for %s", i+1, l, end[1])
			}
			block, keep = "", false
		case next != "":
			keep, next = next == engine, ""
		case block != "":
			keep = block == engine
		}
		if !keep {
			lines[i] = nil
		}
	}
	if next != "" || block != "" {
		return nil, fmt.Errorf("a mark for %s%s is not followed by what it marks", next, block)
	}
	return bytes.Join(lines, []byte("\n")), nil
}

// engineFS is the migrations directory as one engine reads it.
type engineFS struct {
	fs.FS
	engine string
}

// Open opens a migration file filtered by forEngine; a directory as it is.
func (e engineFS) Open(name string) (fs.File, error) {
	if path.Ext(name) != ".sql" {
		return e.FS.Open(name)
	}
	src, err := fs.ReadFile(e.FS, name)
	if err != nil {
		return nil, err
	}
	info, err := fs.Stat(e.FS, name)
	if err != nil {
		return nil, err
	}
	b, err := forEngine(src, e.engine)
	if err != nil {
		return nil, fmt.Errorf("migration %s: %w", name, err)
	}
	return sqlFile{bytes.NewReader(b), info}, nil
}

type sqlFile struct {
	*bytes.Reader
	info fs.FileInfo
}

func (f sqlFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (sqlFile) Close() error                 { return nil }

// newProvider builds a goose provider of the migrations for engine
// ("postgres" or "sqlite") over db, with opts besides the common ones.
func newProvider(db *sql.DB, engine string, dialect goose.Dialect, opts ...goose.ProviderOption) (*goose.Provider, error) {
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(dialect, db, engineFS{dir, engine}, append(opts,
		goose.WithTableName(VersionTable),
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
	)...)
}

// states converts goose's status into MigrationStates.
func states(st []*goose.MigrationStatus) []MigrationState {
	out := make([]MigrationState, len(st))
	for i, m := range st {
		out[i] = MigrationState{
			Version: m.Source.Version,
			Source:  path.Base(m.Source.Path),
			Applied: m.State == goose.StateApplied,
		}
		if out[i].Applied {
			out[i].AppliedAt = m.AppliedAt.UTC()
		}
	}
	return out
}
