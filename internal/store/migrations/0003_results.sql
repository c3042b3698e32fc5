-- Delivery executions (candidates' results), on both sides.

-- Client: the outbox. One row per execution, its latest revision. state is
-- queued (to send), packaged (in a bundle being written), sent (in a bundle
-- written or uploaded), acknowledged (central's receipt applied).
CREATE TABLE outbox (
    id           TEXT PRIMARY KEY,
    revision     INTEGER NOT NULL,
    delivery     TEXT NOT NULL,
    test_taker   TEXT NOT NULL,
    test_center  TEXT NOT NULL,
    status       TEXT NOT NULL,     -- active, paused, finished, terminated
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,     -- SHA-256 of the execution as sent
    state        TEXT NOT NULL,
    bundle_id    TEXT NOT NULL DEFAULT '', -- the last bundle it went in
    added_at     TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    acked_at     TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX outbox_state ON outbox (state);

-- Client: each execution's result document, apart from its state, so that
-- changing the states of many executions does not rewrite their documents.
-- A row is deleted when central's receipt arrives if results.deleteAfterSend
-- is on.
CREATE TABLE outbox_payloads (
    id         TEXT PRIMARY KEY REFERENCES outbox (id),
    result_xml TEXT NOT NULL
);

-- Central: every execution revision received, once by (id, content_hash).
-- state is received, or conflict: the same id and revision with other
-- content, or the same id from another client, kept aside.
CREATE TABLE executions (
    id           TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    client       TEXT NOT NULL,
    delivery     TEXT NOT NULL,
    test_taker   TEXT NOT NULL,
    test_center  TEXT NOT NULL,
    status       TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    result_xml   TEXT NOT NULL,
    state        TEXT NOT NULL,
    bundle_id    TEXT NOT NULL,     -- the bundle it first came in
    received_at  TEXT NOT NULL,
    PRIMARY KEY (id, content_hash)
) WITHOUT ROWID;
CREATE INDEX executions_client ON executions (client, state);

-- Central: the result bundles received per client, to answer a bundle sent
-- twice with the same receipt, and to see gaps in a client's result stream:
-- a bundle whose prev is the hash of no bundle received. (Sequence numbers
-- may skip, when a client's export was cut short before its bundle existed.)
CREATE TABLE result_bundles (
    bundle_id     TEXT PRIMARY KEY,
    client        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    prev          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    receipt_seq   INTEGER NOT NULL  -- the receipt batch answering it
) WITHOUT ROWID;
CREATE INDEX result_bundles_client ON result_bundles (client, seq);

-- Central: receipts, one per execution revision accepted, numbered per
-- client; those above the client's acknowledged receipt seq ride every data
-- bundle for it.
CREATE TABLE receipts (
    client       TEXT NOT NULL,
    seq          INTEGER NOT NULL,  -- the receipt batch
    id           TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    status       TEXT NOT NULL,     -- received, duplicate, conflict
    PRIMARY KEY (client, seq, id, content_hash)
) WITHOUT ROWID;

ALTER TABLE clients ADD COLUMN receipt_seq INTEGER NOT NULL DEFAULT 0;       -- last receipt batch made
ALTER TABLE clients ADD COLUMN acked_receipt_seq INTEGER NOT NULL DEFAULT 0; -- last the client reported applied
ALTER TABLE clients ADD COLUMN last_results_at TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN acked_at TEXT NOT NULL DEFAULT '';          -- when central received the report of acked_seq
ALTER TABLE clients ADD COLUMN pending_seq INTEGER NOT NULL DEFAULT 0;     -- seq of an export under way (or that died)
ALTER TABLE clients ADD COLUMN state TEXT NOT NULL DEFAULT '{}';             -- the client's state from its last result bundle

-- Client: the receipt batches applied (from receipt bundles or data
-- bundles), so that it can report the highest batch up to which it holds
-- them all.
CREATE TABLE receipt_batches (
    seq        INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL
);
