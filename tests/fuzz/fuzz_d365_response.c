/*
 * Fuzz target: the Dataverse adapter's parsing of Dataverse replies.
 *
 * The input is a $batch response: its first line is the Content-Type
 * (the boundary comes from it), the rest the body; both are untrusted.
 * Every part found goes through d365_parse_error() and
 * d365_entity_guid() as the adapter does with them; the whole body also
 * goes through d365_parse_error() as a plain OData error.  Invariants:
 * no crash, no leak, part bodies NUL-terminated at their length.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "d365.h"
#include "log.h"
#include "xalloc.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nl = memchr(data, '\n', size);
	struct d365_part *parts = NULL;
	char		*ctype, *body, code[64], msg[256], guid[37];
	size_t		 clen = nl != NULL ? (size_t)(nl - data) : 0;
	size_t		 boff = nl != NULL ? clen + 1 : 0, n = 0, i;
	bool		 throttled;

	ctype = xstrndup((const char *)data, clen);
	/* As the HTTP client hands it: len bytes (NULs allowed) + NUL. */
	body = xmalloc(size - boff + 1);
	memcpy(body, data + boff, size - boff);
	body[size - boff] = '\0';
	if (d365_batch_parse(ctype, body, size - boff, &parts, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (parts[i].body != NULL &&
			    parts[i].body[parts[i].len] != '\0')
				abort();
			if (parts[i].body != NULL)
				(void)d365_parse_error(parts[i].body,
				    parts[i].len, code, sizeof(code), msg,
				    sizeof(msg));
			(void)d365_entity_guid(parts[i].entity_id, guid);
			(void)d365_classify(parts[i].status, &throttled);
		}
		d365_parts_free(parts, n);
	}
	(void)d365_parse_error(body, size - boff, code, sizeof(code), msg,
	    sizeof(msg));
	if (memchr(code, '\0', sizeof(code)) == NULL ||
	    memchr(msg, '\0', sizeof(msg)) == NULL)
		abort();
	free(body);
	free(ctype);
	return 0;
}
