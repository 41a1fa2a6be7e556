// Package redis keeps conversation state in Redis. Each conversation has
// one state string and, while a message of it is being handled, a lease: a
// key holding the holder's token with a short TTL, so that one sender's
// messages are handled one at a time across all replicas.
//
// Keys, for a conversation key k and the prefix p (default "aduan:"):
//
//	<p>conv:<h>   the state, expiring StateTTL after it was last saved
//	<p>lease:<h>  the lease, expiring LeaseTTL after it was taken
//
// where h is the lookup hash of k (seal.Keyring.Hash, 120 bits in base64):
// a conversation key holds the sender's phone number, and Redis keeps no
// number in clear. The state is sealed (AES-256-GCM, bound to k), after
// compressing a large one, so that an unfinished report's free text is
// protected as the tickets are; a typical conversation costs Redis well
// under 1 KB. A state that does not open (sealed under a key no longer
// configured, or corrupted) reads as no state: the conversation starts
// over.
//
// Acquire and Release each cost one round trip for a whole batch: a
// pipeline of EVALSHA calls, one per lease, of two small Lua scripts.
// The two keys of a conversation do not share a hash slot, so this works
// on a single Redis server (or a replicated one), not on Redis Cluster.
package redis

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"aduan/bot"
	"aduan/internal/seal"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

var _ bot.Conversations = (*Conversations)(nil)

// acquireSrc takes the lease KEYS[1] with token ARGV[1] for ARGV[2] ms and
// returns the state KEYS[2]: the state as a string, 1 if there is none, or
// 0 if another holder has the lease. Finding its own token counts as taking
// the lease, so that a pipeline that go-redis retries after a lost reply
// does not lock its caller out until the lease expires.
const acquireSrc = `if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then
    return 0
  end
end
local s = redis.call('GET', KEYS[2])
if s then
  return s
end
return 1
`

// releaseSrc gives up the lease KEYS[1] if it still holds the token ARGV[1],
// after saving the state KEYS[2] as ARGV[3] for ARGV[4] ms (ARGV[2] == 's')
// or deleting it (ARGV[2] == 'd'). It returns 1 if it released the lease
// and 0, touching nothing, if the lease had passed to another holder.
const releaseSrc = `if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] == 'd' then
  redis.call('DEL', KEYS[2])
elseif ARGV[2] == 's' then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
end
redis.call('DEL', KEYS[1])
return 1
`

// The scripts' SHA1 digests, boxed once: converting a string variable to
// an interface allocates.
var (
	acquireSHA any = goredis.NewScript(acquireSrc).Hash()
	releaseSHA any = goredis.NewScript(releaseSrc).Hash()
)

// ReleaseSHA is the SHA1 of the script Release runs, as its EVALSHA
// names it: fault-injection tests drop or hold the writes carrying it.
func ReleaseSHA() string { return releaseSHA.(string) }

// Options configures Conversations. Zero values take the defaults.
type Options struct {
	Prefix   string        // prefix of every key; default "aduan:"
	StateTTL time.Duration // how long state lives after it was last saved; default 7 days
	LeaseTTL time.Duration // how long a lease lives if not released; default 10s
	// Keyring seals the state and hashes the keys. Required: Open refuses
	// to start without one, and Conversations made by New without one
	// refuse every Acquire and Release. Tests use seal.Random().
	Keyring *seal.Keyring
}

// Conversations is bot.Conversations on a Redis server. It is safe for
// concurrent use.
type Conversations struct {
	client      *goredis.Client
	keys        *seal.Keyring
	prefix      string // <prefix>
	leasePrefix string // <prefix>lease:
	convPrefix  string // <prefix>conv:
	leaseTTL    any    // int64 milliseconds, boxed once
	stateTTL    any    // int64 milliseconds, boxed once
	scratch     sync.Pool
}

// Open connects to the Redis server at url (redis://[user:password@]host:port/db,
// with go-redis's query options such as ?pool_size=) and checks that it
// answers. Settings the URL leaves out get values for a busy service: a
// pool of at least 4 connections per CPU, 2s dial, read and write
// timeouts, and context deadlines honoured. Returns Invalid for a bad URL
// or a missing Options.Keyring, and Unavailable, naming the address, if
// the server does not answer.
func Open(ctx context.Context, url string, opts Options) (*Conversations, error) {
	const op = "redis.Open"
	if opts.Keyring == nil {
		return nil, bot.E(op, bot.Invalid, errNoKeyring)
	}
	o, err := goredis.ParseURL(url)
	if err != nil {
		return nil, bot.E(op, bot.Invalid, fmt.Errorf("redis URL: %w", redactURLError(err)))
	}
	tune(o)
	c := goredis.NewClient(o)
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		return nil, bot.E(op, bot.Unavailable, fmt.Errorf("redis at %s: %w", o.Addr, err))
	}
	// Load the scripts now, so that the first batches find them cached.
	// Acquire and Release load them again if the server loses them.
	for _, src := range [...]string{acquireSrc, releaseSrc, hitSrc, takeSrc} {
		if err := c.ScriptLoad(ctx, src).Err(); err != nil {
			_ = c.Close()
			return nil, bot.E(op, kindOf(err), fmt.Errorf("redis at %s: load script: %w", o.Addr, err))
		}
	}
	return New(c, opts), nil
}

