/*
 * Rolodex adapters - Dynamics 365 / Dataverse backend (see d365.h).
 *
 * Invariants: the access token and the client secret never reach a log
 * line or an error reason and are wiped when dropped; every call goes
 * through d365_call(), which adds the token and the OData headers,
 * fetches a token when there is none or it is about to expire, and
 * retries once after a 401.  Every op gets an outcome: a $batch that
 * fails as a whole fails all its requests, and a request the batch
 * response does not mention counts as not attempted (retried).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "conf.h"
#include "d365.h"
#include "jsonx.h"
#include "log.h"
#include "retry.h"
#include "util.h"
#include "uuid.h"
#include "xalloc.h"

#define D365_NAV		"parentcustomerid_account"
#define D365_NAV_FILTER		"_parentcustomerid_value"
#define D365_QUERY_PAGES	50

/* A growing text buffer. */
struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_addf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatalx("%s: out of memory", __func__);
	buf_add(b, s, (size_t)n);
	free(s);
}

enum op_res
d365_classify(long status, bool *throttled)
{
	*throttled = false;
	if (status >= 200 && status < 300)
		return OPR_OK;
	if (status == 429 || status >= 500 || status == 401) {
		*throttled = true;
		return OPR_TRANSIENT;
	}
	if (status == 408)
		return OPR_TRANSIENT;
	return OPR_REJECTED;
}

static void
get_str(json_object *o, const char *k, char *dst, size_t dsz)
{
	json_object	*v;

	dst[0] = '\0';
	if (o != NULL && json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_string))
		str_copy(dst, dsz, json_object_get_string(v));
}

int
d365_parse_error(const char *body, size_t len, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	json_object	*o, *e;
	char		 err[64];
	int		 rc = -1;

	code[0] = msg[0] = '\0';
	if ((o = jsonx_parse(body, len, err, sizeof(err))) == NULL)
		return -1;
	if (json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "error", &e) &&
	    json_object_is_type(e, json_type_object)) {
		get_str(e, "code", code, codesz);
		get_str(e, "message", msg, msgsz);
		rc = 0;
	}
	json_object_put(o);
	return rc;
}

int
d365_entity_guid(const char *eid, char *dst)
{
	const char	*open, *close;
	struct uuid	 u;
	char		 tmp[UUID_STRLEN + 1];

	if ((open = strrchr(eid, '(')) == NULL ||
	    (close = strchr(open, ')')) == NULL ||
	    close - open - 1 != UUID_STRLEN)
		return -1;
	memcpy(tmp, open + 1, UUID_STRLEN);
	tmp[UUID_STRLEN] = '\0';
	if (uuid_parse(tmp, &u) == -1)
		return -1;
	uuid_fmt(&u, dst);
	return 0;
}

char *
d365_batch_body(const char *boundary, const struct d365_req *reqs, size_t n)
{
	struct buf	 b = { NULL, 0, 0 };
	size_t		 i;

	for (i = 0; i < n; i++) {
		buf_addf(&b, "--batch_%s\r\nContent-Type: multipart/mixed; "
		    "boundary=changeset_%s_%zu\r\n\r\n", boundary, boundary, i);
		buf_addf(&b, "--changeset_%s_%zu\r\nContent-Type: "
		    "application/http\r\nContent-Transfer-Encoding: binary\r\n"
		    "Content-ID: %zu\r\n\r\n", boundary, i, i + 1);
		buf_addf(&b, "%s %s HTTP/1.1\r\n", reqs[i].method,
		    reqs[i].url);
		if (reqs[i].body != NULL)
			buf_addf(&b, "Content-Type: application/json\r\n");
		if (reqs[i].if_match)
			buf_addf(&b, "If-Match: *\r\n");
		if (reqs[i].represent)
			buf_addf(&b, "Prefer: return=representation\r\n");
		buf_addf(&b, "\r\n");
		if (reqs[i].body != NULL)
			buf_addf(&b, "%s\r\n", reqs[i].body);
		buf_addf(&b, "--changeset_%s_%zu--\r\n", boundary, i);
	}
	buf_addf(&b, "--batch_%s--\r\n", boundary);
	return b.p;
}

