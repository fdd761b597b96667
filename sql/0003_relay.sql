-- The relay's own state (docs/relay.md).
--
-- relay_node: one row per running rolodex-relay, refreshed every second
-- (heartbeat_at).  conn_id is the relay's database connection; the leader
-- is the relay whose connection holds the named lock
-- "<database>:rolodex-relay" (GET_LOCK), so ownership is never read from
-- this table alone.  A standby that sees the lock holder's heartbeat older
-- than [relay] lease kills that connection, which frees the lock.
CREATE TABLE IF NOT EXISTS relay_node (
	name		VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin
			    NOT NULL,
	host		VARCHAR(255)	NOT NULL,
	pid		INT UNSIGNED	NOT NULL,
	conn_id		BIGINT UNSIGNED	NOT NULL,
	role		ENUM('leader', 'standby') NOT NULL,
	published	BIGINT UNSIGNED	NOT NULL DEFAULT 0,
	started_at	DATETIME(6)	NOT NULL,
	heartbeat_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (name),
	KEY relay_node_conn (conn_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- relay_stream: per Redis stream, the newest entry a relay appended
-- (stream id as milliseconds and sequence, and the event id it carries),
-- written in the same transaction that marks the rows published.  After
-- every reconnect the relay checks that this entry still exists.
CREATE TABLE IF NOT EXISTS relay_stream (
	stream		VARCHAR(200) CHARACTER SET ascii COLLATE ascii_bin
			    NOT NULL,
	last_ms		BIGINT UNSIGNED	NOT NULL,
	last_seq	BIGINT UNSIGNED	NOT NULL,
	last_event_id	BINARY(16)	NOT NULL,
	updated_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (stream)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- outbox_queue: the ids of the outbox rows not yet published.  The
-- trigger adds one in the transaction that writes the outbox row, so it
-- commits (or rolls back) with it, whichever program writes the outbox;
-- the relay reads the queue in id order and deletes what it published.
-- Deleting a narrow row costs a fraction of updating the wide outbox row
-- and its published_at index, which is what lets one relay drain tens of
-- thousands of rows a second.  outbox.published_at is no longer set.
-- The trigger runs with its definer's rights: keep the account that ran
-- this migration (or recreate the trigger under another one).
CREATE TABLE IF NOT EXISTS outbox_queue (
	id		BIGINT UNSIGNED	NOT NULL,
	PRIMARY KEY (id)
) ENGINE=InnoDB;

CREATE TRIGGER IF NOT EXISTS outbox_enqueue AFTER INSERT ON outbox
	FOR EACH ROW INSERT INTO outbox_queue (id) VALUES (NEW.id);

INSERT IGNORE INTO outbox_queue (id)
	SELECT id FROM outbox WHERE published_at IS NULL;

-- relay_batch: one row per published batch and stream: the outbox ids it
-- published there (a JSON array), the newest stream id it reached there,
-- and when.  When Redis lost entries, the batches that reached past the
-- newest surviving entry go back to the queue; published rows are
-- deleted batch by batch after [relay] retention seconds.
CREATE TABLE IF NOT EXISTS relay_batch (
	id		BIGINT UNSIGNED	NOT NULL AUTO_INCREMENT,
	stream_part	SMALLINT UNSIGNED NOT NULL,
	last_ms		BIGINT UNSIGNED	NOT NULL,
	last_seq	BIGINT UNSIGNED	NOT NULL,
	nrows		INT UNSIGNED	NOT NULL,
	row_ids		MEDIUMTEXT CHARACTER SET ascii NOT NULL,
	published_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (id),
	KEY relay_batch_stream (stream_part, last_ms, last_seq),
	KEY relay_batch_time (published_at)
) ENGINE=InnoDB;
