/*
 * Rolodex - reading requests and writing responses (see api.h).
 *
 * Everything a client sends is bounded here before a handler sees it:
 * the query string (length, count, UTF-8, no repeats), the body (the
 * configured limit, checked against Content-Length before reading), the
 * media type.  Every response carries a request id and no-store caching;
 * every error is problem+json.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>

#include "api.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"
#include "valid.h"
#include "xalloc.h"

static bool
reqid_is_valid(const char *s)
{
	size_t	 n = strlen(s);

	return n >= 8 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == n;
}

void
req_init(struct req *r, struct api *api, FCGX_Request *fr)
{
	const char	*uri, *m, *rid;
	unsigned char	 rnd[8];

	memset(r, 0, sizeof(*r));
	r->api = api;
	r->fr = fr;
	r->m.route = R__MAX;	/* until matched: logs and metrics say "-" */
	m = req_env(r, "REQUEST_METHOD");
	r->method = method_parse(m != NULL ? m : "");
	r->head_only = r->method == M_HEAD;
	if ((uri = req_env(r, "REQUEST_URI")) == NULL || *uri == '\0')
		uri = "/";
	r->path = xstrndup(uri, strcspn(uri, "?#"));
	if ((rid = req_header(r, "HTTP_X_REQUEST_ID")) != NULL &&
	    reqid_is_valid(rid))
		snprintf(r->id, sizeof(r->id), "%s", rid);
	else {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			memset(rnd, 0, sizeof(rnd));
		hex_encode(r->id, rnd, sizeof(rnd));
	}
	log_set_reqid(r->id);
}

void
req_clear(struct req *r)
{
	size_t	 i;

	free((char *)(uintptr_t)r->path);
	for (i = 0; i < r->nq; i++) {
		free(r->q[i].key);
		free(r->q[i].val);
	}
	free(r->body);
	for (i = 0; i < r->nhdr; i++)
		free(r->hdr[i]);
	free(r->cap_headers);
	free(r->cap_body);
	log_set_reqid(NULL);
	memset(r, 0, sizeof(*r));
}

const char *
req_env(const struct req *r, const char *name)
{
	return FCGX_GetParam(name, r->fr->envp);
}

const char *
req_header(const struct req *r, const char *cgi_name)
{
	return req_env(r, cgi_name);
}

const char *
req_query(const struct req *r, const char *key)
{
	size_t	 i;

	for (i = 0; i < r->nq; i++)
		if (strcmp(r->q[i].key, key) == 0)
			return r->q[i].val;
	return NULL;
}

int
req_parse_query(struct req *r, struct problem *pb)
{
	const char	*qs = req_env(r, "QUERY_STRING"), *why = NULL;
	size_t		 i, j;

	if (qs == NULL || *qs == '\0')
		return 0;
	if (strlen(qs) > REQ_MAX_QUERY) {
		problem_set(pb, RLX_BADREQ, "The query string is too long.");
		return -1;
	}
	if (form_parse(qs, r->q, &r->nq, REQ_MAX_QPARAMS, &why) == -1) {
		problem_set(pb, RLX_BADREQ, "Bad query string: %s.", why);
		return -1;
	}
	for (i = 0; i < r->nq; i++)
		for (j = i + 1; j < r->nq; j++)
			if (strcmp(r->q[i].key, r->q[j].key) == 0) {
				problem_set(pb, RLX_BADREQ, "Query parameter "
				    "'%s' is repeated.", r->q[i].key);
				return -1;
			}
	return 0;
}

int
req_check_query(const struct req *r, const char *const *allowed,
    struct problem *pb)
{
	const char *const	*a;
	size_t			 i;

	for (i = 0; i < r->nq; i++) {
		for (a = allowed; *a != NULL; a++)
			if (strcmp(*a, r->q[i].key) == 0)
				break;
		if (*a == NULL) {
			problem_set(pb, RLX_BADREQ, "Unknown query parameter "
			    "'%.64s'.", r->q[i].key);
			return -1;
		}
	}
	return 0;
}

