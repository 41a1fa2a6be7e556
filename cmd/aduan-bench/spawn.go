package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	goredis "github.com/redis/go-redis/v9"

	"aduan/internal/config"
	"aduan/store/sqlstore"
)

// Defaults of the stores the bench uses: a database of its own and Redis
// DB index 10, both emptied at the start of every run.
const (
	defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/aduan_bench?sslmode=disable"
	defaultRedisURL    = "redis://127.0.0.1:6379/10"
)

// Credentials and addresses of the simulated Twilio account. The public
// URL is only signed over, never called.
const (
	benchAccountSID = "AC0000000000000000000000000000be0c"
	benchAuthToken  = "0000000000000000000000000000be0c"
	benchPublicURL  = "https://aduan.bench.invalid"
	benchServiceNum = "+6281100000000"
	// The fake SMS gateway phone's credentials and webhook signing key.
	benchGateUser     = "sms"
	benchGatePassword = "bench-gateway-password"
	benchGateKey      = "bench-gateway-signing-key"
	// The bench's own security keys (base64 of 32 bytes): it makes up all
	// the data they protect, and reads it back with them.
	benchEncryptionKey = "YmVuY2gtZW5jcnlwdGlvbi1rZXktMDEyMzQ1Njc4OTA="
	benchLookupKey     = "YmVuY2gtbG9va3VwLWtleS0wMTIzNDU2Nzg5MDEyMzQ="
)

// benchOfficers are the staff of the spawned servers: whatever the routing
// sends them about a ticket is checked against the outbox.
var benchOfficers = []config.Officer{
	{Name: "Genoveva Lindung", Phone: "+6281337785111", Role: config.RoleOfficer},
	{Name: "Tija Ndaka", Phone: "+6281337973213", Role: config.RoleOfficer},
	{Name: "Kepala Dinas", Phone: "+6281234567890", Role: config.RoleSupervisor},
}

// replica is one `aduan serve` process the bench started.
type replica struct {
	url    string // http://127.0.0.1:port
	cmd    *exec.Cmd
	log    string // its stderr and stdout
	exited chan struct{}
	err    error // set when exited is closed
}

// cluster is the replicas of one run and their scratch directory.
type cluster struct {
	dir      string
	keep     bool
	replicas []*replica
	errLines []string // the replicas' ERROR log lines, read by stop
}

// spawnConfig says what to start.
type spawnConfig struct {
	N           int
	Binary      string // a built aduan; "" builds aduan/cmd/aduan into the scratch directory
	PostgresURL string
	RedisURL    string
	TwilioURL   string // the fake's base URL
	// GatewayURL, when set, is the fake SMS gateway phone's base URL: the
	// replicas send SMS through it (sms.provider smsgate).
	GatewayURL string
	LogLevel   string
	KeepLogs   bool // leave the scratch directory (configurations, logs) behind
	// EncryptionKey and LookupKey are the servers' security keys
	// (base64); the bench reads the tickets with them.
	EncryptionKey, LookupKey string
}

// buildAduan builds aduan/cmd/aduan into dir. It must run inside the
// module (from its directory or below).
func buildAduan(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "aduan")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "aduan/cmd/aduan")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build aduan/cmd/aduan (run aduan-bench inside the aduan module, or pass --aduan): %v\n%s", err, out.String())
	}
	return bin, nil
}

// prepareStores creates the bench database if it is missing, migrates it,
// empties every table, and flushes the Redis DB.
func prepareStores(ctx context.Context, pgURL, redisURL string) error {
	if err := ensureDatabase(ctx, pgURL); err != nil {
		return err
	}
	pg, err := sqlstore.OpenPostgres(ctx, pgURL)
	if err != nil {
		return err
	}
	defer pg.Close()
	if err := pg.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := truncateAll(ctx, pg.Pool()); err != nil {
		return err
	}
	return flushRedis(ctx, redisURL)
}

// benchLockID is the advisory lock a bench run holds on its database, so
// that two runs (two people, or a run and a forgotten one) never share the
// database and Redis DB, each emptying them and sending the other's
// outbox.
const benchLockID = 0x61647562656e6368 // "adubench"

