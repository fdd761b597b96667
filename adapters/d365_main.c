/*
 * Rolodex - rolodex-adapter-d365: replicates parties into
 * Dynamics 365 / Dataverse (d365.c) through the consumer core (adapter.c).
 */
#include "config.h"

#include <stdlib.h>

#include "adapter.h"
#include "d365.h"
#include "xalloc.h"

static void *
d365_new(const struct conf *c, char *err, size_t errsz)
{
	struct d365	*s = xmalloc(sizeof(*s));

	if (d365_init(s, c, err, errsz) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

static void
d365_free(void *ctx)
{
	d365_clear(ctx);
	free(ctx);
}

static struct http_client *
d365_http(void *ctx)
{
	return &((struct d365 *)ctx)->http;
}

static const struct adapter_prog d365_prog = {
	"rolodex-adapter-d365", "d365", d365_new, d365_free, d365_run,
	d365_http
};

int
main(int argc, char *argv[])
{
	return adapter_main(argc, argv, &d365_prog);
}
