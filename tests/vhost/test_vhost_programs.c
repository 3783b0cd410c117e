/*
 * The vhost-user programs against each other, as separate processes:
 * vtio-vhost-fe against vtio-vhost-blk (split, packed, several queues; the
 * image then holds the documented pattern), against vtio-vhost-net in echo
 * mode, and two front ends through vtio-vhost-net in bridge mode. Also
 * --help, a bad option, SIGUSR1 stats lines and a clean exit on SIGTERM.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static char dir[64];

static void path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static pid_t spawn(char *const argv[], const char *out)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			close(fd);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Exit status, or -1 after killing it when it outlives @ms. */
static int wait_exit(pid_t pid, int ms)
{
	for (int t = 0; t < ms; t += 10) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static bool wait_path(const char *p, int ms)
{
	struct stat st;
	for (int t = 0; t < ms; t += 10) {
		if (stat(p, &st) == 0)
			return true;
		usleep(10000);
	}
	return false;
}

static char *slurp(const char *p)
{
	static char buf[8192];
	FILE *f = fopen(p, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	if (f)
		fclose(f);
	buf[n] = '\0';
	return buf;
}

static int run_fe(char *const argv[])
{
	char out[128];
	path_in(out, sizeof(out), "fe.out");
	int rc = wait_exit(spawn(argv, out), 30000);
	if (rc != 0)
		fprintf(stderr, "fe: %s", slurp(out));
	else
		assert_non_null(strstr(slurp(out), "\"ok\":true"));
	return rc;
}

static void test_help(void **st)
{
	(void)st;
	const char *exe[3] = {VTIO_VHOST_BLK_EXE, VTIO_VHOST_NET_EXE, VTIO_VHOST_FE_EXE};
	for (int i = 0; i < 3; i++) {
		char *a1[] = {(char *)exe[i], "--help", NULL};
		assert_int_equal(wait_exit(spawn(a1, NULL), 5000), 0);
		char *a2[] = {(char *)exe[i], "--no-such-option", NULL};
		assert_int_equal(wait_exit(spawn(a2, NULL), 5000), 2);
		char *a3[] = {(char *)exe[i], NULL};
		assert_int_equal(wait_exit(spawn(a3, NULL), 5000), 2);
	}
}

static void test_blk(void **st)
{
	(void)st;
	char sock[128], img[128], out[128];
	path_in(sock, sizeof(sock), "blk.sock");
	path_in(img, sizeof(img), "blk.img");
	path_in(out, sizeof(out), "blk.out");
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8 << 20), 0);
	close(fd);
	char *be[] = {VTIO_VHOST_BLK_EXE, "--socket", sock, "--image", img, "--queues", "3", NULL};
	pid_t pid = spawn(be, out);
	assert_true(wait_path(sock, 5000));
	char *f1[] = {VTIO_VHOST_FE_EXE, "--socket", sock, "--type", "blk", "--count", "40", NULL};
	assert_int_equal(run_fe(f1), 0);
	char *f2[] = {VTIO_VHOST_FE_EXE,
		      "--socket",
		      sock,
		      "--type",
		      "blk",
		      "--packed",
		      "--queues",
		      "3",
		      "--size",
		      "16384",
		      "--count",
		      "30",
		      "--sector",
		      "2048",
		      "--seed",
		      "9",
		      "--blk-mode",
		      "write",
		      NULL};
	assert_int_equal(run_fe(f2), 0);
	char *f3[] = {VTIO_VHOST_FE_EXE,
		      "--socket",
		      sock,
		      "--type",
		      "blk",
		      "--queues",
		      "2",
		      "--size",
		      "16384",
		      "--count",
		      "30",
		      "--sector",
		      "2048",
		      "--seed",
		      "9",
		      "--blk-mode",
		      "verify",
		      "--no-indirect",
		      NULL};
	assert_int_equal(run_fe(f3), 0);
	/* a wrong seed must fail the check */
	char *f4[] = {
	    VTIO_VHOST_FE_EXE, "--socket", sock,       "--type", "blk",	   "--size", "16384",
	    "--count",	       "1",	   "--sector", "2048",	 "--seed", "10",     "--blk-mode",
	    "verify",	       NULL};
	assert_int_equal(run_fe(f4), 1);
	kill(pid, SIGTERM);
	assert_int_equal(wait_exit(pid, 5000), 0);
	const char *j = slurp(out);
	assert_non_null(strstr(j, "\"event\":\"exit\""));
	assert_non_null(strstr(j, "\"connections\":4"));
	assert_non_null(strstr(j, "\"protocol_errors\":0"));
	/* The image holds the documented pattern where f2 wrote. */
	fd = open(img, O_RDONLY);
	static unsigned char data[30 * 16384];
	assert_int_equal(pread(fd, data, sizeof(data), 2048 * 512), (ssize_t)sizeof(data));
	close(fd);
	for (uint64_t i = 0; i < sizeof(data); i++) {
		uint64_t o = 2048 * 512 + i;
		assert_int_equal(data[i], (unsigned char)((o >> 9) * 131u + (o & 511u) + 9u));
	}
	unlink(img);
	unlink(out);
}

