/* db/mysql/ pieces that need no server: the restore target URL (what
 * `restore --db mysql://…` and `standby --db mysql://…` accept and
 * refuse) and the binlog event checksum (CRC-32: the check value of
 * "123456789", and the residue of an event with its checksum). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "db/mysql/mysql.h"

static void test_url(void **state)
{
	struct rv_mysql_conf c;

	(void)state;
	assert_int_equal(rv_mysql_url_parse("mysql://rv@db-dr:3307/ghost_dr", "pw", &c), 0);
	assert_string_equal(c.user, "rv");
	assert_string_equal(c.host, "db-dr");
	assert_int_equal(c.port, 3307);
	assert_null(c.socket);
	assert_string_equal(c.database, "ghost_dr");
	assert_string_equal(c.password, "pw");
	rv_mysql_conf_release(&c);

	assert_int_equal(
	    rv_mysql_url_parse("mysql://root@localhost/g?socket=/run/m.sock", NULL, &c), 0);
	assert_null(c.host);
	assert_string_equal(c.socket, "/run/m.sock");
	assert_string_equal(c.database, "g");
	assert_null(c.password);
	rv_mysql_conf_release(&c);

	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/ghost", NULL, &c), 0);
	assert_int_equal(c.port, 3306);
	rv_mysql_conf_release(&c);

	/* a password in the URL, no user, a bad name, a bad port, other
	 * options: each refused */
	assert_int_equal(rv_mysql_url_parse("mysql://rv:secret@h/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://h/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/gh-ost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h:0/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h:99999/ghost", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("mysql://rv@h/ghost?tls=1", NULL, &c), RV_EUSAGE);
	assert_int_equal(rv_mysql_url_parse("/var/lib/ghost.db", NULL, &c), RV_EUSAGE);
	assert_false(rv_mysql_is_url("/var/lib/ghost.db"));
	assert_false(rv_mysql_is_url(NULL));
	assert_true(rv_mysql_is_url("mysql://rv@h/g"));
}

static void test_crc32(void **state)
{
	unsigned char ev[64];
	uint32_t c;

	(void)state;
	assert_int_equal(rv_mysql_crc32((const unsigned char *)"123456789", 9), 0xcbf43926u);
	assert_int_equal(rv_mysql_crc32((const unsigned char *)"", 0), 0);
	/* An event with its checksum appended little-endian, as the binlog
	 * stores it, has CRC-32's constant residue: what the apply's rewrite
	 * of a table map must produce. */
	for (size_t i = 0; i < 60; i++)
		ev[i] = (unsigned char)(i * 37 + 11);
	c = rv_mysql_crc32(ev, 60);
	ev[60] = (unsigned char)c;
	ev[61] = (unsigned char)(c >> 8);
	ev[62] = (unsigned char)(c >> 16);
	ev[63] = (unsigned char)(c >> 24);
	assert_int_equal(rv_mysql_crc32(ev, 64), 0x2144df1cu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_url),
	    cmocka_unit_test(test_crc32),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
