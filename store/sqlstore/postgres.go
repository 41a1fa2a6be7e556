package sqlstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"aduan/bot"
)

// This file is PostgreSQL's dialect: pgx natively, without database/sql.
// A batch is one pipelined round trip (pgx.Batch), a table of rows goes as
// one array literal per column, unnest'ed by the server, and rows are
// locked (FOR UPDATE) or leased (SKIP LOCKED) so that replicas take turns.

// DefaultMaxConns is the pool size when the URL sets no pool_max_conns.
const DefaultMaxConns = 16

// migrationLockID is the session advisory lock taken while migrating
// (crc32 of "aduan"), distinct from goose's default so that another goose
// user of the same database does not wait on aduan.
const migrationLockID int64 = 1390572982

// OpenPostgres connects a pool to the database at url (a postgres:// URL or
// a keyword/value DSN; pool_max_conns in it sets the pool size, default
// DefaultMaxConns) and checks that the server answers. It does not
// migrate: call Migrate.
//
// Returns Invalid if the URL cannot be parsed and Unavailable, naming the
// host but never the password, if the server cannot be reached.
func OpenPostgres(ctx context.Context, url string, opts ...Option) (*Store, error) {
	const op = "sqlstore.OpenPostgres"
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts passwords only on a best-effort basis for strings it
		// cannot parse, so the URL and the parser's message are left out.
		return nil, bot.E(op, bot.Invalid, errors.New("cannot parse the database URL"))
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	if t := newStore(nil, opts).tracer; t != nil {
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
	return NewPostgres(pool, opts...), nil
}

// hostOf names the server a config points at, without credentials.
func hostOf(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	if strings.HasPrefix(c.Host, "/") {
		return fmt.Sprintf("%s port %d (database %s)", c.Host, c.Port, c.Database)
	}
	return fmt.Sprintf("%s (database %s)", net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.Database)
}

// NewPostgres makes a store on an existing pool, for callers that share one
// pool between the store and other users (whatsmeow's session store, say).
// Close closes the pool.
func NewPostgres(pool *pgxpool.Pool, opts ...Option) *Store {
	return newStore(&postgres{pgConn: pgConn{q: pool}, pool: pool}, opts)
}

// Pool returns a PostgreSQL store's pool, to share it with other users of
// the same database; nil for SQLite.
func (s *Store) Pool() *pgxpool.Pool {
	if p, ok := s.d.(*postgres); ok {
		return p.pool
	}
	return nil
}

type postgres struct {
	pgConn
	pool *pgxpool.Pool
}

var pgText = sqlText{
	forUpdate:  "FOR UPDATE",
	skipLocked: "FOR UPDATE SKIP LOCKED",
	answers:    "jsonb_each(answers) AS a(key, value)",
	objectAgg:  "jsonb_object_agg",
}

func (p *postgres) sql() *sqlText                  { return &pgText }
func (p *postgres) ping(ctx context.Context) error { return p.pool.Ping(ctx) }
func (p *postgres) close() error                   { p.pool.Close(); return nil }

func (p *postgres) begin(ctx context.Context, snapshot bool) (txConn, error) {
	var opts pgx.TxOptions
	if snapshot {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	tx, err := p.pool.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return pgConn{q: tx, tx: tx}, nil
}

// dueSQL leases due messages: rows another sender holds locked are skipped,
// not waited for, so concurrent senders never get the same row.
const dueSQL = `
WITH due AS (
	SELECT id, next_attempt_at FROM outbox
	WHERE state = 'pending' AND next_attempt_at <= $1
	ORDER BY next_attempt_at, id
	LIMIT $3
	FOR UPDATE SKIP LOCKED
), leased AS (
	UPDATE outbox o SET next_attempt_at = $2
	FROM due WHERE o.id = due.id
	RETURNING o.id, o.channel, o.recipient, o.body, o.purpose, o.ticket_code, o.attempts, o.created_at,
		o.attachment_id, due.next_attempt_at AS was_due
)
SELECT ` + outboundColumns + ` FROM leased ORDER BY was_due, id`

// lease is one statement.
func (p *postgres) lease(ctx context.Context, now, until time.Time, limit int, dest []any, read func() (int64, error)) error {
	return scanEach(ctx, p, dueSQL, []any{now, until, limit}, func() error { _, err := read(); return err }, dest...)
}

func (p *postgres) migrations() (*goose.Provider, func(), error) {
	// Retry the lock every second for up to five minutes: a replica that
	// starts while another migrates waits for it.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, nil, fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(p.pool)
	prov, err := newProvider(db, "postgres", goose.DialectPostgres, goose.WithSessionLocker(locker))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrations: %w", err)
	}
	// Closing the provider closes only its database/sql handle.
	return prov, func() { prov.Close() }, nil
}

// kindOf classifies an error from pgx.
func (p *postgres) kindOf(err error) bot.ErrorKind {
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

// ScanTimestamptz reads a timestamptz (pgtype.TimestamptzScanner); pgx
// gives it in the local zone.
func (t *scanTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	*t = scanTime{}
	if v.Valid {
		*t = scanTime(v.Time.UTC())
	}
	return nil
}

// pgConn runs statements on the pool or in a transaction.
type pgConn struct {
	q interface {
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
	}
	tx pgx.Tx
}

func (c pgConn) query(ctx context.Context, sql string, args ...any) (rows, error) {
	a := getArrays()
	defer a.release() // pgx has sent the arguments when Query returns
	sql, args = a.expand(sql, args)
	r, err := c.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (c pgConn) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	a := getArrays()
	defer a.release()
	sql, args = a.expand(sql, args)
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), err
}

// send sends the batch in one round trip; outside a transaction, the
// server runs it as one.
func (c pgConn) send(ctx context.Context, b *batch) error {
	if len(*b) == 0 {
		return nil
	}
	a := getArrays()
	defer a.release()
	var pb pgx.Batch
	for i := range *b {
		st := &(*b)[i]
		sql, args := a.expand(st.sql, st.args)
		pb.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
			if st.read != nil {
				r, _ := br.Query() // its error comes from r.Err
				err := st.read(r)
				r.Close()
				if err == nil {
					err = r.Err()
				}
				return annotate(st.what, err)
			}
			tag, err := br.Exec()
			if err == nil && st.count != nil {
				err = st.count(tag.RowsAffected())
			}
			return annotate(st.what, err)
		}
	}
	return c.q.SendBatch(ctx, &pb).Close()
}

