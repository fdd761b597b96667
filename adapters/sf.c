/*
 * Rolodex adapters - Salesforce backend (see sf.h).
 *
 * Invariants: the access token and the client secret never reach a log
 * line or an error reason, and their buffers are wiped when dropped;
 * every call goes through sf_call(), which adds the token, fetches one
 * when there is none and retries once after a 401.  A record's outcome
 * is always set: a call that fails as a whole fails every record in it.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "conf.h"
#include "jsonx.h"
#include "log.h"
#include "retry.h"
#include "sf.h"
#include "util.h"
#include "xalloc.h"

#define SF_QUERY_PAGES		50	/* bound on unlinking an Account */

/* Error codes that mean "later", not "never" (per record or per call). */
static const char *const sf_transient_codes[] = {
	"REQUEST_LIMIT_EXCEEDED", "UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE",
	"QUERY_TIMEOUT", "API_CURRENTLY_DISABLED", "INVALID_SESSION_ID",
	NULL
};

/* Of those, the ones that mean the whole org is limited. */
static const char *const sf_throttle_codes[] = {
	"REQUEST_LIMIT_EXCEEDED", "SERVER_UNAVAILABLE",
	"API_CURRENTLY_DISABLED", "INVALID_SESSION_ID", NULL
};

static bool
in_list(const char *const *l, const char *s)
{
	for (; *l != NULL; l++)
		if (strcmp(*l, s) == 0)
			return true;
	return false;
}

enum op_res
sf_classify(long status, const char *code, bool *throttled)
{
	*throttled = false;
	if (status >= 200 && status < 300)
		return OPR_OK;
	if (status == 429 || status >= 500 || status == 401 ||
	    (code != NULL && in_list(sf_throttle_codes, code))) {
		*throttled = true;
		return OPR_TRANSIENT;
	}
	if (code != NULL && in_list(sf_transient_codes, code))
		return OPR_TRANSIENT;
	return OPR_REJECTED;
}

/* Copy string member k of o into dst (empty when absent). */
static void
get_str(json_object *o, const char *k, char *dst, size_t dsz)
{
	json_object	*v;

	dst[0] = '\0';
	if (o != NULL && json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_string))
		str_copy(dst, dsz, json_object_get_string(v));
}

static bool
get_bool(json_object *o, const char *k)
{
	json_object	*v;

	return json_object_object_get_ex(o, k, &v) &&
	    json_object_is_type(v, json_type_boolean) &&
	    json_object_get_boolean(v);
}

int
sf_parse_error(const char *body, size_t len, char *code, size_t codesz,
    char *msg, size_t msgsz)
{
	json_object	*o, *e;
	char		 err[64];
	int		 rc = -1;

	code[0] = msg[0] = '\0';
	if ((o = jsonx_parse(body, len, err, sizeof(err))) == NULL)
		return -1;
	if (json_object_is_type(o, json_type_array)) {
		if (json_object_array_length(o) > 0 &&
		    json_object_is_type((e = json_object_array_get_idx(o, 0)),
		    json_type_object)) {
			get_str(e, "errorCode", code, codesz);
			if (code[0] == '\0')
				get_str(e, "statusCode", code, codesz);
			get_str(e, "message", msg, msgsz);
			rc = 0;
		}
	} else if (json_object_is_type(o, json_type_object)) {
		get_str(o, "error", code, codesz);
		get_str(o, "error_description", msg, msgsz);
		rc = code[0] != '\0' ? 0 : -1;
	}
	json_object_put(o);
	return rc;
}

