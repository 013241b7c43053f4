#!/usr/bin/python3
"""s3_versions.py - an S3 endpoint with bucket versioning and Object Lock,
for revenant's tests (standard library and Debian's python3-botocore only).
No S3 server packaged for Debian 12 or npm implements versioning (s3rver
answers PUT ?versioning with 409/NotImplemented), so this one does, in
memory, with S3's documented semantics where revenant relies on them.

  s3_versions.py --port-file F [--access-key AKID --secret-key SECRET]
                 [--region us-east-1] [--page-cap N] [--log FILE]

Serves path-style requests on 127.0.0.1 (a free port, written to
--port-file once listening):

  bucket: CreateBucket (x-amz-bucket-object-lock-enabled turns versioning
          on, as S3 does), HeadBucket, Get/PutBucketVersioning,
          Get/PutObjectLockConfiguration, ListObjectsV2, ListObjectVersions
  object: PutObject (If-None-Match: *, If-Match), GetObject/HeadObject
          (versionId, Range, If-Match, If-None-Match), DeleteObject
          (versionId; without it a delete marker in a versioned bucket),
          multipart upload (create, part, complete, abort)

Versioning as S3 has it: never enabled, every key has one version "null"
that a PUT replaces and a DELETE removes; Enabled, a PUT adds a version with
a new id (x-amz-version-id) and a DELETE without versionId adds a delete
marker (GET then 404 with x-amz-delete-marker: true); a DELETE with a
versionId removes that version for good, unless Object Lock retains it
(403 AccessDenied; governance mode yields to
x-amz-bypass-governance-retention: true); with a default retention an upload
without Content-MD5 (or an x-amz-checksum-*) is 400 InvalidRequest, as on
AWS.  Object Lock on an existing bucket: allowed once versioning is Enabled,
as AWS does now (--legacy-lock: refused).  ListObjectVersions lists keys in
order and each key's versions newest first (<Version> and <DeleteMarker>
interleaved), pages at max-keys with NextKeyMarker/NextVersionIdMarker and
starts after key-marker (and version-id-marker); with a delimiter the keys
below a prefix roll up into one <CommonPrefixes>.  Errors are
<Error><Code/><Message/><RequestId/></Error> with S3's statuses.

Every request is checked the way S3 would, with botocore (the signature
check and the XML reading through awscheck.py, shared with route53.py and
kms.py), so that the fake cannot agree with a wrong request:
  - the SigV4 signature is recomputed with botocore.auth.S3SigV4Auth over
    the headers the request says it signed (the body hashed again: a wrong
    x-amz-content-sha256 fails too) and must equal the Authorization
    header: else 403 SignatureDoesNotMatch (unknown key: InvalidAccessKeyId,
    none at all: AccessDenied);
  - the request is matched to an operation of botocore's S3 service model
    (method, path, the sub-resource of its requestUri); every query
    parameter must be a querystring member of that operation's input and
    every x-amz-* header a header member; an XML body is read against the
    payload shape (every element known, S3's namespace, enums and types)
    and everything is checked with botocore's validate_parameters; an
    operation the model marks checksum-required needs a right Content-MD5.
    A request that fails: 400 InvalidArgument / MalformedXML /
    InvalidRequest / BadDigest.

Control (unsigned, not counted):
  GET  /_ctl/stats    {"requests": {op: n}, "bad_signature": n, "bad_request": n}
  GET  /_ctl/log      every API request so far: [{"op", "query", "headers", "body"}]
  POST /_ctl/deny     {"ops": ["ListObjectVersions"]}: those operations answer
                      403 AccessDenied (an IAM policy without the action)
  POST /_ctl/policy   an IAM policy document (JSON; empty: none): the one
                      identity may then do only what its Allow statements
                      grant (Action, Resource with wildcards, StringLike
                      s3:prefix), else 403 AccessDenied naming the action
  POST /_ctl/stuck    {"on": true}: ListObjectVersions pages after the first
                      hand back the markers they were given (a broken server)
  POST /_ctl/legacy-lock {"on": true}: PutObjectLockConfiguration refuses to
                      turn Object Lock on for an existing bucket (InvalidBucketState),
                      as AWS did before 2023 and other servers do
"""
import argparse
import base64
import email.utils
import fnmatch
import hashlib
import json
import os
import secrets
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

from awscheck import Fail, Model, S3SigV4Auth, SigV4

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
# An element the shape lacks: MalformedXML; a value of the wrong type or
# outside its enum, or what validate_parameters refuses: InvalidArgument.
MODEL = Model("s3", NS, bad_xml="MalformedXML", bad_value="InvalidArgument",
              tag_in_message="local")
