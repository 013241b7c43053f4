#!/usr/bin/python3
"""kms.py - an AWS KMS endpoint for revenant's tests (standard library and
Debian's python3-botocore only).

  kms.py --port-file F --key-id ARN [--key-id ARN2 ...]
         [--access-key AKID --secret-key SECRET] [--region R] [--log FILE]

Serves on 127.0.0.1 (a free port, written to --port-file once listening)
the JSON protocol of KMS (POST /, X-Amz-Target: TrentService.<Op>,
Content-Type: application/x-amz-json-1.1):

  GenerateDataKey  {KeyId, KeySpec|NumberOfBytes, EncryptionContext?}
                   -> {KeyId, Plaintext, CiphertextBlob} (base64)
  Decrypt          {CiphertextBlob, KeyId?, EncryptionContext?}
                   -> {KeyId, Plaintext}

A data key is random; its CiphertextBlob names the key and the context and
carries the key XORed with a per-key pad, so the fake keeps no state and a
blob opens only with the same key id and encryption context
(InvalidCiphertextException otherwise, as KMS answers).  Key ids other than
--key-id: NotFoundException.  Aliases ("alias/x") resolve to the first key.

Every request is checked the way AWS would check it, with botocore, so the
fake cannot agree with a wrong request:
  - the SigV4 signature is recomputed with botocore.auth.SigV4Auth over the
    headers the request says it signed (credentials from the command line,
    --region, service kms, the request's X-Amz-Date) and must equal the
    Authorization header, X-Amz-Target among the signed headers: else 400
    with __type IncompleteSignatureException / InvalidSignatureException
    (a wrong access key: UnrecognizedClientException);
  - the body is validated against the operation's input shape in botocore's
    KMS service model (validate_parameters): else ValidationException.

GET /_ctl/stats (unsigned) -> {"requests": {op: n}, "bad_signature": n,
"bad_body": n}.
"""
import argparse
import base64
import datetime
import hashlib
import json
import os
import sys
import threading
import types
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    import botocore
    import botocore.auth
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.exceptions import ParamValidationError
    from botocore.validate import validate_parameters
except ImportError as e:
    sys.exit(f"kms.py: cannot import botocore ({e}); apt-get install python3-botocore")

MODEL = botocore.session.get_session().get_service_model("kms")


class _Clock(datetime.datetime):
    when = None

    @classmethod
    def utcnow(cls):
        return cls.when


botocore.auth.datetime = types.SimpleNamespace(datetime=_Clock)
SIGN_LOCK = threading.Lock()


class Fail(Exception):
    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


class State:
    def __init__(self, a):
        self.keys = a.key_id
        self.access_key, self.secret_key, self.region = a.access_key, a.secret_key, a.region
        self.lock = threading.Lock()
        self.stats = {"requests": {}, "bad_signature": 0, "bad_body": 0}
        self.log = open(a.log, "a", buffering=1) if a.log else None


