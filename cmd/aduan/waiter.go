package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"aduan/bot"
)

// Start-up backoff: the first retry after waitFirst, doubling up to
// waitMax, each with up to a fifth more at random so that replicas that
// start together do not knock together.
const (
	waitFirst   = 500 * time.Millisecond
	waitMax     = 30 * time.Second
	waitAttempt = 10 * time.Second // bounds one attempt
)

// waiter makes serve patient at start-up: it retries connecting to each
// dependency with backoff until it answers, logging what it waits for,
// and meanwhile answers HTTP as a process that is up and not ready. A nil
// waiter makes one attempt.
type waiter struct {
	log *slog.Logger

	mu      sync.Mutex
	waiting map[string]string // dependency -> why it is not ready yet
	order   []string
}

func newWaiter(log *slog.Logger) *waiter {
	return &waiter{log: log, waiting: map[string]string{"postgres": "waiting", "redis": "waiting"},
		order: []string{"postgres", "redis"}}
}

// wait calls try until it succeeds, ctx is done (its error is returned) or
// try fails with an error that waiting cannot cure: a bad URL, a bad key
// (bot.Invalid), which is returned at once.
func (w *waiter) wait(ctx context.Context, name string, try func(ctx context.Context) error) error {
	if w == nil {
		return try(ctx)
	}
	delay := waitFirst
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, waitAttempt)
		err := try(actx)
		cancel()
		if err == nil {
			w.set(name, "")
			if attempt > 1 {
				w.log.Info("dependency answers", "dependency", name, "attempts", attempt)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if bot.KindOf(err) == bot.Invalid {
			return err
		}
		w.set(name, "down ("+bot.KindOf(err).String()+")")
		d := delay + rand.N(delay/5+1)
		w.log.Warn("waiting for a dependency", "dependency", name, "attempt", attempt, "retry_in", d, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
		}
		delay = min(2*delay, waitMax)
	}
}

// set records why name is not ready; "" means it is.
func (w *waiter) set(name, why string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if why == "" {
		delete(w.waiting, name)
		return
	}
	w.waiting[name] = why
}

// status is /readyz's body while serve starts.
func (w *waiter) status() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var b strings.Builder
	b.WriteString("starting\n")
	for _, name := range w.order {
		why, ok := w.waiting[name]
		if !ok {
			why = "ok"
		}
		b.WriteString(name + ": " + why + "\n")
	}
	return b.String()
}

// handler answers while serve starts: /healthz 200 (the process is up),
// /readyz 503 naming what it waits for, webhooks 503 with Retry-After (the
// providers retry them), anything else 503.
func (w *waiter) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rw.Header().Set("Retry-After", "5")
		rw.WriteHeader(http.StatusServiceUnavailable)
		rw.Write([]byte(w.status()))
	})
	return mux
}

// frontHandler is the HTTP server's handler, which serve replaces once the
// service is ready.
type frontHandler struct{ h atomic.Pointer[http.Handler] }

func (f *frontHandler) set(h http.Handler) { f.h.Store(&h) }

func (f *frontHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*f.h.Load()).ServeHTTP(w, r)
}
