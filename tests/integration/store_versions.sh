#!/usr/bin/env bash
# store_versions.sh - recovering a store whose current objects were deleted
# or overwritten, from its bucket's object versions (restore/verify
# --versions), against the versioning S3 fake (tests/fakes/s3_versions.py:
# every request checked against botocore's S3 model and SigV4 signer):
#   - replicate a SQLite database and a content folder to a versioned bucket
#     (bucket init turns versioning on); a plain restore is the source;
#   - a hostile writer with the store's credentials (botocore, like any
#     other client) deletes every current object: a plain restore fails;
#     restore --versions brings the point back byte for byte, verify
#     --versions passes;
#   - it then overwrites every key with garbage: restore --versions reads
#     the garbage and fails its checksums (exit 7, nothing wrong left in
#     place); restore --versions --versions-at <a time before the damage>
#     brings the point back byte for byte (every file compared, the
#     database's rows compared), verify --versions --versions-at passes
#     (also --sample 2, which lists the generations as folders);
#   - a bucket without versioning: one clear error, exit 2;
#   - the policies of deploy/iam in force (the fake evaluates them): bucket
#     init under bucket-init.json, replicate under replicate.json (no
#     s3:DeleteObject but the probe's), the delete under prune.json, the
#     recovery under recover.json; restore --versions under replicate.json:
#     exit 4 naming s3:ListBucketVersions and s3:GetObjectVersion;
#   - bucket init --object-lock 7 sends CreateBucket with
#     x-amz-bucket-object-lock-enabled (signed), versioning, then
#     PutObjectLockConfiguration (GOVERNANCE, 7 days, Content-MD5); uploads
#     (single and multipart) to the locked bucket learn to send Content-MD5;
#     a delete hides a locked object, deleting its version is refused; an
#     existing bucket a server will not lock: exit 2 and why;
#   - prune on the Object Lock bucket: it removes (blobs, manifests) and
#     exits 0, its deletes only hide; a point it pruned no longer restores
#     plainly and restores through --versions byte for byte;
#   - a server whose ListObjectVersions pages do not move on: exit 7, no
#     endless loop;
#   - the fake saw no badly signed or malformed request.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
. "$RV_TESTDIR/lib/wait.sh"
. "$RV_TESTDIR/lib/s3_versions.sh"
export LC_ALL=C.UTF-8

W=$(mktemp -d /tmp/rv-versions.XXXXXX)
RP=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	s3v_stop
	if [ -n "${RV_KEEP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND exited $?" >&2' ERR
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }
rv() { "$REVENANT" --log-level warn -c "$W/r.yml" "$@"; }
# rc_of WANT OUT CMD...: CMD's exit code must be WANT; stdout+stderr in OUT.
rc_of() {
	local want=$1 out=$2 rc=0
	shift 2
	"$@" >"$out" 2>&1 || rc=$?
	[[ $rc == "$want" ]] || fail "$* exited $rc, expected $want: $(tail -5 "$out")"
}
# same_site DIR DB: the restored folder and database are the source's.
same_site() {
	diff -r "$W/content" "$1" >"$W/diff" || fail "$1 differs from the source: $(head "$W/diff")"
	for f in $(cd "$W/content" && find . -type f); do
		cmp -s "$W/content/$f" "$1/$f" || fail "$1/$f differs"
	done
	[[ $(sql "$2" .dump) == "$(sql "$W/db/site.db" .dump)" ]] || fail "database $2 differs"
}

# Pages of 4 listing entries: a key's versions cross pages, and the view
# both goes on within a key (version-id-marker) and skips the rest of one.
S3V_PAGE_CAP=4 s3v_start "$W/fake" || fail "cannot start the versioning fake"
s3v_env
# policy NAME: from now on the store's credentials may do only what
# deploy/iam/NAME.json allows (bucket rv-versions, prefix site); none: all.
policy() {
	if [[ $1 == none ]]; then
		curl -sf -X POST "$S3V_URL/_ctl/policy" >/dev/null
	else
		sed -e 's/BUCKET/rv-versions/g' -e 's#PREFIX#site#g' "$RV_TESTDIR/../deploy/iam/$1.json" |
			curl -sf -X POST --data-binary @- "$S3V_URL/_ctl/policy" >/dev/null
	fi || fail "cannot set the policy $1"
}
URL="s3://rv-versions/site?endpoint=$S3V_URL&region=us-east-1"

