/* escape.c - the body of a MySQL string literal, backslash-escaped (see
 * mysql.h).
 *
 * Escaped: NUL, the quote and the backslash, which a literal needs, and
 * newline, CR and ^Z, as mysqldump does (a statement stays one line in a
 * pager); not `"`, which needs nothing inside '…'.  utf8mb4's multi-byte
 * sequences never hold an ASCII byte, so escaping byte by byte is exact
 * for text, and the lexer reads a binary string's bytes the same way.
 *
 * Written by hand because nothing maintained does it fast:
 * mysql_real_escape_string checks every character's validity for the
 * connection's charset (40 % of a dump's CPU when it was used), and a
 * byte-by-byte loop was still 14 % of a snapshot's (perf, 8 connections).
 * With SSE2 (every x86-64) sixteen bytes are tested at once and copied
 * whole when none needs escaping, which is most of Ghost's text (a
 * newline per paragraph); elsewhere, and for the last bytes, the same
 * table byte by byte. */
#include "db/mysql/mysql.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The letter after the backslash; 0: the byte as it is. */
static const char map[256] = {
    [0] = '0', ['\n'] = 'n', ['\r'] = 'r', ['\\'] = '\\', ['\''] = '\'', [26] = 'Z'};

static size_t escape_bytes(char *out, const unsigned char *v, size_t n)
{
	char *o = out;

	for (size_t i = 0; i < n; i++) {
		char e = map[v[i]];

		if (e) {
			*o++ = '\\';
			*o++ = e;
		} else {
			*o++ = (char)v[i];
		}
	}
	return (size_t)(o - out);
}

#if defined(__SSE2__)
/* A bit per byte of the 16 at `p` that needs escaping. */
static unsigned specials(const unsigned char *p)
{
	const __m128i v = _mm_loadu_si128((const __m128i *)p);
	__m128i m = _mm_cmpeq_epi8(v, _mm_setzero_si128());

	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8('\'')));
	m = _mm_or_si128(m, _mm_cmpeq_epi8(v, _mm_set1_epi8(26)));
	return (unsigned)_mm_movemask_epi8(m);
}
#endif

size_t rv_mysql_escape(char *out, const char *s, size_t n)
{
	const unsigned char *v = (const unsigned char *)s;
	size_t i = 0, k = 0;

#if defined(__SSE2__)
	while (i + 16 <= n) {
		unsigned bits = specials(v + i);

		if (!bits) {
			memcpy(out + k, v + i, 16);
			i += 16;
			k += 16;
			continue;
		}
		/* the clean bytes before the first one to escape, then it */
		unsigned c = (unsigned)__builtin_ctz(bits);

		memcpy(out + k, v + i, c);
		k += c;
		i += c;
		out[k++] = '\\';
		out[k++] = map[v[i++]];
	}
#endif
	return k + escape_bytes(out + k, v + i, n - i);
}

size_t rv_mysql_escaped_len(const char *s, size_t n)
{
	const unsigned char *v = (const unsigned char *)s;
	size_t need = n;

	for (size_t i = 0; i < n; i++)
		need += map[v[i]] != 0;
	return need;
}
