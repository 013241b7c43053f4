#!/usr/bin/env bash
# store_encryption.sh - store.encryption end to end on a file:// store
# (issue 15): replicate a SQLite database and a content folder with planted
# plaintext markers; the raw store holds no marker and every object but the
# marker file is sealed; restore with the key equals the source byte for
# byte; no key / a wrong key / a flipped byte in a chunk / a cut object /
# an object copied to another name give one line, the documented exit code,
# and nothing wrong in the target; a plain store with a key (and the
# reverse) is refused; rotation: objects under key 1 and key 2 both
# restore; rekey, killed half-way, leaves everything readable, and run
# again leaves no object under key 1.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
export LC_ALL=C.UTF-8
. "$(dirname "$0")/../lib/testpoint.sh"

W=$(mktemp -d /tmp/rv-crypt.XXXXXX)
RP=
TP=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	if [ -n "$TP" ]; then kill -9 "$TP" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
expect() { # expect RC PATTERN CMD...: exit code RC, one stderr line matching PATTERN
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$W/out" 2>"$W/err" || rc=$?
	[[ $rc == "$want" ]] || fail "'$*' exited $rc, expected $want: $(cat "$W/err")"
	[[ $(grep -vc 'level=' "$W/err") == 1 ]] || fail "'$*': expected one error line: $(cat "$W/err")"
	grep -qE -- "$pat" "$W/err" || fail "'$*': no line matching '$pat': $(cat "$W/err")"
}
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }
# key_id FILE: the id of the key in FILE (the first 8 bytes of
# HMAC-SHA256(key, "revenant key id"), docs/FORMAT.md)
key_id() {
	python3 -c 'import hmac,hashlib,sys
k=open(sys.argv[1],"rb").read()
k=k if len(k)==32 else bytes.fromhex(k.decode().strip())
print(hmac.new(k,b"revenant key id",hashlib.sha256).hexdigest()[:16])' "$1"
}
# ids_in_store: "<key id> <count>" for every sealed object; fails on any
# object other than the marker that is not sealed
ids_in_store() {
	python3 - "$W/store" <<'EOF'
import os, sys, collections
root = sys.argv[1]
ids = collections.Counter()
for d, _, files in os.walk(root):
    for f in files:
        p = os.path.join(d, f)
        rel = os.path.relpath(p, root)
        if rel == "encryption.json" or rel.startswith(".rv-"):
            continue
        h = open(p, "rb").read(48)
        if h[:6] != b"rvenc\0" or len(h) < 48:
            sys.exit("not sealed: " + rel)
        ids[h[8:16].hex()] += 1
for k, n in sorted(ids.items()):
    print(k, n)
EOF
}
# has_marker DIR: some object in DIR shows the planted marker, raw or
# decompressed (database snapshots and segments are zstd frames)
has_marker() {
	grep -rqa "$M" "$1" && return 0
	local f
	while IFS= read -r -d '' f; do
		zstd -dcq "$f" 2>/dev/null | grep -qa "$M" && return 0
	done < <(find "$1" -type f -print0)
	return 1
}
# run_replicate CONFIG STORE BLOBS: replicate until STORE holds BLOBS blobs
# (every file read and uploaded, however slow the machine), then stop it
# cleanly: the final commit ships the database's newest rows and records
# every uploaded file
run_replicate() {
	"$REVENANT" -c "$1" replicate 2>"$W/rep.log" &
	RP=$!
	for _ in $(seq 200); do
		grep -q 'content generation started' "$W/rep.log" && break
		sleep 0.05
	done
	grep -q 'content generation started' "$W/rep.log" || fail "replicate did not start: $(cat "$W/rep.log")"
	for _ in $(seq 600); do
		(($(find "$2/blobs" -type f 2>/dev/null | wc -l) >= $3)) && break
		sleep 0.05
	done
	(($(find "$2/blobs" -type f 2>/dev/null | wc -l) >= $3)) ||
		fail "replicate uploaded fewer than $3 blobs in 30 s: $(cat "$W/rep.log")"
	sleep 0.5
	kill -TERM "$RP"
	wait "$RP" || fail "replicate did not stop cleanly: $(cat "$W/rep.log")"
	RP=
}
# same_as_source DIR DB: the restore equals the source byte for byte
same_as_source() {
	diff -r --exclude=data "$W/content" "$1" >/dev/null || fail "restored folder $1 differs from the source"
	diff <(sql "$DB" ".dump") <(sql "$2" ".dump") >/dev/null || fail "restored database $2 differs"
}

openssl rand 32 >"$W/k1"
openssl rand -hex 32 >"$W/k2" # the other accepted form: 64 hex digits
K1=$(key_id "$W/k1")
K2=$(key_id "$W/k2")
M=$(openssl rand -hex 8)
mkdir -p "$W/content/images/2026" "$W/content/data" "$W/store"
DB=$W/content/data/ghost.db
sql "$DB" "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, html TEXT);
	INSERT INTO posts(title, html) VALUES ('DBMARK-$M', 'hello DBMARK-$M');"
