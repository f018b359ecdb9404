-- The fake-receipt check's accepted message ids (filter/receipts), kept
-- across restarts and shared between the nodes of a cluster: chunks of
-- each node's Bloom filter, by generation. A node appends the words that
-- changed (delta), its whole filter now and then (full, after which its
-- older chunks go), and a stop chunk at a clean stop; it reads every
-- chunk at start and tails the others' by seq. Inserts lock the table
-- (PostgreSQL) so seq order is commit order and a reader's cursor skips
-- nothing. Chunks go when their generation is forgotten (expires).

-- +step
CREATE TABLE receipt_filter (
	seq     {{SERIAL_PK}},
	node    TEXT NOT NULL DEFAULT '',
	kind    {{INT64}} NOT NULL,       -- 0 delta, 1 full, 2 stop
	span    {{INT64}} NOT NULL,       -- nanoseconds per generation
	bits    {{INT64}} NOT NULL,       -- the filter's size
	epoch   {{INT64}} NOT NULL,       -- the generation
	at      {{INT64}} NOT NULL,       -- unix nanoseconds: the node's ids up to here are written
	words   {{BLOB}} NOT NULL,        -- (uint32 index, uint64 word) little-endian pairs
	expires {{INT64}} NOT NULL        -- unix microseconds
)

-- +step
CREATE INDEX receipt_filter_node ON receipt_filter (node, seq)

-- +step
CREATE INDEX receipt_filter_expires ON receipt_filter (expires)
