-- Undo: the constraint goes; the rows were never touched.
ALTER TABLE post DROP CONSTRAINT post_title_check;
