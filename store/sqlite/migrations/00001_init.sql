-- +goose Up
-- Times are INTEGER microseconds since the Unix epoch, UTC: they compare
-- and sort as numbers, at PostgreSQL's precision.
CREATE TABLE tickets (
    code       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    status     TEXT NOT NULL,
    urgent     INTEGER NOT NULL DEFAULT 0,
    kecamatan  TEXT NOT NULL DEFAULT '',
    answers    TEXT NOT NULL DEFAULT '{}', -- a JSON object
    channel    TEXT NOT NULL,
    reporter   TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX tickets_created_idx ON tickets (created_at DESC, code DESC);
CREATE INDEX tickets_status_created_idx ON tickets (status, created_at DESC, code DESC);

CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_code TEXT NOT NULL REFERENCES tickets (code),
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    type        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_code, id);

CREATE TABLE inbound_seen (
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (channel, external_id)
) WITHOUT ROWID;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    body            TEXT NOT NULL,
    purpose         TEXT NOT NULL,
    ticket_code     TEXT,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER,
    provider_id     TEXT,
    last_error      TEXT NOT NULL DEFAULT '',
    delivery_status TEXT NOT NULL DEFAULT '',
    delivery_at     INTEGER
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE UNIQUE INDEX outbox_provider_id_idx ON outbox (provider_id) WHERE provider_id IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE inbound_seen;
DROP TABLE ticket_events;
DROP TABLE tickets;
