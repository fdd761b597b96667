/*
 * Rolodex - configuration (see conf.h).
 *
 * The key table is the single source of truth: each entry has a section,
 * a key, a type, bounds, a default, a secret flag and where it lands in
 * struct conf.  A secret key "k" may instead be given as "k_file", a path
 * whose contents become the value; such files must not be readable by
 * other users.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "util.h"
#include "xalloc.h"

enum conf_type { CONF_STR, CONF_INT, CONF_BOOL };

struct conf_key {
	const char	*section;
	const char	*key;
	enum conf_type	 type;
	int64_t		 min, max;
	const char	*def;
	bool		 secret;
	size_t		 off;
	const char	*help;
};

#define K(s, k, t, mn, mx, d, sec, f, h) \
	{ s, k, t, mn, mx, d, sec, offsetof(struct conf, f), h }

static const struct conf_key conf_keys[] = {
	K("database", "host", CONF_STR, 0, 255, "127.0.0.1", false, db_host,
	    "MariaDB/MySQL host (ignored when socket is set)"),
	K("database", "port", CONF_INT, 1, 65535, "3306", false, db_port,
	    "TCP port"),
	K("database", "socket", CONF_STR, 0, 1024, "", false, db_socket,
	    "Unix socket path; empty = use host and port"),
	K("database", "name", CONF_STR, 1, 64, "rolodex", false, db_name,
	    "database (schema) name"),
	K("database", "user", CONF_STR, 1, 80, "rolodex", false, db_user,
	    "runtime user: SELECT, INSERT, UPDATE, DELETE only"),
	K("database", "password", CONF_STR, 0, 1024, "", true, db_password,
	    "runtime user's password"),
	K("database", "migrate_user", CONF_STR, 0, 80, "", false,
	    db_migrate_user, "user for rolodexctl migrate (DDL); empty = user"),
	K("database", "migrate_password", CONF_STR, 0, 1024, "", true,
	    db_migrate_password, "migration user's password"),
	K("database", "connect_timeout", CONF_INT, 1, 60, "3", false,
	    db_connect_timeout, "seconds to wait for a connection"),
	K("database", "rw_timeout", CONF_INT, 1, 600, "10", false,
	    db_rw_timeout, "seconds to wait for one read or write"),

	K("api", "listen", CONF_STR, 0, 1024, "", false, api_listen,
	    "standalone mode: unix:PATH or HOST:PORT (or --listen)"),
	K("api", "workers", CONF_INT, 1, 256, "4", false, api_workers,
	    "standalone mode: number of pre-forked workers"),
	K("api", "body_limit", CONF_INT, 1024, 16777216, "1048576", false,
	    api_body_limit, "largest request body in bytes (413 above)"),
	K("api", "page_default", CONF_INT, 1, 200, "50", false,
	    api_page_default, "list page size when limit is not given"),
	K("api", "retry_after", CONF_INT, 1, 3600, "5", false,
	    api_retry_after, "Retry-After seconds sent with 503"),
	K("api", "max_requests", CONF_INT, 0, 100000000, "0", false,
	    api_max_requests, "a worker exits after this many requests (0: never)"),
	K("api", "idempotency_ttl", CONF_INT, 60, 2592000, "86400", false,
	    api_idem_ttl, "seconds an Idempotency-Key and its response are kept"),
	K("api", "openapi_file", CONF_STR, 1, 1024, PKGDATADIR "/openapi.json",
	    false, api_openapi_file, "the OpenAPI document served at /openapi.json"),
	K("api", "explorer_file", CONF_STR, 1, 1024,
	    PKGDATADIR "/api-explorer.html", false, api_explorer_file,
	    "the interactive page served at /docs"),

	K("auth", "issuer", CONF_STR, 1, 255, "rolodex", false, auth_issuer,
	    "iss of tokens we mint and accept"),
	K("auth", "audience", CONF_STR, 1, 255, "rolodex-api", false,
	    auth_audience, "aud tokens must carry"),
	K("auth", "token_ttl", CONF_INT, 60, 86400, "1800", false,
	    auth_token_ttl, "lifetime in seconds of tokens we mint"),
	K("auth", "leeway", CONF_INT, 0, 60, "30", false, auth_leeway,
	    "clock leeway in seconds for exp, nbf and iat"),
	K("auth", "hs256_secret", CONF_STR, 0, 4096, "", true,
	    auth_hs256_secret, "HS256 shared secret, at least 32 bytes"),
	K("auth", "signing_alg", CONF_STR, 5, 5, "HS256", false,
	    auth_signing_alg, "algorithm of tokens we mint: HS256, RS256, ES256"),
	K("auth", "signing_key", CONF_STR, 0, 16384, "", true,
	    auth_signing_key, "private key PEM for RS256/ES256 minting"),
	K("auth", "signing_kid", CONF_STR, 0, 128, "", false,
	    auth_signing_kid, "kid header of tokens we mint"),
	K("auth", "public_keys", CONF_STR, 0, 8192, "", false,
	    auth_public_keys, "extra verification keys: kid=ALG:path ..."),
	K("auth", "jwks_file", CONF_STR, 0, 1024, "", false, auth_jwks_file,
	    "JWKS file of an external identity provider"),
	K("auth", "fail_delay_ms", CONF_INT, 0, 10000, "250", false,
	    auth_fail_delay_ms, "delay after a failed login, times the recent "
	    "failures (at most 2 s)"),
	K("auth", "fail_window", CONF_INT, 1, 86400, "900", false,
	    auth_fail_window, "seconds over which failed logins are counted"),
	K("auth", "sandbox", CONF_BOOL, 0, 1, "no", false, auth_sandbox,
	    "allow development defaults (never in production)"),

	K("events", "source", CONF_STR, 1, 255, "rolodex", false, ev_source,
	    "CloudEvents source of every event"),

	K("redis", "host", CONF_STR, 1, 255, "127.0.0.1", false, redis_host,
	    "Redis host"),
	K("redis", "port", CONF_INT, 1, 65535, "6379", false, redis_port,
	    "Redis port"),
	K("redis", "password", CONF_STR, 0, 1024, "", true, redis_password,
	    "Redis AUTH password"),
	K("redis", "timeout_ms", CONF_INT, 100, 60000, "2000", false,
	    redis_timeout_ms, "connect and command timeout"),
	K("redis", "stream", CONF_STR, 1, 200, "rolodex:events", false,
	    redis_stream, "the event stream (with partitions > 1: prefix of "
	    "<stream>:<n>)"),
	K("redis", "feedback_stream", CONF_STR, 1, 200, "rolodex:feedback",
	    false, redis_feedback_stream, "where adapters post the ids the "
	    "external systems assigned"),
	K("redis", "partitions", CONF_INT, 1, 64, "1", false, redis_partitions,
	    "1: the single stream of the contract; N: N streams by party"),

	K("relay", "batch", CONF_INT, 1, 10000, "1000", false, relay_batch,
	    "outbox rows published per round trip"),
	K("relay", "idle_ms", CONF_INT, 10, 60000, "1000", false,
	    relay_idle_ms, "longest wait between polls when idle"),
	K("relay", "retention", CONF_INT, 0, 31536000, "86400", false,
	    relay_retention, "seconds published rows are kept (for replay "
	    "after Redis loses data)"),
	K("relay", "trim", CONF_STR, 4, 6, "maxlen", false, relay_trim,
	    "stream trimming: none, maxlen (approximate) or minid"),
	K("relay", "trim_maxlen", CONF_INT, 1000, 1000000000, "1000000", false,
	    relay_trim_maxlen, "approximate stream length kept with maxlen"),
	K("relay", "trim_minid_age", CONF_INT, 60, 31536000, "604800", false,
	    relay_trim_minid_age, "seconds of entries kept with minid"),
	K("relay", "lease", CONF_INT, 2, 3600, "30", false, relay_lease,
	    "seconds without a heartbeat after which a standby relay takes "
	    "over from a stalled leader"),

	K("adapter", "batch", CONF_INT, 1, 200, "100", false, adapter_batch,
	    "stream entries read per XREADGROUP"),
	K("adapter", "block_ms", CONF_INT, 10, 60000, "2000", false,
	    adapter_block_ms, "XREADGROUP BLOCK time"),
	K("adapter", "max_deliveries", CONF_INT, 1, 1000, "5", false,
	    adapter_max_deliveries, "deliveries before a rejected entry goes "
	    "to the dead-letter stream"),
	K("adapter", "claim_idle_ms", CONF_INT, 1000, 86400000, "60000", false,
	    adapter_claim_idle_ms, "idle time after which another instance "
	    "claims a pending entry"),
	K("adapter", "backoff_base_ms", CONF_INT, 1, 60000, "500", false,
	    adapter_backoff_base_ms, "first retry delay (doubled each time, "
	    "with jitter)"),
	K("adapter", "backoff_max_ms", CONF_INT, 10, 3600000, "60000", false,
	    adapter_backoff_max_ms, "longest retry delay"),
	K("adapter", "dlq_prefix", CONF_STR, 1, 200, "rolodex:dlq:", false,
	    adapter_dlq_prefix, "dead-letter streams are <prefix><adapter>"),
	K("adapter", "start_id", CONF_STR, 1, 64, "0", false, adapter_start_id,
	    "where a new consumer group starts (0: the whole stream, $: new)"),
	K("adapter", "http_timeout_ms", CONF_INT, 100, 300000, "30000", false,
	    adapter_http_timeout_ms, "timeout of one call to an external API"),
	K("adapter", "max_response", CONF_INT, 1024, 104857600, "8388608",
	    false, adapter_max_response, "largest response body accepted"),
	K("adapter", "allow_http", CONF_BOOL, 0, 1, "no", false,
	    adapter_allow_http, "allow plain http URLs (sandboxes only)"),

	K("salesforce", "auth_flow", CONF_STR, 3, 18, "client_credentials",
	    false, sf_auth_flow, "client_credentials or jwt_bearer"),
	K("salesforce", "login_url", CONF_STR, 8, 1024,
	    "https://login.salesforce.com", false, sf_login_url,
	    "token endpoint base (My Domain URL for client credentials)"),
	K("salesforce", "instance_url", CONF_STR, 0, 1024, "", false,
	    sf_instance_url, "REST base; empty = instance_url of the token"),
	K("salesforce", "api_version", CONF_STR, 4, 10, "v60.0", false,
	    sf_api_version, "REST API version"),
	K("salesforce", "client_id", CONF_STR, 0, 1024, "", false,
	    sf_client_id, "connected app consumer key"),
	K("salesforce", "client_secret", CONF_STR, 0, 1024, "", true,
	    sf_client_secret, "connected app consumer secret"),
	K("salesforce", "username", CONF_STR, 0, 255, "", false, sf_username,
	    "jwt_bearer: the user the token is for"),
	K("salesforce", "jwt_key", CONF_STR, 0, 16384, "", true, sf_jwt_key,
	    "jwt_bearer: RS256 private key PEM"),
	K("salesforce", "jwt_audience", CONF_STR, 0, 1024,
	    "https://login.salesforce.com", false, sf_jwt_audience,
	    "jwt_bearer: aud of the assertion"),
	K("salesforce", "external_id_field", CONF_STR, 1, 80, "Rolodex_Id__c",
	    false, sf_external_id_field, "external-ID field on Contact and "
	    "Account"),
	K("salesforce", "contact_fields", CONF_STR, 1, 4096,
	    "FirstName=first_name,LastName=last_name,Email=email,"
	    "Phone=phone_primary,MobilePhone=phone_secondary,"
	    "Birthdate=date_of_birth,Salutation=title,"
	    "MailingStreet=address.street,MailingCity=address.city,"
	    "MailingState=address.region,MailingPostalCode=address.postal_code,"
	    "MailingCountry=address.country", false, sf_contact_fields,
	    "Contact fields: Field=source,... (docs/adapters.md)"),
	K("salesforce", "account_fields", CONF_STR, 1, 4096,
	    "Name=organisation_name,Website=website,Phone=phone_primary,"
	    "BillingStreet=address.street,BillingCity=address.city,"
	    "BillingState=address.region,BillingPostalCode=address.postal_code,"
	    "BillingCountry=address.country", false, sf_account_fields,
	    "Account fields: Field=source,... (docs/adapters.md)"),

	K("d365", "token_url", CONF_STR, 8, 1024,
	    "https://login.microsoftonline.com/common/oauth2/v2.0/token", false,
	    d365_token_url, "Microsoft identity platform token endpoint "
	    "(/{tenant}/oauth2/v2.0/token)"),
	K("d365", "client_id", CONF_STR, 0, 1024, "", false, d365_client_id,
	    "application (client) id"),
	K("d365", "client_secret", CONF_STR, 0, 1024, "", true,
	    d365_client_secret, "client secret"),
	K("d365", "url", CONF_STR, 0, 1024, "", false, d365_url,
	    "Dataverse environment URL, e.g. https://org.crm.dynamics.com"),
	K("d365", "scope", CONF_STR, 0, 1024, "", false, d365_scope,
	    "token scope; empty = <url>/.default"),
	K("d365", "api_version", CONF_STR, 3, 10, "v9.2", false,
	    d365_api_version, "Web API version"),
	K("d365", "contact_set", CONF_STR, 1, 100, "contacts", false,
	    d365_contact_set, "entity set of persons"),
	K("d365", "account_set", CONF_STR, 1, 100, "accounts", false,
	    d365_account_set, "entity set of organisations"),
	K("d365", "alternate_key", CONF_STR, 1, 100, "new_rolodexid", false,
	    d365_alternate_key, "alternate key column holding the party id"),
	K("d365", "use_batch", CONF_BOOL, 0, 1, "yes", false, d365_use_batch,
	    "send several changes in one $batch request"),
	K("d365", "contact_fields", CONF_STR, 1, 4096,
	    "firstname=first_name,lastname=last_name,emailaddress1=email,"
	    "telephone1=phone_primary,telephone2=phone_secondary,"
	    "birthdate=date_of_birth,address1_line1=address.line1,"
	    "address1_line2=address.line2,address1_line3=address.line3,"
	    "address1_city=address.city,address1_stateorprovince=address.region,"
	    "address1_postalcode=address.postal_code,"
	    "address1_country=address.country", false, d365_contact_fields,
	    "contact columns: column=source,... (docs/adapters.md)"),
	K("d365", "account_fields", CONF_STR, 1, 4096,
	    "name=organisation_name,websiteurl=website,telephone1=phone_primary,"
	    "emailaddress1=email,address1_line1=address.line1,"
	    "address1_line2=address.line2,address1_line3=address.line3,"
	    "address1_city=address.city,address1_stateorprovince=address.region,"
	    "address1_postalcode=address.postal_code,"
	    "address1_country=address.country", false, d365_account_fields,
	    "account columns: column=source,... (docs/adapters.md)"),

	K("log", "file", CONF_STR, 0, 1024, "", false, log_file,
	    "log file; empty = standard error"),
	K("log", "verbose", CONF_BOOL, 0, 1, "no", false, log_verbose,
	    "log debug records"),

	K("migrate", "sql_dir", CONF_STR, 1, 1024, PKGDATADIR "/sql", false,
	    sql_dir, "directory of numbered migrations"),
};

#define CONF_NKEYS	(sizeof(conf_keys) / sizeof(conf_keys[0]))

static void
conf_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

static const struct conf_key *
conf_find(const char *section, const char *key)
{
	size_t	 i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].section, section) == 0 &&
		    strcmp(conf_keys[i].key, key) == 0)
			return &conf_keys[i];
	return NULL;
}

static bool
conf_section_known(const char *section)
{
	size_t	 i;

	for (i = 0; i < CONF_NKEYS; i++)
		if (strcmp(conf_keys[i].section, section) == 0)
			return true;
	return false;
}

static int
conf_parse_bool(const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

/* Store value v for key k in c; -1 with err set when v is out of bounds. */
static int
conf_set(struct conf *c, const struct conf_key *k, const char *v,
    char *err, size_t errsz)
{
	char	*base = (char *)c + k->off;
	char	**sp;
	int64_t	 n;

	switch (k->type) {
	case CONF_STR:
		if (strlen(v) < (size_t)k->min || strlen(v) > (size_t)k->max) {
			conf_err(err, errsz, "[%s] %s: length must be %lld..%lld",
			    k->section, k->key, (long long)k->min,
			    (long long)k->max);
			return -1;
		}
		sp = (char **)(void *)base;
		free(*sp);
		*sp = xstrdup(v);
		return 0;
	case CONF_INT:
		if (parse_int64(v, k->min, k->max, &n) == -1) {
			conf_err(err, errsz, "[%s] %s: not an integer in "
			    "%lld..%lld", k->section, k->key,
			    (long long)k->min, (long long)k->max);
			return -1;
		}
		*(int64_t *)(void *)base = n;
		return 0;
	case CONF_BOOL:
		if (conf_parse_bool(v, (bool *)(void *)base) == -1) {
			conf_err(err, errsz, "[%s] %s: not yes or no",
			    k->section, k->key);
			return -1;
		}
		return 0;
	default:
		abort();
	}
}

