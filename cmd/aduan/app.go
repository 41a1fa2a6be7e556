package main

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"aduan/bot"
	"aduan/channels/whatsapp"
	"aduan/dialog"
	"aduan/dialog/flows"
	"aduan/internal/config"
	"aduan/internal/metrics"
)

// app is the pipeline assembled from concrete parts: the same for serve
// (PostgreSQL, Redis, Twilio) and demo (SQLite, miniredis, the console).
type app struct {
	cfg     *config.Config
	log     *slog.Logger
	now     func() time.Time
	store   bot.Store
	convs   bot.Conversations
	book    *dialog.Book
	outbox  *bot.Dispatcher
	svc     *bot.Service
	metrics *metrics.Metrics
	wipes   *wipes        // clears WhatsApp chats after HAPUS; nil when the WhatsApp channel is off
	waState func() string // the WhatsApp channel's state, for /readyz; nil when it is off
	// gateState is the SMS gateway phone's state, for /readyz; nil when
	// Twilio sends SMS.
	gateState func() string
	// runs are watchers started with the pipeline and stopped with it
	// (the SMS gateway phone's).
	runs []func(ctx context.Context)

	stopSvc, stopOutbox context.CancelFunc
	svcDone, outboxDone chan struct{}
	runsDone            sync.WaitGroup
}

// newApp assembles the pipeline. senders is read at each send, so entries
// may be set after newApp until start. wipes, when not nil, is asked to
// clear a citizen's WhatsApp chat after HAPUS.
func newApp(cfg *config.Config, store bot.Store, convs bot.Conversations, senders map[bot.Channel]bot.Sender,
	wipes *wipes, now func() time.Time, log *slog.Logger) (*app, error) {
	book, err := flows.Load(cfg.Flows.Dir)
	if err != nil {
		return nil, err
	}
	for _, w := range cfg.Warnings {
		log.Warn("configuration", "warning", w)
	}
	b := buildInfo()
	mo := metrics.Options{Version: b.Version, Commit: b.Commit, Now: now, Logger: log}
	for _, st := range whatsapp.States {
		mo.WhatsAppStates = append(mo.WhatsAppStates, string(st))
	}
	if st, ok := store.(metrics.OutboxStats); ok {
		mo.Outbox = st
	}
	m := metrics.New(mo)
	outbox := bot.NewDispatcher(bot.DispatcherConfig{
		Store: store, Senders: senders, Now: now, Logger: log, Observer: m,
		Workers:      cfg.Outbox.Workers,
		MaxAttempts:  cfg.Outbox.MaxAttempts,
		Lease:        cfg.Outbox.Lease.Std(),
		PollInterval: cfg.Outbox.PollInterval.Std(),
		// Half the grace: the rest is for webhooks and the pipeline.
		SettleGrace: cfg.HTTP.ShutdownGrace.Std() / 2,
	})
	svc := bot.NewService(bot.Config{
		Store: store, Conversations: convs, Book: book, Officers: officers(cfg), Outbox: outbox,
		Now: now, Logger: log, Observer: m, Claim: cfg.Outbox.Lease.Std(), Clocks: cfg.Clocks.Bot(),
		Limits: cfg.Limits.Bot(), Counter: counter(convs), Wiper: wipes.requester(),
		SupervisorPIN: cfg.Security.SupervisorPIN, SendFiles: cfg.WhatsApp.Enabled,
	})
	outbox.SetGaveUp(svc.NotifyFailed)
	if lc, ok := store.(interface {
		LateCount(ctx context.Context, now time.Time) (int, error)
	}); ok {
		m.SetTicketsLate(func(ctx context.Context) (int, error) { return lc.LateCount(ctx, now()) })
	}
	return &app{cfg: cfg, log: log, now: now, store: store, convs: convs, book: book, outbox: outbox, svc: svc, metrics: m,
		wipes: wipes}, nil
}

// counter returns the conversation store's counters for the limits, if it
// has them.
func counter(convs bot.Conversations) bot.Counter {
	if c, ok := convs.(bot.Counter); ok {
		return c
	}
	return nil
}

