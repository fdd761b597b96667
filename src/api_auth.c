/*
 * Rolodex - authentication: bearer tokens on every protected route,
 * POST /auth/login for user accounts and POST /auth/token (OAuth 2.0
 * client credentials) for services.
 *
 * Verification keys are fixed at start-up from the configuration, each
 * pinned to one algorithm (auth_jwt.c); nothing in a token can add a
 * key.  Failed logins are counted per account in the database, so every
 * worker sees them: each failure is answered more slowly, and past a
 * limit the account answers 429 until the window has passed.  Neither
 * tokens nor passwords are ever logged.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api.h"
#include "auth_jwt.h"
#include "auth_pw.h"
#include "jsonx.h"
#include "log.h"
#include "util.h"
#include "valid.h"
#include "xalloc.h"

#define REALM			"rolodex"
#define FAIL_LOCK_AFTER		10
#define FAIL_DELAY_CAP_MS	2000


static int
add_public_keys(struct api *api, const char *spec, char *err, size_t errsz)
{
	char	*copy = xstrdup(spec), *tok, *save = NULL, *eq, *colon, *pem;
	size_t	 len;
	int	 rc = 0;

	for (tok = strtok_r(copy, " \t", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " \t", &save)) {
		if ((eq = strchr(tok, '=')) == NULL ||
		    (colon = strchr(eq, ':')) == NULL) {
			snprintf(err, errsz, "[auth] public_keys: expected "
			    "kid=ALG:path, got '%s'", tok);
			rc = -1;
			break;
		}
		*eq = *colon = '\0';
		if ((pem = file_read(colon + 1, 65536, &len)) == NULL ||
		    auth_keyset_add_pem(api->keys, tok, eq + 1, pem, len) ==
		    -1) {
			snprintf(err, errsz, "[auth] public_keys: cannot use "
			    "key %s (%s) from %s", tok, eq + 1, colon + 1);
			rc = -1;
		}
		free(pem);
	}
	free(copy);
	return rc;
}

/* The signing key: the HS256 secret or the private key PEM. */
static int
setup_signing(struct api *api, char *err, size_t errsz)
{
	const struct conf	*c = &api->conf;
	const char		*secret = c->auth_hs256_secret;
	const char		*kid = *c->auth_signing_kid != '\0' ?
				    c->auth_signing_kid : NULL;

	if (*secret == '\0' && c->auth_sandbox)
		secret = CONF_SANDBOX_SECRET;
	if (!c->auth_sandbox && strcmp(secret, CONF_SANDBOX_SECRET) == 0) {
		snprintf(err, errsz, "[auth] hs256_secret is the sandbox "
		    "secret; set your own (or sandbox = yes for development)");
		return -1;
	}
	if (*secret != '\0' && auth_keyset_add_hs256(api->keys, kid,
	    (const unsigned char *)secret, strlen(secret)) == -1) {
		snprintf(err, errsz, "[auth] hs256_secret must be at least "
		    "32 bytes");
		return -1;
	}
	if (strcmp(c->auth_signing_alg, "HS256") == 0) {
		if (*secret == '\0') {
			snprintf(err, errsz, "[auth] signing_alg HS256 needs "
			    "hs256_secret_file (or sandbox = yes)");
			return -1;
		}
		api->sign_key = (unsigned char *)xstrdup(secret);
		api->sign_keylen = strlen(secret);
		return 0;
	}
	if (auth_keyset_add_pem(api->keys, kid, c->auth_signing_alg,
	    c->auth_signing_key, strlen(c->auth_signing_key)) == -1) {
		snprintf(err, errsz, "[auth] signing_key is not a %s private "
		    "key", c->auth_signing_alg);
		return -1;
	}
	api->sign_key = (unsigned char *)xstrdup(c->auth_signing_key);
	api->sign_keylen = strlen(c->auth_signing_key);
	return 0;
}

