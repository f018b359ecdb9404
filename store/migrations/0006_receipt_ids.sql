-- Several smsfw nodes on one store (package cluster): the SMSC's message
-- ids of messages smsfw answered itself (released from quarantine, long-
-- message parts it accepted while holding them), each with the id its peer
-- was given. The node that learnt the SMSC's id appends a row; the other
-- nodes tail the table by seq (woken by NOTIFY, else polling) into their
-- in-memory maps, so a receipt is rewritten on whichever node it arrives.
-- Inserts lock the table (PostgreSQL) so seq order is commit order and a
-- reader's cursor skips nothing. Rows go when expired or beyond the newest
-- the nodes keep in memory.

-- +step
CREATE TABLE receipt_ids (
	seq      {{SERIAL_PK}},
	upstream TEXT NOT NULL,            -- the SMSC's message id
	ours     TEXT NOT NULL,            -- the id the peer was given
	peer     TEXT NOT NULL DEFAULT '',
	node     TEXT NOT NULL DEFAULT '', -- the node that learnt it
	expires  {{INT64}} NOT NULL        -- unix microseconds
)

-- +step
CREATE INDEX receipt_ids_expires ON receipt_ids (expires)
