-- The synchronised data: central holds the master copy, a client its scope.

-- entities: one row per entity of the six types. data is the entity's JSON
-- object, id included, with every field as loaded. On central, version is
-- the change counter of the last change and deleted marks a tombstone; on a
-- client, version is central's version as received, and there are no
-- tombstones (a deletion deletes the row).
CREATE TABLE entities (
    type    TEXT NOT NULL,
    id      TEXT NOT NULL,
    data    TEXT NOT NULL,
    version INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (type, id)
) WITHOUT ROWID;

-- The client's read interface: one view per type, with the contract's field
-- names as columns (lists and extra fields stay in data, as JSON).
CREATE VIEW test_centers AS
    SELECT id, data->>'label' AS label, data->>'org_id' AS org_id, data
    FROM entities WHERE type = 'test-center' AND deleted = 0;
CREATE VIEW administrators AS
    SELECT id, data->>'login' AS login, data->>'password_hash' AS password_hash,
           data->>'first_name' AS first_name, data->>'last_name' AS last_name,
           data->>'email' AS email, data->'test_centers' AS test_centers, data
    FROM entities WHERE type = 'administrator' AND deleted = 0;
CREATE VIEW proctors AS
    SELECT id, data->>'login' AS login, data->>'password_hash' AS password_hash,
           data->>'first_name' AS first_name, data->>'last_name' AS last_name,
           data->>'email' AS email, data->'test_centers' AS test_centers, data
    FROM entities WHERE type = 'proctor' AND deleted = 0;
CREATE VIEW test_takers AS
    SELECT id, data->>'login' AS login, data->>'password_hash' AS password_hash,
           data->>'first_name' AS first_name, data->>'last_name' AS last_name,
           data->>'email' AS email, data->>'language' AS language, data
    FROM entities WHERE type = 'test-taker' AND deleted = 0;
CREATE VIEW eligibilities AS
    SELECT id, data->>'test_center' AS test_center, data->>'delivery' AS delivery,
           data->'test_takers' AS test_takers, data->>'proctored' AS proctored, data
    FROM entities WHERE type = 'eligibility' AND deleted = 0;
CREATE VIEW deliveries AS
    SELECT id, data->>'label' AS label, data->>'max_executions' AS max_executions,
           data->>'start' AS start, data->>'end' AS "end",
           data->'package'->>'sha256' AS package_sha256, data->'package'->>'size' AS package_size, data
    FROM entities WHERE type = 'delivery' AND deleted = 0;
-- eligibility_test_takers: who may sit which delivery where, one row each.
CREATE VIEW eligibility_test_takers AS
    SELECT e.id AS eligibility, e.data->>'test_center' AS test_center,
           e.data->>'delivery' AS delivery, t.value AS test_taker
    FROM entities e, json_each(e.data, '$.test_takers') t
    WHERE e.type = 'eligibility' AND e.deleted = 0;

-- Central only from here.

-- entity_links: the references between live entities, for computing a
-- client's scope: test-center -> org (ref_type 'org'), administrator and
-- proctor -> test-center, eligibility -> test-center, delivery, test-taker.
CREATE TABLE entity_links (
    type     TEXT NOT NULL,
    id       TEXT NOT NULL,
    ref_type TEXT NOT NULL,
    ref_id   TEXT NOT NULL,
    PRIMARY KEY (type, id, ref_type, ref_id)
) WITHOUT ROWID;
CREATE INDEX entity_links_ref ON entity_links (ref_type, ref_id, type);

-- packages: published QTI package snapshots, immutable, by content hash.
CREATE TABLE packages (
    sha256       TEXT PRIMARY KEY,
    size         INTEGER NOT NULL,
    chunks       TEXT NOT NULL,            -- JSON [{sha256, size}]
    test         TEXT NOT NULL,            -- href of the assessmentTest
    published_at TEXT NOT NULL
) WITHOUT ROWID;

-- clients: registered test centres' clients.
CREATE TABLE clients (
    id            TEXT PRIMARY KEY,
    org           TEXT NOT NULL,
    age_recipient TEXT NOT NULL,
    sign_key      TEXT NOT NULL,
    key_id        TEXT NOT NULL UNIQUE,
    secret_hash   TEXT NOT NULL,           -- SHA-256 of the OAuth secret
    created_at    TEXT NOT NULL,
    revoked_at    TEXT NOT NULL DEFAULT '',
    next_seq      INTEGER NOT NULL DEFAULT 0,  -- last data seq handed out (never reused)
    data_seq      INTEGER NOT NULL DEFAULT 0,  -- last data bundle exported
    data_bundle   TEXT NOT NULL DEFAULT '',    -- its id
    data_hash     TEXT NOT NULL DEFAULT '',    -- its manifest's SHA-256
    data_at       TEXT NOT NULL DEFAULT '',
    acked_seq     INTEGER NOT NULL DEFAULT 0   -- last data seq the client reported applied
) WITHOUT ROWID;

-- client_entities: what each client holds (or will hold once it applies the
-- last bundle exported for it): the base every delta is computed against.
CREATE TABLE client_entities (
    client  TEXT NOT NULL,
    type    TEXT NOT NULL,
    id      TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (client, type, id)
) WITHOUT ROWID;

-- client_chunks: the package chunks each client has been sent.
CREATE TABLE client_chunks (
    client TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (client, sha256)
) WITHOUT ROWID;
