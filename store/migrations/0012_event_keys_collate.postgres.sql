-- Event writes at 50,000 a second (issue 16): the text columns that lead
-- the events' b-tree indexes compare bytewise (COLLATE "C") instead of by
-- the database's collation. Every stored event inserts into five of these
-- indexes, each insert a binary search of text keys, and under a real
-- collation (en_US and the like) each comparison is a strcoll or ICU
-- call: with these columns in en-US (ICU) against "C", the server's CPU
-- per stored event measured 24.7-26.1 against 19.8-21.2 us, 12-20% fewer
-- events a second; on a C.UTF-8 database (codepoint order) ~2%, within
-- the noise. Searches compare these columns by equality only,
-- which is the same under any deterministic collation, and a parameter's
-- default collation yields to the column's, so the queries and their
-- plans are unchanged; statistics by rule or peer list their keys in byte
-- order, as on SQLite. The table is not rewritten (the type is the same)
-- but PostgreSQL rebuilds the five indexes while it holds the table (1M
-- events: 4.6 s), so this is done here only for a table of fewer than
-- 1,000,000 events (a new database, a small one); a larger one keeps its
-- collation (everything works either way) and the operator may run the
-- same ALTER TABLE in a maintenance window (store/README.md).
-- +step
DO $$
BEGIN
	IF (SELECT count(*) FROM (SELECT 1 FROM events LIMIT 1000000) AS e) < 1000000 THEN
		ALTER TABLE events
			ALTER COLUMN sender TYPE TEXT COLLATE "C",
			ALTER COLUMN dest TYPE TEXT COLLATE "C",
			ALTER COLUMN rule_id TYPE TEXT COLLATE "C",
			ALTER COLUMN peer TYPE TEXT COLLATE "C",
			ALTER COLUMN quarantine TYPE TEXT COLLATE "C";
	ELSE
		RAISE NOTICE 'events holds 1,000,000 rows or more: their index columns keep the database collation (store/README.md: COLLATE "C")';
	END IF;
END
$$