func officers(cfg *config.Config) []bot.Officer {
	out := make([]bot.Officer, 0, len(cfg.Officers))
	for _, o := range cfg.Officers {
		duty, _ := bot.ParseHours(o.Hours) // checked by config.Validate
		kinds := make([]bot.Kind, len(o.Kinds))
		for i, k := range o.Kinds {
			kinds[i] = bot.Kind(k)
		}
		out = append(out, bot.Officer{Name: o.Name, Phone: o.Phone, Role: bot.Role(o.Role),
			Areas: o.Areas, Kinds: kinds, Duty: duty, Channel: bot.Channel(o.PreferredChannel())})
	}
	return out
}

// notifySupervisors writes body to every supervisor on channel ch, through
// the outbox, and returns how many it wrote to. It fails if the outbox
// cannot be written.
func (a *app) notifySupervisors(ctx context.Context, ch bot.Channel, body string) (int, error) {
	now := a.now()
	var c bot.Changes
	for _, o := range a.svc.Supervisors() { // as the last reload left them
		c.Outbox = append(c.Outbox, bot.Outbound{Channel: ch, To: o.Phone, Body: body,
			Purpose: bot.PurposeNotify, CreatedAt: now})
	}
	if len(c.Outbox) == 0 {
		return 0, nil
	}
	tx, err := a.store.Begin(ctx)
	if err != nil {
		return 0, err
	}
	if err := tx.Apply(ctx, &c, now.Add(a.cfg.Outbox.Lease.Std())); err != nil {
		tx.Rollback(ctx)
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		tx.Rollback(ctx)
		return 0, err
	}
	a.outbox.Enqueue(c.Outbox)
	return len(c.Outbox), nil
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
		clocks := make(chan struct{})
		go func() {
			defer close(clocks)
			a.svc.RunClockLoop(svcCtx, a.cfg.Clocks.Interval.Std())
		}()
		a.svc.Run(svcCtx)
		<-clocks
	}()
	for _, run := range a.runs {
		a.runsDone.Go(func() { run(svcCtx) })
	}
	if a.wipes != nil {
		a.wipes.start()
	}
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

// stop finishes the messages taken, then the chat wipes they asked for
// (at once, without their usual wait), then the sends under way.
func (a *app) stop() {
	a.stopSvc()
	<-a.svcDone
	a.runsDone.Wait()
	if a.wipes != nil {
		a.wipes.stop(context.Background())
	}
	a.stopOutbox()
	<-a.outboxDone
}

// stopBy stops as stop does, but stops waiting when ctx is done: then it
// returns ctx's error and the rest stops in the background.
func (a *app) stopBy(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		a.stop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// routes adds the health endpoints and the metrics.
func (a *app) routes(mux *http.ServeMux, ready func() bool) {
	mux.Handle("GET /metrics", a.metrics.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		status, body := http.StatusOK, ""
		if ready != nil && !ready() {
			status, body = http.StatusServiceUnavailable, "shutting down\n"
		}
		for _, c := range a.check(r.Context()) {
			if c.err != nil {
				status = http.StatusServiceUnavailable
				body += c.name + ": down (" + bot.KindOf(c.err).String() + ")\n"
			} else {
				body += c.name + ": ok\n"
			}
		}
		// Informational: SMS works whatever WhatsApp's state, so it does
		// not make the process unready.
		if a.waState != nil {
			body += "whatsapp: " + a.waState() + "\n"
		}
		// Informational too: a silent phone must not take the process
		// out of the load balancer, or its webhooks could not come back.
		if a.gateState != nil {
			body += "sms gateway: " + a.gateState() + "\n"
		}
		w.WriteHeader(status)
		w.Write([]byte(body))
	})
}

// dependency is the outcome of pinging one dependency.
type dependency struct {
	name string
	err  error
}

// check pings every dependency at once, each with a timeout of its own, so
// that one that hangs does not make another look down.
func (a *app) check(ctx context.Context) []dependency {
	deps := []dependency{{name: "postgres"}, {name: "redis"}}
	pings := []func(context.Context) error{a.store.Ping, a.convs.Ping}
	var wg sync.WaitGroup
	for i := range deps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			deps[i].err = pings[i](ctx)
		}()
	}
	wg.Wait()
	return deps
}
