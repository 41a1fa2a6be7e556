package sqlstore

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"

	"aduan/bot"
)

// This file is SQLite's dialect (modernc.org/sqlite, through
// database/sql), for the embedded demo: one process, no server. $1 becomes
// ?1; a table of rows goes as one JSON array of rows, read with json_each;
// times are microseconds since the Unix epoch; text[] is a JSON array.
//
// Writes are serialised: every transaction starts with BEGIN IMMEDIATE and
// waits up to BusyTimeout for another writer to finish, so a transaction
// holds the whole database and needs no row locks. A file database runs in
// WAL mode, so reads go on while a transaction is open; an in-memory
// database has one connection, so while a Tx is open every other call
// waits for it (do not call the Store from the goroutine that holds a Tx).

// BusyTimeout is how long a write waits for another writer.
const BusyTimeout = 10 * time.Second

// Memory is the path that opens a private in-memory database.
const Memory = ":memory:"

// OpenSQLite opens (creating if need be) the database at path, or a
// private in-memory one for Memory, and applies its migrations. Returns
// Invalid for a path SQLite cannot take and Unavailable if the file cannot
// be opened or migrated.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	s, err := openSQLite(path, opts)
	if err != nil {
		return nil, err
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, bot.E("sqlstore.OpenSQLite", bot.Unavailable, fmt.Errorf("%s: %w", path, err))
	}
	return s, nil
}

// openSQLite opens the database at path, without migrating it.
func openSQLite(path string, opts []Option) (*Store, error) {
	const op = "sqlstore.OpenSQLite"
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
	return newStore(&sqlite{liteConn: liteConn{q: db, db: db}}, opts), nil
}

type sqlite struct{ liteConn }

var liteText = sqlText{answers: "json_each(answers) AS a", objectAgg: "json_group_object"}

func (l *sqlite) sql() *sqlText                  { return &liteText }
func (l *sqlite) ping(ctx context.Context) error { return l.db.PingContext(ctx) }
func (l *sqlite) close() error                   { return l.db.Close() }

func (l *sqlite) begin(ctx context.Context, _ bool) (txConn, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return liteConn{q: tx, db: l.db, tx: tx}, nil
}

// lease reads the due messages and pushes them back in one transaction:
// no other writer runs meanwhile.
func (l *sqlite) lease(ctx context.Context, now, until time.Time, limit int, dest []any, read func() (int64, error)) error {
	tx, err := l.begin(ctx, false)
	if err != nil {
		return err
	}
	defer tx.rollback(ctx)
	var ids []int64
	err = scanEach(ctx, tx, `SELECT `+outboundColumns+` FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1
ORDER BY next_attempt_at, id LIMIT $2`, []any{now, limit}, func() error {
		id, err := read()
		ids = append(ids, id)
		return err
	}, dest...)
	if err != nil || len(ids) == 0 {
		return err
	}
	if _, err := tx.exec(ctx, `UPDATE outbox SET next_attempt_at = $1 WHERE id IN (SELECT u.id FROM {rows})`, until,
		rowsOf(len(ids)).num("id", func(i int) int64 { return ids[i] })); err != nil {
		return err
	}
	return tx.commit(ctx)
}

func (l *sqlite) migrations() (*goose.Provider, func(), error) {
	p, err := newProvider(l.db, "sqlite", goose.DialectSQLite3)
	// Closing the provider would close the database: it is left to go.
	return p, func() {}, err
}

func (l *sqlite) kindOf(err error) bot.ErrorKind {
	var e *sqlite3.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3lib.SQLITE_CONSTRAINT_UNIQUE:
			return bot.Conflict
		case sqlite3lib.SQLITE_CONSTRAINT_FOREIGNKEY:
			return bot.NotFound
		}
		switch e.Code() & 0xff {
		case sqlite3lib.SQLITE_BUSY, sqlite3lib.SQLITE_LOCKED:
			return bot.Temporary
		case sqlite3lib.SQLITE_CANTOPEN, sqlite3lib.SQLITE_IOERR, sqlite3lib.SQLITE_FULL, sqlite3lib.SQLITE_READONLY:
			return bot.Unavailable
		}
		return bot.Other
	}
	if errors.Is(err, sql.ErrConnDone) || strings.Contains(err.Error(), "sql: database is closed") {
		return bot.Unavailable
	}
	return bot.Other
}

// Scan reads microseconds since the Unix epoch (sql.Scanner).
func (t *scanTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t = scanTime{}
	case int64:
		*t = scanTime(time.UnixMicro(v).UTC())
	default:
		return fmt.Errorf("time stored as %T", src)
	}
	return nil
}

// liteConn runs statements on the database or in a transaction.
type liteConn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	}
	db *sql.DB
	tx *sql.Tx // nil outside a transaction
}

