/*
 * QEMU interop firmware: a bare-metal driver built from the library's
 * portable core (sources.mk) that drives QEMU's own virtio-mmio devices
 * through the mmio transport (include/vtio/transport/mmio.h) and vtio_vq.
 *
 * What to do comes from a line of text QEMU's generic loader puts at the
 * linker symbol fw_args (`-device loader,file=ARGS,addr=ADDR,force-raw=on`):
 * space-separated words,
 *   blk | rng | con   the device to drive (the first slot with that DeviceID)
 *   irq               take completions through the interrupt line (the
 *                     board's interrupt controller, vtio_mmio_irq()) instead
 *                     of polling the used ring
 *   noindirect        the driver refuses VIRTIO_F_INDIRECT_DESC
 *   noeventidx        the driver refuses VIRTIO_F_EVENT_IDX
 *   ringreset         the driver accepts VIRTIO_F_RING_RESET and, after the
 *                     device checks, resets the data queue, re-enables it
 *                     and runs one more round on it
 * so one image per architecture serves every variant (split / packed and
 * what the device offers are chosen on QEMU's command line).
 *
 * It prints one "VTIO ..." report line per step on the console (feature
 * words in hex, every check "ok" or "FAIL", queue counters) and leaves QEMU
 * with status 0 only when every check passed. tests/interop/qemu_mmio.py
 * runs it and checks the report and the host side (disk image bytes,
 * console output file); docs/qemu-interop.md describes the cases.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vtio.h"
#include "vtio/transport/mmio.h"

#include "fw_board.h"

/* ---- Console output ---------------------------------------------------------- */

static void out_s(const char *s)
{
	while (*s) {
		if (*s == '\n')
			fw_board_putc('\r');
		fw_board_putc(*s++);
	}
}

static void out_hex(uint64_t v, unsigned digits)
{
	static const char hx[] = "0123456789abcdef";
	char b[17];
	if (digits > 16)
		digits = 16;
	for (unsigned i = 0; i < digits; i++)
		b[i] = hx[(v >> (4 * (digits - 1 - i))) & 0xfu];
	b[digits] = 0;
	out_s("0x");
	out_s(b);
}

static void out_u(uint64_t v)
{
	char b[21];
	unsigned i = sizeof(b) - 1;
	b[i] = 0;
	do {
		b[--i] = (char)('0' + v % 10u);
		v /= 10u;
	} while (v && i);
	out_s(&b[i]);
}

static void out_i(int v)
{
	if (v < 0) {
		out_s("-");
		out_u((uint64_t)(-(int64_t)v));
	} else {
		out_u((uint64_t)v);
	}
}

static unsigned failures;

/* One report line per check: "VTIO check <name> ok" or "... FAIL <why>". */
static bool check(const char *name, bool ok, const char *why, int64_t val)
{
	out_s("VTIO check ");
	out_s(name);
	if (ok) {
		out_s(" ok\n");
		return true;
	}
	failures++;
	out_s(" FAIL ");
	out_s(why);
	out_s(" ");
	if (val < 0) {
		out_s("-");
		out_u((uint64_t)(-val));
	} else {
		out_u((uint64_t)val);
	}
	out_s("\n");
	return false;
}

static __attribute__((noreturn)) void finish(void)
{
	if (failures == 0) {
		out_s("VTIO result pass\n");
		fw_board_exit(0);
	}
	out_s("VTIO result FAIL ");
	out_u(failures);
	out_s(" failed checks\n");
	fw_board_exit((int)(failures > 0xff ? 0xff : failures));
}

static size_t str_len(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* ---- Arguments block -------------------------------------------------------------- */

/* Where QEMU's generic loader put the argument text (`-device
 * loader,file=args,addr=<fw_args>,force-raw=on`; the linker script reserves
 * the page). fw_cfg would be the usual channel, but riscv virt creates its
 * fw_cfg device only when the machine is done, after QEMU 7.2 handles
 * -fw_cfg ("fw_cfg device not available"). */
extern volatile char fw_args[];
#define FW_ARGS_MAX 4096u

static int read_args(char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap && n < FW_ARGS_MAX && fw_args[n] && fw_args[n] != '\n')
		n++;
	if (n + 1 >= cap)
		return -1;
	for (size_t i = 0; i < n; i++)
		buf[i] = fw_args[i];
	buf[n] = 0;
	return (int)n;
}

/* ---- Arguments ------------------------------------------------------------------ */

enum { DEV_BLK = 2, DEV_CON = 3, DEV_RNG = 4 };

static struct args {
	char text[128];
	uint32_t device_id;
	const char *dev_name;
	bool irq;
	bool no_indirect;
	bool no_event_idx;
	bool ring_reset;
} args;

