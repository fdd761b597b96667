/*
 * Rolodex - rolodex-adapter-salesforce: replicates parties into
 * Salesforce (sf.c) through the consumer core (adapter.c).
 */
#include "config.h"

#include <stdlib.h>

#include "adapter.h"
#include "sf.h"
#include "xalloc.h"

static void *
sf_new(const struct conf *c, char *err, size_t errsz)
{
	struct sf	*s = xmalloc(sizeof(*s));

	if (sf_init(s, c, err, errsz) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

static void
sf_free(void *ctx)
{
	sf_clear(ctx);
	free(ctx);
}

static struct http_client *
sf_http(void *ctx)
{
	return &((struct sf *)ctx)->http;
}

static const struct adapter_prog sf_prog = {
	"rolodex-adapter-salesforce", "salesforce", sf_new, sf_free, sf_run,
	sf_http
};

int
main(int argc, char *argv[])
{
	return adapter_main(argc, argv, &sf_prog);
}
