-- The first schema: events, overrides, audit. Shared by both dialects; the
-- {{...}} macros are the dialect's types (dialect.go). Times are unix
-- microseconds in integer columns on both dialects, so that keyset paging,
-- retention and time buckets are the same integer arithmetic everywhere.
-- Booleans are 0/1 integers for the same reason.

-- +step
CREATE TABLE events (
	id                  {{PK64}},
	t                   {{INT64}} NOT NULL,
	direction           TEXT NOT NULL DEFAULT '',
	peer                TEXT NOT NULL DEFAULT '',
	system_id           TEXT NOT NULL DEFAULT '',
	peer_class          TEXT NOT NULL DEFAULT '',
	class               TEXT NOT NULL DEFAULT '',
	sender              TEXT NOT NULL DEFAULT '',
	sender_kind         TEXT NOT NULL DEFAULT '',
	dest                TEXT NOT NULL DEFAULT '',
	dest_country        TEXT NOT NULL DEFAULT '',
	dest_count          {{INT64}} NOT NULL DEFAULT 0,
	text                TEXT NOT NULL DEFAULT '',
	text_masked         {{INT64}} NOT NULL DEFAULT 0,
	data_coding         {{INT64}} NOT NULL DEFAULT 0,
	segments            {{INT64}} NOT NULL DEFAULT 0,
	fingerprint         {{INT64}} NOT NULL DEFAULT 0, -- uint64 SimHash stored as its int64 bit pattern
	rule_id             TEXT NOT NULL DEFAULT '',
	action              TEXT NOT NULL DEFAULT '',
	monitor             {{INT64}} NOT NULL DEFAULT 0,
	sampled             {{INT64}} NOT NULL DEFAULT 0,
	reason              TEXT NOT NULL DEFAULT '',
	evidence            TEXT NOT NULL DEFAULT '',
	highlight           TEXT NOT NULL DEFAULT '',
	leakage             {{REAL}} NOT NULL DEFAULT 0,
	status              {{INT64}} NOT NULL DEFAULT 0,
	message_id          TEXT NOT NULL DEFAULT '',
	quarantine          TEXT NOT NULL DEFAULT '',
	upstream_message_id TEXT NOT NULL DEFAULT '',
	decided_at          {{INT64}},
	decided_by          TEXT NOT NULL DEFAULT '',
	raw                 {{BLOB}} -- segments, each prefixed by its length (uint32 big-endian)
)
-- Every index ends in (t, id): searches are "newest first" keyset pages, so
-- an equality filter plus the order is one index range read backwards.
-- +step
CREATE INDEX events_time ON events (t, id)
-- +step
CREATE INDEX events_sender ON events (sender, t, id)
-- +step
CREATE INDEX events_dest ON events (dest, t, id)
-- +step
CREATE INDEX events_rule ON events (rule_id, t, id)
-- +step
CREATE INDEX events_peer ON events (peer, t, id)
-- +step
CREATE INDEX events_fingerprint ON events (fingerprint, t, id)
-- Quarantined events are few among many: a partial index keeps the expiry
-- scan (HeldBefore) and the quarantine queue cheap without indexing the rest.
-- +step
CREATE INDEX events_quarantine ON events (quarantine, t, id) WHERE quarantine <> ''

-- +step
CREATE TABLE overrides (
	id          {{SERIAL_PK}},
	kind        TEXT NOT NULL,
	sender      TEXT NOT NULL DEFAULT '',
	fingerprint {{INT64}} NOT NULL DEFAULT 0,
	action      TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	author      TEXT NOT NULL DEFAULT '',
	event_id    {{INT64}} NOT NULL DEFAULT 0,
	created     {{INT64}} NOT NULL,
	expires     {{INT64}}
)

-- +step
CREATE TABLE audit (
	id     {{SERIAL_PK}},
	t      {{INT64}} NOT NULL,
	actor  TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL DEFAULT '',
	target TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	detail TEXT NOT NULL DEFAULT ''
)
-- +step
CREATE INDEX audit_time ON audit (t, id)
-- +step
CREATE INDEX audit_actor ON audit (actor, t, id)
