#!/usr/bin/env python3
"""hostile_s3.py - an S3 endpoint that lies: ListObjectsV2 answers with keys
the client must not turn into local paths, and GETs are broken in the ways
a network or a hostile server can break them.

    hostile_s3.py --port-file F

Path-style requests (/BUCKET/KEY); the bucket picks the behaviour:
  outside   every listing also returns keys not under the requested prefix
            ("<p[:-1]>../escape", "<p[:-1]>x../escape"), shorter than it ("a"), absolute
            ("/etc/passwd"), and with a newline (&#10;) -- a listing to refuse
  dots      every key is under the prefix, but some climb out of it:
            "<p>../escape", "<p>a/../../escape", "<p>a//b", "<p>%00x"
            (literal), "<p>" itself, beside one good "<p>ok.txt"
  nul       a listing with "&#0;" in a key (not XML at all)
  notxml    a listing that is HTML, not XML
  dirs      a delimiter listing whose CommonPrefixes are "../", "/", "x/y/"
            and one beside the prefix
  gets      a listing of "<p>short", "<p>long", "<p>redirect", "<p>denied":
            short sends a Content-Length of 100 and 10 bytes, then closes;
            long sends 5 bytes of an 11-byte body (Content-Length 5);
            redirect is a 302 to another host; denied is a 403 whose body
            is HTML
  lease     lease.json names a valid generation; every listing is "outside"
Anything else is a 404 NoSuchKey.  Standard library only.
"""
import argparse
import http.server
import os
import sys
import urllib.parse

GEN = '0000019b7ca98f2e-3fa9c2d1'
LEASE = ('{"format":"revenant-lease","version":"1.0","epoch":1,"site":"x",'
         '"generation":"%s","since":"2026-01-02T03:04:05.678Z","since_ms":1767323045678,'
         '"holder":"hostile:1:00000000"}' % GEN).encode()


def xml_list(prefix, keys, dirs=()):
    out = ['<?xml version="1.0" encoding="UTF-8"?>',
           '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
           '<Name>b</Name><Prefix>%s</Prefix><KeyCount>%d</KeyCount>' % (prefix, len(keys)),
           '<MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>']
    for k in keys:
        out.append('<Contents><Key>%s</Key><LastModified>2026-01-02T03:04:05.000Z'
                   '</LastModified><ETag>"e"</ETag><Size>5</Size>'
                   '<StorageClass>STANDARD</StorageClass></Contents>' % k)
    for d in dirs:
        out.append('<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>' % d)
    out.append('</ListBucketResult>')
    return '\n'.join(out).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):
        pass

    def send(self, code, body, ctype='application/xml', length=None, extra=()):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body) if length is None else length))
        for k, v in extra:
            self.send_header(k, v)
        self.send_header('Connection', 'close')
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def not_found(self):
        self.send(404, b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code>'
                  b'<Message>no</Message></Error>')

    def listing(self, bucket, q):
        p = q.get('prefix', [''])[0]
        e = lambda s: s.replace('&', '&amp;').replace('<', '&lt;')
        if 'delimiter' in q:
            if bucket in ('dirs', 'lease', 'outside'):
                return self.send(200, xml_list(e(p), [], [e(p + '../'), e(p + '/'), e(p + 'x/y/'),
                                                          'zz-beside/']))
            return self.send(200, xml_list(e(p), []))
        if bucket in ('outside', 'lease'):
            # With p = "abc/": "abc../escape" and "abcx../escape", whose
            # tails past len(p) are "./escape" and "../escape".
            keys = [e(p + 'ok.txt'), e(p[:-1] + '../escape'), e(p[:-1] + 'x../escape'), 'a',
                    '/etc/passwd', e(p) + 'new&#10;line']
        elif bucket == 'dots':
            keys = [e(p + 'ok.txt'), e(p + '../escape'), e(p + 'a/../../escape'),
                    e(p + 'a//b'), e(p + '%00x'), e(p)]
        elif bucket == 'nul':
            keys = [e(p) + 'a&#0;b']
        elif bucket == 'notxml':
            return self.send(200, b'<html><body>hello</body></html>', 'text/html')
        elif bucket == 'gets':
            keys = [e(p + k) for k in ('denied', 'long', 'redirect', 'short')]
        else:
            keys = []
        return self.send(200, xml_list(e(p), keys))

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        parts = u.path.lstrip('/').split('/', 1)
        bucket = parts[0]
        key = urllib.parse.unquote(parts[1]) if len(parts) > 1 else ''
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if not key and 'list-type' in q:
            return self.listing(bucket, q)
        if bucket == 'lease' and key.rsplit('/', 1)[-1] == 'lease.json':
            return self.send(200, LEASE, 'application/json')
        if bucket == 'gets' or bucket == 'dots' or bucket == 'outside':
            name = key.rsplit('/', 1)[-1]
            if name == 'short':
                return self.send(200, b'0123456789', 'application/octet-stream', length=100)
            if name == 'long':
                return self.send(200, b'hello', 'application/octet-stream')
            if name == 'redirect':
                return self.send(302, b'', extra=[('Location', 'http://127.0.0.1:9/x')])
            if name == 'denied':
                return self.send(403, b'<html><h1>Forbidden</h1></html>', 'text/html')
            if name == 'escape':
                return self.send(200, b'escaped\n', 'application/octet-stream')
            if name == 'ok.txt':
                return self.send(200, b'fine\n', 'application/octet-stream')
        return self.not_found()

    do_HEAD = do_GET

    def do_PUT(self):
        n = int(self.headers.get('Content-Length') or 0)
        self.rfile.read(n)
        self.send(403, b'<html>no writes</html>', 'text/html')

    do_DELETE = do_PUT
    do_POST = do_PUT


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--port-file', required=True)
    a = ap.parse_args()
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    tmp = a.port_file + '.tmp'
    with open(tmp, 'w') as f:
        f.write(str(srv.server_address[1]))
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
