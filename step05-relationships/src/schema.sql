-- The tables of flaskr's blog: users, and the posts they write.
-- `init-db` runs this whole file, so running it again starts over empty.

-- Drop the table that points at the other one first: that order also works
-- on a connection that enforces foreign keys.
DROP TABLE IF EXISTS post;
DROP TABLE IF EXISTS user;

CREATE TABLE user (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    username TEXT UNIQUE NOT NULL,
    password TEXT NOT NULL -- an argon2 hash, never the password itself
);

CREATE TABLE post (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL,
    created   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, -- UTC text
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    FOREIGN KEY (author_id) REFERENCES user (id)
);

-- "Whose posts are these?" is the question every relation asks: without
-- this index, each one reads the whole post table.
CREATE INDEX post_author_id ON post (author_id);
