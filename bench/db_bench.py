#!/usr/bin/python3
"""db_bench.py - helpers for db_bench.sh (standard library only).

  db_bench.py watch ROOT OUT
      Record when each object becomes visible under ROOT (inotify, every
      folder, new ones included) as "<unix ms> <path relative to ROOT>",
      until SIGTERM.  File store: the rename of the final name (the store
      fsyncs the object before it, the folder after it); ".rv-tmp.*" names
      are ignored.  s3rver: the close of "<key>._S3rver_metadata.json",
      which s3rver writes after the object's bytes and before it answers
      the PUT; the path is recorded without that suffix.  Watch the bucket
      folder: s3rver removes emptied folders, a key prefix's included.
  db_bench.py latency ROOT VISIBLE ACK OBJSUFFIX OUT [PREFIX]
      Per acknowledged transaction, commit (ack) -> durable latency: the
      transaction's WAL frames are found in the db log segments (the txlog
      table's leaf pages, see below), the segment's end position is looked
      up in the recovery points (content logs and manifests, header db=),
      and the first point at or past it that became visible (VISIBLE, from
      `watch`; only paths starting with PREFIX) is when the transaction
      became restorable.  Prints
      "p50 p99 max n missing" in ms; writes one latency per line to OUT.
  db_bench.py genbig DB MIB
      Fill DB (schema made by db_writer.py --init) with posts of 2-20 KiB of
      hex text until it is about MIB MiB; one INSERT ... SELECT with a
      recursive CTE, journal and sync off.
  db_bench.py waitline FILE TEXT TIMEOUT
      Print the unix ms at which TEXT first appears in FILE (polling 10 ms).

Finding a transaction in the segments: db_writer.py inserts every
transaction's id into txlog(id INTEGER PRIMARY KEY, ms), whose records are
exactly two columns, the first NULL (the rowid alias): a table-leaf page
(type 0x0D) whose cells carry the record header 03 00 0N is a txlog page,
and its first and last cell give the id range it holds (ids only grow, are
never deleted).  The first segment (in position order) that holds an id is
the one that shipped its commit.
"""

import ctypes
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time

IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE, IN_ISDIR = 0x8, 0x80, 0x100, 0x40000000
S3META = "._S3rver_metadata.json"


def now_ms():
    return int(time.time() * 1000)


def watch(root, out):
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    fd = libc.inotify_init1(os.O_CLOEXEC)
    if fd < 0:
        raise OSError(ctypes.get_errno(), "inotify_init1")
    dirs = {}
    f = open(out, "w", buffering=1)
    seen = set()
    # A blocking read() is restarted after a signal whose handler returns,
    # so the handler raises to stop.
    def on_term(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)

    def record(ms, path):
        rel = os.path.relpath(path, root)
        name = os.path.basename(rel)
        if name.startswith(".rv-tmp."):
            return
        if "._S3rver_" in name:
            if not name.endswith(S3META):
                return
            rel = rel[: -len(S3META)]
        if rel not in seen:
            seen.add(rel)
            f.write("%d %s\n" % (ms, rel))

    def add(d):
        wd = libc.inotify_add_watch(fd, d.encode(), IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), "inotify_add_watch " + d)
        dirs[wd] = d
        # What appeared before the watch: seen now (a few ms late at most).
        for e in os.scandir(d):
            if e.is_dir(follow_symlinks=False):
                add(e.path)
            else:
                record(now_ms(), e.path)

    add(root)
    while True:
        buf = os.read(fd, 1 << 16)
        ms = now_ms()
        i = 0
        while i < len(buf):
            wd = int.from_bytes(buf[i:i + 4], "little", signed=True)
            mask = int.from_bytes(buf[i + 4:i + 8], "little")
            ln = int.from_bytes(buf[i + 12:i + 16], "little")
            name = buf[i + 16:i + 16 + ln].rstrip(b"\0").decode("utf-8", "surrogateescape")
            i += 16 + ln
            d = dirs.get(wd)
            if d is None:
                continue
            p = os.path.join(d, name)
            if mask & IN_ISDIR:
                if mask & (IN_CREATE | IN_MOVED_TO):
                    try:
                        add(p)
                    except OSError:
                        pass
            elif mask & (IN_MOVED_TO | IN_CLOSE_WRITE):
                record(ms, p)


def varint(b, i):
    v = 0
    for k in range(9):
        c = b[i + k]
        if k == 8:
            return (v << 8) | c, i + 9
        v = (v << 7) | (c & 0x7F)
        if c < 0x80:
            return v, i + k + 1
    return v, i + 9