/* A piece of the response body. */
struct span {
	const char	*p;
	size_t		 len;
};

/* The boundary parameter of a multipart Content-Type into dst. */
static int
mime_boundary(const char *ctype, char *dst, size_t dsz)
{
	const char	*p;
	size_t		 n;

	for (p = ctype; *p != '\0'; p++)
		if (strncasecmp(p, "boundary=", 9) == 0)
			break;
	if (*p == '\0')
		return -1;
	p += 9;
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	} else
		n = strcspn(p, "; \t\r\n");
	if (n == 0 || n >= dsz)
		return -1;
	memcpy(dst, p, n);
	dst[n] = '\0';
	return 0;
}

/* Find needle (n bytes) in hay (len bytes); NULL if absent. */
static const char *
mem_find(const char *hay, size_t len, const char *needle, size_t n)
{
	return memmem(hay, len, needle, n);
}

/*
 * Split b into the parts between "--boundary" delimiter lines.  Returns
 * the number of parts (at most max), or -1 without a first delimiter.
 */
static int
mime_split(struct span b, const char *boundary, struct span *parts,
    size_t max)
{
	char		 delim[200];
	const char	*p, *end = b.p + b.len, *q, *nl;
	size_t		 dl, n = 0;

	dl = (size_t)snprintf(delim, sizeof(delim), "--%s", boundary);
	if ((p = mem_find(b.p, b.len, delim, dl)) == NULL)
		return -1;
	for (;;) {
		p += dl;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			break;	/* closing delimiter */
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		p = nl + 1;
		/* The next delimiter starts a line: "\n--boundary". */
		for (q = p; (q = mem_find(q, (size_t)(end - q), delim, dl)) !=
		    NULL; q += dl)
			if (q > p && q[-1] == '\n')
				break;
		if (q == NULL || n == max)
			break;
		parts[n].p = p;
		parts[n].len = (size_t)(q - 1 - p);
		if (parts[n].len > 0 && p[parts[n].len - 1] == '\r')
			parts[n].len--;
		n++;
		p = q;
	}
	return (int)n;
}

/* Split a part into headers and content at the first blank line. */
static void
mime_head(struct span part, struct span *hdr, struct span *content)
{
	const char	*e;
	size_t		 skip = 4;

	if ((e = mem_find(part.p, part.len, "\r\n\r\n", 4)) == NULL) {
		e = mem_find(part.p, part.len, "\n\n", 2);
		skip = 2;
	}
	if (e == NULL) {
		*hdr = part;
		content->p = part.p + part.len;
		content->len = 0;
		return;
	}
	hdr->p = part.p;
	hdr->len = (size_t)(e - part.p);
	content->p = e + skip;
	content->len = part.len - (size_t)(content->p - part.p);
}

/* Value of header name in the header block h into dst ("" if absent). */
static void
mime_header(struct span h, const char *name, char *dst, size_t dsz)
{
	const char	*p = h.p, *end = h.p + h.len, *nl, *v;
	size_t		 n = strlen(name), vl;

	dst[0] = '\0';
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > n && strncasecmp(p, name, n) == 0 &&
		    p[n] == ':') {
			for (v = p + n + 1; v < nl && (*v == ' ' || *v == '\t');
			    v++)
				continue;
			vl = (size_t)(nl - v);
			while (vl > 0 && isspace((unsigned char)v[vl - 1]))
				vl--;
			if (vl >= dsz)
				vl = dsz - 1;
			memcpy(dst, v, vl);
			dst[vl] = '\0';
			return;
		}
		p = nl + 1;
	}
}

