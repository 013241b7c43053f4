#!/usr/bin/env python3
"""faultproxy.py - an HTTP/1.1 proxy between a client and an S3 server that
injects faults into the first N requests, for retry tests.

    faultproxy.py --upstream 127.0.0.1:PORT --mode slowdown --count 3 \
                  --port-file F [--stats-file S] [--stall-seconds 30] \
                  [--ratio 0.8 --seed 1] [--while-file W]

Modes (applied to the first --count requests; -1 = every request):
  slowdown  read the request, answer 503 with an S3 <Error><Code>SlowDown</Code>
  busy      the same, alternating SlowDown and ServiceUnavailable (both 503)
  reset     read the request head, then reset the connection (RST)
  stall     read the request head, then send nothing for --stall-seconds
  slowstall the first fault answers like slowdown, every later one stalls
            (a deadline that ends an attempt must not hide what came before)
  delay     wait --stall-seconds, then forward the request unchanged (a slow
            link: makes a client's run take a known minimum time)
  none      forward everything
Requests after the first N are forwarded unchanged.  --ratio R faults only
that share of the requests (seeded, so runs repeat); --while-file W faults
only while the file W exists, so a test opens and closes the fault window
by creating and removing it.  One request per
connection (the proxy answers with Connection: close).  The listening port
is written to --port-file once it listens; after every request the stats
file gets "requests=R faults=F".  Standard library only.
"""
import argparse
import os
import random
import socket
import struct
import sys
import threading
import time

SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
            b'<Error><Code>SlowDown</Code><Message>Please reduce your request rate.'
            b'</Message><RequestId>faultproxy</RequestId></Error>')
UNAVAILABLE = (b'<?xml version="1.0" encoding="UTF-8"?>\n'
               b'<Error><Code>ServiceUnavailable</Code><Message>Service is unable to '
               b'handle request.</Message><RequestId>faultproxy</RequestId></Error>')


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.faults = 0
        self.rng = random.Random(args.seed)

    def next_is_fault(self):
        with self.lock:
            self.requests += 1
            n = self.args.count
            fault = self.args.mode != "none" and (n < 0 or self.faults < n)
            if fault and self.args.while_file:
                fault = os.path.exists(self.args.while_file)
            if fault and self.args.ratio < 1.0:
                fault = self.rng.random() < self.args.ratio
            if fault:
                self.faults += 1
            return fault, self.faults

    def write_stats(self):
        if not self.args.stats_file:
            return
        # Under the lock: handler threads would otherwise race on the file.
        with self.lock:
            tmp = self.args.stats_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("requests=%d faults=%d\n" % (self.requests, self.faults))
            os.replace(tmp, self.args.stats_file)


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, rest = data.split(b"\r\n\r\n", 1)
    return head, rest


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


def read_body(conn, have, length):
    body = have
    while len(body) < length:
        chunk = conn.recv(min(1 << 20, length - len(body)))
        if not chunk:
            break
        body += chunk
    return body


def force_close(head):
    lines = [l for l in head.split(b"\r\n")
             if not l.lower().startswith(b"connection:")]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def reset(conn):
    # SO_LINGER with a zero timeout turns close() into a TCP RST.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def handle(conn, st):
    try:
        head, rest = read_head(conn)
        if head is None:
            conn.close()
            return
        fault, nth = st.next_is_fault()
        # Counted before answering, so a client that has its answer
        # always sees itself in the stats.
        st.write_stats()
        mode = st.args.mode if fault else "none"
        if mode == "slowstall":
            mode = "slowdown" if nth == 1 else "stall"
        if mode == "reset":
            reset(conn)
            return
        if mode == "stall":
            time.sleep(st.args.stall_seconds)
            conn.close()
            return
        body = read_body(conn, rest, content_length(head))
        if mode == "delay":
            time.sleep(st.args.stall_seconds)
        if mode in ("slowdown", "busy"):
            busy = mode == "busy" and nth % 2 == 0
            err = UNAVAILABLE if busy else SLOWDOWN
            reason = b"Service Unavailable" if busy else b"Slow Down"
            conn.sendall(b"HTTP/1.1 503 %s\r\nContent-Type: application/xml\r\n"
                         b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                         % (reason, len(err)) + err)
            conn.close()
            return
        host, port = st.args.upstream.rsplit(":", 1)
        up = socket.create_connection((host, int(port)))
        up.sendall(force_close(head) + body)
        first = True
        while True:
            chunk = up.recv(1 << 20)
            if not chunk:
                break
            if first:
                # Tell the client too that this connection ends here.
                h, sep, b = chunk.partition(b"\r\n\r\n")
                if sep:
                    chunk = force_close(h) + b
                first = False
            conn.sendall(chunk)
        up.close()
        conn.close()
    except OSError:
        try:
            conn.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--mode", choices=["slowdown", "busy", "reset", "stall", "slowstall", "delay",
                                       "none"],
                    required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--stats-file")
    ap.add_argument("--stall-seconds", type=float, default=30.0)
    ap.add_argument("--ratio", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--while-file")
    args = ap.parse_args()
    st = State(args)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    os.replace(args.port_file + ".tmp", args.port_file)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn, st), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
