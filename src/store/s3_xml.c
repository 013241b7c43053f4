/* s3_xml.c - S3 answers parsed with libxml2, request bodies, and the
 * mapping from an S3 failure to one actionable line. */
#include "store/s3_int.h"
#include "core/buf.h"
#include "core/mem.h"
#include "core/util.h"
#include "core/xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

static char *child_dup(const xmlNode *n, const char *name)
{
	xmlNode *c = rv_xml_child(n, name);
	xmlChar *t;
	char *r;

	if (!c)
		return NULL;
	t = xmlNodeGetContent(c);
	r = rv_strdup(t ? (const char *)t : "");
	xmlFree(t);
	return r;
}

static void fill_error(const xmlNode *root, struct rv_s3_error *out)
{
	rv_xml_child_text(root, "Code", out->code, sizeof(out->code));
	rv_xml_child_text(root, "Message", out->message, sizeof(out->message));
	rv_xml_child_text(root, "Region", out->region, sizeof(out->region));
	/* Messages are shown on one line. */
	for (char *p = out->message; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
}

int rv_s3_parse_error(const char *body, size_t len, struct rv_s3_error *out)
{
	xmlDocPtr doc;
	xmlNode *root;
	int rc = RV_ENOTFOUND;

	memset(out, 0, sizeof(*out));
	doc = rv_xml_parse(body, len > RV_S3_MAX_ERRBODY ? RV_S3_MAX_ERRBODY : len, RV_S3_MAX_XML,
			   "s3.xml");
	if (!doc)
		return RV_ENOTFOUND;
	root = xmlDocGetRootElement(doc);
	if (rv_xml_is(root, "Error")) {
		fill_error(root, out);
		rc = 0;
	}
	xmlFreeDoc(doc);
	return rc;
}

enum rv_s3_verdict rv_s3_classify(long status, const char *code)
{
	static const char *const transient[] = {
	    "RequestTimeout",
	    "SlowDown",
	    "Throttling",
	    "ThrottlingException",
	    "RequestLimitExceeded",
	    "InternalError",
	    "ServiceUnavailable",
	    "RequestThrottled",
	    "ConditionalRequestConflict",
	};

	if (code && *code) {
		for (size_t i = 0; i < sizeof(transient) / sizeof(transient[0]); i++)
			if (!strcmp(code, transient[i]))
				return RV_S3_RETRY;
		if (!strcmp(code, "ExpiredToken") || !strcmp(code, "TokenRefreshRequired"))
			return RV_S3_REFRESH_CREDS;
	}
	if (status == 500 || status == 502 || status == 503 || status == 504)
		return RV_S3_RETRY;
	return RV_S3_FAIL;
}

const char *rv_s3_permission(const char *op)
{
	static const struct {
		const char *op, *perm;
	} map[] = {
	    {"put", "s3:PutObject"},
	    {"create-multipart", "s3:PutObject"},
	    {"upload-part", "s3:PutObject"},
	    {"complete-multipart", "s3:PutObject"},
	    {"abort-multipart", "s3:AbortMultipartUpload"},
	    {"get", "s3:GetObject"},
	    {"head", "s3:GetObject"},
	    {"delete", "s3:DeleteObject"},
	    {"list", "s3:ListBucket"},
	    {"head-bucket", "s3:ListBucket"},
	    {"create-bucket", "s3:CreateBucket"},
	    {"put-versioning", "s3:PutBucketVersioning"},
	    {"get-versioning", "s3:GetBucketVersioning"},
	    {"get-version", "s3:GetObjectVersion"},
	    {"head-version", "s3:GetObjectVersion"},
	    {"list-versions", "s3:ListBucketVersions"},
	    {"put-object-lock", "s3:PutBucketObjectLockConfiguration"},
	    {"get-object-lock", "s3:GetBucketObjectLockConfiguration"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].op, op))
			return map[i].perm;
	return "s3:*";
}

/* Bucket-level permissions apply to the bucket ARN, object-level ones to
 * the objects under the prefix. */
