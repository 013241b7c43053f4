#!/usr/bin/python3
"""Small Ghost Admin API helper for tests (Python standard library only).

An independent client: it shares no code with revenant, so tests can seed
and inspect a site without trusting the code under test.

  ghost_api.py seed   --url U --key-file F --posts 250 --pages 5 [--old-every 4]
  ghost_api.py create --url U --key-file F --type posts < objects.jsonl
  ghost_api.py count  --url U --key-file F --type posts [--filter NQL]
  ghost_api.py list   --url U --key-file F --type posts [--filter NQL]
  ghost_api.py upload-image --url U --key-file F IMAGE

seed prints one line per created object: type, id, status, "old" or "-".
"""
import argparse
import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import sys
import threading
import time
import urllib.parse
import uuid


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(key, now=None):
    kid, secret = key.strip().split(":")
    iat = int(time.time() if now is None else now)
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    payload = {"iat": iat, "exp": iat + 300, "aud": "/admin/"}
    signing = (b64url(json.dumps(header, separators=(",", ":")).encode()) + "." +
               b64url(json.dumps(payload, separators=(",", ":")).encode()))
    sig = hmac.new(bytes.fromhex(secret), signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


class Api:
    def __init__(self, url, key):
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port or 80
        self.prefix = parts.path + "/ghost/api/admin/"
        self.key = key
        self.local = threading.local()

    def conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=60)
            self.local.conn = c
        return c

    def call(self, method, path, body=None, headers=None, raw=False):
        hdrs = {"Authorization": "Ghost " + make_token(self.key),
                "Accept-Version": "v5.0"}
        if body is not None and not raw:
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        for attempt in range(6):
            try:
                c = self.conn()
                c.request(method, self.prefix + path, body=body, headers=hdrs)
                r = c.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException):
                self.local.conn = None
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status in (429, 500, 502, 503, 504):
                time.sleep(0.2 * (attempt + 1))
                continue
            if r.status >= 300:
                raise SystemExit("ghost_api: %s %s -> %d %s" %
                                 (method, path, r.status, data[:300].decode(errors="replace")))
            return json.loads(data) if data else None
        raise SystemExit("ghost_api: %s %s failed after retries" % (method, path))

    def browse(self, typ, filt=None, fields="id"):
        page = 1
        while page:
            q = {"limit": "100", "page": str(page), "fields": fields}
            if filt:
                q["filter"] = filt
            j = self.call("GET", "%s/?%s" % (typ, urllib.parse.urlencode(q)))
            yield from j[typ]
            page = j["meta"]["pagination"]["next"]


def read_key(path):
    with open(path) as f:
        return f.read().strip()


def create_many(api, typ, objects, jobs):
    def one(obj):
        return api.call("POST", typ + "/", {typ: [obj]})[typ][0]
    with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
        return list(ex.map(one, objects))


def cmd_seed(api, a):
    # The tag exists before the parallel creates, so they do not race to add it.
    try:
        api.call("POST", "tags/", {"tags": [{"name": "old", "slug": "old"}]})
    except SystemExit:
        pass  # already there
    future = (datetime.datetime.now(datetime.timezone.utc) +
              datetime.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    statuses = ["draft", "published", "scheduled"]
    posts, meta = [], []
    run = uuid.uuid4().hex[:8]
    for i in range(a.posts):
        st = statuses[i % 3]
        old = a.old_every > 0 and i % a.old_every == 0
        p = {"title": "seed %s post %d" % (run, i), "status": st}
        if st == "scheduled":
            p["published_at"] = future
        if old:
            p["tags"] = [{"name": "old"}]
        posts.append(p)
        meta.append("old" if old else "-")
    for obj, m in zip(create_many(api, "posts", posts, a.jobs), meta):
        print("posts\t%s\t%s\t%s" % (obj["id"], obj["status"], m))
    pages = [{"title": "seed %s page %d" % (run, i), "status": "published"}
             for i in range(a.pages)]
    for obj in create_many(api, "pages", pages, a.jobs):
        print("pages\t%s\t%s\t-" % (obj["id"], obj["status"]))


def cmd_create(api, a):
    objs = [json.loads(line) for line in sys.stdin if line.strip()]
    for obj in create_many(api, a.type, objs, a.jobs):
        print(obj["id"])


def cmd_count(api, a):
    q = {"limit": "1", "fields": "id"}
    if a.filter:
        q["filter"] = a.filter
    j = api.call("GET", "%s/?%s" % (a.type, urllib.parse.urlencode(q)))
    print(j["meta"]["pagination"]["total"])


def cmd_list(api, a):
    for obj in api.browse(a.type, a.filter):
        print(obj["id"])


def cmd_upload_image(api, a):
    boundary = uuid.uuid4().hex
    with open(a.image, "rb") as f:
        data = f.read()
    name = a.image.rsplit("/", 1)[-1]
    ctype = "image/png" if name.endswith(".png") else "image/jpeg"
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
             "Content-Type: %s\r\n\r\n" % (boundary, name, ctype)).encode() + data +
            ("\r\n--%s--\r\n" % boundary).encode())
    j = api.call("POST", "images/upload/", body, raw=True,
                 headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    print(j["images"][0]["url"])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["seed", "create", "count", "list", "upload-image",
                                        "token"])
    ap.add_argument("image", nargs="?")
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--type", default="posts", choices=["posts", "pages"])
    ap.add_argument("--filter")
    ap.add_argument("--posts", type=int, default=0)
    ap.add_argument("--pages", type=int, default=0)
    ap.add_argument("--old-every", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--time", type=int, help="token: the iat to sign")
    a = ap.parse_args()
    api = Api(a.url, read_key(a.key_file))
    if a.command == "token":
        print(make_token(api.key, a.time))
        return
    {"seed": cmd_seed, "create": cmd_create, "count": cmd_count, "list": cmd_list,
     "upload-image": cmd_upload_image}[a.command](api, a)


if __name__ == "__main__":
    main()