STATUS = {
    "AccessDenied": 403, "InvalidAccessKeyId": 403, "SignatureDoesNotMatch": 403,
    "NoSuchBucket": 404, "NoSuchKey": 404, "NoSuchVersion": 404, "NoSuchUpload": 404,
    "ObjectLockConfigurationNotFoundError": 404, "MethodNotAllowed": 405,
    "BucketAlreadyOwnedByYou": 409, "InvalidBucketState": 409, "PreconditionFailed": 412,
    "InvalidRange": 416, "NotImplemented": 501, "XAmzContentSHA256Mismatch": 400,
    "InternalError": 500,
}
PUT_OPS_WITHOUT_KEY = {"versioning": "PutBucketVersioning", "object-lock": "PutObjectLockConfiguration"}
GET_OPS_WITHOUT_KEY = {"versioning": "GetBucketVersioning", "object-lock": "GetObjectLockConfiguration",
                       "versions": "ListObjectVersions", "list-type": "ListObjectsV2"}
# Headers every signed request carries that are not operation members.
SIGNING_HEADERS = {"x-amz-date", "x-amz-content-sha256", "x-amz-security-token",
                   "x-amz-user-agent"}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int(t * 1000 % 1000)


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


# ---- the model check ----------------------------------------------------------

def request_uri_fixed(op_model):
    """The sub-resource of an operation's requestUri: {'versions': ''}."""
    uri = op_model.http["requestUri"]
    if "?" not in uri:
        return {}
    return dict(urllib.parse.parse_qsl(uri.split("?", 1)[1], keep_blank_values=True))


def model_check(op, query, headers, body):
    """The request against the operation's input shape; returns the params."""
    om = MODEL.operation(op)
    shape = om.input_shape
    fixed = request_uri_fixed(om)
    for k, v in fixed.items():
        if k not in query or (v and query[k] != v):
            raise Fail("InvalidRequest", f"{op} needs ?{k}{'=' + v if v else ''}")
    qmembers, hmembers, payload = {}, {}, None
    for mname, m in shape.members.items():
        loc = m.serialization.get("location")
        if loc == "querystring":
            qmembers[m.serialization["name"]] = (mname, m)
        elif loc == "header":
            hmembers[m.serialization["name"].lower()] = (mname, m)
    pname = shape.serialization.get("payload")
    params = {}
    for k, v in query.items():
        if k in fixed or k == "x-id":
            continue
        if k not in qmembers:
            raise Fail("InvalidArgument", f"{op} has no query parameter '{k}'")
        mname, m = qmembers[k]
        params[mname] = MODEL.scalar(v, m, k)
    for k, v in headers.items():
        lk = k.lower()
        if lk in hmembers:
            mname, m = hmembers[lk]
            if m.type_name == "timestamp":
                params[mname] = v
            else:
                params[mname] = MODEL.scalar(v, m, k)
        elif lk.startswith("x-amz-") and lk not in SIGNING_HEADERS and not (
                lk.startswith("x-amz-meta-") and "Metadata" in shape.members):
            raise Fail("InvalidArgument", f"{op} has no header '{k}'")
    if pname:
        pm = shape.members[pname]
        if pm.type_name == "structure":
            if body:
                try:
                    root = ET.fromstring(body)
                except ET.ParseError as e:
                    raise Fail("MalformedXML", f"{op}: the body is not XML ({e})")
                want = pm.serialization.get("name", pname)
                if root.tag.split("}", 1)[-1] != want:
                    raise Fail("MalformedXML", f"{op}: the body is <{root.tag}>, not <{want}>")
                params[pname] = MODEL.xml_to_params(root, pm, want)
        else:
            params[pname] = body
    elif body:
        raise Fail("InvalidRequest", f"{op} takes no body")
    checksum = getattr(om, "http_checksum_required", False) or \
        (getattr(om, "http_checksum", None) or {}).get("requestChecksumRequired")
    if checksum:
        md5 = headers.get("Content-MD5")
        if md5 is None:
            raise Fail("InvalidRequest", "Missing required header for this request: Content-MD5")
        if md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
            raise Fail("BadDigest", "The Content-MD5 you specified did not match what we received.")
    return params


# ---- IAM: the one identity's policy, evaluated as AWS would (Allow only) ----

BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket", "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket", "ListObjectVersions": "s3:ListBucketVersions",
    "CreateBucket": "s3:CreateBucket", "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}
OBJECT_ACTIONS = {
    "PutObject": "s3:PutObject", "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject", "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject", "DeleteObject": "s3:DeleteObject",
}


def iam_action(op, q):
    a = BUCKET_ACTIONS.get(op) or OBJECT_ACTIONS.get(op, "s3:" + op)
    if "versionId" in q and a in ("s3:GetObject", "s3:DeleteObject"):
        a += "Version"  # s3:GetObjectVersion, s3:DeleteObjectVersion
    return a


