/*
 * Rolodex - small string and number helpers shared by every program.
 *
 * glibc 2.36 has neither strlcpy nor strtonum; these fill the gap with
 * bounded, checked versions.  Nothing here allocates unless it says so.
 */
#ifndef ROLODEX_UTIL_H
#define ROLODEX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parse a whole decimal string into [min, max]; 0 ok, -1 otherwise. */
int	 parse_int64(const char *, int64_t min, int64_t max, int64_t *out);

/* Copy with truncation check: 0 if it fit, -1 if truncated. */
int	 str_copy(char *dst, size_t dsz, const char *src);

/*
 * base64url (RFC 4648 section 5, no padding on output; padding accepted
 * on input).  Encode returns a new string (free()).  Decode returns a new
 * buffer with *outlen set, or NULL on malformed input.
 */
char	*b64url_encode(const void *, size_t);
unsigned char *b64url_decode(const char *, size_t, size_t *outlen);

/* Value of one hex digit (either case), or -1. */
int	 hex_digit(int c);

/* Lower-case hex of len bytes into dst (2*len+1 bytes). */
void	 hex_encode(char *dst, const void *, size_t len);

/* Constant-time comparison of two equal-length buffers. */
bool	 ct_equal(const void *, const void *, size_t);

/* Current time as RFC 3339 UTC with microseconds into dst[32]. */
void	 time_rfc3339_now(char dst[32]);

/* Monotonic milliseconds, for timeouts and backoff. */
int64_t	 time_mono_ms(void);

/* Sleep ms milliseconds, resuming after signals unless *stop is set. */
void	 sleep_ms(int64_t ms, volatile int *stop);

/* Read a whole small file (at most max bytes) into a new NUL-terminated
 * buffer; trailing newlines are stripped.  NULL with errno on failure. */
char	*file_read(const char *path, size_t max, size_t *lenp);

#endif
