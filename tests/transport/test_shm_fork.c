/* Shared-memory transport across two processes (fork): the window is a
 * sealed memfd and the doorbells are eventfds passed over a UNIX socket
 * (SCM_RIGHTS); the device core runs in one process, the driver in the
 * other, with the rpmsg echo service of examples/shm on top (seed 001:
 * name-service announcement, bind, echo). Peer-gone detection both ways:
 * a driver that dies leaves a device that resets and serves the next one;
 * a device that dies makes the driver fail with VTIO_ENOTCONN. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpmsg_echo_host.h"

static struct rpm_host_dev H;
static struct rpm_host_drv D;
static volatile sig_atomic_t no_stop;
static volatile sig_atomic_t alarm_stop;

/* Reap @pid within @secs, SIGKILL it otherwise. Returns its exit status or -1. */
static int reap(pid_t pid, int secs)
{
	for (int i = 0; i < secs * 100; i++) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		struct timespec ts = {0, 10L * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Child: a driver that echoes @count messages; exits 0 on success. With
 * @crash it leaves without resetting the device (a driver that died). */
static void child_driver(int sfd, unsigned count, bool crash, bool packed)
{
	int r = rpm_host_drv_connect(&D, sfd, 5000, packed);
	if (r == 0 && vtio_transport_layout(vtio_shm_drv_transport(&D.d.shm)) !=
			  (packed ? VTIO_LAYOUT_PACKED : VTIO_LAYOUT_SPLIT))
		_exit(12);
	if (r)
		_exit(10);
	unsigned ok = 0;
	r = rpm_host_drv_echo(&D, "fork", count, &no_stop, 5000, &ok);
	if (r || ok != count)
		_exit(11);
	if (crash)
		_exit(0); /* no reset, buffers still posted */
	rpm_host_drv_close(&D);
	_exit(0);
}

static void fork_echo(bool packed)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		child_driver(sv[1], 500, false, packed);
	}
	close(sv[1]);
	/* The device is initialised and published before a driver sees it. */
	assert_int_equal(rpm_host_dev_create(&H), 0);
	assert_int_equal(rpm_host_dev_serve(&H, sv[0], &no_stop, 10000), 0);
	assert_int_equal(reap(pid, 20), 0);
	assert_int_equal(H.rd.announced, 1);
	assert_int_equal(H.rd.echoed, 500);
	assert_int_equal(H.rd.dropped, 0);
	/* The driver reset the device as it left; the device is back at 0. */
	assert_int_equal(vtio_dev_status(&H.rd.dev), 0);
	rpm_host_dev_destroy(&H);
}

static void test_fork_rpmsg_echo_split(void **state)
{
	(void)state;
	fork_echo(false);
}

static void test_fork_rpmsg_echo_packed(void **state)
{
	(void)state;
	fork_echo(true);
}

/* A driver that dies mid-run: the device sees the socket close, resets
 * (queues stop), and a second driver process works from scratch. */
static void test_fork_driver_dies_then_reconnect(void **state)
{
	(void)state;
	assert_int_equal(rpm_host_dev_create(&H), 0);
	for (int round = 0; round < 2; round++) {
		int sv[2];
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(sv[0]);
			child_driver(sv[1], 100, round == 0, round == 1);
		}
		close(sv[1]);
		uint64_t before = H.rd.echoed;
		assert_int_equal(rpm_host_dev_serve(&H, sv[0], &no_stop, 10000), 0);
		assert_int_equal(reap(pid, 20), 0);
		assert_int_equal(H.rd.echoed - before, 100);
		/* Peer gone: the device reset itself, no queue is live. */
		assert_int_equal(vtio_dev_status(&H.rd.dev), 0);
		assert_null(vtio_dev_devq(&H.rd.dev, 0));
		assert_null(vtio_dev_devq(&H.rd.dev, 1));
	}
	assert_int_equal(H.drivers, 2);
	assert_int_equal(H.rd.announced, 2);
	rpm_host_dev_destroy(&H);
}

static void on_alarm(int sig)
{
	(void)sig;
	alarm_stop = 1;
}

/* A device that goes away under a running driver: VTIO_ENOTCONN. */
static void test_fork_device_dies(void **state)
{
	(void)state;
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		alarm(1);
		if (rpm_host_dev_create(&H))
			_exit(10);
		int r = rpm_host_dev_serve(&H, sv[1], &alarm_stop, 10000);
		_exit(r == VTIO_ECANCELED ? 0 : 11);
	}
	close(sv[1]);
	assert_int_equal(rpm_host_drv_connect(&D, sv[0], 5000, false), 0);
	unsigned ok = 0;
	int r = rpm_host_drv_echo(&D, "dies", 100000000u, &no_stop, 5000, &ok);
	assert_int_equal(r, VTIO_ENOTCONN);
	assert_true(ok > 0);
	assert_int_equal(reap(pid, 20), 0);
	rpm_host_drv_close(&D);
}

