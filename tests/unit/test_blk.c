/* test_blk.c - virtio-blk end to end through machine, mmio and the reference
 * driver: ram and file backends byte for byte, FLUSH/DISCARD/WRITE_ZEROES on
 * a real image file, GET_ID, read-only disks, every malformed request the
 * device answers (status byte, used length, device status), multiqueue,
 * config space, the writeback toggle, and feature negotiation. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define RAM 0x40000000ull
#define RAM_SIZE (64ull << 20)
#define HEAP_SIZE (32ull << 20)
#define BUF (RAM + HEAP_SIZE)       /* raw chains are built here, outside the heap */
#define MMIO 0x0a000000ull
#define IRQ 7
#define SEED 42

#define S_UNSET 0xffu               /* status byte before the device answers */

/* every blk feature (the driver accepts whatever the device offers of these) */
#define ALL_BLK                                                                          \
	((1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |              \
	 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |                   \
	 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |                \
	 (1ull << VIRTIO_BLK_F_CONFIG_WCE) | (1ull << VIRTIO_BLK_F_MQ) |                 \
	 (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |          \
	 (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC))
#define F(bit) (1ull << (bit))

struct rig {
	struct vq_machine *m;
	struct vq_dev *dev;
	struct vq_drv drv;
	struct vq_mem *mem;
};

/* A blk device with opts, negotiated with features want, nq queues set up. */
static void rig_up_with(struct rig *r, const char *opts, uint64_t want, unsigned nq)
{
	char err[300];
	uint64_t w[2] = {want, 0};

	r->m = vq_machine_new(SEED);
	ck_assert_int_eq(vq_machine_add_ram(r->m, RAM, RAM_SIZE), 0);
	r->mem = vq_machine_mem(r->m);
	r->dev = vq_machine_add_mmio(r->m, "blk", NULL, opts, MMIO, IRQ, err, sizeof(err));
	ck_assert_msg(r->dev != NULL, "%s", err);
	ck_assert_int_eq(vq_drv_attach(&r->drv, r->m, MMIO, IRQ, RAM, HEAP_SIZE), 0);
	ck_assert_uint_eq(r->drv.device_id, VIRTIO_ID_BLOCK);
	ck_assert_int_eq(vq_drv_init(&r->drv, w, nq), 0);
}

static void rig_up(struct rig *r, const char *opts)
{
	rig_up_with(r, opts, ALL_BLK, 1);
}

static void rig_down(struct rig *r)
{
	vq_drv_detach(&r->drv);
	vq_machine_free(r->m);
}

static struct vq_blk_stats stats(struct rig *r)
{
	struct vq_blk_stats st;

	ck_assert_int_eq(vq_blk_get_stats(r->dev, &st), 0);
	return st;
}

static void fill_pattern(uint8_t *p, size_t n, unsigned seed)
{
	struct vq_prng g;

	vq_prng_seed(&g, seed);
	vq_prng_fill(&g, p, n);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- raw chains ---- */

static void put_hdr(struct rig *r, uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = VQ_LE32(type), .sector = VQ_LE64(sector)};

	ck_assert_int_eq(vq_mem_write(r->mem, gpa, &h, sizeof(h)), 0);
}

/* Submit a chain on queue q; returns the used length. */
static uint32_t submit(struct rig *r, unsigned q, const struct vq_buf *b, unsigned n)
{
	uint32_t used = 0xdeadbeef;

	ck_assert_int_eq(vq_drv_submit(&r->drv, q, b, n, &used), 0);
	return used;
}

static uint8_t peek8(struct rig *r, uint64_t gpa)
{
	uint8_t v = 0;

	ck_assert_int_eq(vq_mem_read8(r->mem, gpa, &v), 0);
	return v;
}

/* header at BUF, one data buffer of len at BUF+0x1000, status at BUF+0x100 */
static uint32_t simple(struct rig *r, uint32_t type, uint64_t sector, uint32_t len,
		       bool data_writable, uint8_t *status)
{
	struct vq_buf b[3];
	unsigned n = 0;
	uint32_t used;

	put_hdr(r, BUF, type, sector);
	vq_mem_write8(r->mem, BUF + 0x100, S_UNSET);
	b[n++] = (struct vq_buf){BUF, 16, false};
	if (len)
		b[n++] = (struct vq_buf){BUF + 0x1000, len, data_writable};
	b[n++] = (struct vq_buf){BUF + 0x100, 1, true};
	used = submit(r, 0, b, n);
	*status = peek8(r, BUF + 0x100);
	return used;
}

/* ---- image files ---- */

struct img {
	char path[256];
	int fd;
};

/* A temp image of size bytes filled with pattern seed (0: zeroes), synced. */
static void img_create(struct img *t, uint64_t size, unsigned seed)
{
	const char *dir = getenv("TMPDIR");
	uint8_t *buf = malloc(size ? size : 1);

	snprintf(t->path, sizeof(t->path), "%s/vqsim-blk-XXXXXX", dir && *dir ? dir : "/tmp");
	t->fd = mkstemp(t->path);
	ck_assert_int_ge(t->fd, 0);
	ck_assert_ptr_nonnull(buf);
	if (seed)
		fill_pattern(buf, size, seed);
	else
		memset(buf, 0, size);
	ck_assert_int_eq(pwrite(t->fd, buf, size, 0), (ssize_t)size);
	ck_assert_int_eq(fsync(t->fd), 0);
	free(buf);
}

/* Once the device has the image open its name is not needed: unlinking it
 * early leaves nothing behind even when an assertion ends the test. */
static void img_unlink(struct img *t)
{
	unlink(t->path);
}

static void img_remove(struct img *t)
{
	close(t->fd);
	unlink(t->path);
}

static void img_pread(struct img *t, uint64_t off, void *buf, size_t len)
{
	ck_assert_int_eq(pread(t->fd, buf, len, (off_t)off), (ssize_t)len);
}

static long long img_blocks(struct img *t)
{
	struct stat st;

	ck_assert_int_eq(fstat(t->fd, &st), 0);
	return (long long)st.st_blocks;
}

static const char *file_opts(char *buf, size_t len, const struct img *t, const char *more)
{
	snprintf(buf, len, "backend=file,path=%s%s%s", t->path, more ? "," : "", more ? more : "");
	return buf;
}

/* ---- ram backend ---- */

START_TEST(ram_round_trip_lands_in_guest_memory)
{
	struct rig r;
	uint8_t w[8192], got[8192];
	struct vq_buf b[5];
	struct vq_blk_stats st;

	rig_up(&r, "size=1M");
	fill_pattern(w, sizeof(w), 1);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 10, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 1);          /* status only */
	memset(got, 0, sizeof(got));
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 10, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), sizeof(got) + 1); /* data + status */
	ck_assert_int_eq(memcmp(w, got, sizeof(w)), 0);

	/* a read scattered over three data buffers, the last one sharing its
	 * descriptor with the status byte: the bytes land where they belong */
	put_hdr(&r, BUF, VIRTIO_BLK_T_IN, 11);
	vq_mem_fill(r.mem, BUF + 0x1000, 0xee, 0x3000);
	b[0] = (struct vq_buf){BUF, 16, false};
	b[1] = (struct vq_buf){BUF + 0x1000, 512, true};
	b[2] = (struct vq_buf){BUF + 0x2000, 1024, true};
	b[3] = (struct vq_buf){BUF + 0x3000, 512 + 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 4), 2049);
	ck_assert_uint_eq(peek8(&r, BUF + 0x3000 + 512), VIRTIO_BLK_S_OK);
	vq_mem_read(r.mem, BUF + 0x1000, got, 512);
	ck_assert_int_eq(memcmp(got, w + 512, 512), 0);
	vq_mem_read(r.mem, BUF + 0x2000, got, 1024);
	ck_assert_int_eq(memcmp(got, w + 1024, 1024), 0);
	vq_mem_read(r.mem, BUF + 0x3000, got, 512);
	ck_assert_int_eq(memcmp(got, w + 2048, 512), 0);
	ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + 512), 0xee);     /* nothing past a buffer */

	/* a header split over two descriptors, data in a third */
	put_hdr(&r, BUF + 0x400, VIRTIO_BLK_T_OUT, 0);
	memset(got, 0x5a, 512);
	vq_mem_write(r.mem, BUF + 0x1000, got, 512);
	b[0] = (struct vq_buf){BUF + 0x400, 4, false};
	b[1] = (struct vq_buf){BUF + 0x404, 12, false};
	b[2] = (struct vq_buf){BUF + 0x1000, 512, false};
	b[3] = (struct vq_buf){BUF + 0x100, 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 4), 1);
	ck_assert_uint_eq(peek8(&r, BUF + 0x100), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, 512), VIRTIO_BLK_S_OK);
	ck_assert(got[0] == 0x5a && got[511] == 0x5a);

	st = stats(&r);
	ck_assert_uint_eq(st.req_out, 2);
	ck_assert_uint_eq(st.req_in, 3);
	ck_assert_uint_eq(st.bytes_written, 8192 + 512);
	ck_assert_uint_eq(st.bytes_read, 8192 + 2048 + 512);
	ck_assert_uint_eq(st.status_ok, 5);
	ck_assert_uint_eq(st.status_ioerr + st.status_unsupp, 0);
	rig_down(&r);
}
END_TEST