/* Read a secret file, refusing one that other users can read. */
static int
conf_set_from_file(struct conf *c, const struct conf_key *k,
    const char *path, char *err, size_t errsz)
{
	struct stat	 st;
	char		*v;
	int		 rc;

	if (stat(path, &st) == -1) {
		conf_err(err, errsz, "[%s] %s_file: %s: %s", k->section,
		    k->key, path, strerror(errno));
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		conf_err(err, errsz, "[%s] %s_file: %s is readable by other "
		    "users (chmod o-r)", k->section, k->key, path);
		return -1;
	}
	if ((v = file_read(path, 65536, NULL)) == NULL) {
		conf_err(err, errsz, "[%s] %s_file: %s: %s", k->section,
		    k->key, path, strerror(errno));
		return -1;
	}
	rc = conf_set(c, k, v, err, errsz);
	explicit_bzero(v, strlen(v));
	free(v);
	return rc;
}

/* Resolve "key" or, for secrets, "key_file" in section; NULL if unknown. */
static const struct conf_key *
conf_lookup(const char *section, const char *key, bool *is_file)
{
	const struct conf_key	*k;
	char			 base[64];
	size_t			 n = strlen(key);

	*is_file = false;
	if ((k = conf_find(section, key)) != NULL)
		return k;
	if (n > 5 && n - 5 < sizeof(base) && strcmp(key + n - 5, "_file") == 0) {
		memcpy(base, key, n - 5);
		base[n - 5] = '\0';
		if ((k = conf_find(section, base)) != NULL && k->secret) {
			*is_file = true;
			return k;
		}
	}
	return NULL;
}