def iam_allows(policy, action, resource, q):
    def listed(v):
        return v if isinstance(v, list) else [v]
    for st in policy.get("Statement", []):
        if st.get("Effect") != "Allow":
            continue
        if not any(fnmatch.fnmatchcase(action, a) for a in listed(st.get("Action", []))):
            continue
        if not any(fnmatch.fnmatchcase(resource, r) for r in listed(st.get("Resource", []))):
            continue
        ok = True
        for test, kv in (st.get("Condition") or {}).items():
            for k, vals in kv.items():
                if test != "StringLike" or k != "s3:prefix":
                    raise Fail("InternalError", f"the fake knows no condition {test} {k}")
                ok = ok and any(fnmatch.fnmatchcase(q.get("prefix", ""), v) for v in listed(vals))
        if ok:
            return True
    return False


# ---- the store -----------------------------------------------------------------

class Version:
    def __init__(self, vid, body, marker, ctype="binary/octet-stream", retain=None):
        self.vid, self.body, self.marker, self.ctype = vid, body, marker, ctype
        self.mtime = time.time()
        self.etag = '"%s"' % hashlib.md5(body or b"").hexdigest()
        self.retain = retain  # (mode, until) under Object Lock


class Bucket:
    def __init__(self, lock):
        self.versioning = "Enabled" if lock else None  # None: never enabled
        self.lock_enabled = lock
        self.lock_rule = None  # {"Mode": ..., "Days": n} or None
        self.keys = {}  # key -> [Version], newest first
        self.uploads = {}


class S3:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.buckets = {}
        self.deny = set()
        self.policy = None  # an IAM policy document: only what it allows
        self.legacy_lock = args.legacy_lock
        self.stuck = False
        self.log = []
        self.stats = {"requests": {}, "bad_signature": 0, "bad_request": 0}
        self.sigv4 = SigV4(
            "s3", args.region, args.access_key, args.secret_key, signer=S3SigV4Auth,
            incomplete="AccessDenied", invalid="AccessDenied", content_sha256=True,
            required=("host", "x-amz-date", "x-amz-content-sha256"), max_skew=900, errors={
                "anonymous": ("AccessDenied", "Anonymous access is not allowed"),
                "missing": (None, "Authorization header or X-Amz-Date malformed"),
                "access_key": ("InvalidAccessKeyId", "The AWS Access Key Id you provided does "
                               "not exist in our records."),
                "scope": ("AuthorizationHeaderMalformed", "the region '{region}' is wrong; "
                          "expecting '{want_region}'"),
                "required": (None, "host, x-amz-date and x-amz-content-sha256 must be signed"),
                "unsigned": (None, "There were headers present in the request which were not "
                             "signed: {h}"),
                "content_sha256": ("XAmzContentSHA256Mismatch", None),
                "expired": ("RequestTimeTooSkewed", "The difference between the request time "
                            "and the current time is too large."),
                "signature": ("SignatureDoesNotMatch", "The request signature we calculated "
                              "does not match the signature you provided. Check your key and "
                              "signing method.")})

    def new_vid(self, b):
        if b.versioning == "Enabled":
            return secrets.token_urlsafe(24).replace("-", ".")
        return "null"

    def current(self, b, key):
        vs = b.keys.get(key)
        return vs[0] if vs else None

    def add(self, b, key, v):
        vs = b.keys.setdefault(key, [])
        if v.vid == "null":
            vs[:] = [x for x in vs if x.vid != "null"]
        # One version per millisecond at most, newest first, in time order.
        if vs and v.mtime <= vs[0].mtime:
            v.mtime = vs[0].mtime + 0.001
        vs.insert(0, v)

    def retention(self, b):
        if not b.lock_rule:
            return None
        r = b.lock_rule
        days = r.get("Days") or 365 * r.get("Years", 0)
        return (r["Mode"], time.time() + days * 86400)