static bool parse_args(void)
{
	char words[128];
	if (read_args(args.text, sizeof(args.text)) <= 0)
		return false;
	size_t n = str_len(args.text);
	for (size_t i = 0; i <= n; i++)
		words[i] = args.text[i] == ' ' ? 0 : args.text[i];
	for (size_t i = 0; i < n;) {
		const char *w = &words[i];
		size_t wl = str_len(w);
		if (str_eq(w, "blk")) {
			args.device_id = DEV_BLK;
			args.dev_name = "blk";
		} else if (str_eq(w, "rng")) {
			args.device_id = DEV_RNG;
			args.dev_name = "rng";
		} else if (str_eq(w, "con")) {
			args.device_id = DEV_CON;
			args.dev_name = "con";
		} else if (str_eq(w, "irq")) {
			args.irq = true;
		} else if (str_eq(w, "noindirect")) {
			args.no_indirect = true;
		} else if (str_eq(w, "noeventidx")) {
			args.no_event_idx = true;
		} else if (str_eq(w, "ringreset")) {
			args.ring_reset = true;
		} else if (wl) {
			out_s("VTIO unknown argument ");
			out_s(w);
			out_s("\n");
			return false;
		}
		i += wl + 1;
	}
	return args.device_id != 0;
}

/* ---- The device and its queues --------------------------------------------------- */

#define MAX_QUEUES  2u
#define QSIZE	    16u
#define IND_TABLES  4u
#define IND_MAX	    8u
#define RING_BYTES  4096u
#define STATE_BYTES 4096u
#define POLL_SPINS  200000000u

static struct fwdev {
	struct vtio_mmio mmio;
	unsigned slot;
	struct vtio_vq *vq[MAX_QUEUES];
	volatile uint32_t irqs; /* vtio_mmio_irq() calls that found a used-buffer bit */
	volatile uint32_t vq_irqs[MAX_QUEUES]; /* used-buffer handler calls per queue */
	volatile uint32_t spurious;	       /* interrupts with no bit set */
} dev;

static _Alignas(64) unsigned char ring_mem[MAX_QUEUES][RING_BYTES];
static _Alignas(16) unsigned char state_mem[MAX_QUEUES][STATE_BYTES];

static void vq_irq(void *ctx, uint16_t index)
{
	(void)ctx;
	if (index < MAX_QUEUES)
		dev.vq_irqs[index]++;
}

void fw_irq_slot(unsigned slot)
{
	if (slot != dev.slot)
		return;
	int r = vtio_mmio_irq(&dev.mmio);
	if (r > 0 && (r & (int)VTIO_MMIO_INT_VRING))
		dev.irqs++;
	else if (r == 0)
		dev.spurious++;
}

static struct vtio_transport *tr(void)
{
	return vtio_mmio_transport(&dev.mmio);
}

/* Find the first slot whose DeviceID is @p id; prints every populated slot. */
static bool find_device(uint32_t id)
{
	bool found = false;
	for (unsigned s = 0; s < fw_board_virtio_slots(); s++) {
		struct vtio_mmio m;
		struct vtio_mmio_config c = {0};
		c.base = (volatile void *)fw_board_virtio_base(s);
		c.window_size = VTIO_MMIO_DEFAULT_WINDOW;
		int rc = vtio_mmio_init(&m, &c);
		if (rc == VTIO_ENODEV)
			continue;
		out_s("VTIO slot ");
		out_u(s);
		out_s(" base=");
		out_hex(fw_board_virtio_base(s), 8);
		if (rc != 0) {
			out_s(" probe error ");
			out_i(rc);
			out_s("\n");
			continue;
		}
		out_s(" id=");
		out_u(vtio_mmio_device_id(&m));
		out_s(" vendor=");
		out_hex(vtio_mmio_vendor_id(&m), 8);
		out_s(" version=");
		out_u(m.version);
		out_s("\n");
		/* The transport points at itself: set it up again in place
		 * rather than copying the probed one. */
		if (!found && vtio_mmio_device_id(&m) == id && vtio_mmio_init(&dev.mmio, &c) == 0) {
			dev.slot = s;
			found = true;
		}
	}
	return found;
}

/* Device-type feature bits this driver understands, per device. */
#define BLK_F_SEG_MAX  2
#define BLK_F_BLK_SIZE 6
#define BLK_F_FLUSH    9

static uint64_t device_features_supported(void)
{
	switch (args.device_id) {
	case DEV_BLK:
		return VTIO_FEATURE(BLK_F_SEG_MAX) | VTIO_FEATURE(BLK_F_BLK_SIZE) |
		       VTIO_FEATURE(BLK_F_FLUSH);
	default:
		/* rng has none; console: not SIZE, MULTIPORT (port 0 then needs
		 * no control queue) or EMERG_WRITE. */
		return 0;
	}
}

