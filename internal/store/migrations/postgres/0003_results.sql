-- PostgreSQL: delivery executions (../0003_results.sql), central's side.

CREATE TABLE executions (
    id           TEXT COLLATE "C" NOT NULL,
    content_hash TEXT COLLATE "C" NOT NULL,
    revision     BIGINT NOT NULL,
    client       TEXT COLLATE "C" NOT NULL,
    delivery     TEXT COLLATE "C" NOT NULL,
    test_taker   TEXT COLLATE "C" NOT NULL,
    test_center  TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    started_at   TEXT COLLATE "C" NOT NULL,
    finished_at  TEXT COLLATE "C" NOT NULL,
    result_xml   TEXT COLLATE "C" NOT NULL,
    state        TEXT COLLATE "C" NOT NULL,
    bundle_id    TEXT COLLATE "C" NOT NULL,
    received_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (id, content_hash)
);
CREATE INDEX executions_client ON executions (client, state);

CREATE TABLE result_bundles (
    bundle_id     TEXT COLLATE "C" PRIMARY KEY,
    client        TEXT COLLATE "C" NOT NULL,
    seq           BIGINT NOT NULL,
    manifest_hash TEXT COLLATE "C" NOT NULL,
    prev          TEXT COLLATE "C" NOT NULL,
    received_at   TEXT COLLATE "C" NOT NULL,
    receipt_seq   BIGINT NOT NULL
);
CREATE INDEX result_bundles_client ON result_bundles (client, seq);

CREATE TABLE receipts (
    client       TEXT COLLATE "C" NOT NULL,
    seq          BIGINT NOT NULL,
    id           TEXT COLLATE "C" NOT NULL,
    revision     BIGINT NOT NULL,
    content_hash TEXT COLLATE "C" NOT NULL,
    status       TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client, seq, id, content_hash)
);

ALTER TABLE clients ADD COLUMN receipt_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN acked_receipt_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN last_results_at TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN acked_at TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN pending_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN state TEXT COLLATE "C" NOT NULL DEFAULT '{}';
