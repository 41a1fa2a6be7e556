-- +goose Up
-- attachments holds the files citizens send: photos, voice notes,
-- documents, and shared locations (as text). A file often comes before the
-- report it belongs to is filed: ticket_code is NULL until then, and the
-- filing links the reporter's pending files to the new ticket. The file and
-- its sender are sealed BLOBs (internal/seal), bound to the file's place
-- and to its ID (channel, external ID and index of the message it came
-- with), and the sender is also kept as a lookup hash. IDs are never
-- reused (AUTOINCREMENT): an erased file's ID names no other file later.
CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_code TEXT REFERENCES tickets (code),
    channel     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    idx         INTEGER NOT NULL, -- the file's place among its message's files, from 0
    sender      BLOB NOT NULL,
    sender_hash BLOB,
    kind        TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    data        BLOB NOT NULL,
    received_at INTEGER NOT NULL,
    UNIQUE (channel, external_id, idx)
);
-- A ticket's files, in order.
CREATE INDEX attachments_ticket_idx ON attachments (ticket_code, id);
-- The files of a report not filed yet, found by their sender when it is.
CREATE INDEX attachments_pending_idx ON attachments (channel, sender_hash, received_at) WHERE ticket_code IS NULL;
-- The kept file an outbox message sends, Body its caption (NULL: none); no foreign key, an erased file fails the send.
ALTER TABLE outbox ADD COLUMN attachment_id INTEGER;

-- +goose Down
ALTER TABLE outbox DROP COLUMN attachment_id;
DROP TABLE attachments;
