/*
 * Rolodex - UUIDv7 identifiers (see uuid.h).
 *
 * Within one process, ids generated in the same millisecond stay ordered:
 * the 12-bit rand_a field is used as a counter seeded randomly each
 * millisecond (RFC 9562 section 6.2, method 1).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "log.h"
#include "util.h"
#include "uuid.h"

void
uuid_v7(struct uuid *u)
{
	static unsigned long long	 last_ms;
	static unsigned			 counter;
	struct timespec			 ts;
	unsigned long long		 ms;

	if (RAND_bytes(u->b, sizeof(u->b)) != 1) {
		log_warnx("%s: RAND_bytes failed", __func__);
		abort();
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (unsigned long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (ms > last_ms || ++counter > 0xfff) {
		/* A new millisecond (or an exhausted one): reseed, leaving
		 * headroom so the counter rarely overflows. */
		last_ms = ms > last_ms ? ms : last_ms + 1;
		counter = (unsigned)(u->b[6] & 0x07) << 8 | u->b[7];
	}
	ms = last_ms;
	u->b[0] = (unsigned char)(ms >> 40);
	u->b[1] = (unsigned char)(ms >> 32);
	u->b[2] = (unsigned char)(ms >> 24);
	u->b[3] = (unsigned char)(ms >> 16);
	u->b[4] = (unsigned char)(ms >> 8);
	u->b[5] = (unsigned char)ms;
	u->b[6] = (unsigned char)(0x70 | (counter >> 8 & 0x0f));
	u->b[7] = (unsigned char)(counter & 0xff);
	u->b[8] = (unsigned char)(0x80 | (u->b[8] & 0x3f));
}

void
uuid_fmt(const struct uuid *u, char *dst)
{
	static const char	 hex[] = "0123456789abcdef";
	size_t			 i, o = 0;

	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			dst[o++] = '-';
		dst[o++] = hex[u->b[i] >> 4];
		dst[o++] = hex[u->b[i] & 15];
	}
	dst[o] = '\0';
}

int
uuid_parse(const char *s, struct uuid *u)
{
	size_t	 i, o = 0;
	int	 hi, lo;

	if (strlen(s) != UUID_STRLEN)
		return -1;
	for (i = 0; i < UUID_STRLEN; ) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i++] != '-')
				return -1;
			continue;
		}
		if ((hi = hex_digit(s[i])) < 0 || (lo = hex_digit(s[i + 1])) < 0)
			return -1;
		u->b[o++] = (unsigned char)(hi << 4 | lo);
		i += 2;
	}
	return 0;
}
