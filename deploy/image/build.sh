#!/usr/bin/env bash
# deploy/image/build.sh - build revenant's container image without a Docker
# daemon: compile a release binary (no test points), lay out a root
# filesystem (the binary, the shared libraries it loads, CA certificates,
# a non-root user, no shell) and write it as an OCI image layout.
#
#   deploy/image/build.sh [--out DIR] [--build-dir DIR] [--binary FILE]
#
#   --out DIR        where the image goes (default: build-image/ in the repo):
#                    DIR/oci/      the OCI image layout (tag: the version)
#                    DIR/sbom.json every file in the image that came from a
#                                  Debian package, with package and version
#                    DIR/digest    the manifest digest (sha256:...)
#   --build-dir DIR  CMake build folder for the release binary
#                    (default: DIR/cmake)
#   --binary FILE    use this binary instead of building one (it must be a
#                    release build made with -DRV_TESTPOINTS=OFF)
#
# Reproducible: the same source tree on the same Debian package versions
# gives the same bytes, hence the same digest.  Every time stamp is
# SOURCE_DATE_EPOCH (default: the last commit's time), owners are 0:0 in the
# layer, entries are sorted, gzip writes no name or time, and the JSON is
# written with sorted keys.  Labels: REVENANT_IMAGE_SOURCE (the repository
# URL; default: git's remote.origin.url) and REVENANT_IMAGE_LICENSES (an
# SPDX expression; default NOASSERTION: the repository names no licence
# yet).
#
# Needs: cmake, a C compiler, the -dev packages revenant builds with, GNU
# tar, gzip, dpkg-query, /usr/bin/python3 (all in scripts/deps.sh).
set -euo pipefail
umask 022
export LC_ALL=C TZ=UTC

src=$(cd "$(dirname "$0")/../.." && pwd)
out="$src/build-image"
bdir=""
binary=""
while (($#)); do
	case "$1" in
	--out) out=$2; shift 2 ;;
	--build-dir) bdir=$2; shift 2 ;;
	--binary) binary=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -e/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "build.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
	esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
bdir=${bdir:-$out/cmake}

die() { echo "build.sh: $*" >&2; exit 1; }
for t in cmake tar gzip dpkg-query sha256sum /usr/bin/python3 strip; do
	command -v "$t" >/dev/null || die "'$t' is missing (bash scripts/deps.sh installs it)"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null) ||
		die "SOURCE_DATE_EPOCH is unset and $src is no git checkout"
fi
export SOURCE_DATE_EPOCH
version=$(sed -n 's/^project(revenant VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ -n "$version" ] || die "no version in CMakeLists.txt's project()"
revision=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)
source_url=${REVENANT_IMAGE_SOURCE:-$(git -C "$src" config --get remote.origin.url 2>/dev/null || echo unknown)}
licenses=${REVENANT_IMAGE_LICENSES:-NOASSERTION}

# ---- 1. the binary ----
if [ -z "$binary" ]; then
	# Paths of the source and build folders must not reach the binary: a
	# second build elsewhere has to give the same bytes.
	cmake -S "$src" -B "$bdir" -DCMAKE_BUILD_TYPE=Release -DRV_TESTPOINTS=OFF \
		-DRV_WERROR=ON \
		"-DCMAKE_C_FLAGS=-ffile-prefix-map=$src=. -ffile-prefix-map=$bdir=build" >/dev/null
	cmake --build "$bdir" --target revenant -j "$(nproc)" >/dev/null
	binary="$bdir/revenant"
fi
[ -x "$binary" ] || die "'$binary' is no executable"
grep -q 'RV_TESTPOINTS:BOOL=OFF' "$(dirname "$binary")/CMakeCache.txt" 2>/dev/null ||
	die "'$binary' was not built with -DRV_TESTPOINTS=OFF (a release image has no test points)"

