/* Placeholder until the full chain lands: static keys and environment only. */
#include "aws/creds.h"
#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

struct rv_creds_provider {
	struct rv_creds_config cfg;
};

void rv_aws_creds_release(struct rv_aws_creds *c)
{
	free(c->access_key_id);
	free(c->secret_access_key);
	free(c->session_token);
	memset(c, 0, sizeof(*c));
}

int rv_aws_creds_copy(struct rv_aws_creds *dst, const struct rv_aws_creds *src)
{
	dst->access_key_id = rv_strdup(src->access_key_id);
	dst->secret_access_key = rv_strdup(src->secret_access_key);
	dst->session_token = src->session_token ? rv_strdup(src->session_token) : NULL;
	dst->expires_ms = src->expires_ms;
	dst->source = src->source;
	return 0;
}

int rv_creds_provider_new(struct rv_creds_provider **out, const struct rv_creds_config *cfg)
{
	struct rv_creds_provider *p = rv_calloc(1, sizeof(*p));

	if (cfg)
		p->cfg = *cfg;
	*out = p;
	return 0;
}

void rv_creds_provider_free(struct rv_creds_provider *p)
{
	free(p);
}

int rv_creds_get(struct rv_creds_provider *p, struct rv_aws_creds *out)
{
	const char *id = p->cfg.access_key_id, *secret = p->cfg.secret_access_key;
	const char *token = p->cfg.session_token;

	memset(out, 0, sizeof(*out));
	out->source = "static";
	if (!id || !secret) {
		id = getenv("AWS_ACCESS_KEY_ID");
		secret = getenv("AWS_SECRET_ACCESS_KEY");
		token = getenv("AWS_SESSION_TOKEN");
		out->source = "environment";
	}
	if (!id || !*id || !secret || !*secret)
		return rv_error(RV_EAUTH, "no AWS credentials found (set AWS_ACCESS_KEY_ID and "
					  "AWS_SECRET_ACCESS_KEY)");
	out->access_key_id = rv_strdup(id);
	out->secret_access_key = rv_strdup(secret);
	out->session_token = token && *token ? rv_strdup(token) : NULL;
	return 0;
}

void rv_creds_invalidate(struct rv_creds_provider *p)
{
	(void)p;
}
