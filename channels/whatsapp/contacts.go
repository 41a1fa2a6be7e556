package whatsapp

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"aduan/bot"
)

// ContactStore remembers, across restarts and replicas, who has written to
// the service on WhatsApp.
type ContactStore interface {
	// Remember records that addr wrote to the service. Recording an
	// address again does nothing.
	Remember(ctx context.Context, addr string) error
	// Known reports whether addr ever wrote to the service.
	Known(ctx context.Context, addr string) (bool, error)
}

// Contacts decides whom the service may write to on WhatsApp: the
// configured staff (officers and supervisors), and people who have written
// to the service. The service never writes first to a stranger: WhatsApp
// bans numbers that message people who do not have them as a contact, and
// an unexpected message can endanger the person who gets it.
//
// Addresses seen in this process are kept in memory, so that checking them
// costs no round trip; the ContactStore, when there is one, covers the rest.
// It is safe for concurrent use.
type Contacts struct {
	staff atomic.Pointer[map[string]bool] // replaced whole by SetStaff
	store ContactStore

	mu   sync.RWMutex
	seen map[string]struct{}
}

// maxSeen bounds the in-memory set; when full it starts over, and the
// ContactStore answers until it fills again.
const maxSeen = 100_000

// NewContacts returns Contacts allowing staff (E.164 numbers) and whoever
// has written, remembered in store. A nil store remembers only for the
// life of the process.
func NewContacts(staff []string, store ContactStore) *Contacts {
	c := &Contacts{store: store, seen: make(map[string]struct{})}
	c.SetStaff(staff)
	return c
}

// SetStaff replaces the staff's numbers (E.164), as a configuration read
// again lists them.
func (c *Contacts) SetStaff(staff []string) {
	m := make(map[string]bool, len(staff))
	for _, p := range staff {
		m[p] = true
	}
	c.staff.Store(&m)
}

// IsStaff reports whether addr is a configured officer or supervisor.
func (c *Contacts) IsStaff(addr string) bool { return (*c.staff.Load())[addr] }

// Add records that addr has written to the service. It fails only if the
// ContactStore fails; addr is allowed in this process even then.
func (c *Contacts) Add(ctx context.Context, addr string) error {
	c.mu.RLock()
	_, ok := c.seen[addr]
	c.mu.RUnlock()
	if ok {
		return nil
	}
	c.mu.Lock()
	if len(c.seen) >= maxSeen {
		clear(c.seen)
	}
	c.seen[addr] = struct{}{}
	c.mu.Unlock()
	if c.store == nil {
		return nil
	}
	return c.store.Remember(ctx, addr)
}

// Allowed reports whether the service may write to addr. An error means
// the ContactStore could not be asked.
func (c *Contacts) Allowed(ctx context.Context, addr string) (bool, error) {
	if c.IsStaff(addr) {
		return true, nil
	}
	c.mu.RLock()
	_, ok := c.seen[addr]
	c.mu.RUnlock()
	if ok || c.store == nil {
		return ok, nil
	}
	known, err := c.store.Known(ctx, addr)
	if known {
		c.mu.Lock()
		if len(c.seen) < maxSeen {
			c.seen[addr] = struct{}{}
		}
		c.mu.Unlock()
	}
	return known, err
}

// PostgresContacts is a ContactStore in PostgreSQL, in a table of its own
// (whatsapp_contacts) next to whatsmeow's. It keeps no address in clear:
// only a keyed lookup hash of each (seal.Keyring.Hash).
type PostgresContacts struct {
	pool *pgxpool.Pool
	hash func(string) []byte
}

var _ ContactStore = (*PostgresContacts)(nil)

// contactsLockID serializes creating the table between replicas starting
// together (crc32 of "aduan-whatsapp-contacts").
const contactsLockID int64 = 0x5a1c0e77

// OpenPostgresContacts creates the whatsapp_contacts table if it is missing
// and returns the store, which hashes addresses with hash. It panics if
// hash is nil. Returns Unavailable if the server cannot be reached.
func OpenPostgresContacts(ctx context.Context, pool *pgxpool.Pool, hash func(string) []byte) (*PostgresContacts, error) {
	const op = "whatsapp.OpenPostgresContacts"
	if hash == nil {
		panic("whatsapp: OpenPostgresContacts with nil hash")
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, bot.E(op, bot.Unavailable, err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, contactsLockID); err != nil {
		return nil, bot.E(op, bot.Unavailable, err)
	}
	if _, err := tx.Exec(ctx, `
CREATE TABLE IF NOT EXISTS whatsapp_contacts (
	address_hash bytea PRIMARY KEY,
	first_seen   timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return nil, bot.E(op, bot.Other, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, bot.E(op, bot.Unavailable, err)
	}
	return &PostgresContacts{pool: pool, hash: hash}, nil
}

// Remember records addr. Returns Unavailable if the server cannot be
// reached.
func (s *PostgresContacts) Remember(ctx context.Context, addr string) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO whatsapp_contacts (address_hash) VALUES ($1) ON CONFLICT DO NOTHING`,
		s.hash(addr)); err != nil {
		return bot.E("whatsapp.Remember", bot.Unavailable, err)
	}
	return nil
}

// Known reports whether addr was remembered. Returns Unavailable if the
// server cannot be reached.
func (s *PostgresContacts) Known(ctx context.Context, addr string) (bool, error) {
	var known bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM whatsapp_contacts WHERE address_hash = $1)`,
		s.hash(addr)).Scan(&known)
	if err != nil {
		return false, bot.E("whatsapp.Known", bot.Unavailable, err)
	}
	return known, nil
}
