/* testutil.h - helpers the unit tests share: removing a temp tree, a file
 * store in a folder, an environment free of the caller's AWS settings and
 * one credentials lookup through a fresh provider.
 * Include it after <cmocka.h> as "../testutil.h". */
#ifndef RV_TESTUTIL_H
#define RV_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "aws/creds.h"
#include "core/mem.h"
#include "store/store.h"

static inline int rv_test_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(p);
}

/* rm -rf `dir`, without following symlinks; 0 or -1. */
static inline int rv_test_rm_rf(const char *dir)
{
	return nftw(dir, rv_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A file:// store rooted at `dir`, fsync off: durability is the crash
 * tests' job, and fsync makes the unit tests slow. */
static inline int rv_test_open_file_store(const char *dir, struct rv_store **out)
{
	struct rv_store_opts o;
	char *url = rv_asprintf("file://%s", dir);
	int rc;

	rv_store_opts_default(&o);
	o.fsync = false;
	rc = rv_store_open(out, url, &o);
	free(url);
	return rc;
}

/* Unset every AWS_* variable the credential chain reads, make a fresh
 * temp dir from `tmpl` into `dir` (size n) as HOME, and keep IMDS off, so
 * a test sees neither the developer's nor the CI's AWS settings. */
static inline int rv_test_aws_sandbox(char *dir, size_t n, const char *tmpl)
{
	static const char *const aws_vars[] = {
	    "AWS_ACCESS_KEY_ID",
	    "AWS_SECRET_ACCESS_KEY",
	    "AWS_SESSION_TOKEN",
	    "AWS_PROFILE",
	    "AWS_SHARED_CREDENTIALS_FILE",
	    "AWS_CONFIG_FILE",
	    "AWS_ROLE_ARN",
	    "AWS_WEB_IDENTITY_TOKEN_FILE",
	    "AWS_ROLE_SESSION_NAME",
	    "AWS_REGION",
	    "AWS_DEFAULT_REGION",
	    "AWS_ENDPOINT_URL",
	    "AWS_ENDPOINT_URL_STS",
	    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
	    "AWS_EC2_METADATA_DISABLED",
	    NULL,
	};

	for (int i = 0; aws_vars[i]; i++)
		unsetenv(aws_vars[i]);
	snprintf(dir, n, "%s", tmpl);
	if (!mkdtemp(dir))
		return -1;
	setenv("HOME", dir, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	return 0;
}

/* Credentials from a fresh provider for `cfg`: no cache carried over
 * between the cases of a test. */
static inline int rv_test_creds_get(const struct rv_creds_config *cfg, struct rv_aws_creds *c)
{
	struct rv_creds_provider *p;
	int rc = rv_creds_provider_new(&p, cfg);

	if (rc)
		return rc;
	rc = rv_creds_get(p, c);
	rv_creds_provider_free(p);
	return rc;
}

#endif
