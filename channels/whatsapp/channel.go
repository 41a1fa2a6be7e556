package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"aduan/bot"
	"aduan/channels/webhook"
)

// Pipeline is what the channel hands inbound messages to; *bot.Service
// implements it. Handle returns once m is durably recorded (or found to
// be a redelivery); an error means nothing was stored.
type Pipeline = webhook.Pipeline

// StatusRecorder stores delivery reports; bot.Store implements it.
type StatusRecorder = webhook.StatusRecorder

// Config configures a Channel. Pipeline, Open and Lease are required.
type Config struct {
	// Pipeline receives inbound messages.
	Pipeline Pipeline
	// Open returns a client for the paired device, or ErrNotPaired.
	// Devices.Open is the real one.
	Open func(ctx context.Context) (Client, error)
	// Lease decides whether this process may connect.
	Lease Lease
	// Send configures the channel's Sender (its Client is set by New).
	Send SenderConfig
	// Statuses records read receipts of sent messages; nil drops them.
	Statuses StatusRecorder
	// OnDown is called, from Run's goroutine, when the channel goes down
	// for a reason that needs a person: logged out, banned, replaced by
	// another connection, outdated. It is called once per outage: not
	// again until the channel has been connected again.
	OnDown func(reason string)
	// OnUp is called, from Run's goroutine, when the channel connects
	// after an outage for which OnDown was called, and on its first
	// connection in Run: an outage told by an earlier process, or by
	// another replica, is over too. OnDown and OnUp together let a caller
	// keep the "told" mark of an outage outside the process.
	OnUp func()
	// Logger receives the channel's logs; nil discards them.
	Logger *slog.Logger
	// Now stamps inbound messages; nil means time.Now.
	Now func() time.Time

	// MediaMaxBytes is the largest attachment accepted; default 16 MiB.
	MediaMaxBytes int64
	// TooLarge is the reply to a larger one; default DefaultTooLarge.
	TooLarge string
	// FetchFailed is the reply to an attachment that could not be
	// downloaded; default DefaultFetchFailed.
	FetchFailed string
	// DownloadTimeout bounds one attachment's download (whatsmeow retries
	// within it); default 45s. Messages are handled one at a time, so it
	// also bounds how long one file can hold up the others.
	DownloadTimeout time.Duration
	// MarkRead marks a message read once it is stored.
	MarkRead bool

	// HandleTimeout bounds one Pipeline.Handle; default 30s.
	HandleTimeout time.Duration
	// HandleAttempts is how often Handle is tried before the message is
	// left unacknowledged for WhatsApp to deliver again; default 3, with
	// RetryWait (default 500ms), doubling, between attempts.
	HandleAttempts int
	RetryWait      time.Duration
	// Redeliver is how long after a message was left unacknowledged the
	// channel reconnects, which makes WhatsApp deliver it again; default
	// 1 minute.
	Redeliver time.Duration
	// ReconnectMin and ReconnectMax bound the backoff between connection
	// attempts; default 2s and 5m.
	ReconnectMin, ReconnectMax time.Duration
	// PairPoll is how often an unpaired channel looks for a paired device
	// (the lease is free meanwhile, for `aduan whatsapp pair`); default 30s.
	PairPoll time.Duration
}

// DefaultTooLarge is the reply to an attachment over the size limit.
const DefaultTooLarge = "Maaf, berkas ini terlalu besar untuk kami terima (batas %d MB). " +
	"Kirim berkas yang lebih kecil, atau ceritakan dengan tulisan. / " +
	"Sorry, this file is too large for us (limit %d MB). Send a smaller one, or write it in words."