START_TEST(ram_disk_starts_zeroed_and_has_its_size)
{
	struct rig r;
	uint8_t got[4096];

	rig_up(&r, "size=3M");
	ck_assert_int_eq(vq_drv_blk_capacity(&r.drv), 3 * 2048);
	ck_assert_uint_eq(vq_blk_capacity(r.dev), 3 * 2048);
	memset(got, 0xaa, sizeof(got));
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 3 * 2048 - 8, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert(all_zero(got, sizeof(got)));
	rig_down(&r);

	rig_up(&r, NULL); /* default: 64 MiB ram */
	ck_assert_int_eq(vq_drv_blk_capacity(&r.drv), 64 * 2048);
	rig_down(&r);
}
END_TEST

START_TEST(batched_requests_all_complete)
{
	struct rig r;
	enum { N = 16 };
	uint8_t data[512];

	rig_up(&r, "size=1M");
	for (unsigned i = 0; i < N; i++) {
		uint64_t h = BUF + i * 0x1000;
		struct vq_buf b[3] = {{h, 16, false}, {h + 0x200, 512, true}, {h + 0x100, 1, true}};

		put_hdr(&r, h, i % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, i);
		memset(data, (int)i + 1, sizeof(data));
		vq_mem_write(r.mem, h + 0x200, data, sizeof(data));
		b[1].writable = i % 2;
		ck_assert_int_ge(vq_drv_add(&r.drv, 0, b, 3, i), 0);
	}
	ck_assert_int_ge(vq_drv_kick(&r.drv, 0), 0);
	vq_machine_run(r.m, 1000);
	for (unsigned i = 0; i < N; i++) {
		uint64_t token;
		uint32_t len;

		ck_assert_int_eq(vq_drv_get_used(&r.drv, 0, &token, &len), 1);
		ck_assert_uint_eq(len, token % 2 ? 513 : 1);
		ck_assert_uint_eq(peek8(&r, BUF + token * 0x1000 + 0x100), VIRTIO_BLK_S_OK);
	}
	ck_assert_uint_eq(r.dev->stats.notifies, 1); /* one kick served all of them */
	ck_assert_uint_eq(stats(&r).status_ok, N);
	rig_down(&r);
}
END_TEST

/* ---- file backend ---- */

START_TEST(file_backend_matches_the_image_byte_for_byte)
{
	struct img t;
	struct rig r;
	char opts[400];
	enum { SZ = 1 << 20 };
	uint8_t *want = malloc(SZ), *got = malloc(SZ);

	img_create(&t, SZ, 7);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, NULL));
	img_unlink(&t);
	ck_assert_int_eq(vq_drv_blk_capacity(&r.drv), SZ / 512);
	/* the whole disk read through the device is the file */
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, SZ), VIRTIO_BLK_S_OK);
	img_pread(&t, 0, want, SZ);
	ck_assert_int_eq(memcmp(want, got, SZ), 0);
	/* writes at the start, middle and last sector land in the file */
	fill_pattern(want, 64 * 1024, 8);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, want, 4096), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 777, want + 4096, 60 * 1024), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, SZ / 512 - 1, want + 1000, 512), VIRTIO_BLK_S_OK);
	img_pread(&t, 0, got, 4096);
	ck_assert_int_eq(memcmp(got, want, 4096), 0);
	img_pread(&t, 777 * 512, got, 60 * 1024);
	ck_assert_int_eq(memcmp(got, want + 4096, 60 * 1024), 0);
	img_pread(&t, SZ - 512, got, 512);
	ck_assert_int_eq(memcmp(got, want + 1000, 512), 0);
	/* and a read through the device gives back the file again */
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 700, got, 128 * 1024), VIRTIO_BLK_S_OK);
	img_pread(&t, 700 * 512, want, 128 * 1024);
	ck_assert_int_eq(memcmp(got, want, 128 * 1024), 0);
	rig_down(&r);
	img_remove(&t);
	free(want);
	free(got);
}
END_TEST