int
api_auth_init(struct api *api, char *err, size_t errsz)
{
	char	*jwks;
	size_t	 len;
	int	 rc;

	api->keys = auth_keyset_new();
	if (setup_signing(api, err, errsz) == -1)
		return -1;
	if (*api->conf.auth_public_keys != '\0' && add_public_keys(api,
	    api->conf.auth_public_keys, err, errsz) == -1)
		return -1;
	if (*api->conf.auth_jwks_file != '\0') {
		if ((jwks = file_read(api->conf.auth_jwks_file, 1 << 20,
		    &len)) == NULL) {
			snprintf(err, errsz, "[auth] jwks_file: cannot read "
			    "%s", api->conf.auth_jwks_file);
			return -1;
		}
		rc = auth_keyset_load_jwks(api->keys, jwks, len);
		free(jwks);
		if (rc == -1) {
			snprintf(err, errsz, "[auth] jwks_file: %s is not a "
			    "usable JWKS", api->conf.auth_jwks_file);
			return -1;
		}
	}
	return 0;
}

/* 401/400/403 with the RFC 6750 challenge. */
static void
challenge(struct req *r, enum rlx_err e, const char *error,
    const char *scope, const char *detail)
{
	if (error == NULL)
		resp_header(r, "WWW-Authenticate: Bearer realm=\"" REALM "\"");
	else if (scope == NULL)
		resp_header(r, "WWW-Authenticate: Bearer realm=\"" REALM
		    "\", error=\"%s\"", error);
	else
		resp_header(r, "WWW-Authenticate: Bearer realm=\"" REALM
		    "\", error=\"%s\", scope=\"%s\"", error, scope);
	resp_error(r, e, "%s", detail);
}

static const char *
scope_role(enum scope s)
{
	switch (s) {
	case SCOPE_READ:
		return "reader";
	case SCOPE_WRITE:
		return "writer";
	case SCOPE_ADMIN:
		return "admin";
	default:
		abort();
	}
}

int
api_authorize(struct req *r, enum scope need)
{
	const char		*h = req_header(r, "HTTP_AUTHORIZATION");
	struct auth_claims	 cl;
	enum auth_status	 st;

	if (need == SCOPE_NONE)
		return 0;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		challenge(r, RLX_UNAUTH, NULL, NULL, "This route needs a "
		    "bearer token.");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	st = strlen(h) > AUTH_HEADER_MAX ? AUTH_INVALID_REQUEST :
	    auth_jwt_verify(r->api->keys, h, r->api->conf.auth_issuer,
	    r->api->conf.auth_audience, r->api->conf.auth_leeway,
	    (int64_t)time(NULL), &cl);
	if (st == AUTH_INVALID_REQUEST) {
		challenge(r, RLX_BADREQ, "invalid_request", NULL,
		    "The Authorization header is malformed.");
		return -1;
	}
	if (st != AUTH_OK) {
		challenge(r, RLX_UNAUTH, "invalid_token", NULL,
		    "The token is invalid or expired.");
		return -1;
	}
	snprintf(r->sub, sizeof(r->sub), "%s", cl.sub);
	r->roles = cl.roles;
	if (!(cl.roles & (unsigned)need)) {
		challenge(r, RLX_FORBIDDEN, "insufficient_scope",
		    scope_role(need), "The token lacks the role this route "
		    "needs.");
		return -1;
	}
	return 0;
}

/* Mint a token for sub with roles and answer it (RFC 6749 5.1). */
static void
issue_token(struct req *r, const char *sub, unsigned roles)
{
	const struct conf	*c = &r->api->conf;
	json_object		*o;
	char			*tok;

	tok = auth_jwt_mint(c->auth_signing_alg, r->api->sign_key,
	    r->api->sign_keylen, *c->auth_signing_kid != '\0' ?
	    c->auth_signing_kid : NULL, c->auth_issuer, c->auth_audience, sub,
	    roles, c->auth_token_ttl, (int64_t)time(NULL));
	if (tok == NULL) {
		resp_error(r, RLX_INTERNAL, "No token could be issued.");
		return;
	}
	o = json_object_new_object();
	jsonx_add_str(o, "access_token", tok);
	jsonx_add_str(o, "token_type", "bearer");
	jsonx_add_int(o, "expires_in", c->auth_token_ttl);
	resp_header(r, "Pragma: no-cache");
	resp_json(r, 200, o);
	json_object_put(o);
	explicit_bzero(tok, strlen(tok));
	free(tok);
}