// Channel holds the WhatsApp connection of this process while it holds the
// Lease, and hands citizens' messages to the pipeline. Run drives it.
type Channel struct {
	cfg    Config
	log    *slog.Logger
	sender *Sender

	state    atomic.Value // State
	reason   atomic.Value // string: why the channel is down
	current  atomic.Pointer[clientBox]
	notified bool // OnDown was called for the present outage (Run's goroutine only)
	upOwed   bool // OnUp is due at the next connection (Run's goroutine only)

	statuses chan receipt
	wg       sync.WaitGroup

	fetchMu    sync.Mutex
	fetchFails map[types.MessageID]int // passing download failures, by message
}

type clientBox struct{ Client }

type receipt struct {
	id, status string
	at         time.Time
	tries      int
}

// New returns a Channel for cfg. It panics if Pipeline, Open or Lease is
// nil: wiring mistakes.
func New(cfg Config) *Channel {
	if cfg.Pipeline == nil || cfg.Open == nil || cfg.Lease == nil {
		panic("whatsapp: New needs Pipeline, Open and Lease")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MediaMaxBytes <= 0 {
		cfg.MediaMaxBytes = 16 << 20
	}
	if cfg.TooLarge == "" {
		mb := (cfg.MediaMaxBytes + 1<<20 - 1) >> 20
		cfg.TooLarge = fmt.Sprintf(DefaultTooLarge, mb, mb)
	}
	if cfg.FetchFailed == "" {
		cfg.FetchFailed = DefaultFetchFailed
	}
	if cfg.DownloadTimeout <= 0 {
		cfg.DownloadTimeout = 45 * time.Second
	}
	if cfg.HandleTimeout <= 0 {
		cfg.HandleTimeout = 30 * time.Second
	}
	if cfg.HandleAttempts <= 0 {
		cfg.HandleAttempts = 3
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 500 * time.Millisecond
	}
	if cfg.Redeliver <= 0 {
		cfg.Redeliver = time.Minute
	}
	if cfg.ReconnectMin <= 0 {
		cfg.ReconnectMin = 2 * time.Second
	}
	if cfg.ReconnectMax < cfg.ReconnectMin {
		cfg.ReconnectMax = max(5*time.Minute, cfg.ReconnectMin)
	}
	if cfg.PairPoll <= 0 {
		cfg.PairPoll = 30 * time.Second
	}
	if cfg.Send.Logger == nil {
		cfg.Send.Logger = cfg.Logger
	}
	c := &Channel{cfg: cfg, log: cfg.Logger.With("component", "whatsapp"), statuses: make(chan receipt, 1024)}
	c.state.Store(StateStopped)
	c.reason.Store("")
	c.cfg.Send.Client = c.Client
	c.sender = NewSender(c.cfg.Send)
	return c
}

// Sender returns the channel's sender: bot.Sender and bot.Wiper.
func (c *Channel) Sender() *Sender { return c.sender }

// State returns where the connection stands.
func (c *Channel) State() State { return c.state.Load().(State) }

// Reason returns why the channel is down, or "".
func (c *Channel) Reason() string { return c.reason.Load().(string) }

// Up reports whether messages can be sent now.
func (c *Channel) Up() bool { return c.State() == StateConnected }

// Client returns the connected client, or nil when not connected.
func (c *Channel) Client() Client {
	if c.State() != StateConnected {
		return nil
	}
	if b := c.current.Load(); b != nil {
		return b.Client
	}
	return nil
}

func (c *Channel) setState(s State, reason string) {
	if old := c.State(); old != s {
		c.log.Info("whatsapp state", "from", string(old), "to", string(s), "reason", reason)
	}
	c.reason.Store(reason)
	c.state.Store(s)
}

// Run holds the connection while this process holds the lease, until ctx
// is done: it connects, reconnects with backoff after drops, and stands by
// while another process holds the lease or no device is paired. It
// returns nil once ctx is done and the connection is closed.
func (c *Channel) Run(ctx context.Context) error {
	c.wg.Add(1)
	go c.recordStatuses(ctx)
	defer c.wg.Wait()
	defer c.setState(StateStopped, "")
	c.upOwed = true
	for ctx.Err() == nil {
		// Unpaired, logged out or replaced stays so while the lease is
		// taken again, so that the state does not flicker.
		if s := c.State(); s == StateStopped || s == StateConnecting || s == StateConnected {
			c.setState(StateStandby, "")
		}
		lost, err := c.cfg.Lease.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c.log.Warn("whatsapp lease not taken", "err", err)
			if !wait(ctx, c.cfg.ReconnectMin) {
				return nil
			}
			continue
		}
		next := c.hold(ctx, lost)
		c.cfg.Lease.Release()
		if next > 0 && !wait(ctx, next) {
			return nil
		}
	}
	return nil
}

