// Package postgres implements bot.Store on PostgreSQL with pgx.
//
// Every operation on a slice is one round trip: Claim is one INSERT over
// unnest'ed arrays, Apply one pipelined batch, DueOutbound one UPDATE over a
// FOR UPDATE SKIP LOCKED subquery, Settle one UPDATE over unnest'ed arrays,
// DueTickets one SELECT ... FOR UPDATE SKIP LOCKED. Several replicas may
// share one database: dedupe, outbox leases, clock runs, the daily digest
// and migrations are safe against each other.
//
// Times are stored as timestamptz and returned in UTC, at PostgreSQL's
// microsecond precision: nanoseconds are truncated.
//
// Text that PostgreSQL cannot hold (NUL bytes, invalid UTF-8) is cleaned on
// the way in rather than failing the batch it came with.
//
// Personal data is sealed (internal/seal) before it leaves the process:
// the reporter's address, the answers that are free text, event details,
// each outbox message's recipient and body, and each attachment's file and
// sender. Addresses are also stored as lookup hashes, for
// TicketsByReporter, SentTo and linking attachments to tickets. A store without a
// keyring (WithKeyring) refuses to write or read any of these.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"aduan/bot"
	"aduan/internal/seal"
)

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns.
const DefaultMaxConns = 16

// Store is the PostgreSQL bot.Store. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	keys   *seal.Keyring
	tracer pgx.QueryTracer
}

var _ bot.Store = (*Store)(nil)

// Option configures a Store.
type Option func(*Store)

// WithKeyring makes the store seal personal data under k. Without it, the
// store refuses every operation that writes or reads personal data: it
// never stores such data in clear.
func WithKeyring(k *seal.Keyring) Option { return func(s *Store) { s.keys = k } }

// WithTracer makes Open's connections report to t (pgx's tracelog, say):
// connections made and failed, queries. It has no effect on New, whose
// pool is already configured.
func WithTracer(t pgx.QueryTracer) Option { return func(s *Store) { s.tracer = t } }

// Open connects a pool to the database at url (a postgres:// URL or a
// keyword/value DSN; pool_max_conns in it sets the pool size, default
// DefaultMaxConns) and checks that the server answers. It does not migrate:
// call Migrate.
//
// Returns Invalid if the URL cannot be parsed and Unavailable, naming the
// host but never the password, if the server cannot be reached.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	const op = "postgres.Open"
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis for strings it
		// cannot parse, so the URL and the parser's message are left out.
		return nil, bot.E(op, bot.Invalid, errors.New("cannot parse the database URL"))
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if t := New(nil, opts...).tracer; t != nil {
		cfg.ConnConfig.Tracer = t
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, bot.E(op, bot.Invalid, fmt.Errorf("configure pool for %s: %w", hostOf(cfg), err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, bot.E(op, bot.Unavailable, fmt.Errorf("PostgreSQL at %s is not reachable: %w", hostOf(cfg), err))
	}
	return New(pool, opts...), nil
}

// hostOf names the server a config points at, without credentials.
func hostOf(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	if strings.HasPrefix(c.Host, "/") {
		return fmt.Sprintf("%s port %d (database %s)", c.Host, c.Port, c.Database)
	}
	return fmt.Sprintf("%s (database %s)", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.Database)
}

// New wraps an existing pool, for callers that share one pool between the
// store and other users (whatsmeow's session store, say). The pool stays the
// caller's to close.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{pool: pool}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close closes the pool. Calls in flight finish first.
func (s *Store) Close() { s.pool.Close() }

// Pool returns the underlying pool, to share it with other users of the
// same database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping reports whether the server answers. Returns Unavailable if it does
// not.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return wrap("postgres.Ping", err)
	}
	return nil
}

// wrap gives err the kind that the edges act on.
func wrap(op string, err error) error {
	return bot.E(op, kindOf(err), err)
}

// kindOf classifies an error from pgx.
func kindOf(err error) bot.ErrorKind {
	if errors.Is(err, seal.ErrNoKeyring) {
		return bot.Invalid
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "23505": // unique_violation
			return bot.Conflict
		case "23503": // foreign_key_violation
			return bot.NotFound
		case "40001", "40P01", "55P03", "57014": // serialization, deadlock, lock not available, query canceled
			return bot.Temporary
		case "53300", "57P01", "57P02", "57P03": // too many connections, shutdown, cannot connect now
			return bot.Unavailable
		}
		if strings.HasPrefix(pgErr.Code, "08") { // connection exception
			return bot.Unavailable
		}
		return bot.Other
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return bot.Temporary
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return bot.Unavailable
	case pgconn.Timeout(err):
		return bot.Temporary
	}
	return bot.Other
}

// utc returns t in UTC; pgx scans timestamptz in the local zone.
func utc(t time.Time) time.Time { return t.UTC() }

// isNoRows reports whether err says a query found nothing.
func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
