package sqlstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"aduan/internal/seal"
)

// WithKeyring returns a store on the same database sealing under k, as a
// process restarted with a new configuration would be. Closing it closes
// the database of both.
func (s *Store) WithKeyring(k *seal.Keyring) *Store {
	c := *s
	c.keys = k
	return &c
}

// OpenSQLiteBare opens a SQLite database without migrating it.
func OpenSQLiteBare(path string, opts ...Option) (*Store, error) { return openSQLite(path, opts) }

// MigrateTo applies the migrations up to version.
func (s *Store) MigrateTo(ctx context.Context, version int64) error {
	p, done, err := s.d.migrations()
	if err != nil {
		return err
	}
	defer done()
	_, err = p.UpTo(ctx, version)
	return err
}

// Exec runs a statement as the store runs its own ($1, times as
// time.Time), and returns how many rows it changed.
func (s *Store) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return s.d.exec(ctx, sql, args...)
}

// Query runs a query as the store runs its own, and returns its rows, each
// value as the driver gives it.
func (s *Store) Query(ctx context.Context, sql string, args ...any) ([][]any, error) {
	r, err := s.d.query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out [][]any
	for r.Next() {
		var vals []any
		switch r := r.(type) {
		case pgx.Rows:
			vals, err = r.Values()
		case liteRows:
			cols, _ := r.Columns()
			vals = make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			err = r.Rows.Scan(ptrs...)
		default:
			err = fmt.Errorf("rows of %T", r)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vals)
	}
	return out, r.Err()
}