int
sf_parse_results(const char *body, size_t len, struct sf_result *res,
    size_t n)
{
	json_object	*o, *r, *errs, *e;
	char		 err[64];
	size_t		 i;
	int		 rc = -1;

	memset(res, 0, n * sizeof(*res));
	if ((o = jsonx_parse(body, len, err, sizeof(err))) == NULL)
		return -1;
	if (!json_object_is_type(o, json_type_array) ||
	    json_object_array_length(o) != n)
		goto out;
	for (i = 0; i < n; i++) {
		r = json_object_array_get_idx(o, i);
		if (!json_object_is_type(r, json_type_object))
			goto out;
		res[i].success = get_bool(r, "success");
		res[i].created = get_bool(r, "created");
		get_str(r, "id", res[i].id, sizeof(res[i].id));
		if (json_object_object_get_ex(r, "errors", &errs) &&
		    json_object_is_type(errs, json_type_array) &&
		    json_object_array_length(errs) > 0) {
			e = json_object_array_get_idx(errs, 0);
			get_str(e, "statusCode", res[i].code,
			    sizeof(res[i].code));
			get_str(e, "message", res[i].msg, sizeof(res[i].msg));
		}
		if (!res[i].success && res[i].code[0] == '\0')
			str_copy(res[i].code, sizeof(res[i].code),
			    "UNKNOWN_ERROR");
	}
	rc = 0;
out:
	json_object_put(o);
	return rc;
}

char *
sf_collection_body(const struct map *m, const char *type,
    const char *extfield, const struct op *ops, size_t n)
{
	json_object	*o, *arr, *rec, *attr, *fields;
	char		*s;
	size_t		 i;

	o = json_object_new_object();
	jsonx_add_bool(o, "allOrNone", false);
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		rec = json_object_new_object();
		attr = json_object_new_object();
		jsonx_add_str(attr, "type", type);
		json_object_object_add(rec, "attributes", attr);
		jsonx_add_str(rec, extfield, ops[i].party);
		fields = map_apply(m, ops[i].data);
		json_object_object_foreach(fields, k, v)
			json_object_object_add(rec, k, json_object_get(v));
		json_object_put(fields);
		json_object_array_add(arr, rec);
	}
	json_object_object_add(o, "records", arr);
	s = xstrdup(jsonx_str(o));
	json_object_put(o);
	return s;
}

EVP_PKEY *
sf_load_key(const char *pem, char *err, size_t errsz)
{
	EVP_PKEY	*k;
	BIO		*b;

	if ((b = BIO_new_mem_buf(pem, -1)) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (k == NULL || EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bits(k) < 2048) {
		snprintf(err, errsz, "[salesforce] jwt_key: not an RSA private "
		    "key of at least 2048 bits");
		EVP_PKEY_free(k);
		ERR_clear_error();
		return NULL;
	}
	return k;
}

/* RS256 signature of len bytes of msg, base64url; NULL on failure. */
static char *
sf_rs256(EVP_PKEY *key, const char *msg, size_t len)
{
	EVP_MD_CTX	*md;
	unsigned char	*sig = NULL;
	size_t		 siglen = 0;
	char		*out = NULL;

	if ((md = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)msg,
	    len) != 1)
		goto out;
	sig = xmalloc(siglen);
	if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)msg,
	    len) != 1)
		goto out;
	out = b64url_encode(sig, siglen);
out:
	if (out == NULL) {
		log_warnx("%s: RS256 signing failed", __func__);
		ERR_clear_error();
	}
	free(sig);
	EVP_MD_CTX_free(md);
	return out;
}

char *
sf_jwt_assertion(EVP_PKEY *key, const char *iss, const char *sub,
    const char *aud, int64_t now)
{
	static const char hdr[] = "{\"alg\":\"RS256\"}";
	json_object	*c;
	char		*h, *p, *input, *sig, *out;

	c = json_object_new_object();
	jsonx_add_str(c, "iss", iss);
	jsonx_add_str(c, "sub", sub);
	jsonx_add_str(c, "aud", aud);
	jsonx_add_int(c, "exp", (long long)now + 180);
	h = b64url_encode(hdr, sizeof(hdr) - 1);
	p = b64url_encode(jsonx_str(c), strlen(jsonx_str(c)));
	json_object_put(c);
	input = xasprintf("%s.%s", h, p);
	free(h);
	free(p);
	if ((sig = sf_rs256(key, input, strlen(input))) == NULL) {
		free(input);
		return NULL;
	}
	out = xasprintf("%s.%s", input, sig);
	free(input);
	free(sig);
	return out;
}

