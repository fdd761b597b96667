/*
 * Rolodex - Idempotency-Key on POST.
 *
 * The key is reserved before the handler runs, in its own committed
 * statement: a row (principal, key, hash of the request) with no status.
 * A second request with the same key finds the row: with another request
 * hash it is refused (422); while the first is still running it waits a
 * bounded time for the stored response; once the first answered 2xx,
 * that response (status, Location, ETag, body) is replayed.  Only 2xx
 * responses are kept: after a 4xx or 5xx the key is released so the
 * client can retry.  Keys live for [api] idempotency_ttl and every worker
 * purges expired ones now and then, so no cron job is needed.
 *
 * The one window left open: a worker that dies after its write commits
 * and before the response is stored leaves the key reserved; retries get
 * 409 until it expires, never a second write.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

#define IDEM_KEY_MAX		255
#define IDEM_WAIT_MS		5000
#define IDEM_POLL_MS		50
#define IDEM_PURGE_EVERY_MS	60000
#define IDEM_PURGE_BATCH	500

/* Routes whose POST creates something (not /auth: its answers are secret). */
static bool
idem_applies(const struct req *r)
{
	return r->method == M_POST && (r->m.route == R_PERSONS ||
	    r->m.route == R_ORGS || r->m.route == R_ADDRESSES ||
	    r->m.route == R_RELS);
}

static bool
idem_key_valid(const char *k)
{
	size_t	 n = strlen(k), i;

	if (n == 0 || n > IDEM_KEY_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return false;
	return true;
}

/* SHA-256 over what identifies the request: method, path, type, body. */
static void
idem_hash(const struct req *r, unsigned char out[32])
{
	const char	*ct = req_env(r, "CONTENT_TYPE");
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	unsigned int	 len = 0;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, r->path, strlen(r->path) + 1) != 1 ||
	    EVP_DigestUpdate(md, ct != NULL ? ct : "", ct != NULL ?
	    strlen(ct) + 1 : 1) != 1 ||
	    EVP_DigestUpdate(md, r->body, r->body_len) != 1 ||
	    EVP_DigestFinal_ex(md, out, &len) != 1) {
		log_warnx("%s: digest failed", __func__);
		abort();
	}
	EVP_MD_CTX_free(md);
}

/* Replay a stored response. */
static void
idem_replay(struct req *r, const struct db_rows *row)
{
	const char	*h = db_cell(row, 0, 2), *ctype = NULL;
	char		*copy = xstrdup(h != NULL ? h : ""), *line, *save = NULL;

	for (line = strtok_r(copy, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "Content-Type: ", 14) == 0)
			ctype = line + 14;
		else
			resp_header(r, "%s", line);
	}
	resp_header(r, "Idempotent-Replayed: true");
	resp_raw(r, (int)strtol(db_cell(row, 0, 1), NULL, 10), ctype,
	    db_cell(row, 0, 3), db_cell_len(row, 0, 3));
	free(copy);
}

/*
 * Look at the row another request reserved.  Returns 1 to retry the
 * reservation (the old row expired and was removed), 0 when answered.
 */
static int
idem_existing(struct req *r, const struct db_arg *who,
    const unsigned char hash[32])
{
	struct db_rows	 row;
	enum db_rc	 rc;
	int64_t		 deadline = time_mono_ms() + IDEM_WAIT_MS;

	for (;;) {
		if ((rc = db_exec(r->api->db, STMT_IDEM_GET, who, 2, &row,
		    NULL)) != DB_OK) {
			api_db_error(r, rc);
			return 0;
		}
		if (row.nrows == 0) {
			db_rows_clear(&row);
			return 1;	/* released meanwhile */
		}
		if (strcmp(db_cell(&row, 0, 4), "1") == 0) {
			db_rows_clear(&row);
			db_exec(r->api->db, STMT_IDEM_DELETE, who, 2, NULL,
			    NULL);
			return 1;
		}
		if (db_cell_len(&row, 0, 0) != 32 ||
		    memcmp(db_cell(&row, 0, 0), hash, 32) != 0) {
			db_rows_clear(&row);
			resp_error(r, RLX_EINVAL, "This Idempotency-Key was "
			    "used with a different request.");
			return 0;
		}
		if (db_cell(&row, 0, 1) != NULL) {
			idem_replay(r, &row);
			db_rows_clear(&row);
			return 0;
		}
		db_rows_clear(&row);
		if (time_mono_ms() >= deadline) {
			resp_header(r, "Retry-After: 1");
			resp_error(r, RLX_CONFLICT, "A request with this "
			    "Idempotency-Key is still in progress.");
			return 0;
		}
		sleep_ms(IDEM_POLL_MS, NULL);
	}
}

