#!/usr/bin/env python3
"""hostile_store.py - craft file:// stores straight from docs/FORMAT.md with
whatever a hostile or broken writer could put in them: every record line is
written as given (no escaping, no path check), with a correct end line and
zstd checksum, so a reader must refuse it on its meaning, not its framing.

  hostile_store.py init STORE [GEN]          generation meta + lease.json; prints GEN
  hostile_store.py lease STORE GEN           lease.json naming GEN as given (any text)
  hostile_store.py blob STORE TEXT           a blob with TEXT; prints its sha-256
  hostile_store.py log STORE GEN SEQ LINE... a content log (seq SEQ) of raw LINEs
  hostile_store.py manifest STORE GEN SEQ LINE...  a content manifest of raw LINEs
  hostile_store.py tree DIR                  sha-256 of a canonical listing of DIR
                                             (links not followed; 'absent' if none)

Record lines use {sha:TEXT} for the sha-256 of TEXT (and put the blob), and
{size:TEXT} for its length, so a file record is easy to write by hand.
"""
import hashlib
import json
import os
import re
import stat
import subprocess
import sys
import time

MS = 1767323045678


def put(store, key, data):
    path = os.path.join(store, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + '.tmp', 'wb') as f:
        f.write(data)
    os.rename(path + '.tmp', path)


def blob(store, text):
    data = text.encode()
    sha = hashlib.sha256(data).hexdigest()
    put(store, 'blobs/sha256/%s/%s' % (sha[:2], sha), data)
    return sha


def iso(ms):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000)) + '.%03dZ' % (ms % 1000)


def lease(store, gen):
    doc = {'format': 'revenant-lease', 'version': '1.0', 'epoch': 1, 'site': 'test',
           'generation': gen, 'since': iso(MS), 'since_ms': MS, 'holder': 'hostile:1:00000000'}
    put(store, 'lease.json', json.dumps(doc).encode())


def obj(kind, gen, seq, lines):
    text = 'revenant 1.1 %s gen=%s from=%d to=%d time=%d\n' % (kind, gen, seq, seq, MS + seq)
    text += ''.join(l + '\n' for l in lines)
    raw = text.encode('utf-8', 'surrogateescape')
    raw += ('end %d %s\n' % (len(lines), hashlib.sha256(raw).hexdigest())).encode()
    return subprocess.run(['zstd', '-q', '-c', '--check'], input=raw, check=True,
                          stdout=subprocess.PIPE).stdout


def expand(store, line):
    line = re.sub(r'\{sha:([^}]*)\}', lambda m: blob(store, m.group(1)), line)
    return re.sub(r'\{size:([^}]*)\}', lambda m: str(len(m.group(1).encode())), line)


def tree(d):
    h = hashlib.sha256()
    if not os.path.lexists(d):
        return 'absent'
    for root, dirs, files in os.walk(d):
        dirs.sort()
        for name in sorted(dirs + files):
            p = os.path.join(root, name)
            st = os.lstat(p)
            h.update(repr((os.path.relpath(p, d), st.st_mode, st.st_size, st.st_mtime_ns)).encode())
            if stat.S_ISLNK(st.st_mode):
                h.update(os.fsencode(os.readlink(p)))
            elif stat.S_ISREG(st.st_mode):
                with open(p, 'rb') as f:
                    h.update(hashlib.sha256(f.read()).digest())
    return h.hexdigest()


def main():
    cmd, a = sys.argv[1], sys.argv[2:]
    if cmd == 'init':
        gen = a[1] if len(a) > 1 else '%016x-%08x' % (MS, 0x3fa9c2d1)
        meta = {'format': 'revenant-generation', 'version': '1.0', 'generation': gen,
                'site': 'test', 'epoch': 1, 'created': iso(MS), 'created_ms': MS,
                'parent': None, 'database': 'none', 'revenant': 'hostile'}
        put(a[0], 'generations/%s/meta.json' % gen, json.dumps(meta).encode())
        lease(a[0], gen)
        print(gen)
    elif cmd == 'lease':
        lease(a[0], a[1])
    elif cmd == 'blob':
        print(blob(a[0], a[1]))
    elif cmd in ('log', 'manifest'):
        store, gen, seq = a[0], a[1], int(a[2])
        lines = [expand(store, l) for l in a[3:]]
        if cmd == 'log':
            key = 'generations/%s/content/log/%016x-%016x.log.zst' % (gen, seq, MS + seq)
        else:
            key = 'generations/%s/content/snapshot/%016x-%016x.manifest.zst' % (gen, seq, MS + seq)
        put(store, key, obj('content-' + cmd, gen, seq, lines))
        print(key)
    elif cmd == 'tree':
        print(tree(a[0]))
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