static unsigned queue_count(void)
{
	/* console port 0: receiveq 0 and transmitq 1 (no MULTIPORT). */
	return args.device_id == DEV_CON ? 2u : 1u;
}

static bool bring_up(void)
{
	struct vtio_transport_negotiation n = {0};
	n.supported = device_features_supported() | VTIO_FEATURE(VTIO_F_RING_PACKED);
	if (!args.no_indirect)
		n.supported |= VTIO_FEATURE(VTIO_F_INDIRECT_DESC);
	if (!args.no_event_idx)
		n.supported |= VTIO_FEATURE(VTIO_F_EVENT_IDX);
	if (args.ring_reset)
		n.supported |= VTIO_FEATURE(VTIO_F_RING_RESET);
	n.required = VTIO_FEATURE(VTIO_F_VERSION_1);
	int rc = vtio_transport_negotiate(tr(), &n);
	out_s("VTIO dev=");
	out_s(args.dev_name);
	out_s(" slot=");
	out_u(dev.slot);
	out_s(" offered=");
	out_hex(tr()->offered, 16);
	out_s(" negotiated=");
	out_hex(vtio_transport_features(tr()), 16);
	out_s(" layout=");
	out_s(vtio_transport_layout(tr()) == VTIO_LAYOUT_PACKED ? "packed" : "split");
	out_s(" irq=");
	out_u(args.irq);
	out_s("\n");
	if (!check("negotiate", rc == 0, "rc", rc))
		return false;

	vtio_transport_set_irq(tr(), vq_irq, NULL, &dev);
	for (unsigned q = 0; q < queue_count(); q++) {
		enum vtio_layout layout = vtio_transport_layout(tr());
		uint32_t max = vtio_transport_queue_max(tr(), (uint16_t)q);
		uint32_t num = max < QSIZE ? max : QSIZE;
		if (layout == VTIO_LAYOUT_SPLIT)
			while (num & (num - 1))
				num &= num - 1;
		struct vtio_transport_vq_config c = {0};
		c.index = (uint16_t)q;
		c.num = num;
		/* The peer is another thread of QEMU: order like a device. */
		c.flags = VTIO_VQ_F_DMA_BARRIERS;
		c.indirect_tables = IND_TABLES;
		c.indirect_max = IND_MAX;
		c.ring = ring_mem[q];
		c.ring_size = sizeof(ring_mem[q]);
		c.state = state_mem[q];
		c.state_size = sizeof(state_mem[q]);
		out_s("VTIO queue ");
		out_u(q);
		out_s(" max=");
		out_u(max);
		out_s(" num=");
		out_u(num);
		out_s(" ring=");
		out_u(vtio_transport_vq_ring_size(layout, num));
		out_s(" state=");
		out_u(vtio_vq_state_size(layout, num, IND_TABLES, IND_MAX));
		out_s("\n");
		if (vtio_transport_vq_ring_size(layout, num) > RING_BYTES ||
		    vtio_vq_state_size(layout, num, IND_TABLES, IND_MAX) > STATE_BYTES) {
			check("queue-storage", false, "too small for queue", q);
			return false;
		}
		rc = vtio_transport_vq_setup(tr(), &c, &dev.vq[q]);
		if (!check(q ? "vq-setup-1" : "vq-setup-0", rc == 0, "rc", rc))
			return false;
		if (args.irq)
			(void)vtio_vq_enable_cb(dev.vq[q]);
		else
			vtio_vq_disable_cb(dev.vq[q]);
	}
	if (args.irq)
		fw_board_irq_enable(dev.slot);
	rc = vtio_transport_driver_ok(tr());
	return check("driver-ok", rc == 0, "rc", rc);
}

/*
 * Wait until every one of the @p n tokens is back from queue @p q (any
 * order), recording the used lengths. Polling: spin on the used ring. With
 * "irq": interrupts are masked except inside fw_board_irq_take() /
 * fw_board_irq_wait(). Each pass first takes the interrupts already
 * pending (so the handler, vtio_mmio_irq(), runs for what the device just
 * used), drains the used ring, then re-enables the callback and, when
 * vtio_vq_enable_cb() says nothing arrived meanwhile, sleeps until the
 * handler ran for this queue (EVT-DRV-9: re-arm, barrier, re-check, sleep).
 * The callback stays armed between batches (bring_up() arms it, every
 * completed reap re-arms it), so the device interrupts for the next batch
 * even when it uses the buffers during the kick's register write, as QEMU's
 * TCG does. A per-queue interrupt count cannot tell "already handled" from
 * "not yet raised" (one line serves every queue of the device, and the
 * handler runs for all of them), so only the ring decides when to sleep.
 */
