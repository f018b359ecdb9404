-- Several smsfw nodes on one PostgreSQL store (package cluster).
--
-- quarantine_decisions: one row per quarantined event that an analyst (or
-- the expiry) decided or asked to decide. The row is the cross-node lock
-- on the message: a decision starts by inserting (or taking over a
-- finished) row in one statement that also checks the event is still
-- held, so two nodes acting at once cannot both release it. A node that
-- cannot send the message (no session for its peer) leaves the row
-- pending; a node that can claims it (state claimed, lease_until), sends
-- the message and finishes the row (done or failed, with the SMSC's ids or
-- the error), which the asking node reads to answer its caller.
--
-- bans: the ban list's API bans (bpf), shared by every node.

-- +step
CREATE TABLE quarantine_decisions (
	event_id     {{INT64}} PRIMARY KEY,
	action       TEXT NOT NULL,            -- release, reject, expire
	state        TEXT NOT NULL,            -- pending, claimed, done, failed
	actor        TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	asked_on     TEXT NOT NULL DEFAULT '', -- the node whose API was asked
	node         TEXT NOT NULL DEFAULT '', -- the node carrying it out
	requested    {{INT64}} NOT NULL,       -- unix microseconds
	lease_until  {{INT64}} NOT NULL DEFAULT 0,
	finished     {{INT64}},
	result       TEXT NOT NULL DEFAULT '', -- the SMSC's message ids of a release
	error        TEXT NOT NULL DEFAULT ''
)

-- +step
CREATE INDEX quarantine_decisions_state ON quarantine_decisions (state, requested)

-- +step
CREATE TABLE bans (
	source  TEXT PRIMARY KEY,              -- CIDR
	reason  TEXT NOT NULL DEFAULT '',
	origin  TEXT NOT NULL DEFAULT '',
	actor   TEXT NOT NULL DEFAULT '',
	created {{INT64}} NOT NULL,
	expires {{INT64}}                      -- NULL: never
)
