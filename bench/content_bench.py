#!/usr/bin/env python3
"""Helpers for bench/content_bench.sh (not a test, not imported elsewhere).

  gen ROOT N MINKIB MAXKIB PERDIR     seeded nested tree of N random files
  waitmetric URL NAME VALUE TIMEOUT   poll /metrics every 20 ms until NAME >= VALUE;
                                      prints the seconds it took
  waitline FILE TEXT TIMEOUT          poll FILE every 20 ms until it holds TEXT
  steady MODE WATCH SRC RATE SECONDS OUT
        write RATE files/s for SECONDS into existing folders of SRC, one at a
        time, and time each from its close() to the moment it is durable:
        MODE=revenant: WATCH is the store's content log folder; a file is
          durable when a log object naming it appears there (the file store
          fsyncs an object before it renames it into place, so the rename
          event is the durability point, minus the folder fsync after it);
        MODE=mirror: WATCH is lsyncd's target; a file is there when a
          complete file of its name appears (rsync renames its temporary
          file into place; a close-after-write counts too, for --inplace).
        Prints "p50 p99 max n" in ms and writes every latency to OUT.
  changes ROOT N                      rewrite N/2 files, add N/2 new ones
"""
import ctypes
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.request

IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE, IN_ISDIR = 0x8, 0x80, 0x100, 0x40000000


def gen(root, n, lo, hi, perdir):
    rnd = random.Random(42)
    for i in range(n):
        # Ghost's layout: images/YYYY/MM/, a few hundred per month.
        d = os.path.join(root, "images", "%04d" % (2013 + i // (perdir * 12)),
                         "%02d" % (i // perdir % 12 + 1))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "img-%06d.jpg" % i), "wb") as f:
            f.write(os.urandom(rnd.randint(lo, hi) * 1024))


def metric(url, name):
    with urllib.request.urlopen(url, timeout=2) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    return None


def waitmetric(url, name, want, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            v = metric(url, name)
            if v is not None and v >= want:
                print("%.3f" % (time.monotonic() - t0))
                return 0
        except OSError:
            pass
        time.sleep(0.02)
    print("waitmetric: %s did not reach %s in %s s" % (name, want, timeout), file=sys.stderr)
    return 1


def waitline(path, text, timeout):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    print("%.3f" % (time.monotonic() - t0))
                    return 0
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    print("waitline: '%s' not in %s after %s s" % (text, path, timeout), file=sys.stderr)
    return 1


class Inotify:
    def __init__(self):
        self.libc = ctypes.CDLL("libc.so.6", use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs = {}

    def add(self, path, mask):
        wd = self.libc.inotify_add_watch(self.fd, path.encode(), mask)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + path)
        self.dirs[wd] = path

    def read(self):
        buf = os.read(self.fd, 1 << 16)
        now = time.monotonic_ns()
        out, i = [], 0
        while i < len(buf):
            wd, mask, _cookie, ln = int.from_bytes(buf[i:i + 4], "little", signed=True), \
                int.from_bytes(buf[i + 4:i + 8], "little"), 0, \
                int.from_bytes(buf[i + 12:i + 16], "little")
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode("utf-8", "surrogateescape")
            out.append((self.dirs.get(wd, ""), mask, name))
            i += 16 + ln
        return now, out


def steady(mode, watch, src, rate, secs, out):
    rate, secs = float(rate), float(secs)
    ino = Inotify()
    seen = {}      # mode revenant: log object -> ns; mirror: relative path -> ns
    if mode == "revenant":
        ino.add(watch, IN_MOVED_TO | IN_CREATE)
    else:
        for d, _dirs, _files in os.walk(watch):
            ino.add(d, IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            now, evs = ino.read()
            for d, mask, name in evs:
                if not name or name.startswith("."):
                    continue  # .rv-tmp.* and rsync's .name.XXXXXX
                if mode == "revenant":
                    seen.setdefault(name, now)
                elif mask & IN_ISDIR:
                    if mask & (IN_CREATE | IN_MOVED_TO):
                        ino.add(os.path.join(d, name), IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)
                elif mask & (IN_MOVED_TO | IN_CLOSE_WRITE):
                    seen.setdefault(os.path.relpath(os.path.join(d, name), watch), now)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    dirs = sorted(os.path.relpath(d, src) for d, _s, files in os.walk(src) if files)
    rnd = random.Random(7)
    closed = {}
    n = int(rate * secs)
    t0 = time.monotonic()
    for i in range(n):
        # A steady schedule, not "sleep after each": slow writes do not
        # lower the rate.
        delay = t0 + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        rel = os.path.join(dirs[i % len(dirs)], "steady-%05d.jpg" % i)
        data = os.urandom(rnd.randint(20, 200) * 1024)
        with open(os.path.join(src, rel), "wb") as f:
            f.write(data)
        closed[rel] = time.monotonic_ns()
    # Wait until every file is durable (lsyncd's default delay is 15 s).
    deadline = time.monotonic() + 60
    lat = {}
    while time.monotonic() < deadline:
        if mode == "revenant":
            for obj, t in list(seen.items()):
                if obj in done_objs:
                    continue
                done_objs.add(obj)
                text = subprocess.run(["zstdcat", os.path.join(watch, obj)], check=True,
                                      capture_output=True).stdout.decode()
                for line in text.splitlines():
                    f = line.split(" ")
                    if f[0] == "file":
                        p = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), f[1])
                        if p in closed:
                            d = (t - closed[p]) / 1e6
                            lat[p] = min(lat.get(p, d), d)
        else:
            for p, t in list(seen.items()):
                if p in closed and p not in lat:
                    want = os.path.getsize(os.path.join(src, p))
                    try:
                        if os.path.getsize(os.path.join(watch, p)) == want:
                            lat[p] = (t - closed[p]) / 1e6
                    except FileNotFoundError:
                        pass
        if len(lat) == n:
            break
        time.sleep(0.1)
    stop.set()
    with open(out, "w") as f:
        for p in sorted(lat):
            f.write("%s %.1f\n" % (p, lat[p]))
    if len(lat) < n:
        print("steady: only %d of %d files became durable within 60 s of the last write"
              % (len(lat), n), file=sys.stderr)
        return 1
    v = sorted(lat.values())
    print("%.0f %.0f %.0f %d" % (v[len(v) // 2], v[min(len(v) - 1, int(len(v) * 0.99))],
                                v[-1], len(v)))
    return 0


done_objs = set()


def changes(root, n):
    files = sorted(os.path.join(d, f) for d, _s, fs in os.walk(root) for f in fs)
    rnd = random.Random(9)
    for i, p in enumerate(rnd.sample(files, n // 2)):
        with open(p, "wb") as f:
            f.write(os.urandom(1024))
    for i in range(n - n // 2):
        d = os.path.dirname(files[rnd.randrange(len(files))])
        with open(os.path.join(d, "new-%05d.txt" % i), "wb") as f:
            f.write(os.urandom(1024))
    return 0


def main(a):
    if a[0] == "gen":
        gen(a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
        return 0
    if a[0] == "waitmetric":
        return waitmetric(a[1], a[2], float(a[3]), float(a[4]))
    if a[0] == "waitline":
        return waitline(a[1], a[2], float(a[3]))
    if a[0] == "steady":
        return steady(*a[1:7])
    if a[0] == "changes":
        return changes(a[1], int(a[2]))
    print("content_bench.py: unknown command " + a[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
