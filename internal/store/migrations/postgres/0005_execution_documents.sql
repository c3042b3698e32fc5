-- PostgreSQL: result documents stored compressed, in result_zst
-- (../0005_execution_documents.sql). PostgreSQL keeps large values out of
-- line by itself: the table needs no rebuild.
ALTER TABLE executions ADD COLUMN result_zst BYTEA;
