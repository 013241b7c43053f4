/* s3_harness.h - shared by the tests/unit/store/test_s3_*.c tests that run
 * against a real s3rver (started through tests/lib/s3rver.sh) and, for
 * faults, tests/fakes/faultproxy.py.  A server that does not start fails the
 * test; nothing is skipped. */
#ifndef RV_TEST_S3_HARNESS_H
#define RV_TEST_S3_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws/creds.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"

/* Each test uses only some of these helpers. */
#define H_UNUSED __attribute__((unused))

struct s3srv {
	int port;
	pid_t pid;
	char dir[256];
};

H_UNUSED static const char *h_testdir(void)
{
	const char *d = getenv("RV_TESTDIR");

	if (!d) {
		fprintf(stderr, "RV_TESTDIR is not set (run through ctest)\n");
		exit(1);
	}
	return d;
}

/* Start s3rver (reusing dir/port when given, to restart a killed one). */
H_UNUSED static int s3srv_start(struct s3srv *s, const char *dir, int port)
{
	char cmd[1024], line[512], portstr[16] = "";
	FILE *f;
	int ok;

	if (port)
		snprintf(portstr, sizeof(portstr), "%d", port);
	/* Empty arguments make s3rver_start pick a fresh dir / port. */
	snprintf(cmd, sizeof(cmd),
		 "bash -c '. \"%s/lib/s3rver.sh\" && s3rver_start \"$0\" \"$1\" && "
		 "echo \"$S3RVER_PORT $S3RVER_PID $S3RVER_DIR\"' '%s' '%s'",
		 h_testdir(), dir ? dir : "", portstr);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	ok = fgets(line, sizeof(line), f) != NULL;
	if (pclose(f) != 0 || !ok)
		return -1;
	{
		char *end;
		long v = strtol(line, &end, 10);
		s->port = (int)v;
		s->pid = (pid_t)strtol(end, &end, 10);
		while (*end == ' ')
			end++;
		snprintf(s->dir, sizeof(s->dir), "%s", end);
		s->dir[strcspn(s->dir, "\n")] = '\0';
	}
	return s->port > 0 && s->pid > 0 ? 0 : -1;
}

H_UNUSED static void s3srv_kill(struct s3srv *s, int sig)
{
	if (s->pid > 0) {
		kill(s->pid, sig);
		/* Not our child (the harness shell started it): poll. */
		for (int i = 0; i < 100 && kill(s->pid, 0) == 0; i++)
			usleep(50000);
		s->pid = 0;
	}
}

H_UNUSED static void s3srv_cleanup(struct s3srv *s)
{
	char cmd[512];

	s3srv_kill(s, SIGTERM);
	if (s->dir[0] && strncmp(s->dir, "/tmp/rv-s3rver.", 15) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", s->dir);
	}
	s->dir[0] = '\0';
}

/* Run a shell snippet with the harness loaded and S3RVER_URL set. */
H_UNUSED static int s3srv_sh(const struct s3srv *s, const char *snippet)
{
	char *cmd = NULL;
	size_t n = strlen(snippet) + 512;
	int rc;

	cmd = malloc(n);
	snprintf(cmd, n, "S3RVER_URL=http://127.0.0.1:%d bash -c '. \"%s/lib/s3rver.sh\" && %s'",
		 s->port, h_testdir(), snippet);
	rc = system(cmd);
	free(cmd);
	return rc;
}

H_UNUSED static int s3srv_mkbucket(const struct s3srv *s, const char *bucket)
{
	char snip[256];

	snprintf(snip, sizeof(snip), "s3rver_mkbucket %s", bucket);
	return s3srv_sh(s, snip);
}

/* A group setup: logging at warn, a fresh s3rver and `bucket` in it; a
 * loud FAIL line and -1 when either cannot be had. */
H_UNUSED static int s3srv_setup(struct s3srv *s, const char *bucket)
{
	rv_log_setup(RV_LOG_WARN, RV_LOG_LOGFMT);
	if (s3srv_start(s, NULL, 0)) {
		fprintf(stderr, "FAIL: s3rver did not start (npm ci --prefix tests?)\n");
		return -1;
	}
	if (s3srv_mkbucket(s, bucket)) {
		fprintf(stderr, "FAIL: cannot create bucket %s\n", bucket);
		return -1;
	}
	return 0;
}

/* Lines of the server's log containing `needle` (each request is one
 * "METHOD /path?query STATUS" line): proof of what was really sent. */
