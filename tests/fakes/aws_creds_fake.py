#!/usr/bin/python3
"""Fake AWS credential endpoints for revenant's tests (standard library only).

  aws_creds_fake.py --service sts|container|imds --mode MODE [--port 0] ...

Prints "PORT <n>" on stdout once listening on 127.0.0.1, then serves until
killed.  The answers follow the documented shapes:

  sts        POST / (form) -> AssumeRoleWithWebIdentityResponse XML or an
             ErrorResponse (InvalidIdentityToken, ExpiredTokenException,
             AccessDenied, Throttling, 503 ServiceUnavailable, malformed XML).
             It checks Action, Version, RoleArn, RoleSessionName and
             WebIdentityToken (against --token-file, read on every request)
             and that the request is unsigned.
  container  GET <--path> with Authorization equal to --auth-file/--auth
             -> {AccessKeyId, SecretAccessKey, Token, Expiration}, or 401 /
             500 / malformed JSON.
  imds       IMDSv2: PUT /latest/api/token (needs the TTL header), then GETs
             with x-aws-ec2-metadata-token; 401 without a valid token.

Control (not counted): GET /_ctl/count -> {"requests","issued","rejected"},
GET /_ctl/mode/<mode>, GET /_ctl/expires/<seconds>.
"""
import argparse
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE = "revenant-role"


class State:
    def __init__(self, args):
        self.args = args
        self.mode = args.mode
        self.expires_in = args.expires_in
        self.lock = threading.Lock()
        self.requests = 0
        self.issued = 0
        self.rejected = 0
        self.imds_tokens = set()

    def iso(self, seconds):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + seconds))


