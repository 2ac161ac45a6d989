-- A data migration: a new column, filled from the data already there. The
-- slug is the title in lower case with each space as a dash,
-- then the post's id, so two posts with one title still differ.
ALTER TABLE post ADD COLUMN slug TEXT NOT NULL DEFAULT '';
UPDATE post SET slug = lower(replace(trim(title), ' ', '-')) || '-' || id;
