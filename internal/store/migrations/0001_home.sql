-- The tables every home has, central or client.

-- meta: what this home is (role, client id, ...). One row a key.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- settings: the values `taosync config set` stores; defaults live in code.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- trusted_keys: the signing keys whose bundles this home accepts, with the
-- age recipient that bundles for that party are encrypted to.
CREATE TABLE trusted_keys (
    key_id        TEXT PRIMARY KEY,       -- minisign key id, upper-case hex
    party         TEXT NOT NULL,          -- 'central', or the client id
    sign_key      TEXT NOT NULL,          -- minisign public key (base64 line)
    age_recipient TEXT NOT NULL,
    added_at      TEXT NOT NULL
) WITHOUT ROWID;

-- history: one row per exchange, in or out, whatever its outcome.
CREATE TABLE history (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL,            -- RFC 3339, UTC
    direction   TEXT NOT NULL,            -- 'in' or 'out'
    transport   TEXT NOT NULL,            -- 'folder' or 'http'
    peer        TEXT NOT NULL DEFAULT '', -- the client id, or 'central'
    bundle_id   TEXT NOT NULL DEFAULT '',
    bundle      TEXT NOT NULL DEFAULT '', -- the bundle folder's name
    kind        TEXT NOT NULL DEFAULT '',
    stream      TEXT NOT NULL DEFAULT '',
    seq         INTEGER NOT NULL DEFAULT 0,
    full        INTEGER NOT NULL DEFAULT 0,
    counts      TEXT NOT NULL DEFAULT '{}', -- JSON: type -> {created, updated, deleted}
    bytes       INTEGER NOT NULL DEFAULT 0,
    duration_ms INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT NOT NULL,            -- 'ok', 'skipped', 'refused', 'failed'
    error       TEXT NOT NULL DEFAULT ''
);

-- applied_bundles: every bundle this home has applied, so that the same
-- bundle again is a no-op whichever road it came by.
CREATE TABLE applied_bundles (
    bundle_id     TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    stream        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    manifest_hash TEXT NOT NULL,
    applied_at    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX applied_bundles_stream ON applied_bundles (stream, seq);