/* Verify against a stored hash; a missing account costs the same. */
static bool
check_secret(const char *given, const char *stored)
{
	static char	*dummy;

	if (stored != NULL)
		return auth_pw_verify(given, stored);
	if (dummy == NULL)
		dummy = auth_pw_hash("rolodex-timing-equaliser");
	if (dummy != NULL)
		(void)auth_pw_verify(given, dummy);
	return false;
}

/* Slow down a failure: a delay growing with the recent failures. */
static void
failure_delay(const struct api *api, long long failures)
{
	int64_t	 ms = api->conf.auth_fail_delay_ms * (failures + 1);

	sleep_ms(ms > FAIL_DELAY_CAP_MS ? FAIL_DELAY_CAP_MS : ms, NULL);
}

static void
too_many(struct req *r)
{
	resp_header(r, "Retry-After: %lld",
	    (long long)r->api->conf.auth_fail_window);
	resp_error(r, RLX_TOOMANY, "Too many failed attempts; retry later.");
}

/* Read {"username", "password"}; -1 after answering. */
static int
login_body(struct req *r, char **user, char **pass)
{
	static const char *const types[] = { "application/json", NULL };
	struct problem	 pb;
	json_object	*o = NULL, *u, *p;
	int		 rc = -1;

	problem_init(&pb);
	if (req_want_type(r, types, &pb) == -1 ||
	    req_read_body(r, &pb) == -1 || (o = req_json(r, &pb)) == NULL)
		goto out;
	if (!json_object_is_type(o, json_type_object) ||
	    json_object_object_length(o) != 2 ||
	    !json_object_object_get_ex(o, "username", &u) ||
	    !json_object_object_get_ex(o, "password", &p) ||
	    !json_object_is_type(u, json_type_string) ||
	    !json_object_is_type(p, json_type_string) ||
	    !valid_text(json_object_get_string(u), 1, 128) ||
	    json_object_get_string_len(p) < 1 ||
	    json_object_get_string_len(p) > 1024) {
		problem_set(&pb, RLX_EINVAL, "Send exactly {\"username\", "
		    "\"password\"} as strings.");
		goto out;
	}
	*user = xstrdup(json_object_get_string(u));
	*pass = xstrdup(json_object_get_string(p));
	rc = 0;
out:
	if (rc == -1)
		resp_problem(r, &pb);
	json_object_put(o);
	problem_clear(&pb);
	return rc;
}

void
h_login(struct req *r)
{
	struct db_rows	 rows;
	struct db_arg	 args[2];
	char		*user = NULL, *pass = NULL;
	const char	*hash = NULL;
	long long	 failures = 0;
	unsigned	 roles = 0;
	enum db_rc	 rc;
	bool		 ok;

	memset(&rows, 0, sizeof(rows));
	if (login_body(r, &user, &pass) == -1)
		return;
	args[0] = DB_INT(r->api->conf.auth_fail_window);
	args[1] = db_str(user);
	if ((rc = db_exec(r->api->db, STMT_USER_GET, args, 2, &rows, NULL)) ==
	    DB_DOWN)
		rc = db_exec(r->api->db, STMT_USER_GET, args, 2, &rows, NULL);
	if (rc != DB_OK) {
		api_db_error(r, rc);
		goto out;
	}
	if (rows.nrows == 1 && strcmp(db_cell(&rows, 0, 3), "0") == 0) {
		hash = db_cell(&rows, 0, 1);
		failures = strtoll(db_cell(&rows, 0, 4), NULL, 10);
		if (auth_roles_parse(db_cell(&rows, 0, 2), &roles) == -1)
			roles = 0;
	}
	if (failures >= FAIL_LOCK_AFTER) {
		too_many(r);
		goto out;
	}
	ok = check_secret(pass, hash) && roles != 0;
	args[0] = DB_INT(r->api->conf.auth_fail_window);
	if (!ok) {
		if (hash != NULL)
			db_exec(r->api->db, STMT_USER_FAIL, args, 2, NULL,
			    NULL);
		log_info("login failed for an account");
		failure_delay(r->api, failures);
		resp_error(r, RLX_UNAUTH, "Wrong username or password.");
		goto out;
	}
	if (failures > 0)
		db_exec(r->api->db, STMT_USER_FAIL_RESET, args + 1, 1, NULL,
		    NULL);
	issue_token(r, user, roles);
out:
	db_rows_clear(&rows);
	free(user);
	if (pass != NULL)
		explicit_bzero(pass, strlen(pass));
	free(pass);
}

