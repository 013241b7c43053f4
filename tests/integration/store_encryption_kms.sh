#!/usr/bin/env bash
# store_encryption_kms.sh - store.encryption.kms_key_id (envelope
# encryption) against tests/fakes/kms.py, which checks every request's
# SigV4 signature and body with botocore: replicate makes one data key
# (GenerateDataKey) and keeps it wrapped in encryption.json; restore
# unwraps it (Decrypt) and equals the source; nothing planted is readable
# in the store; the wrong credentials are exit 4 and an unknown KMS key
# exit 5, before anything is written; rotation to a second KMS key, both
# restore, rekey leaves only the second; no request the fake saw had a bad
# signature or body.
set -euo pipefail

: "${REVENANT:?set REVENANT to the built binary}"
: "${RV_TESTDIR:?set RV_TESTDIR to tests/}"
export LC_ALL=C.UTF-8

W=$(mktemp -d /tmp/rv-crypt-kms.XXXXXX)
KP=
RP=
cleanup() {
	if [ -n "$RP" ]; then kill -9 "$RP" 2>/dev/null || true; fi
	if [ -n "$KP" ]; then kill "$KP" 2>/dev/null || true; fi
	rm -rf "$W"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }
sql() { sqlite3 -cmd ".timeout 5000" "$@"; }
expect() { # expect RC PATTERN CMD...
	local want=$1 pat=$2 rc=0
	shift 2
	"$@" >"$W/out" 2>"$W/err" || rc=$?
	[[ $rc == "$want" ]] || fail "'$*' exited $rc, expected $want: $(cat "$W/err")"
	grep -qE -- "$pat" "$W/err" || fail "'$*': no line matching '$pat': $(cat "$W/err")"
}

K1=arn:aws:kms:eu-west-1:111122223333:key/1111aaaa-0000-4000-8000-000000000001
K2=arn:aws:kms:eu-west-1:111122223333:key/2222bbbb-0000-4000-8000-000000000002
/usr/bin/python3 "$RV_TESTDIR/fakes/kms.py" --port-file "$W/kms.port" --key-id "$K1" --key-id "$K2" \
	--access-key AKIDKMSTEST --secret-key kms-test-secret --region eu-west-1 --log "$W/kms.log" &
KP=$!
for _ in $(seq 100); do [ -s "$W/kms.port" ] && break; sleep 0.05; done
[ -s "$W/kms.port" ] || fail "the fake KMS did not start"
KMS=http://127.0.0.1:$(cat "$W/kms.port")
stats() { curl -fsS "$KMS/_ctl/stats"; }
export AWS_ENDPOINT_URL_KMS=$KMS AWS_ACCESS_KEY_ID=AKIDKMSTEST AWS_SECRET_ACCESS_KEY=kms-test-secret
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ROLE_ARN AWS_WEB_IDENTITY_TOKEN_FILE AWS_REGION AWS_DEFAULT_REGION

M=$(openssl rand -hex 8)
mkdir -p "$W/content/images" "$W/content/data" "$W/store"
DB=$W/content/data/ghost.db
sql "$DB" "CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT); INSERT INTO posts(title) VALUES ('DBMARK-$M');"
printf 'FILEMARK-%s\n' "$M" >"$W/content/images/a.txt"
yml() { # yml FILE KMS_KEY
	cat >"$1" <<EOF
site: dc
sync_interval: 200ms
store: {url: "file://$W/store", fsync: false, s3: {region: eu-west-1}, encryption: {kms_key_id: "$2"}}
content: {path: "$W/content"}
database: {sqlite: "$DB"}
metrics: {listen: off}
EOF
}
yml "$W/k1.yml" "$K1"
yml "$W/k2.yml" "$K2"
yml "$W/k9.yml" "arn:aws:kms:eu-west-1:111122223333:key/9999"
run_replicate() {
	"$REVENANT" -c "$1" replicate 2>"$W/rep.log" &
	RP=$!
	for _ in $(seq 200); do
		grep -q 'content generation started' "$W/rep.log" && break
		sleep 0.05
	done
	grep -q 'content generation started' "$W/rep.log" || fail "replicate did not start: $(cat "$W/rep.log")"
	# the file uploaded, however slow the machine; the final commit on
	# SIGTERM records it and ships the newest rows
	for _ in $(seq 600); do
		[[ -n $(find "$W/store/blobs" -type f 2>/dev/null) ]] && break
		sleep 0.05
	done
	[[ -n $(find "$W/store/blobs" -type f 2>/dev/null) ]] || fail "no blob after 30 s: $(cat "$W/rep.log")"
	sleep 0.5
	kill -TERM "$RP"
	wait "$RP" || fail "replicate did not stop cleanly: $(cat "$W/rep.log")"
	RP=
}
same() {
	diff -r --exclude=data "$W/content" "$1" >/dev/null || fail "restored folder $1 differs"
	diff <(sql "$DB" ".dump") <(sql "$2" ".dump") >/dev/null || fail "restored database $2 differs"
}

