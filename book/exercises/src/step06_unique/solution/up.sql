-- A UNIQUE index on the pair: an author's titles differ, and two authors
-- may share one. It fails, and the whole upgrade with it, if an author
-- already has two posts of one title.
CREATE UNIQUE INDEX post_author_title ON post (author_id, title);
