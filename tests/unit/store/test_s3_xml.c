/* S3 answer parsing, request bodies and error mapping, from recorded
 * answers (shapes as AWS documents them); no server needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/err.h"
#include "store/s3_int.h"

static const struct rv_s3_ctx put_ctx = {"put",	    "gen/0001/db.zst", "backups",
					 "site-a/", "eu-west-1",       NULL};

static int map_body(const struct rv_s3_ctx *c, long status, const char *body)
{
	struct rv_s3_error e;

	if (rv_s3_parse_error(body, strlen(body), &e))
		memset(&e, 0, sizeof(e));
	return rv_s3_error_map(c, status, &e);
}

static void test_parse_error(void **state)
{
	const char *body =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
	    "<RequestId>656c76696e6727732072657175657374</RequestId>"
	    "<HostId>Uuag1LuByRx9e6j5Onimru9pO4ZVKnJ2Qz7/C1NPcfTWAtRPfTaOFg==</HostId>"
	    "</Error>";
	struct rv_s3_error e;

	(void)state;
	assert_int_equal(rv_s3_parse_error(body, strlen(body), &e), 0);
	assert_string_equal(e.code, "AccessDenied");
	assert_string_equal(e.message, "Access Denied");
	assert_int_equal(rv_s3_parse_error("not xml", 7, &e), RV_ENOTFOUND);
	assert_string_equal(e.code, "");
	assert_int_equal(rv_s3_parse_error("<ListBucketResult/>", 19, &e), RV_ENOTFOUND);
	assert_int_equal(rv_s3_parse_error(NULL, 0, &e), RV_ENOTFOUND);
}

static void test_map_access_denied(void **state)
{
	struct rv_s3_ctx list = put_ctx;

	(void)state;
	assert_int_equal(map_body(&put_ctx, 403,
				  "<Error><Code>AccessDenied</Code><Message>Access Denied</Message>"
				  "</Error>"),
			 RV_EAUTH);
	assert_string_equal(rv_errmsg(),
			    "s3 put 'gen/0001/db.zst': access denied — the credentials need "
			    "s3:PutObject on arn:aws:s3:::backups/site-a/*");
	list.op = "list";
	list.key = "gen/";
	assert_int_equal(map_body(&list, 403, "<Error><Code>AccessDenied</Code></Error>"),
			 RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "s3:ListBucket on arn:aws:s3:::backups"));
	assert_null(strstr(rv_errmsg(), "backups/"));
	list.op = "delete";
	assert_int_equal(map_body(&list, 403, ""), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "s3:DeleteObject"));
	list.op = "abort-multipart";
	assert_int_equal(map_body(&list, 403, ""), RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "s3:AbortMultipartUpload"));
	assert_string_equal(rv_s3_permission("get"), "s3:GetObject");
	assert_string_equal(rv_s3_permission("create-bucket"), "s3:CreateBucket");
	assert_string_equal(rv_s3_permission("put-versioning"), "s3:PutBucketVersioning");
}

static void test_map_keys(void **state)
{
	(void)state;
	assert_int_equal(map_body(&put_ctx, 403,
				  "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access "
				  "Key Id you provided does not exist in our records.</Message>"
				  "<AWSAccessKeyId>AKIA</AWSAccessKeyId></Error>"),
			 RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "key id"));
	assert_int_equal(map_body(&put_ctx, 403,
				  "<Error><Code>SignatureDoesNotMatch</Code><Message>The request "
				  "signature we calculated does not match the signature you "
				  "provided.</Message><StringToSign>x</StringToSign></Error>"),
			 RV_EAUTH);
	assert_non_null(strstr(rv_errmsg(), "secret access key"));
	assert_null(strstr(rv_errmsg(), "StringToSign"));
}

static void test_map_not_found(void **state)
{
	struct rv_s3_ctx head = put_ctx;

	(void)state;
	assert_int_equal(
	    map_body(&put_ctx, 404,
		     "<Error><Code>NoSuchBucket</Code><Message>The specified bucket "
		     "does not exist</Message><BucketName>backups</BucketName></Error>"),
	    RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(), "bucket 'backups' does not exist — run `revenant "
					 "bucket init s3://backups --region eu-west-1`");
	head.op = "get";
	assert_int_equal(map_body(&head, 404, "<Error><Code>NoSuchKey</Code></Error>"),
			 RV_ENOTFOUND);
	assert_string_equal(rv_errmsg(),
			    "s3 get 'gen/0001/db.zst': no such object in s3://backups/site-a/");
	/* HEAD answers have no body. */
	head.op = "head";
	assert_int_equal(map_body(&head, 404, ""), RV_ENOTFOUND);
	assert_non_null(strstr(rv_errmsg(), "no such object"));
}

