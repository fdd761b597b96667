/*
 * Rolodex - opaque list cursors (see cursor.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "util.h"

#define CURSOR_V1	1

char *
cursor_encode(const struct uuid *after)
{
	unsigned char	 raw[17];

	raw[0] = CURSOR_V1;
	memcpy(raw + 1, after->b, 16);
	return b64url_encode(raw, sizeof(raw));
}

int
cursor_decode(const char *s, struct uuid *after)
{
	unsigned char	*raw;
	size_t		 len;
	int		 rc = -1;

	if (strlen(s) > 64 || (raw = b64url_decode(s, strlen(s), &len)) == NULL)
		return -1;
	if (len == 17 && raw[0] == CURSOR_V1) {
		memcpy(after->b, raw + 1, 16);
		rc = 0;
	}
	free(raw);
	return rc;
}
