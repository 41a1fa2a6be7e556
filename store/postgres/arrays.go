package postgres

import (
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// arrays writes PostgreSQL array literals ({"a","b"}) for the statements
// that unnest a whole batch. Each literal goes to the server as one text
// parameter, cast there ($1::text::text[]): this costs no allocation per
// element, where pgx's binary array encoding boxes every element into an
// interface. The literals share one buffer, taken from a pool and returned
// once the statement has been sent.
//
// Text is made storable on the way: NUL bytes, which PostgreSQL text cannot
// hold, are dropped and invalid UTF-8 becomes U+FFFD, so that one odd
// message cannot fail the whole batch it arrived with.
type arrays struct {
	buf   []byte
	start int // where the open literal starts
	n     int // elements in the open literal
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

func (a *arrays) open() {
	a.start, a.n = len(a.buf), 0
	a.buf = append(a.buf, '{')
}

func (a *arrays) sep() {
	if a.n > 0 {
		a.buf = append(a.buf, ',')
	}
	a.n++
}

// close ends the open literal and returns it. The capacity is clipped so
// that later writes never touch it.
func (a *arrays) close() []byte {
	a.buf = append(a.buf, '}')
	return a.buf[a.start:len(a.buf):len(a.buf)]
}

func (a *arrays) text(s string) {
	a.sep()
	if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
		s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	}
	a.buf = append(a.buf, '"')
	if strings.IndexAny(s, `"\`) < 0 {
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

// timeFormat is ISO 8601 in UTC at PostgreSQL's precision; it needs no
// quoting in an array literal and does not depend on the session's
// DateStyle or TimeZone. Formatting truncates, as pgx does.
const timeFormat = "2006-01-02T15:04:05.999999Z07:00"

func (a *arrays) time(t time.Time) {
	a.sep()
	a.buf = t.UTC().AppendFormat(a.buf, timeFormat)
}

// timeOrNull writes NULL for the zero time.
func (a *arrays) timeOrNull(t time.Time) {
	if t.IsZero() {
		a.sep()
		a.buf = append(a.buf, "NULL"...)
		return
	}
	a.time(t)
}

func (a *arrays) bool(b bool) {
	a.sep()
	if b {
		a.buf = append(a.buf, 't')
	} else {
		a.buf = append(a.buf, 'f')
	}
}

func (a *arrays) int(i int64) {
	a.sep()
	a.buf = strconv.AppendInt(a.buf, i, 10)
}

// texts writes a text[] literal of n elements.
func (a *arrays) texts(n int, at func(i int) string) []byte {
	a.open()
	for i := range n {
		a.text(at(i))
	}
	return a.close()
}

// ints writes a bigint[] literal of n elements.
func (a *arrays) ints(n int, at func(i int) int64) []byte {
	a.open()
	for i := range n {
		a.int(at(i))
	}
	return a.close()
}

// timesOrNull writes a timestamptz[] literal of n elements, NULL for the
// zero time.
func (a *arrays) timesOrNull(n int, at func(i int) time.Time) []byte {
	a.open()
	for i := range n {
		a.timeOrNull(at(i))
	}
	return a.close()
}

// bools writes a bool[] literal of n elements.
func (a *arrays) bools(n int, at func(i int) bool) []byte {
	a.open()
	for i := range n {
		a.bool(at(i))
	}
	return a.close()
}

// times writes a timestamptz[] literal of n elements.
func (a *arrays) times(n int, at func(i int) time.Time) []byte {
	a.open()
	for i := range n {
		a.time(at(i))
	}
	return a.close()
}

// bytea writes a bytea element in hex form; nil writes NULL.
func (a *arrays) bytea(b []byte) {
	a.sep()
	if b == nil {
		a.buf = append(a.buf, "NULL"...)
		return
	}
	// The element is quoted, so its backslash is doubled: "\\x0a1b".
	a.buf = append(a.buf, `"\\x`...)
	a.buf = hex.AppendEncode(a.buf, b)
	a.buf = append(a.buf, '"')
}

// byteas writes a bytea[] literal of n elements. The slice at returns is
// copied at once, so it may be reused from one element to the next.
func (a *arrays) byteas(n int, at func(i int) []byte) []byte {
	a.open()
	for i := range n {
		a.bytea(at(i))
	}
	return a.close()
}
