/*
 * Rolodex - the table of SQL statements (see db_stmt.h).
 *
 * Conventions: ids are BINARY(16) parameters; times come from
 * UTC_TIMESTAMP(6) on the server so one clock orders every row; optional
 * filters are written "(? IS NULL OR ...)" so one prepared statement
 * serves every combination.
 */
#include "config.h"

#include <stdlib.h>

#include "db_stmt.h"

#define PARTY_COLS \
	"p.party_id, p.party_type, p.display_name, p.email, " \
	"p.phone_primary, p.phone_secondary, p.version, " \
	"DATE_FORMAT(p.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), " \
	"DATE_FORMAT(p.updated_at, '%Y-%m-%dT%H:%i:%s.%fZ'), " \
	"pe.title, pe.first_name, pe.middle_names, pe.last_name, " \
	"pe.preferred_name, pe.date_of_birth, o.organisation_name, " \
	"o.organisation_type, o.trading_name, o.registration_number, " \
	"o.website "
#define PARTY_FROM \
	"FROM party p " \
	"LEFT JOIN person pe ON pe.party_id = p.party_id " \
	"LEFT JOIN organisation o ON o.party_id = p.party_id "
/*
 * Optional filters shared by the list statements (11 parameters): type,
 * e-mail, name prefix (LIKE, escaped with '!'), updated since, external
 * identifier.  MariaDB optimises a prepared statement at each execution
 * with its parameters as constants, so "? IS NULL" branches fold away
 * and the remaining conditions can use their indexes.
 */
#define PARTY_FILTERS \
	"AND (? IS NULL OR p.party_type = ?) " \
	"AND (? IS NULL OR p.email = ?) " \
	"AND (? IS NULL OR p.display_name LIKE ? ESCAPE '!') " \
	"AND (? IS NULL OR p.updated_at >= ?) " \
	"AND (? IS NULL OR p.party_id = (SELECT e.party_id FROM " \
	"external_identifier e WHERE e.system_name = ? AND " \
	"e.identifier = ?)) "
#define ADDR_COLS \
	"a.address_id, a.address_type, a.address_line_1, " \
	"a.address_line_2, a.address_line_3, a.city, a.region, " \
	"a.postal_code, a.country "
#define NOW	"UTC_TIMESTAMP(6)"
/* The relay's leader lock: a named lock per database, not per server. */
#define RELAY_LOCK	"CONCAT(DATABASE(), ':rolodex-relay')"
#define REL_COLS \
	"relationship_id, relationship_type, from_party_id, to_party_id, " \
	"start_date, end_date, notes, version, " \
	"DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), " \
	"DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') "

