package whatsapp_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"aduan/channels/whatsapp"
	"aduan/internal/testenv"
)

// leaseConfig is a connection configuration for the package's test
// database.
func leaseConfig(t *testing.T) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(testenv.PostgresURL(t, "channels_whatsapp"))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// leaseKey gives each test its own lock.
var leaseKey atomic.Int64

func newLease(t *testing.T, key int64, name string) *whatsapp.PGLease {
	t.Helper()
	l := whatsapp.NewPGLease(leaseConfig(t), whatsapp.LeaseOptions{Key: key, Retry: 5 * time.Millisecond,
		Check: 10 * time.Millisecond, Name: name})
	t.Cleanup(l.Release)
	return l
}

// nextKey returns a lock key of its own for a test: random per process,
// so that two test runs on one server (two developers) do not meet.
func nextKey() int64 { return keyBase + leaseKey.Add(1) }

var keyBase = 0x70000000 + rand.Int64N(1<<40)

func TestLeaseTwoHolders(t *testing.T) {
	ctx := context.Background()
	key := nextKey()
	a, b := newLease(t, key, "holder-a"), newLease(t, key, "holder-b")
	lostA, err := a.TryAcquire(ctx)
	if err != nil {
		h, _ := a.Holder(ctx)
		t.Fatalf("a: TryAcquire = %v (key %d held by %s)", err, key, h)
	}
	if _, err := b.TryAcquire(ctx); !errors.Is(err, whatsapp.ErrLeaseHeld) {
		t.Fatalf("b: TryAcquire = %v, want ErrLeaseHeld", err)
	}
	holder, err := b.Holder(ctx)
	if err != nil || !strings.HasPrefix(holder, "holder-a ") {
		t.Errorf("Holder() = %q, %v; want holder-a", holder, err)
	}

	// a gives the lease up: b, waiting, gets it.
	type result struct {
		lost <-chan struct{}
		err  error
	}
	got := make(chan result, 1)
	go func() {
		lost, err := b.Acquire(ctx)
		got <- result{lost, err}
	}()
	a.Release()
	rb := <-got
	if rb.err != nil {
		t.Fatalf("b: Acquire = %v", rb.err)
	}
	select {
	case <-lostA:
		t.Error("a's lease reported lost after a clean release")
	default:
	}

	// b's connection dies (the server ends it, as when the holder's host
	// goes away): b is told the lease is lost, and a takes over.
	kill(t, "holder-b")
	if _, err := a.Acquire(ctx); err != nil {
		t.Fatalf("a: Acquire after b died = %v", err)
	}
	select {
	case <-rb.lost:
	case <-time.After(10 * time.Second):
		t.Fatal("b was not told it lost the lease")
	}
}

// kill ends the server connections whose application_name is name.
func kill(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, leaseConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no connection named %q to end", name)
	}
}

// TestLeaseHolderProcess is not a test: run by TestLeaseTwoProcesses in a
// child process, it takes the lease, says so, and holds it until killed.
func TestLeaseHolderProcess(t *testing.T) {
	key := os.Getenv("ADUAN_WA_LEASE_KEY")
	if key == "" {
		return
	}
	k, _ := strconv.ParseInt(key, 10, 64)
	// The parent's database: testenv would make this process a fresh one.
	cfg, err := pgx.ParseConfig(os.Getenv("ADUAN_WA_LEASE_URL"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	l := whatsapp.NewPGLease(cfg, whatsapp.LeaseOptions{Key: k, Name: "holder-process"})
	if _, err := l.TryAcquire(context.Background()); err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("held")
	select {}
}

// probeLease is a PGLease whose Acquire counts its tries.
type probeLease struct {
	*whatsapp.PGLease
	tries atomic.Int32
}

func (p *probeLease) Acquire(ctx context.Context) (<-chan struct{}, error) {
	for {
		lost, err := p.TryAcquire(ctx)
		p.tries.Add(1)
		if !errors.Is(err, whatsapp.ErrLeaseHeld) {
			return lost, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// TestLeaseTwoProcesses runs a second process that holds the lease: the
// channel here must not connect while it lives, and connects once it is
// killed.
func TestLeaseTwoProcesses(t *testing.T) {
	key := nextKey()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLeaseHolderProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ADUAN_WA_LEASE_KEY="+strconv.FormatInt(key, 10),
		"ADUAN_WA_LEASE_URL="+testenv.PostgresURL(t, "channels_whatsapp"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "held\n" {
		t.Fatalf("holder process said %q, %v; want held", line, err)
	}

	fake := newFake(office)
	lease := &probeLease{PGLease: newLease(t, key, "channel")}
	ch := whatsapp.New(whatsapp.Config{
		Pipeline:     &recorder{},
		Open:         func(context.Context) (whatsapp.Client, error) { return fake, nil },
		Lease:        lease,
		ReconnectMin: time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		ch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	eventually(t, "several tries at the lease", func() bool { return lease.tries.Load() >= 5 })
	if n := fake.Connects(); n != 0 {
		t.Fatalf("connects = %d while another process holds the lease, want 0", n)
	}
	if got := ch.State(); got != whatsapp.StateStandby {
		t.Errorf("state = %s, want %s", got, whatsapp.StateStandby)
	}

	// The holder dies: the server frees its lock, and the channel here
	// takes over.
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventually(t, "the channel to take over", ch.Up)
	if n := fake.Connects(); n != 1 {
		t.Errorf("connects = %d, want 1", n)
	}
}

func TestLocalLease(t *testing.T) {
	var l whatsapp.LocalLease
	if _, err := l.Acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Acquire = %v, want it to wait until ctx is done", err)
	}
	l.Release()
	if _, err := l.Acquire(context.Background()); err != nil {
		t.Fatalf("Acquire after Release = %v", err)
	}
}
