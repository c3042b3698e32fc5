-- PostgreSQL: what the replicas of central's server share (../0010_replicas.sql).
CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    client      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    expires     BIGINT NOT NULL
);
CREATE INDEX tokens_expires ON tokens (expires);
CREATE TABLE auth_failures (
    scope TEXT NOT NULL,
    addr  TEXT NOT NULL,
    n     BIGINT NOT NULL,
    since BIGINT NOT NULL,
    PRIMARY KEY (scope, addr)
);
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires BIGINT NOT NULL,
    bytes   BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE operator_sessions (
    hash          TEXT PRIMARY KEY,
    operator      TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    expires       BIGINT NOT NULL,
    shown_client  TEXT NOT NULL DEFAULT '',
    shown         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX operator_sessions_expires ON operator_sessions (expires);
