-- +goose Up
-- How officers handle a ticket: who has it and who backs them up (staff
-- phone numbers; backups as a JSON array), when an officer first took it
-- and when it was done, and whether the reporter's messages go back to the
-- officer (relay).
ALTER TABLE tickets ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN backups TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN accepted_at INTEGER;
ALTER TABLE tickets ADD COLUMN closed_at INTEGER;
ALTER TABLE tickets ADD COLUMN relay INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tickets_open_assignee_idx ON tickets (assignee, created_at DESC, code DESC) WHERE status <> 'done';

-- opt_outs holds the lookup hashes (never the numbers) of the people who
-- said STOP.
CREATE TABLE opt_outs (
    address_hash BLOB PRIMARY KEY,
    at           INTEGER NOT NULL
) WITHOUT ROWID;

-- +goose Down
DROP TABLE opt_outs;
DROP INDEX tickets_open_assignee_idx;
ALTER TABLE tickets DROP COLUMN relay;
ALTER TABLE tickets DROP COLUMN closed_at;
ALTER TABLE tickets DROP COLUMN accepted_at;
ALTER TABLE tickets DROP COLUMN backups;
ALTER TABLE tickets DROP COLUMN assignee;
