package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"aduan/bot"
	"aduan/channels/smsgate"
	"aduan/channels/twilio"
	"aduan/channels/whatsapp"
	"aduan/internal/config"
	"aduan/store/redis"
	"aduan/store/sqlstore"
)

func serveCommand(e env) *cobra.Command {
	var path string
	c := &cobra.Command{
		Use:   "serve [flags]",
		Short: "run the service: webhooks, conversations, outbox",
		Long: "Runs the service: the webhooks, the conversations, the outbox and the clocks, and the WhatsApp\n" +
			"channel when whatsapp.enabled is set. It waits for PostgreSQL and Redis (GET /readyz says\n" +
			"what for); SIGTERM stops it gracefully; SIGHUP (systemctl reload aduan) rereads the\n" +
			"configuration and applies officers, flows, clocks, limits and the supervisor PIN at once.",
		Example: "  aduan serve --config /etc/aduan/aduan.yaml",
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return serve(c.Context(), e, path)
		},
	}
	configFlag(c, &path)
	return c
}

func serve(ctx context.Context, e env, path string) error {
	// Until the configuration is read, the environment says how to log:
	// under systemd even a configuration error is one JSON line.
	log := startupLogger(e)
	cfg, err := loadConfig(path, e)
	if err != nil {
		return logFatal(log, err)
	}
	if missing := cfg.MissingForSMS(); len(missing) > 0 {
		return logFatal(log, usagef("serve: the SMS channel needs %s", strings.Join(missing, ", ")))
	}
	if missing := cfg.MissingSecurity(); len(missing) > 0 {
		return logFatal(log, usagef("serve: protecting personal data needs %s (make keys with: aduan keys generate)", strings.Join(missing, ", ")))
	}
	log = newLogger(cfg.Log, e.stderr)
	routeLibraryLogs(log)
	// SIGHUP (systemctl reload) rereads the configuration; until serve is
	// ready one waits, rather than ending the process as it would by
	// default.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log.Info("starting", "version", buildInfo().String())
	reread := func() (*config.Config, error) { return loadConfig(path, e) }
	return logFatal(log, serveUntilDone(ctx, cfg, log, time.Now, hup, reread))
}

// server is `aduan serve`: the app on PostgreSQL and Redis, with the
// Twilio channel behind an HTTP server, and the WhatsApp channel when
// whatsapp.enabled is set.
type server struct {
	app      *app
	pg       *sqlstore.Store
	rd       *redis.Conversations
	handler  http.Handler
	webhooks gate

	// senders is the dispatcher's: bot.SMS is the gateway phone's sender
	// when sms.provider is smsgate, else Twilio's; bot.WhatsApp is the
	// WhatsApp channel's sender (with SMS as staff's fallback) when it is
	// enabled, else Twilio's (Twilio's WhatsApp addresses), if any.
	senders map[bot.Channel]bot.Sender
	gateway *gateway // the SMS gateway phone; nil when Twilio sends SMS
	// gateFallback is the WhatsApp sender the gateway phone's messages to
	// staff go by while it is down; empty without the WhatsApp channel.
	gateFallback *lateSender
	waState      atomic.Pointer[func() string] // the WhatsApp channel's state; nil when it is off
	waStop       func()                        // stops the WhatsApp channel and waits for it
	waStaff      func([]string)                // replaces the staff the WhatsApp channel may write to; nil when it is off
	waOnce       sync.Once
	waDone       chan struct{} // closed once the WhatsApp channel has stopped
}

