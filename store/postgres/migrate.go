package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"aduan/bot"
)

//go:embed migrations/*.sql
var migrations embed.FS

// VersionTable is the table where goose records aduan's applied migrations,
// apart from the tables of other users of the same database (whatsmeow).
const VersionTable = "aduan_schema_version"

// migrationLockID is the session advisory lock taken while migrating
// (crc32 of "aduan"), distinct from goose's default so that another goose
// user of the same database does not wait on aduan.
const migrationLockID int64 = 1390572982

// MigrationState is one migration and whether the database has it.
type MigrationState struct {
	Version   int64
	Source    string // the migration's file name
	Applied   bool
	AppliedAt time.Time // zero when not applied
}

// Migrate applies every pending migration. Replicas starting at once are
// safe: they take turns on a session advisory lock, and the later ones find
// nothing left to do. Returns Unavailable if the server cannot be reached,
// or the failing migration's error.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	const op = "postgres.Migrate"
	p, err := newProvider(pool)
	if err != nil {
		return bot.E(op, bot.Other, err)
	}
	defer p.Close()
	if _, err := p.Up(ctx); err != nil {
		return wrap(op, err)
	}
	return nil
}

// MigrationStatus lists every migration aduan knows, oldest first, and
// whether it was applied. Returns Unavailable if the server cannot be
// reached.
func MigrationStatus(ctx context.Context, pool *pgxpool.Pool) ([]MigrationState, error) {
	const op = "postgres.MigrationStatus"
	p, err := newProvider(pool)
	if err != nil {
		return nil, bot.E(op, bot.Other, err)
	}
	defer p.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return nil, wrap(op, err)
	}
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
	return out, nil
}

// newProvider builds a goose provider over the pool. Closing the provider
// closes only its database/sql handle, not the pool.
func newProvider(pool *pgxpool.Pool) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	// Retry the lock every second for up to five minutes: a replica that
	// starts while another migrates waits for it.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithTableName(VersionTable),
		goose.WithSessionLocker(locker),
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}
