#include "store/store.h"

/* Placeholder: the S3 backend is being written. */
int rv_store_s3_open(struct rv_store *s)
{
	(void)s;
	return rv_error(RV_ENOTSUP, "s3 store not implemented yet");
}

int rv_s3_bucket_init(const struct rv_store_url *url, const struct rv_store_opts *opts,
		      struct rv_bucket_init_result *out)
{
	(void)url;
	(void)opts;
	(void)out;
	return rv_error(RV_ENOTSUP, "bucket init not implemented yet");
}
