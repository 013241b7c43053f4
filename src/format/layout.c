/* layout.c - every store key, built and parsed (see layout.h). */
#include "format/layout.h"
#include "core/mem.h"
#include "format/sealed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void rv_gen_id_new(char out[RV_GEN_ID_LEN])
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (uint32_t)getpid() ^ (uint32_t)rv_mono_ms();
	snprintf(out, RV_GEN_ID_LEN, "%016" PRIx64 "-%08" PRIx32, (uint64_t)rv_now_ms(), r);
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool hex16(const char *s, uint64_t *v)
{
	*v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			*v = *v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			*v = *v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	return true;
}

int rv_gen_id_check(const char *s)
{
	if (strlen(s) != RV_GEN_ID_LEN - 1 || !is_lower_hex(s, 16) || s[16] != '-' ||
	    !is_lower_hex(s + 17, 8))
		return rv_error(
		    RV_EUSAGE, "'%s' is not a generation ID (16 hex digits, '-', 8 hex digits)", s);
	return 0;
}

const char *rv_content_blob_prefix(const unsigned char *name_key)
{
	return name_key ? RV_KEY_BLOBS_KEYED : RV_KEY_BLOBS;
}

void rv_content_blob_name(unsigned char out[RV_SHA256_LEN], const unsigned char sha[RV_SHA256_LEN],
			  const unsigned char *name_key)
{
	if (name_key)
		rv_seal_blob_name(out, name_key, sha);
	else
		memmove(out, sha, RV_SHA256_LEN);
}

void rv_content_blob_key(char out[RV_BLOB_KEY_LEN], const unsigned char sha[RV_SHA256_LEN],
			 const unsigned char *name_key)
{
	unsigned char name[RV_SHA256_LEN];
	char hex[RV_SHA256_HEX];

	rv_content_blob_name(name, sha, name_key);
	rv_hex(hex, name, RV_SHA256_LEN);
	snprintf(out, RV_BLOB_KEY_LEN, "%s%.2s/%s", rv_content_blob_prefix(name_key), hex, hex);
}

char *rv_content_log_prefix(const char *gen)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/content/log/", gen);
}

char *rv_content_manifest_prefix(const char *gen)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/content/snapshot/", gen);
}

char *rv_content_log_key(const char *gen, uint64_t seq, int64_t time_ms)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/content/log/%016" PRIx64 "-%016" PRIx64
					      ".log.zst",
			   gen, seq, (uint64_t)time_ms);
}

char *rv_content_manifest_key(const char *gen, uint64_t seq, int64_t time_ms)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/content/snapshot/%016" PRIx64 "-%016" PRIx64
					      ".manifest.zst",
			   gen, seq, (uint64_t)time_ms);
}

int rv_content_key_parse(const char *key, uint64_t *seq, int64_t *time_ms)
{
	const char *base = strrchr(key, '/');
	uint64_t sq, ms;

	base = base ? base + 1 : key;
	if (strlen(base) < 34 || !hex16(base, &sq) || base[16] != '-' || !hex16(base + 17, &ms) ||
	    base[33] != '.' || !rv_str_endswith(base, ".zst"))
		return rv_error(RV_ECORRUPT,
				"object key '%s' is not '<16 hex seq>-<16 hex ms>.<kind>.zst' — a "
				"foreign object inside a generation folder",
				key);
	*seq = sq;
	*time_ms = (int64_t)ms;
	return 0;
}

bool rv_key_gen_split(const char *key, char id[RV_GEN_ID_LEN], const char **rest)
{
	const char *k = key + strlen(RV_KEY_GENERATIONS);

	if (!rv_str_startswith(key, RV_KEY_GENERATIONS) || strlen(k) < RV_GEN_ID_LEN ||
	    k[RV_GEN_ID_LEN - 1] != '/')
		return false;
	memcpy(id, k, RV_GEN_ID_LEN - 1);
	id[RV_GEN_ID_LEN - 1] = '\0';
	if (rv_gen_id_check(id)) {
		rv_error_clear();
		return false;
	}
	*rest = k + RV_GEN_ID_LEN;
	return true;
}

char *rv_site_standby_key(const char *site)
{
	return rv_asprintf(RV_KEY_SITES "%s/standby.json", site);
}

char *rv_gen_meta_key(const char *gen)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/meta.json", gen);
}

bool rv_content_blob_key_parse(const char *key, const unsigned char *name_key,
			       unsigned char sha[RV_SHA256_LEN])
{
	const char *prefix = rv_content_blob_prefix(name_key);
	const char *k = key + strlen(prefix);

	if (!rv_str_startswith(key, prefix) || strlen(k) != 3 + 2 * RV_SHA256_LEN || k[2] != '/' ||
	    k[0] != k[3] || k[1] != k[4] || !is_lower_hex(k + 3, 2 * RV_SHA256_LEN))
		return false;
	return !rv_unhex(sha, RV_SHA256_LEN, k + 3);
}

char *rv_content_log_block_prefix(const char *gen, uint64_t seq)
{
	/* 14 of the 16 hex digits: the block of 256 sequence numbers */
	return rv_asprintf(RV_KEY_GENERATIONS "%s/content/log/%014" PRIx64, gen, seq >> 8);
}

char *rv_dbobj_log_prefix(const char *gen)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/db/log/", gen);
}

char *rv_dbobj_snapshot_prefix(const char *gen)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/db/snapshot/", gen);
}

char *rv_dbobj_log_key(const char *gen, uint64_t from, uint64_t to, int64_t ms)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/db/log/%016" PRIx64 "-%016" PRIx64 "-%016" PRIx64
					      ".wal.zst",
			   gen, from, to, (uint64_t)ms);
}

char *rv_dbobj_snapshot_key(const char *gen, uint64_t pos, int64_t ms)
{
	return rv_asprintf(RV_KEY_GENERATIONS "%s/db/snapshot/%016" PRIx64 "-%016" PRIx64 ".db.zst",
			   gen, pos, (uint64_t)ms);
}

int rv_dbobj_key_parse(const char *key, enum rv_dbobj_kind kind, uint64_t *from, uint64_t *to,
		       int64_t *ms)
{
	const char *b = strrchr(key, '/');
	uint64_t t;
	bool ok;

	b = b ? b + 1 : key;
	if (kind == RV_DBOBJ_LOG)
		ok = strlen(b) == 58 && hex16(b, from) && b[16] == '-' && hex16(b + 17, to) &&
		     b[33] == '-' && hex16(b + 34, &t) && strcmp(b + 50, ".wal.zst") == 0 &&
		     *to > *from;
	else
		ok = strlen(b) == 40 && hex16(b, from) && b[16] == '-' && hex16(b + 17, &t) &&
		     strcmp(b + 33, ".db.zst") == 0;
	if (!ok)
		return rv_error(RV_ECORRUPT,
				"object key '%s' is not a database %s name — a foreign object "
				"inside a generation folder",
				key, kind == RV_DBOBJ_LOG ? "log" : "snapshot");
	if (kind == RV_DBOBJ_SNAPSHOT)
		*to = *from;
	*ms = (int64_t)t;
	return 0;
}
