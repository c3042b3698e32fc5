-- The execution ids that a result import locks on PostgreSQL
-- (postgres/0011_execution_ids.sql). On SQLite one writer at a time
-- imports, and nothing needs them: this migration only keeps the two
-- engines' histories numbered alike.
SELECT 1;
