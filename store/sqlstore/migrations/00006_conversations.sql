-- +goose Up
-- conversations keeps the committed state of each conversation (its
-- checkpoint), written in the same transaction as the effects of the step
-- that made it; Redis keeps the fast copy, with the version, and is checked
-- against this table. key_hash is the lookup hash (HMAC-SHA256) of the
-- conversation key, which holds a phone number; state is the sealed state
-- (internal/seal, bound to the conversation key), NULL for a conversation
-- that ended (a tombstone: its version keeps an older copy in Redis from
-- coming back). Rows are purged some days after updated_at.
CREATE TABLE conversations (
    key_hash   bytea PRIMARY KEY,
    version    bigint NOT NULL,
    state      bytea,
    updated_at timestamptz NOT NULL
-- only: postgres
) WITH (fillfactor = 70); -- room for HOT updates: a row changes at every step
-- only: sqlite
);
-- A submission (a report a conversation filed) opens one ticket, however
-- often its confirmation is replayed: the lookup hash of its identity.
ALTER TABLE tickets ADD COLUMN submission_hash bytea;
CREATE UNIQUE INDEX tickets_submission_idx ON tickets (submission_hash) WHERE submission_hash IS NOT NULL;

-- +goose Down
DROP INDEX tickets_submission_idx;
ALTER TABLE tickets DROP COLUMN submission_hash;
DROP TABLE conversations;
