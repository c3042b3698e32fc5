-- What central's server shares between its replicas, so that a request may
-- land on any of them. Times are Unix milliseconds.
-- tokens: the OAuth access tokens issued, by the SHA-256 of the token, with
-- the hash of the secret they were issued under (a rotation ends them).
CREATE TABLE tokens (
    hash        TEXT PRIMARY KEY,
    client      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    expires     INTEGER NOT NULL
);
CREATE INDEX tokens_expires ON tokens (expires);
-- auth_failures: failed logins per address in the window begun at since,
-- for each login (scope: the token endpoint, the operator view).
CREATE TABLE auth_failures (
    scope TEXT NOT NULL,
    addr  TEXT NOT NULL,
    n     INTEGER NOT NULL,
    since INTEGER NOT NULL,
    PRIMARY KEY (scope, addr)
);
-- leases: a lock a replica holds until it lets go or expires (a replica
-- that died holds nothing for long): a client's pull being prepared, its
-- uploads running and the bytes they reserved, a bundle being uploaded.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL,
    bytes   INTEGER NOT NULL DEFAULT 0
);
-- operator_sessions: the operator view's login sessions, by the SHA-256 of
-- the session's cookie; shown is a rotation's new secret until its page
-- shows it, sealed with a key made from the cookie (which is not stored).
CREATE TABLE operator_sessions (
    hash          TEXT PRIMARY KEY,
    operator      TEXT NOT NULL,
    csrf          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    expires       INTEGER NOT NULL,
    shown_client  TEXT NOT NULL DEFAULT '',
    shown         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX operator_sessions_expires ON operator_sessions (expires);