static void test_net_echo(void **st)
{
	(void)st;
	char sock[128], out[128];
	path_in(sock, sizeof(sock), "net.sock");
	path_in(out, sizeof(out), "net.out");
	char *be[] = {VTIO_VHOST_NET_EXE, "--mode", "echo", "--socket", sock,
		      "--queue-pairs",	  "2",	    NULL};
	pid_t pid = spawn(be, out);
	assert_true(wait_path(sock, 5000));
	char *f1[] = {VTIO_VHOST_FE_EXE, "--socket", sock, "--type", "net", "--count", "500", NULL};
	assert_int_equal(run_fe(f1), 0);
	char *f2[] = {VTIO_VHOST_FE_EXE, "--socket", sock, "--type",  "net",
		      "--packed",	 "--queues", "2",  "--count", "300",
		      "--size",		 "4000",     NULL};
	assert_int_equal(run_fe(f2), 0);
	kill(pid, SIGUSR1);
	usleep(100000);
	kill(pid, SIGINT);
	assert_int_equal(wait_exit(pid, 5000), 0);
	const char *j = slurp(out);
	assert_non_null(strstr(j, "\"event\":\"stats\""));
	assert_non_null(strstr(j, "\"event\":\"exit\""));
	assert_non_null(strstr(j, "\"in_frames\":800,"));
	assert_non_null(strstr(j, "\"out_frames\":800,"));
	assert_non_null(strstr(j, "\"dropped\":0"));
	unlink(out);
}

static void test_net_bridge(void **st)
{
	(void)st;
	char a[128], b[128], out[128], ready[128], rout[128];
	path_in(a, sizeof(a), "a.sock");
	path_in(b, sizeof(b), "b.sock");
	path_in(out, sizeof(out), "bridge.out");
	path_in(ready, sizeof(ready), "ready");
	path_in(rout, sizeof(rout), "recv.out");
	char *be[] = {VTIO_VHOST_NET_EXE, "--mode", "bridge", "--socket", a,
		      "--socket",	  b,	    "--once", NULL};
	pid_t pid = spawn(be, out);
	assert_true(wait_path(a, 5000) && wait_path(b, 5000));
	char *rx[] = {VTIO_VHOST_FE_EXE, "--socket", b,		"--type", "net",    "--packed",
		      "--net-role",	 "recv",     "--count", "1000",	  "--size", "1500",
		      "--ready-file",	 ready,	     NULL};
	pid_t rpid = spawn(rx, rout);
	assert_true(wait_path(ready, 10000));
	char *tx[] = {
	    VTIO_VHOST_FE_EXE, "--socket", a,	     "--type", "net", "--net-role", "send",
	    "--count",	       "1000",	   "--size", "1500",   NULL};
	assert_int_equal(run_fe(tx), 0);
	assert_int_equal(wait_exit(rpid, 20000), 0);
	assert_non_null(strstr(slurp(rout), "\"received\":1000,"));
	assert_int_equal(wait_exit(pid, 10000), 0); /* --once: both went away */
	assert_non_null(strstr(slurp(out), "\"dropped\":0"));
	unlink(out);
	unlink(ready);
	unlink(rout);
}

static int setup(void **st)
{
	(void)st;
	strcpy(dir, "/tmp/vtio-vhost-prog-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
	(void)st;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_help),
	    cmocka_unit_test(test_blk),
	    cmocka_unit_test(test_net_echo),
	    cmocka_unit_test(test_net_bridge),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
