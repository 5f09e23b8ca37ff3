-- A consistency check of the `main` class: a query that must return ZERO rows, run before and
-- after the migrations; the rows it returns are the inconsistencies, shown in the report.
-- Name a file *.before.sql or *.after.sql to run it only before or only after the migrations
-- (e.g. when it reads a column this patch adds). Another example:
--   SELECT name, count(*) FROM sites GROUP BY name HAVING count(*) > 1;
-- This one lists rows whose foreign key points nowhere.
PRAGMA foreign_key_check;
