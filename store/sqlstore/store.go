// Package sqlstore implements bot.Store once, over two SQL engines:
// PostgreSQL through pgx (`aduan serve`, several replicas on one database)
// and SQLite through modernc.org/sqlite (pure Go: `aduan demo`, nothing
// installed). Both pass the contract suite store/storetest.
//
// The rules are written once: what a batch writes (tx.go), the reads and
// the outbox (read.go), erasure and the retention purge (privacy.go), key
// rotation (rotate.go) and one set of migrations (migrate.go), in
// PostgreSQL's SQL, $1 and all. A statement reads a batch's rows as the
// table {rows}, named u (rowset.go). What differs between the engines is a
// dialect, one file each: postgres.go keeps pgx natively (a batch is one
// pipelined round trip, {rows} travels as arrays, rows are locked FOR
// UPDATE and leased with SKIP LOCKED, so that replicas sharing a database
// never take the same message, ticket or digest); sqlite.go writes $1 as
// ?1, sends {rows} as one JSON array, and lets writers take turns on the
// database's lock.
//
// Times come back in UTC at microsecond precision. Text PostgreSQL cannot
// hold (NUL bytes, invalid UTF-8) is cleaned on the way in, on both
// engines. Personal data is sealed (internal/seal) before it leaves the
// process: the reporter's address, the free-text answers, event details,
// outbox recipients and bodies, attachments' files and senders; addresses
// are also stored as lookup hashes. A store without a keyring
// (WithKeyring) refuses to write or read any of these.
package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"

	"aduan/bot"
	"aduan/internal/seal"
)

// Store is the bot.Store on PostgreSQL or SQLite. It is safe for
// concurrent use.
type Store struct {
	d      dialect
	keys   *seal.Keyring
	tracer pgx.QueryTracer
}

var (
	_ bot.Store           = (*Store)(nil)
	_ bot.ReportStore     = (*Store)(nil)
	_ bot.ReporterTickets = (*Store)(nil)
	_ bot.LiveLookup      = (*Store)(nil)
	_ bot.TicketsLocker   = (*Tx)(nil)
	_ bot.OptOuts         = (*Store)(nil)
)

// Option configures a Store.
type Option func(*Store)

// WithKeyring makes the store seal personal data under k. Without it, the
// store refuses every operation that writes or reads personal data: it
// never stores such data in clear.
func WithKeyring(k *seal.Keyring) Option { return func(s *Store) { s.keys = k } }

// WithTracer makes OpenPostgres's connections report to t (pgx's
// tracelog, say): connections made and failed, queries. It has no effect
// on NewPostgres, whose pool is already configured, nor on SQLite.
func WithTracer(t pgx.QueryTracer) Option { return func(s *Store) { s.tracer = t } }

func newStore(d dialect, opts []Option) *Store {
	s := &Store{d: d}
	for _, o := range opts {
		o(s)
	}
	return s
}

// dialect is what differs between PostgreSQL (postgres.go) and SQLite
// (sqlite.go): how statements run, and the little SQL that cannot be
// written once.
type dialect interface {
	conn
	// begin starts a transaction; a snapshot one only reads, and sees one
	// state of the database throughout.
	begin(ctx context.Context, snapshot bool) (txConn, error)
	// lease takes up to limit pending outbox messages due at now, longest
	// due first, pushes their next attempt to until, and scans each row
	// (outboundColumns) into dest for read, which returns its ID.
	lease(ctx context.Context, now, until time.Time, limit int, dest []any, read func() (int64, error)) error
	// migrations returns goose's provider over the database, and what
	// releases it.
	migrations() (*goose.Provider, func(), error)
	sql() *sqlText
	kindOf(err error) bot.ErrorKind
	ping(ctx context.Context) error
	close() error
}

// sqlText is the SQL that the engines write differently.
type sqlText struct {
	forUpdate  string // after a SELECT: lock its rows until the transaction ends
	skipLocked string // after a SELECT: lock its rows, skipping those locked already
	// answers is a ticket's clear answers as rows a(key, value); objectAgg
	// aggregates such rows into a JSON object.
	answers, objectAgg string
}

// conn runs statements, on the database or in a transaction. Arguments
// are Go values: time.Time for timestamptz, []byte for bytea. A *rowset,
// last among the arguments, is the table {rows} of the statement.
type conn interface {
	query(ctx context.Context, sql string, args ...any) (rows, error)
	exec(ctx context.Context, sql string, args ...any) (int64, error)
	// send runs the batch's statements in order, in one transaction:
	// the connection's, or one of its own.
	send(ctx context.Context, b *batch) error
}

type txConn interface {
	conn
	commit(ctx context.Context) error
	rollback(ctx context.Context) error // after commit or rollback, nothing
}

// rows is the result of a query (pgx.Rows has these methods).
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// errNoRows is queryRow's error when the query finds nothing.
var errNoRows = errors.New("no rows")

// queryRow runs a query and scans its row into dest. Returns errNoRows if
// there is none.
func queryRow(ctx context.Context, c conn, sql string, args []any, dest ...any) error {
	found := false
	err := scanEach(ctx, c, sql, args, func() error { found = true; return nil }, dest...)
	if err == nil && !found {
		err = errNoRows
	}
	return err
}

// scanEach runs a query, scans each row into dest and calls fn after each.
func scanEach(ctx context.Context, c conn, sql string, args []any, fn func() error, dest ...any) error {
	r, err := c.query(ctx, sql, args...)
	if err != nil {
		return err
	}
	return each(r, fn, dest...)
}