/* Read a body sent without Content-Length (chunked) up to limit. */
static int
req_read_unsized(struct req *r, int64_t limit, struct problem *pb)
{
	size_t	 cap = 8192, len = 0;
	int	 n;

	r->body = xmalloc(cap + 1);
	while ((n = FCGX_GetStr(r->body + len, (int)(cap - len),
	    r->fr->in)) > 0) {
		len += (size_t)n;
		if ((int64_t)len > limit) {
			problem_set(pb, RLX_TOOBIG, "The body is over the "
			    "limit of %lld bytes.", (long long)limit);
			return -1;
		}
		if (len == cap) {
			cap *= 2;
			r->body = xrealloc(r->body, cap + 1);
		}
	}
	r->body[len] = '\0';
	r->body_len = len;
	return 0;
}

int
req_read_body(struct req *r, struct problem *pb)
{
	const char	*cl = req_env(r, "CONTENT_LENGTH");
	int64_t		 len = 0, limit = r->api->conf.api_body_limit;
	int		 n;

	if (r->body != NULL)
		return 0;	/* read already (Idempotency-Key hashing) */
	if (cl == NULL || *cl == '\0')
		return req_read_unsized(r, limit, pb);
	if (parse_int64(cl, 0, INT64_MAX, &len) == -1) {
		problem_set(pb, RLX_BADREQ, "Bad Content-Length.");
		return -1;
	}
	if (len > limit) {
		problem_set(pb, RLX_TOOBIG, "The body is %lld bytes; the "
		    "limit is %lld.", (long long)len, (long long)limit);
		return -1;
	}
	r->body = xmalloc((size_t)len + 1);
	n = len > 0 ? FCGX_GetStr(r->body, (int)len, r->fr->in) : 0;
	if (n != (int)len) {
		problem_set(pb, RLX_BADREQ, "The body ended early.");
		return -1;
	}
	r->body[len] = '\0';
	r->body_len = (size_t)len;
	return 0;
}

int
req_want_type(const struct req *r, const char *const *types,
    struct problem *pb)
{
	const char		*ct = req_env(r, "CONTENT_TYPE"), *p;
	const char *const	*t;
	size_t			 n;

	if (ct == NULL || *ct == '\0')
		goto bad;
	n = strcspn(ct, "; \t");
	for (t = types; *t != NULL; t++)
		if (strlen(*t) == n && strncasecmp(ct, *t, n) == 0)
			break;
	if (*t == NULL)
		goto bad;
	/* Parameters: only a UTF-8 charset is acceptable. */
	if ((p = strchr(ct, ';')) != NULL) {
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncasecmp(p, "charset=", 8) != 0 ||
		    (strcasecmp(p + 8, "utf-8") != 0 &&
		    strcasecmp(p + 8, "\"utf-8\"") != 0))
			goto bad;
	}
	return 0;
bad:
	problem_set(pb, RLX_MEDIATYPE, "Send the body as %s.", types[0]);
	return -1;
}

json_object *
req_json(struct req *r, struct problem *pb)
{
	json_object	*o;
	char		 err[128];

	if (r->body_len == 0) {
		problem_set(pb, RLX_BADREQ, "The request needs a JSON body.");
		return NULL;
	}
	if ((o = jsonx_parse(r->body, r->body_len, err, sizeof(err))) ==
	    NULL) {
		if (err[0] == '\0')
			problem_set(pb, RLX_EINVAL, "The body must be a JSON "
			    "object, not null.");
		else
			problem_set(pb, RLX_BADREQ, "%s.", err);
	}
	return o;
}

void
resp_header(struct req *r, const char *fmt, ...)
{
	va_list	 ap;
	char	*h;

	if (r->nhdr == REQ_MAX_HEADERS_OUT)
		abort();
	va_start(ap, fmt);
	if (vasprintf(&h, fmt, ap) == -1)
		abort();
	va_end(ap);
	r->hdr[r->nhdr++] = h;
}

