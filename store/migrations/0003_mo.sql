-- The MO delivery queue (package mo): one row per MO message and durable
-- target (http push, pull) of the route it matched. A row is written before
-- the SMSC's deliver_sm is acknowledged; the delivery workers and the pull
-- API lease rows (lease, next_at), then settle them: delivered, queued again
-- for a later attempt, or dead (a dead letter, replayable by an analyst).

-- +step
CREATE TABLE mo_queue (
	id          {{SERIAL_PK}},
	route       TEXT NOT NULL,
	target      TEXT NOT NULL,            -- http, pull
	state       TEXT NOT NULL,            -- queued, delivered, dead
	received    {{INT64}} NOT NULL,       -- unix microseconds: read from the SMSC
	queued_at   {{INT64}} NOT NULL,       -- queued (or replayed): max_age counts from here
	next_at     {{INT64}} NOT NULL,       -- due (queued) or lease end
	attempts    {{INT64}} NOT NULL DEFAULT 0,
	lease       TEXT NOT NULL DEFAULT '',
	last_error  TEXT NOT NULL DEFAULT '',
	done_at     {{INT64}},
	peer        TEXT NOT NULL,
	sender      TEXT NOT NULL,
	dest        TEXT NOT NULL,
	data_coding {{INT64}} NOT NULL,
	text        TEXT NOT NULL,
	part_ref    {{INT64}} NOT NULL DEFAULT 0,
	part_total  {{INT64}} NOT NULL DEFAULT 0,
	part_seq    {{INT64}} NOT NULL DEFAULT 0,
	action      TEXT NOT NULL,
	rule_id     TEXT NOT NULL,
	raw         {{BLOB}} NOT NULL
);

-- +step
CREATE INDEX mo_queue_due ON mo_queue (route, target, state, next_at);

-- +step
CREATE INDEX mo_queue_lease ON mo_queue (lease);
