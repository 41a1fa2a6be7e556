package bot_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aduan/bot"
)

// downStore is the store with PostgreSQL stopped while down is set: the
// outbox can be neither read nor written.
type downStore struct {
	bot.Store
	down    atomic.Bool
	refused atomic.Int64 // Settle calls refused
}

var errDown = bot.E("postgres", bot.Unavailable, errors.New("connection refused"))

func (s *downStore) Settle(ctx context.Context, ds []bot.Delivery) error {
	if s.down.Load() {
		s.refused.Add(1)
		return errDown
	}
	return s.Store.Settle(ctx, ds)
}

func (s *downStore) DueOutbound(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]bot.Outbound, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.DueOutbound(ctx, now, lease, limit)
}

// slowSender takes 1.5 s per send, as a slow provider does, and counts
// the sends of each outbox message.
type slowSender struct {
	mu    sync.Mutex
	sends map[int64]int
	start chan struct{} // closed at the first send
	once  sync.Once
}

func (s *slowSender) Send(ctx context.Context, m bot.Outbound) (string, error) {
	s.once.Do(func() { close(s.start) })
	s.mu.Lock()
	s.sends[m.ID]++
	s.mu.Unlock()
	time.Sleep(1500 * time.Millisecond)
	return fmt.Sprintf("SMslow%d", m.ID), nil
}

// TestSettleOutageSendsOnce is issue 13's third failure: with sends taking
// 1.5 s and PostgreSQL down from 0.3 s into them for longer than the
// outbox claim, the outcomes could not be recorded and were dropped, and
// the messages were sent again once their claim ran out (40 replies, 80
// SMS). Now the outcomes are kept and written when PostgreSQL is back, and
// every message is sent once.
func TestSettleOutageSendsOnce(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	ctx := context.Background()
	const n = 40
	lease := 2 * time.Second
	now := time.Now()
	var ch bot.Changes
	for i := range n {
		ch.Outbox = append(ch.Outbox, bot.Outbound{Channel: bot.SMS, To: fmt.Sprintf("+62812999903%02d", i),
			Body: "Apakah korban dalam bahaya sekarang?", Purpose: bot.PurposeReply, CreatedAt: now})
	}
	tx, err := e.pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, &ch, now.Add(lease)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	store := &downStore{Store: e.pg}
	sender := &slowSender{sends: map[int64]int{}, start: make(chan struct{})}
	out := bot.NewDispatcher(bot.DispatcherConfig{Store: store, Senders: map[bot.Channel]bot.Sender{bot.SMS: sender},
		Workers: n, Lease: lease, PollInterval: 100 * time.Millisecond})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); out.Run(rctx) }()
	out.Enqueue(ch.Outbox)

	<-sender.start
	time.Sleep(300 * time.Millisecond)
	store.down.Store(true)
	time.Sleep(lease + time.Second) // every claim runs out while PostgreSQL is down
	store.down.Store(false)
	if store.refused.Load() == 0 {
		t.Fatal("no outcome was refused: the outage did not happen during the sends")
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		sent := 0
		entries, err := e.pg.Outbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range entries {
			if m.State == "sent" {
				sent++
			}
		}
		if sent == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d recorded as sent after the outage", sent, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(lease) // time for a claim to run out, were any left
	cancel()
	<-done
	sender.mu.Lock()
	defer sender.mu.Unlock()
	total := 0
	for id, k := range sender.sends {
		total += k
		if k != 1 {
			t.Errorf("outbox message %d sent %d times", id, k)
		}
	}
	if total != n {
		t.Errorf("%d sends for %d messages", total, n)
	}
}

// TestSettleShutdownKeepsTrying stops the dispatcher while PostgreSQL is
// down: it keeps trying to record the outcomes within its SettleGrace, and
// records them once PostgreSQL is back.
func TestSettleShutdownKeepsTrying(t *testing.T) {
	e := newPipelineEnv(t)
	e.reset(t)
	ctx := context.Background()
	now := time.Now()
	ch := bot.Changes{Outbox: []bot.Outbound{{Channel: bot.SMS, To: "+6281299990399", Body: "Terima kasih.",
		Purpose: bot.PurposeReply, CreatedAt: now}}}
	tx, err := e.pg.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Apply(ctx, &ch, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	store := &downStore{Store: e.pg}
	sender := &slowSender{sends: map[int64]int{}, start: make(chan struct{})}
	out := bot.NewDispatcher(bot.DispatcherConfig{Store: store, Senders: map[bot.Channel]bot.Sender{bot.SMS: sender},
		PollInterval: time.Hour, SettleGrace: time.Minute})
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); out.Run(rctx) }()
	out.Enqueue(ch.Outbox)
	<-sender.start
	store.down.Store(true)
	cancel() // shutdown begins during the send
	for store.refused.Load() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("Run returned with the outcome not recorded")
	default:
	}
	store.down.Store(false)
	<-done
	entries, err := e.pg.Outbox(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].State != "sent" {
		t.Errorf("outbox after shutdown: %+v, want the message recorded as sent", entries)
	}
}