static bool reap(unsigned q, void *const *tokens, uint32_t *lens, unsigned n)
{
	struct vtio_vq *vq = dev.vq[q];
	bool got[8] = {false};
	unsigned left = n;
	uint32_t spins = 0;
	if (n > sizeof(got) / sizeof(got[0]))
		return check("reap-batch", false, "more tokens than tracked", n);
	while (left) {
		if (args.irq)
			fw_board_irq_take();
		uint32_t len = 0;
		void *t;
		while (left && (t = vtio_vq_get_used(vq, &len)) != NULL) {
			unsigned i;
			for (i = 0; i < n; i++)
				if (tokens[i] == t && !got[i])
					break;
			if (!check("used-token", i < n, "unknown or repeated token", (int64_t)q))
				return false;
			got[i] = true;
			lens[i] = len;
			left--;
		}
		if (!left) {
			/* Re-arm for the next batch (EVENT_IDX: used_event /
			 * the packed event offset at the next used entry). */
			if (args.irq)
				(void)vtio_vq_enable_cb(vq);
			break;
		}
		if (vtio_vq_is_broken(vq)) {
			out_s("VTIO broken: ");
			out_s(vtio_vq_broken_reason(vq));
			out_s("\n");
			return check("queue-not-broken", false, "queue", q);
		}
		if (args.irq) {
			uint32_t seen = dev.vq_irqs[q];
			if (vtio_vq_enable_cb(vq))
				fw_board_irq_wait(&dev.vq_irqs[q], seen);
		} else if (++spins > POLL_SPINS) {
			return check("poll-timeout", false, "buffers missing", left);
		}
	}
	return true;
}

static bool submit(unsigned q, const struct vtio_sg *sg, unsigned out, unsigned in, void *token)
{
	int rc = vtio_vq_add(dev.vq[q], sg, out, in, token);
	return check("vq-add", rc == 0, "rc", rc);
}

static bool kick(unsigned q)
{
	int rc = vtio_vq_kick(dev.vq[q]);
	return check("vq-kick", rc == 0, "rc", rc);
}

static void report_stats(void)
{
	for (unsigned q = 0; q < queue_count(); q++) {
		struct vtio_vq_stats st;
		vtio_vq_get_stats(dev.vq[q], &st);
		out_s("VTIO stats q=");
		out_u(q);
		out_s(" added=");
		out_u(st.added);
		out_s(" used=");
		out_u(st.used);
		out_s(" notifies=");
		out_u(st.notifies);
		out_s(" indirect=");
		out_u(st.indirect);
		out_s(" clamped=");
		out_u(st.len_clamped);
		out_s(" vq_irqs=");
		out_u(dev.vq_irqs[q]);
		out_s("\n");
	}
	out_s("VTIO irqs=");
	out_u(dev.irqs);
	out_s(" spurious=");
	out_u(dev.spurious);
	out_s("\n");
}

static bool negotiated(unsigned bit)
{
	return vtio_transport_has(tr(), bit);
}

/* A buffer of @p n segments goes indirect exactly when INDIRECT_DESC was
 * negotiated (n >= the default threshold of 2 and a table free). */
static bool check_indirect(const char *name, uint64_t before, uint64_t expect_if_neg)
{
	struct vtio_vq_stats st;
	vtio_vq_get_stats(dev.vq[args.device_id == DEV_CON ? 1 : 0], &st);
	uint64_t want = negotiated(VTIO_F_INDIRECT_DESC) ? expect_if_neg : 0;
	return check(name, st.indirect - before == want, "indirect buffers",
		     (int64_t)(st.indirect - before));
}

static uint64_t indirect_now(unsigned q)
{
	struct vtio_vq_stats st;
	vtio_vq_get_stats(dev.vq[q], &st);
	return st.indirect;
}

/* ---- virtio-blk (spec 5.2) --------------------------------------------------------- */

#define BLK_T_IN     0u
#define BLK_T_OUT    1u
#define BLK_T_FLUSH  4u
#define BLK_T_GET_ID 8u
#define BLK_S_OK     0u
#define BLK_S_IOERR  1u
#define SECTOR	     512u

/* Sectors the host test writes before boot, and the ones this firmware
 * writes; tests/interop/qemu_mmio.py uses the same layout and pattern. */
#define KNOWN_FIRST 0u
#define KNOWN_COUNT 8u
#define WRITE_FIRST 16u
#define WRITE_COUNT 8u
#define SEED_HOST   0x11u
#define SEED_FW	    0x22u

