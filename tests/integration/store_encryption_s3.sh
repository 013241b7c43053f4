#!/usr/bin/env bash
# store_encryption_s3.sh - store.encryption against a real s3rver: a SQLite
# database of about 12 MiB (its snapshot is fetched in parallel ranged
# parts, each starting inside a chunk) and a 10 MiB file (a multipart put
# streamed through the layer) replicate with no planted marker readable in
# s3rver's files, restore byte for byte; `store get --range` reads any
# range; `store ls -l` shows plaintext sizes; another key is refused with
# exit 4 before anything is written; the Debian aws CLI sees only sealed
# objects and the plain marker.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8

W=$(mktemp -d /tmp/rv-crypt-s3.XXXXXX)
RP=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	if declare -F s3rver_stop >/dev/null; then s3rver_stop || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }

# shellcheck source=/dev/null
source "$RV_TESTDIR/lib/s3rver.sh"
export NODE_OPTIONS="${NODE_OPTIONS:+$NODE_OPTIONS }--openssl-legacy-provider"
s3rver_start "$W/s3rver" || fail "cannot start s3rver"
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_REGION=us-east-1
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
URL="s3://rv-crypt/site?endpoint=$S3RVER_URL&region=us-east-1"
"$REVENANT" --log-level warn bucket init "$URL" >/dev/null || fail "bucket init"

M=$(openssl rand -hex 8)
openssl rand 32 >"$W/k1"
openssl rand 32 >"$W/k2"
mkdir -p "$W/content/data" "$W/content/images"
DB=$W/content/data/ghost.db
sql "$DB" "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, body BLOB);
	INSERT INTO posts(title, body) VALUES ('DBMARK-$M', zeroblob(10));
	WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 6000)
	INSERT INTO posts(title, body) SELECT 'row ' || i, randomblob(2000) FROM n;"
{
	printf 'FILEMARK-%s\n' "$M"
	head -c $((10 * 1024 * 1024)) /dev/urandom
} >"$W/content/images/video.mp4"
printf 'FILEMARK-%s small\n' "$M" >"$W/content/images/a.txt"
for k in k1 k2; do
	cat >"$W/$k.yml" <<EOF
site: dc
sync_interval: 200ms
store: {url: "$URL", fsync: false, encryption: {key_file: "$W/$k"}}
content: {path: "$W/content"}
database: {sqlite: "$DB"}
metrics: {listen: off}
EOF
done

step "replicate to s3rver under a key"
"$REVENANT" -c "$W/k1.yml" replicate 2>"$W/rep.log" &
RP=$!
for _ in $(seq 300); do
	grep -q 'content generation started' "$W/rep.log" && break
	sleep 0.05
done
grep -q 'content generation started' "$W/rep.log" || fail "replicate did not start: $(cat "$W/rep.log")"
sql "$DB" "INSERT INTO posts(title, body) VALUES ('second DBMARK-$M', zeroblob(1))"
# both files uploaded, however slow the machine (the sanitizer pass); the
# final commit on SIGTERM records them and ships the newest rows
for _ in $(seq 600); do
	n=$("$REVENANT" -c "$W/k1.yml" --log-level error store ls "$URL" blobs/ 2>/dev/null | wc -l) || true
	((n >= 2)) && break
	sleep 0.05
done
((n >= 2)) || fail "replicate uploaded $n of 2 blobs in 30 s: $(cat "$W/rep.log")"
sleep 0.5
kill -TERM "$RP"
wait "$RP" || fail "replicate did not stop cleanly: $(cat "$W/rep.log")"
RP=

step "no planted marker in s3rver's files, raw or decompressed"
grep -rqa "$M" "$W/s3rver" && fail "a planted marker is readable in s3rver's files"
while IFS= read -r -d '' f; do
	zstd -dcq "$f" 2>/dev/null | grep -qa "$M" && fail "a marker in a zstd frame: $f"
done < <(find "$W/s3rver" -type f -print0)
/usr/bin/aws --endpoint-url "$S3RVER_URL" s3 ls --recursive s3://rv-crypt/site/ >"$W/ls" ||
	fail "aws s3 ls"
grep -q 'site/encryption.json$' "$W/ls" || fail "no marker in the bucket: $(cat "$W/ls")"
grep -q 'blobs/hmac-sha256/' "$W/ls" || fail "no keyed blob names: $(cat "$W/ls")"
key=$(awk '/lease.json$/ {print $4}' "$W/ls")
/usr/bin/aws --endpoint-url "$S3RVER_URL" s3 cp "s3://rv-crypt/$key" "$W/raw" >/dev/null || fail "aws s3 cp"
[[ $(head -c 5 "$W/raw") == rvenc ]] || fail "lease.json is not sealed"

step "restore: byte for byte, the snapshot in parallel ranged parts"
"$REVENANT" -c "$W/k1.yml" --log-level warn restore --to "$W/r1" --db "$W/r1.db" >/dev/null ||
	fail "restore"
diff -r --exclude=data "$W/content" "$W/r1" >/dev/null || fail "restored folder differs"
diff <(sql "$DB" ".dump") <(sql "$W/r1.db" ".dump") >/dev/null || fail "restored database differs"
snap=$(awk '/db\/snapshot\// {print $3}' "$W/ls" | head -1)
((snap > 9 * 1024 * 1024)) || fail "the snapshot ($snap bytes) is too small for several parts"

step "store get --range and ls -l through the layer"
blob=$("$REVENANT" -c "$W/k1.yml" --log-level warn store ls "$URL" blobs/ -l | awk '$1 > 1000000 {print $NF}')
[[ -n $blob ]] || fail "no large blob listed"
size=$("$REVENANT" -c "$W/k1.yml" --log-level warn store ls "$URL" blobs/ -l | awk '$1 > 1000000 {print $1}')
[[ $size == $(stat -c %s "$W/content/images/video.mp4") ]] || fail "ls -l shows $size, not the plaintext size"
for r in 0-0 65535-65536 100000-300000 $((size - 5))-; do
	"$REVENANT" -c "$W/k1.yml" --log-level warn store get "$URL" "$blob" --range "$r" >"$W/part" ||
		fail "get --range $r"
	from=${r%-*}
	to=${r#*-}
	[[ -n $to ]] || to=$((size - 1))
	cmp "$W/part" <(tail -c +$((from + 1)) "$W/content/images/video.mp4" | head -c $((to - from + 1))) ||
		fail "range $r differs"
done

step "another key: exit 4, nothing written"
rc=0
"$REVENANT" -c "$W/k2.yml" restore --to "$W/r2" --db "$W/r2.db" >/dev/null 2>"$W/err" || rc=$?
((rc == 4)) || fail "restore with another key exited $rc: $(cat "$W/err")"
grep -q "encrypted with key" "$W/err" || fail "no key message: $(cat "$W/err")"
[[ ! -e $W/r2 && ! -e $W/r2.db ]] || fail "a refused restore wrote to the target"
echo "store_encryption_s3: ok"