// newServer connects to PostgreSQL and Redis, brings the schema up to date
// and assembles the pipeline. It does not start it. It fails at once if a
// dependency does not answer; connectServer waits for them instead.
func newServer(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (*server, error) {
	return connectServer(ctx, cfg, log, now, nil)
}

// connectServer is newServer, waiting (through w, when not nil) for
// PostgreSQL and then Redis to answer, and for the migrations to run.
func connectServer(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time, w *waiter) (*server, error) {
	log = withRequestIDs(log)
	keys, err := keyring(cfg, "serve")
	if err != nil {
		return nil, err
	}
	var pg *sqlstore.Store
	err = w.wait(ctx, "postgres", func(ctx context.Context) error {
		var err error
		pg, err = sqlstore.OpenPostgres(ctx, cfg.Postgres.URL, sqlstore.WithKeyring(keys), sqlstore.WithTracer(pgxTracer(log)))
		if err != nil {
			return err
		}
		if err := pg.Migrate(ctx); err != nil {
			pg.Close()
			return fmt.Errorf("migrate: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var rd *redis.Conversations
	err = w.wait(ctx, "redis", func(ctx context.Context) error {
		var err error
		rd, err = redis.Open(ctx, cfg.Redis.URL, redis.Options{
			StateTTL: cfg.Conversation.StateTTL.Std(), LeaseTTL: cfg.Conversation.LeaseTTL.Std(), Keyring: keys})
		return err
	})
	if err != nil {
		pg.Close()
		return nil, err
	}
	fail := func(err error) (*server, error) {
		pg.Close()
		rd.Close()
		return nil, err
	}
	s := &server{pg: pg, rd: rd, waStop: func() {}}
	senders := map[bot.Channel]bot.Sender{}
	// Twilio, when configured: SMS (unless the gateway phone sends them),
	// Twilio's WhatsApp sender (unless the WhatsApp channel is on), and
	// their webhooks.
	var media *twilio.MediaFetcher // set when Twilio is configured
	if len(cfg.MissingForTwilio()) == 0 {
		sms, err := twilio.NewSender(twilio.SenderConfig{
			AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken, From: cfg.Twilio.From,
			APIURL: cfg.Twilio.APIURL, StatusCallbackURL: cfg.HTTP.PublicURL + twilio.StatusPath,
		})
		if err != nil {
			return fail(usagef("twilio: %v", err))
		}
		// The attachments of messages on Twilio (MMS, Twilio's WhatsApp
		// sender) are fetched with the same account, up to the size the
		// WhatsApp channel takes.
		media, err = twilio.NewMediaFetcher(twilio.MediaConfig{
			AccountSID: cfg.Twilio.AccountSID, AuthToken: cfg.Twilio.AuthToken, APIURL: cfg.Twilio.APIURL,
			MaxBytes: cfg.WhatsApp.MediaMaxBytes,
		})
		if err != nil {
			return fail(usagef("twilio: %v", err))
		}
		senders[bot.SMS], senders[bot.WhatsApp] = sms, sms
	}
	// The gateway phone, when it sends the SMS. Its WhatsApp fallback for
	// staff exists once the WhatsApp channel has started.
	waFallback := &lateSender{}
	s.gateFallback = waFallback
	if cfg.SMS.Provider == config.ProviderSMSGate {
		gw, err := newGateway(cfg, rd, log, now, func(m bot.Outbound) bool { return s.app.svc.Urgent(m) },
			func(addr string) bool { return s.app.svc.IsStaff(addr) }, waFallback, s.smsgateDown, s.smsgateUp)
		if err != nil {
			return fail(err)
		}
		s.gateway = gw
		senders[bot.SMS] = gw.sender
	}
	s.senders = senders
	var wp *wipes
	if cfg.WhatsApp.Enabled {
		wp = newWipes(pg.SentTo, senders, log)
	}
	a, err := newApp(cfg, pg, rd, senders, wp, now, log)
	if err != nil {
		return fail(err)
	}
	s.app = a
	if cfg.WhatsApp.Enabled {
		// The channel hands messages to the pipeline, which takes them
		// once serve starts it; until then they wait at WhatsApp.
		wa, state, stop, setStaff, err := startWhatsApp(ctx, cfg, pg.Pool(), a.svc, pg, senders[bot.SMS], log, s.whatsappDown, s.whatsappUp)
		if err != nil {
			return fail(fmt.Errorf("whatsapp: %w", err))
		}
		senders[bot.WhatsApp] = wa
		waFallback.s = wa
		if f, ok := wa.(*whatsapp.Failover); ok {
			waFallback.s = f.WhatsApp // not back to SMS
		}
		s.waStop, s.waStaff = stop, setStaff
		s.waState.Store(&state)
		a.waState = state
		a.metrics.WatchWhatsApp(state)
	}
	mux := http.NewServeMux()
	if media != nil {
		twilio.NewHandler(twilio.HandlerConfig{
			AuthToken: cfg.Twilio.AuthToken, PublicURL: cfg.HTTP.PublicURL, Pipeline: a.svc,
			Statuses: pg, Logger: log, Now: now, MaxBody: cfg.HTTP.MaxBodyBytes, Media: media,
		}).Register(mux)
	}
	if gw := s.gateway; gw != nil {
		smsgate.NewHandler(smsgate.HandlerConfig{
			SigningKey: cfg.SMSGate.SigningKey, Pipeline: a.svc, Statuses: pg, Phone: gw.phone,
			Normalize: phoneNormalizer(cfg.Region), Logger: log, Now: now, MaxBody: cfg.HTTP.MaxBodyBytes,
		}).Register(mux)
		a.gateState = gw.state
		a.metrics.WatchSMSGateway(func() (bool, time.Time) { return gw.phone.State() == smsgate.StateUp, gw.phone.LastHeard() })
		a.runs = append(a.runs, gw.phone.Run)
	}
	a.routes(mux, func() bool { return !s.webhooks.isClosed() })
	s.handler = observeHTTP(s.refuseWhenStopping(mux), mux, a.metrics, log)
	return s, nil
}

// refuseWhenStopping answers webhooks with 503 once shutdown has begun, so
// that the provider retries them later (at this process's successor), and
// counts the webhooks it lets through, so that shutdown can wait for them.
func (s *server) refuseWhenStopping(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/webhooks/") {
			next.ServeHTTP(w, r)
			return
		}
		if !s.webhooks.enter() {
			w.Header().Set("Retry-After", "5")
			w.Header().Set("Connection", "close")
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		defer s.webhooks.leave()
		next.ServeHTTP(w, r)
	})
}

// serveUntilDone is `aduan serve`: it listens at once, answering /healthz,
// and /readyz and webhooks with 503 while it waits for PostgreSQL and
// Redis (see waiter); once both answer and the schema is up to date it
// serves, until ctx is done.
//
// Each value on hup rereads the configuration with reread and applies it
// (see reloader).
func serveUntilDone(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time,
	hup <-chan os.Signal, reread func() (*config.Config, error)) error {
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	w := newWaiter(log)
	var front frontHandler
	front.set(w.handler())
	hs := &http.Server{Handler: &front, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("listening", "listen", ln.Addr().String())
	srv, err := connectServer(ctx, cfg, log, now, w)
	if err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownGrace.Std())
		defer cancel()
		hs.Shutdown(sctx)
		if ctx.Err() != nil {
			log.Info("stopped before PostgreSQL and Redis answered")
			return nil
		}
		return err
	}
	defer srv.close()
	srv.app.start()
	front.set(srv.handler)
	r := &reloader{srv: srv, reread: reread, started: cfg, applied: cfg}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				r.reload()
			}
		}
	}()
	return srv.serve(ctx, hs, ln.Addr().String(), errc)
}

