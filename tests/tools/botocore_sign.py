#!/usr/bin/python3
"""Sign a fixed set of S3, STS and Route 53 requests with botocore and write
the inputs and botocore's answers to a JSON file, for
tests/unit/aws/test_sigv4_botocore.c to check revenant's signer against.

Run with Debian's /usr/bin/python3 and python3-botocore:
    /usr/bin/python3 tests/tools/botocore_sign.py OUT.json

The clock is fixed, so the output is deterministic.  The keys are made up."""

import datetime
import hashlib
import json
import sys
import types

try:
    import botocore
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.utils import percent_encode, percent_encode_sequence
except ImportError as e:
    sys.exit(f"botocore_sign.py: cannot import botocore ({e}); "
             "install Debian's python3-botocore and run with /usr/bin/python3")

WHEN = datetime.datetime(2024, 5, 17, 9, 30, 12)
WHEN_EPOCH = 1715938212

ACCESS = "TESTKEYID-NOT-A-REAL-KEY"
SECRET = "test-secret/not-a-real-key+plus"
TOKEN = ("test-session-token//////////not-real+example/token+"
         "with/slashes+and+plus==")


class _FixedDateTime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return WHEN


# botocore reads the clock as datetime.datetime.utcnow() in botocore.auth.
botocore.auth.datetime = types.SimpleNamespace(datetime=_FixedDateTime)
assert int(WHEN.replace(tzinfo=datetime.timezone.utc).timestamp()) == WHEN_EPOCH


def _capture(cls):
    class Capturing(cls):
        def canonical_request(self, request):
            self.last_cr = super().canonical_request(request)
            return self.last_cr

        def string_to_sign(self, request, canonical_request):
            self.last_sts = super().string_to_sign(request, canonical_request)
            return self.last_sts
    return Capturing


S3Auth = _capture(S3SigV4Auth)
PlainAuth = _capture(SigV4Auth)


def s3_key_path(key, bucket=None):
    # What botocore's serializer does with a Key: quote with '/' and '~' safe.
    p = "/" + percent_encode(key, safe="/~")
    return ("/" + bucket + p) if bucket else p


cases = []


def add(name, *, service, region, method, host, path, query=None, headers=(), body=b"",
        s3=False, unsigned=False, token=False, scheme="https"):
    url = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    hdrs = [("Host", host)] + list(headers)
    req = AWSRequest(method=method, url=url, data=body)
    for k, v in hdrs:
        req.headers[k] = v  # HTTPHeaders appends: repeated names stay repeated
    if unsigned:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    creds = Credentials(ACCESS, SECRET, TOKEN if token else None)
    auth = (S3Auth if s3 else PlainAuth)(creds, service, region)
    auth.add_auth(req)
    cases.append({
        "name": name,
        "s3": s3,
        "service": service,
        "region": region,
        "when": WHEN_EPOCH,
        "method": method,
        "path": path,
        "query": query,
        "headers": [[k, v] for k, v in hdrs],
        "body_hex": body.hex(),
        "payload_hash": "UNSIGNED-PAYLOAD" if unsigned else None,
        "access_key_id": ACCESS,
        "secret_access_key": SECRET,
        "session_token": TOKEN if token else None,
        "expected": {
            "authorization": req.headers["Authorization"],
            "amz_date": req.headers["X-Amz-Date"],
            "content_sha256": req.headers.get("X-Amz-Content-SHA256"),
            "security_token": req.headers.get("X-Amz-Security-Token"),
            "canonical_request": auth.last_cr,
            "string_to_sign": auth.last_sts,
        },
    })


VH = "ghost-dr.s3.eu-west-1.amazonaws.com"
PS = "127.0.0.1:9000"


def s3(name, method, key, query=None, headers=(), body=b"", **kw):
    add(name, service="s3", region="eu-west-1", method=method, host=VH,
        path=s3_key_path(key) if key is not None else "/", query=query, headers=headers,
        body=body, s3=True, **kw)


s3("get-simple", "GET", "generations/0001/manifest.json")
s3("get-spaces", "GET", "my folder/file name  two.txt")
s3("get-unicode", "GET", "données/été/ファイル.txt")
s3("get-plus", "GET", "a+b/c+d+.json")
s3("get-tilde", "GET", "~user/x~y")
s3("get-percent", "GET", "100%/50%25done")
s3("get-equals", "GET", "k=v/a==b")
s3("get-nested-slashes", "GET", "a//b///c/")
s3("get-dot-segments", "GET", "a/./b/../c")
s3("get-specials", "GET", "!$&'()*,;:@[] ?#.txt")
s3("get-range", "GET", "content/images/2024/05/photo.jpg",
   headers=[("Range", "bytes=0-1048575")])
s3("head", "HEAD", "content/images/x.png")
s3("delete", "DELETE", "generations/0001/db.sql.zst")
s3("list-v2", "GET", None, query=percent_encode_sequence([
    ("list-type", "2"), ("prefix", "a/b"), ("max-keys", "1000")]))
s3("list-v2-continuation", "GET", None, query=percent_encode_sequence([
    ("list-type", "2"), ("prefix", "generations/"),
    ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=+~"),
    ("delimiter", "/")]))
