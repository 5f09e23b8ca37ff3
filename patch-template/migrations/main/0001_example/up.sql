-- An example migration of the `main` class: rename the directory (NNNN_what_it_does, numbered
-- after the last migration of the class) and replace this with your change, or delete it.
--
-- Runs once per database of the class, inside `bascule apply`, before the new code starts.
-- Write it for the mode of the patch: in "online" mode the old code still runs against the new
-- schema, so add a NOT NULL column in two releases (nullable + backfill first), and never
-- rename or drop a column the old code reads.
CREATE TABLE example_notes (
    id INTEGER PRIMARY KEY,
    body TEXT NOT NULL
);