static bool bucket_level(const char *op)
{
	return !strcmp(op, "list") || !strcmp(op, "head-bucket") || !strcmp(op, "create-bucket") ||
	       !strcmp(op, "put-versioning") || !strcmp(op, "get-versioning") ||
	       !strcmp(op, "list-versions") || !strcmp(op, "put-object-lock") ||
	       !strcmp(op, "get-object-lock");
}

int rv_s3_error_map(const struct rv_s3_ctx *c, long status, const struct rv_s3_error *e)
{
	const char *code = e && e->code[0] ? e->code : "";
	const char *msg = e && e->message[0] ? e->message : "";
	const char *region = c->region ? c->region : "us-east-1";
	char what[1200];

	if (c->key)
		snprintf(what, sizeof(what), "s3 %s '%s'", c->op, c->key);
	else
		snprintf(what, sizeof(what), "s3 %s bucket '%s'", c->op, c->bucket);

	if (!strcmp(code, "NoSuchBucket") || (status == 404 && !code[0] && !c->key))
		return rv_error(RV_ENOTFOUND,
				"bucket '%s' does not exist — run `revenant bucket init s3://%s "
				"--region %s`",
				c->bucket, c->bucket, region);
	if (!strcmp(code, "NoSuchKey") || !strcmp(code, "NoSuchVersion") ||
	    (status == 404 && !code[0]))
		return rv_error(RV_ENOTFOUND, "%s: no such object in s3://%s/%s", what, c->bucket,
				c->prefix);
	if (!strcmp(code, "NoSuchUpload"))
		return rv_error(RV_EFAIL,
				"%s: the multipart upload was aborted or expired while in progress "
				"— retry the put",
				what);
	if (!strcmp(code, "InvalidAccessKeyId"))
		return rv_error(RV_EAUTH,
				"%s: the access key id is not known to S3 (InvalidAccessKeyId) — "
				"check the key id of the configured credentials",
				what);
	if (!strcmp(code, "SignatureDoesNotMatch"))
		return rv_error(
		    RV_EAUTH,
		    "%s: the request signature does not match (SignatureDoesNotMatch) — "
		    "check the secret access key",
		    what);
	if (!strcmp(code, "ExpiredToken") || !strcmp(code, "TokenRefreshRequired") ||
	    !strcmp(code, "InvalidToken"))
		return rv_error(RV_EAUTH,
				"%s: the session token was rejected (%s) — refresh the temporary "
				"credentials",
				what, code);
	if (!strcmp(code, "RequestTimeTooSkewed"))
		return rv_error(RV_EAUTH,
				"%s: the clock is too far off (RequestTimeTooSkewed) — "
				"sync the system clock with NTP",
				what);
	if (!strcmp(code, "PermanentRedirect") || !strcmp(code, "AuthorizationHeaderMalformed") ||
	    status == 301) {
		if (e && e->region[0])
			return rv_error(RV_EUSAGE,
					"%s: bucket '%s' is in region %s, not %s — add "
					"?region=%s to the store URL",
					what, c->bucket, e->region, region, e->region);
		return rv_error(RV_EUSAGE,
				"%s: bucket '%s' is not in region %s (%s) — set ?region= in the "
				"store URL",
				what, c->bucket, region, code[0] ? code : "redirect");
	}
	if (status == 403 || !strcmp(code, "AccessDenied")) {
		if (!strcmp(c->op, "list-versions"))
			return rv_error(RV_EAUTH,
					"%s: access denied — reading old versions needs "
					"s3:ListBucketVersions on arn:aws:s3:::%s and "
					"s3:GetObjectVersion on arn:aws:s3:::%s/%s*",
					what, c->bucket, c->bucket, c->prefix);
		if (bucket_level(c->op))
			return rv_error(RV_EAUTH,
					"%s: access denied — the credentials need %s on "
					"arn:aws:s3:::%s",
					what, rv_s3_permission(c->op), c->bucket);
		return rv_error(RV_EAUTH,
				"%s: access denied — the credentials need %s on "
				"arn:aws:s3:::%s/%s*",
				what, rv_s3_permission(c->op), c->bucket, c->prefix);
	}
	if (status == 412 || !strcmp(code, "PreconditionFailed") ||
	    !strcmp(code, "ConditionalRequestConflict"))
		return rv_error(RV_EPRECOND,
				"%s: precondition failed — the object was created or changed by "
				"someone else",
				what);
	if (!strcmp(code, "BucketAlreadyExists"))
		return rv_error(RV_EUSAGE,
				"bucket name '%s' is taken by another AWS account — choose another "
				"name",
				c->bucket);
	if (!strcmp(code, "InvalidRange") || status == 416)
		return rv_error(RV_EUSAGE, "%s: the requested range is past the end of the object",
				what);
	if (!strcmp(code, "EntityTooSmall"))
		return rv_error(RV_EUSAGE,
				"%s: a multipart part is below the server's minimum — raise "
				"part_size (at least 5 MiB on AWS)",
				what);
	if (status == 501 || !strcmp(code, "NotImplemented"))
		return rv_error(RV_ENOTSUP, "%s: the server does not implement this (%s%s%s)", what,
				code[0] ? code : "501", msg[0] ? ": " : "", msg);
	if (code[0])
		return rv_error(status >= 500 ? RV_ENET : RV_EFAIL, "%s: HTTP %ld %s%s%s", what,
				status, code, msg[0] ? ": " : "", msg);
	return rv_error(status >= 500 ? RV_ENET : RV_EFAIL, "%s: unexpected HTTP %ld from %s", what,
			status, c->endpoint ? c->endpoint : "S3");
}

