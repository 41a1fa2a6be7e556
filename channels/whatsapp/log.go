package whatsapp

import (
	"context"
	"fmt"
	"log/slog"

	waLog "go.mau.fi/whatsmeow/util/log"

	"aduan/bot"
)

// NewLogger adapts l to whatsmeow's logger, tagged component=whatsmeow and
// module=<whatsmeow's module>. whatsmeow writes JIDs, which carry phone
// numbers, into its messages: every run of 7 or more digits is masked. The
// Send and Recv modules, which dump whole protocol nodes at debug level,
// are dropped.
func NewLogger(l *slog.Logger) waLog.Logger {
	if l == nil {
		return waLog.Noop
	}
	return &waLogger{l: l.With("component", "whatsmeow")}
}

type waLogger struct {
	l      *slog.Logger
	module string
}

func (w *waLogger) Errorf(msg string, args ...any) { w.log(slog.LevelError, msg, args) }
func (w *waLogger) Warnf(msg string, args ...any)  { w.log(slog.LevelWarn, msg, args) }
func (w *waLogger) Infof(msg string, args ...any)  { w.log(slog.LevelInfo, msg, args) }
func (w *waLogger) Debugf(msg string, args ...any) { w.log(slog.LevelDebug, msg, args) }

func (w *waLogger) Sub(module string) waLog.Logger {
	if module == "Send" || module == "Recv" {
		return waLog.Noop
	}
	if w.module != "" {
		module = w.module + "/" + module
	}
	return &waLogger{l: w.l, module: module}
}

func (w *waLogger) log(level slog.Level, msg string, args []any) {
	ctx := context.Background()
	if !w.l.Enabled(ctx, level) {
		return
	}
	text := msg
	if len(args) > 0 {
		text = fmt.Sprintf(msg, args...)
	}
	if w.module != "" {
		w.l.Log(ctx, level, maskDigits(text), "module", w.module)
		return
	}
	w.l.Log(ctx, level, maskDigits(text))
}

// maskDigits masks, with bot.Mask, every run of 7 or more digits in s.
func maskDigits(s string) string {
	var out []byte
	start := -1
	last := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start >= 7 {
			if out == nil {
				out = make([]byte, 0, len(s))
			}
			out = append(out, s[last:start]...)
			out = append(out, bot.Mask(s[start:i])...)
			last = i
		}
		start = -1
	}
	if out == nil {
		return s
	}
	return string(append(out, s[last:]...))
}
