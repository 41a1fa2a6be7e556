-- +goose Up
-- One schema for PostgreSQL and SQLite: a line after "-- only: postgres" or
-- "-- only: sqlite", or a block up to "-- end only ...", is for that engine
-- alone (migrate.go). Both declare the same types; SQLite keeps times as
-- INTEGER microseconds since the Unix epoch (UTC), booleans as 0 and 1, JSON
-- and text[] (a JSON array there) as text.
CREATE TABLE tickets (
    code       text PRIMARY KEY,
    kind       text NOT NULL,
    status     text NOT NULL,
    urgent     boolean NOT NULL DEFAULT false,
    kecamatan  text NOT NULL DEFAULT '',
    answers    jsonb NOT NULL DEFAULT '{}',
    channel    text NOT NULL,
    reporter   text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
-- Tickets lists newest first, optionally by status.
CREATE INDEX tickets_created_idx ON tickets (created_at DESC, code DESC);
CREATE INDEX tickets_status_created_idx ON tickets (status, created_at DESC, code DESC);

CREATE TABLE ticket_events (
-- only: postgres
    id          bigserial PRIMARY KEY,
-- only: sqlite
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_code text NOT NULL REFERENCES tickets (code),
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    type        text NOT NULL,
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket_idx ON ticket_events (ticket_code, id);

-- inbound_seen holds the IDs of inbound messages already processed, so that
-- a provider's redelivery is handled once.
CREATE TABLE inbound_seen (
    channel     text NOT NULL,
    external_id text NOT NULL,
-- only: postgres
    seen_at     timestamptz NOT NULL DEFAULT now(),
-- only: sqlite
    seen_at     timestamptz NOT NULL,
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE outbox (
-- only: postgres
    id              bigserial PRIMARY KEY,
-- only: sqlite
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    channel         text NOT NULL,
    recipient       text NOT NULL,
    body            text NOT NULL,
    purpose         text NOT NULL,
    ticket_code     text,
    state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    created_at      timestamptz NOT NULL,
    sent_at         timestamptz,
    provider_id     text,
    last_error      text NOT NULL DEFAULT '',
    delivery_status text NOT NULL DEFAULT '',
    delivery_at     timestamptz
);
-- DueOutbound scans only pending messages, in due order.
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at, id) WHERE state = 'pending';
CREATE UNIQUE INDEX outbox_provider_id_idx ON outbox (provider_id) WHERE provider_id IS NOT NULL;

-- +goose Down
DROP TABLE outbox;
DROP TABLE inbound_seen;
DROP TABLE ticket_events;
DROP TABLE tickets;