/* RFC 6749 section 5.2 error, with problem members alongside. */
static void
oauth_error(struct req *r, int status, const char *error, const char *desc)
{
	json_object	*o = json_object_new_object();
	enum rlx_err	 e = status == 401 ? RLX_UNAUTH : RLX_BADREQ;

	jsonx_add_str(o, "error", error);
	jsonx_add_str(o, "error_description", desc);
	jsonx_add_str(o, "type", rlx_type(e));
	jsonx_add_str(o, "title", rlx_strerror(e));
	jsonx_add_int(o, "status", status);
	jsonx_add_str(o, "detail", desc);
	resp_json(r, status, o);
	json_object_put(o);
}

/* Client credentials from HTTP Basic (RFC 6749 2.3.1); -1 if malformed. */
static int
basic_credentials(const char *h, char **id, char **secret)
{
	unsigned char	*raw;
	char		*s, *p, *colon;
	size_t		 len;

	h += 6;
	while (*h == ' ')
		h++;
	/* Standard base64: map to base64url for our decoder. */
	s = xstrdup(h);
	for (p = s; *p != '\0'; p++)
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	raw = b64url_decode(s, strlen(s), &len);
	free(s);
	if (raw == NULL)
		return -1;
	colon = memchr(raw, ':', len);
	/* Both parts are form-urlencoded before base64. */
	*id = colon == NULL ? NULL : form_decode((char *)raw,
	    (size_t)(colon - (char *)raw));
	*secret = colon == NULL ? NULL : form_decode(colon + 1,
	    len - (size_t)(colon - (char *)raw) - 1);
	explicit_bzero(raw, len);
	free(raw);
	if (*id == NULL || *secret == NULL || **id == '\0') {
		free(*id);
		free(*secret);
		*id = *secret = NULL;
		return -1;
	}
	return 0;
}

/* Find id/secret in Basic auth or the form; -1 after answering. */
static int
client_credentials(struct req *r, struct qparam *form, size_t n, char **id,
    char **secret, bool *basic)
{
	const char	*h = req_header(r, "HTTP_AUTHORIZATION");
	const char	*fid = NULL, *fsec = NULL;
	size_t		 i;

	for (i = 0; i < n; i++) {
		if (strcmp(form[i].key, "client_id") == 0)
			fid = form[i].val;
		else if (strcmp(form[i].key, "client_secret") == 0)
			fsec = form[i].val;
	}
	*basic = h != NULL && strncasecmp(h, "Basic ", 6) == 0;
	if (*basic && (fid != NULL || fsec != NULL)) {
		oauth_error(r, 400, "invalid_request", "Use one way to send "
		    "client credentials.");
		return -1;
	}
	if (*basic) {
		if (basic_credentials(h, id, secret) == 0)
			return 0;
		oauth_error(r, 400, "invalid_request", "Malformed Basic "
		    "credentials.");
		return -1;
	}
	if (fid == NULL || fsec == NULL) {
		resp_header(r, "WWW-Authenticate: Basic realm=\"" REALM "\"");
		oauth_error(r, 401, "invalid_client", "Client authentication "
		    "is required.");
		return -1;
	}
	*id = xstrdup(fid);
	*secret = xstrdup(fsec);
	return 0;
}

