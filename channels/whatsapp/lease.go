package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease decides which process holds the WhatsApp connection. Two
// connections with one device's keys make WhatsApp log the device out, so
// of several replicas only the lease holder connects.
type Lease interface {
	// Acquire blocks until this process holds the lease, or ctx is done.
	// The returned channel is closed if the lease is lost: the holder
	// must then disconnect at once.
	Acquire(ctx context.Context) (lost <-chan struct{}, err error)
	// Release gives the lease up, if held.
	Release()
}

// LeaseKey is the PostgreSQL advisory lock key of the WhatsApp connection
// (crc32 of "aduan-whatsapp"). Advisory locks are per database.
const LeaseKey int64 = 0x6f7a_21c3

// PGLease is a Lease on a PostgreSQL session advisory lock, held on a
// connection of its own. The server releases it when that connection ends,
// so a holder that dies (crash, kill, power loss) gives it up by itself;
// the holder checks its connection every Check and reports the lease lost
// as soon as the connection fails.
type PGLease struct {
	cfg   *pgx.ConnConfig
	key   int64
	retry time.Duration
	check time.Duration

	mu      sync.Mutex
	conn    *pgx.Conn
	stop    chan struct{} // closed by Release to end the watch
	watched chan struct{} // closed when the watch has ended
}

var _ Lease = (*PGLease)(nil)

// LeaseOptions tunes a PGLease; zero values take the defaults.
type LeaseOptions struct {
	Key   int64         // advisory lock key; default LeaseKey
	Retry time.Duration // how often to try while another holds it; default 5s
	Check time.Duration // how often the holder checks its connection; default 2s
	Name  string        // shown as application_name of the lease connection; default "aduan-whatsapp <host> <pid>"
}

// NewPGLease returns a lease on the database cfg connects to. cfg is
// copied.
func NewPGLease(cfg *pgx.ConnConfig, o LeaseOptions) *PGLease {
	if o.Key == 0 {
		o.Key = LeaseKey
	}
	if o.Retry <= 0 {
		o.Retry = 5 * time.Second
	}
	if o.Check <= 0 {
		o.Check = 2 * time.Second
	}
	if o.Name == "" {
		host, _ := os.Hostname()
		o.Name = fmt.Sprintf("aduan-whatsapp %s %d", host, os.Getpid())
	}
	c := cfg.Copy()
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	c.RuntimeParams["application_name"] = o.Name
	return &PGLease{cfg: c, key: o.Key, retry: o.Retry, check: o.Check}
}

// ErrLeaseHeld is returned by TryAcquire when another process holds the
// lease.
var ErrLeaseHeld = errors.New("another process holds the WhatsApp connection")

// TryAcquire takes the lease if it is free. It returns ErrLeaseHeld if
// another process holds it, or the connection error.
func (l *PGLease) TryAcquire(ctx context.Context) (lost <-chan struct{}, err error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	lost, err = l.try(ctx, conn)
	if err != nil {
		conn.Close(context.Background())
	}
	return lost, err
}

// Acquire tries to take the lease every Retry while another process holds
// it, on one connection, until it holds it or ctx is done. Any other error
// (the database is unreachable) is returned at once.
func (l *PGLease) Acquire(ctx context.Context) (<-chan struct{}, error) {
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	for {
		lost, err := l.try(ctx, conn)
		if err == nil {
			return lost, nil
		}
		if !errors.Is(err, ErrLeaseHeld) {
			conn.Close(context.Background())
			return nil, err
		}
		t := time.NewTimer(l.retry)
		select {
		case <-ctx.Done():
			t.Stop()
			conn.Close(context.Background())
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

func (l *PGLease) connect(ctx context.Context) (*pgx.Conn, error) {
	l.mu.Lock()
	held := l.conn != nil
	l.mu.Unlock()
	if held {
		return nil, errors.New("lease already held by this holder")
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(cctx, l.cfg)
	if err != nil {
		return nil, fmt.Errorf("lease connection: %w", err)
	}
	return conn, nil
}

// try takes the lock on conn if it is free; then conn is the lease's, and
// watched until Release.
func (l *PGLease) try(ctx context.Context, conn *pgx.Conn) (<-chan struct{}, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var got bool
	if err := conn.QueryRow(cctx, `SELECT pg_try_advisory_lock($1)`, l.key).Scan(&got); err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	if !got {
		return nil, ErrLeaseHeld
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, l.key)
		return nil, errors.New("lease already held by this holder")
	}
	l.conn = conn
	l.stop = make(chan struct{})
	l.watched = make(chan struct{})
	lostc := make(chan struct{})
	go l.watch(conn, l.stop, l.watched, lostc)
	return lostc, nil
}

// watch pings the lease connection every check until stop is closed. If a
// ping fails the lease is lost: lost is closed and the connection dropped.
func (l *PGLease) watch(conn *pgx.Conn, stop, watched, lost chan struct{}) {
	defer close(watched)
	t := time.NewTicker(l.check)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(l.check, time.Second))
		err := conn.Ping(ctx)
		cancel()
		if err != nil {
			close(lost)
			conn.Close(context.Background())
			return
		}
	}
}

// Release unlocks and closes the lease connection. A lease already lost
// is only forgotten.
func (l *PGLease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	close(l.stop)
	<-l.watched
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if !l.conn.IsClosed() {
		l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
		l.conn.Close(ctx)
	}
	l.conn = nil
}

// Holder describes the process holding the lease, from the server's view:
// its application_name, address and since when it is connected. It returns
// "" when the lease is free.
func (l *PGLease) Holder(ctx context.Context) (string, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var name, addr string
	var since time.Time
	err = conn.QueryRow(ctx, `
SELECT a.application_name, coalesce(host(a.client_addr), 'local'), a.backend_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.objsubid = 1 AND ((l.classid::bigint << 32) | l.objid::bigint) = $1
LIMIT 1`, l.key).Scan(&name, &addr, &since)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s (from %s, connected since %s)", name, addr, since.Format(time.RFC3339)), nil
}

// LocalLease is a Lease within one process, for a device store in SQLite
// (the demo): the process is the only one that can hold the connection.
type LocalLease struct {
	mu   sync.Mutex
	held chan struct{}
}

var _ Lease = (*LocalLease)(nil)

// Acquire waits until no other holder in this process has the lease. The
// lease is never lost.
func (l *LocalLease) Acquire(ctx context.Context) (<-chan struct{}, error) {
	for {
		l.mu.Lock()
		if l.held == nil {
			l.held = make(chan struct{})
			l.mu.Unlock()
			return make(chan struct{}), nil
		}
		held := l.held
		l.mu.Unlock()
		select {
		case <-held:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Release gives the lease up.
func (l *LocalLease) Release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held != nil {
		close(l.held)
		l.held = nil
	}
}
