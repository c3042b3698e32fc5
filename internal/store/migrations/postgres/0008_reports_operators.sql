-- PostgreSQL: readiness reports, refusals, credential use and operators
-- (../0008_reports_operators.sql).

CREATE TABLE client_reports (
    client      TEXT COLLATE "C" PRIMARY KEY,
    report      TEXT COLLATE "C" NOT NULL,
    at          TEXT COLLATE "C" NOT NULL,
    via         TEXT COLLATE "C" NOT NULL,
    received_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE client_errors (
    client  TEXT COLLATE "C" PRIMARY KEY,
    error   TEXT COLLATE "C" NOT NULL,
    at      TEXT COLLATE "C" NOT NULL,
    upgrade BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE credential_used (
    client TEXT COLLATE "C" PRIMARY KEY,
    at     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE operators (
    name       TEXT COLLATE "C" PRIMARY KEY,
    hash       TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL
);