// redactURLError drops the URL from a url.Parse error: it may hold a
// password.
func redactURLError(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return ue.Err
	}
	return err
}

// tune fills in the client settings a URL left unset.
func tune(o *goredis.Options) {
	if o.PoolSize == 0 {
		o.PoolSize = max(16, 4*runtime.GOMAXPROCS(0))
	}
	// go-redis also retries the whole command (MaxRetries), so a few dial
	// attempts per try are enough to ride out a restart.
	if o.DialerRetries == 0 {
		o.DialerRetries = 2
	}
	if o.MinIdleConns == 0 {
		o.MinIdleConns = 2
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 2 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 2 * time.Second
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = 3 * time.Second
	}
	// Without this go-redis ignores the caller's context deadline on the
	// socket and waits for ReadTimeout instead.
	o.ContextTimeoutEnabled = true
	// The maintenance-notification handshake is for Redis Cloud and
	// Enterprise; on a plain server it costs a failed command per new
	// connection.
	if o.MaintNotificationsConfig == nil {
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}

// New returns Conversations on a client the caller made (the embedded demo
// connects one to miniredis). It does not contact the server; the scripts
// are loaded on first use. Close closes the client. Without
// opts.Keyring, Acquire and Release fail as Invalid.
func New(c *goredis.Client, opts Options) *Conversations {
	if opts.Prefix == "" {
		opts.Prefix = "aduan:"
	}
	if opts.StateTTL <= 0 {
		opts.StateTTL = 7 * 24 * time.Hour
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	return &Conversations{
		client:      c,
		keys:        opts.Keyring,
		prefix:      opts.Prefix,
		leasePrefix: opts.Prefix + "lease:",
		convPrefix:  opts.Prefix + "conv:",
		leaseTTL:    max(opts.LeaseTTL.Milliseconds(), 1),
		stateTTL:    max(opts.StateTTL.Milliseconds(), 1),
	}
}

// Client returns the underlying go-redis client.
func (c *Conversations) Client() *goredis.Client { return c.client }

// Close closes the client, also one that was passed to New.
func (c *Conversations) Close() error { return c.client.Close() }

// Ping reports whether the server answers. Returns Unavailable if not.
func (c *Conversations) Ping(ctx context.Context) error {
	if err := c.client.Ping(ctx).Err(); err != nil {
		return bot.E("redis.Ping", kindOf(err), err)
	}
	return nil
}

// Acquire tries to take the lease of each conversation in ls and, where it
// succeeds, loads the state, in one round trip. It sets Token, Held and
// State of each lease; State is nil if the conversation has none. If a key
// appears twice in ls, only the first is held.
//
// On error no lease is held: Acquire gives up, as well as it can, any it
// took (a lease it cannot reach expires after LeaseTTL). Returns
// Unavailable if the server cannot be reached.
func (c *Conversations) Acquire(ctx context.Context, ls []bot.Lease) error {
	if len(ls) == 0 {
		return nil
	}
	if c.keys == nil {
		return bot.E("redis.Acquire", bot.Invalid, errNoKeyring)
	}
	b := c.getScratch(len(ls))
	defer c.putScratch(b)

	b.tokens(ls)
	b.hashedKeys(c.keys, len(ls), func(i int) string { return ls[i].Key }, c.leasePrefix, c.convPrefix)
	for i := range ls {
		args := b.args(7)
		args[0], args[1], args[2] = "evalsha", acquireSHA, 2
		args[3], args[4] = &b.keyArgs[2*i], &b.keyArgs[2*i+1]
		args[5], args[6] = &ls[i].Token, c.leaseTTL
		b.add(ctx, i, args)
	}
	c.exec(ctx, b, acquireSrc)

	var err error
	sent := false // some command may have reached the server
	for k, cmd := range b.cmds {
		l := &ls[b.idx[k]]
		l.Held, l.State, l.Version, l.Lost = false, nil, 0, false
		if e := cmd.Err(); e != nil {
			err = firstErr(err, e)
			sent = sent || !unsent(e)
			continue
		}
		sent = true
		switch v := cmd.Val().(type) {
		case string:
			l.Held = true
			l.State, l.Version, l.Lost = c.open(b, l.Key, v)
		case int64:
			l.Held = v == 1
		default:
			err = firstErr(err, fmt.Errorf("acquire script: unexpected reply %T", v))
		}
	}
	if err != nil {
		// Some leases may have been taken (a reply lost after the server
		// ran the script), so release them all by token: a token that
		// never got its lease matches nothing.
		if sent {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = c.release(cctx, ls, true)
			cancel()
		}
		for i := range ls {
			ls[i].Held, ls[i].State = false, nil
		}
		return bot.E("redis.Acquire", kindOf(err), fmt.Errorf("acquire %d leases: %w", len(ls), err))
	}
	return nil
}

// Release saves (Save not nil) or deletes (Delete, which wins over Save)
// the state of each held lease in ls and gives up the lease, in one round
// trip, and marks it not held. Saving sets the state to expire StateTTL
// later. A lease that expired and passed to another holder is left alone,
// and so is its state: that write is lost.
//
// On error, a lease whose release failed stays marked held, and its state
// may or may not have been written; the lease expires after LeaseTTL. Returns Unavailable if
// the server cannot be reached.
func (c *Conversations) Release(ctx context.Context, ls []bot.Lease) error {
	if c.keys == nil {
		return bot.E("redis.Release", bot.Invalid, errNoKeyring)
	}
	if err := c.release(ctx, ls, false); err != nil {
		return bot.E("redis.Release", kindOf(err), err)
	}
	return nil
}

// release gives up the leases in ls that are held or, with abandon, all
// that have a token, leaving their state alone.
func (c *Conversations) release(ctx context.Context, ls []bot.Lease, abandon bool) error {
	b := c.getScratch(len(ls))
	defer c.putScratch(b)

	b.hashedKeys(c.keys, len(ls), func(i int) string { return ls[i].Key }, c.leasePrefix, c.convPrefix)
	if !abandon {
		c.sealStates(b, ls)
	}
	for i := range ls {
		l := &ls[i]
		if !l.Held && !(abandon && l.Token != "") {
			continue
		}
		var args []any
		switch {
		case !abandon && l.Delete:
			args = b.args(7)
			args[6] = "d"
		case !abandon && l.Save != nil:
			args = b.args(9)
			args[6], args[7], args[8] = "s", &b.sealed[i], c.stateTTL
		default: // the state stays as it is
			args = b.args(7)
			args[6] = "k"
		}
		args[0], args[1], args[2] = "evalsha", releaseSHA, 2
		args[3], args[4], args[5] = &b.keyArgs[2*i], &b.keyArgs[2*i+1], &l.Token
		b.add(ctx, i, args)
	}
	if len(b.cmds) == 0 {
		return nil
	}
	c.exec(ctx, b, releaseSrc)

	var err error
	for k, cmd := range b.cmds {
		if e := cmd.Err(); e != nil {
			err = firstErr(err, e)
			continue
		}
		if _, ok := cmd.Val().(int64); !ok {
			err = firstErr(err, fmt.Errorf("release script: unexpected reply %T", cmd.Val()))
			continue
		}
		if !abandon {
			ls[b.idx[k]].Held = false
		}
	}
	if err != nil {
		return fmt.Errorf("release %d leases: %w", len(b.cmds), err)
	}
	return nil
}

// exec runs the batch's commands in one pipeline. Commands that fail with
// NOSCRIPT (the server restarted, or SCRIPT FLUSH) did not run; exec loads
// the script and runs them again. Errors are left on the commands.
func (c *Conversations) exec(ctx context.Context, b *scratch, src string) {
	c.pipeline(ctx, b.cmders)
	var again []goredis.Cmder
	for k, cmd := range b.cmds {
		if !isNoScript(cmd.Err()) {
			continue
		}
		if again == nil {
			if err := c.client.ScriptLoad(ctx, src).Err(); err != nil {
				return
			}
		}
		cmd = goredis.NewCmd(ctx, cmd.Args()...)
		b.cmds[k], b.cmders[k] = cmd, cmd
		again = append(again, cmd)
	}
	if len(again) > 0 {
		c.pipeline(ctx, again)
	}
}

func (c *Conversations) pipeline(ctx context.Context, cmds []goredis.Cmder) {
	p := c.client.Pipeline()
	_ = p.BatchProcess(ctx, cmds...)
	// Exec's error is also set on the commands, where callers read it.
	_, _ = p.Exec(ctx)
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, goredis.ErrNoScript) || goredis.HasErrorPrefix(err, "NOSCRIPT"))
}

