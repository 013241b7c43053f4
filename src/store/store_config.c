/* store_config.c - the `store:` section of revenant.yml: where the replica
 * lives, the S3 tunables and static credentials.  Its keys, defaults,
 * bounds and the rules between them live here; core/config.c walks them. */
#include "core/config.h"
#include "store/store.h"

/* A URL that opens: same parser as rv_store_open, so `config check` refuses
 * what the store would. */
static int url_check(const char *value)
{
	struct rv_store_url url;
	int rc = rv_store_url_parse(&url, value);

	if (rc)
		return rc;
	rv_store_url_release(&url);
	return 0;
}

static const struct rv_config_entry entries[] = {
    {.name = "store.url",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(store.url),
     .desc = "a store URL",
     .check = url_check},
    {.name = "store.fsync",
     .type = RV_CONFIG_BOOL,
     .off = RV_CONFIG_FIELD(store.fsync),
     .def = "true"},
    {.name = "store.s3.region", .type = RV_CONFIG_STRING, .off = RV_CONFIG_FIELD(store.s3.region)},
    /* S3 parts are 5 MiB..5 GiB (the last one excepted). */
    {.name = "store.s3.part_size",
     .type = RV_CONFIG_SIZE,
     .off = RV_CONFIG_FIELD(store.s3.part_size),
     .def = "8MiB",
     .min = 5 * RV_CONFIG_MIB,
     .max = 5 * RV_CONFIG_GIB},
    {.name = "store.s3.multipart_threshold",
     .type = RV_CONFIG_SIZE,
     .off = RV_CONFIG_FIELD(store.s3.multipart_threshold),
     .def = "8MiB",
     .min = 5 * RV_CONFIG_MIB,
     .max = 5 * RV_CONFIG_GIB},
    {.name = "store.s3.parts_in_flight",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(store.s3.parts_in_flight),
     .def = "4",
     .min = 1,
     .max = 64},
    {.name = "store.s3.connect_timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(store.s3.connect_timeout_ms),
     .def = "5s",
     .min = 100,
     .max = 5 * RV_CONFIG_MIN},
    {.name = "store.s3.request_timeout",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(store.s3.request_timeout_ms),
     .def = "60s",
     .min = 1 * RV_CONFIG_SEC,
     .max = RV_CONFIG_DAY},
    {.name = "store.s3.deadline",
     .type = RV_CONFIG_DURATION,
     .off = RV_CONFIG_FIELD(store.s3.deadline_ms),
     .def = "5m",
     .min = 1 * RV_CONFIG_SEC,
     .max = 7 * RV_CONFIG_DAY},
    {.name = "store.s3.max_attempts",
     .type = RV_CONFIG_INT,
     .off = RV_CONFIG_FIELD(store.s3.max_attempts),
     .def = "8",
     .min = 1,
     .max = 100},
    {.name = "store.credentials.profile",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(store.credentials.profile)},
    {.name = "store.credentials.access_key_id",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(store.credentials.access_key_id)},
    {.name = "store.credentials.secret_access_key",
     .type = RV_CONFIG_STRING,
     .flags = RV_CONFIG_F_SECRET,
     .off = RV_CONFIG_FIELD(store.credentials.secret_access_key)},
    {.name = "store.credentials.session_token",
     .type = RV_CONFIG_STRING,
     .flags = RV_CONFIG_F_SECRET,
     .off = RV_CONFIG_FIELD(store.credentials.session_token)},
    /* The files hold keys, not the config: 32 random bytes each. */
    {.name = "store.encryption.key_file",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(store.encryption.key_file),
     .desc = "a file of 32 random bytes (openssl rand 32 > FILE)"},
    {.name = "store.encryption.old_key_files",
     .type = RV_CONFIG_LIST,
     .off = RV_CONFIG_FIELD(store.encryption.old_key_files)},
    /* Or a passphrase (one line, at least 12 characters): scrypt derives
     * the key, its salt and cost are kept in the store's marker. */
    {.name = "store.encryption.passphrase_file",
     .type = RV_CONFIG_PATH,
     .off = RV_CONFIG_FIELD(store.encryption.passphrase_file)},
    {.name = "store.encryption.old_passphrase_files",
     .type = RV_CONFIG_LIST,
     .off = RV_CONFIG_FIELD(store.encryption.old_passphrase_files)},
    /* Or envelope encryption: a data key from KMS GenerateDataKey, kept
     * wrapped in the store's marker, unwrapped with KMS Decrypt. */
    {.name = "store.encryption.kms_key_id",
     .type = RV_CONFIG_STRING,
     .off = RV_CONFIG_FIELD(store.encryption.kms_key_id),
     .desc = "a KMS key ARN, id or alias/NAME"},
};

/* A current key to write with, of one kind; old keys only beside it. */
static int check_encryption(const struct rv_config *c, const struct rv_config_origin *o)
{
	char *const *ok = c->store.encryption.old_key_files;
	char *const *op = c->store.encryption.old_passphrase_files;
	int kinds = !!c->store.encryption.key_file + !!c->store.encryption.passphrase_file +
		    !!c->store.encryption.kms_key_id;
	unsigned l1 = rv_config_line(o, "store.encryption.key_file");
	unsigned l2 = rv_config_line(o, "store.encryption.passphrase_file");
	unsigned l3 = rv_config_line(o, "store.encryption.kms_key_id");
	unsigned line = l1 > l2 ? (l1 > l3 ? l1 : l3) : (l2 > l3 ? l2 : l3);

	if (((ok && ok[0]) || (op && op[0])) && !kinds)
		return rv_config_fail(o, rv_config_line(o, "store.encryption.old_key_files"),
				      "store.encryption",
				      "old_key_files needs key_file (the key new objects are "
				      "written with)");
	if (kinds > 1)
		return rv_config_fail(o, line, "store.encryption",
				      "give one of key_file, passphrase_file and kms_key_id (an "
				      "old key of another kind can stay in old_key_files or "
				      "old_passphrase_files)");
	return 0;
}

/* Static credentials come whole or not at all, and not beside a profile. */
static int check(const struct rv_config *c, const struct rv_config_origin *o)
{
	unsigned l_id = rv_config_line(o, "store.credentials.access_key_id");
	unsigned l_secret = rv_config_line(o, "store.credentials.secret_access_key");
	unsigned l_token = rv_config_line(o, "store.credentials.session_token");
	unsigned l_profile = rv_config_line(o, "store.credentials.profile");
	const char *k = "store.credentials";

	if (c->store.credentials.access_key_id && !c->store.credentials.secret_access_key)
		return rv_config_fail(
		    o, l_id, k,
		    "access_key_id needs secret_access_key (or secret_access_key_file)");
	if (!c->store.credentials.access_key_id && c->store.credentials.secret_access_key)
		return rv_config_fail(o, l_secret, k, "secret_access_key needs access_key_id");
	if (c->store.credentials.session_token && !c->store.credentials.access_key_id)
		return rv_config_fail(o, l_token, k,
				      "session_token needs access_key_id and secret_access_key");
	if (c->store.credentials.profile && c->store.credentials.access_key_id)
		return rv_config_fail(
		    o, l_profile > l_id ? l_profile : l_id, k,
		    "give either profile or access_key_id/secret_access_key, not both");
	return check_encryption(c, o);
}

const struct rv_config_section rv_config_section_store = {
    .owner = "store",
    .entries = entries,
    .nentries = sizeof(entries) / sizeof(entries[0]),
    .check = check,
};
