-- Central only: each organisation's scope kept ready, and what each client
-- holds as a list of ids per type and the change counter it was exported at,
-- so that an export neither computes the scope nor rewrites one row per
-- record it sends.

-- scopes: the live entities in each organisation's scope (docs/data.md):
-- its test centres; the administrators, proctors and eligibilities at them;
-- the test takers and deliveries those eligibilities name. Recomputed in the
-- transaction of every change of a link or of whether an entity is live.
CREATE TABLE scopes (
    org  TEXT NOT NULL,
    type TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (org, type, id)
) WITHOUT ROWID;

-- client_held: per client and type, the ids it holds (or will hold once it
-- applies the last bundle exported for it), sorted and joined by newlines
-- (ids have no control characters), and the change counter (meta
-- entity_version) at that export: an id held whose entity's version is above
-- it has changed since. The base every delta is computed against.
CREATE TABLE client_held (
    client  TEXT NOT NULL,
    type    TEXT NOT NULL,
    version INTEGER NOT NULL,
    count   INTEGER NOT NULL,
    ids     TEXT NOT NULL,
    PRIMARY KEY (client, type)
) WITHOUT ROWID;

-- What client_entities said, at version 0: every entity held and still in
-- scope goes again in the next delta, once, and none is missed.
INSERT INTO client_held (client, type, version, count, ids)
    SELECT client, type, 0, COUNT(*), group_concat(id, char(10))
    FROM (SELECT client, type, id FROM client_entities ORDER BY client, type, id)
    GROUP BY client, type;
DROP TABLE client_entities;

-- The scopes are computed by taosync itself, at the next load or export.
INSERT INTO meta (key, value) VALUES ('scopes_stale', '1')
    ON CONFLICT (key) DO UPDATE SET value = '1';
