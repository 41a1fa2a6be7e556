-- +goose Up
-- How officers handle a ticket: who has it and who backs them up (staff
-- phone numbers, which the office publishes), when an officer first took
-- it and when it was done, and whether the reporter's messages go back to
-- the officer (relay).
ALTER TABLE tickets ADD COLUMN assignee text NOT NULL DEFAULT '';
-- only: postgres
ALTER TABLE tickets ADD COLUMN backups text[] NOT NULL DEFAULT '{}';
-- only: sqlite
ALTER TABLE tickets ADD COLUMN backups text[] NOT NULL DEFAULT '[]';
ALTER TABLE tickets ADD COLUMN accepted_at timestamptz;
ALTER TABLE tickets ADD COLUMN closed_at timestamptz;
ALTER TABLE tickets ADD COLUMN relay boolean NOT NULL DEFAULT false;
-- An officer's open tickets, newest first.
CREATE INDEX tickets_open_assignee_idx ON tickets (assignee, created_at DESC, code DESC) WHERE status <> 'done';

-- opt_outs holds the lookup hashes (never the numbers) of the people who
-- said STOP: the service starts nothing with them until they write again.
CREATE TABLE opt_outs (
    address_hash bytea PRIMARY KEY,
    at           timestamptz NOT NULL
);

-- +goose Down
DROP TABLE opt_outs;
DROP INDEX tickets_open_assignee_idx;
ALTER TABLE tickets DROP COLUMN relay;
ALTER TABLE tickets DROP COLUMN closed_at;
ALTER TABLE tickets DROP COLUMN accepted_at;
ALTER TABLE tickets DROP COLUMN backups;
ALTER TABLE tickets DROP COLUMN assignee;
