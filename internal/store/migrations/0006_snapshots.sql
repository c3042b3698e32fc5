-- Central only: each organisation's last full snapshot, kept compressed, so
-- that the next full export for a client of that organisation only encrypts
-- it. Any change to the entities or the scopes empties both tables in its
-- transaction (nextVersion, refreshScopes): what is kept is always of the
-- current data, and version (meta entity_version when it was made) checks it
-- again.

-- snapshots: per organisation and type, the records of the snapshot: their
-- ids in order, newline-separated, and their versions (unsigned varints, one
-- per id), from which an export counts what is new to its client and what it
-- will hold. chunk_records is sync.chunkSize when it was made, format the
-- form of its records (exporter.RecordFormat).
CREATE TABLE snapshots (
    org           TEXT NOT NULL,
    type          TEXT NOT NULL,
    version       INTEGER NOT NULL,
    chunk_records INTEGER NOT NULL,
    format        INTEGER NOT NULL,
    ids           TEXT NOT NULL,
    versions      BLOB NOT NULL,
    PRIMARY KEY (org, type)
) WITHOUT ROWID;

-- snapshot_chunks: the snapshot's record chunks in order (n from 0), each one
-- zstd frame of its records, with their count and the SHA-256 and size of the
-- records decompressed, as a bundle's manifest lists them.
CREATE TABLE snapshot_chunks (
    org          TEXT NOT NULL,
    type         TEXT NOT NULL,
    n            INTEGER NOT NULL,
    records      INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    content_size INTEGER NOT NULL,
    payload      BLOB NOT NULL,
    PRIMARY KEY (org, type, n)
);
