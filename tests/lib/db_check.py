#!/usr/bin/python3
"""db_check.py - checks on databases restored by revenant, written by
db_writer.py (see there for the txlog and the ack log).

  db_check.py check --db R --ack A [--acked-before MS] [--at-ms T] [--origin X]
      PRAGMA integrity_check is "ok"; txlog ids are exactly 1..m (a prefix,
      no hole); m >= every id acked (in A) before MS; with --at-ms, every
      transaction in R was inside its transaction before T (txlog.ms <= T:
      exact, since txlog.ms is taken before COMMIT, the commit precedes the
      read of the frames, and that read precedes the recovery point's
      time).  Prints "ok m=<m> need=<id> acked_after_at=<n>".
  db_check.py same-txlog --db R --source S
      R's txlog rows (id, ms) equal the first rows of S's: R holds the same
      transactions the source committed, not just the same ids.
  db_check.py digest DB
      one line per table: name, rows, SHA-256 of all rows sorted.
  db_check.py acked-max ACK MS
      the largest id acked before MS (0 if none).
Exit 1 with a reason on stderr when a check fails.
"""

import hashlib
import sqlite3
import sys


def fail(msg):
    print("db_check: " + msg, file=sys.stderr)
    sys.exit(1)


def acks(path):
    out = []
    with open(path) as f:
        for line in f:
            p = line.split()
            # The writer may be appending: a torn last line is skipped.
            if len(p) == 2 and line.endswith("\n"):
                out.append((int(p[0]), int(p[1])))
    return out


def acked_max(path, before_ms):
    m = 0
    for tid, ms in acks(path):
        if ms < before_ms and tid > m:
            m = tid
    return m


def ro(path):
    return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)


def check(a):
    c = ro(a["--db"])
    r = c.execute("PRAGMA integrity_check").fetchall()
    if r != [("ok",)]:
        fail("%s: integrity_check says %r" % (a["--db"], r[:5]))
    if "--origin" in a:
        o = c.execute("SELECT v FROM meta WHERE k = 'origin'").fetchone()
        if not o or o[0] != a["--origin"]:
            fail("%s: origin %r, expected %r" % (a["--db"], o, a["--origin"]))
    ids = [r[0] for r in c.execute("SELECT id FROM txlog ORDER BY id")]
    m = len(ids)
    if ids and (ids[0] != 1 or ids[-1] != m):
        prev = 0
        for i in ids:
            if i != prev + 1:
                fail("%s: txlog is not a prefix: %d follows %d (%d rows, max %d)" %
                     (a["--db"], i, prev, m, ids[-1]))
            prev = i
    need = 0
    if "--acked-before" in a:
        need = acked_max(a["--ack"], int(a["--acked-before"]))
        if m < need:
            fail("%s: holds transactions 1..%d but %d was acked before %s (%d ms earlier)" %
                 (a["--db"], m, need, a["--acked-before"],
                  int(a["--acked-before"]) - dict(acks(a["--ack"]))[need]))
    late = 0
    if "--at-ms" in a:
        at = int(a["--at-ms"])
        row = c.execute("SELECT id, ms FROM txlog WHERE ms > ? ORDER BY id LIMIT 1",
                        (at,)).fetchone()
        if row:
            fail("%s: restored --at %d but holds transaction %d begun at %d (%d ms later)" %
                 (a["--db"], at, row[0], row[1], row[1] - at))
        acked = dict(acks(a["--ack"]))
        late = sum(1 for i in ids[-50:] if acked.get(i, 0) > at)
    print("ok m=%d need=%d acked_after_at=%d" % (m, need, late))


def same_txlog(a):
    r = ro(a["--db"]).execute("SELECT id, ms FROM txlog ORDER BY id").fetchall()
    s = ro(a["--source"]).execute("SELECT id, ms FROM txlog ORDER BY id LIMIT ?",
                                  (len(r),)).fetchall()
    if r != s:
        bad = next(i for i in range(len(r)) if i >= len(s) or r[i] != s[i])
        fail("%s: txlog row %d is %r, the source has %r" %
             (a["--db"], bad, r[bad], s[bad] if bad < len(s) else None))
    print("ok %d rows" % len(r))


def digest(path):
    c = ro(path)
    names = [r[0] for r in c.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    for n in names:
        rows = sorted(repr(r) for r in c.execute('SELECT * FROM "%s"' % n))
        h = hashlib.sha256()
        for r in rows:
            h.update(r.encode() + b"\n")
        print("%s %d %s" % (n, len(rows), h.hexdigest()))


def main():
    argv = sys.argv[1:]
    if not argv:
        fail("usage: see the top of " + __file__)
    cmd = argv[0]
    if cmd == "digest":
        digest(argv[1])
        return
    if cmd == "acked-max":
        print(acked_max(argv[1], int(argv[2])))
        return
    a = dict(zip(argv[1::2], argv[2::2]))
    if cmd == "check":
        check(a)
    elif cmd == "same-txlog":
        same_txlog(a)
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