START_TEST(flush_puts_acknowledged_writes_in_the_file)
{
	struct img t;
	struct rig r;
	char opts[400];
	uint8_t w[16384], got[16384];
	int fd;

	img_create(&t, 256 * 1024, 0);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, "writeback=on"));
	fd = open(t.path, O_RDONLY); /* a reader of its own, apart from the device */
	ck_assert_int_ge(fd, 0);
	img_unlink(&t);
	ck_assert_int_eq(vq_blk_writeback(r.dev), 1);
	fill_pattern(w, sizeof(w), 9);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 64, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 0);           /* writeback: not synced yet */
	ck_assert_int_eq(vq_drv_blk_flush(&r.drv), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 1);
	ck_assert_uint_eq(stats(&r).syncs, 1);
	ck_assert_uint_eq(stats(&r).req_flush, 1);
	/* plain read() on a descriptor of its own: what the file holds */
	ck_assert_int_eq(lseek(fd, 64 * 512, SEEK_SET), 64 * 512);
	ck_assert_int_eq(read(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	ck_assert_int_eq(memcmp(w, got, sizeof(w)), 0);
	rig_down(&r);
	img_remove(&t);
}
END_TEST

START_TEST(discard_punches_a_hole_in_the_file)
{
	struct img t;
	struct rig r;
	char opts[400];
	enum { SZ = 4 << 20 };
	uint8_t *buf = malloc(1 << 20), edge[512];
	long long before, after;

	img_create(&t, SZ, 11);
	before = img_blocks(&t);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, NULL));
	img_unlink(&t);
	/* 2 MiB from 1 MiB on: 4096 sectors from sector 2048 */
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 2048, 4096), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 1);
	after = img_blocks(&t);
	ck_assert_msg(after <= before - 4096, "st_blocks %lld -> %lld", before, after);
	img_pread(&t, 1 << 20, buf, 1 << 20);
	ck_assert(all_zero(buf, 1 << 20));
	img_pread(&t, 2 << 20, buf, 1 << 20);
	ck_assert(all_zero(buf, 1 << 20));
	/* the neighbours are intact */
	fill_pattern(buf, SZ / 4, 11); /* the first MiB of the pattern */
	img_pread(&t, (1 << 20) - 512, edge, 512);
	ck_assert_int_eq(memcmp(edge, buf + (1 << 20) - 512, 512), 0);
	ck_assert_uint_eq(stats(&r).bytes_discarded, 2 << 20);
	rig_down(&r);
	img_remove(&t);
	free(buf);
}
END_TEST

START_TEST(write_zeroes_with_and_without_unmap)
{
	struct img t;
	struct rig r;
	char opts[400];
	enum { SZ = 4 << 20 };
	uint8_t *buf = malloc(SZ), *got = malloc(1 << 20);
	long long before, after;

	img_create(&t, SZ, 12);
	fill_pattern(buf, SZ, 12);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, NULL));
	img_unlink(&t);
	/* without unmap: an unaligned range reads back zero, neighbours intact */
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 3, 5, false), VIRTIO_BLK_S_OK);
	img_pread(&t, 0, got, 16 * 512);
	ck_assert_int_eq(memcmp(got, buf, 3 * 512), 0);
	ck_assert(all_zero(got + 3 * 512, 5 * 512));
	ck_assert_int_eq(memcmp(got + 8 * 512, buf + 8 * 512, 8 * 512), 0);
	/* with unmap: zeroes, and the blocks go back to the file system */
	before = img_blocks(&t);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 4096, 2048, true), VIRTIO_BLK_S_OK);
	after = img_blocks(&t);
	ck_assert_msg(after <= before - 2048, "st_blocks %lld -> %lld", before, after);
	img_pread(&t, 2 << 20, got, 1 << 20);
	ck_assert(all_zero(got, 1 << 20));
	/* the device reads zeroes too */
	memset(got, 0xaa, 4096);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 4096, got, 4096), VIRTIO_BLK_S_OK);
	ck_assert(all_zero(got, 4096));
	ck_assert_uint_eq(stats(&r).bytes_zeroed, (5 + 2048) * 512);
	rig_down(&r);
	img_remove(&t);

	/* the ram backend, both ways, across page boundaries */
	rig_up(&r, "size=1M");
	fill_pattern(buf, 64 * 1024, 13);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, buf, 64 * 1024), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 1, 3, false), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 7, 100, true), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 120, 2), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, 64 * 1024), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(got, buf, 512), 0);
	ck_assert(all_zero(got + 512, 3 * 512));
	ck_assert_int_eq(memcmp(got + 4 * 512, buf + 4 * 512, 3 * 512), 0);
	ck_assert(all_zero(got + 7 * 512, 100 * 512));
	ck_assert_int_eq(memcmp(got + 107 * 512, buf + 107 * 512, 13 * 512), 0);
	ck_assert(all_zero(got + 120 * 512, 2 * 512));
	ck_assert_int_eq(memcmp(got + 122 * 512, buf + 122 * 512, 6 * 512), 0);
	rig_down(&r);
	free(buf);
	free(got);
}
END_TEST

START_TEST(a_file_that_shrinks_gives_ioerr)
{
	struct img t;
	struct rig r;
	char opts[400];
	uint8_t got[4096];

	img_create(&t, 64 * 1024, 3);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, NULL));
	img_unlink(&t);
	ck_assert_int_eq(ftruncate(t.fd, 0), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 8, got, sizeof(got)), VIRTIO_BLK_S_IOERR);
	/* every writable byte: the status is the last one (2.7.8.1) */
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), sizeof(got) + 1);
	ck_assert_uint_eq(stats(&r).backend_errors, 1);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
	img_remove(&t);
}
END_TEST

/* ---- GET_ID, read-only ---- */

START_TEST(get_id_returns_the_nul_padded_serial)
{
	struct rig r;
	uint8_t id[20], want[20] = "VQSIM-0001";
	uint8_t st;

	rig_up(&r, "serial=VQSIM-0001");
	memset(id, 0xcc, sizeof(id));
	ck_assert_int_eq(vq_drv_blk_get_id(&r.drv, id), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 21);
	ck_assert_int_eq(memcmp(id, want, 20), 0);   /* 10 characters, 10 NULs */
	/* a buffer shorter than 20 bytes is a driver error; the used length
	 * still covers the status byte, and the bytes before it were zeroed */
	vq_mem_fill(r.mem, BUF + 0x1000, 0xcc, 10);
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_GET_ID, 0, 10, true, &st), 11);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(stats(&r).bad_length, 1);
	for (unsigned i = 0; i < 10; i++)
		ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + i), 0);
	/* a 512-byte ID buffer: ID in the first 20 bytes, zeroes up to the
	 * status byte, used length 513 (was 21: the status left outside) */
	vq_mem_fill(r.mem, BUF + 0x1000, 0xcc, 512);
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_GET_ID, 0, 512, true, &st), 513);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(peek8(&r, BUF + 0x1000), 'V');
	for (unsigned i = 10; i < 512; i++)
		ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + i), 0);
	rig_down(&r);

	rig_up(&r, "serial=ABCDEFGHIJKLMNOPQRST"); /* exactly 20: no terminator */
	ck_assert_int_eq(vq_drv_blk_get_id(&r.drv, id), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(id, "ABCDEFGHIJKLMNOPQRST", 20), 0);
	rig_down(&r);

	rig_up(&r, NULL); /* no serial: the device has no ID to give */
	ck_assert_int_eq(vq_drv_blk_get_id(&r.drv, id), VIRTIO_BLK_S_UNSUPP);
	rig_down(&r);
}
END_TEST

