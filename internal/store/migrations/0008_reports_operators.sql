-- Central only: each client's latest readiness report (taosync.Readiness as
-- JSON), the time the client wrote it (its clock: the latest wins, whatever
-- road brought it), the road (http or folder) and when central received it.
CREATE TABLE client_reports (
    client      TEXT PRIMARY KEY,
    report      TEXT NOT NULL,
    at          TEXT NOT NULL,
    via         TEXT NOT NULL,
    received_at TEXT NOT NULL
) WITHOUT ROWID;

-- Central only: the last request or bundle of a client that central
-- refused, and why; upgrade is 1 when the version gate refused it.
CREATE TABLE client_errors (
    client  TEXT PRIMARY KEY,
    error   TEXT NOT NULL,
    at      TEXT NOT NULL,
    upgrade INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Central only: when each client's credential was last used for a request
-- of the API (to the minute: written at most once a minute per client).
CREATE TABLE credential_used (
    client TEXT PRIMARY KEY,
    at     TEXT NOT NULL
) WITHOUT ROWID;

-- Central only: the accounts of the operator web view, each with the
-- argon2id hash of its password (internal/password's encoding).
CREATE TABLE operators (
    name       TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
