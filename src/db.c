/*
 * Rolodex - database access (see db.h).
 *
 * Results are fetched with every column bound as a string: after
 * mysql_stmt_store_result() with STMT_ATTR_UPDATE_MAX_LENGTH the largest
 * cell of each column is known, so one buffer per column suffices and
 * nothing is truncated.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <mysql.h>
#include <mysqld_error.h>
#include <errmsg.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

#define DB_MAX_ARGS	32

struct db {
	MYSQL		*my;
	MYSQL_STMT	*st[STMT__MAX];
	const struct conf *conf;	/* borrowed */
	bool		 migrate;
	bool		 commit_sent;
	bool		 fail_commit;
};

struct db_arg
db_str(const char *s)
{
	struct db_arg	 a = { DBA_NULL, NULL, 0, 0 };

	if (s != NULL) {
		a.type = DBA_STR;
		a.p = s;
		a.len = strlen(s);
	}
	return a;
}

struct db *
db_new(const struct conf *c, bool migrate_user)
{
	struct db	*db = xcalloc(1, sizeof(*db));

	db->conf = c;
	db->migrate = migrate_user;
	return db;
}

void
db_free(struct db *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

bool
db_connected(const struct db *db)
{
	return db->my != NULL;
}

void
db_disconnect(struct db *db)
{
	size_t	 i;

	for (i = 0; i < STMT__MAX; i++) {
		if (db->st[i] != NULL)
			mysql_stmt_close(db->st[i]);
		db->st[i] = NULL;
	}
	if (db->my != NULL)
		mysql_close(db->my);
	db->my = NULL;
}

/* Classify a client/server error number. */
static enum db_rc
db_classify(unsigned int e)
{
	switch (e) {
	case CR_SERVER_GONE_ERROR:
	case CR_SERVER_LOST:
	case CR_CONNECTION_ERROR:
	case CR_CONN_HOST_ERROR:
	case CR_SERVER_LOST_EXTENDED:
	case ER_CONNECTION_KILLED:
	case ER_SERVER_SHUTDOWN:
	case ER_QUERY_INTERRUPTED:
		return DB_DOWN;
	case ER_LOCK_DEADLOCK:
	case ER_LOCK_WAIT_TIMEOUT:
		return DB_RETRY;
	case ER_DUP_ENTRY:
		return DB_DUP;
	default:
		return DB_ERR;
	}
}

/* Handle an error seen on the connection or a statement. */
static enum db_rc
db_fail(struct db *db, const char *what, unsigned int e, const char *msg)
{
	enum db_rc	 rc = db_classify(e);

	if (rc == DB_DOWN) {
		log_warnx("database: %s: connection lost (%u: %s)", what, e,
		    msg);
		db_disconnect(db);
	} else if (rc == DB_ERR)
		log_warnx("database: %s: %u: %s", what, e, msg);
	else
		log_debug("database: %s: %u: %s", what, e, msg);
	return rc;
}

enum db_rc
db_ensure(struct db *db)
{
	const struct conf	*c = db->conf;
	const char		*user, *pass;
	unsigned int		 to, rw, port;
	bool			 off = false;

	if (db->my != NULL)
		return DB_OK;
	if ((db->my = mysql_init(NULL)) == NULL) {
		log_warnx("%s: mysql_init failed", __func__);
		return DB_DOWN;
	}
	to = (unsigned int)c->db_connect_timeout;
	rw = (unsigned int)c->db_rw_timeout;
	port = (unsigned int)c->db_port;
	mysql_options(db->my, MYSQL_OPT_CONNECT_TIMEOUT, &to);
	mysql_options(db->my, MYSQL_OPT_READ_TIMEOUT, &rw);
	mysql_options(db->my, MYSQL_OPT_WRITE_TIMEOUT, &rw);
	mysql_options(db->my, MYSQL_OPT_RECONNECT, &off);
	mysql_options(db->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	/* Times are UTC; writers serialise on row locks, not gap locks. */
	mysql_options(db->my, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
	mysql_options(db->my, MYSQL_INIT_COMMAND,
	    "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
	user = c->db_user;
	pass = c->db_password;
	if (db->migrate && *c->db_migrate_user != '\0') {
		user = c->db_migrate_user;
		pass = c->db_migrate_password;
	}
	if (mysql_real_connect(db->my, *c->db_socket != '\0' ? NULL :
	    c->db_host, user, pass, c->db_name, port,
	    *c->db_socket != '\0' ? c->db_socket : NULL,
	    db->migrate ? CLIENT_MULTI_STATEMENTS : 0) == NULL) {
		log_warnx("database: connect to %s as %s: %s",
		    *c->db_socket != '\0' ? c->db_socket : c->db_host, user,
		    mysql_error(db->my));
		mysql_close(db->my);
		db->my = NULL;
		return DB_DOWN;
	}
	log_debug("database: connected");
	return DB_OK;
}

static enum db_rc
db_query(struct db *db, const char *sql)
{
	if (db->my == NULL && db_ensure(db) != DB_OK)
		return DB_DOWN;
	if (mysql_query(db->my, sql) != 0)
		return db_fail(db, sql, mysql_errno(db->my),
		    mysql_error(db->my));
	return DB_OK;
}

enum db_rc
db_begin(struct db *db)
{
	db->commit_sent = false;
	return db_query(db, "START TRANSACTION");
}

enum db_rc
db_commit(struct db *db)
{
	if (db->fail_commit) {
		db->fail_commit = false;
		log_warnx("database: commit failed by test hook");
		db_rollback(db);
		return DB_ERR;
	}
	db->commit_sent = true;
	return db_query(db, "COMMIT");
}

void
db_rollback(struct db *db)
{
	if (db->my != NULL && mysql_query(db->my, "ROLLBACK") != 0)
		db_fail(db, "ROLLBACK", mysql_errno(db->my),
		    mysql_error(db->my));
}

bool
db_commit_sent(const struct db *db)
{
	return db->commit_sent;
}

void
db_fail_next_commit(struct db *db)
{
	db->fail_commit = true;
}

enum db_rc
db_exec_text(struct db *db, const char *sql)
{
	MYSQL_RES	*res;
	enum db_rc	 rc;

	if ((rc = db_query(db, sql)) != DB_OK)
		return rc;
	/* Drain every result of a multi-statement text. */
	do {
		if ((res = mysql_store_result(db->my)) != NULL)
			mysql_free_result(res);
	} while (mysql_next_result(db->my) == 0);
	if (mysql_errno(db->my) != 0)
		return db_fail(db, "migration", mysql_errno(db->my),
		    mysql_error(db->my));
	return DB_OK;
}

uint64_t
db_insert_id(const struct db *db)
{
	return db->my == NULL ? 0 : mysql_insert_id(db->my);
}

/* The prepared statement s on this connection, preparing it if needed. */
static MYSQL_STMT *
db_stmt(struct db *db, enum stmt s, enum db_rc *rc)
{
	const char	*sql = stmt_sql(s);
	MYSQL_STMT	*st;
	my_bool		 update_max = 1;

	*rc = DB_OK;
	if (db->st[s] != NULL)
		return db->st[s];
	if ((st = mysql_stmt_init(db->my)) == NULL) {
		*rc = DB_DOWN;
		return NULL;
	}
	if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
		*rc = db_fail(db, stmt_name(s), mysql_stmt_errno(st),
		    mysql_stmt_error(st));
		mysql_stmt_close(st);
		return NULL;
	}
	mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &update_max);
	db->st[s] = st;
	return st;
}

static void
db_bind_args(MYSQL_BIND *b, const struct db_arg *args, size_t n,
    unsigned long *lens)
{
	size_t	 i;

	memset(b, 0, sizeof(*b) * n);
	for (i = 0; i < n; i++) {
		switch (args[i].type) {
		case DBA_NULL:
			b[i].buffer_type = MYSQL_TYPE_NULL;
			break;
		case DBA_STR:
		case DBA_BIN:
			b[i].buffer_type = args[i].type == DBA_STR ?
			    MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
			b[i].buffer = (void *)(uintptr_t)args[i].p;
			lens[i] = (unsigned long)args[i].len;
			b[i].buffer_length = lens[i];
			b[i].length = &lens[i];
			break;
		case DBA_INT:
			b[i].buffer_type = MYSQL_TYPE_LONGLONG;
			b[i].buffer = (void *)(uintptr_t)&args[i].i;
			break;
		default:
			abort();
		}
	}
}

/* Fetch the stored result of st into out. */
static enum db_rc
db_fetch(struct db *db, MYSQL_STMT *st, enum stmt s, struct db_rows *out)
{
	MYSQL_RES	*meta;
	MYSQL_FIELD	*f;
	MYSQL_BIND	*b = NULL;
	my_bool		*nul = NULL;
	unsigned long	*len = NULL;
	size_t		 c, r, nc, nr;
	enum db_rc	 rc = DB_ERR;
	int		 frc;

	memset(out, 0, sizeof(*out));
	if ((meta = mysql_stmt_result_metadata(st)) == NULL)
		return DB_OK;
	nc = mysql_num_fields(meta);
	f = mysql_fetch_fields(meta);
	nr = (size_t)mysql_stmt_num_rows(st);
	out->nrows = nr;
	out->ncols = nc;
	out->cell = xcalloc(nr * nc + 1, sizeof(char *));
	out->len = xcalloc(nr * nc + 1, sizeof(unsigned long));
	out->null = xcalloc(nr * nc + 1, sizeof(bool));
	b = xcalloc(nc + 1, sizeof(*b));
	nul = xcalloc(nc + 1, sizeof(*nul));
	len = xcalloc(nc + 1, sizeof(*len));
	for (c = 0; c < nc; c++) {
		b[c].buffer_type = MYSQL_TYPE_STRING;
		b[c].buffer_length = f[c].max_length + 1;
		b[c].buffer = xmalloc(b[c].buffer_length);
		b[c].is_null = &nul[c];
		b[c].length = &len[c];
	}
	if (nc > 0 && mysql_stmt_bind_result(st, b) != 0) {
		rc = db_fail(db, stmt_name(s), mysql_stmt_errno(st),
		    mysql_stmt_error(st));
		goto out;
	}
	for (r = 0; r < nr; r++) {
		frc = mysql_stmt_fetch(st);
		if (frc != 0 && frc != MYSQL_DATA_TRUNCATED) {
			rc = db_fail(db, stmt_name(s), mysql_stmt_errno(st),
			    mysql_stmt_error(st));
			goto out;
		}
		for (c = 0; c < nc; c++) {
			out->null[r * nc + c] = nul[c];
			out->len[r * nc + c] = nul[c] ? 0 : len[c];
			out->cell[r * nc + c] = xmalloc(len[c] + 1);
			if (!nul[c])
				memcpy(out->cell[r * nc + c], b[c].buffer,
				    len[c]);
			out->cell[r * nc + c][nul[c] ? 0 : len[c]] = '\0';
		}
	}
	rc = DB_OK;
out:
	for (c = 0; c < nc; c++)
		free(b[c].buffer);
	free(b);
	free(nul);
	free(len);
	mysql_free_result(meta);
	if (rc != DB_OK)
		db_rows_clear(out);
	return rc;
}

enum db_rc
db_exec(struct db *db, enum stmt s, const struct db_arg *args, size_t n,
    struct db_rows *out, uint64_t *affected)
{
	MYSQL_BIND	 b[DB_MAX_ARGS];
	unsigned long	 lens[DB_MAX_ARGS];
	MYSQL_STMT	*st;
	enum db_rc	 rc;

	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (n > DB_MAX_ARGS)
		abort();
	if (db->my == NULL && db_ensure(db) != DB_OK)
		return DB_DOWN;
	if ((st = db_stmt(db, s, &rc)) == NULL)
		return rc;
	if (mysql_stmt_param_count(st) != n) {
		log_warnx("%s: %s: %lu parameters, %zu given", __func__,
		    stmt_name(s), mysql_stmt_param_count(st), n);
		abort();
	}
	db_bind_args(b, args, n, lens);
	if ((n > 0 && mysql_stmt_bind_param(st, b) != 0) ||
	    mysql_stmt_execute(st) != 0 ||
	    mysql_stmt_store_result(st) != 0) {
		rc = db_fail(db, stmt_name(s), mysql_stmt_errno(st),
		    mysql_stmt_error(st));
		if (rc != DB_DOWN)
			mysql_stmt_reset(st);
		return rc;
	}
	if (affected != NULL)
		*affected = (uint64_t)mysql_stmt_affected_rows(st);
	rc = out != NULL ? db_fetch(db, st, s, out) : DB_OK;
	if (db->my != NULL) {
		mysql_stmt_free_result(st);
		mysql_stmt_reset(st);
	}
	return rc;
}

const char *
db_cell(const struct db_rows *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		abort();
	return r->null[row * r->ncols + col] ? NULL :
	    r->cell[row * r->ncols + col];
}

size_t
db_cell_len(const struct db_rows *r, size_t row, size_t col)
{
	if (row >= r->nrows || col >= r->ncols)
		abort();
	return r->len[row * r->ncols + col];
}

char *
db_cell_dup(const struct db_rows *r, size_t row, size_t col)
{
	const char	*s = db_cell(r, row, col);

	return s == NULL ? NULL : xstrdup(s);
}

void
db_cell_bin16(const struct db_rows *r, size_t row, size_t col,
    unsigned char out[16])
{
	memset(out, 0, 16);
	if (db_cell(r, row, col) != NULL && db_cell_len(r, row, col) == 16)
		memcpy(out, db_cell(r, row, col), 16);
}

void
db_rows_clear(struct db_rows *r)
{
	size_t	 i;

	if (r->cell != NULL)
		for (i = 0; i < r->nrows * r->ncols; i++)
			free(r->cell[i]);
	free(r->cell);
	free(r->len);
	free(r->null);
	memset(r, 0, sizeof(*r));
}
