-- A new column with a default: every post there is counts as published.
ALTER TABLE post ADD COLUMN published BOOLEAN NOT NULL DEFAULT TRUE;
