-- ALTER TABLE cannot add a column whose default is CURRENT_TIMESTAMP, so
-- the table is made anew with it, the users copied across with their first
-- post's date (or now), the old table dropped and the new one renamed.
CREATE TABLE user_new (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    username     TEXT UNIQUE NOT NULL COLLATE NOCASE,
    username_key TEXT UNIQUE NOT NULL,
    password     TEXT NOT NULL,
    joined       TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO user_new (id, username, username_key, password, joined)
    SELECT id, username, username_key, password,
           coalesce((SELECT min(created) FROM post WHERE author_id = user.id), CURRENT_TIMESTAMP)
    FROM user;
-- AUTOINCREMENT's counter goes with the old table: keep it, so that a
-- deleted user's id is never handed out again.
CREATE TEMP TABLE kept_sequence AS SELECT seq FROM sqlite_sequence WHERE name = 'user';
DROP TABLE user;
ALTER TABLE user_new RENAME TO user;
DELETE FROM sqlite_sequence WHERE name = 'user';
INSERT INTO sqlite_sequence (name, seq) SELECT 'user', seq FROM kept_sequence;
DROP TABLE kept_sequence;
