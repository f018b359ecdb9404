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
-- order, as on SQLite. The table is not rewritten (the type is the same);
-- PostgreSQL rebuilds the five indexes, once, while this migration holds
-- the table.
-- +step
ALTER TABLE events
	ALTER COLUMN sender TYPE TEXT COLLATE "C",
	ALTER COLUMN dest TYPE TEXT COLLATE "C",
	ALTER COLUMN rule_id TYPE TEXT COLLATE "C",
	ALTER COLUMN peer TYPE TEXT COLLATE "C",
	ALTER COLUMN quarantine TYPE TEXT COLLATE "C"
