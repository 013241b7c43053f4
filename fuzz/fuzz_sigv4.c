/* fuzz_sigv4.c - rv_sigv4_sign on requests built from the input.
 *
 * Input lines: method, path, query, a flags line (each byte's low bits pick
 * s3 / normalize / session token / omit token / sign content / unsigned
 * payload), then "Name:value" header lines up to an empty line; the rest is
 * the body.  Besides not crashing or leaking, a successful signature must
 * be well formed, reproducible, and the canonical query must be a fixed
 * point (signing it again gives the same canonical query). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/sigv4.h"
#include "core/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HDRS 24

static char *next_line(const char **p, const char *end)
{
	const char *s = *p, *nl;

	if (s >= end)
		return rv_strdup("");
	nl = memchr(s, '\n', (size_t)(end - s));
	*p = nl ? nl + 1 : end;
	return rv_strndup(s, nl ? (size_t)(nl - s) : (size_t)(end - s));
}

/* The third line of a canonical request is the canonical query. */
static char *cr_query(const char *cr)
{
	const char *a = strchr(cr, '\n'), *b = a ? strchr(a + 1, '\n') : NULL, *c;

	if (!b)
		abort();
	c = strchr(b + 1, '\n');
	if (!c)
		abort();
	return rv_strndup(b + 1, (size_t)(c - b - 1));
}

static void check_out(const struct rv_sigv4_out *o, const struct rv_sigv4_req *req, bool s3)
{
	size_t ml = strlen(req->method);

	if (strlen(o->signature) != 64 || strspn(o->signature, "0123456789abcdef") != 64)
		abort();
	if (!strstr(o->authorization, o->signature) || strlen(o->amz_date) != 16)
		abort();
	if (strncmp(o->canonical_request, req->method, ml) || o->canonical_request[ml] != '\n')
		abort();
	if (s3 != (o->content_sha256 != NULL))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *method = next_line(&p, end), *path = next_line(&p, end), *query = next_line(&p, end);
	char *flags = next_line(&p, end), *lines[MAX_HDRS] = {0};
	struct rv_header hs[MAX_HDRS];
	struct rv_sigv4_req req = {0};
	struct rv_sigv4_params prm = {"us-east-1", "s3", 1715938212, false, false, false, false};
	struct rv_aws_key key = {"TESTKEYID-NOT-A-REAL-KEY", "test-secret-not-a-real-secret", NULL};
	struct rv_sigv4_out o1, o2;
	size_t nh = 0;
	unsigned f = 0;

	for (const char *c = flags; *c; c++)
		f ^= (unsigned char)*c;
	prm.s3 = f & 1;
	prm.normalize_path = f & 2;
	key.session_token = (f & 4) ? "test-token/not-real+==" : NULL;
	prm.omit_session_token = f & 8;
	prm.sign_content_sha256 = f & 16;
	while (p < end && nh < MAX_HDRS) {
		char *l = next_line(&p, end), *colon = strchr(l, ':');
		if (!*l || !colon) {
			free(l);
			break;
		}
		*colon = '\0';
		lines[nh] = l;
		hs[nh].name = l;
		hs[nh].value = colon + 1;
		nh++;
	}
	req.method = method;
	req.path = path;
	req.query = *query ? query : NULL;
	req.headers = hs;
	req.nheaders = nh;
	req.payload_hash = (f & 32) ? "UNSIGNED-PAYLOAD" : NULL;
	req.body = p < end ? p : NULL;
	req.body_len = p < end ? (size_t)(end - p) : 0;

	if (rv_sigv4_sign(&o1, &req, &prm, &key) == 0) {
		char *q1 = cr_query(o1.canonical_request), *q2;
		check_out(&o1, &req, prm.s3 || prm.sign_content_sha256);
		if (rv_sigv4_sign(&o2, &req, &prm, &key) != 0 ||
		    strcmp(o1.authorization, o2.authorization))
			abort();
		rv_sigv4_out_release(&o2);
		/* Encoding can triple the length past the signer's 16 KiB query cap. */
		if (strlen(q1) <= 16 * 1024) {
			req.query = q1;
			if (rv_sigv4_sign(&o2, &req, &prm, &key) != 0)
				abort();
			q2 = cr_query(o2.canonical_request);
			if (strcmp(q1, q2))
				abort();
			free(q2);
			rv_sigv4_out_release(&o2);
		}
		free(q1);
	}
	rv_sigv4_out_release(&o1);

	{
		static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					   "0123456789-_.~%/";
		bool keep_slash = size & 1;
		struct rv_buf b = RV_BUF_INIT(3 * size + 16);

		if (rv_aws_uri_encode(&b, (const char *)data, size, keep_slash) || b.len < size ||
		    strspn(rv_buf_str(&b), safe) != b.len ||
		    (!keep_slash && memchr(rv_buf_str(&b), '/', b.len)))
			abort();
		rv_buf_release(&b);
	}
	for (size_t i = 0; i < nh; i++)
		free(lines[i]);
	free(method);
	free(path);
	free(query);
	free(flags);
	return 0;
}
