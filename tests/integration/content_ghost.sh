#!/usr/bin/env bash
# content_ghost.sh - content replication with a real Ghost 5.130.4 (issue 3):
# a Ghost "dc" takes uploads through the Admin API (images, media, files, a
# theme) while `revenant replicate` ships its content folder to a file://
# store; every upload must be recorded in the store (the time each took is
# printed; the latency target is bench/content_bench.sh's to measure).  Then
# `revenant restore` rebuilds the folder in an empty directory, a second
# Ghost "dr" runs on that folder (with a fresh database of its own: the
# database half is issue 4), and every uploaded URL, moved to dr's port,
# must answer 200 with the same bytes; the uploaded theme must be identical
# and activatable on dr.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?set RV_SRCDIR to the repo}"
. "$RV_SRCDIR/tests/lib/ghost.sh"
export LC_ALL=C.UTF-8
umask 022

W=$(mktemp -d "${TMPDIR:-/tmp}/rv-content-ghost.XXXXXX")
REP=
cleanup() {
	[[ -n $REP ]] && kill -KILL "$REP" 2>/dev/null
	ghost_cleanup_all
	rm -rf "$W"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	echo "(now $(date -u +%H:%M:%S.%3N) UTC)" >&2
	[[ -f $W/rep.log ]] && { echo "--- replicate log (tail)" >&2; tail -30 "$W/rep.log" >&2; }
	exit 1
}
step() { echo "--- $*"; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }
sha() { sha256sum "$1" | cut -c1-64; }

ghost_install || fail "cannot install Ghost (see above)"
PKG=$RV_GHOST_HOME/package

step "start Ghost dc"
ghost_start dc "$(ghost_free_port)" || fail "Ghost dc did not start"
KEY=$(ghost_setup_admin dc) || fail "cannot get an Admin API key from dc"
DC_URL=$(ghost_url dc)
DC_CONTENT=$(ghost_content dc)
[[ -d $DC_CONTENT/themes && -f $DC_CONTENT/data/ghost.db ]] ||
	fail "dc's content folder '$DC_CONTENT' does not look like Ghost's"

# Ghost-CLI installs link content/themes/casper to the install
# (current/content/themes/casper), outside the content folder; the harness
# copies it instead.  Lay it out as in production, so the test covers what
# a real site holds: restore skips a link leaving the folder unless
# --allow-outside-links, and with it gives back the same link, which works
# on a DR host whose Ghost is installed at the same path (as here).  Ghost
# already loaded casper from these same files, so swapping it is harmless.
rm -rf "$DC_CONTENT/themes/casper"
ln -s "$PKG/content/themes/casper" "$DC_CONTENT/themes/casper" || fail "cannot link casper"

step "start revenant replicate on $DC_CONTENT"
mkdir -p "$W/store"
# fsync off: the times printed below are about revenant's path from a closed
# file to a commit; with fsync on, a disk shared with other jobs (benchmarks
# that fsync thousands of files) stalled single commits for 2-3 s here.
# Durable writes of the file store are the store tests' business.
cat >"$W/rv.yml" <<EOF
site: dc
sync_interval: 1s
store:
  url: file://$W/store
  fsync: false
metrics:
  listen: off
content:
  path: $DC_CONTENT
EOF
# Debug level logs each commit (about one line a second): the timeline a
# slow upload's time needs.
"$REVENANT" -c "$W/rv.yml" --log-level debug replicate >>"$W/rep.log" 2>&1 &
REP=$!
for _ in $(seq 1 200); do
	grep -q 'content reconcile walked the folder' "$W/rep.log" && break
	kill -0 "$REP" 2>/dev/null || fail "replicate exited during start-up"
	sleep 0.05
done
grep -q 'content reconcile walked the folder' "$W/rep.log" || fail "replicate did not finish its first walk in 10 s"

# Real media, generated here: random-pixel PNGs of three sizes, a baseline
# JPEG (one-symbol Huffman tables, a flat grey picture, padded with random
# COM segments so it is large; Ghost strips those and keeps the original
# as *_o.jpg), a PCM WAV and an MPEG-1 layer III MP3 (silent frames).
mkdir -p "$W/up"
/usr/bin/python3 - "$W/up" <<'PY' || fail "cannot generate the upload files"
import os, struct, sys, wave, zlib
out = sys.argv[1]

def png(name, w, h):
    raw = b''.join(b'\x00' + os.urandom(w * 3) for _ in range(h))
    def chunk(t, d):
        return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b''))

