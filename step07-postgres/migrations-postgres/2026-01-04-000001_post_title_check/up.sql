-- Every title must hold more than spaces. PostgreSQL adds a CHECK in place:
-- it reads every row, and one that breaks the rule fails the statement and,
-- since DDL is transactional here, rolls the whole upgrade back.
ALTER TABLE post ADD CONSTRAINT post_title_check CHECK (trim(title) <> '');