step "replicate a site to a versioned bucket (deploy/iam's policies in force)"
policy bucket-init
out=$("$REVENANT" bucket init "$URL") || fail "bucket init: $out"
grep -q 'versioning enabled' <<<"$out" || fail "bucket init did not enable versioning: $out"
mkdir -p "$W/content/images/2026/12" "$W/content/files" "$W/db"
head -c 300000 /dev/urandom >"$W/content/images/2026/12/a.jpg"
head -c 70000 /dev/urandom >"$W/content/images/2026/12/b.png"
printf 'doc' >"$W/content/files/doc.pdf"
printf '' >"$W/content/files/empty"
sql "$W/db/site.db" "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, body BLOB);
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
	INSERT INTO posts SELECT i, 'post ' || i, randomblob(200) FROM n;"
cat >"$W/r.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "$URL"}
content: {path: "$W/content"}
database: {sqlite: "$W/db/site.db"}
metrics: {listen: off}
EOF
policy replicate
"$REVENANT" -c "$W/r.yml" replicate 2>>"$W/rep.log" &
RP=$!
sleep 0.5
sql "$W/db/site.db" "UPDATE posts SET title = 'edited ' || id WHERE id % 7 = 0;
	INSERT INTO posts VALUES (501, 'last', randomblob(10));"
plain_ok() {
	rm -rf "$W/p" && rv restore --to "$W/p/content" --db "$W/p/site.db" >/dev/null 2>&1 &&
		[[ $(sql "$W/p/site.db" .dump) == "$(sql "$W/db/site.db" .dump)" ]] &&
		diff -r "$W/content" "$W/p/content" >/dev/null
}
until_ok 30 plain_ok || fail "the store did not hold the site within 30 s: $(tail "$W/rep.log")"
kill -TERM "$RP"
wait "$RP" || fail "replicate did not stop cleanly: $(tail "$W/rep.log")"
RP=
same_site "$W/p/content" "$W/p/site.db"
sleep 0.05
GOOD=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.05

