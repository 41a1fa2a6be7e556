-- +goose Up
-- The service clocks: the clock actions already taken on a ticket, by name
-- ("remind_first", "late_first", ...), each with when it was taken (a JSON
-- object of UTC times, "2026-03-02T09:30:15.123456Z", which compare as
-- text), and when its next action falls due (NULL when none is pending).
ALTER TABLE tickets ADD COLUMN marks jsonb NOT NULL DEFAULT '{}';
ALTER TABLE tickets ADD COLUMN next_due_at timestamptz;
-- DueTickets scans only open tickets with a due time, in due order.
CREATE INDEX tickets_next_due_idx ON tickets (next_due_at, code) WHERE next_due_at IS NOT NULL AND status <> 'done';

-- digests holds the days whose daily digest was sent: the row insert
-- decides which replica sends it.
CREATE TABLE digests (
    day     text PRIMARY KEY,
    sent_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE digests;
DROP INDEX tickets_next_due_idx;
ALTER TABLE tickets DROP COLUMN next_due_at;
ALTER TABLE tickets DROP COLUMN marks;
