-- +goose Up
-- conversations keeps the committed state of each conversation (its
-- checkpoint), as in PostgreSQL (store/postgres/migrations/00006): the
-- lookup hash of the conversation key, the version, the sealed state (NULL
-- for a conversation that ended) and when it was written, in microseconds.
CREATE TABLE conversations (
    key_hash   BLOB PRIMARY KEY,
    version    INTEGER NOT NULL,
    state      BLOB,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;
-- One ticket per submission: the lookup hash of its identity.
ALTER TABLE tickets ADD COLUMN submission_hash BLOB;
CREATE UNIQUE INDEX tickets_submission_idx ON tickets (submission_hash) WHERE submission_hash IS NOT NULL;

-- +goose Down
DROP INDEX tickets_submission_idx;
ALTER TABLE tickets DROP COLUMN submission_hash;
DROP TABLE conversations;
