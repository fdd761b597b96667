/*
 * Rolodex - rolodex-api internals: the per-worker context, the request,
 * and the handlers.
 *
 * A worker owns one struct api for its whole life (configuration, one
 * database connection with its prepared statements, the verification
 * keys, the static documents) and one struct req per request.  All
 * request memory hangs off struct req and is released by req_clear().
 */
#ifndef ROLODEX_API_H
#define ROLODEX_API_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <fcgiapp.h>
#include <json-c/json.h>

#include "conf.h"
#include "db.h"
#include "problem.h"
#include "query.h"
#include "route.h"

#define REQ_MAX_QUERY		4096
#define REQ_MAX_QPARAMS		16
#define REQ_MAX_HEADERS_OUT	8
#define AUTH_HEADER_MAX		8192

struct auth_keyset;
struct metrics;

struct api {
	struct conf		 conf;
	struct db		*db;
	struct auth_keyset	*keys;
	unsigned char		*sign_key;	/* HS secret or private PEM */
	size_t			 sign_keylen;
	char			*openapi;	/* document text */
	size_t			 openapi_len;
	char			*explorer;
	size_t			 explorer_len;
	struct metrics		*metrics;	/* shared between workers */
	const char		*failpoint;	/* ROLODEX_FAILPOINT */
};

struct req {
	struct api		*api;		/* borrowed */
	FCGX_Request		*fr;		/* borrowed */
	int			 method;
	const char		*path;		/* owned copy, no query */
	struct route_match	 m;
	struct qparam		 q[REQ_MAX_QPARAMS];
	size_t			 nq;
	char			*body;
	size_t			 body_len;
	char			 id[33];	/* request id for logs */
	char			 sub[256];	/* authenticated principal */
	unsigned		 roles;
	int			 status;	/* once answered */
	char			*hdr[REQ_MAX_HEADERS_OUT];
	size_t			 nhdr;
	bool			 head_only;
	bool			 commit_unknown; /* COMMIT sent, no answer */
	/* Idempotency-Key: reserved inside the write's transaction. */
	const char		*idem_key;	/* borrowed header, or NULL */
	unsigned char		 idem_hash[32];
	/* A copy of the response, kept for Idempotency-Key replays. */
	bool			 capture;
	char			*cap_headers;	/* "Name: value\n"... */
	char			*cap_body;
	size_t			 cap_len;
};

/* api_req.c: reading the request, writing the response. */
void		 req_init(struct req *, struct api *, FCGX_Request *);
void		 req_clear(struct req *);
const char	*req_env(const struct req *, const char *name);
/* A header by CGI name ("HTTP_IF_MATCH"); NULL if absent. */
const char	*req_header(const struct req *, const char *cgi_name);
const char	*req_query(const struct req *, const char *key);
/* Parse QUERY_STRING; -1 with pb set (400) if malformed or repeated. */
int		 req_parse_query(struct req *, struct problem *);
/* Refuse query parameters outside allowed (NULL-terminated list). */
int		 req_check_query(const struct req *, const char *const *allowed,
		    struct problem *);
/* Read the body up to the limit; -1 with pb (413/400). */
int		 req_read_body(struct req *, struct problem *);
/* Check Content-Type against a NULL-terminated list; -1 with pb (415). */
int		 req_want_type(const struct req *, const char *const *types,
		    struct problem *);
/* Parse the body as JSON (after type check); NULL with pb (400). */
json_object	*req_json(struct req *, struct problem *);