static char *
trim(char *s)
{
	char	*e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Strip one pair of matching double quotes around a value. */
static char *
unquote(char *v)
{
	size_t	 n = strlen(v);

	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v[n - 1] = '\0';
		return v + 1;
	}
	return v;
}

static int
conf_parse_line(struct conf *c, char *line, char *section, size_t secsz,
    const char *path, int lineno, char *err, size_t errsz)
{
	const struct conf_key	*k;
	char			*s = trim(line), *eq, *key, *val;
	bool			 is_file;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		if (s[strlen(s) - 1] != ']' || strlen(s) - 2 >= secsz)
			goto bad;
		memcpy(section, s + 1, strlen(s) - 2);
		section[strlen(s) - 2] = '\0';
		if (!conf_section_known(section)) {
			conf_err(err, errsz, "%s:%d: unknown section [%s]",
			    path, lineno, section);
			return -1;
		}
		return 0;
	}
	if ((eq = strchr(s, '=')) == NULL || *section == '\0')
		goto bad;
	*eq = '\0';
	key = trim(s);
	val = unquote(trim(eq + 1));
	if ((k = conf_lookup(section, key, &is_file)) == NULL) {
		conf_err(err, errsz, "%s:%d: unknown key %s in [%s]", path,
		    lineno, key, section);
		return -1;
	}
	if ((is_file ? conf_set_from_file(c, k, val, err, errsz) :
	    conf_set(c, k, val, err, errsz)) == -1) {
		conf_err(err + strlen(err), errsz - strlen(err), " (%s:%d)",
		    path, lineno);
		return -1;
	}
	return 0;
