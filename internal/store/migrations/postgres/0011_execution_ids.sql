-- PostgreSQL: one row for each execution id central holds, which a result
-- import inserts or locks (FOR UPDATE) before it stores executions of the
-- id, so that two clients' imports of one id take turns (lockExecutions).
-- Row locks live in the rows, not in the server's lock table, which one
-- advisory lock an id (before) filled with a bundle of a few thousand
-- executions ("out of shared memory").
CREATE TABLE execution_ids (
    id TEXT COLLATE "C" PRIMARY KEY
);
INSERT INTO execution_ids (id) SELECT DISTINCT id FROM executions;