def txlog_range(page, pgno):
    """(first id, last id) if page is a txlog table-leaf page, else None."""
    off = 100 if pgno == 1 else 0
    if page[off] != 0x0D:
        return None
    n = int.from_bytes(page[off + 3:off + 5], "big")
    if n == 0:
        return None
    ids = []
    for k in (0, n - 1):
        cp = int.from_bytes(page[off + 8 + 2 * k:off + 10 + 2 * k], "big")
        plen, j = varint(page, cp)
        rowid, j = varint(page, j)
        hlen, h = varint(page, j)
        if hlen != 3 or page[h] != 0 or not 1 <= page[h + 1] <= 6:
            return None
        ids.append(rowid)
    return ids[0], ids[1]


def decompress(path):
    return subprocess.run(["zstd", "-dcq", path], check=True, stdout=subprocess.PIPE).stdout


def latency(root, visible, ack, suffix, out, prefix=""):
    vis = {}
    for line in open(visible):
        ms, rel = line.rstrip("\n").split(" ", 1)
        if rel.startswith(prefix):
            vis[rel] = int(ms)
    seg_re = re.compile(r"generations/([^/]+)/db/log/([0-9a-f]{16})-([0-9a-f]{16})-[0-9a-f]+\.wal\.zst$")
    pt_re = re.compile(r"generations/([^/]+)/content/(log|snapshot)/[^/]+\.(log|manifest)\.zst$")
    segs, points = [], {}
    for rel in vis:
        m = seg_re.search(rel)
        if m:
            segs.append((m.group(1), int(m.group(2), 16), int(m.group(3), 16), rel))
            continue
        m = pt_re.search(rel)
        if m:
            head = decompress(os.path.join(root, rel + suffix)).split(b"\n", 1)[0].decode()
            d = re.search(r" db=(\d+)", head)
            if d:
                points.setdefault(m.group(1), []).append((int(d.group(1)), vis[rel]))
    first = {}  # txn id -> (gen, segment end)
    for gen, frm, to, rel in sorted(segs):
        data = decompress(os.path.join(root, rel + suffix))
        nl = data.index(b"\n")
        head = data[:nl].decode()
        ps = int(re.search(r"page_size=(\d+)", head).group(1))
        nframes = int(re.search(r"frames=(\d+)", head).group(1))
        i = nl + 1
        for _ in range(nframes):
            pgno = int.from_bytes(data[i:i + 4], "big")
            r = txlog_range(data[i + 24:i + 24 + ps], pgno)
            if r:
                for t in range(r[0], r[1] + 1):
                    if t not in first:
                        first[t] = (gen, to)
            i += 24 + ps
    for g in points:
        points[g].sort(key=lambda p: (p[1], p[0]))
    lat, missing = [], 0
    for line in open(ack):
        p = line.split()
        if len(p) != 2:
            continue
        tid, ams = int(p[0]), int(p[1])
        if tid not in first:
            missing += 1
            continue
        gen, to = first[tid]
        # The earliest visible point of that generation at or past `to`.
        t = min((v for pos, v in points.get(gen, []) if pos >= to), default=None)
        if t is None:
            missing += 1
            continue
        lat.append(t - ams)
    lat.sort()
    with open(out, "w") as f:
        for v in lat:
            f.write("%d\n" % v)
    if not lat:
        print("0 0 0 0 %d" % missing)
        return 1
    q = lambda x: lat[min(len(lat) - 1, int(x * len(lat)))]
    print("%d %d %d %d %d" % (q(0.50), q(0.99), lat[-1], len(lat), missing))
    return 0


def genbig(db, mib):
    rows = int(mib) * 1048576 // 15000
    c = sqlite3.connect(db, isolation_level=None)
    c.execute("PRAGMA journal_mode=OFF")
    c.execute("PRAGMA synchronous=OFF")
    c.execute("BEGIN")
    c.execute("""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?),
r(i, h) AS (SELECT i, '<p>' || hex(randomblob((abs(random()) % 18432 + 2048) / 2)) || '</p>' FROM n)
INSERT INTO posts (id, uuid, title, slug, html, plaintext, status, created_at, updated_at)
SELECT printf('%024x', i + 1000000000), lower(hex(randomblob(16))), 'Post ' || i, 'big-' || i,
       h, substr(h, 4, length(h) / 3), 'published', datetime('now'), datetime('now') FROM r""",
              (rows,))
    c.execute("COMMIT")
    c.execute("PRAGMA journal_mode=DELETE")
    c.close()


def waitline(path, text, timeout):
    end = time.time() + float(timeout)
    while time.time() < end:
        try:
            with open(path) as f:
                if text in f.read():
                    print(now_ms())
                    return 0
        except FileNotFoundError:
            pass
        time.sleep(0.01)
    print("waitline: '%s' not in %s after %s s" % (text, path, timeout), file=sys.stderr)
    return 1


def main(a):
    if a[0] == "watch":
        watch(a[1], a[2])
        return 0
    if a[0] == "latency":
        return latency(*a[1:7])
    if a[0] == "genbig":
        genbig(a[1], a[2])
        return 0
    if a[0] == "waitline":
        return waitline(a[1], a[2], a[3])
    print("db_bench.py: unknown command " + a[0], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