/* Keep only keys under `strip`, relative to it. */
static int add_item(struct rv_list_page *out, size_t *alloc, const xmlNode *n, const char *strip)
{
	char *key = child_dup(n, "Key");
	char tmp[64];
	struct rv_obj_info *it;
	size_t sl = strlen(strip);

	if (!key)
		return rv_error(RV_ECORRUPT, "s3 list: an entry without a <Key>");
	if (strncmp(key, strip, sl) || !key[sl]) {
		free(key);
		return 0;
	}
	out->items = rv_grow(out->items, alloc, out->count + 1, sizeof(*out->items));
	it = &out->items[out->count];
	memset(it, 0, sizeof(*it));
	it->key = rv_strdup(key + sl);
	free(key);
	out->count++;
	if (rv_xml_child_text(n, "Size", tmp, sizeof(tmp)) && rv_parse_u64(tmp, &it->size))
		return rv_error(RV_ECORRUPT, "s3 list: bad <Size> '%s'", tmp);
	if (rv_xml_child_text(n, "LastModified", tmp, sizeof(tmp)) &&
	    rv_parse_iso8601_ms(tmp, &it->mtime_ms))
		return rv_error(RV_ECORRUPT, "s3 list: bad <LastModified> '%s'", tmp);
	rv_xml_child_text(n, "ETag", it->etag, sizeof(it->etag));
	return 0;
}

/* One <CommonPrefixes><Prefix> under `strip`, relative to it. */
static int add_dir(struct rv_list_page *out, size_t *alloc, const xmlNode *n, const char *strip)
{
	char *p = child_dup(n, "Prefix");
	size_t sl = strlen(strip);

	if (!p)
		return rv_error(RV_ECORRUPT, "s3 list: <CommonPrefixes> without a <Prefix>");
	if (strncmp(p, strip, sl) || !p[sl]) {
		free(p);
		return 0;
	}
	out->items = rv_grow(out->items, alloc, out->count + 1, sizeof(*out->items));
	memset(&out->items[out->count], 0, sizeof(out->items[0]));
	out->items[out->count++].key = rv_strdup(p + sl);
	free(p);
	return 0;
}

/* A ListObjectsV2 page: its <Contents> (keys) or, with `dirs`, its
 * <CommonPrefixes> (folders, with a delimiter). */