def pad(key_id, ctx, n):
    h = hashlib.sha256(("fake-kms|" + key_id + "|" + json.dumps(ctx, sort_keys=True)).encode())
    out = b""
    while len(out) < n:
        out += h.digest()
        h = hashlib.sha256(h.digest())
    return out[:n]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, fmt, *args):
        if self.state.log:
            self.state.log.write((fmt % args) + "\n")

    def send(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, f):
        self.send(f.status, {"__type": f.kind, "message": f.message})

    def do_GET(self):
        if self.path == "/_ctl/stats":
            with self.state.lock:
                return self.send(200, self.state.stats)
        self.send(404, {"__type": "UnknownOperationException"})

    def verify(self, body):
        z = self.state
        auth = self.headers.get("Authorization", "")
        date = self.headers.get("X-Amz-Date")
        if not auth.startswith("AWS4-HMAC-SHA256 ") or not date:
            raise Fail("IncompleteSignatureException", "Authorization header or X-Amz-Date missing")
        parts = dict(p.strip().split("=", 1) for p in auth[17:].split(",") if "=" in p)
        try:
            akid, day, region, service, term = parts["Credential"].split("/")
            signed = parts["SignedHeaders"].split(";")
        except (KeyError, ValueError):
            raise Fail("IncompleteSignatureException", "malformed Authorization header")
        if akid != z.access_key:
            raise Fail("UnrecognizedClientException", "The security token included in the request is invalid.")
        if region != z.region or service != "kms" or term != "aws4_request":
            raise Fail("InvalidSignatureException", f"Credential should be scoped to {z.region}/kms, "
                       f"not '{region}/{service}'")
        for h in ("host", "x-amz-date", "x-amz-target"):
            if h not in signed:
                raise Fail("InvalidSignatureException", f"{h} must be signed")
        for h in self.headers.keys():
            if h.lower().startswith("x-amz-") and h.lower() not in signed:
                raise Fail("InvalidSignatureException", f"header {h} is not signed")
        when = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ")
        if abs((datetime.datetime.utcnow() - when).total_seconds()) > 300:
            raise Fail("InvalidSignatureException", "Signature expired")
        headers = {}
        for h in signed:
            v = self.headers.get(h)
            if v is None:
                raise Fail("InvalidSignatureException", f"signed header {h} is missing")
            headers[h] = v
        token = self.headers.get("X-Amz-Security-Token")
        req = AWSRequest(method=self.command, url="http://" + headers["host"] + self.path,
                         headers={k: v for k, v in headers.items()
                                  if k not in ("x-amz-date", "x-amz-security-token")},
                         data=body)
        with SIGN_LOCK:
            _Clock.when = when
            SigV4Auth(Credentials(z.access_key, z.secret_key, token), "kms", z.region).add_auth(req)
        if req.headers["Authorization"] != auth:
            raise Fail("InvalidSignatureException", "The request signature we calculated does not "
                       "match the signature you provided.")

    def resolve(self, key_id):
        if key_id.startswith("alias/"):
            return self.state.keys[0]
        if key_id not in self.state.keys:
            raise Fail("NotFoundException", f"Key '{key_id}' does not exist")
        return key_id

    def do_POST(self):
        z = self.state
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        target = self.headers.get("X-Amz-Target", "")
        op = target.split(".", 1)[-1]
        with z.lock:
            z.stats["requests"][op] = z.stats["requests"].get(op, 0) + 1
        try:
            self.verify(body)
        except Fail as f:
            with z.lock:
                z.stats["bad_signature"] += 1
            return self.error(f)
        try:
            if not target.startswith("TrentService.") or op not in ("GenerateDataKey", "Decrypt"):
                raise Fail("UnknownOperationException", f"unknown operation {target}")
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise Fail("SerializationException", "Content-Type must be application/x-amz-json-1.1")
            try:
                params = json.loads(body)
                if "CiphertextBlob" in params:  # a blob member: base64 on the wire
                    params["CiphertextBlob"] = base64.b64decode(params["CiphertextBlob"], validate=True)
                validate_parameters(params, MODEL.operation_model(op).input_shape)
            except (ValueError, ParamValidationError) as e:
                with z.lock:
                    z.stats["bad_body"] += 1
                raise Fail("ValidationException", str(e).replace("\n", " "))
            ctx = params.get("EncryptionContext", {})
            if op == "GenerateDataKey":
                key = self.resolve(params["KeyId"])
                size = 32 if params.get("KeySpec") == "AES_256" else params.get("NumberOfBytes", 0)
                if not size:
                    raise Fail("ValidationException", "KeySpec or NumberOfBytes is required")
                plain = os.urandom(size)
                blob = json.dumps({"k": key, "c": ctx}).encode() + b"\0" + \
                    bytes(a ^ b for a, b in zip(plain, pad(key, ctx, size)))
                return self.send(200, {"KeyId": key, "Plaintext": base64.b64encode(plain).decode(),
                                       "CiphertextBlob": base64.b64encode(blob).decode()})
            blob = params["CiphertextBlob"]
            head, _, sealed = blob.partition(b"\0")
            try:
                meta = json.loads(head)
            except ValueError:
                raise Fail("InvalidCiphertextException", "")
            if meta.get("c") != ctx or meta.get("k") not in z.keys or \
                    ("KeyId" in params and self.resolve(params["KeyId"]) != meta["k"]):
                raise Fail("InvalidCiphertextException", "")
            plain = bytes(a ^ b for a, b in zip(sealed, pad(meta["k"], ctx, len(sealed))))
            return self.send(200, {"KeyId": meta["k"], "Plaintext": base64.b64encode(plain).decode()})
        except Fail as f:
            return self.error(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key-id", action="append", required=True)
    ap.add_argument("--access-key", default="AKIDKMSTEST")
    ap.add_argument("--secret-key", default="kms-test-secret")
    ap.add_argument("--region", default="eu-west-1")
    ap.add_argument("--log")
    a = ap.parse_args()
    Handler.state = State(a)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(tmp, a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
