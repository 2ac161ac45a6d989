-- Undo: the rule goes; the users stay as they are.
DROP INDEX user_username_nocase;
