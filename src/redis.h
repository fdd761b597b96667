/*
 * Rolodex - a Redis connection for the daemons (hiredis 0.14).
 *
 * After any hiredis error the context is dead: redis_cmd() frees it and
 * returns NULL, and the next call reconnects (with the configured
 * timeout, and AUTH when a password is set).  Callers back off between
 * failures with redis_backoff().  Replies are owned by the caller:
 * freeReplyObject() on the top reply only.
 */
#ifndef ROLODEX_REDIS_H
#define ROLODEX_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

struct conf;

struct redis {
	redisContext		*c;
	const struct conf	*conf;		/* borrowed */
	int64_t			 fails;		/* consecutive failures */
	uint64_t		 connects;	/* successful (re)connects */
};

void		 redis_init(struct redis *, const struct conf *);
void		 redis_close(struct redis *);
/* Connect if needed; 0 ok, -1 (logged) when Redis is unreachable. */
int		 redis_ensure(struct redis *);

/*
 * Run one command given as argv (binary safe).  Returns the reply, or
 * NULL when the connection failed (it is closed; reconnect later).  A
 * Redis error reply (REDIS_REPLY_ERROR) is returned as a reply.
 */
redisReply	*redis_cmd(struct redis *, int argc, const char **argv,
		    const size_t *lens);
/* Printf-style convenience for commands without binary arguments. */
redisReply	*redis_cmdf(struct redis *, const char *fmt, ...);

/*
 * Pipelining: append n commands, then read n replies into replies[]
 * (each to be freed).  -1 when the connection failed (it is closed and
 * replies[] holds nothing).
 */
int		 redis_append(struct redis *, int argc, const char **argv,
		    const size_t *lens);
int		 redis_read_replies(struct redis *, redisReply **replies,
		    size_t n);

/* Sleep the backoff for the current failure count (capped), unless stop. */
void		 redis_backoff(struct redis *, volatile int *stop);

/* Whether r is an error reply starting with prefix ("NOGROUP"). */
bool		 redis_is_error(const redisReply *r, const char *prefix);

#endif
