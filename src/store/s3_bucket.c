/* s3_bucket.c - `revenant bucket init`: create the bucket when missing (in
 * the right region), turn versioning on where the server supports it, and
 * with --object-lock set a default retention (S3 Object Lock). */
#include "store/s3_int.h"
#include "core/log.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

static const char versioning_unsupported[] =
    "the server does not support bucket versioning; old generations are kept "
    "only by revenant's own retention";

static int open_bucket_store(struct rv_store **out, const struct rv_store_url *url,
			     const struct rv_store_opts *opts)
{
	struct rv_store *s = rv_calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (opts)
		s->opts = *opts;
	else
		rv_store_opts_default(&s->opts);
	s->url.kind = RV_STORE_S3;
	s->url.bucket = rv_strdup(url->bucket);
	s->url.prefix = rv_strdup(url->prefix ? url->prefix : "");
	s->url.region = url->region ? rv_strdup(url->region) : NULL;
	s->url.endpoint = url->endpoint ? rv_strdup(url->endpoint) : NULL;
	s->url.path_style = url->path_style;
	s->describe = rv_asprintf("s3://%s", url->bucket);
	rc = rv_store_s3_open(s);
	if (rc) {
		rv_store_url_release(&s->url);
		free(s->describe);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int ensure_bucket(struct rv_store *s, const char *region, bool lock, bool *created)
{
	struct rv_s3_error err;
	long status = 0;
	char *body;
	int rc;

	*created = false;
	rc = rv_s3_bucket_call(s, "head-bucket", "HEAD", NULL, NULL, NULL, &status, &err);
	if (!rc)
		return 0;
	if (status != 404)
		return rc;
	rv_error_clear();
	body = rv_s3_create_bucket_body(region);
	/* Object Lock is asked for at creation (it turns versioning on too). */
	rc = rv_s3_bucket_call_hdr(s, "create-bucket", "PUT", NULL, body,
				   lock ? "x-amz-bucket-object-lock-enabled" : NULL, "true", NULL,
				   &status, &err);
	free(body);
	if (!rc) {
		*created = true;
		return 0;
	}
	/* Created by us earlier (or by a racing init): nothing to do. */
	if (!strcmp(err.code, "BucketAlreadyOwnedByYou")) {
		rv_error_clear();
		return 0;
	}
	return rc;
}

/* The default retention, after versioning.  A bucket made without Object
 * Lock answers InvalidBucketState where the server will not turn it on
 * afterwards (AWS does on a versioned bucket, since 2023). */
static int set_object_lock(struct rv_store *s, const char *bucket,
			   const struct rv_object_lock *lock)
{
	struct rv_s3_error err;
	long status = 0;
	char *body = rv_s3_object_lock_body(lock->days, lock->compliance);
	int rc;

	rc = rv_s3_bucket_call(s, "put-object-lock", "PUT", "object-lock=", body, NULL, &status,
			       &err);
	free(body);
	if (rc && !strcmp(err.code, "InvalidBucketState"))
		return rv_error(RV_EUSAGE,
				"bucket '%s' exists without Object Lock and the server will not "
				"turn it on (InvalidBucketState%s%s) — Object Lock is set when a "
				"bucket is created: run `revenant bucket init --object-lock` with "
				"a new bucket name and replicate there",
				bucket, err.message[0] ? ": " : "", err.message);
	if (rc == RV_ENOTSUP || (rc && status == 405))
		return rv_error(RV_ENOTSUP,
				"bucket '%s': the server does not support S3 Object Lock (%s) — "
				"run bucket init without --object-lock",
				bucket, err.code[0] ? err.code : "not implemented");
	return rc;
}

int rv_s3_bucket_init(const struct rv_store_url *url, const struct rv_store_opts *opts,
		      struct rv_bucket_init_result *out)
{
	return rv_s3_bucket_init_lock(url, opts, NULL, out);
}

int rv_s3_bucket_init_lock(const struct rv_store_url *url, const struct rv_store_opts *opts,
			   const struct rv_object_lock *lock, struct rv_bucket_init_result *out)
{
	struct rv_store *s = NULL;
	struct rv_s3_error err;
	long status = 0;
	char *body;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!url || url->kind != RV_STORE_S3 || !url->bucket)
		return rv_error(RV_EUSAGE, "bucket init needs an s3:// URL");
	rc = open_bucket_store(&s, url, opts);
	if (rc)
		return rc;
	if (lock && !lock->days)
		lock = NULL;
	rc = ensure_bucket(s, rv_s3_pick_region(opts ? opts->region : NULL, url->region),
			   lock != NULL, &out->created);
	if (rc)
		goto out;

	body = rv_s3_versioning_body(true);
	rc =
	    rv_s3_bucket_call(s, "put-versioning", "PUT", "versioning=", body, NULL, &status, &err);
	free(body);
	if (!rc) {
		out->versioning_enabled = true;
	} else if (status == 501 || status == 405 || !strcmp(err.code, "NotImplemented") ||
		   !strcmp(err.code, "BucketAlreadyExists") ||
		   !strcmp(err.code, "BucketAlreadyOwnedByYou")) {
		/* Servers without versioning: 501/405, or (s3rver) 409 because
		 * they take "PUT /bucket?versioning" for a second CreateBucket.
		 * A note, not a failure. */
		rv_error_clear();
		rc = 0;
		out->versioning_note = versioning_unsupported;
		rv_log(RV_LOG_WARN, "bucket versioning not supported by the server", "bucket",
		       url->bucket, "code", err.code[0] ? err.code : "", NULL);
	}
	if (!rc && lock) {
		if (!out->versioning_enabled)
			rc = rv_error(RV_ENOTSUP,
				      "bucket '%s': --object-lock needs versioning, which the "
				      "server does not support",
				      url->bucket);
		else
			rc = set_object_lock(s, url->bucket, lock);
	}
out:
	rv_store_free(s);
	return rc;
}
