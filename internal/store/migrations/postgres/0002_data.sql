-- PostgreSQL: the synchronised data (../0002_data.sql), central's tables.
-- data is of type json, which keeps the text as it was given (jsonb would
-- reorder it) and reads with -> and ->> as SQLite does.

CREATE TABLE entities (
    type    TEXT COLLATE "C" NOT NULL,
    id      TEXT COLLATE "C" NOT NULL,
    data    JSON NOT NULL,
    version BIGINT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (type, id)
);

CREATE TABLE entity_links (
    type     TEXT COLLATE "C" NOT NULL,
    id       TEXT COLLATE "C" NOT NULL,
    ref_type TEXT COLLATE "C" NOT NULL,
    ref_id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (type, id, ref_type, ref_id)
);
CREATE INDEX entity_links_ref ON entity_links (ref_type, ref_id, type);

CREATE TABLE packages (
    sha256       TEXT COLLATE "C" PRIMARY KEY,
    size         BIGINT NOT NULL,
    chunks       TEXT COLLATE "C" NOT NULL,
    test         TEXT COLLATE "C" NOT NULL,
    published_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE clients (
    id            TEXT COLLATE "C" PRIMARY KEY,
    org           TEXT COLLATE "C" NOT NULL,
    age_recipient TEXT COLLATE "C" NOT NULL,
    sign_key      TEXT COLLATE "C" NOT NULL,
    key_id        TEXT COLLATE "C" NOT NULL UNIQUE,
    secret_hash   TEXT COLLATE "C" NOT NULL,
    created_at    TEXT COLLATE "C" NOT NULL,
    revoked_at    TEXT COLLATE "C" NOT NULL DEFAULT '',
    next_seq      BIGINT NOT NULL DEFAULT 0,
    data_seq      BIGINT NOT NULL DEFAULT 0,
    data_bundle   TEXT COLLATE "C" NOT NULL DEFAULT '',
    data_hash     TEXT COLLATE "C" NOT NULL DEFAULT '',
    data_at       TEXT COLLATE "C" NOT NULL DEFAULT '',
    acked_seq     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE client_entities (
    client  TEXT COLLATE "C" NOT NULL,
    type    TEXT COLLATE "C" NOT NULL,
    id      TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (client, type, id)
);

CREATE TABLE client_chunks (
    client TEXT COLLATE "C" NOT NULL,
    sha256 TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client, sha256)
);
