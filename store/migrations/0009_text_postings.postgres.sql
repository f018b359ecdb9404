-- Event writes at 50,000 a second (issue 16): the text index is smsfw's
-- own (pgtrgm.go) instead of pg_trgm's GIN index, which cost the server
-- ~200 us of CPU per event inserted one by one and still 50-70 us with
-- its pending list merged in bulk.
--
-- event_trgm holds one row per (trigram, stored part): the ids of the
-- part's events whose folded text (Go's strings.ToLower, as on SQLite)
-- has the trigram, ascending, delta-encoded as unsigned varints. tri is
-- the trigram's three runes, 21 bits each; lo and hi are the smallest and
-- largest event id of the part (retention rewrites the parts whose range
-- it deleted events from); n is how many ids it holds.
-- +step
CREATE TABLE event_trgm (
	tri BIGINT NOT NULL,
	lo  BIGINT NOT NULL,
	hi  BIGINT NOT NULL,
	n   INTEGER NOT NULL,
	ids BYTEA NOT NULL
)
-- One index, for both the searches (by tri) and retention (by tri, then lo).
-- +step
CREATE INDEX event_trgm_tri ON event_trgm (tri, lo) INCLUDE (hi, n)
-- The events stored before this migration are indexed by the store after
-- it (in id order from next_id, a few thousand per transaction); until it
-- is done text searches use ILIKE alone (served by the pg_trgm index where
-- there is one), then it deletes this row and drops events_text_trgm.
-- +step
CREATE TABLE event_trgm_backfill (next_id BIGINT NOT NULL)
-- +step
INSERT INTO event_trgm_backfill (next_id) VALUES (-9223372036854775808)
-- A database without events (a new one) has nothing to index: no pg_trgm
-- index either.
-- +step
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM events) THEN
		DELETE FROM event_trgm_backfill;
		DROP INDEX IF EXISTS events_text_trgm;
	END IF;
END
$$