/* Parse an application/http response ("HTTP/1.1 204 ...") into p. */
static int
http_part(struct span c, size_t group, struct d365_part *p)
{
	struct span	 h, body;
	char		 line[32];
	size_t		 n;

	memset(p, 0, sizeof(*p));
	p->group = group;
	if (c.len < 12 || strncmp(c.p, "HTTP/", 5) != 0)
		return -1;
	n = strcspn(c.p, " ");
	/* The three status digits must lie inside the part. */
	if (n >= c.len || c.len - n < 4)
		return -1;
	memcpy(line, c.p + n + 1, 3);
	line[3] = '\0';
	if (!isdigit((unsigned char)line[0]) ||
	    (p->status = strtol(line, NULL, 10)) < 100)
		return -1;
	mime_head(c, &h, &body);
	mime_header(h, "OData-EntityId", p->entity_id, sizeof(p->entity_id));
	mime_header(h, "Retry-After", p->retry_after, sizeof(p->retry_after));
	while (body.len > 0 && (body.p[body.len - 1] == '\n' ||
	    body.p[body.len - 1] == '\r'))
		body.len--;
	/* The body may hold NUL bytes: copy len bytes, not a C string,
	 * so that body[len] is always the terminator (found by fuzzing). */
	p->body = xmalloc(body.len + 1);
	memcpy(p->body, body.p, body.len);
	p->body[body.len] = '\0';
	p->len = body.len;
	return 0;
}

void
d365_parts_free(struct d365_part *p, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(p[i].body);
	free(p);
}

/* Add the responses of top-level part top (number g) to *out. */
static void
batch_top(struct span top, size_t g, struct d365_part **out, size_t *n,
    size_t *cap)
{
	struct span	 h, c, inner[D365_BATCH_MAX * 2];
	char		 ct[256], bnd[160];
	int		 k, i;

	mime_head(top, &h, &c);
	mime_header(h, "Content-Type", ct, sizeof(ct));
	if (strncasecmp(ct, "multipart/mixed", 15) == 0) {
		if (mime_boundary(ct, bnd, sizeof(bnd)) == -1 ||
		    (k = mime_split(c, bnd, inner, D365_BATCH_MAX * 2)) < 0)
			return;
		for (i = 0; i < k; i++) {
			mime_head(inner[i], &h, &c);
			if (*n == *cap) {
				*cap = *cap * 2 + 8;
				*out = xreallocarray(*out, *cap, sizeof(**out));
			}
			if (http_part(c, g, &(*out)[*n]) == 0)
				(*n)++;
		}
		return;
	}
	if (*n == *cap) {
		*cap = *cap * 2 + 8;
		*out = xreallocarray(*out, *cap, sizeof(**out));
	}
	if (http_part(c, g, &(*out)[*n]) == 0)
		(*n)++;
}

int
d365_batch_parse(const char *ctype, const char *body, size_t len,
    struct d365_part **parts, size_t *n)
{
	struct span	 b = { body, len }, *top;
	char		 bnd[160];
	size_t		 cap = 0, max = D365_BATCH_MAX * 2;
	int		 k, i;

	*parts = NULL;
	*n = 0;
	if (ctype == NULL || strncasecmp(ctype, "multipart/mixed", 15) != 0 ||
	    mime_boundary(ctype, bnd, sizeof(bnd)) == -1)
		return -1;
	top = xcalloc(max, sizeof(*top));
	if ((k = mime_split(b, bnd, top, max)) < 0) {
		free(top);
		return -1;
	}
	for (i = 0; i < k; i++)
		batch_top(top[i], (size_t)i, parts, n, &cap);
	free(top);
	return 0;
}

/* Strip a trailing 's' from an entity set: "contacts" -> "contactid". */
static char *
d365_idcol(const char *set)
{
	size_t	 n = strlen(set);

	if (n > 1 && set[n - 1] == 's')
		n--;
	return xasprintf("%.*sid", (int)n, set);
}

static bool
ident_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