s3("list-v2-empty-prefix", "GET", None, query="list-type=2&prefix=&encoding-type=url")
s3("create-multipart", "POST", "big/db.sql.zst", query="uploads",
   headers=[("Content-Type", "application/zstd")])
s3("upload-part-unsigned", "PUT", "big/db.sql.zst",
   query=percent_encode_sequence([("partNumber", "3"),
                                  ("uploadId", "VXBsb2FkIElEIGZvciBlbHZpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA--")]),
   headers=[("Content-Length", "5242880")], unsigned=True)
complete = (b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>'
            b'<ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part></CompleteMultipartUpload>')
s3("complete-multipart", "POST", "big/db.sql.zst",
   query="uploadId=VXBsb2FkIElE.x_y-z~", body=complete,
   headers=[("Content-Type", "application/xml"), ("If-None-Match", "*")])
s3("abort-multipart", "DELETE", "big/db.sql.zst", query="uploadId=abc%2Fdef%3D%3D")
s3("put-unsigned", "PUT", "content/images/a b.png",
   headers=[("Content-Type", "image/png"), ("Content-Length", "1234"),
            ("If-None-Match", "*")], unsigned=True)
s3("put-body-hash", "PUT", "lease.json", body=b'{"epoch":7,"holder":"site-a"}\n',
   headers=[("Content-Type", "application/json"), ("If-Match", '"9b2cf535f27731c974343645a3985328"')])
s3("put-meta-spaces", "PUT", "meta.txt", body=b"x",
   headers=[("X-Amz-Meta-Note", "  several   spaced    words  "),
            ("X-Amz-Meta-Tag", "one"), ("X-Amz-Meta-Tag", "two"),
            ("User-Agent", "revenant/0.1 (not signed)")])
s3("get-token", "GET", "generations/0002/manifest.json", token=True)
s3("put-token-unsigned", "PUT", "generations/0002/blob", headers=[("Content-Length", "10")],
   unsigned=True, token=True)
s3("put-versioning", "PUT", None, query="versioning",
   body=b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b'<Status>Enabled</Status></VersioningConfiguration>')
s3("get-location", "GET", None, query="location")
add("path-style-port", service="s3", region="us-east-1", method="GET", host=PS,
    path=s3_key_path("dir/a b+c.txt", bucket="bucket"), s3=True, scheme="http")
add("path-style-create-bucket", service="s3", region="us-east-1", method="PUT", host=PS,
    path="/new-bucket", s3=True, scheme="http")

STS_BODY = percent_encode_sequence([
    ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"),
    ("RoleArn", "arn:aws:iam::123456789012:role/revenant"),
    ("RoleSessionName", "revenant-pod 1"),
    ("WebIdentityToken", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln+/="),
]).encode()
for region, token in (("us-east-1", False), ("eu-west-1", True)):
    add(f"sts-web-identity-{region}{'-token' if token else ''}", service="sts",
        region=region, method="POST", host=f"sts.{region}.amazonaws.com", path="/",
        headers=[("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")],
        body=STS_BODY, token=token)

R53_BODY = b"""<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/">
<ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet>
<Name>blog.example.com.</Name><Type>A</Type><TTL>60</TTL>
<ResourceRecords><ResourceRecord><Value>203.0.113.7</Value></ResourceRecord></ResourceRecords>
</ResourceRecordSet></Change></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>
"""
add("route53-change-rrsets", service="route53", region="us-east-1", method="POST",
    host="route53.amazonaws.com", path="/2013-04-01/hostedzone/Z1D633PJN98FT9/rrset",
    headers=[("Content-Type", "text/xml")], body=R53_BODY)
add("route53-change-rrsets-token", service="route53", region="us-east-1", method="POST",
    host="route53.amazonaws.com", path="/2013-04-01/hostedzone/Z1D633PJN98FT9/rrset/",
    headers=[("Content-Type", "text/xml")], body=R53_BODY, token=True)
add("route53-get-change", service="route53", region="us-east-1", method="GET",
    host="route53.amazonaws.com", path="/2013-04-01/change/C2682N5HXP0BZ4")
add("route53-list-rrsets", service="route53", region="us-east-1", method="GET",
    host="route53.amazonaws.com", path="/2013-04-01/hostedzone/Z1D633PJN98FT9/rrset",
    query="name=blog.example.com.&type=A&maxitems=1")
# Non-S3 paths are normalised and encoded a second time.
add("generic-double-encode", service="execute-api", region="eu-central-1", method="GET",
    host="abc123.execute-api.eu-central-1.amazonaws.com",
    path="/stage//a%20b/./c/../d%2Fe~", query="q=%E2%9C%93&z=&a=1")

if len(sys.argv) != 2:
    sys.exit("usage: botocore_sign.py OUT.json")
with open(sys.argv[1], "w", encoding="utf-8") as f:
    json.dump({"botocore_version": botocore.__version__, "cases": cases}, f, indent=1,
              ensure_ascii=False)
print(f"botocore {botocore.__version__}: wrote {len(cases)} signed requests to {sys.argv[1]}")
