"""awscheck.py - the request checks the botocore-checked AWS fakes share
(route53.py, s3_versions.py, kms.py; standard library and Debian's
python3-botocore only, run by /usr/bin/python3).

  Fail       an error answer: code (S3's and Route 53's <Code>, KMS's
             __type), message, and what a fake adds to its answer
             (messages: Route 53's InvalidChangeBatch list; headers: S3's)
  SigV4      the SigV4 signature recomputed with botocore's signer
             (SigV4Auth, or S3SigV4Auth) at the request's own X-Amz-Date
             over the headers the request says it signed; it must equal the
             Authorization header.  Each check answers with the service's
             own error code and message (the errors table below, overridden
             a check at a time by the fake).
  Model      a service's botocore model: an XML element read against an
             input shape (every element known, in the service's namespace,
             typed, enums), a query or header value read against a scalar
             shape, and botocore's validate_parameters; a failure is Fail
             with the service's error code for that kind of bad input.

Importing this module patches botocore.auth's clock (see _Clock); without
botocore the fake exits naming itself and the Debian package.
"""
import datetime
import hashlib
import os
import sys
import threading
import types

try:
    import botocore
    import botocore.auth
    import botocore.session
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters
except ImportError as e:  # pragma: no cover
    sys.exit(f"{os.path.basename(sys.argv[0])}: cannot import botocore ({e}); "
             "apt-get install python3-botocore")


__all__ = ["Fail", "Model", "S3SigV4Auth", "SigV4", "SigV4Auth"]