START_TEST(readonly_offers_ro_and_refuses_writes)
{
	struct rig r;
	struct img t;
	char opts[400];
	uint8_t w[1024], got[1024], img[8192];
	struct vq_blk_stats st;

	rig_up(&r, "readonly,size=1M");
	ck_assert(r.drv.offered[0] & F(VIRTIO_BLK_F_RO));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_BLK_F_RO));
	memset(w, 0x77, sizeof(w));
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, w, sizeof(w)), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 1);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 0, 8), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 0, 8, false), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert(all_zero(got, sizeof(got)));
	st = stats(&r);
	ck_assert_uint_eq(st.readonly_refused, 3);
	ck_assert_uint_eq(st.bytes_written, 0);
	rig_down(&r);

	rig_up(&r, "size=1M");
	ck_assert(!(r.drv.offered[0] & F(VIRTIO_BLK_F_RO)));
	rig_down(&r);

	/* an image opened read-only is left as it was, even if the driver
	 * declines the RO feature (the device offered it: spec 5.2.6.2) */
	img_create(&t, sizeof(img), 21);
	rig_up_with(&r, file_opts(opts, sizeof(opts), &t, "readonly=on"),
		    ALL_BLK & ~F(VIRTIO_BLK_F_RO), 1);
	img_unlink(&t);
	ck_assert(!vq_drv_has_feature(&r.drv, VIRTIO_BLK_F_RO));
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 4, w, sizeof(w)), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 4, 2, true), VIRTIO_BLK_S_IOERR);
	fill_pattern(img, sizeof(img), 21);                 /* what the image holds */
	img_pread(&t, 4 * 512, got, sizeof(got));
	ck_assert_int_eq(memcmp(got, img + 4 * 512, sizeof(got)), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 4, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(got, img + 4 * 512, sizeof(got)), 0);
	rig_down(&r);
	img_remove(&t);
}
END_TEST

/* ---- malformed requests ---- */

START_TEST(out_of_range_sectors_get_ioerr)
{
	struct rig r;
	uint8_t st, buf[1024];

	rig_up(&r, "size=1M"); /* 2048 sectors */
	memset(buf, 0x11, sizeof(buf));
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 2047, buf, 512), VIRTIO_BLK_S_OK);   /* last one */
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 2047, buf, 1024), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(vq_drv_blk_used_len(&r.drv), 1025); /* data zeroed + status */
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 2048, buf, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 2047, buf, 1024), VIRTIO_BLK_S_IOERR);
	/* sector * 512 and sector + n wrap 2^64: still out of range */
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, UINT64_MAX, buf, 512), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, UINT64_MAX / 512 + 1, buf, 512),
			 VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_IN, 1ull << 62, 512, true, &st), 513);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	/* ranges of DISCARD / WRITE_ZEROES too */
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 2000, 49), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, UINT64_MAX, 1, false), VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 2000, 48), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).out_of_range, 8);
	ck_assert_uint_eq(stats(&r).bytes_written, 0);
	rig_down(&r);
}
END_TEST

START_TEST(short_header_gets_ioerr)
{
	struct rig r;
	struct vq_buf b[3];
	uint8_t st;

	rig_up(&r, "size=1M");
	put_hdr(&r, BUF, VIRTIO_BLK_T_IN, 0);
	vq_mem_write8(r.mem, BUF + 0x100, S_UNSET);
	b[0] = (struct vq_buf){BUF, 8, false};             /* type and reserved only */
	b[1] = (struct vq_buf){BUF + 0x100, 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 2), 1);
	ck_assert_uint_eq(peek8(&r, BUF + 0x100), VIRTIO_BLK_S_IOERR);
	/* 15 readable bytes and a data buffer: the status is the last writable byte */
	vq_mem_fill(r.mem, BUF + 0x1000, 0xab, 513);
	b[0] = (struct vq_buf){BUF, 15, false};
	b[1] = (struct vq_buf){BUF + 0x1000, 513, true};
	ck_assert_uint_eq(submit(&r, 0, b, 2), 513);
	ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + 512), VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i < 512; i++)                  /* no data: zeroes */
		ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + i), 0);
	/* no readable byte at all */
	b[0] = (struct vq_buf){BUF + 0x100, 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 1), 1);
	ck_assert_uint_eq(peek8(&r, BUF + 0x100), VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(stats(&r).short_header, 3);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	/* the device goes on serving */
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_IN, 0, 512, true, &st), 513);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	rig_down(&r);
}
END_TEST

START_TEST(missing_status_byte_is_returned_with_length_zero)
{
	struct rig r;
	struct vq_buf b[2];
	uint8_t data[512], st;

	rig_up(&r, "size=1M");
	/* an OUT with header and data but nothing device-writable */
	put_hdr(&r, BUF, VIRTIO_BLK_T_OUT, 0);
	memset(data, 0x99, sizeof(data));
	vq_mem_write(r.mem, BUF + 0x1000, data, sizeof(data));
	b[0] = (struct vq_buf){BUF, 16, false};
	b[1] = (struct vq_buf){BUF + 0x1000, 512, false};
	ck_assert_uint_eq(submit(&r, 0, b, 2), 0);
	/* a header alone */
	ck_assert_uint_eq(submit(&r, 0, b, 1), 0);
	ck_assert_uint_eq(stats(&r).no_status, 2);
	ck_assert_uint_eq(stats(&r).req_out, 0);           /* never carried out */
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, data, 512), VIRTIO_BLK_S_OK);
	ck_assert(all_zero(data, 512));
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_FLUSH, 0, 0, false, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	rig_down(&r);
}
END_TEST

