package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"aduan/internal/testenv"
)

// column is one column of a table as the schema test compares it.
type column struct {
	Table, Name, Type string
	NotNull           bool
}

func TestSchemaSame(t *testing.T) {
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, testenv.PostgresURL(t, "store_sqlstore_schema"))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `DROP SCHEMA public CASCADE; CREATE SCHEMA public`); err != nil {
		t.Fatal(err)
	}
	pg := stdlib.OpenDBFromPool(pool)
	defer pg.Close()
	lite, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "a.db")+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	for _, e := range []struct {
		db      *sql.DB
		engine  string
		dialect goose.Dialect
	}{{pg, "postgres", goose.DialectPostgres}, {lite, "sqlite", goose.DialectSQLite3}} {
		p, err := newProvider(e.db, e.engine, e.dialect)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Up(ctx); err != nil {
			t.Fatalf("%s: %v", e.engine, err)
		}
	}
	pgCols := pgColumns(t, ctx, pg)
	liteCols := liteColumns(t, ctx, lite)
	if !reflect.DeepEqual(pgCols, liteCols) {
		t.Errorf("schemas differ:\npostgres %v\nsqlite   %v", pgCols, liteCols)
	}
	if os.Getenv("SHOW") != "" {
		fmt.Println(pgCols)
	}
}

func pgColumns(t *testing.T, ctx context.Context, db *sql.DB) []column {
	rows, err := db.QueryContext(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	AND c.relname <> $1 ORDER BY 1, 2`, VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	var out []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.Table, &c.Name, &c.Type, &c.NotNull); err != nil {
			t.Fatal(err)
		}
		c.Type = strings.ReplaceAll(c.Type, "timestamp with time zone", "timestamptz")
		out = append(out, c)
	}
	return out
}

func liteColumns(t *testing.T, ctx context.Context, db *sql.DB) []column {
	rows, err := db.QueryContext(ctx, `SELECT m.name, c.name, lower(c.type), c."notnull" OR c.pk > 0, c.pk
FROM sqlite_schema m JOIN pragma_table_info(m.name) c
WHERE m.type = 'table' AND m.name NOT IN ('sqlite_sequence', ?1)`, VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	var out []column
	for rows.Next() {
		var c column
		var pk int
		if err := rows.Scan(&c.Table, &c.Name, &c.Type, &c.NotNull, &pk); err != nil {
			t.Fatal(err)
		}
		if c.Type == "integer" && pk > 0 {
			c.Type = "bigint" // the rowid, bigserial in PostgreSQL
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b column) int { return strings.Compare(a.Table+"."+a.Name, b.Table+"."+b.Name) })
	return out
}
