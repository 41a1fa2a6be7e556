package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/tracelog"
	goredis "github.com/redis/go-redis/v9"

	"aduan/internal/config"
)

// newLogger returns the logger the configuration asks for: text on a
// terminal, JSON otherwise, unless log.format says which. Durations are
// written one way in both: as Go duration strings ("1.5s", "250ms").
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel(), ReplaceAttr: durationsAsText}
	if logFormat(c.Format, w) == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// logFormat resolves log.format: "auto" (or "") is text on a terminal and
// JSON otherwise.
func logFormat(format string, w io.Writer) string {
	switch format {
	case "text", "json":
		return format
	}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return "text"
		}
	}
	return "json"
}

// durationsAsText writes a time.Duration as its string ("1.5s") rather than
// as a number of nanoseconds, which is what the JSON handler would write.
func durationsAsText(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.StringValue(a.Value.Duration().String())
	}
	return a
}

// startupLogger is the logger serve has before its configuration is read:
// log.level and log.format from the environment (ADUAN_LOG_LEVEL,
// ADUAN_LOG_FORMAT) when they are valid, else info and auto. It reports a
// configuration that cannot be read in the form the journal expects.
func startupLogger(e env) *slog.Logger {
	c := config.Log{Level: strings.ToLower(strings.TrimSpace(e.getenv("ADUAN_LOG_LEVEL"))),
		Format: strings.ToLower(strings.TrimSpace(e.getenv("ADUAN_LOG_FORMAT")))}
	return newLogger(c, e.stderr)
}

// loggedError is an error already written to the log: main exits with its
// status without printing it again.
type loggedError struct{ err error }

func (e loggedError) Error() string { return e.err.Error() }
func (e loggedError) Unwrap() error { return e.err }

// logFatal writes err to log as the last line of a command that stops, and
// returns it marked as logged.
func logFatal(log *slog.Logger, err error) error {
	if err == nil || errors.As(err, new(loggedError)) {
		return err
	}
	kind := "error"
	if errors.As(err, new(usageError)) {
		kind = "configuration"
	}
	log.Error("cannot run", "kind", kind, "err", err)
	return loggedError{err}
}

// routeLibraryLogs sends what the libraries serve uses write on their own
// through log: the standard library's log package (at info) and go-redis's
// logger (at debug), tagged component=redis. Without it they write plain
// text to stderr. go-redis only reports failures the caller also gets and
// logs, with what it was doing, at warn or error: its own line, one per
// dial that failed, is for debugging.
func routeLibraryLogs(log *slog.Logger) {
	slog.SetDefault(log)
	goredis.SetLogger(redisLogger{log.With("component", "redis")})
}

// redisLogger is go-redis's internal logger on slog.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if l.log.Enabled(ctx, slog.LevelDebug) {
		l.log.DebugContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)))
	}
}

// pgxTracer returns pgx's tracelog tracer writing through log at debug,
// tagged component=postgres: connections made and failed, queries and
// their errors; a failure also reaches the caller, which logs it with what
// it was doing. It never logs a query's arguments, which may hold sealed
// personal data or lookup hashes. Below debug it returns nil: no tracer,
// and nothing added to each query's path.
func pgxTracer(log *slog.Logger) pgx.QueryTracer {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return nil
	}
	log = log.With("component", "postgres")
	return &tracelog.TraceLog{
		LogLevel: tracelog.LogLevelInfo,
		Config:   &tracelog.TraceLogConfig{TimeKey: "took"},
		Logger: tracelog.LoggerFunc(func(ctx context.Context, lv tracelog.LogLevel, msg string, data map[string]any) {
			attrs := make([]slog.Attr, 0, len(data))
			for k, v := range data {
				if k == "args" {
					continue
				}
				attrs = append(attrs, slog.Any(k, v))
			}
			log.LogAttrs(ctx, slog.LevelDebug, "postgres: "+strings.ToLower(msg), attrs...)
		}),
	}
}