func wait(ctx context.Context, d time.Duration) bool {
	return sleep(ctx, d) == nil
}

// connEvent is a connection event, passed from whatsmeow's goroutines to
// Run's.
type connEvent struct {
	kind   connKind
	reason string
	retry  time.Duration // banned: when to try again; zero means not by itself
}

type connKind int

const (
	evConnected connKind = iota
	evDisconnected
	evRedeliver // a message was left unacknowledged
	evStale     // keepalives fail: the connection is dead but not closed
	evLoggedOut
	evBanned
	evReplaced
	evOutdated
	evFailure
)

// hold runs the connection while the lease is held. It returns how long to
// wait before taking the lease again.
func (c *Channel) hold(ctx context.Context, lost <-chan struct{}) time.Duration {
	cli, err := c.cfg.Open(ctx)
	if errors.Is(err, ErrNotPaired) {
		if c.State() != StateLoggedOut {
			c.setState(StateUnpaired, "no device paired: run aduan whatsapp pair")
		}
		return c.cfg.PairPoll
	}
	if err != nil {
		c.log.Error("whatsapp device store", "err", err)
		return c.cfg.ReconnectMin
	}
	evc := make(chan connEvent, 16)
	done := make(chan struct{})
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool { return c.handleEvent(cli, evt, evc, done) })
	c.current.Store(&clientBox{cli})
	defer func() {
		c.current.Store(nil)
		close(done)
		cli.Disconnect()
	}()

	b := backoff{min: c.cfg.ReconnectMin, max: c.cfg.ReconnectMax}
	retry := time.NewTimer(0)
	defer retry.Stop()
	redeliver := time.NewTimer(time.Hour)
	redeliver.Stop()
	defer redeliver.Stop()
	redeliverPending := false
	c.setState(StateConnecting, "")
	for {
		select {
		case <-ctx.Done():
			return 0
		case <-lost:
			c.log.Warn("whatsapp lease lost: disconnecting")
			c.setState(StateStandby, "")
			return 0
		case <-retry.C:
			if err := cli.Connect(); err != nil && !errors.Is(err, whatsmeow.ErrAlreadyConnected) {
				d := b.next()
				c.log.Warn("whatsapp connect failed", "err", maskDigits(err.Error()), "retry_in", d)
				retry.Reset(d)
			}
		case <-redeliver.C:
			redeliverPending = false
			if c.State() == StateConnected {
				c.log.Info("whatsapp reconnecting to get unacknowledged messages again")
				cli.Disconnect()
				c.setState(StateConnecting, "")
				retry.Reset(0)
			}
		case ev := <-evc:
			switch ev.kind {
			case evConnected:
				b.reset()
				c.notified = false
				c.setState(StateConnected, "")
				if c.upOwed {
					c.upOwed = false
					if c.cfg.OnUp != nil {
						c.cfg.OnUp()
					}
				}
			case evDisconnected:
				if s := c.State(); s == StateConnected || s == StateConnecting {
					d := b.next()
					c.setState(StateConnecting, "")
					retry.Reset(d)
				}
			case evStale:
				if c.State() == StateConnected {
					c.log.Warn("whatsapp connection stale: reconnecting")
					cli.Disconnect()
					c.setState(StateConnecting, "")
					retry.Reset(b.next())
				}
			case evRedeliver:
				if !redeliverPending {
					redeliverPending = true
					redeliver.Reset(c.cfg.Redeliver)
				}
			case evLoggedOut:
				// whatsmeow has deleted the device: it must be paired again.
				c.down(StateLoggedOut, ev.reason)
				return c.cfg.PairPoll
			case evBanned:
				c.down(StateBanned, ev.reason)
				cli.Disconnect()
				retry.Stop()
				if ev.retry > 0 {
					retry.Reset(ev.retry + time.Minute)
				}
			case evReplaced, evOutdated:
				// Reconnecting would fight the other connection, or fail
				// again: wait for an operator.
				c.down(stateOf(ev.kind), ev.reason)
				retry.Stop()
			case evFailure:
				c.down(StateDown, ev.reason)
				cli.Disconnect()
				retry.Reset(b.next())
			}
		}
	}
}

