-- Undoes up.sql exactly: `bascule apply` runs it, in reverse order, if anything fails after
-- the up ran. Every up needs its down.
DROP TABLE example_notes;
