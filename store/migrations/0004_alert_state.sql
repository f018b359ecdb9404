-- What package alerts has alerted, so that a restart does not alert a
-- condition still holding once more: one row per condition key, with the
-- last time it held. Replaced as a whole at each check (a few rows).

-- +step
CREATE TABLE alert_state (
	key       TEXT PRIMARY KEY,
	last_held {{INT64}} NOT NULL -- unix microseconds
);