int
d365_init(struct d365 *d, const struct conf *c, char *err, size_t errsz)
{
	char	 merr[200];
	size_t	 n;

	memset(d, 0, sizeof(*d));
	d->conf = c;
	if (!ident_ok(c->d365_contact_set) || !ident_ok(c->d365_account_set) ||
	    !ident_ok(c->d365_alternate_key) ||
	    strspn(c->d365_api_version, "v0123456789.") !=
	    strlen(c->d365_api_version)) {
		snprintf(err, errsz, "[d365] entity sets, alternate_key and "
		    "api_version take letters, digits, '_' (and '.')");
		return -1;
	}
	if (!http_url_allowed(c->d365_url, c->adapter_allow_http) ||
	    !http_url_allowed(c->d365_token_url, c->adapter_allow_http)) {
		snprintf(err, errsz, "[d365] url and token_url must be "
		    "https:// URLs (http only with [adapter] allow_http)");
		return -1;
	}
	if (*c->d365_client_id == '\0' || *c->d365_client_secret == '\0') {
		snprintf(err, errsz, "[d365] needs client_id and "
		    "client_secret_file");
		return -1;
	}
	if (map_parse(&d->contact, c->d365_contact_fields, merr,
	    sizeof(merr)) == -1 || map_parse(&d->account,
	    c->d365_account_fields, merr, sizeof(merr)) == -1) {
		snprintf(err, errsz, "[d365] contact_fields or account_fields: "
		    "%s", merr);
		map_clear(&d->contact);
		return -1;
	}
	n = strcspn(c->d365_url, "?#");
	while (n > 0 && c->d365_url[n - 1] == '/')
		n--;
	d->base = xasprintf("%.*s/api/data/%s", (int)n, c->d365_url,
	    c->d365_api_version);
	d->idcol[0] = d365_idcol(c->d365_contact_set);
	d->idcol[1] = d365_idcol(c->d365_account_set);
	d->scope = *c->d365_scope != '\0' ? xstrdup(c->d365_scope) :
	    xasprintf("%.*s/.default", (int)n, c->d365_url);
	if (http_init(&d->http, c) == -1) {
		snprintf(err, errsz, "cannot set up libcurl");
		d365_clear(d);
		return -1;
	}
	return 0;
}

static void
d365_drop_token(struct d365 *d)
{
	if (d->token != NULL) {
		explicit_bzero(d->token, strlen(d->token));
		free(d->token);
	}
	d->token = NULL;
}

void
d365_clear(struct d365 *d)
{
	d365_drop_token(d);
	free(d->base);
	free(d->scope);
	free(d->idcol[0]);
	free(d->idcol[1]);
	map_clear(&d->contact);
	map_clear(&d->account);
	http_clear(&d->http);
	memset(d, 0, sizeof(*d));
}

