-- +goose Up
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
    id          bigserial PRIMARY KEY,
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
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, external_id)
);

CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
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