/* Link set-up over a socket path, and what a bad hello gives. */
static void test_link_path_and_bad_hello(void **state)
{
	(void)state;
	char path[64];
	snprintf(path, sizeof(path), "/tmp/vtio-shm-test-%d.sock", (int)getpid());
	int lfd, cfd, sfd;
	assert_int_equal(vtio_host_listen(path, &lfd), 0);
	int l2;
	assert_int_equal(vtio_host_listen(path, &l2), VTIO_EBUSY);
	/* That probe left a closed connection in the backlog. */
	assert_int_equal(vtio_host_accept(lfd, 1000, &sfd), 0);
	assert_true(vtio_host_peer_gone(sfd));
	close(sfd);
	assert_int_equal(vtio_host_connect(path, 0, &cfd), 0);
	assert_int_equal(vtio_host_accept(lfd, 1000, &sfd), 0);
	/* A hello that is too short, then EOF: VTIO_EBADMSG, no fd leaks. */
	char junk[8] = "garbage";
	assert_int_equal(vtio_host_send_fds(sfd, junk, sizeof(junk), NULL, 0), 0);
	close(sfd);
	struct vtio_host_link l;
	assert_int_equal(vtio_host_link_recv(&l, cfd, 1000, NULL, 0, NULL), VTIO_EBADMSG);
	close(cfd);
	/* A good one, with info bytes. */
	assert_int_equal(vtio_host_connect(path, 0, &cfd), 0);
	assert_int_equal(vtio_host_accept(lfd, 1000, &sfd), 0);
	struct vtio_host_link c;
	assert_int_equal(vtio_host_link_create(&c, 10000, 3), 0);
	assert_int_equal(c.win.size % 4096, 0);
	((unsigned char *)c.win.base)[100] = 0x5a;
	assert_int_equal(vtio_host_link_send(&c, sfd, "info", 4), 0);
	char info[8];
	size_t il;
	/* Too small an info buffer is refused. */
	assert_int_equal(vtio_host_link_recv(&l, cfd, 1000, info, 2, &il), VTIO_EBADMSG);
	close(cfd);
	assert_int_equal(vtio_host_connect(path, 0, &cfd), 0);
	assert_int_equal(vtio_host_accept(lfd, 1000, &sfd), 0);
	assert_int_equal(vtio_host_link_send(&c, sfd, "info", 4), 0);
	assert_int_equal(vtio_host_link_recv(&l, cfd, 1000, info, sizeof(info), &il), 0);
	assert_int_equal(il, 4);
	assert_memory_equal(info, "info", 4);
	assert_int_equal(((unsigned char *)l.win.base)[100], 0x5a);
	assert_int_equal(l.nbells, 3);
	/* Bells cross: creator tx 2 is the peer's rx 2, and back. */
	uint64_t rang;
	assert_int_equal(vtio_host_link_ring(&c, 2), 0);
	assert_int_equal(vtio_host_link_wait(&l, 1000, &rang), 0);
	assert_int_equal(rang, 1u << 2);
	assert_int_equal(vtio_host_link_ring(&l, 1 + 3), 0); /* modulo nbells */
	assert_int_equal(vtio_host_link_wait(&c, 1000, &rang), 0);
	assert_int_equal(rang, 1u << 1);
	assert_int_equal(vtio_host_link_wait(&c, 0, &rang), VTIO_ETIMEDOUT);
	assert_false(vtio_host_peer_gone(c.sock));
	vtio_host_link_close(&l);
	assert_int_equal(vtio_host_link_wait(&c, 1000, &rang), VTIO_ENOTCONN);
	assert_true(vtio_host_peer_gone(c.sock));
	vtio_host_link_close(&c);
	vtio_host_link_close(&c); /* twice is fine */
	close(lfd);
	unlink(path);
	/* Nobody there. */
	assert_int_equal(vtio_host_connect(path, 0, &cfd), VTIO_ENOENT);
	assert_int_equal(vtio_host_connect("/nonexistent-dir/x.sock", 30, &cfd), VTIO_ENOENT);
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	assert_int_equal(vtio_host_listen(longp, &lfd), VTIO_EMSGSIZE);
}

/* The receiving side refuses a window that is not a sealed memfd (a peer
 * could shrink it and make the receiver fault). */
static void test_window_must_be_sealed(void **state)
{
	(void)state;
	int fd = memfd_create("unsealed", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 8192), 0);
	struct vtio_host_shm w;
	assert_int_equal(vtio_host_shm_map(&w, fd, 4096), VTIO_EACCES);
	struct vtio_host_shm a;
	assert_int_equal(vtio_host_shm_create(&a, "t", 8192), 0);
	int dupfd = dup(a.fd);
	assert_int_equal(vtio_host_shm_map(&w, dupfd, 1 << 20), VTIO_ERANGE);
	dupfd = dup(a.fd);
	assert_int_equal(vtio_host_shm_map(&w, dupfd, 4096), 0);
	assert_int_equal(w.size, 8192);
	/* The seal holds: nobody can shrink it. */
	assert_int_not_equal(ftruncate(w.fd, 100), 0);
	vtio_host_shm_close(&w);
	vtio_host_shm_close(&a);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_rpmsg_echo_split),
	    cmocka_unit_test(test_fork_rpmsg_echo_packed),
	    cmocka_unit_test(test_fork_driver_dies_then_reconnect),
	    cmocka_unit_test(test_fork_device_dies),
	    cmocka_unit_test(test_link_path_and_bad_hello),
	    cmocka_unit_test(test_window_must_be_sealed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