# ---- 2. the root filesystem ----
work=$(mktemp -d "${TMPDIR:-/tmp}/rv-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{etc,tmp,usr/local/bin,usr/share/doc/revenant,etc/ssl/certs,lib64}
chmod 1777 "$root/tmp"
install -m 0755 "$binary" "$root/usr/local/bin/revenant"
strip --strip-all "$root/usr/local/bin/revenant"

# The libraries the loader resolves, at the paths it finds them (Debian 12
# is merged-/usr: /lib is /usr/lib, so they go to the /lib path the loader
# searches first, and that is a real folder in the image).
libs=$(ldd "$binary" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u)
[ -n "$libs" ] || die "ldd found no libraries in '$binary'"
pkgfiles=()
for l in $libs; do
	real=$(readlink -f "$l")
	dest="$root$l"
	mkdir -p "$(dirname "$dest")"
	cp "$real" "$dest"
	chmod 0644 "$dest"
	pkgfiles+=("$l=$real")
done

# ICU's data library (libxml2 -> libicuuc -> libicudata) is 31 MB of locale,
# collation and converter tables, half the image even compressed.  libxml2
# asks ICU only for a document in an encoding it does not decode itself
# (UTF-8, UTF-16, ISO-8859-1 and ASCII it does); every answer revenant
# parses (S3, STS, Route 53) is UTF-8.  So the image carries a data library
# built with ICU's own tools (icupkg, genccode) holding only the converter
# alias table and windows-1252: any other encoding fails cleanly
# (U_FILE_ACCESS_ERROR -> libxml2 "unsupported encoding"), nothing crashes.
# --full-icu is not offered: the test runs the image's XML paths instead.
icudata=$(printf '%s\n' $libs | grep '/libicudata\.so\.[0-9]*$' || true)
if [ -n "$icudata" ]; then
	for t in icupkg genccode readelf gcc; do
		command -v "$t" >/dev/null || die "'$t' is missing (icu-devtools, binutils, gcc)"
	done
	icuver=${icudata##*.so.}
	mkdir -p "$work/icu/items"
	# The whole data package is the bytes of the symbol icudt<ver>_dat.
	/usr/bin/python3 - "$(readlink -f "$icudata")" "icudt${icuver}_dat" \
		"$work/icu/icudt${icuver}l.dat" <<'EOF'
import subprocess, sys
lib, sym, dest = sys.argv[1:]
syms = subprocess.run(["readelf", "-sW", "--dyn-syms", lib], capture_output=True, text=True,
                      check=True).stdout
val = size = None
for line in syms.splitlines():
    p = line.split()
    if len(p) >= 8 and p[7] == sym:
        val, size = int(p[1], 16), int(p[2], 0)
if val is None:
    sys.exit(f"build.sh: no {sym} in {lib}")
secs = subprocess.run(["readelf", "-SW", lib], capture_output=True, text=True, check=True).stdout
for line in secs.splitlines():
    p = line.replace("[ ", "[").split()
    if len(p) > 5 and p[0].startswith("[") and p[0] != "[Nr]":
        addr, off, sz = int(p[3], 16), int(p[4], 16), int(p[5], 16)
        if addr <= val < addr + sz:
            with open(lib, "rb") as f:
                f.seek(off + val - addr)
                open(dest, "wb").write(f.read(size))
            sys.exit(0)
sys.exit(f"build.sh: {sym} lies in no section of {lib}")
EOF
	printf 'cnvalias.icu\nibm-5348_P100-1997.cnv\n' >"$work/icu/keep.txt"
	icupkg -x "$work/icu/keep.txt" -d "$work/icu/items" "$work/icu/icudt${icuver}l.dat" >/dev/null
	mkdir -p "$work/icu/new"
	icupkg -tl -s "$work/icu/items" -a "$work/icu/keep.txt" new \
		"$work/icu/new/icudt${icuver}l.dat" >/dev/null
	genccode -q -e "icudt${icuver}" -d "$work/icu" -a gcc "$work/icu/new/icudt${icuver}l.dat"
	gcc -shared -nostdlib -Wl,-soname,"libicudata.so.$icuver" -Wl,--build-id=none \
		-o "$root$icudata" "$work/icu/icudt${icuver}l_dat.S"
	strip --strip-all "$root$icudata"
	chmod 0644 "$root$icudata"
fi
# The loader: ELF's PT_INTERP names /lib64/ld-linux-x86-64.so.2.
interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
[ -n "$interp" ] || die "no program interpreter in '$binary'"
[ -f "$root$interp" ] || { mkdir -p "$(dirname "$root$interp")"; cp "$(readlink -f "$interp")" "$root$interp"; }
chmod 0755 "$root$interp"

# CA certificates: libcurl's default bundle path on Debian.
ca=$(curl-config --ca 2>/dev/null || echo /etc/ssl/certs/ca-certificates.crt)
[ -f "$ca" ] || die "no CA bundle at $ca (install ca-certificates)"
mkdir -p "$(dirname "$root$ca")"
install -m 0644 "$ca" "$root$ca"
pkgfiles+=("$ca=/usr/share/ca-certificates")

# The user: uid/gid 1000 like the `node` user of the official Ghost image,
# so the sidecar reads and writes Ghost's content folder as Ghost does.
# No shell exists in the image; the login shell is a path that is not there.
printf 'root:x:0:0:root:/root:/nonexistent\nrevenant:x:1000:1000:revenant:/nonexistent:/nonexistent\n' >"$root/etc/passwd"
printf 'root:x:0:\nrevenant:x:1000:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"

# The SBOM-like list: every copied file's Debian package and version; the
# packages' copyright files travel with their code.
/usr/bin/python3 - "$root" "$out/sbom.json" "$version" "$revision" "${pkgfiles[@]}" <<'EOF'
import json, os, shutil, subprocess, sys
root, dest, version, revision, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
def owner(path):
    # dpkg knows a file by the path its package shipped; on merged-/usr
    # that may be the /lib spelling of a /usr/lib file.
    for p in (path, path.replace("/usr/lib/", "/lib/", 1)):
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True)
        if r.returncode == 0:
            return r.stdout.split(":")[0].strip()
    sys.exit(f"build.sh: no Debian package owns {path}")
pkgs = {}
for spec in files:
    path, f = spec.split("=", 1)
    pkg = owner(f)
    ver = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                         text=True, check=True).stdout
    pkgs.setdefault(pkg, {"package": pkg, "version": ver, "files": []})
    pkgs[pkg]["files"].append(path)
    if "/libicudata.so." in path:
        pkgs[pkg]["note"] = ("libicudata rebuilt by build.sh from this package's data: only "
                             "cnvalias.icu and ibm-5348_P100-1997.cnv (windows-1252)")
