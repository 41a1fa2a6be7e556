package redis_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
	"aduan/internal/seal"
	"aduan/internal/testenv"
	"aduan/store/redis"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"
)

// keys seals the test states; the lookup key stays the same for the whole
// process, so two Conversations made with it find each other's keys.
var keys = seal.Random()

// open returns Conversations on this package's Redis DB, flushed.
func open(t testing.TB, opts redis.Options) *redis.Conversations {
	t.Helper()
	ctx := context.Background()
	if opts.Keyring == nil {
		opts.Keyring = keys
	}
	c, err := redis.Open(ctx, testenv.RedisURL(1), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Client().FlushDB(ctx).Err(); err != nil {
		t.Fatalf("FLUSHDB: %v", err)
	}
	return c
}

// openMini returns Conversations on a fresh miniredis.
func openMini(t testing.TB, opts redis.Options) *redis.Conversations {
	t.Helper()
	m := miniredis.RunT(t)
	if opts.Keyring == nil {
		opts.Keyring = keys
	}
	c := redis.New(goredis.NewClient(&goredis.Options{Addr: m.Addr()}), opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func acquire(t testing.TB, c *redis.Conversations, keys ...string) []bot.Lease {
	t.Helper()
	ls := make([]bot.Lease, len(keys))
	for i, k := range keys {
		ls[i].Key = k
	}
	if err := c.Acquire(context.Background(), ls); err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return ls
}

func release(t testing.TB, c *redis.Conversations, ls ...bot.Lease) {
	t.Helper()
	if err := c.Release(context.Background(), ls); err != nil {
		t.Fatalf("Release: %v", err)
	}
	for i, l := range ls {
		if l.Held {
			t.Fatalf("lease %d after Release: Held = true, want false", i)
		}
	}
}

// waitHeld acquires key until it is held, failing after a deadline.
func waitHeld(t testing.TB, c *redis.Conversations, key string) bot.Lease {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ls := acquire(t, c, key)
		if ls[0].Held {
			return ls[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease %q still held by another after 5s", key)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onBoth runs fn as a subtest on Redis and on miniredis (the demo's).
func onBoth(t *testing.T, fn func(t *testing.T, c *redis.Conversations)) {
	for _, be := range []struct {
		name string
		open func(testing.TB, redis.Options) *redis.Conversations
	}{{"redis", open}, {"miniredis", openMini}} {
		t.Run(be.name, func(t *testing.T) { fn(t, be.open(t, redis.Options{})) })
	}
}

func TestBasic(t *testing.T) {
	onBoth(t, func(t *testing.T, c *redis.Conversations) {
		ls := acquire(t, c, "sms:+6281337785111", "whatsapp:+6281337785222")
		for i, l := range ls {
			if !l.Held || l.State != nil || l.Token == "" {
				t.Fatalf("lease %d on empty store: Held = %v, State = %q, Token = %q; want held, nil state, a token", i, l.Held, l.State, l.Token)
			}
		}
		if ls[0].Token == ls[1].Token {
			t.Errorf("tokens = %q, %q; want distinct", ls[0].Token, ls[1].Token)
		}

		again := acquire(t, c, "sms:+6281337785111")
		if again[0].Held {
			t.Fatalf("second Acquire while held: Held = true, want false")
		}

		ls[0].Save = []byte("state one")
		ls[1].Save = []byte{} // empty, but saved
		release(t, c, ls...)

		ls = acquire(t, c, "sms:+6281337785111", "whatsapp:+6281337785222", "sms:+6281337785333")
		wants := [][]byte{[]byte("state one"), {}, nil}
		for i, want := range wants {
			if !ls[i].Held {
				t.Fatalf("lease %d after Release: Held = false, want true", i)
			}
			if !bytes.Equal(ls[i].State, want) || (ls[i].State == nil) != (want == nil) {
				t.Errorf("lease %d: State = %q (nil %v), want %q (nil %v)", i, ls[i].State, ls[i].State == nil, want, want == nil)
			}
		}

		// Release without Save or Delete keeps the state.
		release(t, c, ls...)
		ls = acquire(t, c, "sms:+6281337785111")
		if got, want := string(ls[0].State), "state one"; got != want {
			t.Errorf("State after plain Release = %q, want %q", got, want)
		}

		ls[0].Delete = true
		ls[0].Save = []byte("ignored")
		release(t, c, ls...)
		ls = acquire(t, c, "sms:+6281337785111")
		if !ls[0].Held || ls[0].State != nil {
			t.Errorf("after Delete: Held = %v, State = %q; want held, nil", ls[0].Held, ls[0].State)
		}
		release(t, c, ls...)

		// Releasing leases that are not held is a no-op.
		release(t, c, bot.Lease{Key: "sms:+6281337785111"})

		// A key twice in one batch is held once.
		ls = acquire(t, c, "k", "k")
		if !ls[0].Held || ls[1].Held {
			t.Fatalf("Held = %v, %v; want true, false", ls[0].Held, ls[1].Held)
		}
		release(t, c, ls...)
		if got := acquire(t, c, "k"); !got[0].Held {
			t.Fatalf("Acquire after Release: Held = false, want true")
		}
	})
}

func TestKeysAndTTL(t *testing.T) {
	ctx := context.Background()
	stateTTL := time.Hour
	c := open(t, redis.Options{Prefix: "t:", StateTTL: stateTTL, LeaseTTL: 30 * time.Second})
	rdb := c.Client()

	leaseKey, stateKey := c.LeaseKey("sms:+62"), c.StateKey("sms:+62")
	for _, k := range []string{leaseKey, stateKey} {
		if !strings.HasPrefix(k, "t:") || strings.Contains(k, "+62") {
			t.Errorf("key %q: want the prefix and no number", k)
		}
	}
	ls := acquire(t, c, "sms:+62")
	lease, err := rdb.Get(ctx, leaseKey).Result()
	if err != nil {
		t.Fatalf("GET lease: %v", err)
	}
	if lease != ls[0].Token {
		t.Errorf("lease key = %q, want token %q", lease, ls[0].Token)
	}
	if pttl := rdb.PTTL(ctx, leaseKey).Val(); pttl <= 0 || pttl > 30*time.Second {
		t.Errorf("lease PTTL = %v, want in (0, 30s]", pttl)
	}

	ls[0].Save = []byte("s")
	release(t, c, ls...)
	if n := rdb.Exists(ctx, leaseKey).Val(); n != 0 {
		t.Errorf("lease key exists after Release: %d, want 0", n)
	}
	// 'v', version 0 as a uvarint, then the sealed form byte and state.
	if got := rdb.Get(ctx, stateKey).Val(); len(got) != 2+2+seal.Overhead || got[0] != 'v' || got[2] != seal.Version {
		t.Errorf("state key = %q, want the version and the state sealed", got)
	}
	pttl := rdb.PTTL(ctx, stateKey).Val()
	if pttl <= 0 || pttl > stateTTL {
		t.Fatalf("state PTTL = %v, want in (0, %v]", pttl, stateTTL)
	}

	// Saving again refreshes the TTL.
	if err := rdb.PExpire(ctx, stateKey, time.Minute).Err(); err != nil {
		t.Fatalf("PEXPIRE: %v", err)
	}
	ls = acquire(t, c, "sms:+62")
	ls[0].Save = []byte("s2")
	release(t, c, ls...)
	if pttl := rdb.PTTL(ctx, stateKey).Val(); pttl <= time.Minute || pttl > stateTTL {
		t.Errorf("state PTTL after second save = %v, want in (1m, %v]", pttl, stateTTL)
	}
}

func TestReleaseStaleLease(t *testing.T) {
	ctx := context.Background()
	c := open(t, redis.Options{LeaseTTL: 50 * time.Millisecond})
	other := open(t, redis.Options{}) // a second replica, with a long lease
	rdb := c.Client()

	ls := acquire(t, c, "k")
	ls[0].Save = []byte("orig")
	release(t, c, ls...)

	stale := acquire(t, c, "k")[0]
	if !stale.Held {
		t.Fatalf("Acquire: Held = false, want true")
	}
	current := waitHeld(t, other, "k") // after stale's lease expired
	if string(current.State) != "orig" || current.Token == stale.Token {
		t.Fatalf("other holder's State = %q, token %q; want %q and a token not the expired holder's %q",
			current.State, current.Token, "orig", stale.Token)
	}

	for _, l := range []bot.Lease{
		{Key: "k", Token: stale.Token, Held: true, Save: []byte("stale")},
		{Key: "k", Token: stale.Token, Held: true, Delete: true},
	} {
		sealed := rdb.Get(ctx, c.StateKey("k")).Val()
		release(t, c, l)
		if got := rdb.Get(ctx, c.LeaseKey("k")).Val(); got != current.Token {
			t.Fatalf("lease after stale Release = %q, want the other holder's %q", got, current.Token)
		}
		if got := rdb.Get(ctx, c.StateKey("k")).Val(); got != sealed {
			t.Fatalf("state changed by a stale Release")
		}
	}

	current.Save = []byte("new")
	release(t, other, current)
	if got := string(waitHeld(t, c, "k").State); got != "new" {
		t.Errorf("state after current Release = %q, want %q", got, "new")
	}
}

func TestScriptFlush(t *testing.T) {
	onBoth(t, func(t *testing.T, c *redis.Conversations) {
		ctx := context.Background()
		flush := func() {
			t.Helper()
			if err := c.Client().ScriptFlush(ctx).Err(); err != nil {
				t.Fatalf("SCRIPT FLUSH: %v", err)
			}
		}
		flush()
		ls := acquire(t, c, "a", "b")
		if !ls[0].Held || !ls[1].Held {
			t.Fatalf("Acquire after SCRIPT FLUSH: Held = %v, %v; want true, true", ls[0].Held, ls[1].Held)
		}
		flush()
		ls[0].Save, ls[1].Save = []byte("A"), []byte("B")
		release(t, c, ls...)
		flush()
		ls = acquire(t, c, "a", "b")
		if got := string(ls[0].State) + string(ls[1].State); got != "AB" {
			t.Errorf("states = %q, want %q", got, "AB")
		}
	})
}

// TestContention has goroutines on two "replicas" increment a counter kept
// in the state; each checks nobody else is inside while it holds the lease,
// and no increment may be lost.
func TestContention(t *testing.T) {
	replicas := []*redis.Conversations{open(t, redis.Options{}), open(t, redis.Options{})}
	const workers, rounds = 16, 25
	var inside, held atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, workers)
	for w := range workers {
		c := replicas[w%len(replicas)]
		wg.Go(func() {
			ctx := context.Background()
			for done := 0; done < rounds; {
				ls := []bot.Lease{{Key: "sms:+62hot"}}
				if err := c.Acquire(ctx, ls); err != nil {
					errs <- "Acquire: " + err.Error()
					return
				}
				if !ls[0].Held {
					continue
				}
				if n := inside.Add(1); n != 1 {
					errs <- "holders at once = " + strconv.FormatInt(n, 10) + ", want 1"
					return
				}
				n := 0
				if ls[0].State != nil {
					var err error
					if n, err = strconv.Atoi(string(ls[0].State)); err != nil {
						errs <- "state: " + err.Error()
						return
					}
				}
				ls[0].Save = strconv.AppendInt(nil, int64(n+1), 10)
				held.Add(1)
				inside.Add(-1)
				if err := c.Release(ctx, ls); err != nil {
					errs <- "Release: " + err.Error()
					return
				}
				done++
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	ls := acquire(t, replicas[0], "sms:+62hot")
	if got, want := string(ls[0].State), strconv.Itoa(workers*rounds); got != want || held.Load() != workers*rounds {
		t.Fatalf("counter = %s (held %d times), want %s", got, held.Load(), want)
	}
}

// TestAcquireFails has one lease of a batch fail after the others were
// taken: Acquire must give back those it took.
func TestAcquireFails(t *testing.T) {
	ctx := context.Background()
	c := open(t, redis.Options{})
	rdb := c.Client()
	if err := rdb.HSet(ctx, c.StateKey("b"), "f", "v").Err(); err != nil { // GET fails: WRONGTYPE
		t.Fatalf("HSET: %v", err)
	}
	ls := []bot.Lease{{Key: "a"}, {Key: "b"}, {Key: "c"}}
	err := c.Acquire(ctx, ls)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") {
		t.Fatalf("Acquire error = %v, want WRONGTYPE", err)
	}
	if got, want := bot.KindOf(err), bot.Other; got != want {
		t.Errorf("KindOf = %v, want %v", got, want)
	}
	for i, l := range ls {
		if l.Held {
			t.Errorf("lease %d: Held = true, want false", i)
		}
	}
	if n := rdb.Exists(ctx, c.LeaseKey("a"), c.LeaseKey("b"), c.LeaseKey("c")).Val(); n != 0 {
		t.Errorf("lease keys left after failed Acquire = %d, want 0", n)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		url      string
		wantKind bot.ErrorKind
		wantText string
	}{
		{"unreachable", "redis://127.0.0.1:1/0", bot.Unavailable, "127.0.0.1:1"},
		{"bad scheme", "http://127.0.0.1:6379/0", bot.Invalid, "scheme"},
		{"bad URL keeps password out", "redis://user:s3cret@[::1/0", bot.Invalid, "redis URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := redis.Open(ctx, tt.url, redis.Options{Keyring: keys})
			if err == nil {
				c.Close()
				t.Fatalf("Open(%q) error = nil, want %v", tt.url, tt.wantKind)
			}
			if got := bot.KindOf(err); got != tt.wantKind {
				t.Errorf("KindOf = %v, want %v (%v)", got, tt.wantKind, err)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("error = %q, want it to mention %q", err, tt.wantText)
			}
			t.Logf("error: %v", err)
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error = %q, shows the password", err)
			}
		})
	}
}

func TestDown(t *testing.T) {
	ctx := context.Background()
	m := miniredis.RunT(t)
	c := redis.New(goredis.NewClient(&goredis.Options{Addr: m.Addr(), MaxRetries: -1, DialerRetries: 1}), redis.Options{Keyring: keys})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	m.Close()
	if err := c.Ping(ctx); bot.KindOf(err) != bot.Unavailable {
		t.Errorf("Ping with server down: KindOf(%v) = %v, want %v", err, bot.KindOf(err), bot.Unavailable)
	}
	ls := []bot.Lease{{Key: "a"}, {Key: "b"}}
	if err := c.Acquire(ctx, ls); bot.KindOf(err) != bot.Unavailable {
		t.Errorf("Acquire with server down: KindOf(%v) = %v, want %v", err, bot.KindOf(err), bot.Unavailable)
	}
	for i, l := range ls {
		if l.Held {
			t.Errorf("lease %d after failed Acquire: Held = true, want false", i)
		}
	}
	ls = []bot.Lease{{Key: "a", Token: "t", Held: true, Save: []byte("x")}}
	if err := c.Release(ctx, ls); bot.KindOf(err) != bot.Unavailable {
		t.Errorf("Release with server down: KindOf(%v) = %v, want %v", err, bot.KindOf(err), bot.Unavailable)
	}
	if !ls[0].Held {
		t.Errorf("lease after failed Release: Held = false, want true")
	}
}

func BenchmarkAcquireRelease(b *testing.B) {
	const n = 64
	c := open(b, redis.Options{})
	ctx := context.Background()
	ls := make([]bot.Lease, n)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "sms:+62813377" + strconv.Itoa(10000+i)
	}
	state := bytes.Repeat([]byte("x"), 200)
	b.ReportAllocs()
	for b.Loop() {
		for i := range ls {
			ls[i] = bot.Lease{Key: keys[i]}
		}
		if err := c.Acquire(ctx, ls); err != nil {
			b.Fatal(err)
		}
		for i := range ls {
			if !ls[i].Held {
				b.Fatalf("lease %d not held", i)
			}
			ls[i].Save = state
		}
		if err := c.Release(ctx, ls); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/lease")
}