bad:
	conf_err(err, errsz, "%s:%d: syntax error", path, lineno);
	return -1;
}

static int
conf_read_file(struct conf *c, const char *path, char *err, size_t errsz)
{
	FILE	*f;
	char	 line[16384 + 256], section[64] = "";
	int	 lineno = 0, rc = 0;

	if ((f = fopen(path, "r")) == NULL) {
		conf_err(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			conf_err(err, errsz, "%s:%d: line too long", path,
			    lineno);
			rc = -1;
			break;
		}
		rc = conf_parse_line(c, line, section, sizeof(section), path,
		    lineno, err, errsz);
	}
	fclose(f);
	return rc;
}

/* Build ROLODEX_<SECTION>_<KEY>[suffix] in upper case. */
static void
conf_env_name(char *dst, size_t dsz, const struct conf_key *k,
    const char *suffix)
{
	char	*p;

	snprintf(dst, dsz, "ROLODEX_%s_%s%s", k->section, k->key, suffix);
	for (p = dst; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
}

static int
conf_read_env(struct conf *c, char *err, size_t errsz)
{
	char		 name[128];
	const char	*v;
	size_t		 i;

	for (i = 0; i < CONF_NKEYS; i++) {
		conf_env_name(name, sizeof(name), &conf_keys[i], "");
		if ((v = getenv(name)) != NULL &&
		    conf_set(c, &conf_keys[i], v, err, errsz) == -1)
			goto bad;
		if (!conf_keys[i].secret)
			continue;
		conf_env_name(name, sizeof(name), &conf_keys[i], "_FILE");
		if ((v = getenv(name)) != NULL && conf_set_from_file(c,
		    &conf_keys[i], v, err, errsz) == -1)
			goto bad;
	}
	return 0;
bad:
	conf_err(err + strlen(err), errsz - strlen(err), " (%s)", name);
	return -1;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errsz)
{
	const char	*env;
	size_t		 i;
	bool		 optional = false;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < CONF_NKEYS; i++)
		if (conf_set(c, &conf_keys[i], conf_keys[i].def, err,
		    errsz) == -1)
			abort();
	if (path == NULL && (env = getenv("ROLODEX_CONF")) != NULL &&
	    *env != '\0')
		path = env;
	if (path == NULL) {
		path = CONF_DEFAULT_PATH;
		optional = true;
	}
	if (!(optional && access(path, F_OK) == -1) &&
	    conf_read_file(c, path, err, errsz) == -1)
		return -1;
	if (conf_read_env(c, err, errsz) == -1)
		return -1;
	return conf_check(c, err, errsz);
}

