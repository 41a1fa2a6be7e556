// Package sqlite implements bot.Store on SQLite (modernc.org/sqlite, pure
// Go) for the embedded demo: one process, no server. It behaves as
// store/postgres does and passes the same contract suite.
//
// Writes are serialised: every transaction starts with BEGIN IMMEDIATE and
// waits up to BusyTimeout for another writer to finish. A file database runs
// in WAL mode, so reads go on while a transaction is open; an in-memory
// database has one connection, so while a Tx is open every other call waits
// for it (do not call the Store from the goroutine that holds a Tx).
//
// Times are stored as microseconds since the Unix epoch and returned in UTC.
//
// Personal data is sealed (internal/seal) as store/postgres seals it: the
// reporter's address, the answers that are free text, event details,
// each outbox message's recipient and body, and each attachment's file and
// sender, with lookup hashes of addresses. A store without a keyring (WithKeyring) refuses to write or
// read any of these.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"aduan/bot"
	"aduan/internal/seal"
)

//go:embed migrations/*.sql
var migrations embed.FS

// BusyTimeout is how long a write waits for another writer.
const BusyTimeout = 10 * time.Second

// Memory is the path that opens a private in-memory database.
const Memory = ":memory:"

// Store is the SQLite bot.Store. It is safe for concurrent use.
type Store struct {
	db   *sql.DB
	keys *seal.Keyring
}

var _ bot.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithKeyring makes the store seal personal data under k. Without it, the
// store refuses every operation that writes or reads personal data: it
// never stores such data in clear.
func WithKeyring(k *seal.Keyring) Option { return func(s *Store) { s.keys = k } }

// Open opens (creating if need be) the database at path, or a private
// in-memory one for ":memory:", and applies its migrations. Returns Invalid
// for a path SQLite cannot take and Unavailable if the file cannot be
// opened or migrated.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	const op = "sqlite.Open"
	if path == "" || strings.ContainsAny(path, "?#") {
		return nil, bot.E(op, bot.Invalid, fmt.Errorf("database path %q: empty or holds '?' or '#'", path))
	}
	params := fmt.Sprintf("?_pragma=foreign_keys(1)&_pragma=busy_timeout(%d)&_txlock=immediate", BusyTimeout.Milliseconds())
	memory := path == Memory
	if !memory {
		params += "&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", path+params)
	if err != nil {
		return nil, bot.E(op, bot.Invalid, err)
	}
	if memory {
		// Each connection to ":memory:" is a database of its own: keep
		// exactly one, for good.
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
	} else {
		db.SetMaxOpenConns(4)
	}
	s := &Store{db: db}
	for _, o := range opts {
		o(s)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, bot.E(op, bot.Unavailable, fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.db, fsys,
		goose.WithTableName("aduan_schema_version"),
		goose.WithLogger(goose.NopLogger()),
		goose.WithDisableGlobalRegistry(true),
	)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	// p.Close would close s.db: the provider is simply dropped.
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes the database. For an in-memory database, its data is gone.
func (s *Store) Close() error { return s.db.Close() }

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Ping reports whether the database can be used.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return wrap("sqlite.Ping", err)
	}
	return nil
}

func wrap(op string, err error) error { return bot.E(op, kindOf(err), err) }

func kindOf(err error) bot.ErrorKind {
	if errors.Is(err, seal.ErrNoKeyring) {
		return bot.Invalid
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return bot.Conflict
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return bot.NotFound
		}
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return bot.Temporary
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return bot.Unavailable
		}
		return bot.Other
	}
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return bot.Temporary
	case errors.Is(err, sql.ErrConnDone), strings.Contains(err.Error(), "sql: database is closed"):
		return bot.Unavailable
	}
	return bot.Other
}

// micros is how times are stored.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// clean makes text storable as PostgreSQL would take it, so that both
// stores behave alike: NUL bytes are dropped and invalid UTF-8 becomes
// U+FFFD.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// errNoKeyring refuses every operation on personal data by a store that
// has no keyring (WithKeyring).
var errNoKeyring = bot.E("sqlite", bot.Invalid, seal.ErrNoKeyring)

// sealer returns a sealer on the store's keyring, or Invalid if it has
// none.
func (s *Store) sealer(op string) (*seal.Sealer, error) {
	z, err := s.keys.Sealer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	return z, nil
}

func (s *Store) opener() *seal.Opener { return s.keys.Opener() }

// cleanMap returns a with every key and value cleaned; a itself when
// nothing needs it.
func cleanMap(a map[string]string) map[string]string {
	for k, v := range a {
		if clean(k) != k || clean(v) != v {
			c := make(map[string]string, len(a))
			for k, v := range a {
				c[clean(k)] = clean(v)
			}
			return c
		}
	}
	return a
}