func stateOf(k connKind) State {
	if k == evReplaced {
		return StateReplaced
	}
	return StateDown
}

// down marks the channel down and tells OnDown, once per outage; OnUp is
// then due at the next connection.
func (c *Channel) down(s State, reason string) {
	c.setState(s, reason)
	c.log.Error("whatsapp down", "state", string(s), "reason", reason)
	if c.notified {
		return
	}
	c.notified = true
	c.upOwed = true
	if c.cfg.OnDown != nil {
		c.cfg.OnDown(reason)
	}
}

// backoff doubles from min to max, with a little jitter.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.n, 20)
	if d <= 0 || d > b.max {
		d = b.max
	}
	b.n++
	return d + time.Duration(rand.Int64N(int64(d/10)+1))
}

func (b *backoff) reset() { b.n = 0 }

// post hands a connection event to Run's goroutine.
func post(evc chan<- connEvent, done <-chan struct{}, ev connEvent) {
	select {
	case evc <- ev:
	case <-done:
	}
}

// handleEvent is the one event handler: it dispatches whatsmeow's events
// to the handleX methods. Its result is whether a message may be
// acknowledged.
func (c *Channel) handleEvent(cli Client, evt any, evc chan<- connEvent, done <-chan struct{}) bool {
	switch evt := evt.(type) {
	case *events.Message:
		ok := c.handleMessage(cli, evt)
		if !ok {
			post(evc, done, connEvent{kind: evRedeliver})
		}
		return ok
	case *events.Receipt:
		c.handleReceipt(evt)
	case *events.Connected:
		post(evc, done, connEvent{kind: evConnected})
	case *events.Disconnected:
		post(evc, done, connEvent{kind: evDisconnected})
	case *events.LoggedOut:
		post(evc, done, connEvent{kind: evLoggedOut, reason: "logged out (" + evt.Reason.String() +
			"): the device was unlinked; pair again with aduan whatsapp pair"})
	case *events.TemporaryBan:
		post(evc, done, connEvent{kind: evBanned, reason: evt.String(), retry: evt.Expire})
	case *events.StreamReplaced:
		post(evc, done, connEvent{kind: evReplaced,
			reason: "stream replaced: another program connected with this device's keys"})
	case *events.ClientOutdated:
		post(evc, done, connEvent{kind: evOutdated,
			reason: "WhatsApp refuses this client version: update aduan (whatsmeow)"})
	case *events.ConnectFailure:
		post(evc, done, connEvent{kind: evFailure, reason: evt.PermanentDisconnectDescription()})
	case *events.CATRefreshError:
		post(evc, done, connEvent{kind: evFailure, reason: evt.PermanentDisconnectDescription()})
	case *events.KeepAliveTimeout:
		c.log.Warn("whatsapp keepalive timed out", "errors", evt.ErrorCount)
		if evt.ErrorCount >= staleAfter {
			post(evc, done, connEvent{kind: evStale})
		}
	case *events.KeepAliveRestored:
		c.log.Info("whatsapp keepalive restored")
	case *events.UndecryptableMessage:
		c.log.Warn("whatsapp message could not be decrypted", "id", evt.Info.ID, "unavailable", evt.IsUnavailable)
	case *events.StreamError:
		c.log.Warn("whatsapp stream error", "code", evt.Code)
	default:
		if c.log.Enabled(context.Background(), slog.LevelDebug) {
			c.log.Debug("whatsapp event not handled", "type", fmt.Sprintf("%T", evt))
		}
	}
	return true
}

