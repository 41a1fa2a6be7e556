package main

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"aduan/bot"
	"aduan/dialog"
	"aduan/dialog/flows"
	"aduan/internal/config"
)

// app is the pipeline assembled from concrete parts: the same for serve
// (PostgreSQL, Redis, Twilio) and demo (SQLite, miniredis, the console).
type app struct {
	cfg    *config.Config
	log    *slog.Logger
	store  bot.Store
	convs  bot.Conversations
	book   *dialog.Book
	outbox *bot.Dispatcher
	svc    *bot.Service

	stopSvc, stopOutbox context.CancelFunc
	svcDone, outboxDone chan struct{}
}

func newApp(cfg *config.Config, store bot.Store, convs bot.Conversations, senders map[bot.Channel]bot.Sender,
	now func() time.Time, log *slog.Logger) (*app, error) {
	book, err := flows.Load("")
	if err != nil {
		return nil, err
	}
	outbox := bot.NewDispatcher(bot.DispatcherConfig{
		Store: store, Senders: senders, Now: now, Logger: log,
		Workers:      cfg.Outbox.Workers,
		MaxAttempts:  cfg.Outbox.MaxAttempts,
		Lease:        cfg.Outbox.Lease.Std(),
		PollInterval: cfg.Outbox.PollInterval.Std(),
	})
	svc := bot.NewService(bot.Config{
		Store: store, Conversations: convs, Book: book, Officers: officers(cfg), Outbox: outbox,
		Now: now, Logger: log, Claim: cfg.Outbox.Lease.Std(),
	})
	return &app{cfg: cfg, log: log, store: store, convs: convs, book: book, outbox: outbox, svc: svc}, nil
}

func officers(cfg *config.Config) []bot.Officer {
	out := make([]bot.Officer, 0, len(cfg.Officers))
	for _, o := range cfg.Officers {
		out = append(out, bot.Officer{Name: o.Name, Phone: o.Phone, Role: bot.Role(o.Role)})
	}
	return out
}

// start runs the pipeline and the outbox dispatcher in the background.
func (a *app) start() {
	var svcCtx, outCtx context.Context
	svcCtx, a.stopSvc = context.WithCancel(context.Background())
	outCtx, a.stopOutbox = context.WithCancel(context.Background())
	a.svcDone, a.outboxDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(a.outboxDone)
		a.outbox.Run(outCtx)
	}()
	go func() {
		defer close(a.svcDone)
		a.svc.Run(svcCtx)
	}()
	a.waitRunning()
}

// waitRunning waits until the service takes messages.
func (a *app) waitRunning() {
	for i := 0; i < 1000; i++ {
		if a.svc.Running() {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// stop finishes the messages taken, then the sends under way.
func (a *app) stop() {
	a.stopSvc()
	<-a.svcDone
	a.stopOutbox()
	<-a.outboxDone
}

// routes adds the health endpoints.
func (a *app) routes(mux *http.ServeMux, ready func() bool) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status, body := http.StatusOK, ""
		if ready != nil && !ready() {
			status, body = http.StatusServiceUnavailable, "shutting down\n"
		}
		if err := a.store.Ping(ctx); err != nil {
			status, body = http.StatusServiceUnavailable, body+"postgres: down\n"
		} else {
			body += "postgres: ok\n"
		}
		if err := a.convs.Ping(ctx); err != nil {
			status, body = http.StatusServiceUnavailable, body+"redis: down\n"
		} else {
			body += "redis: ok\n"
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
}
