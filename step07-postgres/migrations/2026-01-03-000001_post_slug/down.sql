-- Undo: the column goes; the titles it was made from are still there.
ALTER TABLE post DROP COLUMN slug;
