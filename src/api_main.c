/*
 * Rolodex - rolodex-api: start-up, the request dispatcher and the worker
 * loop.
 *
 * Two process modes (see the contract): spawned by a web server with the
 * FastCGI socket on fd 0 (lighttpd bin-path, mod_fcgid), or a standalone
 * pre-forking master (--listen, --workers; api_master.c).  Either way a
 * worker accepts one request at a time on its listening socket, and
 * every request goes through api_serve_one(): route, method, scope, then
 * the handler.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "api.h"
#include "auth_jwt.h"
#include "log.h"
#include "util.h"
#include "xalloc.h"

volatile sig_atomic_t	 api_stop;
volatile sig_atomic_t	 api_busy;
static volatile sig_atomic_t	 api_hup;

enum db_rc
api_txn(struct req *r, txn_fn fn, void *arg, struct problem *pb)
{
	struct db	*db = r->api->db;
	enum db_rc	 rc = DB_DOWN;
	int		 attempt;

	for (attempt = 0; attempt < 4; attempt++) {
		problem_clear(pb);
		if ((rc = db_ensure(db)) != DB_OK)
			return rc;
		if ((rc = db_begin(db)) == DB_OK &&
		    (rc = idem_reserve(r)) == DB_DUP) {
			/* Another request holds the key; it was answered. */
			db_rollback(db);
			problem_set(pb, RLX_CONFLICT, NULL);
			return DB_OK;
		}
		if (rc == DB_OK && (rc = fn(r, arg, pb)) == DB_OK) {
			if (pb->err != RLX_OK) {
				db_rollback(db);
				return DB_OK;
			}
			if (r->api->failpoint != NULL &&
			    strcmp(r->api->failpoint, "before_commit") == 0 &&
			    r->method != M_GET && r->method != M_HEAD)
				db_fail_next_commit(db);
			if (r->api->failpoint != NULL && strcmp(
			    r->api->failpoint, "crash_before_commit") == 0 &&
			    r->method != M_GET && r->method != M_HEAD)
				raise(SIGKILL);
			if ((rc = db_commit(db)) == DB_OK)
				return DB_OK;
		}
		if (rc != DB_DOWN)
			db_rollback(db);
		if (rc == DB_DOWN && db_commit_sent(db)) {
			/* It may have committed: never run it again. */
			r->commit_unknown = true;
			break;
		}
		/* A dead connection found before COMMIT: nothing happened. */
		if (rc == DB_DOWN && attempt == 0 && !db_commit_sent(db))
			continue;
		if (rc != DB_RETRY)
			break;
		log_info("transaction deadlocked; retrying");
		sleep_ms(5 << attempt, NULL);
	}
	return rc;
}

void
api_db_error(struct req *r, enum db_rc rc)
{
	if (rc == DB_DOWN || rc == DB_RETRY)
		resp_unavailable(r);
	else
		resp_error(r, RLX_INTERNAL, "The request could not be "
		    "completed.");
}

typedef void (*handler_fn)(struct req *);

static const handler_fn handlers[R__MAX] = {
	[R_HEALTHZ] = h_healthz,
	[R_READYZ] = h_readyz,
	[R_METRICS] = h_metrics,
	[R_OPENAPI] = h_openapi,
	[R_DOCS] = h_docs,
	[R_LOGIN] = h_login,
	[R_TOKEN] = h_token,
	[R_PERSONS] = h_party_collection,
	[R_PERSON] = h_party_item,
	[R_ORGS] = h_party_collection,
	[R_ORG] = h_party_item,
	[R_PARTIES] = h_party_collection,
	[R_PARTY] = h_party_item,
	[R_ADDRESSES] = h_addresses,
	[R_ADDRESS] = h_address,
	[R_EXTIDS] = h_extids,
	[R_EXTID] = h_extid,
	[R_RELS] = h_relationships,
	[R_REL] = h_relationship,
	[R_PARTY_RELS] = h_party_relationships,
};

/* The front line: route, method, query, scope.  0 if the handler runs. */
static int
dispatch_check(struct req *r)
{
	struct problem	 pb;
	char		 allow[96];
	int		 rc;

	problem_init(&pb);
	if ((rc = route_match(r->path, &r->m)) != 0) {
		resp_error(r, rc == -2 ? RLX_BADREQ : RLX_NOTFOUND,
		    rc == -2 ? "The path is not valid." :
		    "No resource lives at this path.");
		return -1;
	}
	if (!(route_methods(r->m.route) & r->method)) {
		route_allow(r->m.route, allow, sizeof(allow));
		resp_header(r, "Allow: %s", allow);
		resp_error(r, RLX_BADMETHOD, "Allowed here: %s.", allow);
		return -1;
	}
	if (req_parse_query(r, &pb) == -1) {
		resp_problem(r, &pb);
		problem_clear(&pb);
		return -1;
	}
	if (req_query(r, "access_token") != NULL) {
		/* RFC 6750 2.3: we never take tokens from the URL. */
		resp_header(r, "WWW-Authenticate: Bearer realm=\"rolodex\", "
		    "error=\"invalid_request\"");
		resp_error(r, RLX_BADREQ, "Send the token in the Authorization "
		    "header only.");
		return -1;
	}
	if (r->nq > 0 && !route_takes_query(r->m.route)) {
		resp_error(r, RLX_BADREQ, "This resource takes no query "
		    "parameters.");
		return -1;
	}
	return api_authorize(r, route_scope(r->m.route, r->method));
}