/* Fetch a token; -1 with a reason (never the secret) in err. */
static int
d365_token(struct d365 *d, char *err, size_t errsz)
{
	static const char *const hdrs[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json", NULL };
	const struct conf	*c = d->conf;
	struct http_resp	 r;
	json_object		*o = NULL, *v;
	char			*id, *sec, *scope, *form, code[64], msg[200];
	int64_t			 ttl = 300;
	int			 rc = -1;

	d365_drop_token(d);
	id = http_escape(c->d365_client_id);
	sec = http_escape(c->d365_client_secret);
	scope = http_escape(d->scope);
	form = xasprintf("client_id=%s&client_secret=%s&grant_type="
	    "client_credentials&scope=%s", id, sec, scope);
	explicit_bzero(sec, strlen(sec));
	free(id);
	free(sec);
	free(scope);
	if (http_request(&d->http, "POST", c->d365_token_url, hdrs, form,
	    strlen(form), &r) == -1) {
		snprintf(err, errsz, "token: %.200s", d->http.errbuf);
		goto out;
	}
	if (r.status != 200 || (o = jsonx_parse(r.body, r.len, msg,
	    sizeof(msg))) == NULL || !json_object_object_get_ex(o,
	    "access_token", &v) || !json_object_is_type(v, json_type_string)) {
		if (o != NULL)
			json_object_put(o);
		o = jsonx_parse(r.body, r.len, msg, sizeof(msg));
		get_str(o, "error", code, sizeof(code));
		get_str(o, "error_description", msg, sizeof(msg));
		snprintf(err, errsz, "token: HTTP %ld %s %.120s", r.status,
		    code, msg);
		goto free;
	}
	d->token = xstrdup(json_object_get_string(v));
	if (json_object_object_get_ex(o, "expires_in", &v) &&
	    (json_object_is_type(v, json_type_int) ||
	    json_object_is_type(v, json_type_string)))
		ttl = json_object_get_int64(v);
	if (ttl < 1)
		ttl = 1;
	/* Renew early: a fifth of the lifetime, at most a minute. */
	d->token_until = time_mono_ms() + ttl * 1000 -
	    (ttl * 200 < 60000 ? ttl * 200 : 60000);
	d->tokens++;
	rc = 0;
free:
	if (o != NULL)
		json_object_put(o);
	if (r.body != NULL)
		explicit_bzero(r.body, r.len);
	http_resp_clear(&r);
out:
	explicit_bzero(form, strlen(form));
	free(form);
	return rc;
}

/*
 * One Web API call to url.  ctype is the body's Content-Type (NULL:
 * JSON), extra a NULL-terminated list of more header lines, or NULL.
 * Returns 0 with *r (any status), or -1 with a reason in err when no
 * response came.
 */
static int
d365_call(struct d365 *d, const char *method, const char *url,
    const char *ctype, const char *body, size_t blen,
    const char *const *extra, struct http_resp *r, char *err, size_t errsz)
{
	const char	*hdrs[8];
	char		*auth, *ct = NULL;
	size_t		 k, i;
	int		 attempt, rc;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((d->token == NULL || time_mono_ms() >= d->token_until) &&
		    d365_token(d, err, errsz) == -1)
			return -1;
		auth = xasprintf("Authorization: Bearer %s", d->token);
		k = 0;
		hdrs[k++] = auth;
		hdrs[k++] = "Accept: application/json";
		hdrs[k++] = "OData-MaxVersion: 4.0";
		hdrs[k++] = "OData-Version: 4.0";
		if (body != NULL)
			hdrs[k++] = ct = xasprintf("Content-Type: %s",
			    ctype != NULL ? ctype : "application/json");
		for (i = 0; extra != NULL && extra[i] != NULL && k < 7; i++)
			hdrs[k++] = extra[i];
		hdrs[k] = NULL;
		rc = http_request(&d->http, method, url, hdrs, body, blen, r);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		free(ct);
		ct = NULL;
		if (rc == -1) {
			snprintf(err, errsz, "%s", d->http.errbuf);
			return -1;
		}
		if (r->status != 401)
			return 0;
		log_info("d365: HTTP 401: fetching a new token");
		d365_drop_token(d);
		if (attempt == 0)
			http_resp_clear(r);
	}
	return 0;
}

static void
d365_no_response(struct op *op, const char *err)
{
	op_fail(op, OPR_TRANSIENT, "d365: %s", err);
	op->throttled = true;
}

/*
 * The GUID of an upserted record: the primary key column of the
 * representation we asked for, else the OData-EntityId header (which
 * names the row by GUID or, in some services, by the alternate key).
 */
static void
d365_record_id(const struct d365 *d, struct op *op, const char *eid,
    const char *body, size_t len)
{
	json_object	*o;
	char		 err[64];

	op->ext_id[0] = '\0';
	if (len > 0 && (o = jsonx_parse(body, len, err, sizeof(err))) !=
	    NULL) {
		get_str(o, d->idcol[op->agg == AGG_ORG], op->ext_id,
		    sizeof(op->ext_id));
		json_object_put(o);
		if (strlen(op->ext_id) == UUID_STRLEN)
			return;
		op->ext_id[0] = '\0';
	}
	if (eid != NULL && d365_entity_guid(eid, op->ext_id) == -1)
		op->ext_id[0] = '\0';
}

/* Set op's outcome from a response (whole or a $batch part). */
static void
d365_outcome(const struct d365 *d, struct op *op, long status,
    const char *eid, const char *ra, const char *body, size_t len,
    enum op_res on404)
{
	char	 code[64], msg[256];
	bool	 thr;

	if (status >= 200 && status < 300) {
		op->res = OPR_OK;
		if (op->kind == OP_UPSERT)
			d365_record_id(d, op, eid, body, len);
		return;
	}
	if (status == 404 && on404 == OPR_OK) {
		op->res = OPR_OK;
		return;
	}
	d365_parse_error(body, len, code, sizeof(code), msg, sizeof(msg));
	if ((status == 404 || status == 412) && on404 == OPR_MISSING) {
		op_fail(op, OPR_MISSING, "d365: HTTP %ld %s", status, code);
		return;
	}
	op_fail(op, d365_classify(status, &thr), "d365: HTTP %ld %s: %s",
	    status, code, msg);
	op->throttled = thr;
	if (ra != NULL && ra[0] != '\0')
		retry_after_parse(ra, time(NULL), &op->retry_after_ms);
}