// serve serves through hs (already listening at addr; errc gets its
// Serve's result) until ctx is done, then shuts down in order, within
// http.shutdown_grace: refuse new webhooks with 503 while those under way
// finish (each answers once its message is stored), close the listener,
// run the WhatsApp chat wipes still waiting, disconnect from WhatsApp
// (messages not yet stored stay unacknowledged there, for the next
// start), finish the messages taken, and let the outbox senders finish
// the sends under way and record them. Messages still queued stay in the outbox for
// the next start. It returns nil after a clean stop and an error if the
// grace period ran out first.
func (s *server) serve(ctx context.Context, hs *http.Server, addr string, errc <-chan error) error {
	s.app.log.Info("serving", "listen", addr)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	grace := s.app.cfg.HTTP.ShutdownGrace.Std()
	start := time.Now()
	s.app.log.Info("shutting down", "grace", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.webhooks.close()
	if werr := s.webhooks.wait(sctx); werr != nil {
		s.app.log.Warn("webhooks still under way at the end of the grace period", "webhooks", s.webhooks.count())
	}
	if serr := hs.Shutdown(sctx); serr != nil {
		s.app.log.Warn("http shutdown", "err", serr)
	}
	if s.app.wipes != nil { // while WhatsApp is still connected
		if werr := s.app.wipes.stop(sctx); werr != nil {
			s.app.log.Warn("whatsapp chat wipes still under way at the end of the grace period")
		}
	}
	if werr := s.stopWhatsApp(sctx); werr != nil {
		s.app.log.Warn("whatsapp channel not stopped within the grace period")
	}
	if serr := s.app.stopBy(sctx); serr != nil {
		s.app.log.Error("shutdown: grace period over before the pipeline and the outbox stopped",
			"grace", grace)
		return fmt.Errorf("shutdown: not finished within http.shutdown_grace (%s)", grace)
	}
	s.app.log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// gate admits webhooks until it is closed, and counts those admitted and
// not yet answered. The zero gate is open.
type gate struct {
	mu     sync.Mutex
	closed bool
	n      int
	idle   chan struct{} // closed when n drops to 0; nil when nobody waits
}

// enter admits one webhook, or returns false once the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave marks an admitted webhook as answered.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
}

// close stops admitting webhooks.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

func (g *gate) isClosed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closed
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// wait blocks until no admitted webhook is under way, or ctx is done.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		if g.n == 0 {
			g.mu.Unlock()
			return nil
		}
		if g.idle == nil {
			g.idle = make(chan struct{})
		}
		idle := g.idle
		g.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// stopWhatsApp stops the WhatsApp channel, once, and waits for it or for