func (c pgConn) commit(ctx context.Context) error { return c.tx.Commit(ctx) }

func (c pgConn) rollback(ctx context.Context) error {
	if err := c.tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		return err
	}
	return nil
}

// expandedSQL caches each statement with {rows} written out.
var expandedSQL sync.Map

// expand writes a statement's {rows} out as a table of arrays, one
// parameter per column, and adds the arrays to its arguments.
func (a *arrays) expand(sql string, args []any) (string, []any) {
	args, r := lastRowset(args)
	if r == nil {
		return sql, args
	}
	first := len(args) + 1
	args = append(make([]any, 0, len(args)+len(r.cols)), args...) // the caller's stay as they are
	for _, c := range r.cols {
		args = append(args, a.column(r.n, c))
	}
	if x, ok := expandedSQL.Load(sql); ok {
		return x.(string), args
	}
	var sel, unnest, names strings.Builder
	for i, c := range r.cols {
		sep := ", "
		if i == 0 {
			sep = ""
		}
		sel.WriteString(sep + c.name)
		if c.kind == kList {
			sel.WriteString("::text[] AS " + c.name)
		}
		unnest.WriteString(sep + "$" + strconv.Itoa(first+i) + "::text::" + pgElem[c.kind] + "[]")
		names.WriteString(sep + c.name)
	}
	x := strings.ReplaceAll(sql, "{rows}", "(SELECT "+sel.String()+", ord FROM unnest("+unnest.String()+
		") WITH ORDINALITY AS x("+names.String()+", ord)) AS u")
	expandedSQL.Store(sql, x)
	return x, args
}