struct blk_req {
	struct {
		uint32_t type;
		uint32_t reserved;
		uint64_t sector;
	} hdr;
	uint8_t status;
};

static struct blk_req reqs[3];
static unsigned char blkbuf[2][4 * SECTOR];
static char blk_id[21];

static uint8_t pattern(uint32_t seed, uint32_t sector, uint32_t i)
{
	uint32_t x = ((sector << 16) | i) * 2654435761u + seed;
	return (uint8_t)(x >> 24);
}

static void blk_hdr(struct blk_req *r, uint32_t type, uint64_t sector)
{
	r->hdr.type = vtio_le32(type);
	r->hdr.reserved = 0;
	r->hdr.sector = vtio_le64(sector);
	r->status = 0xff;
}

/*
 * Two requests of 4 sectors each in flight together: the first with one
 * data segment, the second with one segment per sector (6 segments).
 */
static bool blk_pair(uint32_t type, uint32_t first)
{
	struct vtio_sg a[3], b[6];
	bool wr = type == BLK_T_OUT;
	blk_hdr(&reqs[0], type, first);
	blk_hdr(&reqs[1], type, first + 4u);
	a[0] = vtio_sg_of(&reqs[0].hdr, sizeof(reqs[0].hdr));
	a[1] = vtio_sg_of(blkbuf[0], 4 * SECTOR);
	a[2] = vtio_sg_of(&reqs[0].status, 1);
	b[0] = vtio_sg_of(&reqs[1].hdr, sizeof(reqs[1].hdr));
	for (unsigned i = 0; i < 4; i++)
		b[1 + i] = vtio_sg_of(&blkbuf[1][i * SECTOR], SECTOR);
	b[5] = vtio_sg_of(&reqs[1].status, 1);
	if (!submit(0, a, wr ? 2 : 1, wr ? 1 : 2, &reqs[0]) ||
	    !submit(0, b, wr ? 5 : 1, wr ? 1 : 5, &reqs[1]) || !kick(0))
		return false;
	void *tok[2] = {&reqs[0], &reqs[1]};
	uint32_t len[2] = {0, 0};
	if (!reap(0, tok, len, 2))
		return false;
	/* used len: bytes written into device-writable buffers (status + data
	 * for IN). QEMU reports that for reads; see docs/qemu-interop.md. */
	bool ok = check("blk-status", reqs[0].status == BLK_S_OK && reqs[1].status == BLK_S_OK,
			"status", reqs[0].status | (reqs[1].status << 8));
	if (type == BLK_T_IN)
		ok &=
		    check("blk-read-used-len", len[0] == 4 * SECTOR + 1 && len[1] == 4 * SECTOR + 1,
			  "len", (int64_t)len[0] << 16 | len[1]);
	else
		ok &= check("blk-write-used-len", len[0] >= 1 && len[1] >= 1, "len",
			    (int64_t)len[0] << 16 | len[1]);
	return ok;
}

static bool blk_compare(uint32_t seed, uint32_t first)
{
	uint32_t bad = 0;
	for (unsigned h = 0; h < 2; h++)
		for (unsigned i = 0; i < 4 * SECTOR; i++)
			if (blkbuf[h][i] != pattern(seed, first + 4u * h + i / SECTOR, i % SECTOR))
				bad++;
	return bad == 0 ? true : (check("blk-compare", false, "bytes differ", bad), false);
}

static bool blk_single(uint32_t type, uint64_t sector, void *data, uint32_t len, bool dev_writes,
		       uint8_t *status, uint32_t *used)
{
	struct vtio_sg sg[3];
	unsigned n = 0;
	blk_hdr(&reqs[2], type, sector);
	sg[n++] = vtio_sg_of(&reqs[2].hdr, sizeof(reqs[2].hdr));
	if (data && !dev_writes)
		sg[n++] = vtio_sg_of(data, len);
	unsigned out = n;
	if (data && dev_writes)
		sg[n++] = vtio_sg_of(data, len);
	sg[n++] = vtio_sg_of(&reqs[2].status, 1);
	if (!submit(0, sg, out, n - out, &reqs[2]) || !kick(0))
		return false;
	void *tok[1] = {&reqs[2]};
	if (!reap(0, tok, used, 1))
		return false;
	*status = reqs[2].status;
	return true;
}

