-- A data migration: a new column, filled from the data already there. The
-- slug is the title in lower case with each space as a dash,
-- then the post's id, so two posts with one title still differ.
-- "Lower case" as the app's own rule (`models::slug`) and SQLite's lower()
-- mean it: A to Z only. PostgreSQL's lower() follows the database's locale
-- (under a UTF-8 one it changes É to é), so this spells the rule out with
-- translate().
ALTER TABLE post ADD COLUMN slug TEXT NOT NULL DEFAULT '';
UPDATE post SET slug = translate(replace(trim(title), ' ', '-'),
    'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || '-' || id;
