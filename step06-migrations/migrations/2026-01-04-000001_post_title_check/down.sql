-- The same rebuild, back to the table without the CHECK.
CREATE TABLE post_old (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    author_id INTEGER NOT NULL,
    created   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    title     TEXT NOT NULL,
    body      TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT 1,
    slug      TEXT NOT NULL DEFAULT '',
    FOREIGN KEY (author_id) REFERENCES user (id)
);
INSERT INTO post_old (id, author_id, created, title, body, published, slug)
    SELECT id, author_id, created, title, body, published, slug FROM post;
DROP TABLE post;
ALTER TABLE post_old RENAME TO post;
CREATE INDEX post_author_id ON post (author_id);
