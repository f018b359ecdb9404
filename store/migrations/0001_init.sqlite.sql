-- Text search for SQLite: an FTS5 trigram index over the case-folded text.
-- The text is folded in Go (strings.ToLower) before it is indexed and so is
-- the query, so that non-ASCII letters match regardless of case, which
-- SQLite's own LIKE and lower() do not do. A substring of three characters
-- or more is a phrase of consecutive trigrams: MATCH answers it exactly from
-- the index (detail=full keeps the positions phrases need), so the table
-- stores no copy of the text (content='') and nothing is re-checked.
-- Shorter substrings scan (dialect.go). Optional: a build without FTS5 or
-- the trigram tokenizer falls back to the scan for every query.
-- +step optional
CREATE VIRTUAL TABLE events_fts USING fts5(text, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1')
-- +step optional
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
	DELETE FROM events_fts WHERE rowid = old.id;
END
-- Merge index segments 8 at a time instead of 4: less merging on the write
-- path (measured: ~15% more events/s), a few more segments per query.
-- +step optional
INSERT INTO events_fts (events_fts, rank) VALUES ('automerge', 8)
