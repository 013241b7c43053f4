/* The credentials chain and its cache.
 *
 * State: everything in struct rv_creds_provider is guarded by `mu`.  One
 * caller at a time refreshes (`refreshing`), outside the lock; the others
 * keep getting the cached credentials while those are still valid, or wait
 * on `cv` when there are none. */
#include "aws/creds.h"
#include "aws/creds_src.h"
#include "aws/ini.h"
#include "aws/sts.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_MARGIN_MS (5 * 60 * 1000)
/* Floor between two refresh attempts, so that a source handing out
 * short-lived keys or failing cannot be hammered by every caller. */
#define MIN_RETRY_MS 1000
#define MAX_RETRY_MS 60000

enum source {
	SRC_NONE,
	SRC_STATIC,
	SRC_ENV,
	SRC_SHARED,
	SRC_WEBID,
	SRC_CONTAINER,
	SRC_IMDS,
	SRC_COUNT,
};

static const char *const source_names[SRC_COUNT] = {
    "none", "static", "environment", "shared-file", "web-identity", "container", "imds",
};

struct rv_creds_provider {
	/* immutable after new() */
	char *profile, *region, *akid, *secret, *token;
	int64_t margin_ms;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rv_aws_creds cur;
	int have;	    /* cur holds credentials */
	int invalid;	    /* rv_creds_invalidate() since cur was fetched */
	int refreshing;	    /* a caller is fetching outside the lock */
	enum source source; /* the source that answered first; sticky */
	int64_t retry_at_ms;
	int warned;	   /* the failed-refresh warning was logged */
	unsigned long gen; /* completed fetch attempts */
	int last_rc;
	char last_msg[1024];
};

