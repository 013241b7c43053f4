#!/usr/bin/env bash
# deploy_image.sh - the container image (deploy/image/build.sh), built with
# no Docker daemon and run with runc (Debian's, the OCI reference runtime):
#   - two builds from the same tree, in different build folders, give the
#     same manifest digest and the same SBOM (reproducible);
#   - the compressed layer is at most 15 MiB (the goal of issue 14);
#   - skopeo reads the layout: the labels (source, version, licences,
#     revision) are there, the user is 1000:1000, the entrypoint revenant;
#   - umoci unpacks it; the root filesystem has no shell, the SBOM names a
#     Debian package and version for every library;
#   - runc runs the image with a read-only root as uid 1000: --version;
#     `replicate` of a content folder and a SQLite database to a file store
#     in a volume, /healthz answered from the container, SIGTERM -> exit 0,
#     the store's objects owned by uid 1000; `restore` with the image into a
#     second volume gives the same files and the same database;
#   - the image's S3 path (libcurl, SigV4, libxml2 with the trimmed ICU data)
#     against s3rver: store put, then store ls reads its XML listing.
# It is labelled for the plain pass only (it builds its own release binary;
# the ASan pass has nothing to add) and takes about 40 s.
set -u
. "$RV_SRCDIR/tests/lib/wait.sh"
. "$RV_SRCDIR/tests/lib/s3rver.sh"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
for t in runc skopeo umoci jq curl /usr/bin/python3; do
	command -v "$t" >/dev/null || fail "'$t' is missing (bash scripts/deps.sh installs it)"
done
[ "$(id -u)" -eq 0 ] || fail "runc needs root here (rootless runc needs a user namespace set-up this test does not make)"

