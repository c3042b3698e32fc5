-- PostgreSQL: each organisation's last full snapshot, kept compressed
-- (../0006_snapshots.sql).

CREATE TABLE snapshots (
    org           TEXT COLLATE "C" NOT NULL,
    type          TEXT COLLATE "C" NOT NULL,
    version       BIGINT NOT NULL,
    chunk_records BIGINT NOT NULL,
    format        BIGINT NOT NULL,
    ids           TEXT COLLATE "C" NOT NULL,
    versions      BYTEA NOT NULL,
    PRIMARY KEY (org, type)
);

CREATE TABLE snapshot_chunks (
    org          TEXT COLLATE "C" NOT NULL,
    type         TEXT COLLATE "C" NOT NULL,
    n            BIGINT NOT NULL,
    records      BIGINT NOT NULL,
    content_hash TEXT COLLATE "C" NOT NULL,
    content_size BIGINT NOT NULL,
    payload      BYTEA NOT NULL,
    PRIMARY KEY (org, type, n)
);