static int parse_list(const char *body, size_t len, const char *strip, bool dirs,
		      struct rv_list_page *out)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_S3_MAX_XML, "s3.xml");
	xmlNode *root;
	size_t alloc = 0;
	char trunc[16];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!doc)
		return rv_error(RV_ECORRUPT, "s3 list: the answer is not XML");
	root = xmlDocGetRootElement(doc);
	if (!rv_xml_is(root, "ListBucketResult")) {
		xmlFreeDoc(doc);
		return rv_error(RV_ECORRUPT, "s3 list: the answer is not a ListBucketResult");
	}
	for (xmlNode *c = root->children; c && !rc; c = c->next) {
		if (!dirs && rv_xml_is(c, "Contents"))
			rc = add_item(out, &alloc, c, strip);
		else if (dirs && rv_xml_is(c, "CommonPrefixes"))
			rc = add_dir(out, &alloc, c, strip);
	}
	if (!rc && rv_xml_child_text(root, "IsTruncated", trunc, sizeof(trunc)) &&
	    !strcmp(trunc, "true")) {
		out->next_token = child_dup(root, "NextContinuationToken");
		if (!out->next_token || !*out->next_token)
			rc = rv_error(RV_ECORRUPT,
				      "s3 list: a truncated page without NextContinuationToken");
	}
	xmlFreeDoc(doc);
	if (rc)
		rv_list_page_release(out);
	return rc;
}

int rv_s3_parse_list(const char *body, size_t len, const char *strip, struct rv_list_page *out)
{
	return parse_list(body, len, strip, false, out);
}

int rv_s3_parse_list_dirs(const char *body, size_t len, const char *strip, struct rv_list_page *out)
{
	return parse_list(body, len, strip, true, out);
}

int rv_s3_parse_upload_id(const char *body, size_t len, char **out)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_S3_MAX_XML, "s3.xml");
	xmlNode *root;

	*out = NULL;
	if (!doc)
		return rv_error(RV_ECORRUPT, "s3 create multipart upload: the answer is not XML");
	root = xmlDocGetRootElement(doc);
	if (rv_xml_is(root, "InitiateMultipartUploadResult"))
		*out = child_dup(root, "UploadId");
	xmlFreeDoc(doc);
	if (!*out || !**out) {
		free(*out);
		*out = NULL;
		return rv_error(RV_ECORRUPT,
				"s3 create multipart upload: no UploadId in the answer");
	}
	return 0;
}

int rv_s3_parse_complete(const char *body, size_t len, char *etag, size_t etag_len,
			 struct rv_s3_error *err)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_S3_MAX_XML, "s3.xml");
	xmlNode *root;
	int rc = 0;

	memset(err, 0, sizeof(*err));
	if (etag_len)
		etag[0] = '\0';
	if (!doc)
		return rv_error(RV_ECORRUPT, "s3 complete multipart upload: the answer is not XML");
	root = xmlDocGetRootElement(doc);
	if (rv_xml_is(root, "Error")) {
		fill_error(root, err);
		rc = RV_ECORRUPT;
	} else if (rv_xml_is(root, "CompleteMultipartUploadResult")) {
		rv_xml_child_text(root, "ETag", etag, etag_len);
	} else {
		rc = rv_error(RV_ECORRUPT, "s3 complete multipart upload: unexpected answer <%s>",
			      root ? (const char *)root->name : "");
	}
	xmlFreeDoc(doc);
	return rc;
}

int rv_s3_parse_versioning(const char *body, size_t len, char *status, size_t status_len)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_S3_MAX_XML, "s3.xml");
	xmlNode *root;
	int rc = 0;

	if (status_len)
		status[0] = '\0';
	if (!doc)
		return rv_error(RV_ECORRUPT, "s3 get versioning: the answer is not XML");
	root = xmlDocGetRootElement(doc);
	if (rv_xml_is(root, "VersioningConfiguration"))
		rv_xml_child_text(root, "Status", status, status_len);
	else
		rc = rv_error(RV_ECORRUPT, "s3 get versioning: unexpected answer");
	xmlFreeDoc(doc);
	return rc;
}

#define S3_NS "http://s3.amazonaws.com/doc/2006-03-01/"

