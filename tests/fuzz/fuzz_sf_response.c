/*
 * Fuzz target: the Salesforce adapter's parsing of Salesforce replies.
 *
 * A Salesforce endpoint (or anything on the path to it) is untrusted:
 * its bodies go through sf_parse_results() (an sObject Collections
 * reply for n records, n taken from the first input byte, 0..200) and
 * sf_parse_error() (a REST or OAuth error body), and the parsed code
 * through sf_classify() with the usual statuses.  Invariants: no crash,
 * no leak, NUL-terminated outputs within their buffers.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sf.h"
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

/* Whether a fixed-size string field holds its terminator. */
static bool
terminated(const char *s, size_t sz)
{
	return memchr(s, '\0', sz) != NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long	 status[] = { 200, 400, 401, 403, 404, 429,
				    500, 503 };
	struct sf_result	*res;
	char			*body, code[64], msg[256];
	size_t			 n, i;
	bool			 throttled;

	if (size == 0)
		return 0;
	n = data[0] % (SF_COLLECTION_MAX + 1);
	/* The HTTP client hands a NUL-terminated body with its length. */
	body = xmalloc(size);
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	res = xcalloc(n > 0 ? n : 1, sizeof(*res));
	if (sf_parse_results(body, size - 1, res, n) == 0)
		for (i = 0; i < n; i++)
			if (!terminated(res[i].id, sizeof(res[i].id)) ||
			    !terminated(res[i].code, sizeof(res[i].code)) ||
			    !terminated(res[i].msg, sizeof(res[i].msg)))
				abort();
	free(res);
	code[0] = msg[0] = '\0';
	(void)sf_parse_error(body, size - 1, code, sizeof(code), msg,
	    sizeof(msg));
	if (!terminated(code, sizeof(code)) || !terminated(msg, sizeof(msg)))
		abort();
	for (i = 0; i < sizeof(status) / sizeof(status[0]); i++)
		(void)sf_classify(status[i], code, &throttled);
	free(body);
	return 0;
}
