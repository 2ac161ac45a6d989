-- Undo: the rule goes; the posts stay as they are.
DROP INDEX post_author_title;
