-- PostgreSQL: each organisation's scope kept ready, and what each client
-- holds as id lists (../0004_scopes.sql).

CREATE TABLE scopes (
    org  TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    id   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (org, type, id)
);

CREATE TABLE client_held (
    client  TEXT COLLATE "C" NOT NULL,
    type    TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    count   BIGINT NOT NULL,
    ids     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (client, type)
);

INSERT INTO client_held (client, type, version, count, ids)
    SELECT client, type, 0, COUNT(*), string_agg(id, E'\n' ORDER BY id)
    FROM client_entities GROUP BY client, type;
DROP TABLE client_entities;

INSERT INTO meta (key, value) VALUES ('scopes_stale', '1')
    ON CONFLICT (key) DO UPDATE SET value = '1';