static void
d365_resp_outcome(const struct d365 *d, struct op *op,
    const struct http_resp *r, enum op_res on404)
{
	d365_outcome(d, op, r->status, http_resp_header(r, "odata-entityid"),
	    http_resp_header(r, "retry-after"), r->body, r->len, on404);
}

/* Send one request and set op's outcome. */
static void
d365_send_one(struct d365 *d, const struct d365_req *q, struct op *op,
    enum op_res on404)
{
	struct http_resp	 r;
	char			 err[256];

	const char		*extra[3];
	size_t			 k = 0;

	if (q->if_match)
		extra[k++] = "If-Match: *";
	if (q->represent)
		extra[k++] = "Prefer: return=representation";
	extra[k] = NULL;
	if (d365_call(d, q->method, q->url, NULL, q->body, q->body != NULL ?
	    strlen(q->body) : 0, extra, &r, err, sizeof(err)) == -1) {
		d365_no_response(op, err);
		return;
	}
	d365_resp_outcome(d, op, &r, on404);
	http_resp_clear(&r);
}

/* Send n (<= D365_BATCH_MAX) requests in one $batch. */
static void
d365_send_batch(struct d365 *d, const struct d365_req *q, struct op *ops,
    size_t n, enum op_res on404)
{
	static const char *const prefer[] = {
	    "Prefer: odata.continue-on-error", NULL };
	struct http_resp	 r;
	struct d365_part	*p;
	unsigned char		 rnd[12];
	char			 bnd[32], *body, *url, *ct, err[256];
	size_t			 np, i;

	arc4random_buf(rnd, sizeof(rnd));
	hex_encode(bnd, rnd, sizeof(rnd));
	body = d365_batch_body(bnd, q, n);
	url = xasprintf("%s/$batch", d->base);
	ct = xasprintf("multipart/mixed; boundary=batch_%s", bnd);
	if (d365_call(d, "POST", url, ct, body, strlen(body), prefer, &r, err,
	    sizeof(err)) == -1) {
		for (i = 0; i < n; i++)
			d365_no_response(&ops[i], err);
		goto out;
	}
	if (r.status != 200 || d365_batch_parse(http_resp_header(&r,
	    "content-type"), r.body, r.len, &p, &np) == -1) {
		if (r.status == 200)
			r.status = 502;	/* a 200 we cannot read */
		for (i = 0; i < n; i++)
			d365_resp_outcome(d, &ops[i], &r, on404);
		http_resp_clear(&r);
		goto out;
	}
	for (i = 0; i < np; i++)
		if (p[i].group < n && ops[p[i].group].res == OPR_NONE)
			d365_outcome(d, &ops[p[i].group], p[i].status,
			    p[i].entity_id, p[i].retry_after, p[i].body,
			    p[i].len, on404);
	/* Without continue-on-error support the batch stops early. */
	for (i = 0; i < n; i++)
		if (ops[i].res == OPR_NONE)
			op_fail(&ops[i], OPR_TRANSIENT, "d365: not processed "
			    "in $batch");
	d365_parts_free(p, np);
	http_resp_clear(&r);
out:
	free(ct);
	free(url);
	free(body);
}

/* Send requests q[i] for ops[i], one by one or in $batch requests. */
static void
d365_send(struct d365 *d, const struct d365_req *q, struct op *ops, size_t n,
    enum op_res on404)
{
	size_t	 i, k;

	for (i = 0; i < n; i += k) {
		k = n - i > D365_BATCH_MAX ? D365_BATCH_MAX : n - i;
		if (k == 1 || !d->conf->d365_use_batch) {
			k = 1;
			d365_send_one(d, &q[i], &ops[i], on404);
		} else
			d365_send_batch(d, &q[i], &ops[i], k, on404);
	}
}

/* URL of a record by alternate key. */
static char *
d365_key_url(const struct d365 *d, const char *set, const char *id)
{
	return xasprintf("%s/%s(%s='%s')", d->base, set,
	    d->conf->d365_alternate_key, id);
}

