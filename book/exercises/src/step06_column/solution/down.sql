-- The column goes, with what it held. DROP COLUMN can take it in place: it
-- has no index, key or constraint of its own.
ALTER TABLE user DROP COLUMN joined;
