-- Text search for PostgreSQL: ILIKE, served by a pg_trgm GIN index when the
-- extension can be created (it is "trusted" since PostgreSQL 13: a database
-- owner may create it). Without it ILIKE still works, by scanning.
-- +step optional
CREATE EXTENSION IF NOT EXISTS pg_trgm
-- +step optional
CREATE INDEX events_text_trgm ON events USING gin (text gin_trgm_ops)
