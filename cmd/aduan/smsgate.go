package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"aduan/bot"
	"aduan/channels/smsgate"
	"aduan/internal/config"
	"aduan/store/redis"
)

func smsgateCommand(e env) *cobra.Command {
	c := &cobra.Command{
		Use:   "smsgate",
		Short: "register the SMS gateway phone's webhooks, or show its health",
		Long: "The SMS gateway is an Android phone with the office's SIM, running SMS Gateway for Android\n" +
			"(docs/SMS.md): smsgate.url with smsgate.username and smsgate.password.",
		Example: "  aduan-env smsgate register --config /etc/aduan/aduan.yaml\n" +
			"  aduan-env smsgate status --config /etc/aduan/aduan.yaml",
		RunE: group("smsgate", "register or status"),
	}
	var ro, so string
	register := &cobra.Command{
		Use:   "register [flags]",
		Short: "register the webhooks aduan needs on the phone or its relay",
		Long: "Registers the webhooks aduan needs (sms:received, sms:sent, sms:delivered, sms:failed,\n" +
			"system:ping) at <http.public_url>/webhooks/smsgate on the phone (Local mode) or the relay\n" +
			"(Cloud, Private mode), replacing those it registered before, and removes other\n" +
			"registrations of that URL (each would deliver every event once more). Running it again\n" +
			"changes nothing.",
		Example: "  aduan-env smsgate register --config /etc/aduan/aduan.yaml",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, args []string) error { return smsgateRun(c.Context(), e, "register", ro) },
	}
	status := &cobra.Command{
		Use:   "status [flags]",
		Short: "the phone's health, the webhooks registered, and when it was last heard from",
		Long: "Shows the phone's health (the relay's in Cloud and Private mode), the webhooks registered,\n" +
			"and when a running serve last heard from the phone. Fails when the gateway does not\n" +
			"answer, reports fail, or a webhook is missing.",
		Example: "  aduan-env smsgate status --config /etc/aduan/aduan.yaml",
		Args:    noArgs,
		RunE:    func(c *cobra.Command, args []string) error { return smsgateRun(c.Context(), e, "status", so) },
	}
	register.Flags().StringVar(&ro, "config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	status.Flags().StringVar(&so, "config", "", "configuration file (YAML); without it, defaults and ADUAN_* environment variables")
	c.AddCommand(register, status)
	return c
}

// smsgateRun is `aduan smsgate sub` with the configuration file path.
func smsgateRun(ctx context.Context, e env, sub, path string) error {
	cfg, err := loadConfig(path, e)
	if err != nil {
		return err
	}
	if missing := cfg.MissingForSMSGate(); len(missing) > 0 {
		return usagef("smsgate %s: the SMS gateway needs %s", sub, strings.Join(missing, ", "))
	}
	client, err := newGatewayClient(cfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if sub == "register" {
		if cfg.HTTP.PublicURL == "" {
			return usagef("smsgate register: the webhooks go to http.public_url, which is empty")
		}
		return smsgateRegister(ctx, e, client, cfg.HTTP.PublicURL+smsgate.Path)
	}
	return smsgateStatus(ctx, e, cfg, client)
}

// webhookID is the ID aduan registers the webhook for event under, so
// that registering again replaces it.
func webhookID(event string) string {
	return "aduan-" + strings.ReplaceAll(event, ":", "-")
}

func smsgateRegister(ctx context.Context, e env, c *smsgate.Client, url string) error {
	have, err := c.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("smsgate register: list the webhooks at %s: %w", c.URL(), err)
	}
	ours := map[string]bool{}
	for _, ev := range smsgate.Events {
		ours[webhookID(ev)] = true
	}
	for _, h := range have {
		if h.URL == url && !ours[h.ID] {
			if err := c.Unregister(ctx, h.ID); err != nil {
				return fmt.Errorf("smsgate register: remove the other %s webhook of %s: %w", h.Event, url, err)
			}
			fmt.Fprintf(e.stdout, "removed   %-14s %s (an earlier registration, ID %s)\n", h.Event, h.URL, h.ID)
		}
	}
	for _, ev := range smsgate.Events {
		id := webhookID(ev)
		i := slices.IndexFunc(have, func(h smsgate.Webhook) bool { return h.ID == id })
		if i >= 0 && have[i].URL == url && have[i].Event == ev {
			fmt.Fprintf(e.stdout, "unchanged %-14s %s\n", ev, url)
			continue
		}
		if _, err := c.Register(ctx, smsgate.Webhook{ID: id, URL: url, Event: ev}); err != nil {
			return fmt.Errorf("smsgate register: %s: %w", ev, err)
		}
		fmt.Fprintf(e.stdout, "registered %-13s %s\n", ev, url)
	}
	for _, h := range have {
		if h.URL != url && h.Event == smsgate.EventReceived && !ours[h.ID] {
			fmt.Fprintf(e.stdout, "note: %s also goes to %s (ID %s); remove it if it is not yours\n", h.Event, h.URL, h.ID)
		}
	}
	if strings.Contains(c.URL(), "/3rdparty/") {
		fmt.Fprintln(e.stdout, "The relay passes the webhooks on to the phone within a few minutes.")
	}
	return nil
}

