/*
 * Rolodex - form-urlencoded parsing (see query.h).
 *
 * Invariants: no output byte is read from outside the input's length; a
 * percent escape needs two hex digits inside the component; the decoded
 * text is checked for NUL bytes and UTF-8 before it is returned.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "util.h"
#include "valid.h"
#include "xalloc.h"

char *
form_decode(const char *s, size_t len)
{
	char	*out = xmalloc(len + 1);
	size_t	 i, o = 0;
	int	 hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] != '%')
			out[o++] = s[i];
		else if (i + 2 < len && (hi = hex_digit(s[i + 1])) >= 0 &&
		    (lo = hex_digit(s[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	if (memchr(out, '\0', o) != NULL || !valid_utf8(out, o)) {
		free(out);
		return NULL;
	}
	return out;
}

int
form_parse(const char *qs, struct qparam *q, size_t *nq, size_t max,
    const char **why)
{
	const char	*p = qs, *amp, *eq;
	size_t		 len;

	while (*p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 0) {
			if (*nq == max) {
				*why = "too many parameters";
				return -1;
			}
			eq = memchr(p, '=', len);
			q[*nq].key = form_decode(p, eq != NULL ?
			    (size_t)(eq - p) : len);
			q[*nq].val = eq != NULL ? form_decode(eq + 1,
			    len - (size_t)(eq - p) - 1) : xstrdup("");
			(*nq)++;
			if (q[*nq - 1].key == NULL || q[*nq - 1].val == NULL) {
				*why = "malformed percent-encoding";
				return -1;
			}
		}
		p += len + (amp != NULL);
	}
	return 0;
}

void
qparam_free(struct qparam *q, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free(q[i].key);
		free(q[i].val);
		q[i].key = q[i].val = NULL;
	}
}
