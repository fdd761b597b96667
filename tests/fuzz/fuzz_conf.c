/*
 * Fuzz target: the configuration file parser.
 *
 * The input is a configuration file.  It is written to an anonymous
 * memory file and loaded through conf_load() by its /proc/self/fd path,
 * exactly as a file on disk (the INI parser, the key table's bounds, the
 * "<key>_file" secret indirection, conf_check()).  Invariants: no crash
 * or leak; a refused file always comes with a message; an accepted one
 * has every string key set.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	 memfd = -1;
static char	 path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz", 0);
	if ((memfd = memfd_create("fuzz-conf", MFD_CLOEXEC)) == -1)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf	 c;
	char		 err[512];

	if (ftruncate(memfd, 0) == -1 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size)
		abort();
	err[0] = '\0';
	if (conf_load(&c, path, err, sizeof(err)) == -1) {
		if (err[0] == '\0')
			abort();
	} else if (c.db_host == NULL || c.auth_issuer == NULL ||
	    c.redis_stream == NULL || c.sql_dir == NULL)
		abort();
	conf_clear(&c);
	return 0;
}