// unsent reports whether err says a command never left the client.
func unsent(err error) bool {
	if oe, ok := errors.AsType[*net.OpError](err); ok && oe.Op == "dial" {
		return true
	}
	return errors.Is(err, goredis.ErrPoolTimeout) || errors.Is(err, goredis.ErrClosed)
}

// firstErr keeps the first error.
func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// kindOf classifies a go-redis error: an error reply from the server is
// Other, the caller's cancellation is Other, anything else (refused,
// reset, timed out) means the server is Unavailable.
func kindOf(err error) bot.ErrorKind {
	if _, ok := errors.AsType[goredis.Error](err); ok {
		return bot.Other
	}
	if errors.Is(err, context.Canceled) {
		return bot.Other
	}
	return bot.Unavailable
}

// Tokens are a random per-process prefix and a counter: unique across
// processes without a round trip or a random read per lease.
var (
	tokenPrefix  = newTokenPrefix()
	tokenCounter atomic.Uint64
)

func newTokenPrefix() string {
	var b [9]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand.Read
	return base64.RawURLEncoding.EncodeToString(b[:]) + "."
}

// tokens gives each lease in ls a new token. The tokens share one string,
// so this allocates once per call.
func (b *scratch) tokens(ls []bot.Lease) {
	end := tokenCounter.Add(uint64(len(ls)))
	n := end - uint64(len(ls))
	b.buf, b.ends = b.buf[:0], b.ends[:0]
	for range ls {
		n++
		b.buf = append(b.buf, tokenPrefix...)
		b.buf = strconv.AppendUint(b.buf, n, 36)
		b.ends = append(b.ends, len(b.buf))
	}
	s := string(b.buf)
	start := 0
	for i := range ls {
		ls[i].Token = s[start:b.ends[i]]
		start = b.ends[i]
	}
}