for pkg in pkgs:
    base = pkg.split(":")[0]
    c = f"/usr/share/doc/{base}/copyright"
    if os.path.exists(c):
        d = os.path.join(root, "usr/share/doc", base)
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(c, os.path.join(d, "copyright"))
doc = {"name": "revenant", "version": version, "revision": revision,
       "debian": open("/etc/debian_version").read().strip(),
       "packages": sorted(pkgs.values(), key=lambda p: p["package"])}
text = json.dumps(doc, indent=1, sort_keys=True) + "\n"
open(dest, "w").write(text)
open(os.path.join(root, "usr/share/doc/revenant/sbom.json"), "w").write(text)
EOF
find "$root" -type d -exec chmod 0755 {} + && chmod 1777 "$root/tmp"
find "$root" -type f -exec chmod go-w {} +

# ---- 3. the layer and the OCI layout ----
layout="$out/oci"
rm -rf "$layout"
mkdir -p "$layout/blobs/sha256"
tar --sort=name --format=ustar --mtime="@$SOURCE_DATE_EPOCH" --owner=0 --group=0 \
	--numeric-owner -C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -9 -n -c "$work/layer.tar" >"$work/layer.tar.gz"
layer=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
mv "$work/layer.tar.gz" "$layout/blobs/sha256/$layer"

/usr/bin/python3 - "$layout" "$layer" "$diff_id" "$version" "$revision" "$source_url" \
	"$licenses" "$SOURCE_DATE_EPOCH" >"$out/digest" <<'EOF'
import hashlib, json, os, sys, time
layout, layer, diff_id, version, revision, source, licenses, epoch = sys.argv[1:]
created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))
def blob(obj):
    data = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(layout, "blobs/sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
labels = {
    "org.opencontainers.image.title": "revenant",
    "org.opencontainers.image.description": "Disaster recovery for Ghost sites",
    "org.opencontainers.image.version": version,
    "org.opencontainers.image.revision": revision,
    "org.opencontainers.image.source": source,
    "org.opencontainers.image.licenses": licenses,
    "org.opencontainers.image.created": created,
}
config = {
    "architecture": "amd64", "os": "linux", "created": created,
    "config": {
        "User": "1000:1000",
        "Entrypoint": ["/usr/local/bin/revenant"],
        "Cmd": ["--help"],
        "Env": ["PATH=/usr/local/bin", "TMPDIR=/tmp"],
        "WorkingDir": "/",
        "ExposedPorts": {"9187/tcp": {}},
        "Labels": labels,
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
    "history": [{"created": created, "created_by": "deploy/image/build.sh"}],
}
cfg = blob(config)
cfg["mediaType"] = "application/vnd.oci.image.config.v1+json"
size = os.path.getsize(os.path.join(layout, "blobs/sha256", layer))
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": cfg,
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": "sha256:" + layer, "size": size}],
    "annotations": labels,
}
m = blob(manifest)
m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
m["annotations"] = {"org.opencontainers.image.ref.name": version}
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
         "manifests": [m]}
open(os.path.join(layout, "index.json"), "w").write(
    json.dumps(index, sort_keys=True, separators=(",", ":")))
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
print(m["digest"])
EOF
echo "image: $layout ($version, $(cat "$out/digest"))"
echo "size: $(stat -c %s "$layout/blobs/sha256/$layer") bytes compressed (the layer)," \
	"$(stat -c %s "$work/layer.tar") bytes as a tar"