START_TEST(used_len_counts_only_bytes_the_device_wrote)
{
	struct rig r;
	struct vq_buf b[128];
	uint8_t data[512];

	rig_up(&r, "size=1M");
	/* an OUT with 100 writable bytes before the status: the used length
	 * covers the status (101) and the 100 bytes are zeroed (it was 1, the
	 * status byte left outside the length) */
	put_hdr(&r, BUF, VIRTIO_BLK_T_OUT, 0);
	memset(data, 0x77, sizeof(data));
	vq_mem_write(r.mem, BUF + 0x1000, data, sizeof(data));
	vq_mem_fill(r.mem, BUF + 0x2000, 0xee, 100);
	vq_mem_write8(r.mem, BUF + 0x100, S_UNSET);
	b[0] = (struct vq_buf){BUF, 16, false};
	b[1] = (struct vq_buf){BUF + 0x1000, 512, false};
	b[2] = (struct vq_buf){BUF + 0x2000, 100, true};
	b[3] = (struct vq_buf){BUF + 0x100, 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 4), 101);
	ck_assert_uint_eq(peek8(&r, BUF + 0x100), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 100; i++)
		ck_assert_uint_eq(peek8(&r, BUF + 0x2000 + i), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, data, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(data[0], 0x77);                   /* the write happened */
	/* 128 x 32 MiB writable (aliasing the half of RAM above the driver's
	 * heap and rings) = exactly 4 GiB: the status byte would sit at
	 * 2^32 - 1, which no 32-bit used length can cover (it was pushed with
	 * length 1, the status outside it) */
	vq_mem_write8(r.mem, RAM + RAM_SIZE - 1, S_UNSET);
	for (unsigned i = 0; i < 128; i++)
		b[i] = (struct vq_buf){BUF, (uint32_t)(RAM_SIZE - HEAP_SIZE), true};
	ck_assert_uint_eq(submit(&r, 0, b, 128), 0);
	ck_assert_uint_eq(peek8(&r, RAM + RAM_SIZE - 1), S_UNSET); /* not answered */
	ck_assert_uint_eq(stats(&r).no_status, 1);
	ck_assert_uint_eq(vq_drv_status(&r.drv) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
	rig_down(&r);
}
END_TEST

START_TEST(data_not_a_multiple_of_512_gets_ioerr)
{
	struct rig r;
	uint8_t st, buf[1024];
	struct vq_buf b[4];

	rig_up(&r, "size=1M");
	vq_mem_fill(r.mem, BUF + 0x1000, 0x3c, 1024);
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_IN, 0, 1000, true, &st), 1001);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	for (unsigned i = 0; i < 1000; i++)                 /* no data: zeroes */
		ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + i), 0);
	ck_assert_uint_eq(peek8(&r, BUF + 0x1000 + 1000), 0x3c); /* not in the chain */
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_OUT, 0, 100, false, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, buf, 512), VIRTIO_BLK_S_OK);
	ck_assert(all_zero(buf, 512));                    /* nothing was stored */
	/* 2 x 300 = 600 bytes over two buffers is not a whole number of sectors */
	put_hdr(&r, BUF, VIRTIO_BLK_T_OUT, 0);
	b[0] = (struct vq_buf){BUF, 16, false};
	b[1] = (struct vq_buf){BUF + 0x1000, 300, false};
	b[2] = (struct vq_buf){BUF + 0x2000, 300, false};
	b[3] = (struct vq_buf){BUF + 0x100, 1, true};
	ck_assert_uint_eq(submit(&r, 0, b, 4), 1);
	ck_assert_uint_eq(peek8(&r, BUF + 0x100), VIRTIO_BLK_S_IOERR);
	/* a DISCARD whose data is not whole 16-byte ranges */
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_DISCARD, 0, 20, false, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(simple(&r, VIRTIO_BLK_T_WRITE_ZEROES, 0, 0, false, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_uint_eq(stats(&r).bad_length, 5);
	rig_down(&r);
}
END_TEST

START_TEST(unknown_types_get_unsupp)
{
	struct rig r;
	uint8_t st;
	const uint32_t types[] = {2, 3, 5, 9, VIRTIO_BLK_T_GET_LIFETIME,
				  VIRTIO_BLK_T_SECURE_ERASE, 16, 0x80000000u, UINT32_MAX};

	rig_up(&r, "size=1M");
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		ck_assert_uint_eq(simple(&r, types[i], 0, 512, true, &st), 513);
		ck_assert_msg(st == VIRTIO_BLK_S_UNSUPP, "type %u: status %u", types[i], st);
	}
	ck_assert_uint_eq(stats(&r).req_other, sizeof(types) / sizeof(types[0]));
	ck_assert_uint_eq(stats(&r).status_unsupp, sizeof(types) / sizeof(types[0]));
	rig_down(&r);
}
END_TEST

START_TEST(features_not_negotiated_are_refused)
{
	struct rig r;
	uint8_t buf[512];
	struct vq_blk_stats st;

	/* offered, but the driver takes none of FLUSH, DISCARD, WRITE_ZEROES */
	rig_up_with(&r, "size=1M",
		    ALL_BLK & ~(F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_CONFIG_WCE) |
				F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES)), 1);
	ck_assert(r.drv.offered[0] & F(VIRTIO_BLK_F_FLUSH));
	ck_assert(r.drv.offered[0] & F(VIRTIO_BLK_F_DISCARD));
	ck_assert(r.drv.offered[0] & F(VIRTIO_BLK_F_WRITE_ZEROES));
	ck_assert_int_eq(vq_drv_blk_flush(&r.drv), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 0, 8), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 0, 8, false), VIRTIO_BLK_S_UNSUPP);
	st = stats(&r);
	ck_assert_uint_eq(st.not_negotiated, 3);
	ck_assert_uint_eq(st.status_unsupp, 3);
	ck_assert_uint_eq(st.syncs, 0); /* the refused FLUSH reached no backend */
	/* FLUSH offered and refused: every write is stable when it completes */
	ck_assert_int_eq(vq_blk_writeback(r.dev), 0);
	memset(buf, 1, sizeof(buf));
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, buf, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 1);
	rig_down(&r);

	/* not offered at all */
	rig_up(&r, "size=1M,flush=off,discard=off,write-zeroes=off");
	ck_assert(!(r.drv.offered[0] & F(VIRTIO_BLK_F_FLUSH)));
	ck_assert(!(r.drv.offered[0] & F(VIRTIO_BLK_F_CONFIG_WCE))); /* needs FLUSH */
	ck_assert(!(r.drv.offered[0] & F(VIRTIO_BLK_F_DISCARD)));
	ck_assert(!(r.drv.offered[0] & F(VIRTIO_BLK_F_WRITE_ZEROES)));
	ck_assert_int_eq(vq_drv_blk_flush(&r.drv), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(vq_drv_blk_discard(&r.drv, 0, 8), VIRTIO_BLK_S_UNSUPP);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 0, 8, true), VIRTIO_BLK_S_UNSUPP);
	rig_down(&r);
}
END_TEST