static void run_blk(void)
{
	uint64_t cap = 0;
	uint32_t seg = 0, bs = 0;
	/* Field by field, each with its own width (spec 4.2.2.2). */
	int rc = vtio_transport_config_read(tr(), 0, &cap, 8);
	cap = vtio_le64(cap);
	out_s("VTIO blk capacity=");
	out_u(cap);
	if (negotiated(BLK_F_SEG_MAX)) {
		(void)vtio_transport_config_read(tr(), 12, &seg, 4);
		seg = vtio_le32(seg);
		out_s(" seg_max=");
		out_u(seg);
	}
	if (negotiated(BLK_F_BLK_SIZE)) {
		(void)vtio_transport_config_read(tr(), 20, &bs, 4);
		out_s(" blk_size=");
		out_u(vtio_le32(bs));
	}
	out_s("\n");
	if (negotiated(BLK_F_SEG_MAX))
		check("blk-seg-max", seg >= 6, "seg_max", seg);
	if (!check("blk-capacity", rc == 0 && cap >= WRITE_FIRST + WRITE_COUNT, "capacity",
		   (int64_t)cap))
		return;

	/* 1. Sectors the host wrote before boot. */
	uint64_t ind = indirect_now(0);
	for (unsigned h = 0; h < 2; h++)
		for (unsigned i = 0; i < sizeof(blkbuf[h]); i++)
			blkbuf[h][i] = 0xee;
	if (blk_pair(BLK_T_IN, KNOWN_FIRST) && blk_compare(SEED_HOST, KNOWN_FIRST))
		check("blk-read-known", true, "", 0);
	check_indirect("blk-read-indirect", ind, 2);

	/* 2. Write a pattern elsewhere, then read it back. */
	ind = indirect_now(0);
	for (unsigned h = 0; h < 2; h++)
		for (unsigned i = 0; i < 4 * SECTOR; i++)
			blkbuf[h][i] =
			    pattern(SEED_FW, WRITE_FIRST + 4u * h + i / SECTOR, i % SECTOR);
	if (blk_pair(BLK_T_OUT, WRITE_FIRST))
		check("blk-write", true, "", 0);
	check_indirect("blk-write-indirect", ind, 2);
	for (unsigned h = 0; h < 2; h++)
		for (unsigned i = 0; i < sizeof(blkbuf[h]); i++)
			blkbuf[h][i] = 0;
	if (blk_pair(BLK_T_IN, WRITE_FIRST) && blk_compare(SEED_FW, WRITE_FIRST))
		check("blk-readback", true, "", 0);

	/* 3. FLUSH when offered (spec 5.2.6: the write-back cache made durable). */
	uint8_t st = 0xff;
	uint32_t used = 0;
	if (negotiated(BLK_F_FLUSH)) {
		if (blk_single(BLK_T_FLUSH, 0, NULL, 0, false, &st, &used))
			check("blk-flush", st == BLK_S_OK, "status", st);
	} else {
		out_s("VTIO blk flush not offered\n");
	}

	/* 4. GET_ID: the drive's serial (the test sets it). */
	for (unsigned i = 0; i < sizeof(blk_id); i++)
		blk_id[i] = 0;
	if (blk_single(BLK_T_GET_ID, 0, blk_id, 20, true, &st, &used)) {
		bool printable = true;
		for (unsigned i = 0; i < 20 && blk_id[i]; i++)
			if (blk_id[i] < 0x20 || blk_id[i] > 0x7e)
				printable = false;
		if (check("blk-get-id", st == BLK_S_OK && printable, "status", st)) {
			out_s("VTIO blk id=");
			out_s(blk_id);
			out_s("\n");
		}
	}

	/* 5. A read past the end fails with IOERR and leaves the queue working. */
	if (blk_single(BLK_T_IN, cap, blkbuf[0], SECTOR, true, &st, &used))
		check("blk-read-past-end-ioerr", st == BLK_S_IOERR, "status", st);
}

/* ---- virtio-rng (spec 5.4) -------------------------------------------------------- */

static unsigned char rnd[2][64];

static bool not_all_equal(const unsigned char *p, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (p[i] != p[0])
			return true;
	return false;
}