static const char *
d365_set(const struct d365 *d, enum agg_type a)
{
	return a == AGG_ORG ? d->conf->d365_account_set :
	    d->conf->d365_contact_set;
}

/* The request carrying op (upsert, link or delete by alternate key). */
static void
d365_req(const struct d365 *d, const struct op *op, struct d365_req *q)
{
	json_object	*o;
	char		*ref;

	memset(q, 0, sizeof(*q));
	q->url = d365_key_url(d, d365_set(d, op->agg), op->party);
	switch (op->kind) {
	case OP_UPSERT:
		/* Ask for the primary key back: the id to post to Rolodex. */
		ref = q->url;
		q->url = xasprintf("%s?$select=%s", ref,
		    d->idcol[op->agg == AGG_ORG]);
		free(ref);
		q->represent = true;
		q->method = "PATCH";
		o = map_apply(op->agg == AGG_ORG ? &d->account : &d->contact,
		    op->data);
		q->body = xstrdup(jsonx_str(o));
		json_object_put(o);
		break;
	case OP_LINK:
		q->method = "PATCH";
		q->if_match = true;
		o = json_object_new_object();
		if (op->org != NULL) {
			ref = xasprintf("/%s(%s='%s')",
			    d->conf->d365_account_set,
			    d->conf->d365_alternate_key, op->org);
			jsonx_add_str(o, D365_NAV "@odata.bind", ref);
			free(ref);
		} else
			json_object_object_add(o, D365_NAV "@odata.bind", NULL);
		q->body = xstrdup(jsonx_str(o));
		json_object_put(o);
		break;
	case OP_DELETE:
		q->method = "DELETE";
		break;
	default:
		abort();
	}
}

static void
d365_reqs_free(struct d365_req *q, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(q[i].url);
		free(q[i].body);
	}
	free(q);
}

/*
 * GET url into a JSON object.  Returns 0 (200), 1 (404), or -1 with
 * op's outcome set.
 */
static int
d365_get_json(struct d365 *d, struct op *op, const char *url,
    json_object **o)
{
	struct http_resp	 r;
	char			 err[256];
	int			 rc = -1;

	*o = NULL;
	if (d365_call(d, "GET", url, NULL, NULL, 0, NULL, &r, err,
	    sizeof(err)) == -1) {
		d365_no_response(op, err);
		return -1;
	}
	if (r.status == 404)
		rc = 1;
	else if (r.status == 200 && (*o = jsonx_parse(r.body, r.len, err,
	    sizeof(err))) != NULL && json_object_is_type(*o,
	    json_type_object))
		rc = 0;
	else {
		if (r.status == 200)
			r.status = 502;
		d365_resp_outcome(d, op, &r, OPR_NONE);
	}
	if (rc == -1 && *o != NULL) {
		json_object_put(*o);
		*o = NULL;
	}
	http_resp_clear(&r);
	return rc;
}

/* Disassociate the contacts listed in value (JSON array). */
static int
d365_unlink_page(struct d365 *d, struct op *op, json_object *value,
    const char *idcol)
{
	struct d365_req	*q;
	struct op	*tmp;
	char		 id[UUID_STRLEN + 1];
	size_t		 i, k = 0, n = json_object_array_length(value);
	int		 rc = 0;

	q = xcalloc(n + 1, sizeof(*q));
	tmp = xcalloc(n + 1, sizeof(*tmp));
	for (i = 0; i < n; i++) {
		get_str(json_object_array_get_idx(value, i), idcol, id,
		    sizeof(id));
		if (strlen(id) != UUID_STRLEN || strspn(id,
		    "0123456789abcdefABCDEF-") != UUID_STRLEN)
			continue;
		q[k].method = "PATCH";
		q[k].if_match = true;
		q[k].url = xasprintf("%s/%s(%s)", d->base,
		    d->conf->d365_contact_set, id);
		q[k].body = xstrdup("{\"" D365_NAV "@odata.bind\":null}");
		tmp[k].kind = OP_LINK;
		k++;
	}
	d365_send(d, q, tmp, k, OPR_OK);
	for (i = 0; i < k; i++)
		if (tmp[i].res != OPR_OK && rc == 0) {
			op_fail(op, tmp[i].res == OPR_REJECTED ? OPR_REJECTED :
			    OPR_TRANSIENT, "d365: disassociating a contact: %s",
			    tmp[i].err != NULL ? tmp[i].err : "failed");
			op->throttled = tmp[i].throttled;
			op->retry_after_ms = tmp[i].retry_after_ms;
			rc = -1;
		}
	for (i = 0; i < k; i++)
		free(tmp[i].err);
	free(tmp);
	d365_reqs_free(q, k);
	return rc;
}

