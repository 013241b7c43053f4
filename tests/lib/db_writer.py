#!/usr/bin/python3
"""db_writer.py - a steady writer into a Ghost-shaped SQLite database, for
the database replication tests and benchmarks.

    db_writer.py --db ghost.db --ack acks.log [--rate 200] [--init]
                 [--duration S] [--count N] [--seed N] [--stats FILE]
                 [--busy-log FILE]

Tables: posts (html of 2-20 KiB, plaintext, title, slug, status, times, in
the shape of Ghost 5's), tags, posts_tags, meta, and txlog(id, ms).  Each
transaction inserts a post (with 1-3 tags), rewrites a post's html, changes
a post's status/title, or deletes a post and its tag links, and always
inserts its own id into txlog, so the txlog of a restored copy says exactly
which transactions it holds.  txlog.ms is the Unix ms taken inside the
transaction, before COMMIT: a database that holds transaction k was read
after txlog.ms of k.  Ids continue from the database's max(txlog.id) + 1,
so a writer killed and restarted keeps one gapless sequence.

Acks.  After COMMIT returns (the transaction is "committed by SQLite":
durable as far as the application is concerned) the writer appends
"<id> <unix ms>" to the ack log.  The log is written and fsync'ed every
~50 ms, so after kill -9 the last few committed transactions may be missing
from it: the ack log is a lower bound that the tests compare restores with,
never part of the database.  Timestamps are the wall clock (CLOCK_REALTIME,
the clock revenant writes into object names), in ms.

Busy.  The connection has a busy timeout (--busy-timeout, 5 s like Ghost's
knex default), and transactions begin DEFERRED like knex's: the first
statement reads, so SQLite may answer SQLITE_BUSY at once when another
connection holds the write lock (it does not wait when a reader wants to
become a writer), or SQLITE_BUSY_SNAPSHOT when the snapshot went stale.
Both are retried (rollback, 1-10 ms pause, the whole transaction again)
and counted, in total and by extended result code ("errors": {"5": n,
"517": n}); --busy-log appends one line per such error: "<unix ms> <code>
<txn id> <the statement that failed>".  Any other error ends the writer
with status 1.

Latency.  Each transaction's time from its first BEGIN to the COMMIT that
succeeded (retries included) is kept: the stats give its p50, p99 and max
in ms ("latency_ms"), what Ghost's request would have waited.

SIGTERM/SIGINT: the transaction in progress finishes, the ack log is
flushed, the counts are printed to stderr as one line ("db_writer: txns=...
busy=... busy_snapshot=... locked_wait_ms_max=...") and, with --stats, as
JSON to that file.  Exit 0.  The --db file is created with --init (schema
and 20 tags) when missing; without --init it must exist.

Standard library only: run with /usr/bin/python3.
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import sys
import time
import uuid

SCHEMA = """
CREATE TABLE IF NOT EXISTS posts (
    id varchar(24) NOT NULL PRIMARY KEY,
    uuid varchar(36) NOT NULL,
    title varchar(2000) NOT NULL,
    slug varchar(191) NOT NULL UNIQUE,
    lexical text NULL,
    html text NULL,
    plaintext text NULL,
    feature_image varchar(2000) NULL,
    featured boolean NOT NULL DEFAULT 0,
    type varchar(50) NOT NULL DEFAULT 'post',
    status varchar(50) NOT NULL DEFAULT 'draft',
    visibility varchar(50) NOT NULL DEFAULT 'public',
    created_at datetime NOT NULL,
    updated_at datetime NULL,
    published_at datetime NULL,
    custom_excerpt varchar(2000) NULL
);
CREATE INDEX IF NOT EXISTS posts_status_index ON posts (status);
CREATE TABLE IF NOT EXISTS tags (
    id varchar(24) NOT NULL PRIMARY KEY,
    name varchar(191) NOT NULL,
    slug varchar(191) NOT NULL UNIQUE,
    description text NULL,
    visibility varchar(50) NOT NULL DEFAULT 'public',
    created_at datetime NOT NULL,
    updated_at datetime NULL
);
CREATE TABLE IF NOT EXISTS posts_tags (
    id varchar(24) NOT NULL PRIMARY KEY,
    post_id varchar(24) NOT NULL REFERENCES posts (id),
    tag_id varchar(24) NOT NULL REFERENCES tags (id),
    sort_order integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS posts_tags_post_id_index ON posts_tags (post_id);
CREATE TABLE IF NOT EXISTS meta (k text NOT NULL PRIMARY KEY, v text);
CREATE TABLE IF NOT EXISTS txlog (id INTEGER PRIMARY KEY, ms INTEGER NOT NULL);
"""

WORDS = (
    "ghost publishing story newsletter member editor content post tag theme "
    "image gallery draft schedule subscriber portal analytics revenue email "
    "design typography layout sidebar footer header navigation archive "
    "author comment reply search index cache request response server client "
    "recover replica durable commit segment snapshot generation backup the "
    "a of and to in is it that for on with as was at by an be this from"
).split()

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_BUSY_SNAPSHOT = 517


def object_id(rnd):
    """Ghost ids: 24 hex digits (a Mongo ObjectId)."""
    return "%024x" % rnd.getrandbits(96)


def iso(ms):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))


class Writer:
    def __init__(self, a):
        self.a = a
        self.rnd = random.Random(a.seed)
        self.stop = False
        self.txns = 0
        self.busy = 0
        self.busy_snapshot = 0
        self.locked = 0
        self.wait_max = 0.0
        self.errors = {}
        self.lat = []
        self.sql = ""
        self.tid = 0
        self.busy_log = open(a.busy_log, "a") if a.busy_log else None
        self.kinds = {"insert": 0, "update": 0, "status": 0, "delete": 0}
        exists = os.path.exists(a.db)
        if not exists and not a.init:
            sys.exit("db_writer: %s does not exist (give --init to create it)" % a.db)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves (autocommit
        # otherwise); timeout is sqlite3_busy_timeout.
        self.c = sqlite3.connect(a.db, timeout=a.busy_timeout, isolation_level=None)
        if a.journal_mode:
            self.c.execute("PRAGMA journal_mode=%s" % a.journal_mode)
        if a.synchronous:
            self.c.execute("PRAGMA synchronous=%s" % a.synchronous)
        if a.init:
            self.retry(self.init_schema)
        self.next_id = self.c.execute("SELECT coalesce(max(id), 0) + 1 FROM txlog").fetchone()[0]
        self.posts = [r[0] for r in self.c.execute("SELECT id FROM posts")]
        self.tags = [r[0] for r in self.c.execute("SELECT id FROM tags")]
        self.ack = open(a.ack, "a")
        self.ack_pending = False
        self.ack_synced = time.monotonic()

    def init_schema(self):
        self.c.execute("BEGIN IMMEDIATE")
        # executescript() would COMMIT first: one statement at a time.
        for stmt in SCHEMA.split(";"):
            if stmt.strip():
                self.c.execute(stmt)
        if self.c.execute("SELECT count(*) FROM tags").fetchone()[0] == 0:
            now = iso(time.time() * 1000)
            for i in range(20):
                self.c.execute(
                    "INSERT INTO tags (id, name, slug, description, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (object_id(self.rnd), "Tag %d" % i, "tag-%d" % i,
                     self.text(100, 400), now, now))
        self.c.execute("INSERT OR IGNORE INTO meta (k, v) VALUES ('origin', ?)", (self.a.origin,))
        self.c.execute("COMMIT")

    def text(self, lo, hi):
        n = self.rnd.randint(lo, hi)
        s = " ".join(self.rnd.choices(WORDS, k=n // 5 + 1))
        return s[:n]

    def html(self):
        body = self.text(2048, 20480)
        return "<p>" + body[: len(body) - 7] + "</p>"

    def one(self, tid):
        """One transaction's statements; returns what to apply to the
        in-memory lists once COMMIT succeeded."""
        rnd = self.rnd
        c = self  # execute() below remembers the statement for --busy-log
        self.tid = tid
        c.execute("BEGIN")
        # Read first, as an ORM does (load the row it will change): this is
        # what makes a deferred transaction a reader that must upgrade.
        nposts = len(self.posts)
        if self.posts:
            c.execute("SELECT id, updated_at FROM posts WHERE id = ?",
                      (self.posts[rnd.randrange(nposts)],)).fetchone()
        else:
            c.execute("SELECT count(*) FROM tags").fetchone()
        ms = int(time.time() * 1000)
        r = rnd.random()
        if not self.posts or (r < 0.45 and nposts < self.a.max_posts):
            kind = "insert"
        elif r < 0.80:
            kind = "update"
        elif r < 0.90:
            kind = "status"
        else:
            kind = "delete"
        undo = None
        if kind == "insert":
            pid = object_id(rnd)
            html = self.html()
            c.execute(
                "INSERT INTO posts (id, uuid, title, slug, html, plaintext, featured, status, "
                "created_at, updated_at, custom_excerpt) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (pid, str(uuid.UUID(int=rnd.getrandbits(128))), self.text(10, 120),
                 "post-%d-%s" % (tid, pid[:6]), html, html[3:-4][: len(html) // 3],
                 rnd.random() < 0.1, rnd.choice(("draft", "published", "scheduled")),
                 iso(ms), iso(ms), self.text(0, 300)))
            for i, tag in enumerate(rnd.sample(self.tags, rnd.randint(1, 3))):
                c.execute("INSERT INTO posts_tags (id, post_id, tag_id, sort_order) "
                          "VALUES (?,?,?,?)", (object_id(rnd), pid, tag, i))
            undo = ("add", pid)
        else:
            pid = rnd.choice(self.posts)
            if kind == "update":
                html = self.html()
                c.execute("UPDATE posts SET html = ?, plaintext = ?, updated_at = ? WHERE id = ?",
                          (html, html[3:-4][: len(html) // 3], iso(ms), pid))
            elif kind == "status":
                c.execute("UPDATE posts SET status = ?, title = ?, updated_at = ?, "
                          "published_at = ? WHERE id = ?",
                          (rnd.choice(("draft", "published", "scheduled")), self.text(10, 120),
                           iso(ms), iso(ms), pid))
            else:
                c.execute("DELETE FROM posts_tags WHERE post_id = ?", (pid,))
                c.execute("DELETE FROM posts WHERE id = ?", (pid,))
                undo = ("del", pid)
        c.execute("INSERT INTO txlog (id, ms) VALUES (?, ?)", (tid, ms))
        c.execute("COMMIT")
        return kind, undo

    def execute(self, sql, args=()):
        self.sql = sql
        return self.c.execute(sql, args)

    def retry(self, fn, *args):
        """Run fn (one whole transaction) until it commits; SQLITE_BUSY,
        BUSY_SNAPSHOT and LOCKED are retried and counted."""
        t0 = time.monotonic()
        state = self.rnd.getstate()
        while True:
            try:
                out = fn(*args)
                dt = time.monotonic() - t0
                self.wait_max = max(self.wait_max, dt)
                if fn == self.one:
                    self.lat.append(dt)
                return out
            except sqlite3.OperationalError as e:
                code = getattr(e, "sqlite_errorcode", None)
                if code is None:
                    code = SQLITE_BUSY if "locked" in str(e) or "busy" in str(e) else -1
                if code not in (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED) and \
                        code & 0xff not in (SQLITE_BUSY, SQLITE_LOCKED):
                    raise
                self.errors[str(code)] = self.errors.get(str(code), 0) + 1
                if self.busy_log:
                    self.busy_log.write("%d %d %d %s\n" % (
                        int(time.time() * 1000), code, self.tid,
                        " ".join(self.sql.split())[:60]))
                    self.busy_log.flush()
                if code == SQLITE_BUSY_SNAPSHOT:
                    self.busy_snapshot += 1
                elif code & 0xff == SQLITE_LOCKED:
                    self.locked += 1
                else:
                    self.busy += 1
                if self.c.in_transaction:
                    self.c.execute("ROLLBACK")
                # The same transaction again (same random choices).
                self.rnd.setstate(state)
                time.sleep(random.uniform(0.001, 0.01))

    def percentiles(self):
        lat = sorted(self.lat)
        if not lat:
            return {"p50": 0, "p99": 0, "max": 0}

        def at(q):
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] * 1000, 1)
        return {"p50": at(0.50), "p99": at(0.99), "max": round(lat[-1] * 1000, 1)}

    def flush_acks(self, force=False):
        if not self.ack_pending:
            return
        now = time.monotonic()
        if force or now - self.ack_synced >= 0.05:
            self.ack.flush()
            os.fsync(self.ack.fileno())
            self.ack_pending = False
            self.ack_synced = now

    def run(self):
        a = self.a
        t0 = time.monotonic()
        start_id = self.next_id
        period = 1.0 / a.rate if a.rate > 0 else 0.0
        while not self.stop:
            n = self.next_id - start_id
            if a.count is not None and n >= a.count:
                break
            if a.duration and time.monotonic() - t0 >= a.duration:
                break
            due = t0 + n * period
            while True:
                wait = due - time.monotonic()
                if wait <= 0 or self.stop:
                    break
                self.flush_acks()
                time.sleep(min(wait, 0.02))
            if self.stop:
                break
            tid = self.next_id
            kind, undo = self.retry(self.one, tid)
            ms = int(time.time() * 1000)
            self.ack.write("%d %d\n" % (tid, ms))
            self.ack_pending = True
            self.next_id += 1
            self.txns += 1
            self.kinds[kind] += 1
            if undo and undo[0] == "add":
                self.posts.append(undo[1])
            elif undo:
                i = self.posts.index(undo[1])
                self.posts[i] = self.posts[-1]
                self.posts.pop()
            self.flush_acks()
        self.flush_acks(force=True)
        elapsed = time.monotonic() - t0
        st = {
            "txns": self.txns,
            "first_id": start_id,
            "last_id": self.next_id - 1,
            "elapsed_s": round(elapsed, 3),
            "rate": round(self.txns / elapsed, 1) if elapsed > 0 else 0,
            "busy": self.busy,
            "busy_snapshot": self.busy_snapshot,
            "locked": self.locked,
            "txn_wait_ms_max": round(self.wait_max * 1000, 1),
            "errors": self.errors,
            "latency_ms": self.percentiles(),
            "kinds": self.kinds,
            "posts": len(self.posts),
        }
        print("db_writer: " + " ".join(
            "%s=%s" % (k, v) for k, v in st.items()
            if k not in ("kinds", "errors", "latency_ms")), file=sys.stderr)
        if a.stats:
            with open(a.stats, "w") as f:
                json.dump(st, f)
                f.write("\n")
        self.c.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--db", required=True)
    p.add_argument("--ack", required=True, help="ack log: '<id> <unix ms>' per commit")
    p.add_argument("--rate", type=float, default=200, help="transactions per second (0: flat out)")
    p.add_argument("--duration", type=float, default=0, help="stop after S seconds")
    p.add_argument("--count", type=int, default=None, help="stop after N transactions (0: none)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--init", action="store_true", help="create the schema (and the file)")
    p.add_argument("--origin", default="A", help="meta.origin written by --init")
    p.add_argument("--max-posts", type=int, default=2000,
                   help="inserts turn into deletes above this many posts")
    p.add_argument("--busy-timeout", type=float, default=5.0, help="seconds")
    p.add_argument("--journal-mode", default=None, help="PRAGMA journal_mode to set (default: leave)")
    p.add_argument("--synchronous", default=None, help="PRAGMA synchronous (default: SQLite's)")
    p.add_argument("--stats", default=None, help="write the counts here as JSON on exit")
    p.add_argument("--busy-log", default=None,
                   help="append '<unix ms> <extended code> <txn id> <statement>' per BUSY/LOCKED")
    a = p.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    w = Writer(a)

    def on_signal(signum, frame):
        w.stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    w.run()


if __name__ == "__main__":
    main()
