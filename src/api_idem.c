/*
 * Rolodex - Idempotency-Key on POST.
 *
 * The key is reserved by a row (principal, key, hash of the request)
 * inserted inside the write's own transaction, so the reservation
 * commits or rolls back with the write: a request that fails or whose
 * worker dies before COMMIT leaves no trace, and a retry runs afresh.
 * A concurrent request with the same key blocks on that row's lock until
 * the first commits, then finds it.  After the commit, the 2xx answer
 * (status, Location, ETag, body) is stored in the row and replayed to
 * later requests with the same key and request hash; another request
 * under the same key is refused (422).  Keys live for [api]
 * idempotency_ttl and every worker purges expired ones now and then, so
 * no cron job is needed.
 *
 * The one unknown outcome: a worker that dies between its COMMIT and
 * storing the answer leaves a committed reservation without an answer.
 * Retries then get 409 until the key expires, never a second write.
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
 * Answer from the committed row of another request with this key.
 * Returns 1 when there is no (live) row, so this request may go on,
 * or 0 when it was answered (replay, 422 or 409).
 */
static int
idem_existing(struct req *r, const struct db_arg *who)
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
			return 1;
		}
		if (strcmp(db_cell(&row, 0, 4), "1") == 0) {
			db_rows_clear(&row);
			if (db_exec(r->api->db, STMT_IDEM_DELETE, who, 2, NULL,
			    NULL) != DB_OK)
				log_warnx("idempotency: expired key not freed");
			return 1;
		}
		if (db_cell_len(&row, 0, 0) != 32 ||
		    memcmp(db_cell(&row, 0, 0), r->idem_hash, 32) != 0) {
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
		/* Committed, answer not stored yet (or its worker died). */
		if (time_mono_ms() >= deadline) {
			resp_header(r, "Retry-After: 1");
			resp_error(r, RLX_CONFLICT, "A request with this "
			    "Idempotency-Key was processed but its answer is "
			    "not available.");
			return 0;
		}
		sleep_ms(IDEM_POLL_MS, NULL);
	}
}

int
idem_begin(struct req *r)
{
	const char	*key = req_header(r, "HTTP_IDEMPOTENCY_KEY");
	struct problem	 pb;

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
	idem_hash(r, r->idem_hash);
	struct db_arg	 who[] = { db_str(r->sub), db_str(key) };
	if (idem_existing(r, who) == 0)
		return 0;
	r->idem_key = key;
	r->capture = true;
	return 1;
}

enum db_rc
idem_reserve(struct req *r)
{
	enum db_rc	 rc;

	if (r->idem_key == NULL)
		return DB_OK;
	struct db_arg	 args[] = { db_str(r->sub), db_str(r->idem_key),
	    DB_BIN(r->idem_hash, 32), DB_INT(r->api->conf.api_idem_ttl) };
	/* Blocks while another transaction holds the same key. */
	rc = db_exec(r->api->db, STMT_IDEM_INSERT, args, 4, NULL, NULL);
	if (rc != DB_DUP)
		return rc;
	/* The other request committed first: answer from its row. */
	db_rollback(r->api->db);
	if (idem_existing(r, args) == 1) {
		resp_header(r, "Retry-After: 1");
		resp_error(r, RLX_CONFLICT, "This Idempotency-Key is "
		    "contended; retry.");
	}
	return DB_DUP;
}

void
idem_finish(struct req *r)
{
	if (r->status < 200 || r->status >= 300 || r->cap_headers == NULL)
		return;	/* nothing committed, or nothing to keep */
	struct db_arg	 done[] = { DB_INT(r->status), db_str(r->cap_headers),
	    db_str(r->cap_body), db_str(r->sub), db_str(r->idem_key) };
	if (db_exec(r->api->db, STMT_IDEM_DONE, done, 5, NULL, NULL) != DB_OK)
		log_warnx("idempotency: answer not stored; retries with this "
		    "key get 409 until it expires");
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