/* Append one formatted header line to the head buffer. */
static void
head_add(char *head, size_t hsz, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
head_add(char *head, size_t hsz, size_t *off, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(head + *off, hsz - *off, fmt, ap);
	va_end(ap);
	/* Our own headers are bounded; overflowing them is a bug. */
	if (n < 0 || (size_t)n >= hsz - *off)
		abort();
	*off += (size_t)n;
}

/* Keep the headers that matter to a replay, and the body. */
static void
resp_capture(struct req *r, const char *ctype, const char *body, size_t len)
{
	size_t	 i, n;
	char	*h = xasprintf("Content-Type: %s\n", ctype != NULL ? ctype :
		    "application/octet-stream"), *t;

	for (i = 0; i < r->nhdr; i++) {
		n = strcspn(r->hdr[i], ":");
		if ((n == 8 && strncasecmp(r->hdr[i], "Location", 8) == 0) ||
		    (n == 4 && strncasecmp(r->hdr[i], "ETag", 4) == 0)) {
			t = xasprintf("%s%s\n", h, r->hdr[i]);
			free(h);
			h = t;
		}
	}
	free(r->cap_headers);
	free(r->cap_body);
	r->cap_headers = h;
	r->cap_body = xmalloc(len + 1);
	memcpy(r->cap_body, body, len);
	r->cap_body[len] = '\0';
	r->cap_len = len;
}

/*
 * Write status line, our headers and the body.  The head is formatted
 * with vsnprintf, not FCGX_FPrintF, whose own printf lacks size_t.
 */
static void
resp_write(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	char	 head[8192];
	size_t	 off = 0, i;

	/* Answered already (an Idempotency-Key replay inside a handler). */
	if (r->status != 0)
		return;
	r->status = status;
	head_add(head, sizeof(head), &off, "Status: %d %s\r\n", status,
	    rlx_reason(status));
	for (i = 0; i < r->nhdr; i++)
		head_add(head, sizeof(head), &off, "%s\r\n", r->hdr[i]);
	head_add(head, sizeof(head), &off, "X-Request-Id: %s\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n", r->id);
	if (ctype != NULL)
		head_add(head, sizeof(head), &off, "Content-Type: %s\r\n",
		    ctype);
	if (status != 204 && status != 304)
		head_add(head, sizeof(head), &off, "Content-Length: %zu\r\n",
		    len);
	head_add(head, sizeof(head), &off, "\r\n");
	if (r->capture)
		resp_capture(r, ctype, body, len);
	FCGX_PutStr(head, (int)off, r->fr->out);
	if (!r->head_only && len > 0)
		FCGX_PutStr(body, (int)len, r->fr->out);
}

void
resp_raw(struct req *r, int status, const char *ctype, const char *body,
    size_t len)
{
	resp_write(r, status, ctype, body, len);
}

void
resp_json(struct req *r, int status, json_object *o)
{
	const char	*s = jsonx_str(o);

	resp_write(r, status, "application/json", s, strlen(s));
}

void
resp_empty(struct req *r, int status)
{
	resp_write(r, status, NULL, "", 0);
}

void
resp_problem(struct req *r, const struct problem *pb)
{
	json_object	*o = problem_json(pb);
	const char	*s = jsonx_str(o);

	resp_write(r, rlx_status(pb->err == RLX_OK ? RLX_INTERNAL : pb->err),
	    "application/problem+json", s, strlen(s));
	json_object_put(o);
}

void
resp_error(struct req *r, enum rlx_err e, const char *fmt, ...)
{
	struct problem	 pb;
	va_list		 ap;

	problem_init(&pb);
	pb.err = e;
	va_start(ap, fmt);
	vsnprintf(pb.detail, sizeof(pb.detail), fmt, ap);
	va_end(ap);
	resp_problem(r, &pb);
	problem_clear(&pb);
}

void
resp_unavailable(struct req *r)
{
	resp_header(r, "Retry-After: %lld",
	    (long long)r->api->conf.api_retry_after);
	resp_error(r, RLX_UNAVAIL, "The database is unavailable; retry "
	    "later.");
}