step "replicate under a KMS-wrapped data key"
run_replicate "$W/k1.yml"
grep -q "\"key_id\": \"$K1\"" "$W/store/encryption.json" || fail "no KMS entry in the marker"
grep -rqa "$M" "$W/store" && fail "a planted marker is readable in the store"
while IFS= read -r -d '' f; do
	zstd -dcq "$f" 2>/dev/null | grep -qa "$M" && fail "a marker in a zstd frame: $f"
done < <(find "$W/store" -type f -print0)
stats >"$W/s1"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); r=s["requests"]
assert r.get("GenerateDataKey")==1, s; assert s["bad_signature"]==0 and s["bad_body"]==0, s' "$W/s1" ||
	fail "KMS requests: $(cat "$W/s1")"

step "restore: Decrypt, byte for byte"
"$REVENANT" -c "$W/k1.yml" --log-level warn restore --to "$W/r1" --db "$W/r1.db" >/dev/null || fail "restore"
same "$W/r1" "$W/r1.db"

step "wrong credentials: exit 4; an unknown KMS key: exit 5; nothing written"
AWS_SECRET_ACCESS_KEY=wrong expect 4 "kms Decrypt with key '$K1': InvalidSignatureException" \
	"$REVENANT" -c "$W/k1.yml" restore --to "$W/r2" --db "$W/r2.db"
expect 5 "does not exist" "$REVENANT" -c "$W/k9.yml" restore --to "$W/r2" --db "$W/r2.db"
[[ ! -e $W/r2 && ! -e $W/r2.db ]] || fail "a refused restore wrote to the target"

step "rotation to a second KMS key, both restore, rekey leaves only the second"
sql "$DB" "INSERT INTO posts(title) VALUES ('second')"
run_replicate "$W/k2.yml"
grep -q "$K1" "$W/store/encryption.json" && grep -q "$K2" "$W/store/encryption.json" ||
	fail "the marker does not hold both KMS keys"
"$REVENANT" -c "$W/k2.yml" --log-level warn restore --to "$W/r3" --db "$W/r3.db" >/dev/null ||
	fail "restore after the rotation"
same "$W/r3" "$W/r3.db"
"$REVENANT" -c "$W/k2.yml" rekey >"$W/out" || fail "rekey: $(cat "$W/out")"
grep -q "1 other key(s) removed" "$W/out" || fail "rekey's report: $(cat "$W/out")"
grep -q "$K1" "$W/store/encryption.json" && fail "the marker still holds the first KMS key"
"$REVENANT" -c "$W/k2.yml" --log-level warn restore --to "$W/r4" --db "$W/r4.db" >/dev/null ||
	fail "restore after rekey"
same "$W/r4" "$W/r4.db"
stats >"$W/s2"
# one data key per KMS key, and the one the unknown key was refused
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
assert s["requests"].get("GenerateDataKey")==3, s' "$W/s2" || fail "KMS requests: $(cat "$W/s2")"
# the bad-signature request above is the only one botocore refused
python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))
assert s["bad_signature"]==1 and s["bad_body"]==0, s' "$W/s2" || fail "KMS requests: $(cat "$W/s2")"
echo "store_encryption_kms: ok"