static void run_rng(int rounds)
{
	for (int round = 0; round < rounds; round++) {
		struct vtio_sg a[1], b[3];
		for (unsigned i = 0; i < 64; i++)
			rnd[0][i] = rnd[1][i] = 0;
		a[0] = vtio_sg_of(rnd[0], 64);
		b[0] = vtio_sg_of(&rnd[1][0], 16);
		b[1] = vtio_sg_of(&rnd[1][16], 16);
		b[2] = vtio_sg_of(&rnd[1][32], 32);
		uint64_t ind = indirect_now(0);
		if (!submit(0, a, 0, 1, rnd[0]) || !submit(0, b, 0, 3, rnd[1]) || !kick(0))
			return;
		void *tok[2] = {rnd[0], rnd[1]};
		uint32_t len[2] = {0, 0};
		if (!reap(0, tok, len, 2))
			return;
		check("rng-length", len[0] == 64 && len[1] == 64, "len",
		      (int64_t)len[0] << 16 | len[1]);
		check("rng-not-all-equal", not_all_equal(rnd[0], 64) && not_all_equal(rnd[1], 64),
		      "constant bytes", 0);
		bool differ = false;
		for (unsigned i = 0; i < 64; i++)
			differ |= rnd[0][i] != rnd[1][i];
		check("rng-buffers-differ", differ, "identical", 0);
		check_indirect("rng-indirect", ind, 1);
		out_s("VTIO rng first=");
		out_hex((uint64_t)rnd[0][0] << 24 | (uint64_t)rnd[0][1] << 16 |
			    (uint64_t)rnd[0][2] << 8 | rnd[0][3],
			8);
		out_s("\n");
	}
}

/* ---- virtio-console (spec 5.3), port 0 without MULTIPORT --------------------------- */

static char line1[96], line2a[64];
static const char line2b[] = "abcdefghij", line2c[] = "0123456789\n";

static void append(char *d, size_t cap, const char *s)
{
	size_t n = str_len(d);
	while (*s && n + 1 < cap)
		d[n++] = *s++;
	d[n] = 0;
}

/* Host -> guest: one small device-writable buffer on receiveq, posted
 * again after every fill, until the host's line is complete; then echo it. */
static unsigned char rxbuf[16];
static char rxline[128], rxwant[128], echo[160];

static bool rx_post(void)
{
	struct vtio_sg sg[1];
	sg[0] = vtio_sg_of(rxbuf, sizeof(rxbuf));
	return submit(0, sg, 0, 1, rxbuf) && kick(0);
}

static void con_rx(void)
{
	append(rxwant, sizeof(rxwant), "VTIOHOST ");
	append(rxwant, sizeof(rxwant), fw_board_name);
	append(rxwant, sizeof(rxwant), " ");
	append(rxwant, sizeof(rxwant), args.text);
	append(rxwant, sizeof(rxwant), "\n");
	size_t got = 0;
	unsigned fills = 0;
	bool nl = false, lens_ok = true;
	while (!nl && got + sizeof(rxbuf) < sizeof(rxline)) {
		void *tok[1] = {rxbuf};
		uint32_t len[1] = {0};
		if (!reap(0, tok, len, 1))
			return;
		fills++;
		if (len[0] == 0 || len[0] > sizeof(rxbuf))
			lens_ok = false;
		for (uint32_t i = 0; i < len[0] && i < sizeof(rxbuf); i++) {
			rxline[got++] = (char)rxbuf[i];
			nl |= rxbuf[i] == '\n';
		}
		rxline[got] = 0;
		if (!nl && !rx_post())
			return;
	}
	out_s("VTIO con rx fills=");
	out_u(fills);
	out_s(" bytes=");
	out_u(got);
	out_s("\n");
	check("con-rx-used-len", lens_ok, "a used length outside 1..16", 0);
	if (!check("con-rx", str_eq(rxline, rxwant), "host line differs, bytes", (int64_t)got))
		return;
	append(echo, sizeof(echo), "VTIOCON echo ");
	append(echo, sizeof(echo), rxline);
	struct vtio_sg sg[1];
	sg[0] = vtio_sg_of(echo, (uint32_t)str_len(echo));
	if (!submit(1, sg, 1, 0, echo) || !kick(1))
		return;
	void *tok[1] = {echo};
	uint32_t len[1] = {1};
	if (reap(1, tok, len, 1))
		check("con-echo", len[0] == 0, "len", len[0]);
}

static void run_con(void)
{
	if (!rx_post())
		return;
	/* The text names the board and the arguments so the host can tell runs apart. */
	append(line1, sizeof(line1), "VTIOCON 1 ");
	append(line1, sizeof(line1), fw_board_name);
	append(line1, sizeof(line1), " ");
	append(line1, sizeof(line1), args.text);
	append(line1, sizeof(line1), "\n");
	append(line2a, sizeof(line2a), "VTIOCON 2 ");
	append(line2a, sizeof(line2a), fw_board_name);
	append(line2a, sizeof(line2a), " ");
	struct vtio_sg a[1], b[3];
	a[0] = vtio_sg_of(line1, (uint32_t)str_len(line1));
	b[0] = vtio_sg_of(line2a, (uint32_t)str_len(line2a));
	b[1] = vtio_sg_of(line2b, (uint32_t)str_len(line2b));
	b[2] = vtio_sg_of(line2c, (uint32_t)str_len(line2c));
	uint64_t ind = indirect_now(1);
	if (!submit(1, a, 1, 0, line1) || !submit(1, b, 3, 0, line2a) || !kick(1))
		return;
	void *tok[2] = {line1, line2a};
	uint32_t len[2] = {1, 1};
	if (!reap(1, tok, len, 2))
		return;
	/* Device-readable only: the device writes nothing (used len 0). */
	check("con-tx-used-len", len[0] == 0 && len[1] == 0, "len", (int64_t)len[0] << 16 | len[1]);
	check_indirect("con-indirect", ind, 1);
	check("con-tx", true, "", 0);
	con_rx();
}

