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

Every request is checked the way AWS would check it, with botocore (through
awscheck.py, shared with route53.py and s3_versions.py), so the fake cannot
agree with a wrong request:
  - the SigV4 signature is recomputed with botocore.auth.SigV4Auth over the
    headers the request says it signed (credentials from the command line,
    --region, service kms, the request's X-Amz-Date) and must equal the
    Authorization header, X-Amz-Target among the signed headers: else 400
    with __type IncompleteSignatureException / InvalidSignatureException
    (a wrong access key: UnrecognizedClientException; an X-Amz-Date that
    does not parse: IncompleteSignatureException);
  - the body is validated against the operation's input shape in botocore's
    KMS service model (validate_parameters): else ValidationException.

GET /_ctl/stats (unsigned) -> {"requests": {op: n}, "bad_signature": n,
"bad_body": n}.
"""
import argparse
import base64
import hashlib
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from awscheck import Fail, Model, SigV4

MODEL = Model("kms", bad_value="ValidationException")


class State:
    def __init__(self, a):
        self.keys = a.key_id
        self.lock = threading.Lock()
        self.stats = {"requests": {}, "bad_signature": 0, "bad_body": 0}
        self.log = open(a.log, "a", buffering=1) if a.log else None
        self.sigv4 = SigV4(
            "kms", a.region, a.access_key, a.secret_key, incomplete="IncompleteSignatureException",
            invalid="InvalidSignatureException", required=("host", "x-amz-date", "x-amz-target"),
            errors={"access_key": ("UnrecognizedClientException", None)})


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
        self.send(400, {"__type": f.code, "message": f.message})

    def do_GET(self):
        if self.path == "/_ctl/stats":
            with self.state.lock:
                return self.send(200, self.state.stats)
        self.send(404, {"__type": "UnknownOperationException"})

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
            z.sigv4.verify_counted(self, body, z.lock, z.stats)
        except Fail as f:
            return self.error(f)
        try:
            if not target.startswith("TrentService.") or op not in ("GenerateDataKey", "Decrypt"):
                raise Fail("UnknownOperationException", f"unknown operation {target}")
            if self.headers.get("Content-Type") != "application/x-amz-json-1.1":
                raise Fail("SerializationException", "Content-Type must be application/x-amz-json-1.1")
            try:
                try:
                    params = json.loads(body)
                    if "CiphertextBlob" in params:  # a blob member: base64 on the wire
                        params["CiphertextBlob"] = base64.b64decode(params["CiphertextBlob"],
                                                                    validate=True)
                    MODEL.validate(op, params)
                except ValueError as e:
                    raise Fail("ValidationException", str(e).replace("\n", " "))
            except Fail:
                with z.lock:
                    z.stats["bad_body"] += 1
                raise
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
