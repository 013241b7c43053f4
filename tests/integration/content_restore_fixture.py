#!/usr/bin/env python3
"""content_restore_fixture.py - write a content history into a file:// store
layout, independently of revenant's C writer, straight from docs/FORMAT.md
(so the restore tests also check that the spec is enough to write the format).

  fixture.py init  STORE [--parent GEN]       new generation + lease.json; prints GEN
  fixture.py commit STORE SRC [--time MS]     one log object: SRC's changes since
                                              the last commit/snapshot
  fixture.py snapshot STORE SRC [--time MS]   a manifest of SRC at the current seq
  fixture.py blobpath STORE PATH              the blob file of PATH in the last state
  fixture.py sig DIR [--no-dir-mtime]         a canonical listing of DIR to compare

State (generation, sequence, last folder state) is kept in STORE/../<store
name>.fixture.json, outside the store.  Objects are compressed with the zstd
command-line tool (which writes the content checksum).
"""
import hashlib
import json
import os
import random
import stat
import subprocess
import sys
import time


def esc(b):
    out = []
    i = 0
    while i < len(b):
        c = b[i]
        if c <= 0x20 or c == 0x7F or c == 0x25:
            out.append('%%%02X' % c)
            i += 1
            continue
        if c < 0x80:
            out.append(chr(c))
            i += 1
            continue
        n = 2 if 0xC2 <= c <= 0xDF else 3 if 0xE0 <= c <= 0xEF else 4 if 0xF0 <= c <= 0xF4 else 0
        if n and i + n <= len(b):
            try:
                out.append(b[i:i + n].decode('utf-8', 'strict'))
                i += n
                continue
            except UnicodeDecodeError:
                pass
        out.append('%%%02X' % c)
        i += 1
    return ''.join(out)


def order(p):
    # '/' sorts before every other byte: segment by segment, bytewise.
    return p.replace(b'/', b'\x00')