/* Queue a response header line ("Name: value"), formatted. */
void		 resp_header(struct req *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 resp_json(struct req *, int status, json_object *);
void		 resp_raw(struct req *, int status, const char *ctype,
		    const char *body, size_t len);
void		 resp_empty(struct req *, int status);
void		 resp_problem(struct req *, const struct problem *);
/* Shorthand: a problem with only a status and a detail. */
void		 resp_error(struct req *, enum rlx_err, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
/* 503 after a database failure: Retry-After, no internals. */
void		 resp_unavailable(struct req *);

/* api_auth.c */
int		 api_auth_init(struct api *, char *err, size_t errsz);
/* Authenticate and authorise for the route's scope; answers on failure. */
int		 api_authorize(struct req *, enum scope);
void		 h_login(struct req *);
void		 h_token(struct req *);

/* api_party.c */
void		 h_party_collection(struct req *);
void		 h_party_item(struct req *);

/* api_sub.c */
void		 h_addresses(struct req *);
void		 h_address(struct req *);
void		 h_extids(struct req *);
void		 h_extid(struct req *);

/* api_idem.c: Idempotency-Key on POST */

/*
 * Before the handler: check the key; answer a replay, 409, 422 or 400
 * (returns 0), or let the handler run (returns 1; r->idem_key is set
 * when the key must be reserved by the write's transaction).
 */
int		 idem_begin(struct req *);
/*
 * Inside the write's transaction: reserve r's key.  DB_OK when reserved
 * (or no key); DB_DUP when another request holds it (then the answer to
 * this request was written here).
 */
enum db_rc	 idem_reserve(struct req *);
/* After the handler: keep a 2xx response for replays. */
void		 idem_finish(struct req *);
/* Remove expired keys now and then (no cron). */
void		 idem_purge_maybe(struct api *);

/* api_meta.c */
void		 h_healthz(struct req *);
void		 h_readyz(struct req *);
void		 h_metrics(struct req *);
void		 h_openapi(struct req *);
void		 h_docs(struct req *);
struct metrics	*metrics_new_shared(void);
void		 metrics_count(struct metrics *, enum route, int status,
		    int64_t micros);

/* api_main.c */
void		 api_serve_one(struct api *, FCGX_Request *);
int		 api_init(struct api *, char *err, size_t errsz);
/* Per-worker state, opened after fork so no connection is shared. */
void		 api_worker_open(struct api *);
void		 api_clear(struct api *);
/* Worker loop on listen fd until stop; returns exit status. */
int		 api_worker(struct api *, int listen_fd);

/* api_master.c */
int		 api_master(struct api *, const char *listen, int workers);

/* Set by signal handlers. */
extern volatile sig_atomic_t	 api_stop;
extern volatile sig_atomic_t	 api_busy;

#endif

/* api_main.c: transactions with retry */

/*
 * A unit of work run inside a transaction.  It returns DB_OK to commit
 * (also when it set pb to a client error: then nothing was written and
 * the transaction is rolled back), or a database error.
 */
typedef enum db_rc (*txn_fn)(struct req *, void *arg, struct problem *pb);

/*
 * Run fn in a transaction: deadlocks are retried, a connection found dead
 * before anything was sent is reopened once, and a failpoint can fail the
 * commit.  Returns DB_OK (check pb) or the error that ended it.
 */
enum db_rc	 api_txn(struct req *, txn_fn, void *arg, struct problem *pb);
/* Answer a database error (503 for DB_DOWN, 500 otherwise). */
void		 api_db_error(struct req *, enum db_rc);

/* api_party.c: shared with the sub-resources */
struct party;
struct uuid;
/* Parse the {party_id} parameter; -1 (after answering 404) if invalid. */
int		 api_party_param(struct req *, struct uuid *);
/* Whether If-Match allows a change of a resource at version v. */
int		 api_if_match(struct req *, long long v, struct problem *);
/*
 * Within a transaction: store next over prev (addresses resolved by the
 * caller), emit the events of the change, and load the stored result
 * into out.  When next changes nothing, out is prev's copy and
 * *changed false: no version bump, no event.
 */
enum db_rc	 api_party_change(struct req *, const struct party *prev,
		    struct party *next, struct party *out, bool *changed,
		    struct problem *);
/* The request's W3C traceparent if well-formed, else NULL. */
const char	*api_traceparent(const struct req *);
/* Link: rel="next" for the same query with a new cursor. */
void		 api_link_next(struct req *, const char *cursor);

/* api_relship.c */
void		 h_relationships(struct req *);
void		 h_relationship(struct req *);
void		 h_party_relationships(struct req *);
/* Within a transaction: delete a party's relationships, with events. */
enum db_rc	 api_relship_delete_of_party(struct req *, const struct uuid *);

/* Answer with a party: status, ETag and the representation. */
void		 api_party_respond(struct req *, int status,
		    const struct party *);