int
conf_check(const struct conf *c, char *err, size_t errsz)
{
	const char	*a = c->auth_signing_alg;

	if (strcmp(a, "HS256") != 0 && strcmp(a, "RS256") != 0 &&
	    strcmp(a, "ES256") != 0) {
		conf_err(err, errsz, "[auth] signing_alg: HS256, RS256 or ES256");
		return -1;
	}
	if (strcmp(a, "HS256") != 0 && *c->auth_signing_key == '\0') {
		conf_err(err, errsz, "[auth] signing_alg %s needs signing_key_file",
		    a);
		return -1;
	}
	if (strcmp(c->relay_trim, "none") != 0 &&
	    strcmp(c->relay_trim, "maxlen") != 0 &&
	    strcmp(c->relay_trim, "minid") != 0) {
		conf_err(err, errsz, "[relay] trim: none, maxlen or minid");
		return -1;
	}
	if (strcmp(c->sf_auth_flow, "client_credentials") != 0 &&
	    strcmp(c->sf_auth_flow, "jwt_bearer") != 0) {
		conf_err(err, errsz, "[salesforce] auth_flow: "
		    "client_credentials or jwt_bearer");
		return -1;
	}
	if (*c->auth_hs256_secret != '\0' && strlen(c->auth_hs256_secret) < 32) {
		conf_err(err, errsz, "[auth] hs256_secret: at least 32 bytes");
		return -1;
	}
	return 0;
}