// lockBench creates the database if needed and takes the bench's lock on
// it for as long as the returned release is not called. It fails at once
// if another run holds it.
func lockBench(ctx context.Context, pgURL string) (release func(), err error) {
	if err := ensureDatabase(ctx, pgURL); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(benchLockID)).Scan(&got); err != nil {
		conn.Close(ctx)
		return nil, fmt.Errorf("PostgreSQL: %w", err)
	}
	if !got {
		conn.Close(ctx)
		return nil, fmt.Errorf("another aduan-bench run is using database %s; wait for it, or use --postgres and --redis of your own",
			conn.Config().Database)
	}
	return func() { conn.Close(context.Background()) }, nil
}

// truncateAll empties every table but goose's, so that tables added by
// later migrations are emptied too.
func truncateAll(ctx context.Context, db *pgxpool.Pool) error {
	rows, err := db.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = current_schema() AND tablename <> $1`, sqlstore.VersionTable)
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("list tables: %w", err)
	}
	if len(tables) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, "TRUNCATE "+strings.Join(tables, ", ")+" RESTART IDENTITY CASCADE"); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	return nil
}

// ensureDatabase creates the database that url names if it does not exist,
// connecting to the server's postgres database to do so.
func ensureDatabase(ctx context.Context, pgURL string) error {
	u, err := url.Parse(pgURL)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("--postgres must be a postgres:// URL")
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" {
		return fmt.Errorf("--postgres names no database")
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w", u.Host, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

// flushRedis empties the Redis DB that url names.
func flushRedis(ctx context.Context, redisURL string) error {
	opt, err := goredis.ParseURL(redisURL)
	if err != nil {
		return fmt.Errorf("--redis: %w", err)
	}
	rc := goredis.NewClient(opt)
	defer rc.Close()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("redis at %s: flush DB %d: %w", opt.Addr, opt.DB, err)
	}
	return nil
}

// configYAML is the configuration of one spawned replica.
func configYAML(listen string, c spawnConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http:\n  listen: %q\n  public_url: %q\n", listen, benchPublicURL)
	fmt.Fprintf(&b, "postgres:\n  url: %q\n", c.PostgresURL)
	fmt.Fprintf(&b, "redis:\n  url: %q\n", c.RedisURL)
	fmt.Fprintf(&b, "twilio:\n  account_sid: %q\n  auth_token: %q\n  from: %q\n  api_url: %q\n",
		benchAccountSID, benchAuthToken, benchServiceNum, c.TwilioURL)
	if c.GatewayURL != "" {
		// No pacing: the fake phone has no Android limit.
		fmt.Fprintf(&b, "sms:\n  provider: smsgate\n")
		fmt.Fprintf(&b, "smsgate:\n  url: %q\n  username: %q\n  password: %q\n  signing_key: %q\n  limit: 0\n",
			c.GatewayURL, benchGateUser, benchGatePassword, benchGateKey)
	}
	b.WriteString("officers:\n")
	for _, o := range benchOfficers {
		fmt.Fprintf(&b, "  - name: %q\n    phone: %q\n    role: %s\n", o.Name, o.Phone, o.Role)
	}
	fmt.Fprintf(&b, "log:\n  level: %s\n  format: json\n", c.LogLevel)
	fmt.Fprintf(&b, "security:\n  encryption_key: %q\n  lookup_key: %q\n", c.EncryptionKey, c.LookupKey)
	return b.String()
}

// freePort returns a loopback address with a port nobody listens on now.
func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// startCluster prepares the stores and starts c.N replicas, each on a free
// port with a generated configuration, and waits until all are ready. On
// error, those started are stopped.
func startCluster(ctx context.Context, c spawnConfig) (*cluster, error) {
	dir, err := os.MkdirTemp("", "aduan-bench-")
	if err != nil {
		return nil, err
	}
	cl := &cluster{dir: dir, keep: c.KeepLogs}
	bin := c.Binary
	if bin == "" {
		if bin, err = buildAduan(ctx, dir); err != nil {
			cl.remove()
			return nil, err
		}
	}
	if err := prepareStores(ctx, c.PostgresURL, c.RedisURL); err != nil {
		cl.remove()
		return nil, err
	}
	for i := range c.N {
		listen, err := freePort()
		if err != nil {
			cl.stop()
			return nil, err
		}
		cfgPath := filepath.Join(dir, fmt.Sprintf("aduan-%d.yaml", i+1))
		if err := os.WriteFile(cfgPath, []byte(configYAML(listen, c)), 0o600); err != nil {
			cl.stop()
			return nil, err
		}
		if _, err := config.Load(cfgPath, nil); err != nil {
			cl.stop()
			return nil, fmt.Errorf("generated configuration: %w", err)
		}
		r, err := startReplica(bin, cfgPath, filepath.Join(dir, fmt.Sprintf("aduan-%d.log", i+1)), "http://"+listen)
		if err != nil {
			cl.stop()
			return nil, err
		}
		cl.replicas = append(cl.replicas, r)
	}
	for _, r := range cl.replicas {
		if err := r.waitReady(ctx, 60*time.Second); err != nil {
			cl.stop()
			return nil, err
		}
	}
	return cl, nil
}

func startReplica(bin, cfgPath, logPath, base string) (*replica, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = childEnv()
	// Should the bench die without stopping it (killed, or a closed pipe
	// on its output), the replica gets SIGTERM rather than living on and
	// taking the next run's outbox messages.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &replica{url: base, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		logf.Close()
		close(r.exited)
	}()
	return r, nil
}

// childEnv is the bench's environment without ADUAN_* variables, which
// would override the generated configuration.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ADUAN_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls /readyz until it answers 200.
func (r *replica) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url+"/readyz", nil)
		res, err := client.Do(req)
		if err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-r.exited:
			return fmt.Errorf("aduan serve at %s exited (%v):\n%s", r.url, r.err, tail(r.log, 20))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("aduan serve at %s not ready after %v:\n%s", r.url, timeout, tail(r.log, 20))
		}
	}
}

// urls returns the replicas' base URLs.
func (c *cluster) urls() []string {
	var out []string
	for _, r := range c.replicas {
		out = append(out, r.url)
	}
	return out
}

// pids returns the replicas' process IDs.
func (c *cluster) pids() []int {
	var out []int
	for _, r := range c.replicas {
		out = append(out, r.cmd.Process.Pid)
	}
	return out
}

// exitedEarly returns an error naming a replica that has exited, or nil.
func (c *cluster) exitedEarly() error {
	for _, r := range c.replicas {
		select {
		case <-r.exited:
			return fmt.Errorf("aduan serve at %s exited during the run (%v):\n%s", r.url, r.err, tail(r.log, 20))
		default:
		}
	}
	return nil
}

// stop asks every replica to shut down (SIGTERM), kills those still
// running after 30 seconds, and removes the scratch directory unless
// asked to keep it. It returns
// an error if a replica had failed or logged errors, quoting its log.
func (c *cluster) stop() error {
	var errs []error
	for _, r := range c.replicas {
		r.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, r := range c.replicas {
		select {
		case <-r.exited:
		case <-time.After(30 * time.Second):
			r.cmd.Process.Kill()
			<-r.exited
			errs = append(errs, fmt.Errorf("aduan serve at %s did not stop within 30s", r.url))
		}
		if r.err != nil {
			if ee, ok := errors.AsType[*exec.ExitError](r.err); !ok || ee.ExitCode() != 0 {
				errs = append(errs, fmt.Errorf("aduan serve at %s: %v:\n%s", r.url, r.err, tail(r.log, 20)))
			}
		}
	}
	c.errLines = c.logErrors()
	c.remove()
	return errors.Join(errs...)
}

// logErrors returns the lines at level ERROR in the replicas' logs.
func (c *cluster) logErrors() []string {
	var out []string
	for _, r := range c.replicas {
		b, err := os.ReadFile(r.log)
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				out = append(out, line)
			}
		}
	}
	return out
}

func (c *cluster) remove() {
	if !c.keep {
		os.RemoveAll(c.dir)
	}
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
