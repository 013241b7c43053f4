#!/usr/bin/python3
"""The DR drill's writer and checker (Python standard library only).

  drill.py write --url DC --key-file F --acks ACKS.jsonl [--post-rate 10] [--image-rate 2]
      Writes to a Ghost through the Admin API until it stops answering (or
      SIGTERM): published posts, and image uploads each followed by a post
      that uses the image as its feature image.  Every write Ghost
      ACKNOWLEDGED (a 2xx answer) is appended to ACKS as one JSON line with
      its ack time (ms since the epoch), flushed at once.  Failed or
      unanswered writes are not acknowledged and are not logged.

  drill.py check --url DR --key-file F --acks ACKS.jsonl --kill-ms T
                 --dc-content DIR --sync-ms S [--grace-ms 1000] [--summary OUT.json]
      Checks the DR Ghost over HTTP: every acknowledged post is in the Admin
      API with its title and its public page answers 200; every acknowledged
      image answers 200 with the bytes the DC site held (and the uploaded
      original is served byte-identical, as the URL or as Ghost's *_o copy).
      A write acknowledged more than S + grace ms before the kill that is
      missing fails the drill; younger ones are the measured loss (RPO).
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import json
import os
import random
import signal
import struct
import sys
import threading
import time
import urllib.parse
import uuid
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from ghost_api import make_token, read_key  # noqa: E402  (the tests' independent client)


def now_ms():
    return time.time_ns() // 1_000_000


class Down(Exception):
    """The server did not answer (refused, reset, timed out)."""


class Site:
    def __init__(self, url, key, timeout=10):
        self.url = url.rstrip("/")
        p = urllib.parse.urlsplit(self.url)
        self.host, self.port = p.hostname, p.port or 80
        self.key, self.timeout = key, timeout
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.local.conn = c
        return c

    def request(self, method, path, body=None, headers=None, admin=False):
        """One attempt, no retry: (status, body bytes); Down if no answer."""
        hdrs = dict(headers or {})
        if admin:
            hdrs["Authorization"] = "Ghost " + make_token(self.key)
            hdrs["Accept-Version"] = "v5.0"
        try:
            c = self._conn()
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            return r.status, r.read()
        except (OSError, http.client.HTTPException) as e:
            self.local.conn = None
            raise Down(str(e)) from e

    def admin_json(self, method, path, obj):
        return self.request(method, "/ghost/api/admin/" + path, json.dumps(obj).encode(),
                            {"Content-Type": "application/json"}, admin=True)


def png(w, h):
    """A PNG of random pixels (incompressible, so every upload is distinct)."""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw, 1)) + chunk(b"IEND", b""))


class Writer:
    def __init__(self, a):
        self.site = Site(a.url, read_key(a.key_file))
        self.acks = open(a.acks, "a", buffering=1)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.run = uuid.uuid4().hex[:6]
        self.a = a
        self.counts = {"post": 0, "image": 0, "rejected": 0}
        self.errors = []

    def ack(self, rec):
        rec["ack_ms"] = now_ms()
        with self.lock:
            self.acks.write(json.dumps(rec, separators=(",", ":")) + "\n")
            self.acks.flush()
            self.counts[rec["kind"]] += 1

    def rejected(self, what, status, body):
        # Not acknowledged, so not part of the promise; counted and shown.
        with self.lock:
            self.counts["rejected"] += 1
            if len(self.errors) < 5:
                self.errors.append("%s -> HTTP %d %s" % (what, status, body[:200].decode(errors="replace")))

    def post(self, n, feature=None):
        title = "drill %s post %d" % (self.run, n)
        p = {"title": title, "status": "published",
             "custom_excerpt": "written by the DR drill at %d" % now_ms()}
        if feature:
            p["feature_image"] = feature
        st, body = self.site.admin_json("POST", "posts/", {"posts": [p]})
        if st != 201:
            self.rejected("POST posts/", st, body)
            return
        j = json.loads(body)["posts"][0]
        self.ack({"kind": "post", "id": j["id"], "slug": j["slug"], "title": title})

    def image(self, n):
        data = png(random.randint(40, 320), random.randint(40, 240))
        name = "drill-%s-%d.png" % (self.run, n)
        b = uuid.uuid4().hex
        body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"%s\"\r\n"
                 "Content-Type: image/png\r\n\r\n" % (b, name)).encode() + data +
                ("\r\n--%s--\r\n" % b).encode())
        st, resp = self.site.request("POST", "/ghost/api/admin/images/upload/", body,
                                     {"Content-Type": "multipart/form-data; boundary=" + b},
                                     admin=True)
        if st != 201:
            self.rejected("POST images/upload/", st, resp)
            return None
        url = json.loads(resp)["images"][0]["url"]
        rel = urllib.parse.unquote(urllib.parse.urlsplit(url).path).split("/content/", 1)[1]
        self.ack({"kind": "image", "rel": rel, "sha256": hashlib.sha256(data).hexdigest(),
                  "bytes": len(data)})
        return url

    def loop(self, rate, step):
        """Call step(n) about `rate` times a second until stopped or the site is gone."""
        n, down_since = 0, None
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                step(n)
                down_since = None
            except Down:
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since > self.a.down_after:
                    return
                time.sleep(0.05)
                continue
            n += 1
            left = 1.0 / rate - (time.monotonic() - t0)
            if left > 0:
                self.stop.wait(left)

    def images_step(self, n):
        url = self.image(n)
        if url:
            self.post(100000 + n, feature=url)


def cmd_write(a):
    w = Writer(a)
    signal.signal(signal.SIGTERM, lambda *_: w.stop.set())
    # Each thread its own titles: two posts created at once with one title
    # race for one slug inside Ghost (its slug check and insert are not one
    # transaction), which MySQL's concurrent commits expose as a 500.
    threads = [threading.Thread(target=w.loop, daemon=True,
                                args=(a.post_rate, lambda n, b=i * 10000: w.post(b + n)))
               for i in range(a.post_threads)]
    threads.append(threading.Thread(target=w.loop, args=(a.image_rate, w.images_step), daemon=True))
    for t in threads:
        t.start()
    deadline = time.monotonic() + a.max_seconds
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        time.sleep(0.1)
    w.stop.set()
    for t in threads:
        t.join(15)
    print("writer: acknowledged %d posts and %d images; %d writes rejected by Ghost" %
          (w.counts["post"], w.counts["image"], w.counts["rejected"]), file=sys.stderr)
    for e in w.errors:
        print("writer:   " + e, file=sys.stderr)


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def cmd_check(a):
    site = Site(a.url, read_key(a.key_file), timeout=30)
    acks = [json.loads(line) for line in open(a.acks) if line.strip()]
    problems = []

    # Every post on DR, through the Admin API (all statuses, all pages).
    dr_posts, page = {}, 1
    while page:
        q = urllib.parse.urlencode({"limit": "100", "page": str(page), "fields": "id,title,slug"})
        st, body = site.request("GET", "/ghost/api/admin/posts/?" + q, admin=True)
        if st != 200:
            sys.exit("check: DR Admin API posts browse answered HTTP %d: %s" % (st, body[:300]))
        j = json.loads(body)
        dr_posts.update((p["id"], p) for p in j["posts"])
        page = j["meta"]["pagination"]["next"]

    def check_one(rec):
        """(present, problem or None) for one acknowledged write."""
        if rec["kind"] == "post":
            p = dr_posts.get(rec["id"])
            if p is None:
                return False, None
            if p["title"] != rec["title"]:
                return True, "post %s: title %r on DR, %r acknowledged" % (rec["id"], p["title"], rec["title"])
            st, _ = site.request("GET", "/%s/" % urllib.parse.quote(rec["slug"]))
            if st != 200:
                return True, "post %s: its page /%s/ answered HTTP %d on DR" % (rec["id"], rec["slug"], st)
            return True, None
        path = "/content/" + urllib.parse.quote(rec["rel"])
        st, body = site.request("GET", path)
        if st == 404:
            return False, None
        if st != 200:
            return True, "image %s answered HTTP %d on DR" % (path, st)
        got = hashlib.sha256(body).hexdigest()
        dc_file = os.path.join(a.dc_content, rec["rel"])
        if not os.path.isfile(dc_file):
            return True, "image %s is on DR but not in DC's folder %s" % (path, a.dc_content)
        if got != sha_file(dc_file):
            return True, "image %s: DR serves other bytes than DC's folder holds" % path
        if got != rec["sha256"]:
            # Ghost re-encoded it: the untouched upload is NAME_o.EXT.
            stem, ext = os.path.splitext(rec["rel"])
            st, body = site.request("GET", "/content/" + urllib.parse.quote(stem + "_o" + ext))
            if st != 200 or hashlib.sha256(body).hexdigest() != rec["sha256"]:
                return True, "image %s: DR serves no byte-identical copy of the upload" % path
        return True, None

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(check_one, acks))

    must_ms = a.sync_ms + a.grace_ms
    missing, late_missing = [], []
    for rec, (present, problem) in zip(acks, results):
        if problem:
            problems.append(problem)
        if not present:
            age = a.kill_ms - rec["ack_ms"]
            (missing if age > must_ms else late_missing).append((age, rec))
    for age, rec in missing:
        problems.append("%s %s acknowledged %.3f s before the kill is missing on DR (allowed: "
                        "only writes younger than %.3f s)" %
                        (rec["kind"], rec.get("id") or rec.get("rel"), age / 1000, must_ms / 1000))

    old = [r for r in acks if a.kill_ms - r["ack_ms"] > must_ms]
    old_posts = sum(r["kind"] == "post" for r in old)
    old_images = sum(r["kind"] == "image" for r in old)
    # A drill that wrote too little before the kill, or had stopped writing
    # by then, proves nothing: fail rather than pass vacuously.
    if old_posts < a.min_posts or old_images < a.min_images:
        problems.append("only %d posts and %d images were acknowledged more than %.1f s before "
                        "the kill (need %d and %d)" %
                        (old_posts, old_images, must_ms / 1000, a.min_posts, a.min_images))
    last_ack = max((r["ack_ms"] for r in acks), default=0)
    if a.kill_ms - last_ack > 2000:
        problems.append("the writer was not writing when the site was killed (last ack %.3f s "
                        "before the kill)" % ((a.kill_ms - last_ack) / 1000))

    lost = missing + late_missing
    n_posts = sum(r["kind"] == "post" for r in acks)
    n_images = len(acks) - n_posts
    lost_posts = sum(r["kind"] == "post" for _, r in lost)
    print("  acknowledged before the kill: %d posts, %d images (last ack %.3f s before the kill)" %
          (n_posts, n_images, (a.kill_ms - last_ack) / 1000))
    print("  on DR: %d of %d posts (each page 200), %d of %d images (served byte-identical)" %
          (n_posts - lost_posts, n_posts, n_images - (len(lost) - lost_posts), n_images))
    if lost:
        ages = sorted(age for age, _ in lost)
        rpo_ms = ages[-1]
        print("  RPO: %d acknowledged writes lost (%d posts, %d images), acknowledged between "
              "%.3f s and %.3f s before the kill; everything older is on DR" %
              (len(lost), lost_posts, len(lost) - lost_posts, ages[-1] / 1000, ages[0] / 1000))
    else:
        rpo_ms = 0
        print("  RPO: 0 acknowledged writes lost")
    shown = problems if a.all_problems else problems[:20]
    for p in shown:
        print("  FAIL: " + p)
    if len(problems) > len(shown):
        print("  FAIL: ... and %d more" % (len(problems) - len(shown)))
    if a.summary:
        with open(a.summary, "w") as f:
            json.dump({"posts": n_posts, "images": n_images, "lost": len(lost),
                       "lost_posts": lost_posts, "rpo_ms": rpo_ms,
                       "last_ack_before_kill_ms": a.kill_ms - last_ack,
                       "problems": len(problems)}, f)
    return 1 if problems else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("command", choices=["write", "check"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--key-file", required=True)
    ap.add_argument("--acks", required=True)
    ap.add_argument("--post-rate", type=float, default=8, help="posts a second, per thread")
    ap.add_argument("--post-threads", type=int, default=2)
    ap.add_argument("--image-rate", type=float, default=2, help="image uploads a second")
    ap.add_argument("--down-after", type=float, default=1.5,
                    help="write: stop once the site has not answered for this long (s)")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--kill-ms", type=int)
    ap.add_argument("--dc-content")
    ap.add_argument("--sync-ms", type=int, default=1000)
    ap.add_argument("--grace-ms", type=int, default=1000)
    ap.add_argument("--min-posts", type=int, default=20)
    ap.add_argument("--min-images", type=int, default=5)
    ap.add_argument("--summary")
    ap.add_argument("--all-problems", action="store_true",
                    help="check: print every problem, not the first 20")
    a = ap.parse_args()
    if a.command == "write":
        cmd_write(a)
        return 0
    if a.kill_ms is None or not a.dc_content:
        ap.error("check needs --kill-ms and --dc-content")
    return cmd_check(a)


if __name__ == "__main__":
    sys.exit(main())