static bool
name_ok(const char *s, const char *extra)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
			return false;
	return true;
}

/* The configuration checks of sf_init(). */
static int
sf_check(const struct conf *c, char *err, size_t errsz)
{
	bool	 jwt = strcmp(c->sf_auth_flow, "jwt_bearer") == 0;

	if (!name_ok(c->sf_external_id_field, "_") ||
	    !name_ok(c->sf_api_version, "v.")) {
		snprintf(err, errsz, "[salesforce] external_id_field or "
		    "api_version has bad characters");
		return -1;
	}
	if (!http_url_allowed(c->sf_login_url, c->adapter_allow_http) ||
	    (*c->sf_instance_url != '\0' && !http_url_allowed(
	    c->sf_instance_url, c->adapter_allow_http))) {
		snprintf(err, errsz, "[salesforce] login_url and instance_url "
		    "must be https:// URLs (http only with [adapter] "
		    "allow_http)");
		return -1;
	}
	if (*c->sf_client_id == '\0' || (jwt ? *c->sf_username == '\0' ||
	    *c->sf_jwt_key == '\0' : *c->sf_client_secret == '\0')) {
		snprintf(err, errsz, "[salesforce] %s needs client_id and %s",
		    c->sf_auth_flow, jwt ? "username, jwt_key_file" :
		    "client_secret_file");
		return -1;
	}
	return 0;
}

int
sf_init(struct sf *s, const struct conf *c, char *err, size_t errsz)
{
	char	 merr[200];

	memset(s, 0, sizeof(*s));
	s->conf = c;
	if (sf_check(c, err, errsz) == -1)
		return -1;
	if (map_parse(&s->contact, c->sf_contact_fields, merr,
	    sizeof(merr)) == -1 || map_parse(&s->account,
	    c->sf_account_fields, merr, sizeof(merr)) == -1) {
		snprintf(err, errsz, "[salesforce] contact_fields or "
		    "account_fields: %s", merr);
		map_clear(&s->contact);
		return -1;
	}
	if (strcmp(c->sf_auth_flow, "jwt_bearer") == 0 &&
	    (s->key = sf_load_key(c->sf_jwt_key, err, errsz)) == NULL) {
		sf_clear(s);
		return -1;
	}
	if (*c->sf_instance_url != '\0')
		s->instance = xstrdup(c->sf_instance_url);
	if (http_init(&s->http, c) == -1) {
		snprintf(err, errsz, "cannot set up libcurl");
		sf_clear(s);
		return -1;
	}
	return 0;
}

static void
sf_drop_token(struct sf *s)
{
	if (s->token != NULL) {
		explicit_bzero(s->token, strlen(s->token));
		free(s->token);
	}
	s->token = NULL;
}

void
sf_clear(struct sf *s)
{
	sf_drop_token(s);
	free(s->instance);
	EVP_PKEY_free(s->key);
	map_clear(&s->contact);
	map_clear(&s->account);
	http_clear(&s->http);
	memset(s, 0, sizeof(*s));
}

/* The form body of a token request (a new string; wipe it after use). */
static char *
sf_token_form(struct sf *s)
{
	const struct conf	*c = s->conf;
	char			*a, *b, *form;

	if (s->key != NULL) {
		if ((b = sf_jwt_assertion(s->key, c->sf_client_id,
		    c->sf_username, c->sf_jwt_audience, time(NULL))) == NULL)
			return NULL;
		form = xasprintf("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth"
		    "%%3Agrant-type%%3Ajwt-bearer&assertion=%s", b);
		free(b);
		return form;
	}
	a = http_escape(c->sf_client_id);
	b = http_escape(c->sf_client_secret);
	form = xasprintf("grant_type=client_credentials&client_id=%s&"
	    "client_secret=%s", a, b);
	explicit_bzero(b, strlen(b));
	free(a);
	free(b);
	return form;
}

