package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"aduan/bot"
	"aduan/channels/twilio"
	"aduan/internal/config"
	"aduan/store/postgres"
	"aduan/store/redis"
)

func serveCmd(ctx context.Context, e env, args []string) error {
	fs := flags(e, "serve", "serve [--config FILE]")
	path := fs.String("config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	if err := parse(fs, args); err != nil {
		return helpOK(err)
	}
	cfg, err := loadConfig(*path, e)
	if err != nil {
		return err
	}
	if missing := cfg.MissingForSMS(); len(missing) > 0 {
		return usagef("serve: the SMS channel needs %s", strings.Join(missing, ", "))
	}
	log := newLogger(cfg.Log, e.stderr)
	srv, err := newServer(ctx, cfg, log, time.Now)
	if err != nil {
		return err
	}
	defer srv.close()
	return srv.serve(ctx)
}

// server is `aduan serve`: the app on PostgreSQL and Redis, with the
// Twilio channel behind an HTTP server.
type server struct {
	app      *app
	pg       *postgres.Store
	rd       *redis.Conversations
	handler  http.Handler
	stopping atomic.Bool
}

// newServer connects to PostgreSQL and Redis, brings the schema up to date
// and assembles the pipeline. It does not start it.
func newServer(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (*server, error) {
	pg, err := postgres.Open(ctx, cfg.Postgres.URL)
	if err != nil {
		return nil, err
	}
	if err := postgres.Migrate(ctx, pg.Pool()); err != nil {
		pg.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rd, err := redis.Open(ctx, cfg.Redis.URL, redis.Options{
		StateTTL: cfg.Conversation.StateTTL.Std(), LeaseTTL: cfg.Conversation.LeaseTTL.Std()})
	if err != nil {
		pg.Close()
		return nil, err
	}
	sms, err := twilio.NewSender(twilio.SenderConfig{
		AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken, From: cfg.Twilio.From,
		APIURL: cfg.Twilio.APIURL, StatusCallbackURL: cfg.HTTP.PublicURL + "/webhooks/twilio/status",
	})
	if err != nil {
		pg.Close()
		rd.Close()
		return nil, usagef("twilio: %v", err)
	}
	senders := map[bot.Channel]bot.Sender{bot.SMS: sms, bot.WhatsApp: sms}
	a, err := newApp(cfg, pg, rd, senders, now, log)
	if err != nil {
		pg.Close()
		rd.Close()
		return nil, err
	}
	s := &server{app: a, pg: pg, rd: rd}
	mux := http.NewServeMux()
	twilio.NewHandler(twilio.HandlerConfig{
		AuthToken: cfg.Twilio.AuthToken, PublicURL: cfg.HTTP.PublicURL, Pipeline: a.svc,
		Statuses: pg, Logger: log, Now: now, MaxBody: cfg.HTTP.MaxBodyBytes,
	}).Register(mux)
	a.routes(mux, func() bool { return !s.stopping.Load() })
	s.handler = s.refuseWhenStopping(mux)
	return s, nil
}

// refuseWhenStopping answers webhooks with 503 once shutdown has begun, so
// that the provider retries them elsewhere or later.
func (s *server) refuseWhenStopping(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() && strings.HasPrefix(r.URL.Path, "/webhooks/") {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// serve listens until ctx is done, then shuts down in order: stop taking
// webhooks, finish the messages taken, finish the sends under way.
func (s *server) serve(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.app.cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	s.app.start()
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	s.app.log.Info("serving", "listen", ln.Addr().String())
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if serr := hs.Shutdown(sctx); serr != nil {
		s.app.log.Warn("http shutdown", "err", serr)
	}
	s.app.stop()
	s.app.log.Info("stopped")
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func (s *server) close() {
	s.rd.Close()
	s.pg.Close()
}
