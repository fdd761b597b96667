-- GDPR erasure leaves an audit row without personal data: which party id
-- was erased, by whom, when, and under which request.
CREATE TABLE IF NOT EXISTS erasure_audit (
	id		BIGINT UNSIGNED	NOT NULL AUTO_INCREMENT,
	party_id	BINARY(16)	NOT NULL,
	erased_by	VARCHAR(255)	NOT NULL,
	request_id	VARCHAR(40) CHARACTER SET ascii NOT NULL,
	erased_at	DATETIME(6)	NOT NULL,
	PRIMARY KEY (id),
	KEY erasure_audit_party (party_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
