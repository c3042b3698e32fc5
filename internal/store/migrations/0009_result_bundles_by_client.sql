-- result_bundles: a bundle id is one client's. Keyed by (client, bundle_id),
-- so that a client sending a bundle of another's id (read off a stick: the
-- manifest is plain text) can neither have the genuine bundle taken for one
-- already received, and its results never stored, nor block it.
CREATE TABLE result_bundles_by_client (
    bundle_id     TEXT NOT NULL,
    client        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    prev          TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    receipt_seq   INTEGER NOT NULL,  -- the receipt batch answering it
    PRIMARY KEY (client, bundle_id)
) WITHOUT ROWID;
INSERT INTO result_bundles_by_client (bundle_id, client, seq, manifest_hash, prev, received_at, receipt_seq)
    SELECT bundle_id, client, seq, manifest_hash, prev, received_at, receipt_seq FROM result_bundles;
DROP TABLE result_bundles;
ALTER TABLE result_bundles_by_client RENAME TO result_bundles;
CREATE INDEX result_bundles_client ON result_bundles (client, seq);
