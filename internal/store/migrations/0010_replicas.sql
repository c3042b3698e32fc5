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
