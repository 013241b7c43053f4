# ghost_purge.sh - `revenant ghost purge-posts` against a real Ghost 5.130.4:
# 250 posts (drafts, scheduled, published; a quarter tagged `old`) and 5
# pages; a filtered dry run, a filtered purge, then a purge of everything.
set -uo pipefail
: "${REVENANT:?set REVENANT to the revenant binary}" "${RV_SRCDIR:?}"
. "$RV_SRCDIR/tests/lib/ghost.sh"
W=$(mktemp -d "${TMPDIR:-/tmp}/rv-ghost-purge.XXXXXX")
trap 'ghost_cleanup_all; rm -rf "$W"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
step() { echo "--- $*"; }

ghost_install || fail "cannot install Ghost (see above)"
ghost_start site "$(ghost_free_port)" || fail "Ghost did not start"
key=$(ghost_setup_admin site) || fail "cannot get an Admin API key"
url=$(ghost_url site)
count() { ghost_api count --url "$url" --key-file "$key" "$@"; }

step "seed 250 posts and 5 pages"
t=$SECONDS
ghost_api seed --url "$url" --key-file "$key" --posts 250 --pages 5 --old-every 4 \
	>"$W/seed.tsv" || fail "seeding failed"
echo "seeded in $((SECONDS - t)) s"
awk -F'\t' '$1 == "posts" && $4 == "old" {print $2}' "$W/seed.tsv" | sort >"$W/old.ids"
awk -F'\t' '$1 == "pages" {print $2}' "$W/seed.tsv" | sort >"$W/pages.ids"
n_old=$(wc -l <"$W/old.ids")
[[ $n_old == 63 ]] || fail "expected 63 tagged posts, seeded $n_old"
# Ghost's own "Coming soon" post and "About" page come with a fresh site.
n_posts=$(count --type posts)
n_pages=$(count --type pages)
[[ $n_posts == 251 && $n_pages == 6 ]] || fail "site has $n_posts posts, $n_pages pages"
for st in draft published scheduled; do
	n=$(awk -F'\t' -v s=$st '$1 == "posts" && $3 == s && $4 == "old"' "$W/seed.tsv" | wc -l)
	((n > 0)) || fail "no tagged $st post was seeded"
done

step "--filter tag:old --dry-run lists exactly the tagged posts, deletes nothing"
"$REVENANT" ghost purge-posts --url "$url" --key-file "$key" --filter tag:old --dry-run \
	>"$W/dry.out" 2>"$W/dry.err" || fail "dry run failed: $(cat "$W/dry.err")"
awk -F'\t' '$1 == "posts" {print $2}' "$W/dry.out" | sort >"$W/dry.ids"
diff "$W/old.ids" "$W/dry.ids" >/dev/null || fail "dry run listed other posts than the tagged"
grep -q "^dry run: 63 posts match on $url; nothing deleted$" "$W/dry.out" ||
	fail "dry run summary: $(tail -1 "$W/dry.out")"
[[ $(count --type posts) == 251 ]] || fail "the dry run deleted something"

step "without a terminal and without --yes: refused, exit 2, nothing deleted"
"$REVENANT" ghost purge-posts --url "$url" --key-file "$key" --filter tag:old \
	</dev/null >"$W/noyes.out" 2>"$W/noyes.err"
rc=$?
[[ $rc == 2 ]] || fail "expected exit 2 without --yes, got $rc"
grep -q "refusing to delete 63 posts from $url without confirmation" "$W/noyes.err" ||
	fail "refusal message: $(cat "$W/noyes.err")"
[[ $(count --type posts) == 251 ]] || fail "deleted without confirmation"

step "--filter tag:old --yes deletes exactly the tagged posts"
ghost_api list --url "$url" --key-file "$key" --type posts | sort >"$W/before.ids"
"$REVENANT" ghost purge-posts --url "$url" --key-file "$key" --filter tag:old --yes --jobs 6 \
	>"$W/old.out" 2>"$W/old.err" || fail "filtered purge failed: $(cat "$W/old.err")"
cat "$W/old.out"
grep -q "^posts on $url: found 63, deleted 63, failed 0$" "$W/old.out" ||
	fail "summary: $(cat "$W/old.out")"
ghost_api list --url "$url" --key-file "$key" --type posts | sort >"$W/after.ids"
comm -23 "$W/before.ids" "$W/after.ids" >"$W/gone.ids"
diff "$W/old.ids" "$W/gone.ids" >/dev/null || fail "the purge deleted other posts than the tagged"
[[ $(count --type posts --filter tag:old) == 0 ]] || fail "tagged posts are left"
[[ $(count --type posts) == 188 ]] || fail "expected 188 posts left"

step "a plain purge leaves no post and every page"
t=$SECONDS
printf '%s' "$(cat "$key")" | "$REVENANT" ghost purge-posts --url "$url" --key-file - --yes \
	>"$W/all.out" 2>"$W/all.err" || fail "purge failed: $(cat "$W/all.err")"
cat "$W/all.out"
echo "purged 188 posts in $((SECONDS - t)) s"
grep -q "^posts on $url: found 188, deleted 188, failed 0$" "$W/all.out" ||
	fail "summary: $(cat "$W/all.out")"
[[ $(count --type posts) == 0 ]] || fail "posts are left after a plain purge"
ghost_api list --url "$url" --key-file "$key" --type pages | sort >"$W/pages.after"
[[ $(wc -l <"$W/pages.after") == 6 ]] || fail "pages were deleted"
comm -23 "$W/pages.ids" "$W/pages.after" | grep -q . && fail "a seeded page is missing"

step "--include-pages deletes pages too"
"$REVENANT" ghost purge-posts --url "$url" --key-file "$key" --yes --include-pages \
	>"$W/pages.out" 2>"$W/pages.err" || fail "page purge failed: $(cat "$W/pages.err")"
grep -q "^posts and pages on $url: found 6, deleted 6, failed 0$" "$W/pages.out" ||
	fail "summary: $(cat "$W/pages.out")"
[[ $(count --type pages) == 0 ]] || fail "pages left after --include-pages"

step "the key never shows up in any output"
secret=${key:+$(cut -d: -f2 "$key")}
grep -rqF "$secret" "$W" --exclude=seed.tsv && fail "the key's secret was printed"
echo "PASS"