// each scans every row into dest, calls fn after each, and closes r.
func each(r rows, fn func() error, dest ...any) error {
	defer r.Close()
	for r.Next() {
		if err := r.Scan(dest...); err != nil {
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
	return r.Err()
}

// none is a row callback with nothing to do.
func none() error { return nil }

// A batch is statements run in order, each with what to do with its
// result. PostgreSQL sends them in one round trip.
type batch []stmt

type stmt struct {
	what  string // for errors: "insert 2 tickets"
	sql   string
	args  []any
	read  func(r rows) error  // reads the rows of a query
	count func(n int64) error // checks the rows an exec changed; may be nil
}

func (b *batch) exec(what, sql string, count func(n int64) error, args ...any) {
	*b = append(*b, stmt{what: what, sql: sql, args: args, count: count})
}

func (b *batch) query(what, sql string, read func(r rows) error, args ...any) {
	*b = append(*b, stmt{what: what, sql: sql, args: args, read: read})
}

// annotate says which statement of a batch failed.
func annotate(what string, err error) error {
	if err == nil || bot.KindOf(err) != bot.Other {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Ping reports whether the database answers. Returns Unavailable if it
// does not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.d.ping(ctx); err != nil {
		return s.wrap("sqlstore.Ping", err)
	}
	return nil
}

// Close closes the database (for PostgreSQL, the pool). Calls in flight
// finish first. An in-memory SQLite database is gone after it.
func (s *Store) Close() error { return s.d.close() }

// Migrate applies every pending migration. PostgreSQL replicas starting
// at once are safe: they take turns on a session advisory lock, and the
// later ones find nothing left to do. Returns Unavailable if the server
// cannot be reached, or the failing migration's error.
func (s *Store) Migrate(ctx context.Context) error {
	return s.migrations("sqlstore.Migrate", func(p *goose.Provider) error { _, err := p.Up(ctx); return err })
}

// MigrationStatus lists every migration aduan knows, oldest first, and
// whether it was applied. Returns Unavailable if the server cannot be
// reached.
func (s *Store) MigrationStatus(ctx context.Context) (st []MigrationState, err error) {
	return st, s.migrations("sqlstore.MigrationStatus", func(p *goose.Provider) error {
		gs, err := p.Status(ctx)
		st = states(gs)
		return err
	})
}

func (s *Store) migrations(op string, fn func(p *goose.Provider) error) error {
	p, done, err := s.d.migrations()
	if err != nil {
		return bot.E(op, bot.Other, err)
	}
	defer done()
	if err := fn(p); err != nil {
		return s.wrap(op, err)
	}
	return nil
}

// wrap gives err the kind that the edges act on.
func (s *Store) wrap(op string, err error) error {
	if bot.KindOf(err) != bot.Other {
		return err
	}
	if errors.Is(err, seal.ErrNoKeyring) {
		return bot.E(op, bot.Invalid, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return bot.E(op, bot.Temporary, err)
	}
	return bot.E(op, s.d.kindOf(err), err)
}

// inTx runs fn in a transaction and commits it, or rolls it back if fn
// fails or keep is false (a dry run).
func (s *Store) inTx(ctx context.Context, snapshot bool, fn func(c txConn) (keep bool, err error)) error {
	tx, err := s.d.begin(ctx, snapshot)
	if err != nil {
		return err
	}
	defer tx.rollback(context.WithoutCancel(ctx))
	keep, err := fn(tx)
	if err != nil || !keep {
		return err
	}
	return tx.commit(ctx)
}

// errNoKeyring refuses every operation on personal data by a store that
// has no keyring (WithKeyring).
var errNoKeyring = bot.E("sqlstore", bot.Invalid, seal.ErrNoKeyring)

// sealer returns a sealer on the store's keyring, or Invalid if it has
// none.
func (s *Store) sealer(op string) (*seal.Sealer, error) {
	z, err := s.keys.Sealer()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	return z, nil
}

// hash returns addr's lookup hash, or Invalid if the store has no keyring.
func (s *Store) hash(op, addr string) ([]byte, error) {
	if s.keys == nil {
		return nil, fmt.Errorf("%s: %w", op, errNoKeyring)
	}
	return s.keys.Hash(clean(addr)), nil
}

func (s *Store) opener() *seal.Opener { return s.keys.Opener() }

// clean makes text storable as PostgreSQL text: NUL bytes are dropped and
// invalid UTF-8 becomes U+FFFD. Both engines store what PostgreSQL would,
// sealed values included.
func clean(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

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

// clone copies b, keeping nil nil and empty empty: the sealer reuses its
// buffer, and a bytea NULL differs from an empty one.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte{}, b...)
}

// empty is an empty bytea, as erased values are stored.
var empty = []byte{}

// scanTime reads a time column into a time.Time in UTC; NULL reads as the
// zero time. Scan into tm(&t): postgres.go and sqlite.go give it each
// engine's way of reading.
type scanTime time.Time

func tm(t *time.Time) *scanTime { return (*scanTime)(t) }

// sealData seals an attachment's file for its ID (seal.AttachmentID). An
// empty file is sealed too: every stored file opens to what was written.
// k must not be nil.
func sealData(k *seal.Keyring, id string, data []byte) []byte {
	return k.Seal(data, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
}

// openData opens an attachment's stored file. Returns seal.ErrNoKeyring
// if k is nil.
func openData(k *seal.Keyring, stored []byte, id string) ([]byte, error) {
	if k == nil {
		return nil, seal.ErrNoKeyring
	}
	b, err := k.Open(stored, seal.AAD(make([]byte, 0, 64), seal.PlaceAttachmentData, id))
	if err != nil {
		return nil, fmt.Errorf("%s of %q: %w", seal.PlaceAttachmentData, id, err)
	}
	return b, nil
}
