package redis

import (
	"context"
	"fmt"
	"time"

	"aduan/bot"

	goredis "github.com/redis/go-redis/v9"
)

// hitSrc counts a hit on the counter KEYS[1] and returns the count. The
// first hit starts the counter's window: it expires ARGV[1] ms later.
const hitSrc = `local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`

var hitSHA any = goredis.NewScript(hitSrc).Hash()

// takeSrc takes up to ARGV[4] units from the budget of ARGV[3] units in
// any window of ARGV[2] µs, at the caller's time ARGV[1] (µs), and returns
// how many it granted. KEYS[1] is a sorted set of the units taken, scored
// by when (a sliding window, exact at any instant); KEYS[2] numbers them.
const takeSrc = `local now, window, limit, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local grant = math.min(n, limit - redis.call('ZCARD', KEYS[1]))
if grant <= 0 then
  return 0
end
local last = redis.call('INCRBY', KEYS[2], grant)
local args = {}
for i = 1, grant do
  args[2*i-1] = now
  args[2*i] = last - grant + i
end
redis.call('ZADD', KEYS[1], unpack(args))
local ttl = math.ceil(window / 1000) + 1000
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return grant
`

var takeScript = goredis.NewScript(takeSrc)

// Take takes up to n units from the budget named key, of limit units in any
// window (a sliding window shared by every replica, exact at any instant),
// at now, and returns how many it granted: the first of n that fit. n is at
// most a batch (a few hundred): the units taken are kept, one entry each,
// for a window. Replicas must agree on the time to a few milliseconds.
// One round trip. Returns Invalid without a keyring and Unavailable if the
// server cannot be reached.
func (c *Conversations) Take(ctx context.Context, key string, n, limit int, window time.Duration, now time.Time) (int, error) {
	const op = "redis.Take"
	if c.keys == nil {
		return 0, bot.E(op, bot.Invalid, errNoKeyring)
	}
	if n <= 0 {
		return 0, nil
	}
	var h []byte
	set := string(c.hashedKey(nil, &h, c.prefix+"budget:", key))
	// Run sends the script itself if the server lost it (NOSCRIPT).
	v, err := takeScript.Run(ctx, c.client, []string{set, set + ":n"}, now.UnixMicro(), window.Microseconds(), limit, n).Result()
	if err != nil {
		return 0, bot.E(op, kindOf(err), fmt.Errorf("take %d of %s: %w", n, key, err))
	}
	got, ok := v.(int64)
	if !ok {
		return 0, bot.E(op, bot.Other, fmt.Errorf("take script: unexpected reply %T", v))
	}
	return int(got), nil
}

// Hits counts one hit on each key and returns, for each, the hits in its
// current window, this one included, in one round trip for the whole
// batch. A window starts at a key's first hit and lasts window (a fixed
// window: up to twice the hits can fall within one window's length across
// a boundary). Keys name what is limited (a sender, "global", ...); like
// conversation keys they are stored hashed, as <prefix>limit:<hash>.
// A key that appears twice is counted twice. Returns Invalid without a
// keyring and Unavailable if the server cannot be reached.
func (c *Conversations) Hits(ctx context.Context, keys []string, window time.Duration) ([]int64, error) {
	const op = "redis.Hits"
	if c.keys == nil {
		return nil, bot.E(op, bot.Invalid, errNoKeyring)
	}
	if len(keys) == 0 {
		return nil, nil
	}
	b := c.getScratch(len(keys))
	defer c.putScratch(b)

	b.hashedKeys(c.keys, len(keys), func(i int) string { return keys[i] }, c.prefix+"limit:")
	ms := any(max(window.Milliseconds(), 1))
	for i := range keys {
		args := b.args(5)
		args[0], args[1], args[2], args[3], args[4] = "evalsha", hitSHA, 1, &b.keyArgs[i], ms
		b.add(ctx, i, args)
	}
	c.exec(ctx, b, hitSrc)

	out := make([]int64, len(keys))
	for k, cmd := range b.cmds {
		if err := cmd.Err(); err != nil {
			return nil, bot.E(op, kindOf(err), fmt.Errorf("count %d hits: %w", len(keys), err))
		}
		v, ok := cmd.Val().(int64)
		if !ok {
			return nil, bot.E(op, bot.Other, fmt.Errorf("hit script: unexpected reply %T", cmd.Val()))
		}
		out[b.idx[k]] = v
	}
	return out, nil
}
