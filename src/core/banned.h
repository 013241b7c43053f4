/* banned.h - functions revenant must not call.
 *
 * Force-included into every translation unit (see CMakeLists.txt).  The
 * system headers are pulled in first so that their own declarations are
 * untouched; after that, any call to a banned function fails to compile
 * with a name that says why.  Use rv_buf, snprintf, strtoll/strtoull with
 * end-pointer checks and strtok_r instead. */
#ifndef RV_BANNED_H
#define RV_BANNED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RV_BANNED(func) sorry_##func##_is_banned_in_revenant

#undef strcpy
#define strcpy(x, y) RV_BANNED(strcpy)
#undef strcat
#define strcat(x, y) RV_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) RV_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) RV_BANNED(strncat)
#undef sprintf
#define sprintf(...) RV_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) RV_BANNED(vsprintf)
#undef gets
#define gets(x) RV_BANNED(gets)
#undef strtok
#define strtok(x, y) RV_BANNED(strtok)
#undef atoi
#define atoi(x) RV_BANNED(atoi)
#undef atol
#define atol(x) RV_BANNED(atol)
#undef atoll
#define atoll(x) RV_BANNED(atoll)
#undef sscanf
#define sscanf(...) RV_BANNED(sscanf)
#undef gmtime
#define gmtime(x) RV_BANNED(gmtime)
#undef localtime
#define localtime(x) RV_BANNED(localtime)

#endif