char *rv_s3_create_bucket_body(const char *region)
{
	/* us-east-1 is the default location and rejects an explicit one. */
	if (!region || !*region || !strcmp(region, "us-east-1"))
		return NULL;
	return rv_asprintf("<CreateBucketConfiguration xmlns=\"" S3_NS "\">"
			   "<LocationConstraint>%s</LocationConstraint>"
			   "</CreateBucketConfiguration>",
			   region);
}

static int add_escaped(struct rv_buf *b, const char *s)
{
	int rc = 0;

	for (; *s && !rc; s++) {
		switch (*s) {
		case '&':
			rc = rv_buf_addstr(b, "&amp;");
			break;
		case '<':
			rc = rv_buf_addstr(b, "&lt;");
			break;
		case '>':
			rc = rv_buf_addstr(b, "&gt;");
			break;
		case '"':
			rc = rv_buf_addstr(b, "&quot;");
			break;
		default:
			rc = rv_buf_add(b, s, 1);
		}
	}
	return rc;
}

char *rv_s3_complete_body(char *const *etags, unsigned nparts)
{
	/* 10,000 parts * ~150 bytes fits well under the cap. */
	struct rv_buf b = RV_BUF_INIT(16u << 20);
	int rc;

	rc = rv_buf_addstr(&b, "<CompleteMultipartUpload xmlns=\"" S3_NS "\">");
	for (unsigned i = 0; i < nparts && !rc; i++) {
		rc = rv_buf_addf(&b, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
		if (!rc)
			rc = add_escaped(&b, etags[i] ? etags[i] : "");
		if (!rc)
			rc = rv_buf_addstr(&b, "</ETag></Part>");
	}
	if (!rc)
		rc = rv_buf_addstr(&b, "</CompleteMultipartUpload>");
	if (rc) {
		/* Only reachable past 10,000 parts, which put refuses earlier. */
		rv_buf_release(&b);
		return NULL;
	}
	return rv_buf_detach(&b, NULL);
}

char *rv_s3_versioning_body(bool enabled)
{
	return rv_asprintf("<VersioningConfiguration xmlns=\"" S3_NS "\">"
			   "<Status>%s</Status></VersioningConfiguration>",
			   enabled ? "Enabled" : "Suspended");
}

char *rv_s3_object_lock_body(unsigned days, bool compliance)
{
	return rv_asprintf("<ObjectLockConfiguration xmlns=\"" S3_NS "\">"
			   "<ObjectLockEnabled>Enabled</ObjectLockEnabled>"
			   "<Rule><DefaultRetention><Mode>%s</Mode><Days>%u</Days>"
			   "</DefaultRetention></Rule></ObjectLockConfiguration>",
			   compliance ? "COMPLIANCE" : "GOVERNANCE", days);
}

static int digits(const char *s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int rv_s3_parse_http_date(const char *s, int64_t *out_ms)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	int d, y, h, mi, sec;

	/* IMF-fixdate only: "Sun, 06 Nov 1994 08:49:37 GMT" */
	memset(&tm, 0, sizeof(tm));
	if (strlen(s) != 29 || s[3] != ',' || digits(s + 5, 2, &d) || digits(s + 12, 4, &y) ||
	    digits(s + 17, 2, &h) || digits(s + 20, 2, &mi) || digits(s + 23, 2, &sec) ||
	    strcmp(s + 25, " GMT"))
		return RV_ECORRUPT;
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (!strncmp(s + 8, months[i], 3))
			tm.tm_mon = i;
	if (tm.tm_mon < 0)
		return RV_ECORRUPT;
	tm.tm_year = y - 1900;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out_ms = (int64_t)timegm(&tm) * 1000;
	return 0;
}

const char *rv_s3_pick_region(const char *opt, const char *url_region)
{
	const char *env;

	if (opt && *opt)
		return opt;
	if (url_region && *url_region)
		return url_region;
	env = getenv("AWS_REGION");
	if (env && *env)
		return env;
	env = getenv("AWS_DEFAULT_REGION");
	if (env && *env)
		return env;
	return "us-east-1";
}

/* ---- ListObjectVersions ---------------------------------------------------- */

void rv_s3_version_page_release(struct rv_s3_version_page *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].version_id);
	}
	free(p->v);
	rv_list_page_release(&p->dirs);
	free(p->next_key_marker);
	free(p->next_vid_marker);
	memset(p, 0, sizeof(*p));
}

