package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/mdp/qrterminal/v3"
	"github.com/spf13/cobra"

	"aduan/bot"
	"aduan/channels/whatsapp"
	"aduan/internal/config"
	"aduan/store/sqlstore"
)

func whatsappCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "whatsapp",
		Short: "pair the WhatsApp device, check it, or unlink it",
		Long: "The WhatsApp channel runs as a linked device of the office's number. Its device keys live\n" +
			"in PostgreSQL (postgres.url), or with --db in a SQLite file (for the demo).",
		Example: "  aduan-env whatsapp pair --config /etc/aduan/aduan.yaml\n" +
			"  aduan-env whatsapp status --config /etc/aduan/aduan.yaml",
		RunE: group("whatsapp", "pair, status or logout"),
	}
	var o whatsappOptions
	pair := &cobra.Command{
		Use:   "pair [flags]",
		Short: "link the service as a device of the office's WhatsApp number",
		Long: "Links the service as a device of the office's WhatsApp number: scan the QR code with the\n" +
			"phone (WhatsApp > Linked devices > Link a device), or with --phone type the pairing code\n" +
			"shown on that phone instead.",
		Example: "  aduan-env whatsapp pair --config /etc/aduan/aduan.yaml\n" +
			"  aduan-env whatsapp pair --config /etc/aduan/aduan.yaml --phone 081337785111",
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error { return whatsappRun(c.Context(), e, "pair", o) },
	}
	var so whatsappOptions
	status := &cobra.Command{
		Use:   "status [flags]",
		Short: "say whether a device is paired and which process holds the connection",
		Long: "Says whether a device is paired and which process holds the connection; --connect logs in\n" +
			"once to check (only when no process holds it).",
		Example: "  aduan-env whatsapp status --config /etc/aduan/aduan.yaml --connect",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, args []string) error { return whatsappRun(c.Context(), e, "status", so) },
	}
	var lo whatsappOptions
	logout := &cobra.Command{
		Use:     "logout [flags]",
		Short:   "unlink the device and delete its keys (stop serve first)",
		Example: "  systemctl stop aduan && aduan-env whatsapp logout --config /etc/aduan/aduan.yaml",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, args []string) error { return whatsappRun(c.Context(), e, "logout", lo) },
	}
	for _, x := range []struct {
		c *cobra.Command
		o *whatsappOptions
	}{{pair, &o}, {status, &so}, {logout, &lo}} {
		x.c.Flags().StringVar(&x.o.path, "config", "", "configuration file (YAML); the device keys are in its postgres.url")
		x.c.Flags().StringVar(&x.o.db, "db", "", "keep the device keys in this SQLite file instead of PostgreSQL (demo)")
	}
	pair.Flags().StringVar(&o.phone, "phone", "", "the office's WhatsApp number: show a pairing code to type on that phone instead of a QR code")
	pair.Flags().DurationVar(&o.timeout, "timeout", 3*time.Minute, "give up after this long")
	status.Flags().BoolVar(&so.connect, "connect", false, "log in once to check the device works (only when no process holds the connection)")
	c.AddCommand(pair, status, logout)
	return c
}

// whatsappOptions are the flags of the whatsapp commands.
type whatsappOptions struct {
	path, db, phone string
	timeout         time.Duration
	connect         bool
}

// whatsappRun is `aduan whatsapp sub`.
func whatsappRun(ctx context.Context, e env, sub string, o whatsappOptions) error {
	path, db := &o.path, &o.db
	if *db != "" && *path != "" {
		return usagef("whatsapp %s: give --config or --db, not both", sub)
	}
	region := config.DefaultRegion
	var cfg *config.Config
	if *db == "" {
		var err error
		if cfg, err = loadConfig(*path, e); err != nil {
			return err
		}
		region = cfg.Region
	}
	var pairPhone string
	if o.phone != "" {
		p, err := config.NormalizePhone(o.phone, region)
		if err != nil {
			return usagef("whatsapp pair: --phone: %v", err)
		}
		pairPhone = strings.TrimPrefix(p, "+")
	}

	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	wa, err := openWhatsApp(ctx, cfg, *db, log)
	if err != nil {
		return err
	}
	defer wa.close()

	switch sub {
	case "pair":
		return whatsappPair(ctx, e, wa, pairPhone, o.timeout)
	case "status":
		return whatsappStatus(ctx, e, wa, o.connect)
	default:
		return whatsappLogout(ctx, e, wa)
	}
}

