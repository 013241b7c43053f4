/* testpoint.h - named points where a test build can stop itself.
 *
 * A test that must kill revenant at one exact moment (inside a generation's
 * removal, half-way through an apply) cannot get there by sleeping: how far
 * a process has come after N milliseconds depends on the machine.  Instead
 * the code names the moment, and the test asks the process to stop there:
 *
 *   REVENANT_TESTPOINT=NAME[@N]           stop the N-th time NAME is reached
 *   REVENANT_TESTPOINT=FIRST>NAME[@N]     ... counting only after FIRST was
 *                                         reached (FIRST itself never stops)
 *
 * On that hit the process writes "revenant: stopped at test point NAME" to
 * stderr and stops with SIGSTOP (every thread; tests/lib/testpoint.sh waits
 * for it); the test then kills it or lets it go on with SIGCONT.  N defaults
 * to 1.  A malformed value is reported once and ignored.
 *
 * Built only with -DRV_TESTPOINTS=ON (the default for source builds; release
 * images turn it off): otherwise rv_testpoint() is an empty inline and the
 * variable means nothing. */
#ifndef RV_TESTPOINT_H
#define RV_TESTPOINT_H

#ifdef RV_TESTPOINTS
void rv_testpoint(const char *name);
#else
static inline void rv_testpoint(const char *name)
{
	(void)name;
}
#endif

#endif