# The hostile writer: the store's own credentials, any S3 client (botocore).
hostile() {
	/usr/bin/python3 - "$S3V_URL" "$1" <<'PY'
import sys, botocore.session
from botocore.config import Config
c = botocore.session.get_session().create_client(
    "s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}))
keys, tok = [], None
while True:
    kw = {"Bucket": "rv-versions", "Prefix": "site/"}
    if tok:
        kw["ContinuationToken"] = tok
    r = c.list_objects_v2(**kw)
    keys += [o["Key"] for o in r.get("Contents", [])]
    tok = r.get("NextContinuationToken")
    if not tok:
        break
for k in keys if sys.argv[2] == "delete" else []:
    c.delete_object(Bucket="rv-versions", Key=k)
if sys.argv[2] == "overwrite":
    every = set()
    for v in c.get_paginator("list_object_versions").paginate(Bucket="rv-versions",
                                                              Prefix="site/"):
        every |= {x["Key"] for x in v.get("Versions", [])}
    for k in sorted(every):
        c.put_object(Bucket="rv-versions", Key=k, Body=b"garbage from a hostile writer\n")
        keys.append(k)
print(len(keys))
PY
}

step "every current object deleted (a careless prune role)"
policy prune
n=$(hostile delete) || fail "the hostile delete failed"
((n > 5)) || fail "only $n objects in the store"
[[ -z $(rv store ls "$URL" "") ]] || fail "objects left after the delete"
policy replicate
rc=0
rv restore --to "$W/r0/content" --db "$W/r0/site.db" >"$W/r0.out" 2>&1 || rc=$?
((rc != 0)) || fail "a plain restore of an emptied store succeeded"
[[ ! -e $W/r0/site.db ]] || fail "a failed restore left a database"
# The replicating role cannot read old versions: the actions are named.
rc_of 4 "$W/ad.out" rv restore --versions --to "$W/r6/content" --db "$W/r6/site.db"
grep -q "s3:ListBucketVersions on arn:aws:s3:::rv-versions and s3:GetObjectVersion on arn:aws:s3:::rv-versions/site/\*" "$W/ad.out" ||
	fail "the access-denied message: $(cat "$W/ad.out")"
policy recover
rc_of 0 "$W/r1.out" rv restore --versions --to "$W/r1/content" --db "$W/r1/site.db"
same_site "$W/r1/content" "$W/r1/site.db"
rc_of 0 "$W/v1.out" rv verify --versions --scratch "$W"

step "every key overwritten with garbage"
policy none
n=$(hostile overwrite) || fail "the hostile overwrite failed"
# The view's listing, against the versions listed by botocore: for every
# key the newest version (not a delete marker) at or before the time.
expect_view() {
	/usr/bin/python3 - "$S3V_URL" "${1:-}" <<'PY'
import datetime, sys, botocore.session
from botocore.config import Config
c = botocore.session.get_session().create_client(
    "s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}))
at = datetime.datetime.fromisoformat(sys.argv[2].replace("Z", "+00:00")) if sys.argv[2] else None
best = {}
for page in c.get_paginator("list_object_versions").paginate(Bucket="rv-versions", Prefix="site/"):
    for v in page.get("Versions", []):
        if at and v["LastModified"] > at:
            continue
        b = best.get(v["Key"])
        if not b or v["LastModified"] > b["LastModified"]:
            best[v["Key"]] = v
for k in sorted(best):
    print(best[k]["Size"], best[k]["ETag"], k[len("site/"):])
PY
}
view_is() {
	rv store ls -l "$@" "$URL" "" | awk '{print $1, $3, $4}' >"$W/view.got"
	[[ -s $W/view.got ]] && diff "$W/view.want" "$W/view.got" >"$W/view.diff" ||
		fail "store ls $* differs from the versions listed: $(head "$W/view.diff")"
}
expect_view "$GOOD" >"$W/view.want"
view_is --versions --versions-at "$GOOD"
expect_view >"$W/view.want"
view_is --versions
grep -q garbage <(rv store get --versions "$URL" lease.json) || fail "store get --versions"
rv store get --versions --versions-at "$GOOD" "$URL" lease.json >"$W/lease.json"
grep -q '"epoch"' "$W/lease.json" || fail "store get --versions-at: $(head -c 300 "$W/lease.json")"
policy recover
rc_of 7 "$W/r2.out" rv restore --versions --to "$W/r2/content" --db "$W/r2/site.db"
[[ ! -e $W/r2/site.db ]] || fail "a restore of garbage left a database"
rc_of 0 "$W/r3.out" rv restore --versions --versions-at "$GOOD" --to "$W/r3/content" \
	--db "$W/r3/site.db"
same_site "$W/r3/content" "$W/r3/site.db"
rc_of 0 "$W/v3.out" rv verify --versions --versions-at "$GOOD" --scratch "$W"
# --sample lists the generations: folders, through the view's delimiter
# listing (ListObjectVersions with delimiter=/, paged).
rc_of 0 "$W/v4.out" rv verify --versions --versions-at "$GOOD" --sample 2 --scratch "$W"
rc_of 2 "$W/u.out" rv restore --versions-at "$GOOD" --to "$W/r4/content" --db "$W/r4/site.db"
grep -q -- '--versions-at goes with --versions' "$W/u.out" || fail "usage: $(cat "$W/u.out")"

policy none

step "a bucket without versioning"
s3v_aws s3api create-bucket --bucket rv-plain >/dev/null || fail "create rv-plain"
rc_of 2 "$W/nv.out" "$REVENANT" restore --versions --to "$W/r5/content" --db "$W/r5/site.db" \
	"s3://rv-plain/site?endpoint=$S3V_URL&region=us-east-1"
grep -q "bucket 'rv-plain' has no versioning — turn versioning on with revenant bucket init; objects already deleted cannot be recovered" "$W/nv.out" ||
	fail "the no-versioning message: $(cat "$W/nv.out")"
rc_of 2 "$W/nf.out" "$REVENANT" restore --versions --to "$W/r5/content" --db "$W/r5/site.db" \
	"file://$W/content"
grep -q -- "--versions reads old object versions of an s3:// store" "$W/nf.out" ||
	fail "the file-store message: $(cat "$W/nf.out")"

step "GetObject (GetObjectVersion) denied"
s3v_ctl POST /_ctl/deny '{"ops": ["GetObject"]}' >/dev/null
rc_of 4 "$W/ad2.out" rv restore --versions --versions-at "$GOOD" --to "$W/r7/content" \
	--db "$W/r7/site.db"
grep -q "s3:GetObjectVersion" "$W/ad2.out" || fail "the get-version message: $(cat "$W/ad2.out")"
s3v_ctl POST /_ctl/deny '{"ops": []}' >/dev/null

step "a server whose version listing does not move on"
s3v_ctl POST /_ctl/stuck '{"on": true}' >/dev/null
rc_of 7 "$W/st.out" timeout 60 "$REVENANT" --log-level warn store ls --versions "$URL" ""
grep -q "starts where it started" "$W/st.out" || fail "the stuck listing: $(tail -3 "$W/st.out")"
s3v_ctl POST /_ctl/stuck '{"on": false}' >/dev/null

step "bucket init --object-lock"
LURL="s3://rv-locked/site?endpoint=$S3V_URL&region=us-east-1"
rc_of 0 "$W/ol.out" "$REVENANT" bucket init --object-lock 7 "$LURL"
grep -q "object lock: governance mode, every version kept 7 days" "$W/ol.out" ||
	fail "bucket init --object-lock: $(cat "$W/ol.out")"
s3v_ctl GET /_ctl/log >"$W/log.json"
/usr/bin/python3 - "$W/log.json" <<'PY' || fail "the object-lock requests: $(tail -c 3000 "$W/log.json")"
import json, sys
log = json.load(open(sys.argv[1]))
ops = [e["op"] for e in log]
i = max(k for k, e in enumerate(log) if e["op"] == "CreateBucket")
cb = log[i]
h = {k.lower(): v for k, v in cb["headers"].items()}
assert h.get("x-amz-bucket-object-lock-enabled") == "true", cb
assert "x-amz-bucket-object-lock-enabled" in h["authorization"], "the header is not signed"
rest = ops[i:]
assert rest[:3] == ["CreateBucket", "PutBucketVersioning", "PutObjectLockConfiguration"], rest
lk = log[i + 2]
assert "<Mode>GOVERNANCE</Mode><Days>7</Days>" in lk["body"], lk
assert "content-md5" in {k.lower() for k in lk["headers"]}, lk
PY
rc_of 0 "$W/ol2.out" "$REVENANT" bucket init --object-lock 30 --object-lock-mode compliance "$LURL"
grep -q "bucket 'rv-locked' already exists" "$W/ol2.out" &&
	grep -q "compliance mode, every version kept 30 days" "$W/ol2.out" ||
	fail "bucket init --object-lock again: $(cat "$W/ol2.out")"
s3v_ctl GET /_ctl/log | grep -q '<Mode>COMPLIANCE</Mode><Days>30</Days>' || fail "the compliance retention"
# Uploads to a bucket with a default retention need Content-MD5: a single
# PUT and a multipart upload (parts of 5 MiB) learn it from the refusal.
head -c 12000000 /dev/urandom >"$W/big"
rc_of 0 "$W/lp.out" "$REVENANT" store put "$LURL" small "$W/content/files/doc.pdf"
printf 'store: {url: "%s", s3: {part_size: 5MiB, multipart_threshold: 5MiB}}\n' "$LURL" >"$W/mp.yml"
rc_of 0 "$W/lp2.out" "$REVENANT" -c "$W/mp.yml" store put "$LURL" big "$W/big"
"$REVENANT" store get "$LURL" big "$W/big.back" && cmp "$W/big" "$W/big.back" ||
	fail "multipart round trip"
[[ $(s3v_ctl GET /_ctl/stats) == *'"UploadPart": '* ]] || fail "no multipart upload"
# A delete only hides a locked object; deleting the version itself is refused.
rc_of 0 "$W/lrm.out" "$REVENANT" store rm "$LURL" small
/usr/bin/python3 - "$S3V_URL" <<'PY' || fail "a locked version was deleted"
import sys, botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
c = botocore.session.get_session().create_client(
    "s3", endpoint_url=sys.argv[1], region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}))
