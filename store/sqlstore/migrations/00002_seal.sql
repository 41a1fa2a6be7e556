-- +goose Up
-- Personal data is sealed by the application (AES-256-GCM, internal/seal)
-- and stored as bytea: the reporter's address, the answers that are free
-- text, event details, outbox recipients and bodies. An empty value means
-- nothing stored, or erased. Addresses are also kept as HMAC-SHA256 lookup
-- hashes, so that they can be searched for without being stored in clear.
--
-- Rows written before this migration keep their text, converted to bytea
-- as it is; the application reads such values (valid UTF-8 never starts
-- with the sealed format's version byte, 0xA1) until `aduan keys rotate`
-- seals them and fills in their hashes.
-- only: postgres until "end only"
ALTER TABLE tickets ALTER COLUMN reporter TYPE bytea USING convert_to(reporter, 'UTF8');
ALTER TABLE ticket_events
    ALTER COLUMN detail DROP DEFAULT,
    ALTER COLUMN detail TYPE bytea USING convert_to(detail, 'UTF8'),
    ALTER COLUMN detail SET DEFAULT '\x'::bytea;
ALTER TABLE outbox
    ALTER COLUMN recipient TYPE bytea USING convert_to(recipient, 'UTF8'),
    ALTER COLUMN body TYPE bytea USING convert_to(body, 'UTF8');
-- end only postgres
-- SQLite changes a column's type by making a new column in its place.
-- only: sqlite until "end only"
ALTER TABLE tickets ADD COLUMN reporter_bytes bytea NOT NULL DEFAULT X'';
UPDATE tickets SET reporter_bytes = CAST(reporter AS BLOB);
ALTER TABLE tickets DROP COLUMN reporter;
ALTER TABLE tickets RENAME COLUMN reporter_bytes TO reporter;
ALTER TABLE ticket_events ADD COLUMN detail_bytes bytea NOT NULL DEFAULT X'';
UPDATE ticket_events SET detail_bytes = CAST(detail AS BLOB);
ALTER TABLE ticket_events DROP COLUMN detail;
ALTER TABLE ticket_events RENAME COLUMN detail_bytes TO detail;
ALTER TABLE outbox ADD COLUMN recipient_bytes bytea NOT NULL DEFAULT X'';
ALTER TABLE outbox ADD COLUMN body_bytes bytea NOT NULL DEFAULT X'';
UPDATE outbox SET recipient_bytes = CAST(recipient AS BLOB), body_bytes = CAST(body AS BLOB);
ALTER TABLE outbox DROP COLUMN recipient;
ALTER TABLE outbox DROP COLUMN body;
ALTER TABLE outbox RENAME COLUMN recipient_bytes TO recipient;
ALTER TABLE outbox RENAME COLUMN body_bytes TO body;
-- end only sqlite
ALTER TABLE tickets ADD COLUMN reporter_hash bytea;
-- the answers that are not statistics, as a sealed JSON object; the
-- statistics (kecamatan, violence, ...) stay in answers, in clear
ALTER TABLE tickets ADD COLUMN sealed_answers bytea;
CREATE INDEX tickets_reporter_hash_idx ON tickets (reporter_hash, created_at DESC) WHERE reporter_hash IS NOT NULL;
ALTER TABLE outbox ADD COLUMN recipient_hash bytea;
CREATE INDEX outbox_recipient_hash_idx ON outbox (recipient_hash, id) WHERE recipient_hash IS NOT NULL;

-- +goose Down
-- Sealed values can only be opened with the application's keys, so this
-- migration is not undone: it fails on purpose.
-- only: postgres until "end only"
-- +goose StatementBegin
DO $$ BEGIN
    RAISE EXCEPTION 'aduan: migration 00002 (sealed personal data) cannot be undone';
END $$;
-- +goose StatementEnd
-- end only postgres
-- only: sqlite
SELECT * FROM "aduan: migration 00002 (sealed personal data) cannot be undone";
