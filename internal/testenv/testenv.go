// Package testenv gives tests their own PostgreSQL database and Redis DB
// index on the machine's real servers. It never skips: a test that needs a
// server that is not there fails, naming what is missing.
//
// Each test package gets its own database (aduan_test_<name>) and its own
// Redis DB index, so that packages run in parallel without touching each
// other's data. Redis DB indexes in use:
//
//	1 store/redis   2 bot   3 channels/twilio   4 cmd/aduan   5 channels/whatsapp
//	10 cmd/aduan-bench (the tool)   11 cmd/aduan-bench (its tests)   12 cmd/aduan (shutdown test)
//	13 cmd/aduan (WhatsApp wiring)   14 cmd/aduan (SMS gateway wiring)   15 cmd/aduan (SMS gateway process)
//
// A database is dropped and made anew by the first test process that asks
// for it, so two runs of one package's tests at the same time disturb each
// other; CI runs each package once. Two checkouts tested side by side on one
// machine keep apart by giving each its own ADUAN_TEST_DB_PREFIX (databases
// <prefix>_<name> instead of aduan_test_<name>) and its own Redis server
// (ADUAN_TEST_REDIS_ADDR).
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresAdmin is the server URL tests connect to, overridable with
// ADUAN_TEST_POSTGRES_URL (its path names the maintenance database).
func PostgresAdmin() string {
	if u := os.Getenv("ADUAN_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// RedisServer is the Redis server tests use, overridable with
// ADUAN_TEST_REDIS_ADDR.
func RedisServer() string {
	if a := os.Getenv("ADUAN_TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// DBPrefix is the prefix of the test databases' names: aduan_test, or
// ADUAN_TEST_DB_PREFIX (lower-case letters, digits and underscores).
func DBPrefix() string {
	if p := os.Getenv("ADUAN_TEST_DB_PREFIX"); p != "" && nameRE.MatchString(p) {
		return p
	}
	return "aduan_test"
}

var (
	mu      sync.Mutex
	created = map[string]bool{}
	nameRE  = regexp.MustCompile(`^[a-z0-9_]+$`)
)

// PostgresURL returns the URL of the database aduan_test_<name>, creating
// it (empty) the first time it is asked for in this process. Callers
// migrate it and reset its tables themselves.
func PostgresURL(t testing.TB, name string) string {
	t.Helper()
	if !nameRE.MatchString(name) {
		t.Fatalf("testenv: bad database name %q", name)
	}
	db := DBPrefix() + "_" + name
	admin, err := url.Parse(PostgresAdmin())
	if err != nil {
		t.Fatalf("testenv: ADUAN_TEST_POSTGRES_URL: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !created[db] {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin.String())
		if err != nil {
			t.Fatalf("testenv: PostgreSQL is not reachable at %s: %v (start it: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start)", admin.Host, err)
		}
		defer conn.Close(ctx)
		// A fresh database per run: drop what an earlier run left behind.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			t.Fatalf("testenv: drop %s: %v", db, err)
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			t.Fatalf("testenv: create %s: %v", db, err)
		}
		created[db] = true
	}
	u := *admin
	u.Path = "/" + db
	return u.String()
}

// RedisURL returns the URL of Redis DB index db on the test server. The
// caller flushes it between tests (FLUSHDB) and must use its own index
// (see the package comment).
func RedisURL(db int) string {
	return fmt.Sprintf("redis://%s/%s", RedisServer(), strconv.Itoa(db))
}
