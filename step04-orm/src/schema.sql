-- The tables of flaskr's blog: users, and the posts they write.
-- `init-db` runs this whole file, so running it again starts over empty.

-- Drop the tables that point at another one first: that order also works
-- on a connection that enforces foreign keys. Dropping `session` ends
-- every session.
DROP TABLE IF EXISTS session;
DROP TABLE IF EXISTS post;
DROP TABLE IF EXISTS user;

CREATE TABLE user (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT UNIQUE NOT NULL COLLATE NOCASE, -- ANN is ann (A to Z)
    username_key TEXT UNIQUE NOT NULL, -- and ÉMILE is émile (stepkit::name_key)
    password     TEXT NOT NULL -- an argon2 hash, never the password itself
);

CREATE TABLE post (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL,
    created   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, -- UTC text
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    FOREIGN KEY (author_id) REFERENCES user (id)
);

-- Newest first is the order every list of posts asks for: this index reads
-- a page in that order, and lets `?before=` start where the last page ended.
CREATE INDEX post_created ON post (created, id);

-- Who is logged in: a hash of each session's token (the cookie holds the
-- token), whose session it is, and until when. Deleting a user ends their
-- sessions with them.
CREATE TABLE session (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    expires    TIMESTAMP NOT NULL
);