/* A DISCARD / WRITE_ZEROES with the given ranges at BUF+0x1000. */
static uint32_t ranges(struct rig *r, uint32_t type, const struct virtio_blk_discard_write_zeroes *rg,
		       unsigned n, uint8_t *status)
{
	ck_assert_int_eq(vq_mem_write(r->mem, BUF + 0x1000, rg, n * sizeof(*rg)), 0);
	return simple(r, type, 0, n * (uint32_t)sizeof(*rg), false, status);
}

static struct virtio_blk_discard_write_zeroes rng_of(uint64_t sector, uint32_t n, uint32_t flags)
{
	return (struct virtio_blk_discard_write_zeroes){
		.sector = VQ_LE64(sector), .num_sectors = VQ_LE32(n), .flags = VQ_LE32(flags)};
}

START_TEST(discard_and_write_zeroes_ranges_are_checked_before_use)
{
	struct rig r;
	struct virtio_blk_discard_write_zeroes rg[40];
	uint8_t st, w[32768], got[32768];

	rig_up(&r, "size=1M");
	fill_pattern(w, sizeof(w), 51);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, w, sizeof(w)), VIRTIO_BLK_S_OK);
	/* unmap on a DISCARD, and unknown flags: UNSUPP */
	rg[0] = rng_of(0, 1, VIRTIO_BLK_WZ_F_UNMAP);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_DISCARD, rg, 1, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_UNSUPP);
	rg[0] = rng_of(0, 1, 2);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, rg, 1, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_UNSUPP);
	/* a good range followed by a bad one: refused whole, nothing zeroed */
	rg[0] = rng_of(0, 2, 0);
	rg[1] = rng_of(4, 1, 0x80000000u);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, rg, 2, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_UNSUPP);
	rg[1] = rng_of(2047, 2, 0);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, rg, 2, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(got, w, sizeof(w)), 0);
	/* more ranges than max_write_zeroes_seg (32) */
	for (unsigned i = 0; i < 33; i++)
		rg[i] = rng_of(i, 1, 0);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, rg, 33, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	/* a range longer than max_discard_sectors */
	rg[0] = rng_of(0, 0x400000, 0);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_DISCARD, rg, 1, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_IOERR);
	/* 32 ranges are fine, and each is carried out: every even sector of
	 * the first 64, with and without unmap; the odd ones keep their data */
	for (unsigned i = 0; i < 32; i++)
		rg[i] = rng_of(2 * i, 1, i % 2 ? VIRTIO_BLK_WZ_F_UNMAP : 0);
	ck_assert_uint_eq(ranges(&r, VIRTIO_BLK_T_WRITE_ZEROES, rg, 32, &st), 1);
	ck_assert_uint_eq(st, VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, sizeof(got)), VIRTIO_BLK_S_OK);
	for (unsigned sec = 0; sec < 64; sec++) {
		if (sec % 2 == 0)
			ck_assert_msg(all_zero(got + sec * 512, 512), "sector %u not zeroed", sec);
		else
			ck_assert_msg(memcmp(got + sec * 512, w + sec * 512, 512) == 0,
				      "sector %u changed", sec);
	}
	ck_assert_uint_eq(stats(&r).bytes_zeroed, 32 * 512);
	rig_down(&r);
}
END_TEST

/* ---- multiqueue, config, writeback ---- */

START_TEST(mq_two_queues_both_serve)
{
	struct rig r;
	uint8_t w[2048], got[2048];
	uint32_t v;

	rig_up_with(&r, "size=1M,queues=2", ALL_BLK, 2);
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_BLK_F_MQ));
	fill_pattern(w, sizeof(w), 31);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 100, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(vq_drv_blk_select_queue(&r.drv, 1), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 100, got, sizeof(got)), VIRTIO_BLK_S_OK);
	ck_assert_int_eq(memcmp(w, got, sizeof(w)), 0);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 200, w, 512), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(r.dev->queues[0].chains, 1);
	ck_assert_uint_eq(r.dev->queues[1].chains, 2);
	ck_assert_uint_eq(r.dev->queues[1].used, 2);
	rig_down(&r);

	/* without MQ there is one queue: queue 1 reads QueueNumMax 0 */
	rig_up_with(&r, "size=1M,queues=2", ALL_BLK & ~F(VIRTIO_BLK_F_MQ), 1);
	ck_assert_int_eq(vq_machine_write(r.m, MMIO + VIRTIO_MMIO_QUEUE_SEL, 4, 1), 0);
	ck_assert_int_eq(vq_machine_read(r.m, MMIO + VIRTIO_MMIO_QUEUE_NUM_MAX, 4, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_lt(vq_drv_setup_queue(&r.drv, 1, 0), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, 512), VIRTIO_BLK_S_OK);
	/* after a reset, negotiating MQ brings it back */
	{
		uint64_t w2[2] = {ALL_BLK, 0};
		ck_assert_int_eq(vq_drv_init(&r.drv, w2, 2), 0);
	}
	ck_assert_int_eq(vq_drv_blk_select_queue(&r.drv, 1), 0);
	ck_assert_int_eq(vq_drv_blk_read(&r.drv, 0, got, 512), VIRTIO_BLK_S_OK);
	rig_down(&r);
}
END_TEST

static uint64_t cfg(struct rig *r, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	ck_assert_int_eq(vq_drv_config_read(&r->drv, off, &v, len), 0);
	return VQ_LE64(v);
}

#define CFG(r, field) \
	cfg(r, offsetof(struct virtio_blk_config, field), \
	    sizeof(((struct virtio_blk_config *)0)->field))