static const struct {
	const char	*name;
	const char	*sql;
} stmts[STMT__MAX] = {
	[STMT_PING] = { "ping", "SELECT 1" },
	[STMT_PARTY_GET] = { "party_get",
	    "SELECT " PARTY_COLS PARTY_FROM "WHERE p.party_id = ?" },
	[STMT_PARTY_GET_LOCK] = { "party_get_lock",
	    "SELECT " PARTY_COLS PARTY_FROM "WHERE p.party_id = ? FOR UPDATE" },
	/* after-id, FILTERS, limit */
	[STMT_PARTY_LIST_BY_ID] = { "party_list_by_id",
	    "SELECT " PARTY_COLS PARTY_FROM "WHERE p.party_id > ? "
	    PARTY_FILTERS "ORDER BY p.party_id LIMIT ?" },
	/* name, name, after-id, FILTERS, limit */
	[STMT_PARTY_LIST_BY_NAME] = { "party_list_by_name",
	    "SELECT " PARTY_COLS PARTY_FROM "WHERE (p.display_name > ? OR "
	    "(p.display_name = ? AND p.party_id > ?)) " PARTY_FILTERS
	    "ORDER BY p.display_name, p.party_id LIMIT ?" },
	/* time, time, after-id, FILTERS, limit */
	[STMT_PARTY_LIST_BY_UPDATED] = { "party_list_by_updated",
	    "SELECT " PARTY_COLS PARTY_FROM "WHERE (p.updated_at > ? OR "
	    "(p.updated_at = ? AND p.party_id > ?)) " PARTY_FILTERS
	    "ORDER BY p.updated_at, p.party_id LIMIT ?" },
	[STMT_PARTY_INSERT] = { "party_insert",
	    "INSERT INTO party (party_id, party_type, display_name, email, "
	    "phone_primary, phone_secondary, version, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, 1, " NOW ", " NOW ")" },
	[STMT_PARTY_UPDATE] = { "party_update",
	    "UPDATE party SET display_name = ?, email = ?, phone_primary = ?, "
	    "phone_secondary = ?, version = version + 1, updated_at = " NOW
	    " WHERE party_id = ?" },
	[STMT_PARTY_BUMP] = { "party_bump",
	    "UPDATE party SET version = version + 1, updated_at = " NOW
	    " WHERE party_id = ?" },
	[STMT_PARTY_DELETE] = { "party_delete",
	    "DELETE FROM party WHERE party_id = ?" },
	[STMT_PERSON_INSERT] = { "person_insert",
	    "INSERT INTO person (party_id, title, first_name, middle_names, "
	    "last_name, preferred_name, date_of_birth) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?)" },
	[STMT_PERSON_UPDATE] = { "person_update",
	    "UPDATE person SET title = ?, first_name = ?, middle_names = ?, "
	    "last_name = ?, preferred_name = ?, date_of_birth = ? "
	    "WHERE party_id = ?" },
	[STMT_ORG_INSERT] = { "org_insert",
	    "INSERT INTO organisation (party_id, organisation_name, "
	    "organisation_type, trading_name, registration_number, website) "
	    "VALUES (?, ?, ?, ?, ?, ?)" },
	[STMT_ORG_UPDATE] = { "org_update",
	    "UPDATE organisation SET organisation_name = ?, "
	    "organisation_type = ?, trading_name = ?, "
	    "registration_number = ?, website = ? WHERE party_id = ?" },
	[STMT_ADDR_LIST] = { "addr_list",
	    "SELECT " ADDR_COLS ", l.is_primary FROM party_address l "
	    "JOIN address a ON a.address_id = l.address_id "
	    "WHERE l.party_id = ? ORDER BY a.address_id" },
	[STMT_ADDR_GET] = { "addr_get",
	    "SELECT " ADDR_COLS ", 0 FROM address a WHERE a.address_id = ? "
	    "FOR UPDATE" },
	[STMT_ADDR_INSERT] = { "addr_insert",
	    "INSERT INTO address (address_id, address_type, address_line_1, "
	    "address_line_2, address_line_3, city, region, postal_code, "
	    "country, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, " NOW ", " NOW ")" },
	[STMT_ADDR_UPDATE] = { "addr_update",
	    "UPDATE address SET address_type = ?, address_line_1 = ?, "
	    "address_line_2 = ?, address_line_3 = ?, city = ?, region = ?, "
	    "postal_code = ?, country = ?, updated_at = " NOW
	    " WHERE address_id = ?" },
	[STMT_ADDR_DELETE_IF_ORPHAN] = { "addr_delete_if_orphan",
	    "DELETE FROM address WHERE address_id = ? AND NOT EXISTS "
	    "(SELECT 1 FROM party_address l WHERE l.address_id = ?)" },
	[STMT_ADDR_PARTIES] = { "addr_parties",
	    "SELECT party_id FROM party_address WHERE address_id = ? "
	    "AND party_id <> ? ORDER BY party_id" },
	[STMT_LINK_INSERT] = { "link_insert",
	    "INSERT INTO party_address (party_id, address_id, is_primary) "
	    "VALUES (?, ?, ?)" },
	[STMT_LINK_UPDATE] = { "link_update",
	    "UPDATE party_address SET is_primary = ? "
	    "WHERE party_id = ? AND address_id = ?" },
	[STMT_LINK_DELETE] = { "link_delete",
	    "DELETE FROM party_address WHERE party_id = ? AND address_id = ?" },
	[STMT_EXTID_LIST] = { "extid_list",
	    "SELECT system_name, identifier, "
	    "DATE_FORMAT(last_synced, '%Y-%m-%dT%H:%i:%s.%fZ') "
	    "FROM external_identifier WHERE party_id = ? "
	    "ORDER BY system_name" },
	[STMT_EXTID_OWNER] = { "extid_owner",
	    "SELECT party_id FROM external_identifier "
	    "WHERE system_name = ? AND identifier = ?" },
	[STMT_EXTID_UPSERT] = { "extid_upsert",
	    "INSERT INTO external_identifier (party_id, system_name, "
	    "identifier, last_synced, created_at) VALUES (?, ?, ?, NULL, " NOW
	    ") ON DUPLICATE KEY UPDATE last_synced = IF(identifier = "
	    "VALUES(identifier), last_synced, NULL), "
	    "identifier = VALUES(identifier)" },
	[STMT_EXTID_DELETE] = { "extid_delete",
	    "DELETE FROM external_identifier "
	    "WHERE party_id = ? AND system_name = ?" },
	[STMT_OUTBOX_INSERT] = { "outbox_insert",
	    "INSERT INTO outbox (event_id, event_type, aggregate_type, "
	    "aggregate_id, aggregate_version, payload, traceparent, "
	    "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, " NOW ")" },
	/* unpublished rows (outbox_queue, sql/0003) and the age of the
	 * oldest, in microseconds */
	[STMT_OUTBOX_PENDING] = { "outbox_pending",
	    "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, "
	    "(SELECT o.created_at FROM outbox_queue f JOIN outbox o "
	    "ON o.id = f.id ORDER BY f.id LIMIT 1), " NOW "), 0) "
	    "FROM outbox_queue" },
	[STMT_USER_GET] = { "user_get",
	    "SELECT user_id, password_hash, roles, disabled, "
	    "IF(last_failure > " NOW " - INTERVAL ? SECOND, failed_logins, 0) "
	    "FROM user_account WHERE username = ?" },
	[STMT_USER_INSERT] = { "user_insert",
	    "INSERT INTO user_account (user_id, username, password_hash, "
	    "roles, created_at) VALUES (?, ?, ?, ?, " NOW ")" },
	[STMT_USER_LIST] = { "user_list",
	    "SELECT username, roles, disabled, "
	    "DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ') "
	    "FROM user_account ORDER BY username" },
	[STMT_USER_SET_DISABLED] = { "user_set_disabled",
	    "UPDATE user_account SET disabled = ? WHERE username = ?" },
	[STMT_USER_SET_PASSWORD] = { "user_set_password",
	    "UPDATE user_account SET password_hash = ?, failed_logins = 0 "
	    "WHERE username = ?" },
	[STMT_USER_FAIL] = { "user_fail",
	    "UPDATE user_account SET failed_logins = IF(last_failure > "
	    NOW " - INTERVAL ? SECOND, failed_logins + 1, 1), "
	    "last_failure = " NOW " WHERE username = ?" },
	[STMT_USER_FAIL_RESET] = { "user_fail_reset",
	    "UPDATE user_account SET failed_logins = 0 WHERE username = ?" },
	[STMT_CLIENT_GET] = { "client_get",
	    "SELECT client_id, secret_hash, roles, revoked_at IS NOT NULL, "
	    "IF(last_failure > " NOW " - INTERVAL ? SECOND, failed_logins, 0) "
	    "FROM api_client WHERE client_id = ?" },
	[STMT_CLIENT_INSERT] = { "client_insert",
	    "INSERT INTO api_client (client_id, name, secret_hash, roles, "
	    "created_at) VALUES (?, ?, ?, ?, " NOW ")" },
	[STMT_CLIENT_LIST] = { "client_list",
	    "SELECT client_id, name, roles, "
	    "DATE_FORMAT(created_at, '%Y-%m-%dT%H:%i:%sZ'), "
	    "DATE_FORMAT(revoked_at, '%Y-%m-%dT%H:%i:%sZ') "
	    "FROM api_client ORDER BY created_at, client_id" },
	[STMT_CLIENT_REVOKE] = { "client_revoke",
	    "UPDATE api_client SET revoked_at = " NOW
	    " WHERE client_id = ? AND revoked_at IS NULL" },
	[STMT_CLIENT_FAIL] = { "client_fail",
	    "UPDATE api_client SET failed_logins = IF(last_failure > "
	    NOW " - INTERVAL ? SECOND, failed_logins + 1, 1), "
	    "last_failure = " NOW " WHERE client_id = ?" },
	[STMT_CLIENT_FAIL_RESET] = { "client_fail_reset",
	    "UPDATE api_client SET failed_logins = 0 WHERE client_id = ?" },
	[STMT_PARTY_TYPE_SHARE] = { "party_type_share",
	    "SELECT party_type FROM party WHERE party_id = ? "
	    "LOCK IN SHARE MODE" },
	[STMT_REL_GET] = { "rel_get",
	    "SELECT " REL_COLS "FROM relationship WHERE relationship_id = ?" },
	[STMT_REL_GET_LOCK] = { "rel_get_lock",
	    "SELECT " REL_COLS "FROM relationship WHERE relationship_id = ? "
	    "FOR UPDATE" },
	[STMT_REL_INSERT] = { "rel_insert",
	    "INSERT INTO relationship (relationship_id, relationship_type, "
	    "from_party_id, to_party_id, start_date, end_date, notes, "
	    "version, created_at, updated_at) "
	    "VALUES (?, ?, ?, ?, ?, ?, ?, 1, " NOW ", " NOW ")" },
	[STMT_REL_UPDATE] = { "rel_update",
	    "UPDATE relationship SET relationship_type = ?, "
	    "from_party_id = ?, to_party_id = ?, start_date = ?, "
	    "end_date = ?, notes = ?, version = version + 1, "
	    "updated_at = " NOW " WHERE relationship_id = ?" },
	[STMT_REL_DELETE] = { "rel_delete",
	    "DELETE FROM relationship WHERE relationship_id = ?" },
	/* from?, party, to?, party, after, type, type, current, limit */
	[STMT_REL_LIST] = { "rel_list",
	    "SELECT " REL_COLS "FROM relationship "
	    "WHERE ((? AND from_party_id = ?) OR (? AND to_party_id = ?)) "
	    "AND relationship_id > ? "
	    "AND (? IS NULL OR relationship_type = ?) "
	    "AND (NOT ? OR ((start_date IS NULL OR start_date <= "
	    "UTC_DATE()) AND (end_date IS NULL OR end_date >= UTC_DATE()))) "
	    "ORDER BY relationship_id LIMIT ?" },
	[STMT_REL_IDS_OF_PARTY] = { "rel_ids_of_party",
	    "SELECT relationship_id FROM relationship WHERE from_party_id = ? "
	    "OR to_party_id = ? ORDER BY relationship_id FOR UPDATE" },
	/* party id text, aggregate id: keep the envelope, drop the person */
	[STMT_OUTBOX_REDACT] = { "outbox_redact",
	    "UPDATE outbox SET payload = CONCAT('{\"party_id\":\"', ?, "
	    "'\",\"party_type\":\"person\",\"version\":', "
	    "aggregate_version, ',\"erased\":true}') WHERE aggregate_id = ?" },
	/* party id text twice: notes may name the person */
	[STMT_OUTBOX_REDACT_RELS] = { "outbox_redact_rels",
	    "UPDATE outbox SET payload = JSON_REMOVE(payload, '$.notes') "
	    "WHERE aggregate_type = 'relationship' AND "
	    "JSON_EXISTS(payload, '$.notes') AND "
	    "(JSON_VALUE(payload, '$.from_party_id') = ? OR "
	    "JSON_VALUE(payload, '$.to_party_id') = ?)" },
	[STMT_ERASURE_AUDIT] = { "erasure_audit",
	    "INSERT INTO erasure_audit (party_id, erased_by, request_id, "
	    "erased_at) VALUES (?, ?, ?, " NOW ")" },
	/* principal, key, hash, ttl seconds */
	[STMT_IDEM_INSERT] = { "idem_insert",
	    "INSERT INTO idempotency_key (principal, idem_key, request_hash, "
	    "created_at, expires_at) VALUES (?, ?, ?, " NOW ", " NOW
	    " + INTERVAL ? SECOND)" },
	[STMT_IDEM_GET] = { "idem_get",
	    "SELECT request_hash, status, headers, body, expires_at < " NOW
	    ", TIMESTAMPDIFF(SECOND, created_at, " NOW ") FROM idempotency_key "
	    "WHERE principal = ? AND idem_key = ?" },
	[STMT_IDEM_DONE] = { "idem_done",
	    "UPDATE idempotency_key SET status = ?, headers = ?, body = ? "
	    "WHERE principal = ? AND idem_key = ?" },
	[STMT_IDEM_DELETE] = { "idem_delete",
	    "DELETE FROM idempotency_key WHERE principal = ? AND idem_key = ?" },
	/* stored answers that carry a party id: keep the key, drop the body */
	[STMT_IDEM_REDACT] = { "idem_redact",
	    "UPDATE idempotency_key SET body = '{\"erased\":true}' "
	    "WHERE status IS NOT NULL AND INSTR(body, ?) > 0" },
	[STMT_IDEM_PURGE] = { "idem_purge",
	    "DELETE FROM idempotency_key WHERE expires_at < " NOW " LIMIT ?" },
	[STMT_MIG_LIST] = { "mig_list",
	    "SELECT version, name, checksum FROM schema_migration "
	    "ORDER BY version" },
	[STMT_MIG_INSERT] = { "mig_insert",
	    "INSERT INTO schema_migration (version, name, checksum, "
	    "applied_at) VALUES (?, ?, ?, " NOW ")" },
	/* timeout seconds: 1 acquired, 0 timed out, NULL error */
	[STMT_RELAY_LOCK_TRY] = { "relay_lock_try",
	    "SELECT GET_LOCK(" RELAY_LOCK ", ?)" },
	[STMT_RELAY_LOCK_HELD] = { "relay_lock_held",
	    "SELECT IS_USED_LOCK(" RELAY_LOCK ") <=> CONNECTION_ID()" },
	[STMT_RELAY_LOCK_RELEASE] = { "relay_lock_release",
	    "SELECT RELEASE_LOCK(" RELAY_LOCK ")" },
	/* holder's connection (NULL: free), its relay and heartbeat age */
	[STMT_RELAY_LOCK_OWNER] = { "relay_lock_owner",
	    "SELECT l.conn, n.name, TIMESTAMPDIFF(MICROSECOND, "
	    "n.heartbeat_at, " NOW ") FROM (SELECT IS_USED_LOCK(" RELAY_LOCK
	    ") AS conn) l LEFT JOIN relay_node n ON n.conn_id = l.conn" },
	/* a stalled leader's connection: frees its lock (same user) */
	[STMT_RELAY_KILL] = { "relay_kill", "KILL CONNECTION ?" },
	/* name, host, pid, role, published */
	[STMT_RELAY_NODE_UPSERT] = { "relay_node_upsert",
	    "INSERT INTO relay_node (name, host, pid, conn_id, role, "
	    "published, started_at, heartbeat_at) VALUES (?, ?, ?, "
	    "CONNECTION_ID(), ?, ?, " NOW ", " NOW ") ON DUPLICATE KEY UPDATE "
	    "conn_id = CONNECTION_ID(), role = VALUES(role), "
	    "published = VALUES(published), heartbeat_at = " NOW },
	[STMT_RELAY_NODE_DELETE] = { "relay_node_delete",
	    "DELETE FROM relay_node WHERE name = ?" },
	[STMT_RELAY_NODE_PURGE] = { "relay_node_purge",
	    "DELETE FROM relay_node WHERE heartbeat_at < " NOW
	    " - INTERVAL ? SECOND" },
	[STMT_RELAY_NODE_LIST] = { "relay_node_list",
	    "SELECT name, host, pid, role, published, "
	    "TIMESTAMPDIFF(MICROSECOND, heartbeat_at, " NOW "), "
	    "conn_id <=> IS_USED_LOCK(" RELAY_LOCK "), "
	    "DATE_FORMAT(started_at, '%Y-%m-%dT%H:%i:%sZ') "
	    "FROM relay_node ORDER BY name" },
	[STMT_RELAY_STREAM_GET] = { "relay_stream_get",
	    "SELECT last_ms, last_seq, last_event_id FROM relay_stream "
	    "WHERE stream = ?" },
	/* stream, ms, seq, event id; never moves backwards (the SET order
	 * matters: each IF reads last_ms before it is assigned) */
	[STMT_RELAY_STREAM_SET] = { "relay_stream_set",
	    "INSERT INTO relay_stream (stream, last_ms, last_seq, "
	    "last_event_id, updated_at) VALUES (?, ?, ?, ?, " NOW ") "
	    "ON DUPLICATE KEY UPDATE "
	    "last_event_id = IF((VALUES(last_ms), VALUES(last_seq)) > "
	    "(last_ms, last_seq), VALUES(last_event_id), last_event_id), "
	    "last_seq = IF((VALUES(last_ms), VALUES(last_seq)) > "
	    "(last_ms, last_seq), VALUES(last_seq), last_seq), "
	    "last_ms = GREATEST(last_ms, VALUES(last_ms)), "
	    "updated_at = " NOW },
	/* stream, ms, seq, event id: after a replay, unconditionally */
	[STMT_RELAY_STREAM_RESET] = { "relay_stream_reset",
	    "INSERT INTO relay_stream (stream, last_ms, last_seq, "
	    "last_event_id, updated_at) VALUES (?, ?, ?, ?, " NOW ") "
	    "ON DUPLICATE KEY UPDATE last_ms = VALUES(last_ms), "
	    "last_seq = VALUES(last_seq), "
	    "last_event_id = VALUES(last_event_id), updated_at = " NOW },
	[STMT_RELAY_STREAM_LIST] = { "relay_stream_list",
	    "SELECT stream, CONCAT(last_ms, '-', last_seq), "
	    "DATE_FORMAT(updated_at, '%Y-%m-%dT%H:%i:%s.%fZ') "
	    "FROM relay_stream ORDER BY stream" },
	/* limit: the oldest unpublished rows in id order, from the queue
	 * (never "id > last seen": ids are not commit order) */
	[STMT_OUTBOX_BATCH] = { "outbox_batch",
	    "SELECT STRAIGHT_JOIN o.id, o.event_id, o.event_type, "
	    "o.aggregate_type, o.aggregate_id, o.aggregate_version, "
	    "DATE_FORMAT(o.created_at, '%Y-%m-%dT%H:%i:%s.%fZ'), o.payload, "
	    "o.traceparent FROM outbox_queue q JOIN outbox o ON o.id = q.id "
	    "ORDER BY q.id LIMIT ?" },
	/* JSON array of outbox ids: published, off the queue */
	[STMT_OUTBOX_MARK] = { "outbox_mark",
	    "DELETE q FROM outbox_queue q JOIN JSON_TABLE(?, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j ON q.id = j.id" },
	/* relationship id, version: the payload of an earlier version,
	 * which names the from party (a Deleted event does not) */
	[STMT_OUTBOX_REL_OWNER] = { "outbox_rel_owner",
	    "SELECT payload FROM outbox WHERE aggregate_id = ? AND "
	    "aggregate_version < ? AND event_type <> 'RelationshipDeleted' "
	    "ORDER BY aggregate_version DESC, id DESC LIMIT 1" },
	/* first and last batch id, cutoff: the published rows of the old
	 * batches in that range, unless queued again since */
	[STMT_OUTBOX_PURGE_BATCH] = { "outbox_purge_batch",
	    "DELETE o FROM relay_batch b JOIN JSON_TABLE(b.row_ids, '$[*]' "
	    "COLUMNS (id BIGINT UNSIGNED PATH '$')) j JOIN outbox o "
	    "ON o.id = j.id LEFT JOIN outbox_queue q ON q.id = o.id "
	    "WHERE b.id BETWEEN ? AND ? AND b.published_at < ? AND "
	    "q.id IS NULL" },
	/* stream, ms, seq, rows, JSON array of outbox ids */
	[STMT_RELAY_BATCH_INSERT] = { "relay_batch_insert",
	    "INSERT INTO relay_batch (stream_part, last_ms, last_seq, nrows, "
	    "row_ids, published_at) VALUES (?, ?, ?, ?, ?, " NOW ")" },
	/* stream, all?, ms, seq, limit: batches that reached past ms-seq */
	[STMT_RELAY_BATCH_PAST] = { "relay_batch_past",
	    "SELECT id FROM relay_batch WHERE stream_part = ? AND "
	    "(? OR (last_ms, last_seq) > (?, ?)) ORDER BY id LIMIT ?" },
	/* batch id: its rows back on the queue (those still retained) */
	[STMT_RELAY_BATCH_REQUEUE] = { "relay_batch_requeue",
	    "INSERT IGNORE INTO outbox_queue (id) SELECT o.id FROM "
	    "relay_batch b JOIN JSON_TABLE(b.row_ids, '$[*]' COLUMNS "
	    "(id BIGINT UNSIGNED PATH '$')) j JOIN outbox o ON o.id = j.id "
	    "WHERE b.id = ?" },
	[STMT_RELAY_BATCH_DELETE] = { "relay_batch_delete",
	    "DELETE FROM relay_batch WHERE id = ?" },
	/* retention seconds, retention seconds, limit: the oldest batches
	 * past the retention (id, rows) and the cutoff used */
	[STMT_RELAY_BATCH_OLD] = { "relay_batch_old",
	    "SELECT id, nrows, DATE_FORMAT(" NOW " - INTERVAL ? SECOND, "
	    "'%Y-%m-%d %H:%i:%s.%f') FROM relay_batch WHERE published_at < "
	    NOW " - INTERVAL ? SECOND ORDER BY published_at, id LIMIT ?" },
	/* first and last batch id, cutoff */
	[STMT_RELAY_BATCH_PURGE] = { "relay_batch_purge",
	    "DELETE FROM relay_batch WHERE id BETWEEN ? AND ? AND "
	    "published_at < ?" },
	/* identifier, party, system: feedback, no version bump */
	[STMT_EXTID_SYNC_UPDATE] = { "extid_sync_update",
	    "UPDATE external_identifier SET identifier = ?, last_synced = "
	    NOW " WHERE party_id = ? AND system_name = ?" },
	/* party, system, identifier */
	[STMT_EXTID_SYNC_INSERT] = { "extid_sync_insert",
	    "INSERT INTO external_identifier (party_id, system_name, "
	    "identifier, last_synced, created_at) VALUES (?, ?, ?, " NOW ", "
	    NOW ")" },
	/* after-id, limit */
	[STMT_RESYNC_PARTIES] = { "resync_parties",
	    "SELECT party_id FROM party WHERE party_id > ? "
	    "ORDER BY party_id LIMIT ?" },
	[STMT_RESYNC_RELSHIPS] = { "resync_relships",
	    "SELECT relationship_id FROM relationship "
	    "WHERE relationship_id > ? ORDER BY relationship_id LIMIT ?" },
};

const char *
stmt_sql(enum stmt s)
{
	if (s >= STMT__MAX || stmts[s].sql == NULL)
		abort();
	return stmts[s].sql;
}

const char *
stmt_name(enum stmt s)
{
	if (s >= STMT__MAX || stmts[s].name == NULL)
		abort();
	return stmts[s].name;
}