// waStore is the device store and the lease the whatsapp commands use.
type waStore struct {
	devices *whatsapp.Devices
	lease   interface {
		TryAcquire(ctx context.Context) (<-chan struct{}, error)
		Release()
	}
	holder func(ctx context.Context) (string, error)
	close  func()
}

// openWhatsApp opens the device store in PostgreSQL (cfg), or in the
// SQLite file db.
func openWhatsApp(ctx context.Context, cfg *config.Config, db string, log *slog.Logger) (*waStore, error) {
	if db != "" {
		d, err := whatsapp.OpenSQLiteDevices(ctx, db, log)
		if err != nil {
			return nil, err
		}
		return &waStore{devices: d, lease: &localLease{}, holder: func(context.Context) (string, error) { return "", nil },
			close: func() { d.Close() }}, nil
	}
	pg, err := sqlstore.OpenPostgres(ctx, cfg.Postgres.URL)
	if err != nil {
		return nil, err
	}
	d, err := whatsapp.OpenPostgresDevices(ctx, pg.Pool(), log)
	if err != nil {
		pg.Close()
		return nil, err
	}
	l := whatsapp.NewPGLease(pg.Pool().Config().ConnConfig, whatsapp.LeaseOptions{})
	return &waStore{devices: d, lease: l, holder: l.Holder, close: func() {
		l.Release()
		d.Close()
		pg.Close()
	}}, nil
}

// localLease is the lease of a SQLite device store: only this process
// uses the file.
type localLease struct{ whatsapp.LocalLease }

func (l *localLease) TryAcquire(ctx context.Context) (<-chan struct{}, error) { return l.Acquire(ctx) }

