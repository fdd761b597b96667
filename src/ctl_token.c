/*
 * Rolodex - rolodexctl token: mint a token for development and tests,
 * signed with the configured signing key, exactly as /auth/login would.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth_jwt.h"
#include "ctl.h"
#include "log.h"
#include "util.h"


int
ctl_token(struct ctl *c, int argc, char **argv)
{
	const struct conf	*cf = &c->conf;
	const char		*sub = ctl_opt(argc, argv, "--sub");
	const char		*roles = ctl_opt(argc, argv, "--role");
	const char		*ttls = ctl_opt(argc, argv, "--ttl");
	const char		*key;
	unsigned		 bits;
	int64_t			 ttl = cf->auth_token_ttl;
	char			*tok;

	if (sub == NULL || roles == NULL ||
	    auth_roles_parse(roles, &bits) == -1 ||
	    (ttls != NULL && parse_int64(ttls, 1, 86400 * 365, &ttl) == -1)) {
		fprintf(stderr, "usage: rolodexctl token --sub SUBJECT "
		    "--role reader|writer|admin [--ttl SECONDS]\n");
		return 2;
	}
	if (strcmp(cf->auth_signing_alg, "HS256") == 0)
		key = *cf->auth_hs256_secret != '\0' ? cf->auth_hs256_secret :
		    cf->auth_sandbox ? CONF_SANDBOX_SECRET : NULL;
	else
		key = cf->auth_signing_key;
	if (key == NULL || *key == '\0')
		fatalx("no signing key configured");
	tok = auth_jwt_mint(cf->auth_signing_alg, (const unsigned char *)key,
	    strlen(key), *cf->auth_signing_kid != '\0' ? cf->auth_signing_kid :
	    NULL, cf->auth_issuer, cf->auth_audience, sub, bits, ttl,
	    (int64_t)time(NULL));
	if (tok == NULL)
		fatalx("cannot mint a token");
	printf("%s\n", tok);
	free(tok);
	return 0;
}
