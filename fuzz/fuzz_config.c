/* fuzz_config.c - rv_config_parse on arbitrary bytes.  Besides not crashing
 * or leaking: a config that loads must write (`config show`) to YAML that
 * loads again and writes the same text, and a set secret must be written
 * as "[redacted]". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_redacted(const char *out, const char *key, const char *value)
{
	char want[128];

	snprintf(want, sizeof(want), "\n    %s: %s\n", key, value ? "\"[redacted]\"" : "null");
	if (!strstr(out, want))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rv_config *a = NULL, *b = NULL;
	struct rv_buf out1 = RV_BUF_INIT(1u << 20), out2 = RV_BUF_INIT(1u << 20);

	if (rv_config_parse(&a, "fuzz.yml", (const char *)data, size))
		return 0;
	if (rv_config_write(a, &out1))
		abort();
	check_redacted(rv_buf_str(&out1), "secret_access_key",
		       a->store.credentials.secret_access_key);
	check_redacted(rv_buf_str(&out1), "session_token", a->store.credentials.session_token);
	if (rv_config_parse(&b, "fuzz.yml", out1.data, out1.len))
		abort();
	if (rv_config_write(b, &out2) || strcmp(rv_buf_str(&out1), rv_buf_str(&out2)))
		abort();
	rv_buf_release(&out1);
	rv_buf_release(&out2);
	rv_config_free(a);
	rv_config_free(b);
	return 0;
}