// pgElem is the array element type of each kind of column; a list travels
// as the text of its own literal.
var pgElem = [...]string{kText: "text", kJSON: "jsonb", kBytes: "bytea", kBool: "bool", kInt: "int8",
	kTime: "timestamptz", kTimeOrNull: "timestamptz", kList: "text"}

// arrays writes PostgreSQL array literals ({"a","b"}) for the columns of a
// table of rows. Each literal goes to the server as one text parameter,
// cast there ($1::text::text[]): this costs no allocation per element,
// where pgx's binary array encoding boxes every element into an interface.
// The literals share one buffer, taken from a pool and returned once the
// statement has been sent.
//
// Text is made storable on the way: NUL bytes, which PostgreSQL text cannot
// hold, are dropped and invalid UTF-8 becomes U+FFFD, so that one odd
// message cannot fail the whole batch it arrived with.
type arrays struct {
	buf []byte
}

var arraysPool = sync.Pool{New: func() any { return &arrays{buf: make([]byte, 0, 16<<10)} }}

func getArrays() *arrays { return arraysPool.Get().(*arrays) }

// release returns a to the pool. The literals it made must no longer be
// used: call it after the statement that used them was sent.
func (a *arrays) release() {
	if cap(a.buf) > 1<<20 {
		return // let an unusually large buffer go
	}
	a.buf = a.buf[:0]
	arraysPool.Put(a)
}

// timeFormat is ISO 8601 in UTC at PostgreSQL's precision; it needs no
// quoting in an array literal and does not depend on the session's
// DateStyle or TimeZone. Formatting truncates, as pgx does.
const timeFormat = "2006-01-02T15:04:05.999999Z07:00"

// column writes the literal of column c of n rows. Its capacity is
// clipped so that later writes never touch it.
func (a *arrays) column(n int, c rowCol) []byte {
	start := len(a.buf)
	a.buf = append(a.buf, '{')
	for i := range n {
		if i > 0 {
			a.buf = append(a.buf, ',')
		}
		switch at := c.at.(type) {
		case func(int) string:
			a.text(at(i))
		case func(int) []string: // a text[] literal, as one element
			l := getArrays()
			a.text(string(l.column(len(at(i)), rowCol{at: func(j int) string { return at(i)[j] }})))
			l.release()
		case func(int) []byte:
			a.bytea(at(i))
		case func(int) bool:
			v := byte('f')
			if at(i) {
				v = 't'
			}
			a.buf = append(a.buf, v)
		case func(int) int64:
			a.buf = strconv.AppendInt(a.buf, at(i), 10)
		case func(int) time.Time:
			if t := at(i); c.kind != kTimeOrNull || !t.IsZero() {
				a.buf = t.UTC().AppendFormat(a.buf, timeFormat)
			} else {
				a.buf = append(a.buf, "NULL"...)
			}
		}
	}
	a.buf = append(a.buf, '}')
	return a.buf[start:len(a.buf):len(a.buf)]
}

func (a *arrays) text(s string) {
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		s = clean(s)
	}
	a.buf = append(a.buf, '"')
	if !strings.ContainsAny(s, `"\`) {
		a.buf = append(a.buf, s...)
	} else {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '\\' {
				a.buf = append(a.buf, '\\')
			}
			a.buf = append(a.buf, s[i])
		}
	}
	a.buf = append(a.buf, '"')
}

// bytea writes a bytea element in hex form; nil writes NULL.
func (a *arrays) bytea(b []byte) {
	if b == nil {
		a.buf = append(a.buf, "NULL"...)
		return
	}
	// The element is quoted, so its backslash is doubled: "\\x0a1b".
	a.buf = append(a.buf, `"\\x`...)
	a.buf = hex.AppendEncode(a.buf, b)
	a.buf = append(a.buf, '"')
}
