-- +goose Up
-- Personal data is sealed by the application (AES-256-GCM, internal/seal)
-- and stored as BLOBs in the columns that held it: tickets.reporter,
-- ticket_events.detail, outbox.recipient and outbox.body. An empty value
-- means nothing stored, or erased. Addresses are also kept as HMAC-SHA256
-- lookup hashes. Rows written before this migration keep their text until
-- `aduan keys rotate` seals them.
ALTER TABLE tickets ADD COLUMN reporter_hash BLOB;
-- the answers that are not statistics, as a sealed JSON object; the
-- statistics (kecamatan, violence, ...) stay in answers, in clear
ALTER TABLE tickets ADD COLUMN sealed_answers BLOB;
CREATE INDEX tickets_reporter_hash_idx ON tickets (reporter_hash, created_at DESC) WHERE reporter_hash IS NOT NULL;
ALTER TABLE outbox ADD COLUMN recipient_hash BLOB;
CREATE INDEX outbox_recipient_hash_idx ON outbox (recipient_hash, id) WHERE recipient_hash IS NOT NULL;

-- +goose Down
-- Sealed values can only be opened with the application's keys: this
-- migration is not undone (the statement fails on purpose).
SELECT * FROM "aduan: migration 00002 (sealed personal data) cannot be undone";
