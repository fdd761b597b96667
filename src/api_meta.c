/*
 * Rolodex - health, readiness, metrics and the API's documents.
 *
 * Metrics live in one anonymous shared mapping created before the
 * workers fork, so any worker answers /metrics for all of them.  Counters
 * are updated with atomic adds; nothing in them is secret (routes and
 * status classes only, never ids or principals).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "api.h"
#include "db.h"
#include "log.h"
#include "xalloc.h"

#define NCLASS	5	/* 1xx..5xx */

struct metrics {
	unsigned long long	 requests[R__MAX + 1][NCLASS];
	unsigned long long	 micros[R__MAX + 1];
	unsigned long long	 db_unavailable;
};

struct metrics *
metrics_new_shared(void)
{
	struct metrics	*m;

	m = mmap(NULL, sizeof(*m), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		log_warn("mmap metrics");
		abort();
	}
	memset(m, 0, sizeof(*m));
	return m;
}

void
metrics_count(struct metrics *m, enum route r, int status, int64_t micros)
{
	size_t	 i = (size_t)r <= R__MAX ? (size_t)r : R__MAX;
	int	 c = status / 100 - 1;

	if (m == NULL || c < 0 || c >= NCLASS)
		return;
	__atomic_add_fetch(&m->requests[i][c], 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&m->micros[i], (unsigned long long)micros,
	    __ATOMIC_RELAXED);
	if (status == 503)
		__atomic_add_fetch(&m->db_unavailable, 1, __ATOMIC_RELAXED);
}

void
h_healthz(struct req *r)
{
	static const char	 ok[] = "{\"status\":\"ok\"}";

	resp_raw(r, 200, "application/json", ok, sizeof(ok) - 1);
}

void
h_readyz(struct req *r)
{
	static const char	 ok[] = "{\"status\":\"ok\"}";
	enum db_rc		 rc;

	if ((rc = db_exec(r->api->db, STMT_PING, NULL, 0, NULL, NULL)) ==
	    DB_DOWN)
		rc = db_exec(r->api->db, STMT_PING, NULL, 0, NULL, NULL);
	if (rc != DB_OK) {
		resp_unavailable(r);
		return;
	}
	resp_raw(r, 200, "application/json", ok, sizeof(ok) - 1);
}

/* Append formatted text to a growing buffer. */
static void
buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
buf_printf(char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*buf + *len, *cap - *len, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if ((size_t)n < *cap - *len)
			break;
		*cap = (*cap + (size_t)n + 1) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	*len += (size_t)n;
}

void
h_metrics(struct req *r)
{
	struct metrics	*m = r->api->metrics;
	struct db_rows	 rows;
	size_t		 len = 0, cap = 4096, i;
	char		*buf = xmalloc(cap);
	int		 c;

	buf_printf(&buf, &len, &cap, "# HELP rolodex_http_requests_total "
	    "Requests answered, by route and status class.\n"
	    "# TYPE rolodex_http_requests_total counter\n");
	for (i = 0; i <= R__MAX; i++)
		for (c = 0; c < NCLASS; c++)
			if (m->requests[i][c] > 0)
				buf_printf(&buf, &len, &cap,
				    "rolodex_http_requests_total{route=\"%s\","
				    "code=\"%dxx\"} %llu\n", i < R__MAX ?
				    route_pattern((enum route)i) : "none",
				    c + 1, m->requests[i][c]);
	buf_printf(&buf, &len, &cap, "# HELP rolodex_http_request_seconds_"
	    "total Time spent answering, by route.\n"
	    "# TYPE rolodex_http_request_seconds_total counter\n");
	for (i = 0; i <= R__MAX; i++)
		if (m->micros[i] > 0)
			buf_printf(&buf, &len, &cap,
			    "rolodex_http_request_seconds_total{route=\"%s\"} "
			    "%.6f\n", i < R__MAX ? route_pattern((enum route)i) :
			    "none", (double)m->micros[i] / 1e6);
	buf_printf(&buf, &len, &cap, "# HELP rolodex_db_unavailable_total "
	    "Requests answered 503.\n# TYPE rolodex_db_unavailable_total "
	    "counter\nrolodex_db_unavailable_total %llu\n", m->db_unavailable);
	if (db_exec(r->api->db, STMT_OUTBOX_PENDING, NULL, 0, &rows, NULL) ==
	    DB_OK && rows.nrows == 1) {
		buf_printf(&buf, &len, &cap, "# HELP rolodex_outbox_pending "
		    "Outbox rows not yet published.\n# TYPE "
		    "rolodex_outbox_pending gauge\nrolodex_outbox_pending %s\n"
		    "# HELP rolodex_outbox_oldest_seconds Age of the oldest "
		    "unpublished outbox row.\n# TYPE "
		    "rolodex_outbox_oldest_seconds gauge\n"
		    "rolodex_outbox_oldest_seconds %.3f\n",
		    db_cell(&rows, 0, 0),
		    strtod(db_cell(&rows, 0, 1), NULL) / 1e6);
		db_rows_clear(&rows);
	}
	resp_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
	free(buf);
}

void
h_openapi(struct req *r)
{
	if (r->api->openapi == NULL) {
		resp_error(r, RLX_NOTFOUND, "The OpenAPI document is not "
		    "installed.");
		return;
	}
	resp_raw(r, 200, "application/json", r->api->openapi,
	    r->api->openapi_len);
}

void
h_docs(struct req *r)
{
	if (r->api->explorer == NULL) {
		resp_error(r, RLX_NOTFOUND, "The API explorer is not "
		    "installed.");
		return;
	}
	/* The page is self-contained: no script or style from elsewhere. */
	resp_header(r, "Content-Security-Policy: default-src 'self'; "
	    "script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	    "img-src 'self' data:; frame-ancestors 'none'");
	resp_raw(r, 200, "text/html; charset=utf-8", r->api->explorer,
	    r->api->explorer_len);
}
