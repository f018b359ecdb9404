-- Text search for SQLite: an FTS5 trigram index over the case-folded text
-- (folded in Go, strings.ToLower, so that non-ASCII letters match too, which
-- SQLite's own LIKE and lower() do not do). The table keeps its own copy of
-- the folded text because the core re-checks each candidate row against the
-- GLOB pattern. detail=none keeps the index small: a substring query then
-- reads the rows holding all its trigrams and the re-check removes the rest.
-- Optional: a build without FTS5 or the trigram tokenizer falls back to a
-- scan (dialect.go).
-- +step optional
CREATE VIRTUAL TABLE events_fts USING fts5(text, tokenize = 'trigram case_sensitive 1', detail = none)
-- +step optional
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
	DELETE FROM events_fts WHERE rowid = old.id;
END