void
conf_clear(struct conf *c)
{
	size_t	 i;
	char	**sp;

	for (i = 0; i < CONF_NKEYS; i++) {
		if (conf_keys[i].type != CONF_STR)
			continue;
		sp = (char **)(void *)((char *)c + conf_keys[i].off);
		if (*sp != NULL && conf_keys[i].secret)
			explicit_bzero(*sp, strlen(*sp));
		free(*sp);
		*sp = NULL;
	}
}

void
conf_write_sample(FILE *f)
{
	const char	*sect = "";
	size_t		 i;

	fprintf(f, "# Rolodex configuration (default path: /etc/rolodex/"
	    "rolodex.conf,\n# or the file named by ROLODEX_CONF or -f).\n"
	    "# <pkgdatadir> is where make install puts shared data.\n"
	    "# Every key can be overridden by ROLODEX_<SECTION>_<KEY> in the\n"
	    "# environment; a secret key k can be read from a file with k_file\n"
	    "# (or ROLODEX_<SECTION>_<K>_FILE); such files must not be\n"
	    "# readable by other users.\n");
	for (i = 0; i < CONF_NKEYS; i++) {
		if (strcmp(sect, conf_keys[i].section) != 0) {
			sect = conf_keys[i].section;
			fprintf(f, "\n[%s]\n", sect);
		}
		fprintf(f, "# %s\n", conf_keys[i].help);
		if (conf_keys[i].secret)
			fprintf(f, "# secret: give it as %s_file = PATH\n"
			    "#%s_file = /etc/rolodex/%s.secret\n",
			    conf_keys[i].key, conf_keys[i].key,
			    conf_keys[i].key);
		else if (strncmp(conf_keys[i].def, PKGDATADIR,
		    strlen(PKGDATADIR)) == 0)
			/* Install paths vary; keep the sample stable. */
			fprintf(f, "#%s = <pkgdatadir>%s\n", conf_keys[i].key,
			    conf_keys[i].def + strlen(PKGDATADIR));
		else
			fprintf(f, "#%s = %s\n", conf_keys[i].key,
			    conf_keys[i].def);
	}
}
