/* replay.c - run a fuzz target's corpus without libFuzzer.
 *
 * Linked with one fuzz_*.c into replay_<target>; CTest runs it on
 * fuzz/corpus/<target>/ in every build (gcc included), so the corpora and
 * every crasher ever found stay tested.  Arguments are files or folders
 * (one level).  Fails when nothing was run, so an emptied corpus is noticed. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/mem.h"
#include "core/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX_INPUT (1u << 20)

static int run_file(const char *path)
{
	char *data = NULL;
	size_t len = 0;

	if (rv_read_file(path, REPLAY_MAX_INPUT, &data, &len)) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return -1;
	}
	/* A private copy, so that reads past `len` are caught by ASan. */
	{
		uint8_t *copy = rv_malloc(len ? len : 1);
		memcpy(copy, data, len);
		free(data);
		/* Said before the call, so a crash names its input. */
		fprintf(stderr, "replay: %s (%zu bytes)\n", path, len);
		LLVMFuzzerTestOneInput(copy, len);
		free(copy);
	}
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open folder '%s'\n", dir);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			names = rv_realloc(names, cap * sizeof(*names));
		}
		names[n++] = rv_strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char *path = rv_asprintf("%s/%s", dir, names[i]);
		struct stat st;

		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path))
				rc = -1;
			else
				(*count)++;
		}
		free(path);
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	size_t count = 0;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) == -1) {
			fprintf(stderr, "replay: no such file or folder '%s'\n", argv[i]);
			return 1;
		}
		if (S_ISDIR(st.st_mode))
			rc |= run_dir(argv[i], &count);
		else if (run_file(argv[i]) == 0)
			count++;
		else
			rc = -1;
	}
	printf("replay: %zu inputs run\n", count);
	if (count == 0) {
		fprintf(stderr, "replay: no inputs (empty corpus?)\n");
		return 1;
	}
	return rc ? 1 : 0;
}
