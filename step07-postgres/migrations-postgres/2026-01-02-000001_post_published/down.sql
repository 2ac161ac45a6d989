-- Undo: the column goes, with what it held.
ALTER TABLE post DROP COLUMN published;