void
api_serve_one(struct api *api, FCGX_Request *fr)
{
	struct req	 r;
	int64_t		 t0 = time_mono_ms();

	req_init(&r, api, fr);
	if (dispatch_check(&r) == 0 && idem_begin(&r) == 1) {
		handlers[r.m.route](&r);
		if (r.idem_key != NULL)
			idem_finish(&r);
	}
	if (r.status == 0)
		resp_error(&r, RLX_INTERNAL, "No response was produced.");
	log_info("%s %s %d %lldms", method_name(r.method),
	    r.m.route < R__MAX ? route_pattern(r.m.route) : "-", r.status,
	    (long long)(time_mono_ms() - t0));
	metrics_count(api->metrics, r.m.route, r.status,
	    (time_mono_ms() - t0) * 1000);
	req_clear(&r);
}

static void
on_hup(int sig)
{
	(void)sig;
	api_hup = 1;
}

static void
on_term(int sig)
{
	(void)sig;
	/* Idle in accept(): nothing to finish, leave now. */
	if (!api_busy)
		_exit(0);
	api_stop = 1;
}

int
api_worker(struct api *api, int listen_fd)
{
	FCGX_Request		 fr;
	struct sigaction	 sa;
	long long		 served = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_InitRequest(&fr, listen_fd, 0) != 0) {
		log_warnx("%s: FCGX_InitRequest failed", __func__);
		return 1;
	}
	while (!api_stop) {
		if (FCGX_Accept_r(&fr) < 0) {
			if (errno == EINTR && !api_stop)
				continue;
			break;
		}
		api_busy = 1;
		api_serve_one(api, &fr);
		FCGX_Finish_r(&fr);
		api_busy = 0;
		idem_purge_maybe(api);
		if (api_hup) {
			api_hup = 0;
			if (log_reopen(api->conf.log_file) == -1)
				log_warn("reopen %s", api->conf.log_file);
		}
		if (api->conf.api_max_requests > 0 &&
		    ++served >= api->conf.api_max_requests)
			break;
	}
	FCGX_Free(&fr, 1);
	return 0;
}

static char *
read_doc(const char *path, size_t *len)
{
	char	*s;

	if ((s = file_read(path, 8 * 1024 * 1024, len)) == NULL)
		log_warn("cannot read %s", path);
	return s;
}

int
api_init(struct api *api, char *err, size_t errsz)
{
	if (api_auth_init(api, err, errsz) == -1)
		return -1;
	api->openapi = read_doc(api->conf.api_openapi_file, &api->openapi_len);
	api->explorer = read_doc(api->conf.api_explorer_file,
	    &api->explorer_len);
	api->failpoint = getenv("ROLODEX_FAILPOINT");
	if (api->metrics == NULL)
		api->metrics = metrics_new_shared();
	return 0;
}

void
api_worker_open(struct api *api)
{
	api->db = db_new(&api->conf, false);
	if (db_ensure(api->db) != DB_OK)
		log_warnx("database not reachable yet; answering 503 until "
		    "it is");
}

void
api_clear(struct api *api)
{
	db_free(api->db);
	auth_keyset_free(api->keys);
	if (api->sign_key != NULL)
		explicit_bzero(api->sign_key, api->sign_keylen);
	free(api->sign_key);
	free(api->openapi);
	free(api->explorer);
	conf_clear(&api->conf);
	memset(api, 0, sizeof(*api));
}

static void
usage(void)
{
	fprintf(stderr, "usage: rolodex-api [-nv] [-f config] "
	    "[--listen unix:PATH|HOST:PORT] [--workers N]\n");
	exit(2);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "workers", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 }
	};
	struct api	 api;
	const char	*cfile = NULL, *listen = NULL;
	char		 err[512];
	int64_t		 workers = 0;
	int		 ch, check_only = 0, verbose = 0, rc;

	memset(&api, 0, sizeof(api));
	log_init("rolodex-api", 0);
	while ((ch = getopt_long(argc, argv, "f:nv", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			cfile = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'w':
			if (parse_int64(optarg, 1, 256, &workers) == -1)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (conf_load(&api.conf, cfile, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	log_set_verbose(verbose || api.conf.log_verbose);
	if (log_reopen(api.conf.log_file) == -1)
		fatal("log file %s", api.conf.log_file);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
	if (api_init(&api, err, sizeof(err)) == -1)
		fatalx("configuration: %s", err);
	if (check_only) {
		fprintf(stderr, "configuration OK\n");
		api_clear(&api);
		return 0;
	}
	if (listen == NULL && *api.conf.api_listen != '\0')
		listen = api.conf.api_listen;
	if (workers == 0)
		workers = api.conf.api_workers;
	if (FCGX_Init() != 0)
		fatalx("FCGX_Init failed");
	if (listen != NULL)
		rc = api_master(&api, listen, (int)workers);
	else {
		/* Spawned by the web server: the socket is fd 0. */
		if (FCGX_IsCGI())
			fatalx("stdin is not a FastCGI socket; use --listen "
			    "or run under a FastCGI-capable web server");
		api_worker_open(&api);
		rc = api_worker(&api, 0);
	}
	api_clear(&api);
	curl_global_cleanup();
	return rc;
}
