-- A second UNIQUE rule on username, comparing without regard to case. It
-- fails, and the whole upgrade with it, if two users already differ only
-- in case.
CREATE UNIQUE INDEX user_username_nocase ON user (username COLLATE NOCASE);