v = c.list_object_versions(Bucket="rv-locked", Prefix="site/small")["Versions"]
try:
    c.delete_object(Bucket="rv-locked", Key="site/small", VersionId=v[0]["VersionId"])
    sys.exit(1)
except ClientError as e:
    assert e.response["Error"]["Code"] == "AccessDenied", e.response
PY
cmp <("$REVENANT" store get --versions "$LURL" small) "$W/content/files/doc.pdf" ||
	fail "the hidden locked object through --versions"
# An existing bucket: turned on where the server allows it (AWS, once
# versioned), else one clear error.
rc_of 0 "$W/ol3.out" "$REVENANT" bucket init --object-lock 1 \
	"s3://rv-plain/x?endpoint=$S3V_URL&region=us-east-1"
s3v_ctl POST /_ctl/legacy-lock '{"on": true}' >/dev/null
s3v_aws s3api create-bucket --bucket rv-legacy >/dev/null || fail "create rv-legacy"
rc_of 2 "$W/ol4.out" "$REVENANT" bucket init --object-lock 7 \
	"s3://rv-legacy/x?endpoint=$S3V_URL&region=us-east-1"
grep -q "bucket 'rv-legacy' exists without Object Lock and the server will not turn it on" \
	"$W/ol4.out" || fail "the legacy object-lock message: $(cat "$W/ol4.out")"