T=$(mktemp -d /tmp/rv-deploy-image.XXXXXX)
CIDS=()
PIDS=()
cleanup() {
	for c in "${CIDS[@]}"; do runc --root "$T/runc" kill "$c" KILL 2>/dev/null; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	for c in "${CIDS[@]}"; do runc --root "$T/runc" delete -f "$c" 2>/dev/null; done
	s3rver_stop 2>/dev/null; s3rver_cleanup 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
checks=0
ok() { checks=$((checks + 1)); }
start=$SECONDS

# ---- build twice, compare ----
for n in 1 2; do
	bash "$RV_SRCDIR/deploy/image/build.sh" --out "$T/img$n" --build-dir "$T/cmake$n" \
		>"$T/build$n.log" 2>&1 || fail "build $n: $(tail -5 "$T/build$n.log")"
done
d1=$(cat "$T/img1/digest") d2=$(cat "$T/img2/digest")
[ -n "$d1" ] && [ "$d1" = "$d2" ] || fail "two builds differ: $d1 vs $d2"
cmp -s "$T/img1/sbom.json" "$T/img2/sbom.json" || fail "the SBOMs of two builds differ"
diff -r "$T/img1/oci" "$T/img2/oci" >/dev/null || fail "the OCI layouts of two builds differ"
ok
echo "reproducible: $d1 ($((SECONDS - start)) s for two builds)"

# ---- size ----
layer=$(jq -r '.layers[0].digest' "$T/img1/oci/blobs/sha256/$(jq -r '.manifests[0].digest' \
	"$T/img1/oci/index.json" | cut -d: -f2)" | cut -d: -f2)
size=$(stat -c %s "$T/img1/oci/blobs/sha256/$layer")
echo "image: $size bytes compressed ($(grep -o '[0-9]* bytes as a tar' "$T/build1.log"))"
[ "$size" -le $((15 * 1024 * 1024)) ] || fail "the image is $size bytes, over the 15 MiB goal"
ok

# ---- what skopeo sees ----
ver=$(sed -n 's/^project(revenant VERSION \([0-9.]*\).*/\1/p' "$RV_SRCDIR/CMakeLists.txt")
skopeo inspect --config "oci:$T/img1/oci:$ver" >"$T/config.json" || fail "skopeo inspect"
for l in source version licenses revision created; do
	v=$(jq -r ".config.Labels[\"org.opencontainers.image.$l\"] // empty" "$T/config.json")
	[ -n "$v" ] || fail "label org.opencontainers.image.$l is missing"
done
[ "$(jq -r '.config.Labels["org.opencontainers.image.version"]' "$T/config.json")" = "$ver" ] ||
	fail "version label is not $ver"
[ "$(jq -r '.config.User' "$T/config.json")" = 1000:1000 ] || fail "the image user is not 1000:1000"
[ "$(jq -r '.config.Entrypoint[0]' "$T/config.json")" = /usr/local/bin/revenant ] ||
	fail "the entrypoint is not revenant"
skopeo inspect "oci:$T/img1/oci:$ver" | jq -e ".Digest == \"$d1\"" >/dev/null ||
	fail "skopeo's digest is not build.sh's"
ok

# ---- the root filesystem ----
umoci unpack --image "$T/img1/oci:$ver" "$T/bundle" >"$T/umoci.log" 2>&1 || fail "umoci unpack: $(tail -3 "$T/umoci.log")"
R=$T/bundle/rootfs
[ -z "$(find "$R" -name sh -o -name bash -o -name busybox -o -name dash)" ] || fail "the image has a shell"
[ -s "$R/etc/ssl/certs/ca-certificates.crt" ] || fail "no CA certificates in the image"
grep -q '^revenant:x:1000:1000:' "$R/etc/passwd" || fail "no revenant user in /etc/passwd"
/usr/bin/python3 - "$R" "$T/img1/sbom.json" <<'EOF' || fail "the SBOM does not cover the libraries"
import json, os, sys
root, sbom = sys.argv[1], json.load(open(sys.argv[2]))
listed = {f for p in sbom["packages"] for f in p["files"]}
assert all(p["version"] for p in sbom["packages"]), "a package without a version"
for d in ("lib/x86_64-linux-gnu", "lib64"):
    for f in os.listdir(os.path.join(root, d)):
        if "/" + d + "/" + f not in listed:
            sys.exit(f"{d}/{f} is not in the SBOM")
EOF
ok

# ---- run it with runc ----
mkdir -p "$T/runc"
# bundle NAME ARGS...: a bundle sharing the unpacked rootfs read-only, as
# uid 1000, on the host's network (so /healthz and s3rver are reachable on
# loopback), with the volumes of $T/vol mounted; prints its folder.
bundle() {
	local b="$T/b-$1"
	shift
	mkdir -p "$b"
	jq --arg root "$R" --arg vol "$T/vol" --argjson args "$(printf '%s\n' "$@" | jq -R . | jq -s .)" '
	  .root = {path: $root, readonly: true}
	  | .process.terminal = false | .process.args = (["/usr/local/bin/revenant"] + $args)
	  | .process.env += ["AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER", "AWS_REGION=us-east-1"]
	  | .linux.namespaces |= map(select(.type != "network"))
	  | .mounts += [
	      {destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"]},
	      {destination: "/etc/revenant", type: "bind", source: ($vol + "/etc"), options: ["rbind", "ro"]},
	      {destination: "/var/lib/ghost", type: "bind", source: ($vol + "/ghost"), options: ["rbind", "rw"]},
	      {destination: "/store", type: "bind", source: ($vol + "/store"), options: ["rbind", "rw"]},
	      {destination: "/restore", type: "bind", source: ($vol + "/restore"), options: ["rbind", "rw"]}]
	' "$T/bundle/config.json" >"$b/config.json" || return 1
	echo "$b"
}
# run NAME ARGS...: runs to the end; output in $T/NAME.out, exit code returned.
run() {
	local name=$1 b
	b=$(bundle "$@") || fail "bundle $name"
	CIDS+=("rv-$name-$$")
	runc --root "$T/runc" run --bundle "$b" "rv-$name-$$" >"$T/$name.out" 2>&1 </dev/null
}

mkdir -p "$T/vol/etc" "$T/vol/ghost/content/data" "$T/vol/ghost/content/images/2026/12" \
	"$T/vol/store/blog" "$T/vol/restore/content"
/usr/bin/python3 "$RV_SRCDIR/tests/lib/db_writer.py" --db "$T/vol/ghost/content/data/ghost.db" \
	--ack "$T/init.ack" --init --count 50 --rate 0 2>/dev/null || fail "cannot create the database"
head -c 300000 /dev/urandom >"$T/vol/ghost/content/images/2026/12/a.jpg"
echo "routes: {}" >"$T/vol/ghost/content/settings.yaml"
chown -R 1000:1000 "$T/vol/ghost" "$T/vol/store" "$T/vol/restore"
port=$(s3rver_free_port)
cat >"$T/vol/etc/revenant.yml" <<YML
site: dc
sync_interval: 200ms
store:
  url: file:///store/blog
metrics:
  listen: 127.0.0.1:$port
content:
  path: /var/lib/ghost/content
database:
  sqlite: /var/lib/ghost/content/data/ghost.db
YML

run version --version || fail "revenant --version in the image: $(cat "$T/version.out")"
grep -qx "revenant $ver" "$T/version.out" || fail "--version said: $(cat "$T/version.out")"
run check -c /etc/revenant/revenant.yml config check || fail "config check: $(cat "$T/check.out")"
# The root is read-only and the process is not root: writing below / fails.
run rofs store put file:/// notes/x.txt /etc/passwd && fail "a write to the image's root succeeded"
grep -qi 'read-only file system\|permission denied' "$T/rofs.out" ||
	fail "writing to / failed for another reason: $(cat "$T/rofs.out")"
ok

b=$(bundle repl -c /etc/revenant/revenant.yml replicate) || fail "bundle repl"
CIDS+=("rv-repl-$$")
runc --root "$T/runc" run --bundle "$b" "rv-repl-$$" >"$T/repl.out" 2>&1 </dev/null &
RPID=$!
PIDS+=("$RPID")
alive() { kill -0 "$RPID" 2>/dev/null || fail "replicate in the image exited: $(tail -5 "$T/repl.out")"; }
healthy() { alive && curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; }
until_ok 30 healthy || fail "/healthz never answered 200: $(tail -5 "$T/repl.out")"
logs() { find "$T/vol/store/blog" -path '*/content/log/*' -name '*.log.zst' 2>/dev/null | wc -l; }
shipped() { alive && [ "$(logs)" -ge "$1" ]; }
until_ok 30 shipped 1 || fail "no content log in the store: $(tail -5 "$T/repl.out")"
n=$(logs)
head -c 2000 /dev/urandom >"$T/vol/ghost/content/images/2026/12/b.png"
chown 1000:1000 "$T/vol/ghost/content/images/2026/12/b.png"
until_ok 30 shipped $((n + 1)) || fail "a new file was not shipped: $(tail -5 "$T/repl.out")"
curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^revenant_content_commits_total' ||
	fail "/metrics has no revenant_content_commits_total"
runc --root "$T/runc" kill "rv-repl-$$" TERM || fail "runc kill"
wait "$RPID"
rc=$?
[ "$rc" -eq 0 ] || fail "replicate exited $rc after SIGTERM: $(tail -5 "$T/repl.out")"
[ -z "$(find "$T/vol/store" ! -uid 1000)" ] || fail "objects in the store not owned by uid 1000"
ok

run restore -c /etc/revenant/revenant.yml restore --to /restore/content \
	--db /restore/content/data/ghost.db || fail "restore in the image: $(tail -5 "$T/restore.out")"
diff -r -x 'ghost.db*' -x '.revenant*' "$T/vol/ghost/content" "$T/vol/restore/content" >"$T/diff" ||
	fail "restored folder differs: $(head -5 "$T/diff")"
a=$(/usr/bin/python3 "$RV_SRCDIR/tests/lib/db_check.py" digest "$T/vol/ghost/content/data/ghost.db")
b=$(/usr/bin/python3 "$RV_SRCDIR/tests/lib/db_check.py" digest "$T/vol/restore/content/data/ghost.db")
[ -n "$a" ] && [ "$a" = "$b" ] || fail "restored database differs"
ok

# ---- S3: libcurl, SigV4, libxml2 in the image ----
s3rver_start || fail "s3rver"
s3rver_mkbucket img || fail "bucket"
echo hello >"$T/vol/store/hello.txt"
chown 1000:1000 "$T/vol/store/hello.txt"
url="s3://img/p?endpoint=$S3RVER_URL&path_style=true&region=us-east-1"
run s3put store put "$url" notes/hello.txt /store/hello.txt || fail "store put to s3rver: $(cat "$T/s3put.out")"
run s3ls store ls "$url" || fail "store ls against s3rver: $(cat "$T/s3ls.out")"
grep -q 'notes/hello.txt' "$T/s3ls.out" || fail "store ls did not list the object: $(cat "$T/s3ls.out")"
ok

echo "deploy_image: $checks checks in $((SECONDS - start)) s (runc: read-only root, uid 1000)"
echo "$checks passed, 0 failed"