def read_file(path):
    with open(path, "r", encoding="utf-8") as f:
        return f.read().strip()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    state = None  # set in main

    def log_message(self, fmt, *a):  # keep test output quiet
        pass

    def send(self, status, body, ctype="text/xml"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def control(self):
        st = self.state
        parts = self.path.split("/")
        if self.path == "/_ctl/count":
            with st.lock:
                out = {"requests": st.requests, "issued": st.issued, "rejected": st.rejected}
            return self.send(200, json.dumps(out), "application/json")
        if len(parts) == 4 and parts[2] == "mode":
            st.mode = parts[3]
            return self.send(200, "ok", "text/plain")
        if len(parts) == 4 and parts[2] == "expires":
            st.expires_in = int(parts[3])
            return self.send(200, "ok", "text/plain")
        return self.send(404, "no such control", "text/plain")

    def count(self, issued=False, rejected=False):
        st = self.state
        with st.lock:
            if issued:
                st.issued += 1
            if rejected:
                st.rejected += 1
            return st.issued

    # ---- STS -------------------------------------------------------------
    def sts_error(self, status, etype, code, message):
        self.send(status, (
            f'<ErrorResponse xmlns="{STS_NS}"><Error><Type>{etype}</Type>'
            f"<Code>{code}</Code><Message>{message}</Message></Error>"
            f"<RequestId>{secrets.token_hex(8)}</RequestId></ErrorResponse>"))

    def sts(self, method):
        st, a = self.state, self.state.args
        raw = self.body()
        if method != "POST" or self.path != "/":
            self.count(rejected=True)
            return self.sts_error(400, "Sender", "InvalidAction", f"{method} {self.path}")
        form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True, strict_parsing=True)
        form = {k: v[0] for k, v in form.items() if len(v) == 1}
        problems = []
        for h in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if h in self.headers:
                problems.append(f"request carries {h}; AssumeRoleWithWebIdentity is unsigned")
        if not (self.headers.get("Content-Type") or "").startswith(
                "application/x-www-form-urlencoded"):
            problems.append("Content-Type is not application/x-www-form-urlencoded")
        if form.get("Action") != "AssumeRoleWithWebIdentity":
            problems.append("bad Action")
        if form.get("Version") != "2011-06-15":
            problems.append("bad Version")
        if form.get("RoleArn") != a.role_arn:
            problems.append("bad RoleArn")
        if not form.get("RoleSessionName"):
            problems.append("missing RoleSessionName")
        if problems:
            self.count(rejected=True)
            return self.sts_error(400, "Sender", "ValidationError", "; ".join(problems))
        if a.delay_ms:
            time.sleep(a.delay_ms / 1000)
        mode = st.mode
        if mode == "ok" and form.get("WebIdentityToken") != read_file(a.token_file):
            self.count(rejected=True)
            return self.sts_error(400, "Sender", "InvalidIdentityToken",
                                  "Couldn't retrieve verification key from your identity provider")
        if mode == "invalid-token":
            return self.sts_error(400, "Sender", "InvalidIdentityToken",
                                  "Incorrect token audience")
        if mode == "expired-token":
            return self.sts_error(400, "Sender", "ExpiredTokenException",
                                  "Token expired: current date/time 1 must be before the "
                                  "expiration date/time 0")
        if mode == "access-denied":
            return self.sts_error(403, "Sender", "AccessDenied",
                                  "Not authorized to perform sts:AssumeRoleWithWebIdentity")
        if mode == "throttle":
            return self.sts_error(400, "Sender", "Throttling", "Rate exceeded")
        if mode == "503":
            return self.sts_error(503, "Receiver", "ServiceUnavailable", "Service unavailable")
        if mode == "malformed":
            return self.send(200, "<AssumeRoleWithWebIdentityResponse><Assume")
        if mode == "echo-token":  # a hostile server quoting the token back
            return self.sts_error(400, "Sender", "InvalidIdentityToken",
                                  "bad token " + form.get("WebIdentityToken", ""))
        n = self.count(issued=True)
        self.send(200, (
            f'<AssumeRoleWithWebIdentityResponse xmlns="{STS_NS}">'
            "<AssumeRoleWithWebIdentityResult>"
            "<SubjectFromWebIdentityToken>system:serviceaccount:ghost:revenant"
            "</SubjectFromWebIdentityToken>"
            f"<AssumedRoleUser><Arn>{a.role_arn}/{form['RoleSessionName']}</Arn>"
            "<AssumedRoleId>AROAFAKE:x</AssumedRoleId></AssumedRoleUser>"
            "<Credentials>"
            f"<SessionToken>FAKESESSIONTOKEN{n:04d}</SessionToken>"
            f"<SecretAccessKey>fakeSecretKey{n:04d}</SecretAccessKey>"
            f"<Expiration>{st.iso(st.expires_in)}</Expiration>"
            f"<AccessKeyId>ASIAFAKESTS{n:04d}</AccessKeyId>"
            "</Credentials><Audience>sts.amazonaws.com</Audience>"
            "<Provider>oidc.eks.example</Provider></AssumeRoleWithWebIdentityResult>"
            f"<ResponseMetadata><RequestId>{secrets.token_hex(8)}</RequestId>"
            "</ResponseMetadata></AssumeRoleWithWebIdentityResponse>"))

    # ---- credential JSON shared by container and IMDS ---------------------
    def creds_json(self, prefix, imds):
        st = self.state
        n = self.count(issued=True)
        doc = {"AccessKeyId": f"ASIAFAKE{prefix}{n:04d}",
               "SecretAccessKey": f"fakeSecretKey{n:04d}",
               "Token": f"FAKETOKEN{n:04d}",
               "Expiration": st.iso(st.expires_in)}
        if imds:
            doc.update({"Code": "Success", "LastUpdated": st.iso(0), "Type": "AWS-HMAC"})
        if st.mode == "code-fail":
            doc = {"Code": "AssumeRoleUnauthorizedAccess", "Message": "cannot assume role",
                   "LastUpdated": st.iso(0)}
        self.send(200, json.dumps(doc), "application/json")

    # ---- container --------------------------------------------------------
    def container(self, method):
        st, a = self.state, self.state.args
        want = read_file(a.auth_file) if a.auth_file else a.auth
        if method != "GET" or (a.path and self.path != a.path):
            self.count(rejected=True)
            return self.send(404, '{"message":"not found"}', "application/json")
        if want and self.headers.get("Authorization") != want:
            self.count(rejected=True)
            return self.send(401, '{"message":"invalid authorization token"}',
                             "application/json")
        if st.mode == "unauthorized":
            return self.send(401, '{"message":"unauthorized"}', "application/json")
        if st.mode == "500":
            return self.send(500, '{"message":"internal error"}', "application/json")
        if st.mode == "malformed":
            return self.send(200, '{"AccessKeyId": "ASIA', "application/json")
        self.creds_json("CTR", imds=False)

    # ---- IMDSv2 -----------------------------------------------------------
    def imds(self, method):
        st = self.state
        base = "/latest/meta-data/iam/security-credentials/"
        if method == "PUT" and self.path == "/latest/api/token":
            ttl = self.headers.get("x-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                self.count(rejected=True)
                return self.send(400, "", "text/plain")
            if st.mode == "token-403":
                return self.send(403, "", "text/plain")
            tok = secrets.token_urlsafe(32)
            with st.lock:
                st.imds_tokens.add(tok)
            return self.send(200, tok, "text/plain")
        if method != "GET":
            return self.send(405, "", "text/plain")
        with st.lock:
            ok = self.headers.get("x-aws-ec2-metadata-token") in st.imds_tokens
        if not ok:
            self.count(rejected=True)
            return self.send(401, "", "text/plain")
        if self.path == base:
            if st.mode == "no-role":
                return self.send(404, "", "text/plain")
            return self.send(200, ROLE, "text/plain")
        if self.path == base + ROLE:
            if st.mode == "role-404":
                return self.send(404, "", "text/plain")
            if st.mode == "malformed":
                return self.send(200, "{not json", "text/plain")
            return self.creds_json("IMDS", imds=True)
        return self.send(404, "", "text/plain")

    def dispatch(self, method):
        if self.path.startswith("/_ctl/"):
            return self.control()
        with self.state.lock:
            self.state.requests += 1
        getattr(self, self.state.args.service)(method)

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--service", required=True, choices=["sts", "container", "imds"])
    ap.add_argument("--mode", default="ok")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--expires-in", type=int, default=3600)
    ap.add_argument("--delay-ms", type=int, default=0)
    ap.add_argument("--role-arn", default="arn:aws:iam::123456789012:role/revenant")
    ap.add_argument("--token-file", help="sts: expected WebIdentityToken")
    ap.add_argument("--auth-file", help="container: expected Authorization header")
    ap.add_argument("--auth", help="container: expected Authorization header")
    ap.add_argument("--path", help="container: expected request path")
    args = ap.parse_args()
    if args.service == "sts" and not args.token_file:
        ap.error("--token-file is required for sts")
    Handler.state = State(args)
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print(f"PORT {srv.server_address[1]}", flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