class Fail(Exception):
    def __init__(self, code, message, messages=None, headers=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.messages, self.headers = messages, headers or {}


# botocore reads the clock as datetime.datetime.utcnow() in botocore.auth;
# the fakes sign at the request's own X-Amz-Date (under SIGN_LOCK).
class _Clock(datetime.datetime):
    when = None

    @classmethod
    def utcnow(cls):
        return cls.when


botocore.auth.datetime = types.SimpleNamespace(datetime=_Clock)
SIGN_LOCK = threading.Lock()


class SigV4:
    """The signature check of one service.  incomplete: the code for a
    missing or malformed Authorization header or X-Amz-Date; invalid: the
    code for every other failed check; errors: {check: (code, message)}
    where a service answers otherwise (None for either: the default below;
    "anonymous" set: a request without Authorization gets that answer;
    "date": None: a malformed X-Amz-Date is not caught, the ValueError
    escapes and the connection drops, as kms.py always did).  A message is
    formatted with h (the header), date, region and service (the request's
    scope), want_region and want_service."""

    def __init__(self, service, region, access_key, secret_key, *, incomplete, invalid,
                 errors=None, signer=SigV4Auth, required=("host", "x-amz-date"),
                 max_skew=300, content_sha256=False):
        self.service, self.region = service, region
        self.access_key, self.secret_key = access_key, secret_key
        self.signer, self.required, self.max_skew = signer, required, max_skew
        # S3: x-amz-content-sha256 must be signed and match the body (or be
        # UNSIGNED-PAYLOAD); the signer adds it itself.
        self.content_sha256 = content_sha256
        self.errors = {
            "anonymous": None,  # no Authorization at all: as "missing"
            "missing": (incomplete, "Authorization header or X-Amz-Date missing"),
            "malformed": (incomplete, "malformed Authorization header"),
            "access_key": (invalid, "The security token included in the request is invalid."),
            "scope": (invalid, "Credential should be scoped to {want_region}/{want_service}, "
                      "not '{region}/{service}'"),
            "required": (invalid, "{h} must be signed"),
            "unsigned": (invalid, "header {h} is not signed"),
            "content_sha256": (invalid, "The provided 'x-amz-content-sha256' header does not "
                               "match what was computed."),
            "date": (incomplete, "X-Amz-Date '{date}' is malformed"),
            "expired": (invalid, "Signature expired"),
            "header_missing": (invalid, "signed header {h} is missing"),
            "signature": (invalid, "The request signature we calculated does not match the "
                          "signature you provided."),
        }
        for check, e in (errors or {}).items():
            if e is not None and self.errors[check] is not None:
                e = tuple(mine if mine is not None else default
                          for mine, default in zip(e, self.errors[check]))
            self.errors[check] = e

    def fail(self, check, **kw):
        code, message = self.errors[check]
        kw.setdefault("want_region", self.region)
        kw.setdefault("want_service", self.service)
        return Fail(code, message.format(**kw))

    def verify_counted(self, handler, body, lock, stats):
        """verify() of a request handler's request; a failure also counts in
        stats["bad_signature"] (under lock)."""
        try:
            self.verify(handler.command, handler.path, handler.headers, body)
        except Fail:
            with lock:
                stats["bad_signature"] += 1
            raise

    def verify(self, method, path, hdrs, body):
        """Raise Fail unless the request (method, path with query, the
        handler's headers, the body) is signed as AWS would check it."""
        auth = hdrs.get("Authorization", "")
        date = hdrs.get("X-Amz-Date", "")
        if not auth and self.errors["anonymous"]:
            raise self.fail("anonymous")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or not date:
            raise self.fail("missing")
        parts = dict(p.strip().split("=", 1) for p in auth[17:].split(",") if "=" in p)
        try:
            akid, day, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
        except (KeyError, ValueError):
            raise self.fail("malformed")
        if akid != self.access_key:
            raise self.fail("access_key")
        if region != self.region or service != self.service or term != "aws4_request":
            raise self.fail("scope", region=region, service=service)
        for h in self.required:
            if h not in signed:
                raise self.fail("required", h=h)
        for h in hdrs.keys():
            if h.lower().startswith("x-amz-") and h.lower() not in signed:
                raise self.fail("unsigned", h=h)
        sha = hdrs.get("x-amz-content-sha256", "")
        if self.content_sha256 and sha != "UNSIGNED-PAYLOAD" and \
                sha != hashlib.sha256(body).hexdigest():
            raise self.fail("content_sha256")
        try:
            when = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
        except ValueError:
            if self.errors["date"] is None:
                raise
            raise self.fail("date", date=date)
        if abs((datetime.datetime.utcnow() - when).total_seconds()) > self.max_skew:
            raise self.fail("expired")
        headers = {}
        for h in signed:
            v = hdrs.get(h)
            if v is None:
                raise self.fail("header_missing", h=h)
            headers[h] = v
        token = hdrs.get("X-Amz-Security-Token")
        skip = ("x-amz-date", "x-amz-security-token") + \
            (("x-amz-content-sha256",) if self.content_sha256 else ())
        req = AWSRequest(method=method, url="http://" + headers["host"] + path,
                         headers={k: v for k, v in headers.items() if k not in skip},
                         data=body)
        if self.content_sha256 and sha == "UNSIGNED-PAYLOAD":
            req.context["client_config"] = types.SimpleNamespace(
                s3={"payload_signing_enabled": False})
        with SIGN_LOCK:
            _Clock.when = when
            self.signer(Credentials(self.access_key, self.secret_key, token), self.service,
                        self.region).add_auth(req)
        if req.headers["Authorization"] != auth:
            raise self.fail("signature")


class Model:
    """A service's botocore model.  ns: its XML namespace; bad_xml: the code
    for a body element the shape does not have; bad_value: the code for a
    value of the wrong type or outside an enum, and for what
    validate_parameters refuses; tag_in_message: "tag" names an element
    outside the namespace by its full {ns}tag, "local" by its local name."""

    def __init__(self, service, ns=None, bad_xml=None, bad_value=None, tag_in_message="tag"):
        self.model = botocore.session.get_session().get_service_model(service)
        self.ns, self.bad_xml, self.bad_value = ns, bad_xml, bad_value
        self.tag_in_message = tag_in_message

    def operation(self, op):
        return self.model.operation_model(op)

    def xml_to_params(self, elem, shape, where):
        """An XML element read against a botocore shape; Fail on anything
        the model does not have."""
        local = elem.tag.split("}", 1)[-1]
        if not elem.tag.startswith("{" + self.ns + "}"):
            name = elem.tag if self.tag_in_message == "tag" else local
            raise Fail(self.bad_xml, f"{where}: element {name} is not in namespace {self.ns}")
        t = shape.type_name
        if t == "structure":
            if elem.text and elem.text.strip():
                raise Fail(self.bad_xml, f"{where}: text inside a structure")
            known = {}
            for mname, mshape in shape.members.items():
                if mshape.serialization.get("location"):
                    continue
                flat = mshape.type_name == "list" and bool(mshape.serialization.get("flattened"))
                known[mshape.serialization.get("name", mname)] = (mname, mshape, flat)
            out = {}
            for c in elem:
                cl = c.tag.split("}", 1)[-1]
                if cl not in known:
                    raise Fail(self.bad_xml, f"{where}: unknown element {cl}")
                mname, mshape, flat = known[cl]
                if flat:  # S3's flattened lists: the members repeat, unwrapped
                    out.setdefault(mname, []).append(
                        self.xml_to_params(c, mshape.member, where + "/" + cl))
                    continue
                if mname in out:
                    raise Fail(self.bad_xml, f"{where}: {cl} twice")
                out[mname] = self.xml_to_params(c, mshape, where + "/" + cl)
            return out
        if t == "list":
            mname = shape.member.serialization.get("name", "member")
            res = []
            for c in elem:
                if c.tag.split("}", 1)[-1] != mname:
                    raise Fail(self.bad_xml, f"{where}: {c.tag} where {mname} belongs")
                res.append(self.xml_to_params(c, shape.member, where + "/" + mname))
            return res
        return self.scalar(elem.text or "", shape, where)

    def scalar(self, text, shape, where):
        t = shape.type_name
        if t in ("integer", "long"):
            try:
                return int(text)
            except ValueError:
                raise Fail(self.bad_value, f"{where}: '{text}' is not an integer")
        if t == "boolean":
            if text not in ("true", "false"):
                raise Fail(self.bad_value, f"{where}: '{text}' is not true or false")
            return text == "true"
        # validate_parameters does not check enums (Action, Type, Status...):
        # the model's list of values does.
        if getattr(shape, "enum", None) and text not in shape.enum:
            raise Fail(self.bad_value, f"{where}: '{text}' is not one of {', '.join(shape.enum)}")
        return text

    def validate(self, op, params):
        try:
            validate_parameters(params, self.operation(op).input_shape)
        except ParamValidationError as e:
            raise Fail(self.bad_value, str(e).replace("\n", " "))