/* Fetch an access token; -1 with a reason (never the secret) in err. */
static int
sf_token(struct sf *s, char *err, size_t errsz)
{
	static const char *const hdrs[] = {
	    "Content-Type: application/x-www-form-urlencoded",
	    "Accept: application/json", NULL };
	struct http_resp	 r;
	json_object		*o = NULL, *v;
	char			*url, *form, code[64], msg[200], inst[512];
	int			 rc = -1;

	sf_drop_token(s);
	if ((form = sf_token_form(s)) == NULL) {
		snprintf(err, errsz, "token: cannot sign the assertion");
		return -1;
	}
	url = xasprintf("%s/services/oauth2/token", s->conf->sf_login_url);
	if (http_request(&s->http, "POST", url, hdrs, form, strlen(form),
	    &r) == -1) {
		snprintf(err, errsz, "token: %.200s", s->http.errbuf);
		goto out;
	}
	if (r.status != 200 || (o = jsonx_parse(r.body, r.len, msg,
	    sizeof(msg))) == NULL) {
		sf_parse_error(r.body, r.len, code, sizeof(code), msg,
		    sizeof(msg));
		snprintf(err, errsz, "token: HTTP %ld %.60s %.120s", r.status,
		    code, msg);
		goto free;
	}
	get_str(o, "instance_url", inst, sizeof(inst));
	if (s->instance == NULL && inst[0] != '\0' &&
	    http_url_allowed(inst, s->conf->adapter_allow_http))
		s->instance = xstrdup(inst);
	if (!json_object_object_get_ex(o, "access_token", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0 || s->instance == NULL) {
		snprintf(err, errsz, "token: no access_token or usable "
		    "instance_url");
		goto free;
	}
	s->token = xstrdup(json_object_get_string(v));
	s->tokens++;
	rc = 0;
free:
	if (o != NULL)
		json_object_put(o);
	explicit_bzero(msg, sizeof(msg));
	if (r.body != NULL)
		explicit_bzero(r.body, r.len);
	http_resp_clear(&r);
out:
	explicit_bzero(form, strlen(form));
	free(form);
	free(url);
	return rc;
}

/*
 * One REST call: path is below the instance ("/services/data/...").
 * Returns 0 with a response in *r (any status), or -1 with a reason in
 * err when no response came (transport failure, no token).
 */
static int
sf_call(struct sf *s, const char *method, const char *path, const char *body,
    struct http_resp *r, char *err, size_t errsz)
{
	const char	*hdrs[4];
	char		*auth, *url, code[64], msg[64];
	int		 attempt, rc = -1;

	for (attempt = 0; attempt < 2; attempt++) {
		if (s->token == NULL && sf_token(s, err, errsz) == -1)
			return -1;
		auth = xasprintf("Authorization: Bearer %s", s->token);
		url = xasprintf("%s%s", s->instance, path);
		hdrs[0] = auth;
		hdrs[1] = "Accept: application/json";
		hdrs[2] = body != NULL ? "Content-Type: application/json" :
		    NULL;
		hdrs[3] = NULL;
		rc = http_request(&s->http, method, url, hdrs, body,
		    body != NULL ? strlen(body) : 0, r);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		free(url);
		if (rc == -1) {
			snprintf(err, errsz, "%s", s->http.errbuf);
			return -1;
		}
		if (r->status != 401)
			return 0;
		/* INVALID_SESSION_ID: the token expired; one fresh try. */
		sf_parse_error(r->body, r->len, code, sizeof(code), msg,
		    sizeof(msg));
		log_info("salesforce: HTTP 401 %s: fetching a new token", code);
		sf_drop_token(s);
		if (attempt == 0)
			http_resp_clear(r);
	}
	return 0;
}

/* Set op's outcome from a failed call (no response). */
static void
sf_no_response(struct op *op, const char *err)
{
	op_fail(op, OPR_TRANSIENT, "salesforce: %s", err);
	op->throttled = true;
}

/* Set op's outcome from response r; a 404 means on404 (OPR_NONE: error). */
static void
sf_outcome(struct op *op, const struct http_resp *r, enum op_res on404)
{
	char		 code[64], msg[256];
	const char	*ra;
	json_object	*o;
	bool		 thr;

	if (r->status >= 200 && r->status < 300) {
		op->res = OPR_OK;
		if (r->len > 0 && (o = jsonx_parse(r->body, r->len, msg,
		    sizeof(msg))) != NULL) {
			get_str(o, "id", op->ext_id, sizeof(op->ext_id));
			json_object_put(o);
		}
		return;
	}
	sf_parse_error(r->body, r->len, code, sizeof(code), msg, sizeof(msg));
	if (r->status == 404 && on404 == OPR_OK) {
		op->res = OPR_OK;
		return;
	}
	if (r->status == 404 && on404 != OPR_NONE) {
		op_fail(op, on404, "salesforce: HTTP 404 %s", code);
		return;
	}
	if (r->status == 300)
		str_copy(code, sizeof(code), "MULTIPLE_CHOICES");
	op_fail(op, sf_classify(r->status, code, &thr), "salesforce: HTTP "
	    "%ld %s: %s", r->status, code, msg);
	op->throttled = thr;
	if ((ra = http_resp_header(r, "retry-after")) != NULL)
		retry_after_parse(ra, time(NULL), &op->retry_after_ms);
}

static const char *
sf_type(enum agg_type a)
{
	return a == AGG_ORG ? "Account" : "Contact";
}

static const struct map *
sf_map(const struct sf *s, enum agg_type a)
{
	return a == AGG_ORG ? &s->account : &s->contact;
}

/* Upsert one record: PATCH /sobjects/<type>/<field>/<id>. */
static void
sf_upsert_one(struct sf *s, struct op *op)
{
	struct http_resp	 r;
	json_object		*o;
	char			*path, err[256];

	o = map_apply(sf_map(s, op->agg), op->data);
	path = xasprintf("/services/data/%s/sobjects/%s/%s/%s",
	    s->conf->sf_api_version, sf_type(op->agg),
	    s->conf->sf_external_id_field, op->party);
	if (sf_call(s, "PATCH", path, jsonx_str(o), &r, err,
	    sizeof(err)) == -1)
		sf_no_response(op, err);
	else {
		sf_outcome(op, &r, OPR_NONE);
		http_resp_clear(&r);
	}
	json_object_put(o);
	free(path);
}

/* Upsert up to SF_COLLECTION_MAX records with sObject Collections. */
static void
sf_upsert_many(struct sf *s, struct op *ops, size_t n)
{
	struct http_resp	 r;
	struct sf_result	*res;
	char			*path, *body, err[256];
	bool			 thr;
	size_t			 i;

	body = sf_collection_body(sf_map(s, ops[0].agg), sf_type(ops[0].agg),
	    s->conf->sf_external_id_field, ops, n);
	path = xasprintf("/services/data/%s/composite/sobjects/%s/%s",
	    s->conf->sf_api_version, sf_type(ops[0].agg),
	    s->conf->sf_external_id_field);
	res = xcalloc(n, sizeof(*res));
	if (sf_call(s, "PATCH", path, body, &r, err, sizeof(err)) == -1) {
		for (i = 0; i < n; i++)
			sf_no_response(&ops[i], err);
		goto out;
	}
	if (r.status != 200 || sf_parse_results(r.body, r.len, res,
	    n) == -1) {
		if (r.status == 200)
			r.status = 502;	/* a 200 we cannot read */
		for (i = 0; i < n; i++)
			sf_outcome(&ops[i], &r, OPR_NONE);
		http_resp_clear(&r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (res[i].success) {
			ops[i].res = OPR_OK;
			str_copy(ops[i].ext_id, sizeof(ops[i].ext_id),
			    res[i].id);
			continue;
		}
		op_fail(&ops[i], sf_classify(400, res[i].code, &thr),
		    "salesforce: %s: %s", res[i].code, res[i].msg);
		ops[i].throttled = thr;
	}
	http_resp_clear(&r);
out:
	free(res);
	free(body);
	free(path);
}

/* Set or clear a Contact's Account, updating only. */
static void
sf_link(struct sf *s, struct op *op)
{
	struct http_resp	 r;
	json_object		*o, *ref;
	char			*path, err[256];

	o = json_object_new_object();
	if (op->org != NULL) {
		ref = json_object_new_object();
		jsonx_add_str(ref, s->conf->sf_external_id_field, op->org);
		json_object_object_add(o, "Account", ref);
	} else
		json_object_object_add(o, "AccountId", NULL);
	path = xasprintf("/services/data/%s/sobjects/Contact/%s/%s"
	    "?updateOnly=true", s->conf->sf_api_version,
	    s->conf->sf_external_id_field, op->party);
	if (sf_call(s, "PATCH", path, jsonx_str(o), &r, err,
	    sizeof(err)) == -1)
		sf_no_response(op, err);
	else {
		sf_outcome(op, &r, OPR_MISSING);
		op->ext_id[0] = '\0';	/* not an upsert: nothing to post */
		http_resp_clear(&r);
	}
	json_object_put(o);
	free(path);
}

/* DELETE by external id; a record already gone is fine. */
static void
sf_delete_ext(struct sf *s, struct op *op)
{
	struct http_resp	 r;
	char			*path, err[256];

	path = xasprintf("/services/data/%s/sobjects/%s/%s/%s",
	    s->conf->sf_api_version, sf_type(op->agg),
	    s->conf->sf_external_id_field, op->party);
	if (sf_call(s, "DELETE", path, NULL, &r, err, sizeof(err)) == -1)
		sf_no_response(op, err);
	else {
		sf_outcome(op, &r, OPR_OK);
		http_resp_clear(&r);
	}
	free(path);
}

/*
 * GET path and parse its JSON body into *o.  Returns 0 (200), 1 (404),
 * or -1 with op's outcome set.
 */
static int
sf_get_json(struct sf *s, struct op *op, const char *path, json_object **o)
{
	struct http_resp	 r;
	char			 err[256];
	int			 rc = -1;

	*o = NULL;
	if (sf_call(s, "GET", path, NULL, &r, err, sizeof(err)) == -1) {
		sf_no_response(op, err);
		return -1;
	}
	if (r.status == 404)
		rc = 1;
	else if (r.status == 200 &&
	    (*o = jsonx_parse(r.body, r.len, err, sizeof(err))) != NULL &&
	    json_object_is_type(*o, json_type_object))
		rc = 0;
	else {
		if (r.status == 200)
			r.status = 502;
		sf_outcome(op, &r, OPR_NONE);
	}
	if (rc == -1 && *o != NULL) {
		json_object_put(*o);
		*o = NULL;
	}
	http_resp_clear(&r);
	return rc;
}

/* Set AccountId null on the Contacts listed in records (JSON array). */
static int
sf_unlink_records(struct sf *s, struct op *op, json_object *records)
{
	struct http_resp	 r;
	struct sf_result	*res;
	json_object		*body, *arr, *rec, *attr;
	char			 id[64], err[256], *path;
	size_t			 i, n = json_object_array_length(records);
	int			 rc = -1;

	if (n == 0)
		return 0;
	body = json_object_new_object();
	jsonx_add_bool(body, "allOrNone", false);
	arr = json_object_new_array();
	for (i = 0; i < n; i++) {
		get_str(json_object_array_get_idx(records, i), "Id", id,
		    sizeof(id));
		rec = json_object_new_object();
		attr = json_object_new_object();
		jsonx_add_str(attr, "type", "Contact");
		json_object_object_add(rec, "attributes", attr);
		jsonx_add_str(rec, "id", id);
		json_object_object_add(rec, "AccountId", NULL);
		json_object_array_add(arr, rec);
	}
	json_object_object_add(body, "records", arr);
	path = xasprintf("/services/data/%s/composite/sobjects",
	    s->conf->sf_api_version);
	res = xcalloc(n, sizeof(*res));
	if (sf_call(s, "PATCH", path, jsonx_str(body), &r, err,
	    sizeof(err)) == -1)
		sf_no_response(op, err);
	else {
		if (r.status == 200 && sf_parse_results(r.body, r.len, res,
		    n) == 0) {
			for (i = 0; i < n && res[i].success; i++)
				continue;
			if (i == n)
				rc = 0;
			else
				op_fail(op, OPR_TRANSIENT, "salesforce: "
				    "unlinking a Contact: %s: %s",
				    res[i].code, res[i].msg);
		} else
			sf_outcome(op, &r, OPR_NONE);
		http_resp_clear(&r);
	}
	free(res);
	free(path);
	json_object_put(body);
	return rc;
}

/* Unlink every Contact of the Account (Id acct) before deleting it. */
static int
sf_unlink_account(struct sf *s, struct op *op, const char *acct)
{
	json_object	*o, *records;
	char		*q, *path, next[512];
	int		 page, rc;

	q = xasprintf("SELECT Id FROM Contact WHERE AccountId = '%s'", acct);
	path = http_escape(q);
	free(q);
	q = xasprintf("/services/data/%s/query?q=%s", s->conf->sf_api_version,
	    path);
	free(path);
	path = q;
	for (page = 0; page < SF_QUERY_PAGES; page++) {
		if ((rc = sf_get_json(s, op, path, &o)) != 0) {
			free(path);
			return rc == 1 ? 0 : -1;
		}
		if (!json_object_object_get_ex(o, "records", &records) ||
		    !json_object_is_type(records, json_type_array) ||
		    sf_unlink_records(s, op, records) == -1) {
			if (op->res == OPR_NONE)
				op_fail(op, OPR_TRANSIENT, "salesforce: bad "
				    "query response");
			json_object_put(o);
			free(path);
			return -1;
		}
		get_str(o, "nextRecordsUrl", next, sizeof(next));
		json_object_put(o);
		free(path);
		if (next[0] != '/' || strncmp(next, "/services/", 10) != 0)
			return 0;
		path = xstrdup(next);
	}
	free(path);
	op_fail(op, OPR_TRANSIENT, "salesforce: too many Contacts to unlink "
	    "in one go");
	return -1;
}

/* Delete an Account: find it, unlink its Contacts, delete it. */
static void
sf_delete_org(struct sf *s, struct op *op)
{
	json_object	*o;
	char		*path, id[64];
	int		 rc;

	path = xasprintf("/services/data/%s/sobjects/Account/%s/%s?fields=Id",
	    s->conf->sf_api_version, s->conf->sf_external_id_field,
	    op->party);
	rc = sf_get_json(s, op, path, &o);
	free(path);
	if (rc == 1) {
		op->res = OPR_OK;	/* no such Account: nothing to do */
		return;
	}
	if (rc == -1)
		return;
	get_str(o, "Id", id, sizeof(id));
	json_object_put(o);
	/* Only a record id goes into the SOQL text. */
	if (!name_ok(id, "")) {
		op_fail(op, OPR_REJECTED, "salesforce: bad Account Id");
		return;
	}
	if (sf_unlink_account(s, op, id) == -1)
		return;
	sf_delete_ext(s, op);
}

void
sf_run(void *ctx, struct op *ops, size_t n)
{
	struct sf	*s = ctx;
	size_t		 i, k;

	for (i = 0; i < n; i += k) {
		k = 1;
		switch (ops[i].kind) {
		case OP_UPSERT:
			k = n - i > SF_COLLECTION_MAX ? SF_COLLECTION_MAX :
			    n - i;
			if (k == 1)
				sf_upsert_one(s, &ops[i]);
			else
				sf_upsert_many(s, &ops[i], k);
			break;
		case OP_LINK:
			sf_link(s, &ops[i]);
			break;
		case OP_DELETE:
			if (ops[i].agg == AGG_ORG)
				sf_delete_org(s, &ops[i]);
			else
				sf_delete_ext(s, &ops[i]);
			break;
		default:
			abort();
		}
	}
}