START_TEST(config_space_through_mmio_registers)
{
	struct rig r;
	uint32_t v;
	uint64_t cap;
	uint8_t zero[8] = {0};

	rig_up_with(&r, "size=8M,seg-max=100,size-max=64K,blk-size=4096,queues=3", ALL_BLK, 3);
	ck_assert_uint_eq(r.dev->config_len, 72);
	ck_assert_uint_eq(CFG(&r, capacity), 16384);
	ck_assert_uint_eq(CFG(&r, size_max), 65536);
	ck_assert_uint_eq(CFG(&r, seg_max), 100);
	ck_assert_uint_eq(CFG(&r, blk_size), 4096);
	ck_assert_uint_eq(CFG(&r, topology.physical_block_exp), 0);
	ck_assert_uint_eq(CFG(&r, topology.alignment_offset), 0);
	ck_assert_uint_eq(CFG(&r, topology.min_io_size), 1);
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	ck_assert_uint_eq(CFG(&r, unused0), 0);
	ck_assert_uint_eq(CFG(&r, num_queues), 3);
	ck_assert_uint_eq(CFG(&r, max_discard_sectors), 0x3fffff);
	ck_assert_uint_eq(CFG(&r, max_discard_seg), 32);
	ck_assert_uint_eq(CFG(&r, discard_sector_alignment), 8);
	ck_assert_uint_eq(CFG(&r, max_write_zeroes_sectors), 0x3fffff);
	ck_assert_uint_eq(CFG(&r, max_write_zeroes_seg), 32);
	ck_assert_uint_eq(CFG(&r, write_zeroes_may_unmap), 1);
	ck_assert_uint_eq(CFG(&r, unused1), 0);
	/* the raw registers: capacity in two 32-bit halves, num_queues 16-bit */
	ck_assert_int_eq(vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG, 4, &v), 0);
	ck_assert_uint_eq(v, 16384);
	ck_assert_int_eq(vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG + 4, 4, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG + 34, 2, &v), 0);
	ck_assert_uint_eq(v, 3);
	ck_assert_int_lt(vq_machine_read(r.m, MMIO + VIRTIO_MMIO_CONFIG + 72, 4, &v), 0);
	/* the driver cannot change read-only fields */
	ck_assert_int_eq(vq_drv_config_write(&r.drv, 0, zero, 8), 0);
	cap = CFG(&r, capacity);
	ck_assert_uint_eq(cap, 16384);
	ck_assert_uint_eq(stats(&r).config_ignored, 1);
	ck_assert_int_eq(vq_drv_blk_capacity(&r.drv), 16384);
	rig_down(&r);
}
END_TEST

static void set_writeback(struct rig *r, uint8_t v)
{
	ck_assert_int_eq(vq_drv_config_write(&r->drv, offsetof(struct virtio_blk_config, writeback),
					     &v, 1), 0);
}

START_TEST(wce_toggles_writeback_and_writethrough)
{
	struct img t;
	struct rig r;
	char opts[400];
	uint8_t w[4096], got[4096];

	img_create(&t, 256 * 1024, 0);
	fill_pattern(w, sizeof(w), 41);
	rig_up(&r, file_opts(opts, sizeof(opts), &t, "writeback=on"));
	ck_assert(vq_drv_has_feature(&r.drv, VIRTIO_BLK_F_CONFIG_WCE));
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 0);
	/* writethrough: each write is synced before it completes */
	set_writeback(&r, 0);
	ck_assert_uint_eq(CFG(&r, writeback), 0);
	ck_assert_int_eq(vq_blk_writeback(r.dev), 0);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 8, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 1);
	ck_assert_int_eq(vq_drv_blk_write_zeroes(&r.drv, 16, 8, false), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 2);
	img_pread(&t, 8 * 512, got, sizeof(got));
	ck_assert_int_eq(memcmp(got, w, sizeof(w)), 0);
	/* only 0 and 1 are modes */
	set_writeback(&r, 7);
	ck_assert_uint_eq(CFG(&r, writeback), 0);
	ck_assert_uint_eq(stats(&r).config_ignored, 1);
	/* and back to writeback */
	set_writeback(&r, 1);
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 24, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 2);
	/* a reset brings back the configured mode */
	set_writeback(&r, 0);
	{
		uint64_t all[2] = {ALL_BLK, 0};
		ck_assert_int_eq(vq_drv_init(&r.drv, all, 1), 0);
	}
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	rig_down(&r);

	/* writeback=off: the device starts writethrough */
	rig_up(&r, file_opts(opts, sizeof(opts), &t, "writeback=off"));
	ck_assert_uint_eq(CFG(&r, writeback), 0);
	ck_assert_int_eq(vq_drv_blk_write(&r.drv, 0, w, sizeof(w)), VIRTIO_BLK_S_OK);
	ck_assert_uint_eq(stats(&r).syncs, 1);
	rig_down(&r);

	/* CONFIG_WCE without FLUSH: writeback must start at 0 (spec 5.2.5) */
	rig_up_with(&r, file_opts(opts, sizeof(opts), &t, "writeback=on"),
		    ALL_BLK & ~F(VIRTIO_BLK_F_FLUSH), 1);
	ck_assert_uint_eq(CFG(&r, writeback), 0);
	rig_down(&r);

	/* without CONFIG_WCE the field is read-only */
	rig_up_with(&r, file_opts(opts, sizeof(opts), &t, "writeback=on"),
		    ALL_BLK & ~F(VIRTIO_BLK_F_CONFIG_WCE), 1);
	img_unlink(&t);
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	set_writeback(&r, 0);
	ck_assert_uint_eq(CFG(&r, writeback), 1);
	ck_assert_uint_eq(stats(&r).config_ignored, 1);
	rig_down(&r);
	img_remove(&t);
}
END_TEST

/* ---- options ---- */

static void bad(struct vq_machine *m, const char *opts, const char *needle)
{
	char err[300] = "";

	ck_assert_ptr_null(vq_machine_add_mmio(m, "blk", NULL, opts, MMIO, IRQ, err, sizeof(err)));
	ck_assert_msg(strstr(err, needle) != NULL, "opts '%s': '%s' lacks '%s'", opts, err, needle);
}

START_TEST(bad_options_are_named)
{
	struct vq_machine *m = vq_machine_new(1);
	struct img t;
	char opts[400], err[300];

	bad(m, "backend=tape", "backend 'tape' unknown");
	bad(m, "size=12Q", "size '12Q'");
	bad(m, "size=1000", "size '1000' must be a non-zero multiple of 512");
	bad(m, "size=0", "size '0'");
	bad(m, "size=2T", "size '2T'");
	bad(m, "path=/tmp/x", "path applies to backend=file");
	bad(m, "backend=file", "backend=file needs path");
	bad(m, "backend=file,path=/nonexistent/vqsim.img", "/nonexistent/vqsim.img");
	bad(m, "backend=file,path=/tmp,size=1M", "size applies to backend=ram");
	bad(m, "serial=ABCDEFGHIJKLMNOPQRSTU", "serial 'ABCDEFGHIJKLMNOPQRSTU' is longer than 20");
	bad(m, "queues=0", "queues '0'");
	bad(m, "queues=65", "queues '65'");
	bad(m, "queue-size=100", "queue-size '100' must be a power of two");
	bad(m, "discard=maybe", "discard 'maybe' must be on or off");
	bad(m, "readonly=perhaps", "readonly 'perhaps'");
	bad(m, "blk-size=1000", "blk-size '1000' must be a power of two");
	bad(m, "seg-max=0", "seg-max '0'");
	bad(m, "queue-size=16,seg-max=15", "seg-max '15'");
	bad(m, "size-max=12", "size-max '12'");
	bad(m, "colour=blue", "unknown option 'colour'");
	/* an image whose size is not whole sectors is refused, naming the file */
	img_create(&t, 1000, 5);
	snprintf(opts, sizeof(opts), "backend=file,path=%s", t.path);
	bad(m, opts, "not a multiple of the 512-byte sector");
	bad(m, opts, t.path);
	img_remove(&t);
	bad(m, "backend=file,path=/dev/null", "not a regular file");
	/* and good ones */
	ck_assert_ptr_nonnull(vq_machine_add_mmio(m, "blk", NULL,
						  "size=4K,readonly=off,serial=x,queues=64,"
						  "queue-size=32768,seg-max=32766,blk-size=65536",
						  MMIO, IRQ, err, sizeof(err)));
	vq_machine_free(m);
}
END_TEST

