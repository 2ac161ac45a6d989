-- Every user gets a bio; the users already there get an empty one.
ALTER TABLE user ADD COLUMN bio TEXT NOT NULL DEFAULT '';
