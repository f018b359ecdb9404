-- The revenue-leakage ledger: grey-route traffic (A2P on a route billed as
-- P2P) that the SMSC accepted, per UTC day and peer. Rows are added to in
-- the transaction that stores the events they count, so a restart loses
-- nothing and a retried batch counts nothing twice; event retention does
-- not touch them.

-- +step
CREATE TABLE leakage (
	day      TEXT NOT NULL, -- YYYY-MM-DD, UTC
	peer     TEXT NOT NULL,
	messages {{INT64}} NOT NULL DEFAULT 0,
	segments {{INT64}} NOT NULL DEFAULT 0,
	amount   {{REAL}} NOT NULL DEFAULT 0,
	PRIMARY KEY (day, peer)
);