// ctx to be done.
func (s *server) stopWhatsApp(ctx context.Context) error {
	s.waOnce.Do(func() {
		s.waDone = make(chan struct{})
		go func() {
			defer close(s.waDone)
			s.waStop()
		}()
	})
	select {
	case <-s.waDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// whatsappDown tells the supervisors by SMS that the WhatsApp channel is
// down and why. The channel calls it once per outage in a process, for the
// reasons that need a person (unlinked, banned, replaced, refused);
// tellDown makes it once per outage across restarts and replicas too,
// until whatsappUp clears the mark.
func (s *server) whatsappDown(reason string) {
	state := ""
	if f := s.waState.Load(); f != nil {
		state = (*f)()
	}
	s.tellDown(whatsappOutage, state, bot.SMS, whatsappDownText(state, reason))
}

// whatsappDownText is the SMS to supervisors when WhatsApp goes down: in
// Indonesian, short enough for one SMS, with what to do.
func whatsappDownText(state, reason string) string {
	var why string
	switch whatsapp.State(state) {
	case whatsapp.StateLoggedOut:
		why = "perangkat dilepas dari HP kantor; tautkan lagi: aduan whatsapp pair"
	case whatsapp.StateBanned:
		why = "nomor diblokir sementara oleh WhatsApp"
	case whatsapp.StateReplaced:
		why = "program lain memakai perangkat yang sama"
	default:
		if strings.Contains(reason, "client version") {
			why = "versi aduan ditolak; perbarui aduan"
		} else {
			why = "ditolak WhatsApp; lihat log"
		}
	}
	return "aduan: WhatsApp kantor mati (" + why + "). Notifikasi petugas lewat SMS; SMS tetap berjalan."
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.stopWhatsApp(ctx); err != nil {
		s.app.log.Warn("whatsapp channel not stopped", "err", err)
	}
	s.rd.Close()
	s.pg.Close()
}
