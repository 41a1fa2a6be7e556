package sqlstore

import "time"

// A rowset is the rows of a batch (its tickets, its outbox messages, a
// list of hashes) that a statement reads as the table {rows}, named u, with
// the columns given and ord, each row's place (1 for the first). It only
// describes them: each engine sends them its way, PostgreSQL as one array
// per column, SQLite as one JSON array of rows. A column's values are read
// when the statement is sent, one at a time, so they may share a buffer
// (the sealer's).
type rowset struct {
	n    int
	cols []rowCol
}

type rowCol struct {
	name string
	kind kind
	at   any // func(i int) T, T as kind says
}

type kind uint8

const (
	kText       kind = iota // string
	kJSON                   // string holding JSON (jsonb)
	kBytes                  // []byte; nil is NULL
	kBool                   // bool
	kInt                    // int64
	kTime                   // time.Time
	kTimeOrNull             // time.Time; the zero time is NULL
	kList                   // []string (text[])
)

func rowsOf(n int) *rowset { return &rowset{n: n} }

func (r *rowset) add(name string, k kind, at any) *rowset {
	r.cols = append(r.cols, rowCol{name, k, at})
	return r
}

func (r *rowset) text(name string, at func(i int) string) *rowset { return r.add(name, kText, at) }
func (r *rowset) json(name string, at func(i int) string) *rowset { return r.add(name, kJSON, at) }
func (r *rowset) bytes(name string, at func(i int) []byte) *rowset {
	return r.add(name, kBytes, at)
}
func (r *rowset) flag(name string, at func(i int) bool) *rowset { return r.add(name, kBool, at) }
func (r *rowset) num(name string, at func(i int) int64) *rowset { return r.add(name, kInt, at) }
func (r *rowset) time(name string, at func(i int) time.Time) *rowset {
	return r.add(name, kTime, at)
}
func (r *rowset) timeOrNull(name string, at func(i int) time.Time) *rowset {
	return r.add(name, kTimeOrNull, at)
}
func (r *rowset) list(name string, at func(i int) []string) *rowset { return r.add(name, kList, at) }

// names is a list of names as a rowset of one column, name.
func names(l []string) *rowset {
	return rowsOf(len(l)).text("name", func(i int) string { return l[i] })
}

// lastRowset splits args into the statement's arguments and its rowset,
// if the last is one.
func lastRowset(args []any) ([]any, *rowset) {
	if n := len(args); n > 0 {
		if r, ok := args[n-1].(*rowset); ok {
			return args[:n-1], r
		}
	}
	return args, nil
}
