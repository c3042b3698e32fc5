-- PostgreSQL: leases (../0010_leases.sql).

CREATE TABLE leases (
    name    TEXT COLLATE "C" PRIMARY KEY,
    holder  TEXT COLLATE "C" NOT NULL,
    expires BIGINT NOT NULL
);