H_UNUSED static int s3srv_log_count(const struct s3srv *s, const char *needle)
{
	char path[300], line[4096];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/s3rver.log", s->dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* s3srv_log_count once it reaches `want`, or what it is after 5 s: the
 * server writes a response's line after the body went out, so a client
 * that has everything can be a line ahead of the log. */
H_UNUSED static int s3srv_log_wait(const struct s3srv *s, const char *needle, int want)
{
	int n = 0;

	for (int i = 0; i < 100; i++) {
		n = s3srv_log_count(s, needle);
		if (n >= want)
			break;
		usleep(50 * 1000);
	}
	return n;
}

H_UNUSED static struct rv_creds_config h_creds = {
    .access_key_id = "S3RVER",
    .secret_access_key = "S3RVER",
};

H_UNUSED static void h_opts(struct rv_store_opts *o)
{
	rv_store_opts_default(o);
	o->creds_config = &h_creds;
	o->region = "us-east-1";
	o->deadline_ms = 60000;
	o->request_timeout_ms = 30000;
}

H_UNUSED static char *h_url(int port, const char *bucket, const char *prefix)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "s3://%s/%s?endpoint=http://127.0.0.1:%d&region=us-east-1",
		 bucket, prefix, port);
	return buf;
}

/* A temp file of `size` pseudo-random bytes; its SHA-256 in hex. */
H_UNUSED static int h_randfile(char *path, size_t pathlen, uint64_t size, uint64_t seed,
			       char hex[RV_SHA256_HEX])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char buf[65536], md[32];
	unsigned int mdlen = 32;
	uint64_t x = seed | 1, done = 0;
	int fd;

	snprintf(path, pathlen, "/tmp/rv-s3test.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		for (size_t i = 0; i < n; i += 8) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			memcpy(buf + i, &x, n - i < 8 ? n - i : 8);
		}
		if (write(fd, buf, n) != (ssize_t)n)
			return -1;
		EVP_DigestUpdate(ctx, buf, n);
		done += n;
	}
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	rv_hex(hex, md, 32);
	return fd;
}

H_UNUSED static void h_sha_path(const char *path, char hex[RV_SHA256_HEX])
{
	unsigned char md[32];
	int fd = open(path, O_RDONLY);

	hex[0] = '\0';
	if (fd < 0)
		return;
	if (!rv_sha256_fd(md, fd, NULL))
		rv_hex(hex, md, 32);
	close(fd);
}

/* faultproxy.py in front of 127.0.0.1:upstream; returns its port. */
struct fproxy {
	pid_t pid;
	int port;
	char portfile[64];
	char statsfile[64];
};

H_UNUSED static int fproxy_start(struct fproxy *p, int upstream, const char *mode, int count,
				 double stall)
{
	char up[32], cnt[16], st[32], script[512];

	snprintf(p->portfile, sizeof(p->portfile), "/tmp/rv-fp-port.%d.%d", getpid(), upstream);
	snprintf(p->statsfile, sizeof(p->statsfile), "/tmp/rv-fp-stats.%d.%d", getpid(), upstream);
	unlink(p->portfile);
	unlink(p->statsfile);
	snprintf(up, sizeof(up), "127.0.0.1:%d", upstream);
	snprintf(cnt, sizeof(cnt), "%d", count);
	snprintf(st, sizeof(st), "%g", stall);
	snprintf(script, sizeof(script), "%s/fakes/faultproxy.py", h_testdir());
	p->pid = fork();
	if (p->pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execlp("python3", "python3", script, "--upstream", up, "--mode", mode, "--count",
		       cnt, "--port-file", p->portfile, "--stats-file", p->statsfile,
		       "--stall-seconds", st, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(p->portfile, "r");
		if (f) {
			char line[32] = "";
			int ok = fgets(line, sizeof(line), f) != NULL;
			fclose(f);
			p->port = ok ? (int)strtol(line, NULL, 10) : 0;
			if (p->port > 0)
				return 0;
		}
		usleep(50000);
	}
	return -1;
}

/* Faults injected so far (from the stats file). */
H_UNUSED static int fproxy_faults(const struct fproxy *p, int *requests)
{
	char line[128];
	FILE *f = fopen(p->statsfile, "r");
	int faults = -1;

	*requests = -1;
	if (!f)
		return -1;
	if (fgets(line, sizeof(line), f)) {
		char *r = strstr(line, "requests="), *fl = strstr(line, "faults=");
		if (r && fl) {
			*requests = (int)strtol(r + 9, NULL, 10);
			faults = (int)strtol(fl + 7, NULL, 10);
		}
	}
	fclose(f);
	return faults;
}

H_UNUSED static void fproxy_stop(struct fproxy *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
	}
	unlink(p->portfile);
	unlink(p->statsfile);
}

#endif