/* Every option goes through emu/opts: a path with a comma (escaped as ",,"
 * in a string, literal when added key by key), decimal with leading zeros
 * (never octal), the same size suffixes as everywhere, every boolean
 * spelling, duplicates and out-of-range values refused by name. */
START_TEST(options_one_syntax)
{
	static const char *const yes[] = {"on", "true", "yes"}, *const no[] = {"off", "false", "no"};
	struct vq_machine *m = vq_machine_new(1);
	char path[256], esc[600], opts[700], err[300];
	const char *dir = getenv("TMPDIR");
	struct vq_opts *o;
	struct vq_dev *d;
	size_t n = 0;
	uint64_t base = MMIO;
	int fd;

	snprintf(path, sizeof(path), "%s/vqsim,blk-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 8192), 0);
	for (const char *p = path; *p; p++) {
		esc[n++] = *p;
		if (*p == ',')
			esc[n++] = ',';
	}
	esc[n] = '\0';
	snprintf(opts, sizeof(opts), "backend=file,path=%s,readonly=yes", esc);
	d = vq_machine_add_mmio(m, "blk", NULL, opts, base, IRQ, err, sizeof(err));
	ck_assert_msg(d, "%s: %s", opts, err);
	ck_assert_uint_eq(vq_blk_capacity(d), 16);
	/* key by key, as the shell passes a Lua table: no escaping */
	o = vq_opts_new(NULL);
	ck_assert_int_eq(vq_opts_add(o, "backend", "file", err, sizeof(err)), 0);
	ck_assert_int_eq(vq_opts_add(o, "path", path, err, sizeof(err)), 0);
	base += VIRTIO_MMIO_SIZE;
	d = vq_machine_add_mmio_opts(m, "blk", NULL, o, base, IRQ + 1, err, sizeof(err));
	vq_opts_free(o);
	ck_assert_msg(d, "%s", err);
	ck_assert_uint_eq(vq_blk_capacity(d), 16);
	close(fd);
	unlink(path);

	/* "1M" is a mebibyte here as for the machine's RAM; "01024" is 1024 */
	base += VIRTIO_MMIO_SIZE;
	d = vq_machine_add_mmio(m, "blk", NULL, "size=1M", base, IRQ + 2, err, sizeof(err));
	ck_assert_msg(d, "%s", err);
	ck_assert_uint_eq(vq_blk_capacity(d), 2048);
	base += VIRTIO_MMIO_SIZE;
	d = vq_machine_add_mmio(m, "blk", NULL, "size=01024,queues=010", base, IRQ + 3, err,
				sizeof(err));
	ck_assert_msg(d, "%s", err);
	ck_assert_uint_eq(vq_blk_capacity(d), 2);
	ck_assert_uint_eq(d->nqueues, 10);
	for (int i = 0; i < 3; i++) {
		base += VIRTIO_MMIO_SIZE;
		snprintf(opts, sizeof(opts), "readonly=%s,flush=%s", yes[i], no[i]);
		d = vq_machine_add_mmio(m, "blk", NULL, opts, base, IRQ + 4 + (unsigned)i, err,
					sizeof(err));
		ck_assert_msg(d, "%s: %s", opts, err);
		ck_assert(d->host_features[0] & (1ull << VIRTIO_BLK_F_RO));
		ck_assert(!(d->host_features[0] & (1ull << VIRTIO_BLK_F_FLUSH)));
	}
	vq_machine_free(m);
	m = vq_machine_new(1); /* bad() places at MMIO */
	bad(m, "size=1M,size=2M", "blk: option 'size' given twice");
	bad(m, "size=1MB", "size '1MB'");
	bad(m, "queues=0x41", "blk: queues '0x41' must be a number from 1 to 64");
	bad(m, "readonly=1", "blk: readonly '1' must be on or off");
	bad(m, "path", "blk: path needs a value");
	vq_machine_free(m);
}
END_TEST

static Suite *blk_suite(void)
{
	Suite *s = suite_create("blk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, ram_round_trip_lands_in_guest_memory);
	tcase_add_test(tc, ram_disk_starts_zeroed_and_has_its_size);
	tcase_add_test(tc, batched_requests_all_complete);
	tcase_add_test(tc, file_backend_matches_the_image_byte_for_byte);
	tcase_add_test(tc, flush_puts_acknowledged_writes_in_the_file);
	tcase_add_test(tc, discard_punches_a_hole_in_the_file);
	tcase_add_test(tc, write_zeroes_with_and_without_unmap);
	tcase_add_test(tc, a_file_that_shrinks_gives_ioerr);
	tcase_add_test(tc, get_id_returns_the_nul_padded_serial);
	tcase_add_test(tc, readonly_offers_ro_and_refuses_writes);
	tcase_add_test(tc, out_of_range_sectors_get_ioerr);
	tcase_add_test(tc, short_header_gets_ioerr);
	tcase_add_test(tc, missing_status_byte_is_returned_with_length_zero);
	tcase_add_test(tc, data_not_a_multiple_of_512_gets_ioerr);
	tcase_add_test(tc, used_len_counts_only_bytes_the_device_wrote);
	tcase_add_test(tc, unknown_types_get_unsupp);
	tcase_add_test(tc, features_not_negotiated_are_refused);
	tcase_add_test(tc, discard_and_write_zeroes_ranges_are_checked_before_use);
	tcase_add_test(tc, mq_two_queues_both_serve);
	tcase_add_test(tc, config_space_through_mmio_registers);
	tcase_add_test(tc, wce_toggles_writeback_and_writethrough);
	tcase_add_test(tc, bad_options_are_named);
	tcase_add_test(tc, options_one_syntax);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(blk_suite());
}
