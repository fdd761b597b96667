/*
 * Rolodex - salted slow hashes for user passwords and API client secrets.
 *
 * Hashes are scrypt (RFC 7914) in a self-describing string,
 * "$scrypt$ln=15,r=8,p=1$<salt>$<key>" with base64url salt (16 random
 * bytes) and key (32 bytes), so the cost can rise later without breaking
 * stored hashes.  Comparison is constant-time.  Passwords and derived keys
 * are never logged and are wiped from our buffers after use.
 */
#ifndef ROLODEX_AUTH_PW_H
#define ROLODEX_AUTH_PW_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_PW_MAX	4096	/* bytes of a password we will hash */

/*
 * Hashes password with a fresh random salt at the current cost.  Returns
 * a new string (free()), or NULL (logged) if password is NULL or longer
 * than AUTH_PW_MAX or the RNG or scrypt fails.
 */
char	*auth_pw_hash(const char *password);

/*
 * Whether password matches stored, a string from auth_pw_hash().  The
 * cost is read from stored and must lie in ln 10..20, r 1..16, p 1..4 with
 * at most 1 GiB of scrypt memory.  false on a mismatch and on any
 * malformed input.
 */
bool	 auth_pw_verify(const char *password, const char *stored);

/*
 * Returns a new base64url string of nbytes (1..1024) random bytes, for
 * client secrets and ids (free()), or NULL (logged) on bad nbytes or an
 * RNG failure.
 */
char	*auth_random_token(size_t nbytes);

/*
 * Sets log2 of the scrypt N parameter used by later auth_pw_hash() calls
 * (clamped to 10..20; default 15).  For tests, which set 10.
 */
void	 auth_pw_set_cost(int ln);

#endif