func (c liteConn) query(ctx context.Context, sql string, args ...any) (rows, error) {
	sql, args, err := liteExpand(sql, args)
	if err != nil {
		return nil, err
	}
	r, err := c.q.QueryContext(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return liteRows{r}, nil
}

func (c liteConn) exec(ctx context.Context, sql string, args ...any) (int64, error) {
	sql, args, err := liteExpand(sql, args)
	if err != nil {
		return 0, err
	}
	res, err := c.q.ExecContext(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// send runs the statements one after the other, in a transaction.
func (c liteConn) send(ctx context.Context, b *batch) error {
	if c.tx == nil {
		tx, err := c.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := (liteConn{q: tx, db: c.db, tx: tx}).send(ctx, b); err != nil {
			return err
		}
		return tx.Commit()
	}
	for _, st := range *b {
		var err error
		if st.read != nil {
			var r rows
			if r, err = c.query(ctx, st.sql, st.args...); err == nil {
				err = st.read(r)
				r.Close()
			}
		} else {
			var n int64
			if n, err = c.exec(ctx, st.sql, st.args...); err == nil && st.count != nil {
				err = st.count(n)
			}
		}
		if err != nil {
			return annotate(st.what, err)
		}
	}
	return nil
}

func (c liteConn) commit(context.Context) error { return c.tx.Commit() }

func (c liteConn) rollback(context.Context) error {
	if err := c.tx.Rollback(); err != nil && !errors.Is(err, sql.ErrTxDone) {
		return err
	}
	return nil
}

// liteRows reads text[] columns from their JSON.
type liteRows struct{ *sql.Rows }

func (r liteRows) Close() { r.Rows.Close() }

func (r liteRows) Scan(dest ...any) error {
	for i, d := range dest {
		if l, ok := d.(*[]string); ok {
			dest = append([]any(nil), dest...)
			dest[i] = (*jsonList)(l)
		}
	}
	return r.Rows.Scan(dest...)
}

type jsonList []string

func (l *jsonList) Scan(src any) error {
	*l = nil
	switch v := src.(type) {
	case string:
		return json.Unmarshal([]byte(v), (*[]string)(l))
	case []byte:
		return json.Unmarshal(v, (*[]string)(l))
	}
	return fmt.Errorf("list stored as %T", src)
}

var (
	liteSQL = sync.Map{} // statements as SQLite takes them
	dollar  = regexp.MustCompile(`\$(\d+)`)
)

// liteExpand writes a statement as SQLite takes it: ?1 for $1, its {rows}
// read from one JSON array argument, times in microseconds.
func liteExpand(query string, args []any) (string, []any, error) {
	args, r := lastRowset(args)
	out := make([]any, len(args), len(args)+1)
	for i, a := range args {
		if t, ok := a.(time.Time); ok {
			a = t.UnixMicro()
		}
		out[i] = a
	}
	if r != nil {
		b, err := json.Marshal(liteRowsOf(r))
		if err != nil {
			return "", nil, err
		}
		out = append(out, string(b))
	}
	if x, ok := liteSQL.Load(query); ok {
		return x.(string), out, nil
	}
	x := dollar.ReplaceAllString(query, "?$1")
	if r != nil {
		var sel strings.Builder
		for i, c := range r.cols {
			v := "value ->> " + strconv.Itoa(i)
			if c.kind == kBytes {
				v = "unhex(" + v + ")"
			}
			sel.WriteString(v + " AS " + c.name + ", ")
		}
		x = strings.ReplaceAll(x, "{rows}", "(SELECT "+sel.String()+"key + 1 AS ord FROM json_each(?"+strconv.Itoa(len(out))+")) AS u")
	}
	liteSQL.Store(query, x)
	return x, out, nil
}

// liteRowsOf is r as JSON rows: bytes in hex, times in microseconds.
func liteRowsOf(r *rowset) [][]any {
	out := make([][]any, r.n)
	for i := range out {
		row := make([]any, len(r.cols))
		for k, c := range r.cols {
			switch at := c.at.(type) {
			case func(int) string:
				row[k] = clean(at(i))
			case func(int) []string:
				l := make([]string, len(at(i)))
				for j, v := range at(i) {
					l[j] = clean(v)
				}
				row[k] = l
			case func(int) []byte:
				if b := at(i); b != nil {
					row[k] = hex.EncodeToString(b)
				}
			case func(int) bool:
				row[k] = at(i)
			case func(int) int64:
				row[k] = at(i)
			case func(int) time.Time:
				if t := at(i); c.kind != kTimeOrNull || !t.IsZero() {
					row[k] = t.UnixMicro()
				}
			}
		}
		out[i] = row
	}
	return out
}