/* Disassociate every contact of account guid. */
static int
d365_unlink_account(struct d365 *d, struct op *op, const char *guid)
{
	json_object	*o, *value;
	char		*idcol, *url, next[1024];
	int		 page, rc = -1;

	idcol = d365_idcol(d->conf->d365_contact_set);
	url = xasprintf("%s/%s?$select=%s&$filter=" D365_NAV_FILTER "%%20eq%%20"
	    "%s", d->base, d->conf->d365_contact_set, idcol, guid);
	for (page = 0; page < D365_QUERY_PAGES; page++) {
		if (d365_get_json(d, op, url, &o) != 0)
			goto out;
		if (!json_object_object_get_ex(o, "value", &value) ||
		    !json_object_is_type(value, json_type_array) ||
		    d365_unlink_page(d, op, value, idcol) == -1) {
			if (op->res == OPR_NONE)
				op_fail(op, OPR_TRANSIENT, "d365: bad query "
				    "response");
			json_object_put(o);
			goto out;
		}
		get_str(o, "@odata.nextLink", next, sizeof(next));
		json_object_put(o);
		/* Follow only links below our own service root. */
		if (strncmp(next, d->base, strlen(d->base)) != 0) {
			rc = 0;
			goto out;
		}
		free(url);
		url = xstrdup(next);
	}
	op_fail(op, OPR_TRANSIENT, "d365: too many contacts to disassociate");
out:
	free(url);
	free(idcol);
	return rc;
}

/* Delete an account: find it, disassociate its contacts, delete it. */
static void
d365_delete_org(struct d365 *d, struct op *op)
{
	struct d365_req	 q;
	json_object	*o;
	char		*idcol, *url, guid[UUID_STRLEN + 1];
	int		 rc;

	idcol = d365_idcol(d->conf->d365_account_set);
	url = xasprintf("%s/%s(%s='%s')?$select=%s", d->base,
	    d->conf->d365_account_set, d->conf->d365_alternate_key, op->party,
	    idcol);
	rc = d365_get_json(d, op, url, &o);
	free(url);
	if (rc == 1)
		op->res = OPR_OK;	/* no such account: nothing to do */
	if (rc != 0)
		goto out;
	get_str(o, idcol, guid, sizeof(guid));
	json_object_put(o);
	if (strlen(guid) != UUID_STRLEN || strspn(guid,
	    "0123456789abcdefABCDEF-") != UUID_STRLEN) {
		op_fail(op, OPR_REJECTED, "d365: account without %s", idcol);
		goto out;
	}
	if (d365_unlink_account(d, op, guid) == -1)
		goto out;
	d365_req(d, op, &q);
	d365_send_one(d, &q, op, OPR_OK);
	free(q.url);
	free(q.body);
out:
	free(idcol);
}

void
d365_run(void *ctx, struct op *ops, size_t n)
{
	struct d365	*d = ctx;
	struct d365_req	*q;
	size_t		 i;

	if (n > 0 && ops[0].kind == OP_DELETE && ops[0].agg == AGG_ORG) {
		for (i = 0; i < n; i++)
			d365_delete_org(d, &ops[i]);
		return;
	}
	q = xcalloc(n + 1, sizeof(*q));
	for (i = 0; i < n; i++)
		d365_req(d, &ops[i], &q[i]);
	d365_send(d, q, ops, n, n > 0 && ops[0].kind == OP_LINK ?
	    OPR_MISSING : n > 0 && ops[0].kind == OP_DELETE ? OPR_OK :
	    OPR_NONE);
	d365_reqs_free(q, n);
}
