/*
 * Rolodex fuzz targets: a main() for builds without libFuzzer.
 *
 * Each tests/fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput (and may
 * define LLVMFuzzerInitialize).  Built with --enable-fuzz, libFuzzer
 * supplies main() and ROLODEX_FUZZING hides this one; in every other build
 * this main replays the files and directories named on the command line
 * through the target once each, so the seed corpora and the inputs of
 * past crashes run in every `make check` (under ASan/UBSan in a
 * --enable-sanitizers build, under valgrind if wanted).
 */
#ifndef ROLODEX_FUZZING
#include "config.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***) __attribute__((weak));

#define REPLAY_MAX	(4 * 1024 * 1024)

/* Run one file through the target; -1 if it cannot be read. */
static int
replay_file(const char *path)
{
	FILE		*f;
	unsigned char	*buf = malloc(REPLAY_MAX);
	size_t		 n;

	if (buf == NULL || (f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "replay: %s: cannot open\n", path);
		free(buf);
		return -1;
	}
	n = fread(buf, 1, REPLAY_MAX, f);
	fclose(f);
	/* An exact-size copy, so ASan sees reads past the input. */
	{
		unsigned char	*in = malloc(n > 0 ? n : 1);

		if (in == NULL)
			abort();
		memcpy(in, buf, n);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
	}
	free(buf);
	return 0;
}

/* Replay a file, or every regular file of a directory. */
static int
replay_path(const char *path, size_t *count)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 sub[4096];
	int		 rc = 0;

	if (stat(path, &st) == -1) {
		fprintf(stderr, "replay: %s: not found\n", path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) >=
		    (int)sizeof(sub) || replay_path(sub, count) == -1)
			rc = -1;
	}
	closedir(d);
	return rc;
}

int
main(int argc, char *argv[])
{
	size_t	 count = 0;
	int	 i, rc = 0;

	if (LLVMFuzzerInitialize != NULL)
		LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (argv[i][0] == '-')
			continue;	/* libFuzzer flags: ignored */
		if (replay_path(argv[i], &count) == -1)
			rc = 1;
	}
	printf("replayed %zu inputs\n", count);
	return rc;
}
#endif
