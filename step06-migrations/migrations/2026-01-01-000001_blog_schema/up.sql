-- Step 5's schema: flaskr's users and posts, the indexes on (created, id)
-- and author_id, and the sessions.
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

CREATE INDEX post_created ON post (created, id);
CREATE INDEX post_author_id ON post (author_id);

CREATE TABLE session (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES user (id) ON DELETE CASCADE,
    expires    TIMESTAMP NOT NULL
);