void rv_aws_creds_release(struct rv_aws_creds *c)
{
	if (!c)
		return;
	if (c->secret_access_key)
		memset(c->secret_access_key, 0, strlen(c->secret_access_key));
	if (c->session_token)
		memset(c->session_token, 0, strlen(c->session_token));
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

static char *dup_or_null(const char *s)
{
	return s && *s ? rv_strdup(s) : NULL;
}

int rv_creds_provider_new(struct rv_creds_provider **out, const struct rv_creds_config *cfg)
{
	struct rv_creds_provider *p;

	*out = NULL;
	if (cfg && (!cfg->access_key_id != !cfg->secret_access_key))
		return rv_error(RV_EUSAGE, "static AWS credentials need both an access key id "
					   "and a secret access key");
	p = rv_calloc(1, sizeof(*p));
	if (cfg) {
		p->profile = dup_or_null(cfg->profile);
		p->region = dup_or_null(cfg->region);
		p->akid = dup_or_null(cfg->access_key_id);
		p->secret = dup_or_null(cfg->secret_access_key);
		p->token = dup_or_null(cfg->session_token);
		p->margin_ms = cfg->refresh_margin_ms;
	}
	if (p->margin_ms <= 0)
		p->margin_ms = DEFAULT_MARGIN_MS;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	*out = p;
	return 0;
}

static void free_secret(char *s)
{
	if (s)
		memset(s, 0, strlen(s));
	free(s);
}

void rv_creds_provider_free(struct rv_creds_provider *p)
{
	if (!p)
		return;
	rv_aws_creds_release(&p->cur);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p->profile);
	free(p->region);
	free(p->akid);
	free_secret(p->secret);
	free_secret(p->token);
	free(p);
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static void set_keys(struct rv_aws_creds *out, const char *id, const char *secret,
		     const char *token, enum source src)
{
	out->access_key_id = rv_strdup(id);
	out->secret_access_key = rv_strdup(secret);
	out->session_token = token && *token ? rv_strdup(token) : NULL;
	out->expires_ms = 0;
	out->source = source_names[src];
}

static int from_static(struct rv_creds_provider *p, struct rv_aws_creds *out)
{
	if (p->akid)
		set_keys(out, p->akid, p->secret, p->token, SRC_STATIC);
	return 0;
}

static int from_env(struct rv_aws_creds *out)
{
	const char *id = env("AWS_ACCESS_KEY_ID"), *secret = env("AWS_SECRET_ACCESS_KEY");

	if (!id && !secret)
		return 0;
	if (!id || !secret)
		return rv_error(RV_EAUTH, "%s is set but %s is not — set both or neither",
				id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
				id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
	set_keys(out, id, secret, env("AWS_SESSION_TOKEN"), SRC_ENV);
	return 0;
}

static const char *region_of(struct rv_creds_provider *p)
{
	if (p->region)
		return p->region;
	if (env("AWS_REGION"))
		return env("AWS_REGION");
	return env("AWS_DEFAULT_REGION");
}

/* ~/.aws/credentials or ~/.aws/config, or the override; "~/" expanded as
 * the SDKs do. */
static char *shared_path(const char *override_var, const char *name)
{
	const char *o = env(override_var), *home = env("HOME");

	if (o && rv_str_startswith(o, "~/") && home)
		return rv_asprintf("%s%s", home, o + 1);
	if (o)
		return rv_strdup(o);
	return rv_asprintf("%s/.aws/%s", home ? home : "", name);
}

static const char *profile_of(struct rv_creds_provider *p, int *explicit_out)
{
	*explicit_out = 1;
	if (p->profile)
		return p->profile;
	if (env("AWS_PROFILE"))
		return env("AWS_PROFILE");
	*explicit_out = 0;
	return "default";
}

static int load_optional(struct rv_ini **out, const char *path)
{
	int rc = rv_ini_load(out, path);

	if (rc == RV_ENOTFOUND) {
		*out = NULL;
		return 0;
	}
	return rc;
}

static int from_shared(struct rv_creds_provider *p, struct rv_aws_creds *out)
{
	char *cpath = shared_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *fpath = shared_path("AWS_CONFIG_FILE", "config");
	struct rv_ini *cred = NULL, *conf = NULL;
	int explicit_profile, rc;
	const char *profile = profile_of(p, &explicit_profile);
	char *fsec =
	    strcmp(profile, "default") ? rv_asprintf("profile %s", profile) : rv_strdup("default");
	const char *id, *secret, *where, *role;

	rc = load_optional(&cred, cpath);
	if (!rc)
		rc = load_optional(&conf, fpath);
	if (rc)
		goto out;
	/* "[profile default]" is accepted for the default profile too. */
	if (!strcmp(profile, "default") && !rv_ini_has_section(conf, fsec) &&
	    rv_ini_has_section(conf, "profile default")) {
		free(fsec);
		fsec = rv_strdup("profile default");
	}

	if (rv_ini_get(cred, profile, "aws_access_key_id") ||
	    rv_ini_get(cred, profile, "aws_secret_access_key")) {
		id = rv_ini_get(cred, profile, "aws_access_key_id");
		secret = rv_ini_get(cred, profile, "aws_secret_access_key");
		where = cpath;
		if (id && secret && *id && *secret) {
			set_keys(out, id, secret, rv_ini_get(cred, profile, "aws_session_token"),
				 SRC_SHARED);
			goto out;
		}
	} else {
		id = rv_ini_get(conf, fsec, "aws_access_key_id");
		secret = rv_ini_get(conf, fsec, "aws_secret_access_key");
		where = fpath;
		if (id && secret && *id && *secret) {
			set_keys(out, id, secret, rv_ini_get(conf, fsec, "aws_session_token"),
				 SRC_SHARED);
			goto out;
		}
	}
	if (id || secret) {
		rc = rv_error(RV_EAUTH,
			      "profile '%s' in '%s' has %s but no %s — add the missing key",
			      profile, where, id ? "aws_access_key_id" : "aws_secret_access_key",
			      id ? "aws_secret_access_key" : "aws_access_key_id");
		goto out;
	}

	role = rv_ini_get(conf, fsec, "role_arn");
	if (role && rv_ini_get(conf, fsec, "web_identity_token_file")) {
		struct rv_sts_web_identity wi = {
		    .role_arn = role,
		    .token_file = rv_ini_get(conf, fsec, "web_identity_token_file"),
		    .session_name = rv_ini_get(conf, fsec, "role_session_name"),
		    .region = region_of(p) ? region_of(p) : rv_ini_get(conf, fsec, "region"),
		};
		rc = rv_sts_assume_role_with_web_identity(&wi, out);
		goto out;
	}
	if (role || rv_ini_get(conf, fsec, "credential_process") ||
	    rv_ini_get(conf, fsec, "sso_session") || rv_ini_get(conf, fsec, "sso_start_url")) {
		rc = rv_error(RV_ENOTSUP,
			      "profile '%s' in '%s' uses %s, which revenant does not support — "
			      "use static keys, web_identity_token_file, or a role from the "
			      "environment (IRSA, Pod Identity, instance profile)",
			      profile, fpath,
			      role ? "role_arn without web_identity_token_file"
				   : (rv_ini_get(conf, fsec, "credential_process")
					  ? "credential_process"
					  : "sso"));
		goto out;
	}
	if (explicit_profile && !rv_ini_has_section(cred, profile) &&
	    !rv_ini_has_section(conf, fsec))
		rc = rv_error(RV_EAUTH,
			      "aws profile '%s' not found in '%s' or '%s' — check "
			      "AWS_PROFILE / the configured profile",
			      profile, cpath, fpath);
out:
	rv_ini_free(cred);
	rv_ini_free(conf);
	free(cpath);
	free(fpath);
	free(fsec);
	return rc;
}

static int from_web_identity(struct rv_creds_provider *p, struct rv_aws_creds *out)
{
	struct rv_sts_web_identity wi = {
	    .role_arn = env("AWS_ROLE_ARN"),
	    .token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE"),
	    .session_name = env("AWS_ROLE_SESSION_NAME"),
	    .region = region_of(p),
	};

	if (!wi.role_arn || !wi.token_file)
		return 0;
	return rv_sts_assume_role_with_web_identity(&wi, out);
}

static int fetch(struct rv_creds_provider *p, enum source src, struct rv_aws_creds *out)
{
	memset(out, 0, sizeof(*out));
	switch (src) {
	case SRC_STATIC:
		return from_static(p, out);
	case SRC_ENV:
		return from_env(out);
	case SRC_SHARED:
		return from_shared(p, out);
	case SRC_WEBID:
		return from_web_identity(p, out);
	case SRC_CONTAINER:
		return rv_creds_container(out);
	case SRC_IMDS:
		return rv_creds_imds(out);
	default:
		return 0;
	}
}

static int none_found(struct rv_creds_provider *p)
{
	char *cpath = shared_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	char *fpath = shared_path("AWS_CONFIG_FILE", "config");
	const char *imds_disabled = env("AWS_EC2_METADATA_DISABLED");
	int explicit_profile;
	int rc;

	rc = rv_error(RV_EAUTH,
		      "no AWS credentials found (tried: static keys in revenant's config, "
		      "environment AWS_ACCESS_KEY_ID, shared files '%s' and '%s' profile '%s', web "
		      "identity AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, container "
		      "AWS_CONTAINER_CREDENTIALS_*_URI, ec2 imds%s) — set AWS_ACCESS_KEY_ID and "
		      "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an IAM role",
		      cpath, fpath, profile_of(p, &explicit_profile),
		      imds_disabled ? " (disabled)" : "");
	free(cpath);
	free(fpath);
	return rc;
}

/* Walk the chain; the first source that has credentials wins, and one that
 * is configured but fails stops the walk with its error. */
static int resolve(struct rv_creds_provider *p, struct rv_aws_creds *out, enum source *src)
{
	for (enum source s = SRC_STATIC; s < SRC_COUNT; s++) {
		int rc = fetch(p, s, out);
		if (rc)
			return rc;
		if (out->access_key_id) {
			*src = s;
			return 0;
		}
	}
	return none_found(p);
}

static void fmt_time(char *out, size_t n, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms || !gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "%s", "never");
}

static int usable(const struct rv_creds_provider *p, int64_t now)
{
	return p->have && !p->invalid && (!p->cur.expires_ms || now < p->cur.expires_ms);
}

static int fresh(const struct rv_creds_provider *p, int64_t now)
{
	return usable(p, now) && (!p->cur.expires_ms || now < p->cur.expires_ms - p->margin_ms);
}

static int64_t retry_delay(int64_t left_ms)
{
	int64_t d = left_ms / 16;

	return d < MIN_RETRY_MS ? MIN_RETRY_MS : d > MAX_RETRY_MS ? MAX_RETRY_MS : d;
}

int rv_creds_get(struct rv_creds_provider *p, struct rv_aws_creds *out)
{
	struct rv_aws_creds got;
	enum source src;
	char when[32];
	int64_t now;
	int rc;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&p->mu);
	for (;;) {
		now = rv_now_ms();
		if (fresh(p, now))
			goto hit;
		if (p->refreshing) {
			unsigned long g = p->gen;
			/* No gap: the old keys serve until the refresh lands. */
			if (usable(p, now))
				goto hit;
			while (p->refreshing && p->gen == g)
				pthread_cond_wait(&p->cv, &p->mu);
			if (p->gen != g && p->last_rc && !usable(p, rv_now_ms())) {
				rc = rv_error(p->last_rc, "%s", p->last_msg);
				pthread_mutex_unlock(&p->mu);
				return rc;
			}
			continue;
		}
		if (usable(p, now) && now < p->retry_at_ms)
			goto hit;
		break;
	}
	p->refreshing = 1;
	src = p->source;
	pthread_mutex_unlock(&p->mu);

	if (src != SRC_NONE) {
		rc = fetch(p, src, &got);
		if (!rc && !got.access_key_id)
			rc = rv_error(RV_EAUTH,
				      "aws credentials source '%s' no longer provides credentials",
				      source_names[src]);
	} else {
		rc = resolve(p, &got, &src);
	}

	pthread_mutex_lock(&p->mu);
	p->refreshing = 0;
	p->gen++;
	now = rv_now_ms();
	p->retry_at_ms = now + MIN_RETRY_MS;
	if (!rc) {
		rv_aws_creds_release(&p->cur);
		p->cur = got;
		p->have = 1;
		p->invalid = 0;
		p->source = src;
		p->warned = 0;
		p->last_rc = 0;
		fmt_time(when, sizeof(when), got.expires_ms);
		rv_log(RV_LOG_INFO, "aws credentials loaded", "source", got.source, "expires", when,
		       NULL);
	} else {
		p->last_rc = rc;
		snprintf(p->last_msg, sizeof(p->last_msg), "%s", rv_errmsg());
		if (usable(p, now)) {
			p->retry_at_ms = now + retry_delay(p->cur.expires_ms - now);
			fmt_time(when, sizeof(when), p->cur.expires_ms);
			/* Once per failure streak: every caller would otherwise repeat it. */
			rv_log(p->warned ? RV_LOG_DEBUG : RV_LOG_WARN,
			       "aws credentials refresh failed; using the current ones until they "
			       "expire",
			       "source", p->cur.source, "expires", when, "error", p->last_msg,
			       NULL);
			p->warned = 1;
			rc = 0;
		}
	}
	pthread_cond_broadcast(&p->cv);
	if (rc) {
		pthread_mutex_unlock(&p->mu);
		return rc;
	}
hit:
	rv_aws_creds_copy(out, &p->cur);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void rv_creds_invalidate(struct rv_creds_provider *p)
{
	pthread_mutex_lock(&p->mu);
	p->invalid = 1;
	p->retry_at_ms = 0;
	pthread_mutex_unlock(&p->mu);
}
