package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aduan/bot"
	"aduan/dialog"
	"aduan/dialog/flows"
	"aduan/internal/seal"
	"aduan/store/redis"
)

// redisMemReport is the outcome of the Redis memory measurement.
type redisMemReport struct {
	Conversations   int     `json:"conversations"`
	StateBytes      int     `json:"state_bytes"`
	StateStep       string  `json:"state_step"`
	StateAnswers    int     `json:"state_answers"`
	UsedBefore      int64   `json:"used_memory_before"`
	UsedAfter       int64   `json:"used_memory_after"`
	BytesPerConv    float64 `json:"bytes_per_conversation"`
	MemoryUsageMean float64 `json:"memory_usage_mean"` // MEMORY USAGE of a sample of keys
	Keys            int64   `json:"keys"`
	Seconds         float64 `json:"seconds"`
}

func redisMemCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("redis-mem", stderr)
	redisURL := fs.String("redis", defaultRedisURL, "Redis DB to fill; it is flushed before and after")
	n := fs.Int("conversations", 100_000, "live conversations to create")
	keep := fs.Bool("keep", false, "leave the conversations in Redis")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := redisMem(ctx, *redisURL, *n, *keep)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	rep.print(stdout)
	return nil
}

func (r redisMemReport) print(w io.Writer) {
	fmt.Fprintf(w, "Redis: %d live conversations (state at %s, %d answers, %d bytes encoded) took %d bytes of used_memory: %.0f bytes per conversation (MEMORY USAGE of one key: %.0f)\n",
		r.Conversations, r.StateStep, r.StateAnswers, r.StateBytes, r.UsedAfter-r.UsedBefore, r.BytesPerConv, r.MemoryUsageMean)
}

// redisMem creates n conversations through store/redis, as the service
// does (a lease taken and released with the state saved), each holding a
// state from the middle of a case report, and measures INFO memory before
// and after.
func redisMem(ctx context.Context, redisURL string, n int, keep bool) (redisMemReport, error) {
	rep := redisMemReport{Conversations: n}
	st, err := midConversation(time.Now())
	if err != nil {
		return rep, err
	}
	state, err := st.MarshalBinary()
	if err != nil {
		return rep, err
	}
	rep.StateBytes, rep.StateStep, rep.StateAnswers = len(state), st.Step, len(st.Answers)

	if err := flushRedis(ctx, redisURL); err != nil {
		return rep, err
	}
	convs, err := redis.Open(ctx, redisURL, redis.Options{Keyring: seal.Random()})
	if err != nil {
		return rep, err
	}
	defer convs.Close()
	rc := convs.Client()
	if !keep {
		defer rc.FlushDB(context.WithoutCancel(ctx))
	}
	if rep.UsedBefore, err = usedMemory(ctx, rc); err != nil {
		return rep, err
	}
	start := time.Now()
	const batch = 128
	ls := make([]bot.Lease, 0, batch)
	for i := 0; i < n; i += batch {
		ls = ls[:0]
		for j := i; j < min(i+batch, n); j++ {
			m := bot.Inbound{Channel: bot.SMS, From: "+62857" + fmt.Sprintf("%08d", j)}
			ls = append(ls, bot.Lease{Key: m.Key()})
		}
		if err := convs.Acquire(ctx, ls); err != nil {
			return rep, err
		}
		for k := range ls {
			if !ls[k].Held {
				return rep, fmt.Errorf("lease on %s not held", ls[k].Key)
			}
			ls[k].Save = state
		}
		if err := convs.Release(ctx, ls); err != nil {
			return rep, err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.UsedAfter, err = usedMemory(ctx, rc); err != nil {
		return rep, err
	}
	if rep.Keys, err = rc.DBSize(ctx).Result(); err != nil {
		return rep, err
	}
	if rep.Keys != int64(n) {
		return rep, fmt.Errorf("%d keys in the Redis DB after creating %d conversations", rep.Keys, n)
	}
	rep.BytesPerConv = float64(rep.UsedAfter-rep.UsedBefore) / float64(n)
	var sum int64
	const sample = 200
	for i := 0; i < sample; i++ {
		key, err := rc.RandomKey(ctx).Result()
		if err != nil {
			return rep, err
		}
		u, err := rc.MemoryUsage(ctx, key).Result()
		if err != nil {
			return rep, err
		}
		sum += u
	}
	rep.MemoryUsageMean = float64(sum) / sample
	return rep, nil
}

// usedMemory returns INFO memory's used_memory.
func usedMemory(ctx context.Context, rc *goredis.Client) (int64, error) {
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory has no used_memory")
}

// midConversation plays a citizen (the same one the load test plays)
// through the embedded flows and returns the state just before the
// message that would submit the report: the largest state a case report
// keeps.
func midConversation(now time.Time) (dialog.State, error) {
	book, err := flows.Load("")
	if err != nil {
		return dialog.State{}, err
	}
	var st, before dialog.State
	text := "halo"
	for turn := 0; turn < 40; turn++ {
		b, _ := st.MarshalBinary()
		if err := before.UnmarshalBinary(b); err != nil {
			before = dialog.State{}
		}
		res := book.Handle(&st, dialog.Input{Text: text}, now)
		if res.Submit != nil || len(res.Replies) == 0 {
			return before, nil
		}
		text = answer(res.Replies[len(res.Replies)-1], turn)
	}
	return dialog.State{}, errors.New("the case report flow did not submit within 40 messages")
}