# ---- HTTP ------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    s3 = None

    def log_message(self, fmt, *args):
        if self.s3.args.log:
            with open(self.s3.args.log, "a", encoding="utf-8") as f:
                f.write("%s %s\n" % (self.address_string(), fmt % args))

    def send(self, code, body=b"", headers=None, ctype="application/xml"):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(code)
        self.send_header("x-amz-request-id", secrets.token_hex(8).upper())
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if code != 304 and not (headers and "Content-Length" in headers):
            self.send_header("Content-Length", str(len(body)))
        if body or code >= 300:
            self.send_header("Content-Type", ctype)
        self.end_headers()
        if self.command != "HEAD" and code != 304:
            self.wfile.write(body)

    def error(self, f):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                "<Message>%s</Message><RequestId>%s</RequestId></Error>" %
                (f.code, escape(f.message), secrets.token_hex(8).upper()))
        self.send(STATUS.get(f.code, 400), body, f.headers)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def route(self, key, q):
        m = self.command
        if key is None:
            if m == "PUT":
                for k, op in PUT_OPS_WITHOUT_KEY.items():
                    if k in q:
                        return op
                return "CreateBucket"
            if m == "GET":
                for k, op in GET_OPS_WITHOUT_KEY.items():
                    if k in q:
                        return op
                return "ListObjects"
            if m == "HEAD":
                return "HeadBucket"
            return "DeleteBucket" if m == "DELETE" else "DeleteObjects"
        if m == "PUT":
            return "UploadPart" if "uploadId" in q else "PutObject"
        if m == "POST":
            return "CreateMultipartUpload" if "uploads" in q else "CompleteMultipartUpload"
        if m == "DELETE":
            return "AbortMultipartUpload" if "uploadId" in q else "DeleteObject"
        if m == "GET":
            return "ListParts" if "uploadId" in q else "GetObject"
        return "HeadObject"

    def handle_api(self):
        s3 = self.s3
        u = urllib.parse.urlsplit(self.path)
        body = self.body()
        raw_q = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
        q = dict(raw_q)
        segs = u.path.split("/", 2)
        bucket = urllib.parse.unquote(segs[1]) if len(segs) > 1 else ""
        key = urllib.parse.unquote(segs[2]) if len(segs) > 2 and segs[2] else None
        op = self.route(key, q)
        hdrs = {k: v for k, v in self.headers.items()}
        try:
            s3.sigv4.verify_counted(self, body, s3.lock, s3.stats)
            with s3.lock:
                s3.stats["requests"][op] = s3.stats["requests"].get(op, 0) + 1
                s3.log.append({"op": op, "query": q, "headers": hdrs,
                               "body": body.decode("utf-8", "replace") if op not in
                               ("PutObject", "UploadPart") else len(body)})
            try:
                if len(raw_q) != len(q):
                    raise Fail("InvalidArgument", "a query parameter twice")
                params = model_check(op, q, hdrs, body)
                params["Bucket"] = bucket
                if key is not None:
                    params["Key"] = key
                if op in ("PutObject", "UploadPart"):
                    params["Body"] = body
                MODEL.validate(op, params)
            except Fail:
                with s3.lock:
                    s3.stats["bad_request"] += 1
                raise
            if op in s3.deny:
                raise Fail("AccessDenied", "Access Denied")
            if s3.policy is not None:
                action = iam_action(op, q)
                res = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None and
                                                   op not in BUCKET_ACTIONS else "")
                if not iam_allows(s3.policy, action, res, q):
                    with s3.lock:
                        s3.stats.setdefault("denied", []).append(f"{action} {res}")
                    raise Fail("AccessDenied", f"not authorized to perform: {action} on "
                               f"resource: {res}")
            fn = getattr(self, "op_" + op, None)
            if not fn:
                raise Fail("NotImplemented", f"{op} is not implemented by this fake")
            with s3.lock:
                if op != "CreateBucket":
                    b = s3.buckets.get(bucket)
                    if b is None:
                        raise Fail("NoSuchBucket", "The specified bucket does not exist")
                else:
                    b = None
                res = fn(b, bucket, key, q, params, body)
            self.send(*res)
        except Fail as f:
            self.error(f)

    # ---- bucket operations ----
    def op_CreateBucket(self, b, name, key, q, p, body):
        if name in self.s3.buckets:
            raise Fail("BucketAlreadyOwnedByYou", "Your previous request to create the named "
                       "bucket succeeded and you already own it.")
        loc = (p.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
        if (self.s3.args.region == "us-east-1") != (loc is None) or \
                (loc and loc != self.s3.args.region):
            raise Fail("IllegalLocationConstraintException", "The location constraint is "
                       "incompatible with the region-specific endpoint this request was sent to.")
        self.s3.buckets[name] = Bucket(p.get("ObjectLockEnabledForBucket", False))
        return (200, b"", {"Location": "/" + name})

    def op_HeadBucket(self, b, name, key, q, p, body):
        return (200, b"", {"x-amz-bucket-region": self.s3.args.region})

    def op_GetBucketVersioning(self, b, name, key, q, p, body):
        st = f"<Status>{b.versioning}</Status>" if b.versioning else ""
        return (200, f'<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration '
                f'xmlns="{NS}">{st}</VersioningConfiguration>')

    def op_PutBucketVersioning(self, b, name, key, q, p, body):
        st = p["VersioningConfiguration"].get("Status")
        if b.lock_enabled and st == "Suspended":
            raise Fail("InvalidBucketState", "An Object Lock configuration is present on this "
                       "bucket, so the versioning state cannot be changed.")
        if st:
            b.versioning = st
        return (200, b"")

    def op_PutObjectLockConfiguration(self, b, name, key, q, p, body):
        if not b.lock_enabled:
            # AWS turns Object Lock on for an existing bucket when versioning
            # is Enabled (since 2023); before, and on other servers, only with
            # a token from support (--legacy-lock, POST /_ctl/legacy-lock).
            if self.s3.legacy_lock and not p.get("Token"):
                raise Fail("InvalidBucketState", "Object Lock configuration cannot be "
                           "enabled on existing buckets")
            if b.versioning != "Enabled":
                raise Fail("InvalidBucketState", "Versioning must be 'Enabled' on the bucket "
                           "to apply a Object Lock configuration")
            b.lock_enabled = True
        c = p["ObjectLockConfiguration"]
        if c.get("ObjectLockEnabled") != "Enabled":
            raise Fail("MalformedXML", "ObjectLockEnabled must be Enabled")
        rule = (c.get("Rule") or {}).get("DefaultRetention")
        if rule is not None:
            if ("Days" in rule) == ("Years" in rule) or "Mode" not in rule:
                raise Fail("MalformedXML", "DefaultRetention needs Mode and one of Days, Years")
            if rule.get("Days", 1) < 1 or rule.get("Years", 1) < 1:
                raise Fail("InvalidArgument", "Default retention period must be a positive "
                           "integer value.")
        b.lock_rule = rule
        return (200, b"")

    def op_GetObjectLockConfiguration(self, b, name, key, q, p, body):
        if not b.lock_enabled:
            raise Fail("ObjectLockConfigurationNotFoundError", "Object Lock configuration "
                       "does not exist for this bucket")
        rule = ""
        if b.lock_rule:
            r = b.lock_rule
            n = f"<Days>{r['Days']}</Days>" if "Days" in r else f"<Years>{r['Years']}</Years>"
            rule = f"<Rule><DefaultRetention><Mode>{r['Mode']}</Mode>{n}</DefaultRetention></Rule>"
        return (200, f'<ObjectLockConfiguration xmlns="{NS}"><ObjectLockEnabled>Enabled'
                f'</ObjectLockEnabled>{rule}</ObjectLockConfiguration>')

    def op_ListObjectsV2(self, b, name, key, q, p, body):
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        maxk = min(int(q.get("max-keys", 1000)), self.s3.args.page_cap)
        after = q.get("start-after", "")
        tok = q.get("continuation-token")
        if tok:
            try:
                after = base64.urlsafe_b64decode(tok.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise Fail("InvalidArgument", "The continuation token provided is incorrect")
        out, prefixes, last, trunc = [], [], None, False
        for k in sorted(b.keys):
            cur = b.keys[k][0]
            if cur.marker or not k.startswith(prefix) or k <= after:
                continue
            if delim and delim in k[len(prefix):]:
                cp = k[:len(prefix) + k[len(prefix):].index(delim) + len(delim)]
                if after.startswith(cp) or (prefixes and prefixes[-1] == cp):
                    continue
                if len(out) + len(prefixes) == maxk:
                    trunc = True
                    break
                prefixes.append(cp)
                last = cp + "\U0010ffff"
                continue
            if len(out) + len(prefixes) == maxk:
                trunc = True
                break
            out.append((k, cur))
            last = k
        x = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="{NS}">',
             f"<Name>{escape(name)}</Name><Prefix>{escape(prefix)}</Prefix>",
             f"<KeyCount>{len(out) + len(prefixes)}</KeyCount><MaxKeys>{maxk}</MaxKeys>"]
        if delim:
            x.append(f"<Delimiter>{escape(delim)}</Delimiter>")
        x.append(f"<IsTruncated>{'true' if trunc else 'false'}</IsTruncated>")
        if tok:
            x.append(f"<ContinuationToken>{escape(tok)}</ContinuationToken>")
        if trunc:
            nt = base64.urlsafe_b64encode(last.encode()).decode()
            x.append(f"<NextContinuationToken>{nt}</NextContinuationToken>")
        for k, v in out:
            x.append(f"<Contents><Key>{escape(k)}</Key><LastModified>{iso(v.mtime)}"
                     f"</LastModified><ETag>{escape(v.etag)}</ETag><Size>{len(v.body)}</Size>"
                     "<StorageClass>STANDARD</StorageClass></Contents>")
        for cp in prefixes:
            x.append(f"<CommonPrefixes><Prefix>{escape(cp)}</Prefix></CommonPrefixes>")
        x.append("</ListBucketResult>")
        return (200, "".join(x))

    def op_ListObjectVersions(self, b, name, key, q, p, body):
        prefix, delim = q.get("prefix", ""), q.get("delimiter", "")
        maxk = min(int(q.get("max-keys", 1000)), self.s3.args.page_cap)
        km, vm = q.get("key-marker", ""), q.get("version-id-marker", "")
        if vm and not km:
            raise Fail("InvalidArgument", "A version-id marker cannot be specified without a "
                       "key marker.")
        if self.s3.stuck and km:
            # A broken server: every later page claims to start where the
            # one asked for starts.
            return (200, f'<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult '
                    f'xmlns="{NS}"><Name>{escape(name)}</Name><Prefix>{escape(prefix)}</Prefix>'
                    f'<KeyMarker>{escape(km)}</KeyMarker><NextKeyMarker>{escape(km)}'
                    f'</NextKeyMarker>' + (f'<NextVersionIdMarker>{escape(vm)}'
                                           '</NextVersionIdMarker>' if vm else '') +
                    '<MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated></ListVersionsResult>')
        entries, prefixes, trunc, nxt = [], [], False, None
        for k in sorted(b.keys):
            if not k.startswith(prefix) or k < km:
                continue
            if delim and km.endswith(delim) and k.startswith(km):
                continue  # rolled up into the prefix the last page ended with
            vs = b.keys[k]
            start = 0
            if k == km:
                if not vm:
                    continue
                ids = [v.vid for v in vs]
                if vm not in ids:
                    raise Fail("InvalidArgument", "Invalid version id specified")
                start = ids.index(vm) + 1
            if delim and delim in k[len(prefix):]:
                cp = k[:len(prefix) + k[len(prefix):].index(delim) + len(delim)]
                if prefixes and prefixes[-1] == cp:
                    continue
                if len(entries) + len(prefixes) == maxk:
                    trunc = True
                    break
                prefixes.append(cp)
                nxt = (cp, "")
                continue
            for i in range(start, len(vs)):
                if len(entries) + len(prefixes) == maxk:
                    trunc = True
                    break
                entries.append((k, vs[i], i == 0))
                nxt = (k, vs[i].vid)
            if trunc:
                break
        x = [f'<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="{NS}">',
             f"<Name>{escape(name)}</Name><Prefix>{escape(prefix)}</Prefix>",
             f"<KeyMarker>{escape(km)}</KeyMarker><VersionIdMarker>{escape(vm)}"
             f"</VersionIdMarker>"]
        if trunc:
            x.append(f"<NextKeyMarker>{escape(nxt[0])}</NextKeyMarker>")
            if nxt[1]:
                x.append(f"<NextVersionIdMarker>{escape(nxt[1])}</NextVersionIdMarker>")
        x.append(f"<MaxKeys>{maxk}</MaxKeys>")
        if delim:
            x.append(f"<Delimiter>{escape(delim)}</Delimiter>")
        x.append(f"<IsTruncated>{'true' if trunc else 'false'}</IsTruncated>")
        owner = "<Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a" \
                "</ID><DisplayName>revenant</DisplayName></Owner>"
        for k, v, latest in entries:
            lat = "true" if latest else "false"
            if v.marker:
                x.append(f"<DeleteMarker><Key>{escape(k)}</Key><VersionId>{escape(v.vid)}"
                         f"</VersionId><IsLatest>{lat}</IsLatest><LastModified>{iso(v.mtime)}"
                         f"</LastModified>{owner}</DeleteMarker>")
            else:
                x.append(f"<Version><Key>{escape(k)}</Key><VersionId>{escape(v.vid)}"
                         f"</VersionId><IsLatest>{lat}</IsLatest><LastModified>{iso(v.mtime)}"
                         f"</LastModified><ETag>{escape(v.etag)}</ETag><Size>{len(v.body)}"
                         f"</Size><StorageClass>STANDARD</StorageClass>{owner}</Version>")
        for cp in prefixes:
            x.append(f"<CommonPrefixes><Prefix>{escape(cp)}</Prefix></CommonPrefixes>")
        x.append("</ListVersionsResult>")
        return (200, "".join(x))

    # ---- object operations ----
    def version_headers(self, b, v):
        h = {}
        if b.versioning:
            h["x-amz-version-id"] = v.vid
        return h

    def op_PutObject(self, b, name, key, q, p, body):
        cur = self.s3.current(b, key)
        live = cur is not None and not cur.marker
        if p.get("IfNoneMatch") is not None:
            if p["IfNoneMatch"] != "*":
                raise Fail("NotImplemented", "If-None-Match on PUT takes only *")
            if live:
                raise Fail("PreconditionFailed", "At least one of the pre-conditions you "
                           "specified did not hold")
        if p.get("IfMatch") is not None:
            if not live:
                raise Fail("NoSuchKey", "The specified key does not exist.")
            if p["IfMatch"] != cur.etag:
                raise Fail("PreconditionFailed", "At least one of the pre-conditions you "
                           "specified did not hold")
        self.need_md5(b, body)
        v = Version(self.s3.new_vid(b), body, False, p.get("ContentType", "binary/octet-stream"),
                    self.s3.retention(b))
        self.s3.add(b, key, v)
        h = {"ETag": v.etag}
        h.update(self.version_headers(b, v))
        return (200, b"", h)

    def find(self, b, key, vid):
        vs = b.keys.get(key)
        if vid is None:
            if not vs:
                raise Fail("NoSuchKey", "The specified key does not exist.")
            if vs[0].marker:
                raise Fail("NoSuchKey", "The specified key does not exist.",
                           headers={"x-amz-delete-marker": "true",
                                    "x-amz-version-id": vs[0].vid})
            return vs[0]
        for v in vs or []:
            if v.vid == vid:
                if v.marker:
                    raise Fail("MethodNotAllowed", "The specified method is not allowed "
                               "against this resource.",
                               headers={"x-amz-delete-marker": "true", "x-amz-version-id": vid,
                                "Allow": "DELETE"})
                return v
        raise Fail("NoSuchVersion", "The specified version does not exist.")

    def op_GetObject(self, b, name, key, q, p, body, head=False):
        v = self.find(b, key, q.get("versionId"))
        h = {"ETag": v.etag, "Last-Modified": http_date(v.mtime), "Accept-Ranges": "bytes"}
        h.update(self.version_headers(b, v))
        if v.retain:
            h["x-amz-object-lock-mode"] = v.retain[0]
            h["x-amz-object-lock-retain-until-date"] = iso(v.retain[1])
        if p.get("IfMatch") is not None and p["IfMatch"] != v.etag:
            raise Fail("PreconditionFailed", "At least one of the pre-conditions you specified "
                       "did not hold")
        if p.get("IfNoneMatch") is not None and p["IfNoneMatch"] in (v.etag, "*"):
            return (304, b"", h)
        data, code = v.body, 200
        rng = p.get("Range")
        if rng:
            if not rng.startswith("bytes=") or "," in rng:
                raise Fail("InvalidArgument", f"unsupported Range '{rng}'")
            a, _, z = rng[6:].partition("-")
            size = len(data)
            if a == "":
                first, last = max(0, size - int(z)), size - 1
            else:
                first = int(a)
                last = min(int(z), size - 1) if z else size - 1
            if first >= size or first > last:
                h["Content-Range"] = f"bytes */{size}"
                raise Fail("InvalidRange", "The requested range is not satisfiable", headers=h)
            data, code = data[first:last + 1], 206
            h["Content-Range"] = f"bytes {first}-{last}/{size}"
        h["Content-Length"] = str(len(data))
        return (code, b"" if head else data, h, v.ctype)

    def op_HeadObject(self, b, name, key, q, p, body):
        try:
            return self.op_GetObject(b, name, key, q, p, body, head=True)
        except Fail as f:
            f.message = ""  # a HEAD answer has no body
            raise

    def op_DeleteObject(self, b, name, key, q, p, body):
        vid = q.get("versionId")
        vs = b.keys.get(key, [])
        if vid is None:
            if b.versioning:
                m = Version(self.s3.new_vid(b), None, True)
                self.s3.add(b, key, m)
                return (204, b"", {"x-amz-delete-marker": "true", "x-amz-version-id": m.vid})
            b.keys.pop(key, None)
            return (204, b"")
        for i, v in enumerate(vs):
            if v.vid != vid:
                continue
            if v.retain and v.retain[1] > time.time() and not (
                    v.retain[0] == "GOVERNANCE" and p.get("BypassGovernanceRetention")):
                raise Fail("AccessDenied", "Access Denied because object protected by object "
                           "lock.")
            del vs[i]
            if not vs:
                del b.keys[key]
            h = {"x-amz-version-id": vid}
            if v.marker:
                h["x-amz-delete-marker"] = "true"
            return (204, b"", h)
        if vid != "null":
            raise Fail("InvalidArgument", "Invalid version id specified")
        return (204, b"")

    # ---- multipart ----
    def op_CreateMultipartUpload(self, b, name, key, q, p, body):
        uid = secrets.token_urlsafe(32)
        b.uploads[uid] = {"key": key, "parts": {}, "ctype": p.get("ContentType")}
        return (200, f'<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult '
                f'xmlns="{NS}"><Bucket>{escape(name)}</Bucket><Key>{escape(key)}</Key>'
                f'<UploadId>{uid}</UploadId></InitiateMultipartUploadResult>')

    def upload(self, b, key, q):
        u = b.uploads.get(q.get("uploadId"))
        if not u or u["key"] != key:
            raise Fail("NoSuchUpload", "The specified upload does not exist.")
        return u

    def need_md5(self, b, body):
        if b.lock_rule and "Content-MD5" not in self.headers and not any(
                h.lower().startswith("x-amz-checksum-") for h in self.headers.keys()):
            raise Fail("InvalidRequest", "Content-MD5 OR x-amz-checksum- HTTP header is required "
                       "for Put Object requests with Object Lock parameters")
        if "Content-MD5" in self.headers and self.headers["Content-MD5"] != \
                base64.b64encode(hashlib.md5(body).digest()).decode():
            raise Fail("BadDigest", "The Content-MD5 you specified did not match what we "
                       "received.")

    def op_UploadPart(self, b, name, key, q, p, body):
        u = self.upload(b, key, q)
        self.need_md5(b, body)
        n = int(q["partNumber"])
        if not 1 <= n <= 10000:
            raise Fail("InvalidArgument", "Part number must be an integer between 1 and 10000")
        etag = '"%s"' % hashlib.md5(body).hexdigest()
        u["parts"][n] = (etag, body)
        return (200, b"", {"ETag": etag})

    def op_CompleteMultipartUpload(self, b, name, key, q, p, body):
        u = self.upload(b, key, q)
        parts = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not parts:
            raise Fail("MalformedXML", "no parts")
        data, md5s, prev = [], b"", 0
        for i, part in enumerate(parts):
            n = part.get("PartNumber")
            if n is None or n <= prev:
                raise Fail("InvalidPartOrder", "The list of parts was not in ascending order.")
            prev = n
            got = u["parts"].get(n)
            if not got or got[0] != part.get("ETag"):
                raise Fail("InvalidPart", "One or more of the specified parts could not be found.")
            if i < len(parts) - 1 and len(got[1]) < 5 << 20:
                raise Fail("EntityTooSmall", "Your proposed upload is smaller than the minimum "
                           "allowed object size.")
            data.append(got[1])
            md5s += bytes.fromhex(got[0].strip('"'))
        v = Version(self.s3.new_vid(b), b"".join(data), False,
                    u["ctype"] or "binary/octet-stream", self.s3.retention(b))
        v.etag = '"%s-%d"' % (hashlib.md5(md5s).hexdigest(), len(parts))
        self.s3.add(b, key, v)
        del b.uploads[q["uploadId"]]
        h = self.version_headers(b, v)
        return (200, f'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult '
                f'xmlns="{NS}"><Bucket>{escape(name)}</Bucket><Key>{escape(key)}</Key>'
                f'<ETag>{escape(v.etag)}</ETag></CompleteMultipartUploadResult>', h)

    def op_AbortMultipartUpload(self, b, name, key, q, p, body):
        self.upload(b, key, q)
        del b.uploads[q["uploadId"]]
        return (204, b"")

    # ---- control ----
    def handle_ctl(self):
        s3 = self.s3
        body = self.body()
        with s3.lock:
            if self.path == "/_ctl/stats":
                return self.send(200, json.dumps(s3.stats), ctype="application/json")
            if self.path == "/_ctl/log":
                return self.send(200, json.dumps(s3.log), ctype="application/json")
            if self.path == "/_ctl/stuck" and self.command == "POST":
                s3.stuck = bool(json.loads(body)["on"])
                return self.send(200, "{}", ctype="application/json")
            if self.path == "/_ctl/legacy-lock" and self.command == "POST":
                s3.legacy_lock = bool(json.loads(body)["on"])
                return self.send(200, "{}", ctype="application/json")
            if self.path == "/_ctl/policy" and self.command == "POST":
                s3.policy = json.loads(body) if body.strip() else None
                return self.send(200, "{}", ctype="application/json")
            if self.path == "/_ctl/deny" and self.command == "POST":
                s3.deny = set(json.loads(body)["ops"])
                return self.send(200, "{}", ctype="application/json")
        return self.send(404, "{}", ctype="application/json")

    def dispatch(self):
        if self.path.startswith("/_ctl/"):
            return self.handle_ctl()
        return self.handle_api()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = dispatch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--access-key", default="AKIDREVENANTS3")
    ap.add_argument("--secret-key", default="revenant/s3+fake/secret")
    ap.add_argument("--region", default="us-east-1")
    ap.add_argument("--page-cap", type=int, default=1000,
                    help="at most this many entries a listing page (S3 may return "
                    "fewer than max-keys): exercises the clients' paging")
    ap.add_argument("--legacy-lock", action="store_true",
                    help="refuse Object Lock on an existing bucket (AWS before 2023)")
    ap.add_argument("--log")
    args = ap.parse_args()
    Handler.s3 = S3(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