/* Restrict roles to a requested scope ("reader writer"); -1 if invalid. */
static int
narrow_scope(const char *scope, unsigned *roles)
{
	char		*copy, *tok, *save = NULL;
	unsigned	 want = 0, one;
	int		 rc = 0;

	if (scope == NULL)
		return 0;
	copy = xstrdup(scope);
	for (tok = strtok_r(copy, " ", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, " ", &save)) {
		if (auth_roles_parse(tok, &one) == -1 ||
		    (*roles & one) != one)
			rc = -1;
		want |= one;
	}
	free(copy);
	if (rc == 0 && want != 0)
		*roles = want;
	return rc;
}

static void
token_grant(struct req *r, const struct qparam *form, size_t n,
    const char *id, const char *secret, bool basic)
{
	struct db_arg	 args[2] = { DB_INT(r->api->conf.auth_fail_window),
	    db_str(id) };
	struct db_rows	 rows;
	const char	*hash = NULL, *scope = NULL;
	long long	 failures = 0;
	unsigned	 roles = 0;
	enum db_rc	 rc;
	size_t		 i;

	for (i = 0; i < n; i++)
		if (strcmp(form[i].key, "scope") == 0)
			scope = form[i].val;
	if ((rc = db_exec(r->api->db, STMT_CLIENT_GET, args, 2, &rows,
	    NULL)) == DB_DOWN)
		rc = db_exec(r->api->db, STMT_CLIENT_GET, args, 2, &rows, NULL);
	if (rc != DB_OK) {
		api_db_error(r, rc);
		return;
	}
	if (rows.nrows == 1 && strcmp(db_cell(&rows, 0, 3), "0") == 0) {
		hash = db_cell(&rows, 0, 1);
		failures = strtoll(db_cell(&rows, 0, 4), NULL, 10);
		if (auth_roles_parse(db_cell(&rows, 0, 2), &roles) == -1)
			roles = 0;
	}
	if (failures >= FAIL_LOCK_AFTER)
		too_many(r);
	else if (!check_secret(secret, hash) || roles == 0) {
		if (hash != NULL)
			db_exec(r->api->db, STMT_CLIENT_FAIL, args, 2, NULL,
			    NULL);
		failure_delay(r->api, failures);
		if (basic)
			resp_header(r, "WWW-Authenticate: Basic realm=\""
			    REALM "\"");
		oauth_error(r, 401, "invalid_client", "Unknown client or "
		    "wrong secret.");
	} else if (narrow_scope(scope, &roles) == -1)
		oauth_error(r, 400, "invalid_scope", "The scope asks for "
		    "roles this client does not have.");
	else {
		if (failures > 0)
			db_exec(r->api->db, STMT_CLIENT_FAIL_RESET, args + 1, 1,
			    NULL, NULL);
		issue_token(r, id, roles);
	}
	db_rows_clear(&rows);
}

void
h_token(struct req *r)
{
	static const char *const types[] = {
	    "application/x-www-form-urlencoded", NULL };
	struct problem	 pb;
	struct qparam	 form[8];
	size_t		 n = 0, i;
	const char	*why = NULL, *grant = NULL;
	char		*id = NULL, *secret = NULL;
	bool		 basic;

	problem_init(&pb);
	memset(form, 0, sizeof(form));
	if (req_want_type(r, types, &pb) == -1 ||
	    req_read_body(r, &pb) == -1) {
		resp_problem(r, &pb);
		goto out;
	}
	if (form_parse(r->body, form, &n, 8, &why) == -1) {
		oauth_error(r, 400, "invalid_request", "Malformed form body.");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (strcmp(form[i].key, "grant_type") == 0)
			grant = form[i].val;
	if (grant == NULL || strcmp(grant, "client_credentials") != 0) {
		oauth_error(r, 400, grant == NULL ? "invalid_request" :
		    "unsupported_grant_type", "Use grant_type="
		    "client_credentials.");
		goto out;
	}
	if (client_credentials(r, form, n, &id, &secret, &basic) == 0)
		token_grant(r, form, n, id, secret, basic);
out:
	for (i = 0; i < n; i++) {
		free(form[i].key);
		if (form[i].val != NULL)
			explicit_bzero(form[i].val, strlen(form[i].val));
		free(form[i].val);
	}
	free(id);
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
	free(secret);
	problem_clear(&pb);
}