printf 'FILEMARK-%s small\n' "$M" >"$W/content/images/2026/a.txt"
cp "$W/content/images/2026/a.txt" "$W/content/images/2026/same-as-a.txt"
# over 1 MiB: uploaded from a temporary file (put_fd), many chunks
{
	printf 'FILEMARK-%s large\n' "$M"
	head -c 1500000 /dev/urandom
	printf 'FILEMARK-%s tail\n' "$M"
} >"$W/content/images/2026/large.bin"
yml() { # yml FILE ENCRYPTION_FLOW_MAP
	cat >"$1" <<EOF
site: dc
sync_interval: 200ms
store: {url: "file://$W/store", fsync: false${2:+, encryption: $2}}
content: {path: "$W/content"}
database: {sqlite: "$DB"}
metrics: {listen: off}
EOF
}
yml "$W/k1.yml" "{key_file: \"$W/k1\"}"
yml "$W/k2.yml" "{key_file: \"$W/k2\", old_key_files: [\"$W/k1\"]}"
yml "$W/k2only.yml" "{key_file: \"$W/k2\"}"
yml "$W/plain.yml" ""
openssl rand 32 >"$W/k3"
yml "$W/wrong.yml" "{key_file: \"$W/k3\"}"

step "replicate under key 1: no plaintext in the raw store"
run_replicate "$W/k1.yml" "$W/store" 2
sql "$DB" "INSERT INTO posts(title, html) VALUES ('second DBMARK-$M', 'x')"
run_replicate "$W/k1.yml" "$W/store" 2
has_marker "$W/store" && fail "a planted marker is readable in the store"
ls "$W"/store/generations/*/db/snapshot/*.zst >/dev/null || fail "no database snapshot"
# The same check finds both markers in a plain store of the same source.
yml "$W/plainrep.yml" ""
sed -i "s|file://$W/store|file://$W/pstore0|" "$W/plainrep.yml"
mkdir -p "$W/pstore0"
run_replicate "$W/plainrep.yml" "$W/pstore0" 2
has_marker "$W/pstore0/generations" || fail "the check misses the database marker in a plain store"
has_marker "$W/pstore0/blobs" || fail "the check misses the file marker in a plain store"
ids_in_store >"$W/ids" || fail "an object is not sealed: $(cat "$W/ids")"
[[ $(awk '{print $1}' "$W/ids") == "$K1" ]] || fail "objects under other keys than $K1: $(cat "$W/ids")"
[[ ! -d $W/store/blobs/sha256 ]] || fail "blobs named by their plain SHA-256"
sha=$(sha256sum "$W/content/images/2026/a.txt" | cut -c1-64)
find "$W/store" -name "*$sha*" | grep -q . && fail "a blob's name is its content's SHA-256"
# two equal files are one blob (the keyed name is still content-addressed)
[[ $(find "$W/store/blobs" -type f | wc -l) == 2 ]] || fail "expected 2 blobs: $(find "$W/store/blobs" -type f)"
grep -q '"id": "'"$K1"'"' "$W/store/encryption.json" || fail "the marker does not name key 1"

step "restore with the key: byte for byte"
"$REVENANT" -c "$W/k1.yml" --log-level warn restore --to "$W/r1" --db "$W/r1.db" >/dev/null ||
	fail "restore with the key"
same_as_source "$W/r1" "$W/r1.db"

step "no key, a wrong key: exit 4, nothing written"
expect 4 "is encrypted .*no key is configured" "$REVENANT" -c "$W/plain.yml" restore --to "$W/r2" --db "$W/r2.db"
expect 4 "encrypted with key $K1" "$REVENANT" -c "$W/wrong.yml" restore --to "$W/r2" --db "$W/r2.db"
expect 4 "is encrypted" "$REVENANT" -c "$W/plain.yml" replicate
[[ ! -e $W/r2 && ! -e $W/r2.db ]] || fail "a refused restore wrote to the target"

step "a plain store with a key: refused (exit 2)"
mkdir -p "$W/pstore"
"$REVENANT" store put "file://$W/pstore" lease.json - <<<'{}' || fail "store put"
sed "s|file://$W/store|file://$W/pstore|" "$W/k1.yml" >"$W/pk.yml"
expect 2 "unencrypted objects" "$REVENANT" -c "$W/pk.yml" replicate
[[ ! -e $W/pstore/encryption.json ]] || fail "a marker was written into a plain store"

step "damage: a flipped byte, a cut, an object under another name -> exit 7"
cp -a "$W/store" "$W/store.good"
flip() { python3 -c 'import sys; p=sys.argv[1]; o=int(sys.argv[2]); b=bytearray(open(p,"rb").read()); b[o]^=0x10; open(p,"wb").write(b)' "$@"; }
snap=$(ls "$W"/store/generations/*/db/snapshot/*.zst | tail -1)
flip "$snap" 60
expect 7 "is damaged: chunk 0 .*does not authenticate" "$REVENANT" -c "$W/k1.yml" restore --db-only --db "$W/r3.db"
[[ ! -e $W/r3.db ]] || fail "a damaged snapshot left a database"
rm -rf "$W/store" && cp -a "$W/store.good" "$W/store"
large=$(find "$W/store/blobs" -type f -size +1000k)
flip "$large" $((48 + 65552 * 5 + 9)) # chunk 5
expect 7 "is damaged: chunk 5" "$REVENANT" -c "$W/k1.yml" restore --to "$W/r4" --content-only
[[ ! -e $W/r4/images/2026/large.bin ]] || fail "a damaged blob reached the folder"
rm -rf "$W/store" && cp -a "$W/store.good" "$W/store"
truncate -s $((48 + 65552 * 3)) "$large" # cut at a chunk boundary
expect 7 "is damaged: chunk 2 \(the last\)" "$REVENANT" -c "$W/k1.yml" restore --to "$W/r5" --content-only
[[ ! -e $W/r5/images/2026/large.bin ]] || fail "a cut blob reached the folder"
rm -rf "$W/store" && cp -a "$W/store.good" "$W/store"
small=$(find "$W/store/blobs" -type f -size -1000k)
cp "$large" "$small" # the large blob's bytes under the small blob's name
expect 7 "is damaged: chunk 0 .*copied from another name" "$REVENANT" -c "$W/k1.yml" restore --to "$W/r6" --content-only
[[ ! -e $W/r6/images/2026/a.txt ]] || fail "an object under another name reached the folder"
rm -rf "$W/store" && mv "$W/store.good" "$W/store"

step "rotation: key 2 writes, key 1 still reads; both restore"
T1=$(date +%s.%N)
sleep 0.3
sql "$DB" "INSERT INTO posts(title, html) VALUES ('third DBMARK-$M', 'y')"
printf 'FILEMARK-%s new\n' "$M" >"$W/content/images/2026/b.txt"
run_replicate "$W/k2.yml" "$W/store" 3
has_marker "$W/store" && fail "a planted marker is readable after the rotation"
ids_in_store >"$W/ids" || fail "an object is not sealed: $(cat "$W/ids")"
grep -q "^$K1 " "$W/ids" && grep -q "^$K2 " "$W/ids" || fail "expected objects under both keys: $(cat "$W/ids")"
"$REVENANT" -c "$W/k2.yml" --log-level warn restore --to "$W/r7" --db "$W/r7.db" >/dev/null ||
	fail "restore after the rotation"
same_as_source "$W/r7" "$W/r7.db"
"$REVENANT" -c "$W/k2.yml" --log-level warn restore --db-only --db "$W/r8.db" --at "$T1" >/dev/null ||
	fail "restore --at before the rotation"
[[ $(sql "$W/r8.db" "SELECT count(*) FROM posts") == 2 ]] || fail "--at before the rotation: wrong rows"
expect 4 "encrypted with key $K1" "$REVENANT" -c "$W/k2only.yml" restore --to "$W/r9" --db "$W/r9.db"
[[ ! -e $W/r9.db ]] || fail "a restore without key 1 left a database"

step "rekey killed half-way: everything still restores; again: nothing under key 1"
REVENANT_TESTPOINT=rekey.rewritten@3 "$REVENANT" -c "$W/k2.yml" --log-level error rekey --jobs 1 \
	>/dev/null 2>"$W/tp.err" &
TP=$!
tp_wait_stopped "$TP" || fail "rekey did not stop at its test point: $(cat "$W/tp.err")"
kill -9 "$TP"
wait "$TP" 2>/dev/null || true
TP=
ids_in_store >"$W/ids" || fail "an object is not sealed after the kill: $(cat "$W/ids")"
grep -q "^$K1 " "$W/ids" || fail "the killed rekey finished anyway: $(cat "$W/ids")"
"$REVENANT" -c "$W/k2.yml" --log-level warn restore --to "$W/r10" --db "$W/r10.db" >/dev/null ||
	fail "restore after a killed rekey"
same_as_source "$W/r10" "$W/r10.db"
"$REVENANT" -c "$W/k2.yml" rekey >"$W/out" || fail "rekey: $(cat "$W/out")"
grep -q "every object is under key $K2" "$W/out" || fail "rekey's report: $(cat "$W/out")"
ids_in_store >"$W/ids" || fail "an object is not sealed after rekey: $(cat "$W/ids")"
[[ $(awk '{print $1}' "$W/ids") == "$K2" ]] || fail "objects left under other keys: $(cat "$W/ids")"
grep -q "$K1" "$W/store/encryption.json" && fail "the marker still names key 1"
"$REVENANT" -c "$W/k2only.yml" --log-level warn restore --to "$W/r11" --db "$W/r11.db" >/dev/null ||
	fail "restore with key 2 alone after rekey"
same_as_source "$W/r11" "$W/r11.db"
expect 4 "encrypted with key $K2" "$REVENANT" -c "$W/k1.yml" restore --db-only --db "$W/r12.db"
expect 2 "needs an encrypted store" "$REVENANT" rekey "file://$W/pstore"
echo "store_encryption: ok"