def walk(src):
    """{path bytes: record tuple} of everything under src (links not followed)."""
    res = {}
    root = os.fsencode(src)

    def rec(d, rel):
        for name in sorted(os.listdir(d)):
            full = os.path.join(d, name)
            r = rel + b'/' + name if rel else name
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                res[r] = ('link', st.st_mtime_ns, os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                res[r] = ('dir', stat.S_IMODE(st.st_mode), st.st_mtime_ns)
                rec(full, r)
            elif stat.S_ISREG(st.st_mode):
                with open(full, 'rb') as f:
                    data = f.read()
                res[r] = ('file', len(data), stat.S_IMODE(st.st_mode), st.st_mtime_ns,
                          hashlib.sha256(data).hexdigest(), full)
    rec(root, b'')
    return res


def line(path, r):
    if r[0] == 'file':
        return 'file %s %d %o %d %s' % (esc(path), r[1], r[2], r[3], r[4])
    if r[0] == 'dir':
        return 'dir %s %o %d' % (esc(path), r[1], r[2])
    if r[0] == 'link':
        return 'link %s %d %s' % (esc(path), r[1], esc(r[2]))
    return 'del %s' % esc(path)


def obj(kind, gen, seq, ms, lines):
    text = 'revenant 1.0 %s gen=%s from=%d to=%d time=%d\n' % (kind, gen, seq, seq, ms)
    text += ''.join(l + '\n' for l in lines)
    raw = text.encode()
    raw += ('end %d %s\n' % (len(lines), hashlib.sha256(raw).hexdigest())).encode()
    return subprocess.run(['zstd', '-q', '-c', '--check'], input=raw, check=True,
                          stdout=subprocess.PIPE).stdout


def put(store, key, data):
    path = os.path.join(store, key)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.rename(tmp, path)


def put_blobs(store, state):
    for r in state.values():
        if r[0] == 'file':
            key = 'blobs/sha256/%s/%s' % (r[4][:2], r[4])
            if not os.path.exists(os.path.join(store, key)):
                with open(r[5], 'rb') as f:
                    put(store, key, f.read())


def state_file(store):
    return os.path.normpath(store) + '.fixture.json'


def load(store):
    with open(state_file(store)) as f:
        st = json.load(f)
    st['files'] = {bytes.fromhex(k): tuple(v) for k, v in st['files'].items()}
    return st


def save(store, st):
    out = dict(st)
    out['files'] = {k.hex(): [x.hex() if isinstance(x, bytes) else x for x in v]
                    for k, v in st['files'].items()}
    with open(state_file(store), 'w') as f:
        json.dump(out, f)


def norm(v):
    # A comparable record: no source path, link targets as hex like the saved state.
    v = v[:5] if v[0] == 'file' else v
    return tuple(x.hex() if isinstance(x, bytes) else x for x in v)


def iso(ms):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(ms // 1000)) + '.%03dZ' % (ms % 1000)


def main():
    cmd, store = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    ms = int(time.time() * 1000)
    if '--time' in args:
        ms = int(args[args.index('--time') + 1])
    if cmd == 'init':
        parent = args[args.index('--parent') + 1] if '--parent' in args else None
        gen = '%016x-%08x' % (ms, random.getrandbits(32))
        meta = {'format': 'revenant-generation', 'version': '1.0', 'generation': gen,
                'site': 'test', 'epoch': 1, 'created': iso(ms), 'created_ms': ms,
                'parent': parent, 'database': 'none', 'revenant': 'fixture'}
        put(store, 'generations/%s/meta.json' % gen, json.dumps(meta).encode())
        lease = {'format': 'revenant-lease', 'version': '1.0', 'epoch': 1, 'site': 'test',
                 'generation': gen, 'since': iso(ms), 'since_ms': ms,
                 'holder': 'fixture:%d:00000000' % os.getpid()}
        put(store, 'lease.json', json.dumps(lease).encode())
        old = {}
        if os.path.exists(state_file(store)):
            old = load(store)['files']
        save(store, {'gen': gen, 'seq': 0, 'files': old})
        print(gen)
    elif cmd in ('commit', 'snapshot'):
        st = load(store)
        new = walk(args[0])
        put_blobs(store, new)
        gen = st['gen']
        if cmd == 'snapshot':
            lines = [line(p, new[p]) for p in sorted(new, key=order)]
            key = 'generations/%s/content/snapshot/%016x-%016x.manifest.zst' % (gen, st['seq'], ms)
            put(store, key, obj('content-manifest', gen, st['seq'], ms, lines))
        else:
            old = st['files']
            lines = []
            # Deletes first (shallowest first), then puts in walk order.
            dels = [p for p in old if p not in new or new[p][0] != old[p][0]]
            dels = [p for p in dels if not any(p.startswith(q + b'/') for q in dels)]
            lines += ['del %s' % esc(p) for p in sorted(dels, key=order)]
            for p in sorted(new, key=order):
                o = old.get(p)
                if o is None or p in dels or norm(new[p]) != norm(o):
                    lines.append(line(p, new[p]))
            st['seq'] += 1
            key = 'generations/%s/content/log/%016x-%016x.log.zst' % (gen, st['seq'], ms)
            put(store, key, obj('content-log', gen, st['seq'], ms, lines))
        st['files'] = {p: tuple(v[:5]) if v[0] == 'file' else v for p, v in new.items()}
        save(store, st)
        print(key)
    elif cmd == 'sig':
        # One line per entry: path, type, mode, mtime, size, sha-256 or target.
        # --no-dir-mtime: folder mtimes are left out (a live folder's change).
        for p, r in sorted(walk(store).items(), key=lambda x: order(x[0])):
            if r[0] == 'dir' and '--no-dir-mtime' in args:
                r = r[:2]
            print(repr(p), *[x.hex() if isinstance(x, bytes) else x for x in r[:5]])
    elif cmd == 'blobpath':
        st = load(store)
        r = st['files'][os.fsencode(args[0])]
        print(os.path.join(store, 'blobs/sha256/%s/%s' % (r[4][:2], r[4])))
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