// staleAfter is how many keepalives in a row may fail before the channel
// reconnects (whatsmeow pings every 20 to 30 seconds).
const staleAfter = 3

// handleMessage hands a citizen's message to the pipeline. It returns
// false, so that WhatsApp delivers the message again later, only when the
// pipeline failed to store it.
func (c *Channel) handleMessage(cli Client, evt *events.Message) bool {
	info := &evt.Info
	if why := ignoreReason(evt); why != "" {
		if exp, ok := expiration(evt.Message); ok && !info.IsFromMe && !info.IsGroup {
			if addr := phoneOf(info); addr != "" {
				c.sender.setExpiry(addr, exp)
			}
		}
		c.log.Debug("whatsapp message ignored", "id", info.ID, "why", why)
		return true
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.HandleTimeout)
	defer cancel()
	from := c.senderAddr(ctx, cli, info)
	if from == "" {
		c.log.Warn("whatsapp message from an unknown kind of sender ignored", "id", info.ID, "server", info.Sender.Server)
		return true
	}
	if exp, ok := expiration(evt.Message); ok {
		c.sender.setExpiry(from, exp)
	}
	body := extract(evt.Message, c.cfg.MediaMaxBytes)
	if err := c.sender.Contacts().Add(ctx, from); err != nil {
		c.log.Warn("whatsapp contact not remembered", "from", bot.Mask(from), "err", err)
	}
	if body.tooLarge {
		c.tooLarge(from, body.kind)
		if body.text == "" {
			c.markRead(cli, info)
			return true
		}
	}
	files, got := c.fetch(cli, info, from, &body)
	switch {
	case got == later:
		return false
	case got == refused && body.text == "":
		c.markRead(cli, info)
		return true
	}
	c.typing(ctx, cli, info, from)
	in := bot.Inbound{
		Channel:    bot.WhatsApp,
		ExternalID: info.ID,
		From:       from,
		To:         addressOf(cli.OwnJID()),
		Text:       body.text,
		Media:      body.media,
		Files:      files,
		Received:   c.cfg.Now(),
	}
	if err := c.handle(ctx, in); err != nil {
		c.log.Error("whatsapp message not stored; WhatsApp will deliver it again", "id", info.ID,
			"from", bot.Mask(from), "kind", body.kind, "err", err)
		return false
	}
	c.markRead(cli, info)
	return true
}

// phoneOf is senderAddr without the LID lookup, for ignored messages.
func phoneOf(info *types.MessageInfo) string {
	for _, j := range []types.JID{info.Sender, info.SenderAlt} {
		if j.Server == types.DefaultUserServer {
			return addressOf(j.ToNonAD())
		}
	}
	return ""
}

// senderAddr resolves the sender to the phone number the same person has
// on SMS, also when WhatsApp addresses them by a LID (@lid): from the
// message's alternative address, else from the device store's LID map.
// A LID with no known number stays a "lid:" address, which still works
// for replies.
func (c *Channel) senderAddr(ctx context.Context, cli Client, info *types.MessageInfo) string {
	var lid types.JID
	for _, j := range []types.JID{info.Sender, info.SenderAlt, info.Chat} {
		switch j.Server {
		case types.DefaultUserServer:
			return addressOf(j.ToNonAD())
		case types.HiddenUserServer:
			if lid.IsEmpty() {
				lid = j.ToNonAD()
			}
		}
	}
	if lid.IsEmpty() {
		return ""
	}
	pn, err := cli.PNForLID(ctx, lid)
	if err != nil {
		c.log.Warn("whatsapp LID lookup failed", "id", info.ID, "err", maskDigits(err.Error()))
	}
	if err == nil && pn.Server == types.DefaultUserServer && pn.User != "" {
		return addressOf(pn.ToNonAD())
	}
	c.log.Warn("whatsapp sender has no known phone number; answering on the LID", "id", info.ID)
	return addressOf(lid)
}

