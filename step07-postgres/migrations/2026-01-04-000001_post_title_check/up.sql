-- A constraint ALTER TABLE cannot add: every title must hold more than
-- spaces. SQLite's documented procedure: create the new table, copy the
-- rows, drop the old one, rename the new one, recreate its indexes. A row
-- that breaks the new rule fails the copy, and the whole upgrade rolls back.
CREATE TABLE post_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL,
    created   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    title     TEXT NOT NULL CHECK (trim(title) <> ''),
    body      TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT 1,
    slug      TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (author_id) REFERENCES user (id)
);
INSERT INTO post_new (id, author_id, created, title, body, published, slug)
    SELECT id, author_id, created, title, body, published, slug FROM post;
-- AUTOINCREMENT's counter lives in sqlite_sequence and goes with the old
-- table: keep it, so the ids of deleted posts are never handed out again.
CREATE TEMP TABLE kept_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'post';
DROP TABLE post;
ALTER TABLE post_new RENAME TO post;
CREATE INDEX post_created ON post (created, id);
CREATE INDEX post_author_id ON post (author_id);
DELETE FROM sqlite_sequence WHERE name = 'post';
INSERT INTO sqlite_sequence (name, seq) SELECT 'post', seq FROM kept_sequence;
DROP TABLE kept_sequence;