// arg is a command argument go-redis writes as it is. A *arg fits in an
// interface without allocating, where a []byte or string would be copied
// to the heap.
type arg []byte

func (a *arg) MarshalBinary() ([]byte, error) { return *a, nil }

// scratch is the reusable memory of one Acquire or Release call.
type scratch struct {
	buf     []byte // all keys, back to back
	keyArgs []arg  // lease key, state key of each lease, in buf
	hash    []byte // one lookup hash
	state   seal.StateBuf
	sealBuf []byte // the sealed states, back to back
	sealed  []arg  // the sealed state of each lease, in sealBuf
	argBuf  []any  // the arguments of all commands
	cmds    []*goredis.Cmd
	cmders  []goredis.Cmder
	idx     []int // the lease of each command
	ends    []int // where each token ends in buf
}

func (c *Conversations) getScratch(n int) *scratch {
	b, _ := c.scratch.Get().(*scratch)
	if b == nil {
		b = new(scratch)
	}
	if cap(b.argBuf) < 9*n {
		b.argBuf = make([]any, 0, 9*n)
	}
	return b
}

func (c *Conversations) putScratch(b *scratch) {
	// Drop what points at the caller's leases or at results.
	clear(b.argBuf[:cap(b.argBuf)])
	clear(b.cmds)
	clear(b.cmders)
	clear(b.sealed)
	b.argBuf, b.cmds, b.cmders, b.idx = b.argBuf[:0], b.cmds[:0], b.cmders[:0], b.idx[:0]
	c.scratch.Put(b)
}

// hashedKeySize is the length of a hashed conversation key: 15 bytes of
// its lookup hash in unpadded base64.
const hashedKeySize = 20

// hashedKeys builds, for each of n conversation keys key(i), the key
// hashed behind each of the prefixes, all in buf: len(prefixes) keyArgs a
// conversation key.
func (b *scratch) hashedKeys(k *seal.Keyring, n int, key func(i int) string, prefixes ...string) {
	b.buf, b.keyArgs = b.buf[:0], b.keyArgs[:0]
	for i := range n {
		b.hash = k.AppendHash(b.hash[:0], key(i))
		for _, p := range prefixes {
			b.buf = append(b.buf, p...)
			b.buf = base64.RawURLEncoding.AppendEncode(b.buf, b.hash[:hashedKeySize*3/4])
		}
	}
	off := 0
	for range n {
		for _, p := range prefixes {
			end := off + len(p) + hashedKeySize
			b.keyArgs = append(b.keyArgs, b.buf[off:end:end])
			off = end
		}
	}
}

// args returns room for n arguments of one command. getScratch made
// argBuf big enough that it never grows, so earlier commands keep theirs.
func (b *scratch) args(n int) []any {
	l := len(b.argBuf)
	b.argBuf = b.argBuf[:l+n]
	return b.argBuf[l : l+n : l+n]
}

// add queues a command for lease i.
func (b *scratch) add(ctx context.Context, i int, args []any) {
	cmd := goredis.NewCmd(ctx, args...)
	b.cmds = append(b.cmds, cmd)
	b.cmders = append(b.cmders, cmd)
	b.idx = append(b.idx, i)
}