// handle calls the pipeline, trying again a few times on failure.
func (c *Channel) handle(ctx context.Context, in bot.Inbound) error {
	var err error
	pause := c.cfg.RetryWait
	for attempt := 1; ; attempt++ {
		if err = c.cfg.Pipeline.Handle(ctx, in); err == nil {
			return nil
		}
		if attempt >= c.cfg.HandleAttempts || bot.KindOf(err) == bot.Invalid || !wait(ctx, pause) {
			return err
		}
		pause *= 2
	}
}

// typing shows "typing..." before the pipeline runs, so that it shows
// before the replies the pipeline sends.
func (c *Channel) typing(ctx context.Context, cli Client, info *types.MessageInfo, from string) {
	if c.sender.cfg.Typing <= 0 {
		return
	}
	now := c.cfg.Now()
	if err := cli.SendChatPresence(ctx, info.Chat, types.ChatPresenceComposing, types.ChatPresenceMediaText); err != nil {
		c.log.Debug("whatsapp typing not shown", "err", maskDigits(err.Error()))
		return
	}
	c.sender.typingStarted(from, now)
}

// markRead sends the read receipt for a stored message.
func (c *Channel) markRead(cli Client, info *types.MessageInfo) {
	if !c.cfg.MarkRead {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cli.MarkRead(ctx, []types.MessageID{info.ID}, c.cfg.Now(), info.Chat, info.Sender); err != nil {
		c.log.Debug("whatsapp read receipt not sent", "id", info.ID, "err", maskDigits(err.Error()))
	}
}

// tooLarge tells the sender, in the background, that an attachment was too
// large to accept.
func (c *Channel) tooLarge(to, kind string) {
	c.log.Info("whatsapp attachment too large", "from", bot.Mask(to), "kind", kind, "limit", c.cfg.MediaMaxBytes)
	c.notice(to, c.cfg.TooLarge, "too-large notice")
}

// handleReceipt queues the delivery and read receipts of sent messages
// for recording; when the queue is full they are dropped (they are only
// informative).
func (c *Channel) handleReceipt(evt *events.Receipt) {
	if c.cfg.Statuses == nil || evt.IsFromMe || evt.IsGroup {
		return
	}
	var status string
	switch evt.Type {
	case types.ReceiptTypeDelivered:
		status = "delivered"
	case types.ReceiptTypeRead:
		status = "read"
	case types.ReceiptTypePlayed:
		status = "played"
	default:
		return
	}
	for _, id := range evt.MessageIDs {
		select {
		case c.statuses <- receipt{id: id, status: status, at: evt.Timestamp}:
		default:
			return
		}
	}
}

// receiptRetry is how long a receipt for a message the outbox does not
// know yet waits before it is tried again: WhatsApp's delivery receipt can
// come before the outbox has recorded the message's ID.
const receiptRetry = time.Second

// recordStatuses writes queued receipts until ctx is done.
func (c *Channel) recordStatuses(ctx context.Context) {
	defer c.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-c.statuses:
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.cfg.Statuses.RecordStatus(rctx, r.id, r.status, r.at)
			cancel()
			switch {
			case err == nil:
			case bot.KindOf(err) == bot.NotFound:
				if r.tries < 3 {
					r.tries++
					time.AfterFunc(receiptRetry, func() {
						select {
						case c.statuses <- r:
						default:
						}
					})
				}
			default:
				c.log.Warn("whatsapp receipt not recorded", "id", r.id, "err", err)
			}
		}
	}
}