static int add_version(struct rv_s3_version_page *out, size_t *alloc, const xmlNode *n,
		       const char *strip, bool marker)
{
	char *key = child_dup(n, "Key");
	char tmp[64];
	struct rv_s3_version *v;
	size_t sl = strlen(strip);

	if (!key)
		return rv_error(RV_ECORRUPT, "s3 list versions: an entry without a <Key>");
	if (strncmp(key, strip, sl) || !key[sl]) {
		free(key);
		return 0;
	}
	out->v = rv_grow(out->v, alloc, out->n + 1, sizeof(*out->v));
	v = &out->v[out->n++];
	memset(v, 0, sizeof(*v));
	v->key = rv_strdup(key + sl);
	free(key);
	v->delete_marker = marker;
	v->version_id = child_dup(n, "VersionId");
	if (!v->version_id || !*v->version_id)
		return rv_error(RV_ECORRUPT, "s3 list versions: '%.200s' has no <VersionId>",
				v->key);
	if (rv_xml_child_text(n, "IsLatest", tmp, sizeof(tmp)))
		v->is_latest = !strcmp(tmp, "true");
	if (!rv_xml_child_text(n, "LastModified", tmp, sizeof(tmp)) ||
	    rv_parse_iso8601_ms(tmp, &v->mtime_ms))
		return rv_error(RV_ECORRUPT,
				"s3 list versions: bad or no <LastModified> for '%.200s'", v->key);
	if (marker)
		return 0;
	if (!rv_xml_child_text(n, "Size", tmp, sizeof(tmp)) || rv_parse_u64(tmp, &v->size))
		return rv_error(RV_ECORRUPT, "s3 list versions: bad or no <Size> for '%.200s'",
				v->key);
	rv_xml_child_text(n, "ETag", v->etag, sizeof(v->etag));
	return 0;
}

int rv_s3_parse_versions(const char *body, size_t len, const char *strip,
			 struct rv_s3_version_page *out)
{
	xmlDocPtr doc = rv_xml_parse(body, len, RV_S3_MAX_XML, "s3.xml");
	xmlNode *root;
	size_t alloc = 0, dalloc = 0;
	char trunc[16];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!doc)
		return rv_error(RV_ECORRUPT, "s3 list versions: the answer is not XML");
	root = xmlDocGetRootElement(doc);
	if (!rv_xml_is(root, "ListVersionsResult")) {
		xmlFreeDoc(doc);
		return rv_error(RV_ECORRUPT,
				"s3 list versions: the answer is not a ListVersionsResult");
	}
	for (xmlNode *c = root->children; c && !rc; c = c->next) {
		if (rv_xml_is(c, "Version"))
			rc = add_version(out, &alloc, c, strip, false);
		else if (rv_xml_is(c, "DeleteMarker"))
			rc = add_version(out, &alloc, c, strip, true);
		else if (rv_xml_is(c, "CommonPrefixes"))
			rc = add_dir(&out->dirs, &dalloc, c, strip);
	}
	if (!rc && rv_xml_child_text(root, "IsTruncated", trunc, sizeof(trunc)) &&
	    !strcmp(trunc, "true")) {
		out->truncated = true;
		out->next_key_marker = child_dup(root, "NextKeyMarker");
		out->next_vid_marker = child_dup(root, "NextVersionIdMarker");
		if (!out->next_key_marker || !*out->next_key_marker)
			rc = rv_error(RV_ECORRUPT,
				      "s3 list versions: a truncated page without NextKeyMarker");
	}
	xmlFreeDoc(doc);
	if (rc)
		rv_s3_version_page_release(out);
	return rc;
}
