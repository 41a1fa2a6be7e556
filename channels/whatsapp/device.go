package whatsapp

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	waLog "go.mau.fi/whatsmeow/util/log"
	_ "modernc.org/sqlite" // the "sqlite" driver, for the demo's device store
)

// DeviceName is how the linked device appears in the phone's list of
// linked devices.
const DeviceName = "aduan"

func init() {
	store.SetOSInfo(DeviceName, [3]uint32{1, 0, 0})
}

// Devices is whatsmeow's device store: the keys of the paired device, its
// Signal sessions, contacts and LID map, in whatsmeow's own tables
// (whatsmeow_*, versioned in whatsmeow_version), next to aduan's in the
// same database.
type Devices struct {
	container *sqlstore.Container
	db        *sql.DB
	log       *slog.Logger
	walog     waLog.Logger
}

// upgradeLockID serializes whatsmeow's schema upgrade between replicas
// starting together (crc32 of "aduan-whatsmeow-upgrade").
const upgradeLockID int64 = 0x2b9e_4d11

// OpenPostgresDevices opens the device store in pool's database (through
// pgx's database/sql driver) and brings whatsmeow's tables up to date,
// under an advisory lock so that replicas starting at once take turns. The
// pool stays the caller's to close.
func OpenPostgresDevices(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger) (*Devices, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("whatsapp device store: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, upgradeLockID); err != nil {
		return nil, fmt.Errorf("whatsapp device store: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, upgradeLockID)
	return openDevices(ctx, stdlib.OpenDBFromPool(pool), "pgx", log)
}

// OpenSQLiteDevices opens (creating) the device store in the SQLite file
// at path, for the demo and other single-process use, and brings
// whatsmeow's tables up to date.
func OpenSQLiteDevices(ctx context.Context, path string, log *slog.Logger) (*Devices, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
	if err != nil {
		return nil, fmt.Errorf("whatsapp device store: %w", err)
	}
	return openDevices(ctx, db, "sqlite", log)
}

func openDevices(ctx context.Context, db *sql.DB, dialect string, log *slog.Logger) (*Devices, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	walog := NewLogger(log)
	c := sqlstore.NewWithDB(db, dialect, walog.Sub("Database"))
	if err := c.Upgrade(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("whatsapp device store: upgrade whatsmeow tables: %w", err)
	}
	return &Devices{container: c, db: db, log: log, walog: walog}, nil
}

// Close closes the store's database handle (not a pool it was opened on).
func (d *Devices) Close() error { return d.db.Close() }

// Device returns the device in the store: the paired one (its ID is set),
// or a fresh unpaired one.
func (d *Devices) Device(ctx context.Context) (*store.Device, error) {
	dev, err := d.container.GetFirstDevice(ctx)
	if err != nil {
		return nil, fmt.Errorf("whatsapp device store: %w", err)
	}
	return dev, nil
}

// Paired returns the account's phone-number JID when a device is paired.
func (d *Devices) Paired(ctx context.Context) (types.JID, bool, error) {
	dev, err := d.Device(ctx)
	if err != nil {
		return types.EmptyJID, false, err
	}
	if dev.ID == nil {
		return types.EmptyJID, false, nil
	}
	return dev.ID.ToNonAD(), true, nil
}

// Open returns a client for the paired device, not yet connected, or
// ErrNotPaired. It is the Channel's Config.Open.
func (d *Devices) Open(ctx context.Context) (Client, error) {
	dev, err := d.Device(ctx)
	if err != nil {
		return nil, err
	}
	if dev.ID == nil {
		return nil, ErrNotPaired
	}
	return waClient{d.newClient(dev)}, nil
}

// newClient makes a whatsmeow client set up for the channel:
//   - SynchronousAck: a message is acknowledged only after the handler
//     returned true (it is stored), else WhatsApp delivers it again;
//   - EnableDecryptedEventBuffer: the decrypted message is kept until it
//     is acknowledged, so that a redelivery can be decrypted again (the
//     Signal ratchet has moved on);
//   - no automatic reconnect: the Channel reconnects, with its own backoff
//     and only while it holds the lease;
//   - no history download: the office's old chats are none of the
//     service's business;
//   - no contact book: whatsmeow would keep the name and number of
//     everyone who writes (and the phone's address book) in clear.
func (d *Devices) newClient(dev *store.Device) *whatsmeow.Client {
	dev.Contacts = noContacts{}
	cli := whatsmeow.NewClient(dev, d.walog)
	cli.SynchronousAck = true
	cli.EnableDecryptedEventBuffer = true
	cli.EnableAutoReconnect = false
	cli.InitialAutoReconnect = false
	cli.ManualHistorySyncDownload = true
	cli.AutomaticMessageRerequestFromPhone = true
	return cli
}

// waClient adapts *whatsmeow.Client to Client.
type waClient struct{ *whatsmeow.Client }

var _ Client = waClient{}

func (c waClient) PNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	return c.Store.LIDs.GetPNForLID(ctx, lid)
}

func (c waClient) OwnJID() types.JID {
	if c.Store.ID == nil {
		return types.EmptyJID
	}
	return c.Store.ID.ToNonAD()
}

// Errors of Pair.
var (
	ErrAlreadyPaired = errors.New("a device is already paired: run aduan whatsapp logout first")
	ErrPairTimeout   = errors.New("pairing timed out: no phone linked the device in time")
)

// PairOptions says how Pair shows what the phone needs.
type PairOptions struct {
	// Phone, when set (international digits, e.g. 6281234567800), asks
	// for a pairing code to type on that phone instead of QR codes.
	Phone string
	// QR shows a QR code to scan; the next one replaces it after timeout.
	QR func(code string, timeout time.Duration)
	// Code shows the pairing code for Phone.
	Code func(code string)
}

// Pair links this service as a new device of the office's WhatsApp
// account: it shows QR codes (or a pairing code) until the phone links it,
// waits until the new device has logged in, disconnects and returns the
// account's JID. The caller must hold the lease.
//
// It returns ErrAlreadyPaired if a device is paired, ErrPairTimeout when
// the codes ran out (about 160 seconds), ctx's error when ctx is done, and
// whatsmeow's reason for any other failure. Messages that arrive meanwhile
// are not acknowledged: WhatsApp delivers them again to `serve`.
func (d *Devices) Pair(ctx context.Context, o PairOptions) (types.JID, error) {
	dev, err := d.Device(ctx)
	if err != nil {
		return types.EmptyJID, err
	}
	if dev.ID != nil {
		return dev.ID.ToNonAD(), ErrAlreadyPaired
	}
	cli := d.newClient(dev)
	qr, err := cli.GetQRChannel(ctx)
	if err != nil {
		return types.EmptyJID, err
	}
	connected := watchLogin(cli)
	if err := cli.Connect(); err != nil {
		return types.EmptyJID, fmt.Errorf("connect to WhatsApp: %w", err)
	}
	defer cli.Disconnect()
	codeShown := false
	for item := range qr {
		switch item.Event {
		case whatsmeow.QRChannelEventCode:
			if o.Phone == "" {
				if o.QR != nil {
					o.QR(item.Code, item.Timeout)
				}
				continue
			}
			if codeShown {
				continue
			}
			code, err := cli.PairPhone(ctx, o.Phone, true, whatsmeow.PairClientChrome, "Chrome (Linux)")
			if err != nil {
				return types.EmptyJID, fmt.Errorf("pairing code: %w", err)
			}
			codeShown = true
			if o.Code != nil {
				o.Code(code)
			}
		case whatsmeow.QRChannelSuccess.Event:
			select {
			case err := <-connected:
				if err != nil {
					return types.EmptyJID, err
				}
			case <-time.After(90 * time.Second):
				return types.EmptyJID, errors.New("paired, but the new device did not log in within 90s: run aduan whatsapp status")
			case <-ctx.Done():
				return types.EmptyJID, ctx.Err()
			}
			return cli.Store.ID.ToNonAD(), nil
		case whatsmeow.QRChannelTimeout.Event:
			return types.EmptyJID, ErrPairTimeout
		case whatsmeow.QRChannelEventError:
			return types.EmptyJID, fmt.Errorf("pairing failed: %w", item.Error)
		case whatsmeow.QRChannelClientOutdated.Event:
			return types.EmptyJID, errors.New("WhatsApp refuses this client version: update aduan (whatsmeow)")
		case whatsmeow.QRChannelScannedWithoutMultidevice.Event:
			return types.EmptyJID, errors.New("the phone scanned the code without multi-device support: update WhatsApp on the phone")
		default:
			return types.EmptyJID, fmt.Errorf("pairing failed: unexpected %q", item.Event)
		}
	}
	if ctx.Err() != nil {
		return types.EmptyJID, ctx.Err()
	}
	return types.EmptyJID, ErrPairTimeout
}

// watchLogin registers a handler that refuses to acknowledge messages (so
// that WhatsApp delivers them again to the serving process) and reports,
// once, whether the client logged in.
func watchLogin(cli *whatsmeow.Client) <-chan error {
	out := make(chan error, 1)
	var once sync.Once
	report := func(err error) { once.Do(func() { out <- err }) }
	cli.AddEventHandlerWithSuccessStatus(func(evt any) bool {
		switch evt := evt.(type) {
		case *events.Message:
			return false
		case *events.Connected:
			report(nil)
		case *events.LoggedOut:
			report(errors.New("logged out: " + evt.Reason.String()))
		case *events.TemporaryBan:
			report(errors.New(evt.String()))
		case *events.StreamReplaced:
			report(errors.New("another program is connected with this device's keys"))
		case *events.ClientOutdated:
			report(errors.New("WhatsApp refuses this client version: update aduan (whatsmeow)"))
		case *events.ConnectFailure:
			report(errors.New(evt.PermanentDisconnectDescription()))
		}
		return true
	})
	return out
}

// Check connects with the paired device, waits until it has logged in (or
// was refused), and disconnects. The caller must hold the lease. It
// returns ErrNotPaired without a device, and the reason WhatsApp refused
// the login (logged out, banned...) otherwise.
func (d *Devices) Check(ctx context.Context) (types.JID, error) {
	dev, err := d.Device(ctx)
	if err != nil {
		return types.EmptyJID, err
	}
	if dev.ID == nil {
		return types.EmptyJID, ErrNotPaired
	}
	jid := dev.ID.ToNonAD()
	cli := d.newClient(dev)
	login := watchLogin(cli)
	if err := cli.Connect(); err != nil {
		return jid, fmt.Errorf("connect to WhatsApp: %w", err)
	}
	defer cli.Disconnect()
	select {
	case err := <-login:
		return jid, err
	case <-ctx.Done():
		return jid, ctx.Err()
	}
}

// Logout unlinks the paired device from the account (it disappears from
// the phone's list of linked devices) and deletes its keys. The caller
// must hold the lease. If WhatsApp cannot be told (it already unlinked the
// device, or cannot be reached), the keys are deleted anyway and the
// error says so: remove the device on the phone then.
func (d *Devices) Logout(ctx context.Context) (types.JID, error) {
	dev, err := d.Device(ctx)
	if err != nil {
		return types.EmptyJID, err
	}
	if dev.ID == nil {
		return types.EmptyJID, ErrNotPaired
	}
	jid := dev.ID.ToNonAD()
	cli := d.newClient(dev)
	login := watchLogin(cli)
	var remote error
	if err := cli.Connect(); err != nil {
		remote = fmt.Errorf("connect to WhatsApp: %w", err)
	} else {
		select {
		case remote = <-login:
		case <-ctx.Done():
			remote = ctx.Err()
		}
		if remote == nil {
			remote = cli.Logout(ctx)
			if remote == nil {
				return jid, nil
			}
		}
		cli.Disconnect()
	}
	if dev.ID != nil {
		// whatsmeow deletes the keys itself when WhatsApp says the device
		// was unlinked; it may have got there first.
		if err := dev.Delete(context.WithoutCancel(ctx)); err != nil && !errors.Is(err, sqlstore.ErrDeviceIDMustBeSet) {
			return jid, fmt.Errorf("delete device keys: %w (and WhatsApp was not told: %v)", err, remote)
		}
	}
	return jid, fmt.Errorf("keys deleted, but WhatsApp was not told (%v): remove the linked device %q on the phone", remote, DeviceName)
}

// Phone returns the E.164 number of a phone-number JID.
func Phone(j types.JID) string {
	if j.Server != types.DefaultUserServer || j.User == "" {
		return ""
	}
	return "+" + strings.TrimPrefix(j.User, "+")
}

// noContacts is a whatsmeow contact store that keeps nothing: push names,
// business names and the phone's address book are not the service's to
// keep.
type noContacts struct{}

var _ store.ContactStore = noContacts{}

func (noContacts) PutPushName(context.Context, types.JID, string) (bool, string, error) {
	return false, "", nil
}
func (noContacts) PutBusinessName(context.Context, types.JID, string) (bool, string, error) {
	return false, "", nil
}
func (noContacts) PutContactName(context.Context, types.JID, string, string) error { return nil }
func (noContacts) PutAllContactNames(context.Context, []store.ContactEntry) error  { return nil }
func (noContacts) PutManyRedactedPhones(context.Context, []store.RedactedPhoneEntry) error {
	return nil
}
func (noContacts) GetContact(context.Context, types.JID) (types.ContactInfo, error) {
	return types.ContactInfo{}, nil
}
func (noContacts) GetAllContacts(context.Context) (map[types.JID]types.ContactInfo, error) {
	return nil, nil
}
