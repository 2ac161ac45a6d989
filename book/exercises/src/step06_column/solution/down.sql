-- Undo: the column goes, with what it held. SQLite has dropped columns
-- in place since 3.35; the bundled SQLite is newer.
ALTER TABLE user DROP COLUMN bio;