def jpeg(name, w, h, pad):
    def seg(m, d):
        return b'\xff' + bytes([m]) + struct.pack('>H', len(d) + 2) + d
    b = b'\xff\xd8' + seg(0xe0, b'JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00')
    while pad > 0:
        n = min(pad, 60000)
        b += seg(0xfe, os.urandom(n))
        pad -= n
    b += seg(0xdb, b'\x00' + bytes([1] * 64))
    b += seg(0xc0, struct.pack('>BHHB', 8, h, w, 1) + b'\x01\x11\x00')
    b += seg(0xc4, b'\x00' + bytes([1] + [0] * 15) + b'\x00')  # DC: category 0 = '0'
    b += seg(0xc4, b'\x10' + bytes([1] + [0] * 15) + b'\x00')  # AC: EOB = '0'
    b += seg(0xda, b'\x01\x01\x00\x00\x3f\x00')
    nbits = ((w + 7) // 8) * ((h + 7) // 8) * 2
    body = bytearray((nbits + 7) // 8)
    if len(body) * 8 > nbits:
        body[-1] = (1 << (len(body) * 8 - nbits)) - 1
    with open(os.path.join(out, name), 'wb') as f:
        f.write(b + bytes(body) + b'\xff\xd9')

png('tiny.png', 16, 16)
png('banner.png', 320, 200)
png('large.png', 1000, 700)
jpeg('photo.jpg', 640, 480, 200000)
w = wave.open(os.path.join(out, 'tone.wav'), 'wb')
w.setnchannels(1)
w.setsampwidth(2)
w.setframerate(8000)
w.writeframes(os.urandom(32000))
w.close()
# 128 kbit/s, 44.1 kHz, mono: 417-byte frames.
with open(os.path.join(out, 'clip.mp3'), 'wb') as f:
    f.write((bytes([0xff, 0xfb, 0x90, 0xc0]) + bytes(413)) * 300)
PY
printf 'revenant content replication test\n' >"$W/up/notes.txt"
printf '{"revenant": "test", "n": %d}\n' "$RANDOM" >"$W/up/data.json"

# The uploaded theme: Ghost's bundled Casper under another name.
mkdir -p "$W/theme"
cp -r "$PKG/content/themes/casper" "$W/theme/rv-casper" || fail "cannot copy casper"
sed -i 's/"name": "casper"/"name": "rv-casper"/' "$W/theme/rv-casper/package.json"
grep -q '"name": "rv-casper"' "$W/theme/rv-casper/package.json" || fail "cannot rename the theme"
(cd "$W/theme/rv-casper" && /usr/bin/python3 -c '
import os, zipfile
with zipfile.ZipFile("../rv-casper.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, fs in os.walk("."):
        for f in fs:
            z.write(os.path.join(d, f), os.path.normpath(os.path.join(d, f)))') ||
	fail "cannot zip the theme"

admin() { # admin METHOD PATH [curl args...]: an Admin API call, prints the body
	local m=$1 p=$2 tok
	shift 2
	tok=$(ghost_api token --url "$API_URL" --key-file "$API_KEY") || return 1
	curl -sS -f --max-time 60 -X "$m" -H "Authorization: Ghost $tok" -H 'Accept-Version: v5.0' \
		"$@" "$API_URL/ghost/api/admin/$p"
}
API_URL=$DC_URL API_KEY=$KEY

# recorded_ok REL...: every REL is in the store's latest state with the
# sha256 of dc's file (names here need no %-escaping).
recorded_ok() {
	local rel want
	"$REVENANT" -c "$W/rv.yml" --log-level warn status --manifest 2>/dev/null |
		awk '$1 == "file" { print $2 " " $6 }' >"$W/recorded" || return 1
	for rel in "$@"; do
		want="$rel $(sha "$DC_CONTENT/$rel")"
		grep -qxF "$want" "$W/recorded" || return 1
	done
}
# wait_recorded LABEL T0_MS REL...: fails unless recorded within 30 s of
# T0_MS.  The time is printed, not judged: a busy machine may be slow, and
# the latency target is measured in bench/ (issue 16).
wait_recorded() {
	local label=$1 t0=$2 t
	shift 2
	while :; do
		t=$(($(now_ms) - t0))
		if recorded_ok "$@"; then
			printf '  %-34s in the store %5d ms after the upload answered\n' "$label" "$t"
			return 0
		fi
		((t <= 30000)) || fail "$label not in the store within 30 s: $(printf '%s ' "$@")"
		sleep 0.05
	done
}

# The files each upload produced in dc's folder: the URL's file and, for
# images Ghost re-encoded, the untouched original NAME_o.EXT next to it.
UPLOADED=() # "url<TAB>local file uploaded"
upload() { # upload KIND FILE TYPE
	local kind=$1 file=$2 type=$3 body url rel t0 o
	t0=$(date +%s%N)
	body=$(admin POST "$kind/upload/" -F "file=@$file;type=$type") || fail "upload of $file to $kind failed"
	local t1
	t1=$(now_ms)
	url=$(/usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]][0]["url"])' \
		"$kind" <<<"$body") || fail "no URL in the answer to $file: $body"
	[[ $url == "$DC_URL/content/"* ]] || fail "unexpected URL $url"
	rel=${url#"$DC_URL/content/"}
	[[ -f $DC_CONTENT/$rel ]] || fail "$url is not in dc's folder"
	local rels=("$rel")
	o="${rel%.*}_o.${rel##*.}"
	[[ -f $DC_CONTENT/$o ]] && rels+=("$o")
	printf '  %-34s %7d bytes, upload took %4d ms, answered %s -> %s\n' "$(basename "$file")" \
		"$(stat -c %s "$file")" $((t1 - t0 / 1000000)) "$(date -u -d "@$((t1 / 1000)).$((t1 % 1000))" +%T.%3N)" "$url"
	wait_recorded "$kind/$(basename "$file")" "$t1" "${rels[@]}"
	UPLOADED+=("$url"$'\t'"$file")
	[[ ${#rels[@]} == 2 ]] && UPLOADED+=("$DC_URL/content/$o"$'\t'"$file")
	return 0
}

step "upload through the Admin API; each must reach the store"
upload images "$W/up/tiny.png" image/png
upload images "$W/up/banner.png" image/png
upload images "$W/up/large.png" image/png
upload images "$W/up/photo.jpg" image/jpeg
upload media "$W/up/tone.wav" audio/wav
upload media "$W/up/clip.mp3" audio/mpeg
upload files "$W/up/notes.txt" text/plain
upload files "$W/up/data.json" application/json

t0=$(now_ms)
admin POST themes/upload/ -F "file=@$W/theme/rv-casper.zip;type=application/zip" >"$W/theme.json" ||
	fail "theme upload failed: $(cat "$W/theme.json")"
t1=$(now_ms)
[[ -d $DC_CONTENT/themes/rv-casper ]] || fail "the theme is not in dc's folder"
diff -r "$W/theme/rv-casper" "$DC_CONTENT/themes/rv-casper" >/dev/null ||
	fail "Ghost unpacked another theme than the one uploaded"
mapfile -t THEME_FILES < <(cd "$DC_CONTENT" && find themes/rv-casper -type f | sort)
echo "  theme rv-casper: ${#THEME_FILES[@]} files, upload took $((t1 - t0)) ms"
((${#THEME_FILES[@]} > 20)) || fail "only ${#THEME_FILES[@]} files in the theme"
wait_recorded "themes/rv-casper (all files)" "$t1" "${THEME_FILES[@]}"
admin PUT themes/rv-casper/activate/ >/dev/null || fail "activating rv-casper on dc failed"

# Every image URL answers on dc as well (the reference for dr below).
for u in "${UPLOADED[@]}"; do
	url=${u%%$'\t'*}
	curl -sSf -o "$W/dc.body" "$url" || fail "dc does not serve $url"
	[[ $(sha "$W/dc.body") == $(sha "$DC_CONTENT/${url#"$DC_URL/content/"}") ]] ||
		fail "dc serves other bytes than its folder holds for $url"
done

step "restore into an empty folder"
R=$W/restored
# Logs go to a file; what stdout says is shown.
"$REVENANT" --log-level warn restore --to "$R" "file://$W/store" >"$W/restore1.out" 2>"$W/restore1.err" ||
	fail "restore failed: $(cat "$W/restore1.out" "$W/restore1.err")"
cat "$W/restore1.out"
# The casper link leaves the folder: skipped (and counted) by default.
[[ ! -e $R/themes/casper && ! -L $R/themes/casper ]] ||
	fail "restore created themes/casper (a link outside the folder) without --allow-outside-links"
grep -q '(1 pointing outside skipped)' "$W/restore1.out" ||
	fail "restore did not report the skipped outside link: $(cat "$W/restore1.out")"
"$REVENANT" --log-level warn restore --to "$R" --allow-outside-links "file://$W/store" \
	>"$W/restore2.out" 2>"$W/restore2.err" || fail "restore --allow-outside-links failed: $(cat "$W/restore2.err")"
cat "$W/restore2.out"
[[ -L $R/themes/casper && $(readlink "$R/themes/casper") == "$PKG/content/themes/casper" ]] ||
	fail "themes/casper was not restored as the link to $PKG/content/themes/casper"
# SQLite files are the database adapter's (issue 4): never in the content store.
ls "$R"/data/*.db* >/dev/null 2>&1 && fail "the restored data/ holds database files: $(ls "$R/data")"
[[ ! -e $R/logs ]] || fail "logs/ was restored"
diff -r "$DC_CONTENT/themes/rv-casper" "$R/themes/rv-casper" || fail "themes/rv-casper differs after restore"
diff -r --no-dereference "$DC_CONTENT/images" "$R/images" || fail "images/ differs after restore"
diff -r "$DC_CONTENT/media" "$R/media" || fail "media/ differs after restore"
diff -r "$DC_CONTENT/files" "$R/files" || fail "files/ differs after restore"
# Modes and mtimes (to the nanosecond) of every file come back too.
for d in images media files themes/rv-casper; do
	diff <(cd "$DC_CONTENT" && find "$d" -type f -printf '%p %m %T@\n' | sort) \
		<(cd "$R" && find "$d" -type f -printf '%p %m %T@\n' | sort) ||
		fail "modes or mtimes differ under $d after restore"
done
echo "  ok: themes, images, media and files identical (diff -r; modes, mtimes)"

step "start Ghost dr on the restored folder (its own fresh database)"
ghost_start dr "$(ghost_free_port)" sqlite "$R" || fail "Ghost dr did not start on $R"
DR_URL=$(ghost_url dr)
[[ $(ghost_content dr) == "$(cd "$R" && pwd -P)" ]] || fail "dr does not use the restored folder"
[[ -f $(ghost_dir dr)/data/ghost.db ]] || fail "dr's own database is missing"

step "every uploaded URL, on dr, answers 200 with the same bytes"
n=0
for u in "${UPLOADED[@]}"; do
	url=${u%%$'\t'*}
	rel=${url#"$DC_URL/content/"}
	code=$(curl -sS -o "$W/dr.body" -w '%{http_code}' "$DR_URL/content/$rel") || code=000
	[[ $code == 200 ]] || fail "$DR_URL/content/$rel answered $code"
	got=$(sha "$W/dr.body")
	[[ $got == $(sha "$DC_CONTENT/$rel") ]] || fail "$DR_URL/content/$rel: other bytes than dc's"
	printf '  200 %s %s\n' "${got:0:16}" "$DR_URL/content/$rel"
	n=$((n + 1))
done
# Each uploaded original is served byte for byte by dr (as the URL itself,
# or as the *_o original when Ghost re-encoded the image).
for f in "$W"/up/*; do
	s=$(sha "$f")
	found=
	for u in "${UPLOADED[@]}"; do
		[[ ${u#*$'\t'} == "$f" ]] || continue
		url=${u%%$'\t'*}
		curl -sSf -o "$W/dr.body" "$DR_URL/content/${url#"$DC_URL/content/"}" || continue
		[[ $(sha "$W/dr.body") == "$s" ]] && found=1
	done
	[[ -n $found ]] || fail "dr serves no byte-identical copy of the uploaded $(basename "$f")"
done
echo "  ok: $n URLs, and every one of the $(ls "$W/up" | wc -l) uploaded originals, identical on dr"

step "the restored theme works on dr"
API_URL=$DR_URL API_KEY=$(ghost_setup_admin dr) || fail "cannot get an Admin API key from dr"
admin PUT themes/rv-casper/activate/ >"$W/act.json" || fail "dr cannot activate the restored rv-casper"
css=assets/built/screen.css
[[ -f $R/themes/rv-casper/$css ]] || fail "no $css in the theme"
code=$(curl -sS -o "$W/dr.css" -w '%{http_code}' "$DR_URL/$css") || code=000
[[ $code == 200 ]] && cmp -s "$W/dr.css" "$W/theme/rv-casper/$css" ||
	fail "dr's /$css (HTTP $code) is not the uploaded theme's"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$DR_URL/") || code=000
[[ $code == 200 ]] || fail "dr's home page answered $code with rv-casper active"
echo "  ok: rv-casper active on dr, /$css identical, / answers 200"

step "replicate stops cleanly"
kill -TERM "$REP"
rc=0
wait "$REP" || rc=$?
REP=
[[ $rc == 0 ]] || fail "replicate exited $rc on SIGTERM"
grep -q 'level=error' "$W/rep.log" && fail "replicate logged errors: $(grep 'level=error' "$W/rep.log")"
echo PASS
