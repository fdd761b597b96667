/*
 * Rolodex - Redis connection handling (see redis.h).
 */
#include "config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "redis.h"
#include "util.h"

#define BACKOFF_BASE_MS		100
#define BACKOFF_MAX_MS		5000

void
redis_init(struct redis *r, const struct conf *c)
{
	memset(r, 0, sizeof(*r));
	r->conf = c;
}

void
redis_close(struct redis *r)
{
	if (r->c != NULL)
		redisFree(r->c);
	r->c = NULL;
}

/* Note a failure and drop the dead context. */
static void
redis_fail(struct redis *r, const char *what)
{
	if (r->fails++ == 0 || r->fails % 50 == 0)
		log_warnx("redis: %s: %s", what, r->c != NULL && r->c->err ?
		    r->c->errstr : "failed");
	redis_close(r);
}

int
redis_ensure(struct redis *r)
{
	const struct conf	*c = r->conf;
	struct timeval		 tv;
	redisReply		*rep;

	if (r->c != NULL)
		return 0;
	tv.tv_sec = c->redis_timeout_ms / 1000;
	tv.tv_usec = (c->redis_timeout_ms % 1000) * 1000;
	r->c = redisConnectWithTimeout(c->redis_host, (int)c->redis_port, tv);
	if (r->c == NULL || r->c->err) {
		redis_fail(r, "connect");
		return -1;
	}
	if (redisSetTimeout(r->c, tv) != REDIS_OK) {
		redis_fail(r, "set timeout");
		return -1;
	}
	if (*c->redis_password != '\0') {
		rep = redisCommand(r->c, "AUTH %s", c->redis_password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			/* Never log the password or the reply to it. */
			if (rep != NULL)
				freeReplyObject(rep);
			redis_fail(r, "AUTH");
			return -1;
		}
		freeReplyObject(rep);
	}
	if (r->fails > 0)
		log_info("redis: connected after %lld failures",
		    (long long)r->fails);
	r->fails = 0;
	r->connects++;
	return 0;
}

redisReply *
redis_cmd(struct redis *r, int argc, const char **argv, const size_t *lens)
{
	redisReply	*rep;

	if (redis_ensure(r) == -1)
		return NULL;
	rep = redisCommandArgv(r->c, argc, argv, lens);
	if (rep == NULL) {
		redis_fail(r, argv[0]);
		return NULL;
	}
	return rep;
}

redisReply *
redis_cmdf(struct redis *r, const char *fmt, ...)
{
	redisReply	*rep;
	va_list		 ap;

	if (redis_ensure(r) == -1)
		return NULL;
	va_start(ap, fmt);
	rep = redisvCommand(r->c, fmt, ap);
	va_end(ap);
	if (rep == NULL) {
		redis_fail(r, "command");
		return NULL;
	}
	return rep;
}

int
redis_append(struct redis *r, int argc, const char **argv,
    const size_t *lens)
{
	if (redis_ensure(r) == -1)
		return -1;
	if (redisAppendCommandArgv(r->c, argc, argv, lens) != REDIS_OK) {
		redis_fail(r, "append");
		return -1;
	}
	return 0;
}

int
redis_read_replies(struct redis *r, redisReply **replies, size_t n)
{
	void	*rep;
	size_t	 i, j;

	for (i = 0; i < n; i++) {
		if (r->c == NULL || redisGetReply(r->c, &rep) != REDIS_OK ||
		    rep == NULL) {
			for (j = 0; j < i; j++)
				freeReplyObject(replies[j]);
			redis_fail(r, "read reply");
			return -1;
		}
		replies[i] = rep;
	}
	return 0;
}

void
redis_backoff(struct redis *r, volatile int *stop)
{
	int64_t	 ms = BACKOFF_BASE_MS;
	int64_t	 i;

	for (i = 1; i < r->fails && ms < BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > BACKOFF_MAX_MS)
		ms = BACKOFF_MAX_MS;
	sleep_ms(ms, stop);
}

bool
redis_is_error(const redisReply *r, const char *prefix)
{
	return r != NULL && r->type == REDIS_REPLY_ERROR && r->str != NULL &&
	    strncmp(r->str, prefix, strlen(prefix)) == 0;
}