int
idem_begin(struct req *r, bool *active)
{
	const char	*key = req_header(r, "HTTP_IDEMPOTENCY_KEY");
	unsigned char	 hash[32];
	struct problem	 pb;
	enum db_rc	 rc;
	int		 tries;

	*active = false;
	if (key == NULL || !idem_applies(r))
		return 1;
	if (!idem_key_valid(key)) {
		resp_error(r, RLX_BADREQ, "Idempotency-Key must be 1 to %d "
		    "visible ASCII characters.", IDEM_KEY_MAX);
		return 0;
	}
	problem_init(&pb);
	if (req_read_body(r, &pb) == -1) {
		resp_problem(r, &pb);
		problem_clear(&pb);
		return 0;
	}
	idem_hash(r, hash);
	struct db_arg	 args[] = { db_str(r->sub), db_str(key),
	    DB_BIN(hash, 32), DB_INT(r->api->conf.api_idem_ttl) };
	for (tries = 0; tries < 3; tries++) {
		rc = db_exec(r->api->db, STMT_IDEM_INSERT, args, 4, NULL, NULL);
		if (rc == DB_DOWN)
			rc = db_exec(r->api->db, STMT_IDEM_INSERT, args, 4,
			    NULL, NULL);
		if (rc == DB_OK) {
			*active = true;
			r->capture = true;
			return 1;
		}
		if (rc != DB_DUP) {
			api_db_error(r, rc);
			return 0;
		}
		if (idem_existing(r, args, hash) == 0)
			return 0;
	}
	resp_header(r, "Retry-After: 1");
	resp_error(r, RLX_CONFLICT, "This Idempotency-Key is contended; "
	    "retry.");
	return 0;
}

void
idem_finish(struct req *r)
{
	const char	*key = req_header(r, "HTTP_IDEMPOTENCY_KEY");
	struct db_arg	 who[] = { db_str(r->sub), db_str(key) };

	if (r->status >= 200 && r->status < 300 && r->cap_headers != NULL) {
		struct db_arg	 done[] = { DB_INT(r->status),
		    db_str(r->cap_headers), db_str(r->cap_body),
		    db_str(r->sub), db_str(key) };

		if (db_exec(r->api->db, STMT_IDEM_DONE, done, 5, NULL, NULL) !=
		    DB_OK)
			log_warnx("idempotency: response not stored; the key "
			    "stays reserved until it expires");
		return;
	}
	if (db_exec(r->api->db, STMT_IDEM_DELETE, who, 2, NULL, NULL) != DB_OK)
		log_warnx("idempotency: key not released");
}

void
idem_purge_maybe(struct api *api)
{
	static int64_t	 next;
	int64_t		 now = time_mono_ms();
	struct db_arg	 lim = DB_INT(IDEM_PURGE_BATCH);
	uint64_t	 n = 0;

	if (now < next || !db_connected(api->db))
		return;
	/* Spread workers over the interval. */
	next = now + IDEM_PURGE_EVERY_MS + (int64_t)(getpid() % 1000) * 10;
	if (db_exec(api->db, STMT_IDEM_PURGE, &lim, 1, NULL, &n) == DB_OK &&
	    n > 0)
		log_info("idempotency: purged %llu expired keys",
		    (unsigned long long)n);
}