static void test_map_other(void **state)
{
	struct rv_s3_ctx b = put_ctx;

	(void)state;
	assert_int_equal(map_body(&put_ctx, 412,
				  "<Error><Code>PreconditionFailed</Code><Message>At least one of "
				  "the pre-conditions you specified did not hold</Message>"
				  "<Condition>If-None-Match</Condition></Error>"),
			 RV_EPRECOND);
	assert_int_equal(
	    map_body(&put_ctx, 409, "<Error><Code>ConditionalRequestConflict</Code></Error>"),
	    RV_EPRECOND);
	assert_int_equal(
	    map_body(&put_ctx, 301,
		     "<Error><Code>PermanentRedirect</Code><Message>The bucket you are "
		     "attempting to access must be addressed using the specified "
		     "endpoint.</Message><Region>us-west-2</Region></Error>"),
	    RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "region us-west-2"));
	assert_int_equal(
	    map_body(&put_ctx, 400,
		     "<Error><Code>EntityTooSmall</Code><Message>Your proposed upload "
		     "is smaller than the minimum allowed object size.</Message></Error>"),
	    RV_EUSAGE);
	b.op = "create-bucket";
	b.key = NULL;
	assert_int_equal(map_body(&b, 409,
				  "<Error><Code>BucketAlreadyExists</Code><Message>The requested "
				  "bucket name is not available.</Message></Error>"),
			 RV_EUSAGE);
	assert_non_null(strstr(rv_errmsg(), "another AWS account"));
	assert_int_equal(map_body(&put_ctx, 400,
				  "<Error><Code>InvalidArgument</Code><Message>bad\nthing</Message>"
				  "</Error>"),
			 RV_EFAIL);
	assert_string_equal(rv_errmsg(),
			    "s3 put 'gen/0001/db.zst': HTTP 400 InvalidArgument: bad thing");
	assert_int_equal(map_body(&put_ctx, 501, ""), RV_ENOTSUP);
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(rv_s3_classify(503, "SlowDown"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(500, ""), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(502, NULL), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(504, ""), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(400, "RequestTimeout"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(400, "ThrottlingException"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(503, "RequestLimitExceeded"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(200, "InternalError"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(409, "ConditionalRequestConflict"), RV_S3_RETRY);
	assert_int_equal(rv_s3_classify(400, "ExpiredToken"), RV_S3_REFRESH_CREDS);
	assert_int_equal(rv_s3_classify(403, "AccessDenied"), RV_S3_FAIL);
	assert_int_equal(rv_s3_classify(404, "NoSuchKey"), RV_S3_FAIL);
	assert_int_equal(rv_s3_classify(412, ""), RV_S3_FAIL);
	assert_int_equal(rv_s3_classify(400, ""), RV_S3_FAIL);
}

static void test_parse_list(void **state)
{
	const char *body =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>backups</Name><Prefix>site-a/gen/</Prefix><KeyCount>3</KeyCount>"
	    "<MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>"
	    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
	    "</NextContinuationToken>"
	    "<Contents><Key>site-a/gen/a &amp; b</Key>"
	    "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
	    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
	    "<StorageClass>STANDARD</StorageClass></Contents>"
	    "<Contents><Key>other/x</Key><Size>1</Size></Contents>"
	    "<Contents><Key>site-a/gen/b</Key><LastModified>2020-01-01T00:00:00Z"
	    "</LastModified><ETag>\"e\"</ETag><Size>0</Size></Contents>"
	    "</ListBucketResult>";
	struct rv_list_page p;

	(void)state;
	assert_int_equal(rv_s3_parse_list(body, strlen(body), "site-a/", &p), 0);
	assert_int_equal(p.count, 2);
	assert_string_equal(p.items[0].key, "gen/a & b");
	assert_int_equal(p.items[0].size, 434234);
	assert_int_equal(p.items[0].mtime_ms, 1255369830000LL);
	assert_string_equal(p.items[0].etag, "\"fba9dede5f27731c9771645a39863328\"");
	assert_string_equal(p.items[1].key, "gen/b");
	assert_int_equal(p.items[1].size, 0);
	assert_string_equal(p.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	rv_list_page_release(&p);

	body = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
	assert_int_equal(rv_s3_parse_list(body, strlen(body), "", &p), 0);
	assert_int_equal(p.count, 0);
	assert_null(p.next_token);
	rv_list_page_release(&p);

	body = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
	assert_int_equal(rv_s3_parse_list(body, strlen(body), "", &p), RV_ECORRUPT);
	body = "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
	       "</ListBucketResult>";
	assert_int_equal(rv_s3_parse_list(body, strlen(body), "", &p), RV_ECORRUPT);
	assert_int_equal(rv_s3_parse_list("<Error/>", 8, "", &p), RV_ECORRUPT);
	assert_int_equal(rv_s3_parse_list("<<<", 3, "", &p), RV_ECORRUPT);
}

static void test_entities_not_expanded(void **state)
{
	/* A hostile answer must not pull in files or blow up (XXE, billion laughs). */
	const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM "
			  "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
	struct rv_s3_error e;

	(void)state;
	rv_s3_parse_error(xxe, strlen(xxe), &e);
	assert_null(strstr(e.code, "root:"));
}

static void test_multipart_answers(void **state)
{
	const char *init = "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
			   "2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>VXBsb2FkIElE"
			   "</UploadId></InitiateMultipartUploadResult>";
	const char *done = "<CompleteMultipartUploadResult><Location>x</Location><Bucket>b"
			   "</Bucket><Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\""
			   "</ETag></CompleteMultipartUploadResult>";
	/* S3 may answer 200 and then fail the Complete in the body. */
	const char *err200 = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>"
			     "InternalError</Code><Message>We encountered an internal error. "
			     "Please try again.</Message></Error>";
	char *id = NULL, etag[80];
	struct rv_s3_error e;

	(void)state;
	assert_int_equal(rv_s3_parse_upload_id(init, strlen(init), &id), 0);
	assert_string_equal(id, "VXBsb2FkIElE");
	free(id);
	assert_int_equal(rv_s3_parse_upload_id("<x/>", 4, &id), RV_ECORRUPT);
	assert_null(id);
	assert_int_equal(rv_s3_parse_complete(done, strlen(done), etag, sizeof(etag), &e), 0);
	assert_string_equal(etag, "\"3858f62230ac3c915f300c664312c11f-9\"");
	assert_int_equal(rv_s3_parse_complete(err200, strlen(err200), etag, sizeof(etag), &e),
			 RV_ECORRUPT);
	assert_string_equal(e.code, "InternalError");
	assert_int_equal(rv_s3_classify(200, e.code), RV_S3_RETRY);
}

static void test_bodies(void **state)
{
	char *etags[] = {"\"a\"", "\"b&c\""};
	char *b;

	(void)state;
	assert_null(rv_s3_create_bucket_body("us-east-1"));
	assert_null(rv_s3_create_bucket_body(NULL));
	b = rv_s3_create_bucket_body("eu-central-1");
	assert_string_equal(b, "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
			       "2006-03-01/\"><LocationConstraint>eu-central-1</LocationConstraint>"
			       "</CreateBucketConfiguration>");
	free(b);
	b = rv_s3_complete_body(etags, 2);
	assert_string_equal(b, "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/"
			       "2006-03-01/\"><Part><PartNumber>1</PartNumber><ETag>&quot;a&quot;"
			       "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>&quot;b&amp;c"
			       "&quot;</ETag></Part></CompleteMultipartUpload>");
	free(b);
	b = rv_s3_versioning_body(true);
	assert_non_null(strstr(b, "<Status>Enabled</Status>"));
	free(b);
	{
		char st[32];
		const char *v = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/"
				"2006-03-01/\"><Status>Enabled</Status></VersioningConfiguration>";
		assert_int_equal(rv_s3_parse_versioning(v, strlen(v), st, sizeof(st)), 0);
		assert_string_equal(st, "Enabled");
		v = "<VersioningConfiguration/>";
		assert_int_equal(rv_s3_parse_versioning(v, strlen(v), st, sizeof(st)), 0);
		assert_string_equal(st, "");
	}
}

static void test_dates_and_region(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(rv_s3_parse_http_date("Mon, 12 Oct 2009 17:50:30 GMT", &ms), 0);
	assert_int_equal(ms, 1255369830000LL);
	assert_int_not_equal(rv_s3_parse_http_date("Mon, 12 Foo 2009 17:50:30 GMT", &ms), 0);

	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
	assert_string_equal(rv_s3_pick_region(NULL, NULL), "us-east-1");
	setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
	assert_string_equal(rv_s3_pick_region(NULL, NULL), "ap-south-1");
	setenv("AWS_REGION", "eu-north-1", 1);
	assert_string_equal(rv_s3_pick_region(NULL, NULL), "eu-north-1");
	assert_string_equal(rv_s3_pick_region(NULL, "us-west-1"), "us-west-1");
	assert_string_equal(rv_s3_pick_region("sa-east-1", "us-west-1"), "sa-east-1");
	unsetenv("AWS_REGION");
	unsetenv("AWS_DEFAULT_REGION");
}

/* ListObjectVersions: <Version> and <DeleteMarker> interleaved in the
 * answer's order, the prefix stripped, entries outside it skipped, the
 * markers of a truncated page; a version without its id is refused. */
static void test_parse_versions(void **state)
{
	const char *body =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<ListVersionsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
	    "<Name>b</Name><Prefix>site/</Prefix><KeyMarker></KeyMarker>"
	    "<VersionIdMarker></VersionIdMarker><NextKeyMarker>site/lease.json</NextKeyMarker>"
	    "<NextVersionIdMarker>v.3</NextVersionIdMarker><MaxKeys>4</MaxKeys>"
	    "<IsTruncated>true</IsTruncated>"
	    "<DeleteMarker><Key>site/hb.json</Key><VersionId>v.1</VersionId>"
	    "<IsLatest>true</IsLatest><LastModified>2026-12-04T20:49:10.127Z</LastModified>"
	    "</DeleteMarker>"
	    "<Version><Key>site/hb.json</Key><VersionId>v.2</VersionId><IsLatest>false</IsLatest>"
	    "<LastModified>2026-12-04T20:49:09.551Z</LastModified><ETag>\"e2\"</ETag>"
	    "<Size>293</Size><StorageClass>STANDARD</StorageClass></Version>"
	    "<Version><Key>elsewhere</Key><VersionId>v.9</VersionId>"
	    "<LastModified>2026-12-04T20:49:09.551Z</LastModified><Size>1</Size></Version>"
	    "<Version><Key>site/lease.json</Key><VersionId>v.3</VersionId>"
	    "<IsLatest>true</IsLatest><LastModified>2026-12-04T20:49:11.002Z</LastModified>"
	    "<ETag>\"e3\"</ETag><Size>30</Size></Version>"
	    "</ListVersionsResult>";
	const char *no_id = "<ListVersionsResult><Version><Key>site/a</Key>"
			    "<LastModified>2026-12-04T20:49:11.002Z</LastModified><Size>1</Size>"
			    "</Version></ListVersionsResult>";
	struct rv_s3_version_page pg;

	(void)state;
	assert_int_equal(rv_s3_parse_versions(body, strlen(body), "site/", &pg), 0);
	assert_int_equal(pg.n, 3);
	assert_string_equal(pg.v[0].key, "hb.json");
	assert_true(pg.v[0].delete_marker);
	assert_true(pg.v[0].is_latest);
	assert_string_equal(pg.v[0].version_id, "v.1");
	assert_string_equal(pg.v[1].key, "hb.json");
	assert_false(pg.v[1].delete_marker);
	assert_int_equal(pg.v[1].size, 293);
	assert_string_equal(pg.v[1].etag, "\"e2\"");
	assert_true(pg.v[1].mtime_ms == 1796417349551LL);
	assert_string_equal(pg.v[2].key, "lease.json");
	assert_true(pg.truncated);
	assert_string_equal(pg.next_key_marker, "site/lease.json");
	assert_string_equal(pg.next_vid_marker, "v.3");
	rv_s3_version_page_release(&pg);
	assert_int_equal(rv_s3_parse_versions(no_id, strlen(no_id), "site/", &pg), RV_ECORRUPT);
	assert_int_equal(rv_s3_parse_versions("<ListBucketResult/>", 19, "", &pg), RV_ECORRUPT);
	assert_string_equal(rv_s3_permission("list-versions"), "s3:ListBucketVersions");
	assert_string_equal(rv_s3_permission("get-version"), "s3:GetObjectVersion");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_error),	      cmocka_unit_test(test_map_access_denied),
	    cmocka_unit_test(test_map_keys),	      cmocka_unit_test(test_map_not_found),
	    cmocka_unit_test(test_map_other),	      cmocka_unit_test(test_classify),
	    cmocka_unit_test(test_parse_list),	      cmocka_unit_test(test_entities_not_expanded),
	    cmocka_unit_test(test_multipart_answers), cmocka_unit_test(test_bodies),
	    cmocka_unit_test(test_dates_and_region),  cmocka_unit_test(test_parse_versions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
