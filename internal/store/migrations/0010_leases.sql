-- leases: a task that one process of many does at a time (central's
-- housekeeping, gc): the holder and when its lease ends, in Unix
-- milliseconds of the holder's clock. A holder that dies leaves a lease
-- that expires by itself.
CREATE TABLE leases (
    name    TEXT PRIMARY KEY,
    holder  TEXT NOT NULL,
    expires INTEGER NOT NULL
);