static char line3[64];

static void con_line3(void)
{
	append(line3, sizeof(line3), "VTIOCON 3 ");
	append(line3, sizeof(line3), fw_board_name);
	append(line3, sizeof(line3), " after ring reset\n");
	struct vtio_sg a[1];
	a[0] = vtio_sg_of(line3, (uint32_t)str_len(line3));
	if (!submit(1, a, 1, 0, line3) || !kick(1))
		return;
	void *tok[1] = {line3};
	uint32_t len[1] = {1};
	if (reap(1, tok, len, 1))
		check("con-tx-after-ring-reset", len[0] == 0, "len", len[0]);
}

/*
 * VIRTIO_F_RING_RESET (spec 2.6.1, 4.2.2 QueueReset): reset the data queue
 * while the device runs, take back what it did not use (nothing: every
 * buffer was reaped), reset the driver's ring state, enable it again at the
 * same addresses and use it once more.
 */
static void ring_reset_round(void)
{
	unsigned q = args.device_id == DEV_CON ? 1u : 0u;
	if (!check("ring-reset-negotiated", negotiated(VTIO_F_RING_RESET), "not negotiated", 0))
		return;
	int rc = vtio_transport_queue_reset(tr(), (uint16_t)q);
	if (rc == VTIO_EPROTO && vtio_mmio_error(&dev.mmio) == 0) {
		/* QueueReset read back 0 but QueueReady stayed 1: the device
		 * offered RING_RESET and ignored the register (QEMU 7.2's
		 * virtio-mmio logs "bad register offset (0xc0)"). Recorded, not
		 * failed: tests/interop/qemu_mmio.py accepts exactly this or a
		 * working reset, and says which it saw. The queue is left alone
		 * until the device reset below. */
		out_s("VTIO quirk ring-reset-ignored rc=");
		out_i(rc);
		out_s("\n");
		return;
	}
	if (!check("ring-reset", rc == 0, "rc", rc))
		return;
	unsigned stale = 0;
	while (vtio_vq_detach_unused(dev.vq[q]))
		stale++;
	check("ring-reset-nothing-in-flight", stale == 0, "buffers", stale);
	rc = vtio_vq_reset(dev.vq[q]);
	if (!check("ring-reset-vq-reset", rc == 0, "rc", rc))
		return;
	rc = vtio_transport_queue_attach(tr(), dev.vq[q]);
	if (!check("ring-reset-reattach", rc == 0, "rc", rc))
		return;
	if (args.irq)
		(void)vtio_vq_enable_cb(dev.vq[q]);
	if (args.device_id == DEV_BLK) {
		for (unsigned h = 0; h < 2; h++)
			for (unsigned i = 0; i < sizeof(blkbuf[h]); i++)
				blkbuf[h][i] = 0xee;
		if (blk_pair(BLK_T_IN, KNOWN_FIRST) && blk_compare(SEED_HOST, KNOWN_FIRST))
			check("blk-read-after-ring-reset", true, "", 0);
	} else if (args.device_id == DEV_RNG) {
		run_rng(1);
	} else {
		con_line3();
	}
}

/* ---- main -------------------------------------------------------------------------- */

int main(void);
int main(void)
{
	fw_board_init();
	out_s("VTIO board=");
	out_s(fw_board_name);
	out_s("\n");
	if (!parse_args()) {
		check("args", false, "no argument text at fw_args", 0);
		finish();
	}
	out_s("VTIO args=");
	out_s(args.text);
	out_s("\n");
	if (!check("find-device", find_device(args.device_id), "no slot with device id",
		   args.device_id))
		finish();
	if (bring_up()) {
		if (args.device_id == DEV_BLK)
			run_blk();
		else if (args.device_id == DEV_RNG)
			run_rng(2);
		else
			run_con();
		if (args.ring_reset)
			ring_reset_round();
		report_stats();
		if (args.irq)
			check("irq-delivered", dev.irqs > 0, "no used-buffer interrupt", 0);
		int rc = vtio_transport_reset(tr());
		check("reset", rc == 0, "rc", rc);
	}
	finish();
}
