-- The text index moves out of the events database into "<path>-text",
-- written by a goroutine and connection of its own (store/textindex.go):
-- the trigram index cost as much as the row and its b-tree indexes, and
-- SQLite has one writer per file. The new file is built from the events at
-- the first Open after this migration (text searches scan meanwhile).
--
-- text_pending lists the ids of each stored batch (a JSON array) until the
-- text index has applied them, and the ids retention deleted (del = 1);
-- AUTOINCREMENT so that a seq is never reused once rows are deleted.
-- text_index holds the generation the text database must carry, so that a
-- text database from another events database is not trusted.

-- +step optional
DROP TRIGGER IF EXISTS events_fts_delete
-- +step optional
DROP TABLE IF EXISTS events_fts
-- +step
CREATE TABLE text_pending (
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	del INTEGER NOT NULL DEFAULT 0,
	ids TEXT NOT NULL
)
-- +step
CREATE TABLE text_index (generation TEXT NOT NULL)
-- +step
INSERT INTO text_index (generation) VALUES (lower(hex(randomblob(16))))
