/*
 * Rolodex - configuration.
 *
 * One table of keys (conf.c) drives everything: the INI parser, the
 * ROLODEX_<SECTION>_<KEY> environment overrides, the "<key>_file" secret
 * indirection and the sample file test.  Order of precedence, lowest
 * first: built-in default, file, environment, secret file.  Unknown
 * sections and keys are errors reported with file:line.
 */
#ifndef ROLODEX_CONF_H
#define ROLODEX_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONF_DEFAULT_PATH	"/etc/rolodex/rolodex.conf"

/* The HS256 secret of sandbox mode; refused when sandbox is off. */
#define CONF_SANDBOX_SECRET	"rolodex-sandbox-secret-never-use-in-production"

struct conf {
	/* [database] */
	char	*db_host;
	int64_t	 db_port;
	char	*db_socket;
	char	*db_name;
	char	*db_user;
	char	*db_password;		/* secret */
	char	*db_migrate_user;
	char	*db_migrate_password;	/* secret */
	int64_t	 db_connect_timeout;
	int64_t	 db_rw_timeout;

	/* [api] */
	char	*api_listen;
	int64_t	 api_workers;
	int64_t	 api_body_limit;
	int64_t	 api_page_default;
	int64_t	 api_retry_after;
	int64_t	 api_max_requests;
	int64_t	 api_idem_ttl;
	char	*api_openapi_file;
	char	*api_explorer_file;

	/* [auth] */
	char	*auth_issuer;
	char	*auth_audience;
	int64_t	 auth_token_ttl;
	int64_t	 auth_leeway;
	char	*auth_hs256_secret;	/* secret */
	char	*auth_signing_alg;
	char	*auth_signing_key;	/* secret (PEM) */
	char	*auth_signing_kid;
	char	*auth_public_keys;
	char	*auth_jwks_file;
	int64_t	 auth_fail_delay_ms;
	int64_t	 auth_fail_window;
	bool	 auth_sandbox;

	/* [events] */
	char	*ev_source;

	/* [redis] */
	char	*redis_host;
	int64_t	 redis_port;
	char	*redis_password;	/* secret */
	int64_t	 redis_timeout_ms;
	char	*redis_stream;
	char	*redis_feedback_stream;
	int64_t	 redis_partitions;

	/* [relay] */
	int64_t	 relay_batch;
	int64_t	 relay_idle_ms;
	int64_t	 relay_retention;
	char	*relay_trim;
	int64_t	 relay_trim_maxlen;
	int64_t	 relay_trim_minid_age;
	int64_t	 relay_lease;

	/* [adapter]: shared by both adapters */
	int64_t	 adapter_batch;
	int64_t	 adapter_block_ms;
	int64_t	 adapter_max_deliveries;
	int64_t	 adapter_claim_idle_ms;
	int64_t	 adapter_backoff_base_ms;
	int64_t	 adapter_backoff_max_ms;
	char	*adapter_dlq_prefix;
	char	*adapter_start_id;
	int64_t	 adapter_http_timeout_ms;
	int64_t	 adapter_max_response;
	bool	 adapter_allow_http;

	/* [salesforce] */
	char	*sf_auth_flow;
	char	*sf_login_url;
	char	*sf_instance_url;
	char	*sf_api_version;
	char	*sf_client_id;
	char	*sf_client_secret;	/* secret */
	char	*sf_username;
	char	*sf_jwt_key;		/* secret (PEM) */
	char	*sf_jwt_audience;
	char	*sf_external_id_field;
	char	*sf_contact_fields;
	char	*sf_account_fields;

	/* [d365] */
	char	*d365_token_url;
	char	*d365_client_id;
	char	*d365_client_secret;	/* secret */
	char	*d365_url;
	char	*d365_scope;
	char	*d365_api_version;
	char	*d365_contact_set;
	char	*d365_account_set;
	char	*d365_alternate_key;
	bool	 d365_use_batch;
	char	*d365_contact_fields;
	char	*d365_account_fields;

	/* [log] */
	char	*log_file;
	bool	 log_verbose;

	/* [migrate] */
	char	*sql_dir;
};

/*
 * Fill c with defaults, then read path (NULL: ROLODEX_CONF or the default
 * path; a missing default file is not an error), then the environment,
 * then secret files.  Returns 0, or -1 with a message in err[errsz].
 * Release with conf_clear().
 */
int	 conf_load(struct conf *c, const char *path, char *err, size_t errsz);

/* Cross-field checks (e.g. a signing key for the chosen algorithm). */
int	 conf_check(const struct conf *c, char *err, size_t errsz);

void	 conf_clear(struct conf *c);

/* Write a commented sample configuration built from the key table. */
void	 conf_write_sample(FILE *);

#endif