func smsgateStatus(ctx context.Context, e env, cfg *config.Config, c *smsgate.Client) error {
	w := e.stdout
	mode := "Local mode: the phone"
	if strings.Contains(c.URL(), "/3rdparty/") {
		mode = "Cloud or Private mode: a relay"
	}
	fmt.Fprintf(w, "gateway:    %s (%s)\n", c.URL(), mode)
	var problems []string
	h, code, err := c.Health(ctx)
	switch {
	case err != nil:
		fmt.Fprintf(w, "health:     no answer: %v\n", err)
		problems = append(problems, "the gateway does not answer")
	default:
		fmt.Fprintf(w, "health:     %s (HTTP %d, version %s)%s\n", h.Status, code, h.Version, healthDetail(h))
		if h.Status == "fail" {
			problems = append(problems, "the gateway reports fail")
		}
	}
	hooks, err := c.Webhooks(ctx)
	if err != nil {
		fmt.Fprintf(w, "webhooks:   not listed: %v\n", err)
		problems = append(problems, "the webhooks could not be listed")
	} else {
		want := cfg.HTTP.PublicURL + smsgate.Path
		for i, ev := range smsgate.Events {
			label := "webhooks:  "
			if i > 0 {
				label = "           "
			}
			j := slices.IndexFunc(hooks, func(h smsgate.Webhook) bool { return h.Event == ev && h.URL == want })
			if j < 0 {
				fmt.Fprintf(w, "%s %-14s missing: run aduan smsgate register\n", label, ev)
				problems = append(problems, ev+" is not registered")
				continue
			}
			fmt.Fprintf(w, "%s %-14s %s\n", label, ev, hooks[j].URL)
		}
		for _, h := range hooks {
			if h.URL != want {
				fmt.Fprintf(w, "            %-14s %s (not aduan's)\n", h.Event, h.URL)
			}
		}
	}
	heard := lastHeardText(ctx, cfg)
	fmt.Fprintf(w, "last heard: %s\n", heard)
	if len(problems) > 0 {
		return fmt.Errorf("smsgate status: %s", strings.Join(problems, "; "))
	}
	return nil
}

// healthDetail is the battery and failure lines of a phone's report.
func healthDetail(h smsgate.Health) string {
	var parts []string
	if c, ok := h.Checks["battery:level"]; ok {
		parts = append(parts, fmt.Sprintf("battery %.0f%%", c.ObservedValue))
	}
	if c, ok := h.Checks["battery:charging"]; ok {
		if c.ObservedValue == 0 {
			parts = append(parts, "NOT charging")
		} else {
			parts = append(parts, "charging")
		}
	}
	if c, ok := h.Checks["messages:failed"]; ok {
		parts = append(parts, fmt.Sprintf("%.0f failed in the last hour", c.ObservedValue))
	}
	if len(parts) == 0 {
		return ""
	}
	return "; " + strings.Join(parts, ", ")
}

