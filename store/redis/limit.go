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

	prefix := c.prefix + "limit:"
	b.buf = b.buf[:0]
	for _, k := range keys {
		b.buf = c.hashedKey(b.buf, &b.hash, prefix, k)
	}
	b.keyArgs = b.keyArgs[:0]
	n := len(prefix) + hashedKeySize
	for i := range keys {
		b.keyArgs = append(b.keyArgs, b.buf[i*n:(i+1)*n:(i+1)*n])
	}
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

// Allow counts one hit on each key (see Hits) and reports, for each,
// whether its hits in the current window are within limit. The caller
// that wants to say "please wait" once, and then stay silent, compares
// Hits' count with limit+1 instead.
func (c *Conversations) Allow(ctx context.Context, keys []string, limit int, window time.Duration) ([]bool, error) {
	hits, err := c.Hits(ctx, keys, window)
	if err != nil {
		return nil, err
	}
	ok := make([]bool, len(hits))
	for i, n := range hits {
		ok[i] = n <= int64(limit)
	}
	return ok, nil
}
