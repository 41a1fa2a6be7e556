-- +goose Up
-- attachments holds the files citizens send: photos, voice notes,
-- documents, and shared locations (as text). A file often comes before the
-- report it belongs to is filed: ticket_code is NULL until then, and the
-- filing links the reporter's pending files to the new ticket. The file and
-- its sender are sealed (internal/seal), bound to the file's place and to
-- its ID (channel, external ID and index of the message it came with), and
-- the sender is also kept as an HMAC-SHA256 lookup hash, as
-- tickets.reporter_hash is. IDs are never reused: an erased file's ID names
-- no other file later.
CREATE TABLE attachments (
-- only: postgres
    id          bigserial PRIMARY KEY,
-- only: sqlite
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_code text REFERENCES tickets (code),
    channel     text NOT NULL,
    external_id text NOT NULL,
    idx         integer NOT NULL, -- the file's place among its message's files, from 0
    sender      bytea NOT NULL,
    sender_hash bytea,
    kind        text NOT NULL,
    mime        text NOT NULL,
    size        integer NOT NULL,
    data        bytea NOT NULL,
    received_at timestamptz NOT NULL,
    UNIQUE (channel, external_id, idx)
);
-- Sealed data does not compress: store it out of line as it is, which also
-- lets Rotate read a file's first bytes without the rest.
-- only: postgres
ALTER TABLE attachments ALTER COLUMN data SET STORAGE EXTERNAL;
-- A ticket's files, in order.
CREATE INDEX attachments_ticket_idx ON attachments (ticket_code, id);
-- The files of a report not filed yet, found by their sender when it is.
CREATE INDEX attachments_pending_idx ON attachments (channel, sender_hash, received_at) WHERE ticket_code IS NULL;
-- The kept file an outbox message sends, Body its caption (NULL: none); no foreign key, an erased file fails the send.
ALTER TABLE outbox ADD COLUMN attachment_id bigint;

-- +goose Down
ALTER TABLE outbox DROP COLUMN attachment_id;
DROP TABLE attachments;