rc_of 2 "$W/ol5.out" "$REVENANT" bucket init --object-lock-mode compliance "$LURL"

step "prune on a bucket with Object Lock: deletes hide, never fail"
P2URL="s3://rv-locked/site2?endpoint=$S3V_URL&region=us-east-1"
cat >"$W/r2.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "$P2URL"}
content: {path: "$W/content", manifest_every: 1}
database: {sqlite: "$W/db/site.db"}
metrics: {listen: off}
EOF
head -c 200000 /dev/urandom >"$W/content/files/gone.bin"
"$REVENANT" --log-level warn -c "$W/r2.yml" replicate 2>>"$W/rep2.log" &
RP=$!
in_store2() {
	rm -rf "$W/p2" && "$REVENANT" --log-level warn -c "$W/r2.yml" restore --to "$W/p2/content" \
		--db "$W/p2/site.db" >/dev/null 2>&1 && diff -r "$W/content" "$W/p2/content" >/dev/null
}
until_ok 30 in_store2 || fail "the locked store did not hold the site: $(tail "$W/rep2.log")"
cp "$W/content/files/gone.bin" "$W/gone.bin"
WITH=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
sleep 0.05
rm "$W/content/files/gone.bin"
until_ok 30 in_store2 || fail "the locked store did not follow the delete"
kill -TERM "$RP"
wait "$RP" || fail "replicate to the locked bucket did not stop cleanly: $(tail "$W/rep2.log")"
RP=
sleep 1.1
rc_of 0 "$W/pr.out" timeout 60 "$REVENANT" --log-level warn -c "$W/r2.yml" prune --retention 1s \
	--blob-grace 1s --json
/usr/bin/python3 - "$W/pr.out" <<'PY' || fail "prune on the locked bucket: $(cat "$W/pr.out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["blobs"]["removed"] >= 1 and j["manifests"]["removed"] >= 1, j
PY
in_store2 || fail "the latest point after the prune"
# What prune removed is hidden, not gone: the point that had gone.bin is
# past the window for a plain restore, and restores through the versions.
rc=0
"$REVENANT" --log-level warn -c "$W/r2.yml" restore --at "$WITH" --content-only \
	--to "$W/r9/content" >"$W/r9.out" 2>&1 || rc=$?
((rc != 0)) || fail "a pruned point restored without --versions"
rc_of 0 "$W/r8.out" "$REVENANT" --log-level warn -c "$W/r2.yml" restore --versions --at "$WITH" \
	--content-only --to "$W/r8/content"
cmp "$W/gone.bin" "$W/r8/content/files/gone.bin" || fail "the pruned file through --versions"

step "every request well-formed and well-signed"
s3v_ctl GET /_ctl/stats >"$W/stats.json"
/usr/bin/python3 - "$W/stats.json" <<'PY' || fail "fake stats: $(cat "$W/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["bad_signature"] == 0 and s["bad_request"] == 0, s
# Under deploy/iam's policies the one thing refused was the replicating
# role's attempt to read versions: replicate, prune's deletes and the
# recovery had every permission they needed.
assert s.get("denied") and all(d.startswith("s3:ListBucketVersions ") for d in s["denied"]), s
r = s["requests"]
for op in ("ListObjectVersions", "GetObject", "PutObject", "DeleteObject", "PutBucketVersioning",
           "GetBucketVersioning"):
    assert r.get(op), (op, r)
PY
echo "PASS"