// takeLease takes the connection lease, waiting up to wait while another
// process holds it (serve takes it for a moment every 30s while no device
// is paired).
func takeLease(ctx context.Context, e env, wa *waStore, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	said := false
	for {
		_, err := wa.lease.TryAcquire(ctx)
		if err == nil {
			return nil
		}
		if !errors.Is(err, whatsapp.ErrLeaseHeld) {
			return err
		}
		holder, _ := wa.holder(ctx)
		if time.Now().After(deadline) {
			return fmt.Errorf("another process holds the WhatsApp connection (%s): stop it first", holder)
		}
		if !said {
			fmt.Fprintf(e.stderr, "waiting for the WhatsApp connection, held by %s...\n", holder)
			said = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func whatsappPair(ctx context.Context, e env, wa *waStore, phone string, timeout time.Duration) error {
	if jid, paired, err := wa.devices.Paired(ctx); err != nil {
		return err
	} else if paired {
		return fmt.Errorf("whatsapp pair: already paired with %s: run aduan whatsapp logout first", whatsapp.Phone(jid))
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := takeLease(ctx, e, wa, 45*time.Second); err != nil {
		return fmt.Errorf("whatsapp pair: %w", err)
	}
	defer wa.lease.Release()
	fmt.Fprintln(e.stdout, "Connecting to WhatsApp...")
	opts := whatsapp.PairOptions{
		Phone: phone,
		QR: func(code string, next time.Duration) {
			fmt.Fprintf(e.stdout, "\nOn the office's phone: WhatsApp > Settings > Linked devices > Link a device, and scan this code (a new one follows in %s):\n\n", next.Round(time.Second))
			qrterminal.GenerateHalfBlock(code, qrterminal.L, e.stdout)
		},
		Code: func(code string) {
			fmt.Fprintf(e.stdout, "\nOn the phone of +%s: WhatsApp > Settings > Linked devices > Link a device > Link with phone number instead, and type:\n\n    %s\n\n", phone, code)
		},
	}
	jid, err := wa.devices.Pair(ctx, opts)
	switch {
	case err == nil:
		fmt.Fprintf(e.stdout, "\nPaired: the service is now a linked device (%q) of %s.\n"+
			"serve connects with it within 30 seconds; check with: aduan whatsapp status\n", whatsapp.DeviceName, whatsapp.Phone(jid))
		return nil
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, whatsapp.ErrPairTimeout):
		return fmt.Errorf("whatsapp pair: timed out: no phone linked the device; run the command again when the phone is at hand")
	default:
		return fmt.Errorf("whatsapp pair: failed: %w", err)
	}
}

func whatsappStatus(ctx context.Context, e env, wa *waStore, connect bool) error {
	jid, paired, err := wa.devices.Paired(ctx)
	if err != nil {
		return err
	}
	holder, err := wa.holder(ctx)
	if err != nil {
		return err
	}
	if holder == "" {
		holder = "nobody (no serve process has it)"
	}
	if !paired {
		fmt.Fprintf(e.stdout, "paired:     no\nconnection: held by %s\n", holder)
		return errors.New("whatsapp status: no device paired: run aduan whatsapp pair")
	}
	fmt.Fprintf(e.stdout, "paired:     yes, as %s (device %q)\nconnection: held by %s\n", whatsapp.Phone(jid), whatsapp.DeviceName, holder)
	if !connect {
		return nil
	}
	if _, err := wa.lease.TryAcquire(ctx); err != nil {
		if errors.Is(err, whatsapp.ErrLeaseHeld) {
			fmt.Fprintln(e.stdout, "login:      not checked: another process holds the connection (see its /readyz)")
			return nil
		}
		return err
	}
	defer wa.lease.Release()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := wa.devices.Check(cctx); err != nil {
		fmt.Fprintf(e.stdout, "login:      failed: %v\n", err)
		return fmt.Errorf("whatsapp status: login failed: %w", err)
	}
	fmt.Fprintln(e.stdout, "login:      ok")
	return nil
}

func whatsappLogout(ctx context.Context, e env, wa *waStore) error {
	if _, paired, err := wa.devices.Paired(ctx); err != nil {
		return err
	} else if !paired {
		return errors.New("whatsapp logout: no device paired")
	}
	if err := takeLease(ctx, e, wa, 0); err != nil {
		return fmt.Errorf("whatsapp logout: %w", err)
	}
	defer wa.lease.Release()
	cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	jid, err := wa.devices.Logout(cctx)
	if err != nil {
		return fmt.Errorf("whatsapp logout: %w", err)
	}
	fmt.Fprintf(e.stdout, "Unlinked from %s; the device keys are deleted.\n", whatsapp.Phone(jid))
	return nil
}

// startWhatsApp starts the WhatsApp channel of serve when whatsapp.enabled
// is set: the device store and a contacts table (hashed with the
// configuration's lookup key) in pool's database, the
// connection lease, and the channel's Run in the background. It returns
// the sender for bot.WhatsApp (with sms, when not nil, as the fallback for
// messages to staff), the channel's state for /readyz and metrics, and stop,
// which disconnects and waits (call it before stopping the pipeline, so
// that no message is taken that cannot be stored).
//
// With whatsapp.enabled unset it returns a nil sender, a state of
// "disabled" and a stop that does nothing. It fails if whatsmeow's tables
// cannot be brought up to date.
//
// onDown and onUp (at most one) become the channel's OnDown and OnUp.
// store records read receipts and gives the files officers ask for.
// setStaff replaces the staff's numbers, whom the channel may always
// write to, after a configuration reload.
func startWhatsApp(ctx context.Context, cfg *config.Config, pool *pgxpool.Pool, pipeline whatsapp.Pipeline,
	store whatsappStore, sms bot.Sender, log *slog.Logger, onDown func(reason string), onUp ...func(),
) (sender bot.Sender, state func() string, stop func(), setStaff func([]string), err error) {
	if !cfg.WhatsApp.Enabled {
		return nil, func() string { return "disabled" }, func() {}, func([]string) {}, nil
	}
	devices, err := whatsapp.OpenPostgresDevices(ctx, pool, log)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	keys, err := keyring(cfg, "serve")
	if err != nil {
		devices.Close()
		return nil, nil, nil, nil, err
	}
	known, err := whatsapp.OpenPostgresContacts(ctx, pool, keys.Hash)
	if err != nil {
		devices.Close()
		return nil, nil, nil, nil, err
	}
	contacts := whatsapp.NewContacts(staffPhones(cfg.Officers), known)
	var up func()
	if len(onUp) > 0 {
		up = onUp[0]
	}
	p := cfg.WhatsApp.Pacing
	ch := whatsapp.New(whatsapp.Config{
		Pipeline: pipeline,
		Open:     devices.Open,
		Lease:    whatsapp.NewPGLease(pool.Config().ConnConfig, whatsapp.LeaseOptions{}),
		Send: whatsapp.SenderConfig{
			Contacts:     contacts,
			PerRecipient: whatsapp.Rate{Interval: p.PerRecipient.Std(), Burst: p.PerRecipientBurst},
			Overall:      whatsapp.Rate{Interval: p.Overall.Std(), Burst: p.OverallBurst},
			Typing:       cfg.WhatsApp.Typing.Std(),
			Files:        store.Attachment,
		},
		Statuses:      store,
		OnDown:        onDown,
		OnUp:          up,
		Logger:        log,
		MediaMaxBytes: cfg.WhatsApp.MediaMaxBytes,
		MarkRead:      cfg.WhatsApp.MarkRead,
	})
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		ch.Run(runCtx)
	}()
	stop = func() {
		cancel()
		<-done
		devices.Close()
	}
	sender = ch.Sender()
	if sms != nil {
		sender = &whatsapp.Failover{WhatsApp: ch.Sender(), SMS: sms, IsStaff: contacts.IsStaff, Up: ch.Up, Logger: log}
	}
	return sender, func() string { return string(ch.State()) }, stop, contacts.SetStaff, nil
}

// staffPhones lists the officers' and supervisors' numbers.
func staffPhones(officers []config.Officer) []string {
	out := make([]string, 0, len(officers))
	for _, o := range officers {
		out = append(out, o.Phone)
	}
	return out
}

// whatsappStore is what the WhatsApp channel needs of the store.
type whatsappStore interface {
	whatsapp.StatusRecorder
	Attachment(ctx context.Context, id int64) (bot.Attachment, error)
}

// wipeDelay is how long a chat wipe waits after HAPUS, so that the last
// reply ("conversation ended") has been sent and can be wiped too.
const wipeDelay = 5 * time.Second

// wipeRetries are the waits before the attempts after a failed wipe (say,
// WhatsApp not connected at that moment).
var wipeRetries = []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute}

// wipes clears citizens' WhatsApp chats after HAPUS, in the background:
// a bounded queue and one worker, so that the pipeline never waits for it.
// Each wipe waits wipeDelay, finds the provider IDs of every message the
// outbox sent to the chat, and asks the WhatsApp sender to delete them.
type wipes struct {
	// sentTo lists the provider IDs of the messages sent to an address
	// (sqlstore.Store.SentTo).
	sentTo func(ctx context.Context, ch bot.Channel, to string) ([]string, error)
	// senders is the dispatcher's map: its WhatsApp entry, read at each
	// wipe, must be a bot.Wiper.
	senders map[bot.Channel]bot.Sender
	log     *slog.Logger
	delay   time.Duration
	// after is the clock: time.After, unless a test sets it.
	after func(d time.Duration) <-chan time.Time

	queue    chan wipeJob
	hurry    chan struct{} // closed by stop: the remaining wipes run at once
	stopping atomic.Bool
	stopOnce sync.Once
	done     chan struct{} // closed when run returns
	started  atomic.Bool
}

// wipeJob is one chat to wipe.
type wipeJob struct {
	addr    string
	due     time.Time
	ids     []string // the messages found by the first attempt; retries wipe these, not later ones
	attempt int
}

func newWipes(sentTo func(ctx context.Context, ch bot.Channel, to string) ([]string, error),
	senders map[bot.Channel]bot.Sender, log *slog.Logger) *wipes {
	return &wipes{sentTo: sentTo, senders: senders, log: log, delay: wipeDelay, after: time.After,
		queue: make(chan wipeJob, 256), hurry: make(chan struct{}), done: make(chan struct{})}
}

// requester returns request, or nil when w is nil (no WhatsApp channel):
// bot.Config's Wiper.
func (w *wipes) requester() func(ch bot.Channel, addr string) {
	if w == nil {
		return nil
	}
	return w.request
}

// request queues a wipe of addr's chat; it never blocks (it is bot.Config's
// Wiper, called during a batch). When the queue is full, or the process is
// stopping, the chat is not wiped and an error is logged.
func (w *wipes) request(ch bot.Channel, addr string) {
	if ch != bot.WhatsApp {
		return
	}
	w.enqueue(wipeJob{addr: addr, due: time.Now().Add(w.delay)})
}

func (w *wipes) enqueue(j wipeJob) {
	if w.stopping.Load() {
		w.log.Error("whatsapp chat not wiped: shutting down", "to", bot.Mask(j.addr))
		return
	}
	select {
	case w.queue <- j:
	default:
		w.log.Error("whatsapp chat not wiped: too many wipes queued", "to", bot.Mask(j.addr))
	}
}

// start runs the worker in the background.
func (w *wipes) start() {
	w.started.Store(true)
	go w.run()
}

// run wipes queued chats until stop; then it wipes those still queued at
// once and returns.
func (w *wipes) run() {
	defer close(w.done)
	for {
		select {
		case j := <-w.queue:
			if wait := time.Until(j.due); wait > 0 {
				select {
				case <-w.after(wait):
				case <-w.hurry:
				}
			}
			w.wipe(j)
		case <-w.hurry:
			for {
				select {
				case j := <-w.queue:
					w.wipe(j)
				default:
					return
				}
			}
		}
	}
}

// stop makes run wipe what is queued without waiting, and waits for it to
// finish, or for ctx to be done. Wipes asked for afterwards are refused,
// and retries still waiting are dropped (both logged).
func (w *wipes) stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.stopping.Store(true)
		close(w.hurry)
	})
	if !w.started.Load() {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// wipe makes one attempt at a chat, and schedules the next when it failed
// for a reason that may pass.
func (w *wipes) wipe(j wipeJob) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j.attempt++
	err := w.attempt(ctx, &j)
	if err == nil {
		w.log.Info("whatsapp chat wiped", "to", bot.Mask(j.addr), "messages", len(j.ids))
		return
	}
	if bot.KindOf(err) == bot.Permanent || j.attempt > len(wipeRetries) || w.stopping.Load() {
		w.log.Error("whatsapp chat not wiped", "to", bot.Mask(j.addr), "messages", len(j.ids),
			"attempts", j.attempt, "err", err)
		return
	}
	wait := wipeRetries[j.attempt-1]
	w.log.Warn("whatsapp chat wipe failed; trying again", "to", bot.Mask(j.addr), "messages", len(j.ids),
		"attempt", j.attempt, "retry_in", wait.String(), "err", err)
	go func() {
		select {
		case <-w.after(wait):
			j.due = time.Time{}
			w.enqueue(j)
		case <-w.hurry:
			w.log.Error("whatsapp chat not wiped: shutting down", "to", bot.Mask(j.addr))
		}
	}()
}

func (w *wipes) attempt(ctx context.Context, j *wipeJob) error {
	wiper, ok := w.senders[bot.WhatsApp].(bot.Wiper)
	if !ok {
		return bot.E("wipe", bot.Permanent, errors.New("the WhatsApp sender cannot wipe chats"))
	}
	if j.ids == nil {
		ids, err := w.sentTo(ctx, bot.WhatsApp, j.addr)
		if err != nil {
			return fmt.Errorf("find the messages sent: %w", err)
		}
		if ids == nil {
			ids = []string{} // found none: a retry need not look again
		}
		j.ids = ids
	}
	return wiper.Wipe(ctx, j.addr, j.ids)
}
