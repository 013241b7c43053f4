/* fuzz_store_url.c - rv_store_url_parse and rv_store_key_check on arbitrary
 * bytes.  Input: URL, optionally a NUL byte and then a key (without a NUL
 * the whole input is tried as both).  Besides not crashing or leaking, a URL
 * that parses must honour store.h's contract. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_url(const char *s)
{
	struct rv_store_url u;

	if (rv_store_url_parse(&u, s))
		return;
	if (u.kind == RV_STORE_FILE) {
		if (!u.path || u.path[0] != '/')
			abort();
	} else {
		size_t n;
		if (!u.bucket || !*u.bucket || !u.prefix)
			abort();
		n = strlen(u.prefix);
		/* "" or "a/b/": ends with '/', never starts with one, no empty
		 * segment (the parser refuses "//"). */
		if (n && (u.prefix[n - 1] != '/' || u.prefix[0] == '/' || strstr(u.prefix, "//")))
			abort();
	}
	rv_store_url_release(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t ulen = nul ? (size_t)(nul - data) : size;
	char *url = rv_strndup((const char *)data, ulen);
	char *key = nul ? rv_strndup((const char *)nul + 1, size - ulen - 1) : rv_strdup(url);

	check_url(url);
	(void)!rv_store_key_check(key);
	free(url);
	free(key);
	return 0;
}