// lastHeardText says when serve last heard from the phone, as the shared
// mark in Redis has it.
func lastHeardText(ctx context.Context, cfg *config.Config) string {
	opt, err := goredis.ParseURL(cfg.Redis.URL)
	if err != nil {
		return "unknown (redis.url: " + err.Error() + ")"
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	t, err := (gatewayBeacon{rc}).Last(ctx)
	switch {
	case err != nil:
		return "unknown (redis: " + err.Error() + ")"
	case t.IsZero():
		return "never (by a running serve)"
	}
	return t.In(bot.WITA).Format("2006-01-02 15:04:05 WITA") + " (" + time.Since(t).Round(time.Second).String() + " ago)"
}

// newGatewayClient returns the client of the configured gateway.
func newGatewayClient(cfg *config.Config) (*smsgate.Client, error) {
	g := cfg.SMSGate
	cc := smsgate.ClientConfig{URL: g.URL, Username: g.Username, Password: g.Password, JWT: g.Auth == config.AuthJWT}
	if g.CAFile != "" {
		pool, err := smsgate.LoadCA(g.CAFile)
		if err != nil {
			return nil, usagef("smsgate.ca_file: %v", err)
		}
		cc.RootCAs = pool
	}
	c, err := smsgate.NewClient(cc)
	if err != nil {
		return nil, usagef("smsgate: %v", err)
	}
	return c, nil
}

// gateway is serve's part of the SMS gateway phone: the watcher of the
// phone, shared by the sender and the webhook handler.
type gateway struct {
	phone  *smsgate.Phone
	client *smsgate.Client
	sender *smsgate.Sender
}

// newGateway builds the gateway parts of serve. urgent, isStaff and
// fallback are asked at each send (the service, which knows the staff as
// the last reload left them, and the WhatsApp channel come later); onDown
// and onUp are called when the phone goes silent or fails, and when it is
// back.
func newGateway(cfg *config.Config, rd *redis.Conversations, log *slog.Logger, now func() time.Time,
	urgent func(bot.Outbound) bool, isStaff func(addr string) bool, fallback bot.Sender, onDown func(smsgate.State), onUp func()) (*gateway, error) {
	client, err := newGatewayClient(cfg)
	if err != nil {
		return nil, err
	}
	g := cfg.SMSGate
	phone := smsgate.NewPhone(smsgate.PhoneConfig{SilentAfter: g.SilentAfter.Std(), Shared: gatewayBeacon{rd.Client()},
		OnDown: onDown, OnUp: onUp, Now: now, Logger: log.With("component", "smsgate")})
	sender := smsgate.NewSender(smsgate.SenderConfig{
		Client: client, Phone: phone, SIM: g.SIM, TTL: g.TTL.Std(), DeliveryReports: g.DeliveryReports,
		Limit: g.Limit, Period: g.LimitPeriod.Std(), Urgent: urgent, Fallback: fallback,
		IsStaff: isStaff, Now: now, Logger: log,
	})
	return &gateway{phone: phone, client: client, sender: sender}, nil
}

// state says how the phone is, for /readyz.
func (g *gateway) state() string {
	st := g.phone.State()
	heard := g.phone.LastHeard()
	switch {
	case heard.IsZero():
		return string(st) + " (not heard from since the start)"
	case st == smsgate.StateFailing:
		return string(st) + " (its last sends failed; heard " + time.Since(heard).Round(time.Second).String() + " ago)"
	}
	return string(st) + " (heard " + time.Since(heard).Round(time.Second).String() + " ago)"
}

// phoneNormalizer returns the SMS gateway's number normaliser: E.164 in
// region, "" for what is not a phone number. It remembers the last few
// thousand numbers it read: parsing one costs more than the rest of the
// webhook, and a person writes many messages.
func phoneNormalizer(region string) func(string) string {
	var mu sync.Mutex
	seen := map[string]string{}
	return func(raw string) string {
		mu.Lock()
		p, ok := seen[raw]
		mu.Unlock()
		if ok {
			return p
		}
		p, err := config.NormalizePhone(raw, region)
		if err != nil {
			p = ""
		}
		mu.Lock()
		if len(seen) >= 4096 {
			clear(seen)
		}
		seen[raw] = p
		mu.Unlock()
		return p
	}
}

// lateSender sends through the sender set last, or fails (bot.Temporary)
// while none is: the SMS gateway's WhatsApp fallback, which exists only
// once the WhatsApp channel has started.
type lateSender struct{ s bot.Sender }

func (l *lateSender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	if l.s == nil {
		return "", bot.E("fallback", bot.Temporary, errors.New("no WhatsApp channel"))
	}
	return l.s.Send(ctx, m)
}

// gatewayHeardKey holds when any serve last heard from the phone (Unix
// nanoseconds), so that every replica knows, whichever took the webhook.
const gatewayHeardKey = "aduan:smsgate:heard"

// gatewayBeacon is smsgate.Beacon on Redis.
type gatewayBeacon struct{ rc *goredis.Client }

// markLater sets KEYS[1] to ARGV[1] unless it holds a later time.
var markLater = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if not cur or tonumber(cur) < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1`)

func (b gatewayBeacon) Mark(ctx context.Context, t time.Time) error {
	return markLater.Run(ctx, b.rc, []string{gatewayHeardKey}, t.UnixNano(), int(downNoticeTTL/time.Second)).Err()
}

func (b gatewayBeacon) Last(ctx context.Context) (time.Time, error) {
	s, err := b.rc.Get(ctx, gatewayHeardKey).Result()
	if errors.Is(err, goredis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is not a time", gatewayHeardKey, s)
	}
	return time.Unix(0, n), nil
}

// smsgateDown tells the supervisors by WhatsApp, once per outage, that
// the SMS gateway phone is silent or fails to send. Without the WhatsApp
// channel there is no one to tell but the log (and /readyz, the metric).
func (s *server) smsgateDown(st smsgate.State) {
	if !s.app.cfg.WhatsApp.Enabled {
		s.app.log.Error("sms gateway phone is down and no WhatsApp channel can tell the supervisors", "state", st)
		return
	}
	s.tellDown(smsgateOutage, string(st), bot.WhatsApp, smsgateDownText(st, s.app.cfg.SMSGate.SilentAfter.Std()))
}

// smsgateUp sends at once what the outbox held back while the phone was
// down, and says once, by WhatsApp, that the phone is back, if an outage
// was told.
func (s *server) smsgateUp() {
	s.app.outbox.Poll()
	if !s.clearDownNotice(smsgateOutage) || !s.app.cfg.WhatsApp.Enabled {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := s.app.notifySupervisors(ctx, bot.WhatsApp, smsgateUpText); err != nil {
		s.app.log.Error("supervisors not told that the sms gateway phone is back", "err", err)
	}
}

// smsgateDownText is the WhatsApp message to supervisors when the phone
// goes down: in Indonesian, short, with what to do.
func smsgateDownText(st smsgate.State, silentAfter time.Duration) string {
	if st == smsgate.StateFailing {
		return "aduan: HP SMS kantor gagal mengirim SMS. Notifikasi petugas lewat WhatsApp dulu. Periksa pulsa, sinyal dan aplikasi SMS Gateway."
	}
	return "aduan: HP SMS kantor tidak menjawab sejak " + menit(silentAfter) +
		" (mati, tanpa sinyal/internet, atau aplikasi berhenti). Notifikasi petugas lewat WhatsApp dulu. Periksa HP itu."
}

// smsgateUpText says the phone is back.
const smsgateUpText = "aduan: HP SMS kantor aktif lagi. SMS berjalan seperti biasa."

// menit writes d in whole minutes, or seconds below one.
func menit(d time.Duration) string {
	if d < time.Minute {
		return strconv.Itoa(int(d/time.Second)) + " detik"
	}
	return strconv.Itoa(int(d/time.Minute)) + " menit"
}
