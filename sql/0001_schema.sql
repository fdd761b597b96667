-- Rolodex schema, first version.
--
-- Ids are UUIDv7 stored as BINARY(16); times are DATETIME(6) in UTC (every
-- connection sets time_zone to +00:00).  Text is utf8mb4 with a
-- case-insensitive collation, so name-prefix and e-mail lookups ignore
-- case.  Every table is InnoDB: the outbox row and the change it describes
-- commit or roll back together.

CREATE TABLE party (
	party_id	BINARY(16)	NOT NULL,
	party_type	ENUM('person', 'organisation') NOT NULL,
	display_name	VARCHAR(300)	NOT NULL,
	email		VARCHAR(254)	NULL,
	phone_primary	VARCHAR(16)	NULL,
	phone_secondary	VARCHAR(16)	NULL,
	version		BIGINT UNSIGNED	NOT NULL,
	created_at	DATETIME(6)	NOT NULL,
	updated_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (party_id),
	KEY party_type_id (party_type, party_id),
	KEY party_name (display_name, party_id),
	KEY party_email (email),
	KEY party_updated (updated_at, party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE person (
	party_id	BINARY(16)	NOT NULL,
	title		VARCHAR(200)	NULL,
	first_name	VARCHAR(400)	NOT NULL,
	middle_names	VARCHAR(400)	NULL,
	last_name	VARCHAR(400)	NOT NULL,
	preferred_name	VARCHAR(400)	NULL,
	date_of_birth	DATE		NULL,
	PRIMARY KEY (party_id),
	CONSTRAINT person_party FOREIGN KEY (party_id)
	    REFERENCES party (party_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE organisation (
	party_id		BINARY(16)	NOT NULL,
	organisation_name	VARCHAR(800)	NOT NULL,
	organisation_type	VARCHAR(400)	NULL,
	trading_name		VARCHAR(800)	NULL,
	registration_number	VARCHAR(400)	NULL,
	website			VARCHAR(2048)	NULL,
	PRIMARY KEY (party_id),
	CONSTRAINT organisation_party FOREIGN KEY (party_id)
	    REFERENCES party (party_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- An address may be shared by several parties (a household, an office);
-- the link carries what is specific to one party.
CREATE TABLE address (
	address_id	BINARY(16)	NOT NULL,
	address_type	ENUM('home', 'work', 'billing', 'postal',
			    'registered', 'other') NOT NULL,
	address_line_1	VARCHAR(800)	NOT NULL,
	address_line_2	VARCHAR(800)	NULL,
	address_line_3	VARCHAR(800)	NULL,
	city		VARCHAR(400)	NULL,
	region		VARCHAR(400)	NULL,
	postal_code	VARCHAR(80)	NULL,
	country		CHAR(2)		NOT NULL,
	created_at	DATETIME(6)	NOT NULL,
	updated_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (address_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE party_address (
	party_id	BINARY(16)	NOT NULL,
	address_id	BINARY(16)	NOT NULL,
	is_primary	BOOLEAN		NOT NULL DEFAULT FALSE,
	PRIMARY KEY (party_id, address_id),
	KEY party_address_address (address_id),
	CONSTRAINT party_address_party FOREIGN KEY (party_id)
	    REFERENCES party (party_id) ON DELETE CASCADE,
	CONSTRAINT party_address_address FOREIGN KEY (address_id)
	    REFERENCES address (address_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A (system, identifier) pair names at most one party; a party has at
-- most one identifier per system.  Identifiers compare exactly (binary).
CREATE TABLE external_identifier (
	party_id	BINARY(16)	NOT NULL,
	system_name	VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	identifier	VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin
			    NOT NULL,
	last_synced	DATETIME(6)	NULL,
	created_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (party_id, system_name),
	UNIQUE KEY external_identifier_pair (system_name, identifier),
	CONSTRAINT external_identifier_party FOREIGN KEY (party_id)
	    REFERENCES party (party_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE relationship (
	relationship_id		BINARY(16)	NOT NULL,
	relationship_type	VARCHAR(40) CHARACTER SET ascii NOT NULL,
	from_party_id		BINARY(16)	NOT NULL,
	to_party_id		BINARY(16)	NOT NULL,
	start_date		DATE		NULL,
	end_date		DATE		NULL,
	notes			TEXT		NULL,
	version			BIGINT UNSIGNED	NOT NULL,
	created_at		DATETIME(6)	NOT NULL,
	updated_at		DATETIME(6)	NOT NULL,
	PRIMARY KEY (relationship_id),
	KEY relationship_from (from_party_id, relationship_type),
	KEY relationship_to (to_party_id, relationship_type),
	CONSTRAINT relationship_from_party FOREIGN KEY (from_party_id)
	    REFERENCES party (party_id),
	CONSTRAINT relationship_to_party FOREIGN KEY (to_party_id)
	    REFERENCES party (party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The transactional outbox: one row per committed change, written in the
-- change's own transaction.  id orders rows by insert, not by commit;
-- relays must not treat it as a high-water mark.
CREATE TABLE outbox (
	id			BIGINT UNSIGNED	NOT NULL AUTO_INCREMENT,
	event_id		BINARY(16)	NOT NULL,
	event_type		VARCHAR(40) CHARACTER SET ascii NOT NULL,
	aggregate_type		VARCHAR(20) CHARACTER SET ascii NOT NULL,
	aggregate_id		BINARY(16)	NOT NULL,
	aggregate_version	BIGINT UNSIGNED	NOT NULL,
	payload			MEDIUMTEXT	NOT NULL,
	traceparent		VARCHAR(55) CHARACTER SET ascii NULL,
	created_at		DATETIME(6)	NOT NULL,
	published_at		DATETIME(6)	NULL,
	PRIMARY KEY (id),
	UNIQUE KEY outbox_event (event_id),
	KEY outbox_unpublished (published_at, id),
	KEY outbox_aggregate (aggregate_id, aggregate_version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE user_account (
	user_id		BINARY(16)	NOT NULL,
	username	VARCHAR(128)	NOT NULL,
	password_hash	VARCHAR(255) CHARACTER SET ascii NOT NULL,
	roles		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	disabled	BOOLEAN		NOT NULL DEFAULT FALSE,
	failed_logins	INT UNSIGNED	NOT NULL DEFAULT 0,
	last_failure	DATETIME(6)	NULL,
	created_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (user_id),
	UNIQUE KEY user_account_name (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE api_client (
	client_id	VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	name		VARCHAR(128)	NOT NULL,
	secret_hash	VARCHAR(255) CHARACTER SET ascii NOT NULL,
	roles		VARCHAR(64) CHARACTER SET ascii NOT NULL,
	revoked_at	DATETIME(6)	NULL,
	failed_logins	INT UNSIGNED	NOT NULL DEFAULT 0,
	last_failure	DATETIME(6)	NULL,
	created_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (client_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Responses to POSTs that carried an Idempotency-Key, for replay.
CREATE TABLE idempotency_key (
	principal	VARCHAR(255)	NOT NULL,
	idem_key	VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	request_hash	BINARY(32)	NOT NULL,
	status		SMALLINT UNSIGNED NULL,
	headers		TEXT		NULL,
	body		MEDIUMTEXT	NULL,
	created_at	DATETIME(6)	NOT NULL,
	expires_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (principal, idem_key),
	KEY idempotency_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
