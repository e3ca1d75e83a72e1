/* test_mem.c - unit tests for emu/mem: regions, translation, LE accessors,
 * fault ranges, dirty logging, hole punching and lazy residency. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define KiB (1024ull)
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* Two adjacent regions A = [0x10000, 0x20000) and B = [0x20000, 0x30000),
 * then a hole, then C = [0x100000, 0x110000). */
#define A_GPA 0x10000ull
#define B_GPA 0x20000ull
#define C_GPA 0x100000ull
#define RSIZE 0x10000ull

static struct vq_mem *mem_abc(void)
{
	struct vq_mem *m = vq_mem_new();

	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(vq_mem_add_region(m, "a", A_GPA, RSIZE), 0);
	ck_assert_int_eq(vq_mem_add_region(m, "b", B_GPA, RSIZE), 0);
	ck_assert_int_eq(vq_mem_add_region(m, "c", C_GPA, RSIZE), 0);
	return m;
}

/* ---- regions ----------------------------------------------------------- */

START_TEST(test_new_free)
{
	struct vq_mem *m = vq_mem_new();
	struct vq_mem_stats st;
	int err = 0;

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(vq_mem_region_count(m), 0);
	ck_assert_ptr_null(vq_mem_translate(m, 0, 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	ck_assert_err(vq_mem_region_info(m, 0, NULL, NULL, NULL, NULL), VQ_E_INVAL);
	vq_mem_get_stats(m, &st);
	ck_assert_uint_eq(st.translations, 1);
	ck_assert_uint_eq(st.refused, 1);
	ck_assert_uint_eq(st.fault_hits, 0);
	vq_mem_free(m);
	vq_mem_free(NULL);
}
END_TEST

START_TEST(test_add_alignment_zero_wrap)
{
	struct vq_mem *m = vq_mem_new();
	uint64_t g0 = vq_mem_generation(m);

	ck_assert_err(vq_mem_add_region(m, "x", 0x1001, 0x1000), VQ_E_INVAL);
	ck_assert_err(vq_mem_add_region(m, "x", 0x1000, 0x1001), VQ_E_INVAL);
	ck_assert_err(vq_mem_add_region(m, "x", 0x1000, 0x800), VQ_E_INVAL);
	ck_assert_err(vq_mem_add_region(m, "x", 0x1000, 0), VQ_E_INVAL);
	/* gpa + size == 2^64 and beyond wrap. */
	ck_assert_err(vq_mem_add_region(m, "x", UINT64_MAX - 0xfff, 0x1000), VQ_E_INVAL);
	ck_assert_err(vq_mem_add_region(m, "x", UINT64_MAX - 0xfff, 0x2000), VQ_E_INVAL);
	ck_assert_err(vq_mem_add_region(m, "x", 0x1000, UINT64_MAX - 0xfff), VQ_E_INVAL);
	ck_assert_uint_eq(vq_mem_region_count(m), 0);
	ck_assert_uint_eq(vq_mem_generation(m), g0);
	/* The highest page that does not wrap is fine. */
	ck_assert_int_eq(vq_mem_add_region(m, "top", UINT64_MAX - 0x1fff, 0x1000), 0);
	ck_assert_uint_eq(vq_mem_region_count(m), 1);
	ck_assert_uint_ne(vq_mem_generation(m), g0);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_add_overlap)
{
	struct vq_mem *m = vq_mem_new();
	uint64_t g;

	ck_assert_int_eq(vq_mem_add_region(m, "base", 0x10000, 0x10000), 0);
	g = vq_mem_generation(m);
	/* overlaps the start */
	ck_assert_err(vq_mem_add_region(m, "x", 0xf000, 0x2000), VQ_E_INVAL);
	/* overlaps the end */
	ck_assert_err(vq_mem_add_region(m, "x", 0x1f000, 0x2000), VQ_E_INVAL);
	/* contained */
	ck_assert_err(vq_mem_add_region(m, "x", 0x12000, 0x1000), VQ_E_INVAL);
	/* containing */
	ck_assert_err(vq_mem_add_region(m, "x", 0x0, 0x100000), VQ_E_INVAL);
	/* identical */
	ck_assert_err(vq_mem_add_region(m, "x", 0x10000, 0x10000), VQ_E_INVAL);
	ck_assert_uint_eq(vq_mem_region_count(m), 1);
	ck_assert_uint_eq(vq_mem_generation(m), g);
	/* adjacent on both sides is fine */
	ck_assert_int_eq(vq_mem_add_region(m, "below", 0xf000, 0x1000), 0);
	ck_assert_int_eq(vq_mem_add_region(m, "above", 0x20000, 0x1000), 0);
	ck_assert_uint_eq(vq_mem_region_count(m), 3);
	/* a region between two others overlapping the later one */
	ck_assert_int_eq(vq_mem_add_region(m, "far", 0x40000, 0x1000), 0);
	ck_assert_err(vq_mem_add_region(m, "x", 0x30000, 0x11000), VQ_E_INVAL);
	ck_assert_int_eq(vq_mem_add_region(m, "mid", 0x30000, 0x10000), 0);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_add_too_many)
{
	struct vq_mem *m = vq_mem_new();

	for (unsigned i = 0; i < VQ_MEM_MAX_REGIONS; i++)
		ck_assert_int_eq(vq_mem_add_region(m, "r", (uint64_t)i * 0x2000, 0x1000), 0);
	ck_assert_uint_eq(vq_mem_region_count(m), VQ_MEM_MAX_REGIONS);
	ck_assert_err(vq_mem_add_region(m, "r", 0x1000000, 0x1000), VQ_E_INVAL);
	ck_assert_uint_eq(vq_mem_region_count(m), VQ_MEM_MAX_REGIONS);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_region_info)
{
	struct vq_mem *m = vq_mem_new();
	const char *longname = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint64_t gpa, size;
	const char *name;
	struct stat sb;
	int fd;

	/* added out of order: info reports them sorted by gpa */
	ck_assert_int_eq(vq_mem_add_region(m, "high", 0x100000, 0x3000), 0);
	ck_assert_int_eq(vq_mem_add_region(m, longname, 0x0, 0x2000), 0);
	ck_assert_int_eq(vq_mem_add_region(m, NULL, 0x8000, 0x1000), 0);
	ck_assert_uint_eq(vq_mem_region_count(m), 3);

	ck_assert_int_eq(vq_mem_region_info(m, 0, &gpa, &size, &name, &fd), 0);
	ck_assert_uint_eq(gpa, 0);
	ck_assert_uint_eq(size, 0x2000);
	ck_assert_uint_eq(strlen(name), 31);
	ck_assert_int_eq(strncmp(name, longname, 31), 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0x2000);

	ck_assert_int_eq(vq_mem_region_info(m, 1, &gpa, &size, &name, NULL), 0);
	ck_assert_uint_eq(gpa, 0x8000);
	ck_assert_uint_eq(size, 0x1000);
	ck_assert_str_eq(name, "");

	ck_assert_int_eq(vq_mem_region_info(m, 2, &gpa, &size, &name, &fd), 0);
	ck_assert_uint_eq(gpa, 0x100000);
	ck_assert_uint_eq(size, 0x3000);
	ck_assert_str_eq(name, "high");
	ck_assert_int_eq(fstat(fd, &sb), 0);
	ck_assert_int_eq(sb.st_size, 0x3000);
	/* the fd is the memory: a write through it shows up in the guest */
	ck_assert_int_eq(pwrite(fd, "hi", 2, 0x10), 2);
	{
		char buf[2];
		ck_assert_int_eq(vq_mem_read(m, 0x100010, buf, 2), 0);
		ck_assert_int_eq(memcmp(buf, "hi", 2), 0);
	}

	ck_assert_err(vq_mem_region_info(m, 3, &gpa, &size, &name, &fd), VQ_E_INVAL);
	vq_mem_free(m);
}
END_TEST

/* ---- translation ------------------------------------------------------- */

START_TEST(test_translate_inside)
{
	struct vq_mem *m = mem_abc();
	const char msg[] = "virtqueue";
	uint8_t *base, *p;
	int err = 0;

	base = vq_mem_translate(m, A_GPA, RSIZE, VQ_ACC_READ, &err);
	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(vq_mem_write(m, A_GPA + 0x1234, msg, sizeof(msg)), 0);
	ck_assert_int_eq(memcmp(base + 0x1234, msg, sizeof(msg)), 0);
	p = vq_mem_translate(m, A_GPA + 0x1234, sizeof(msg), VQ_ACC_READ, &err);
	ck_assert_ptr_eq(p, base + 0x1234);

	/* other regions, then back: the last-hit cache must not mix them up */
	ck_assert_int_eq(vq_mem_write(m, B_GPA + 8, "B", 1), 0);
	ck_assert_int_eq(vq_mem_write(m, C_GPA + 8, "C", 1), 0);
	p = vq_mem_translate(m, B_GPA + 8, 1, VQ_ACC_READ, &err);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(*p, 'B');
	p = vq_mem_translate(m, C_GPA + 8, 1, VQ_ACC_READ, &err);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(*p, 'C');
	p = vq_mem_translate(m, A_GPA + 0x1234, 1, VQ_ACC_READ, &err);
	ck_assert_ptr_eq(p, base + 0x1234);
	ck_assert_int_eq(*p, 'v');

	/* host pointer writes are visible to vq_mem_read */
	{
		char buf[4] = {0};
		memcpy(base + 0xff00, "xyz", 3);
		ck_assert_int_eq(vq_mem_read(m, A_GPA + 0xff00, buf, 3), 0);
		ck_assert_str_eq(buf, "xyz");
	}
	vq_mem_free(m);
}
END_TEST

START_TEST(test_translate_edges)
{
	struct vq_mem *m = mem_abc();
	uint8_t *base;
	int err;

	base = vq_mem_translate(m, C_GPA, 1, VQ_ACC_READ, NULL);
	ck_assert_ptr_nonnull(base);
	/* ending exactly at the region end */
	ck_assert_ptr_eq(vq_mem_translate(m, C_GPA + RSIZE - 8, 8, VQ_ACC_READ, NULL),
			 base + RSIZE - 8);
	ck_assert_ptr_eq(vq_mem_translate(m, C_GPA, RSIZE, VQ_ACC_WRITE, NULL), base);
	/* one byte past */
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, C_GPA + RSIZE - 8, 9, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, C_GPA, RSIZE + 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* len 0 at the last byte is fine, at the end (one past) is not */
	ck_assert_ptr_eq(vq_mem_translate(m, C_GPA + RSIZE - 1, 0, VQ_ACC_READ, NULL),
			 base + RSIZE - 1);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, C_GPA + RSIZE, 0, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* spanning two adjacent regions, after a hit in either: served
	 * (issue 8.1), one contiguous pointer over both; into the hole after
	 * B: refused */
	ck_assert_ptr_nonnull(vq_mem_translate(m, A_GPA + RSIZE - 4, 4, VQ_ACC_READ, NULL));
	ck_assert_ptr_nonnull(vq_mem_translate(m, A_GPA + RSIZE - 4, 8, VQ_ACC_READ, NULL));
	ck_assert_ptr_nonnull(vq_mem_translate(m, B_GPA, 4, VQ_ACC_READ, NULL));
	ck_assert_ptr_nonnull(vq_mem_translate(m, B_GPA - 1, 2, VQ_ACC_READ, NULL));
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, A_GPA, 2 * RSIZE + 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	ck_assert_err(vq_mem_write(m, B_GPA + RSIZE - 2, "abcd", 4), VQ_E_MEM_UNMAPPED);
	/* in a hole, below everything, above everything */
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, 0x50000, 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, 0x0, 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, 0x7000000000ull, 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* starts in the hole, ends inside C */
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, C_GPA - 4, 8, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* wrap past 2^64 is reported as such, before containment */
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, UINT64_MAX - 1, 4, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_WRAP);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, A_GPA, UINT64_MAX, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_WRAP);
	ck_assert_err(vq_mem_read8(m, UINT64_MAX, &(uint8_t){0}), VQ_E_MEM_WRAP);
	ck_assert_err(vq_mem_read32(m, UINT64_MAX - 2, &(uint32_t){0}), VQ_E_MEM_WRAP);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_translate_stats)
{
	struct vq_mem *m = mem_abc();
	struct vq_mem_stats st;

	ck_assert_ptr_nonnull(vq_mem_translate(m, A_GPA, 1, VQ_ACC_READ, NULL));
	ck_assert_ptr_nonnull(vq_mem_translate(m, A_GPA, 1, VQ_ACC_READ, NULL));
	ck_assert_ptr_null(vq_mem_translate(m, 0, 1, VQ_ACC_READ, NULL));
	ck_assert_ptr_null(vq_mem_translate(m, UINT64_MAX, 2, VQ_ACC_READ, NULL));
	vq_mem_get_stats(m, &st);
	ck_assert_uint_eq(st.translations, 4);
	ck_assert_uint_eq(st.refused, 2);
	ck_assert_uint_eq(st.fault_hits, 0);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_read_write_fill)
{
	struct vq_mem *m = mem_abc();
	uint8_t buf[64], want[64];

	/* fresh memory reads as zeroes */
	memset(want, 0, sizeof(want));
	ck_assert_int_eq(vq_mem_read(m, B_GPA + 100, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp(buf, want, sizeof(buf)), 0);
	ck_assert_int_eq(vq_mem_fill(m, B_GPA + 100, 0xa5, 32), 0);
	memset(want, 0xa5, 32);
	ck_assert_int_eq(vq_mem_read(m, B_GPA + 100, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp(buf, want, sizeof(buf)), 0);
	ck_assert_err(vq_mem_fill(m, B_GPA + RSIZE - 4, 0, 8), VQ_E_MEM_UNMAPPED);
	ck_assert_err(vq_mem_read(m, 0x50000, buf, 4), VQ_E_MEM_UNMAPPED);
	/* a failed read leaves the destination alone */
	memset(buf, 0x11, sizeof(buf));
	ck_assert_err(vq_mem_read(m, C_GPA + RSIZE - 1, buf, 2), VQ_E_MEM_UNMAPPED);
	ck_assert_uint_eq(buf[0], 0x11);
	/* len 0 read/write inside memory succeeds and copies nothing */
	ck_assert_int_eq(vq_mem_write(m, C_GPA, "z", 0), 0);
	ck_assert_int_eq(vq_mem_read8(m, C_GPA, &buf[0]), 0);
	ck_assert_uint_eq(buf[0], 0);
	vq_mem_free(m);
}
END_TEST

/* ---- little-endian accessors -------------------------------------------- */

/* Issue 8.1: a range that crosses from one region into the next one, back
 * to back (a 64 MiB and a 64 KiB region, as a guest with two memory slots
 * has), is one contiguous host range over the same pages: bytes written
 * through it read back through each region alone; fault ranges in either
 * region refuse it; a range reaching into a hole is still refused.
 * Failed before: every such range was MEM_UNMAPPED. */
START_TEST(test_cross_adjacent_regions)
{
	struct vq_mem *m = vq_mem_new();
	const uint64_t lo = 0x40000000ull, hi = 0x44000000ull;
	uint8_t pat[256], back[256];
	uint8_t *p, *p2;
	int err = 0, id;

	ck_assert_int_eq(vq_mem_add_region(m, "lo", lo, 64 * MiB), 0);
	ck_assert_int_eq(vq_mem_add_region(m, "hi", hi, 64 * KiB), 0);
	for (unsigned i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(i * 7 + 1);
	p = vq_mem_translate(m, hi - 100, sizeof(pat), VQ_ACC_WRITE, &err);
	ck_assert_ptr_nonnull(p);
	memcpy(p, pat, sizeof(pat));
	/* the same bytes through each region's own translation */
	ck_assert_int_eq(vq_mem_read(m, hi - 100, back, 100), 0);
	ck_assert_int_eq(memcmp(back, pat, 100), 0);
	ck_assert_int_eq(vq_mem_read(m, hi, back, sizeof(pat) - 100), 0);
	ck_assert_int_eq(memcmp(back, pat + 100, sizeof(pat) - 100), 0);
	/* and a write through a region shows through the crossing view */
	ck_assert_int_eq(vq_mem_write8(m, hi + 1, 0xee), 0);
	ck_assert_uint_eq(p[101], 0xee);
	/* one view serves every crossing range: same base */
	p2 = vq_mem_translate(m, lo, 64 * MiB + 64 * KiB, VQ_ACC_READ, NULL);
	ck_assert_ptr_eq(p2 + (hi - 100 - lo), p);
	/* the whole of both, but not one byte more (a hole after hi) */
	ck_assert_ptr_null(vq_mem_translate(m, lo, 64 * MiB + 64 * KiB + 1, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* a fault range in the second region refuses a crossing access */
	id = vq_mem_fault_add(m, hi + 8, 8, VQ_ACC_WRITE);
	ck_assert_int_ge(id, 0);
	ck_assert_ptr_null(vq_mem_translate(m, hi - 16, 32, VQ_ACC_WRITE, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_FAULT);
	ck_assert_ptr_nonnull(vq_mem_translate(m, hi - 16, 32, VQ_ACC_READ, NULL));
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	/* a third region after a gap: crossing from hi into it is refused */
	ck_assert_int_eq(vq_mem_add_region(m, "far", hi + 128 * KiB, 64 * KiB), 0);
	ck_assert_ptr_null(vq_mem_translate(m, hi + 64 * KiB - 8, 16, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_UNMAPPED);
	/* filling the gap joins all three; the older view stays valid */
	ck_assert_int_eq(vq_mem_add_region(m, "gap", hi + 64 * KiB, 64 * KiB), 0);
	ck_assert_int_eq(vq_mem_fill(m, hi + 64 * KiB - 8, 0xab, 64 * KiB + 16), 0);
	ck_assert_int_eq(vq_mem_read(m, hi + 128 * KiB, back, 8), 0);
	ck_assert_uint_eq(back[7], 0xab);
	ck_assert_uint_eq(p[101], 0xee);
	vq_mem_free(m);
}
END_TEST

/* Does reading *p kill a child process? (a guard page: SIGSEGV, or the
 * sanitizer's report and a non-zero exit under ASan) */
static bool read_faults(const volatile uint8_t *p)
{
	int status = 0;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t v = *p;
		_exit(v == 0x5a ? 3 : 0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Issue 12: every host view of guest memory has a PROT_NONE page on each
 * side, so code that runs one byte off a region (or off a view of two
 * back-to-back regions) faults instead of reaching another mapping.
 * Failed before: the byte after a region's mapping could be anything. */
START_TEST(test_guard_pages)
{
	struct vq_mem *m = mem_abc();
	uint8_t *a = vq_mem_translate(m, A_GPA, RSIZE, VQ_ACC_READ, NULL);
	uint8_t *c = vq_mem_translate(m, C_GPA, RSIZE, VQ_ACC_READ, NULL);
	uint8_t *run = vq_mem_translate(m, A_GPA, 2 * RSIZE, VQ_ACC_READ, NULL);

	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(run);
	ck_assert(!read_faults(a + RSIZE - 1));
	ck_assert(read_faults(a + RSIZE));
	ck_assert(read_faults(a - 1));
	ck_assert(read_faults(c + RSIZE));
	ck_assert(!read_faults(run + 2 * RSIZE - 1));
	ck_assert(read_faults(run + 2 * RSIZE));
	ck_assert(read_faults(run - 1));
	vq_mem_free(m);
}
END_TEST

START_TEST(test_le_accessors)
{
	struct vq_mem *m = mem_abc();
	uint8_t b[8];
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	uint8_t v8;

	ck_assert_int_eq(vq_mem_write32(m, A_GPA + 0x100, 0x11223344u), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(vq_mem_read8(m, A_GPA + 0x100 + i, &b[i]), 0);
	ck_assert_uint_eq(b[0], 0x44);
	ck_assert_uint_eq(b[1], 0x33);
	ck_assert_uint_eq(b[2], 0x22);
	ck_assert_uint_eq(b[3], 0x11);

	/* unaligned 16/64-bit reads from known bytes */
	{
		const uint8_t bytes[10] = {0xee, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xff};
		ck_assert_int_eq(vq_mem_write(m, A_GPA + 0x201, bytes, sizeof(bytes)), 0);
	}
	ck_assert_int_eq(vq_mem_read16(m, A_GPA + 0x202, &v16), 0);
	ck_assert_uint_eq(v16, 0x0201);
	ck_assert_int_eq(vq_mem_read64(m, A_GPA + 0x202, &v64), 0);
	ck_assert_uint_eq(v64, 0x0807060504030201ull);
	ck_assert_int_eq(vq_mem_read32(m, A_GPA + 0x203, &v32), 0);
	ck_assert_uint_eq(v32, 0x05040302u);

	/* round trips at odd addresses */
	ck_assert_int_eq(vq_mem_write16(m, A_GPA + 0x301, 0xbeef), 0);
	ck_assert_int_eq(vq_mem_read8(m, A_GPA + 0x301, &v8), 0);
	ck_assert_uint_eq(v8, 0xef);
	ck_assert_int_eq(vq_mem_write64(m, A_GPA + 0x403, 0x0123456789abcdefull), 0);
	ck_assert_int_eq(vq_mem_read(m, A_GPA + 0x403, b, 8), 0);
	ck_assert_uint_eq(b[0], 0xef);
	ck_assert_uint_eq(b[7], 0x01);
	ck_assert_int_eq(vq_mem_read64(m, A_GPA + 0x403, &v64), 0);
	ck_assert_uint_eq(v64, 0x0123456789abcdefull);
	ck_assert_int_eq(vq_mem_write8(m, A_GPA + 0x500, 0x7f), 0);
	ck_assert_int_eq(vq_mem_read8(m, A_GPA + 0x500, &v8), 0);
	ck_assert_uint_eq(v8, 0x7f);

	/* errors leave *v untouched; a scalar straddling two back-to-back
	 * regions is served, one straddling the end of B into the hole fails */
	ck_assert_int_eq(vq_mem_write32(m, A_GPA + RSIZE - 2, 0x11223344), 0);
	ck_assert_int_eq(vq_mem_read32(m, A_GPA + RSIZE - 2, &v32), 0);
	ck_assert_uint_eq(v32, 0x11223344);
	ck_assert_int_eq(vq_mem_read16(m, B_GPA, &v16), 0);
	ck_assert_uint_eq(v16, 0x1122);
	v32 = 0xdeadbeef;
	ck_assert_err(vq_mem_read32(m, B_GPA + RSIZE - 2, &v32), VQ_E_MEM_UNMAPPED);
	ck_assert_uint_eq(v32, 0xdeadbeef);
	v64 = 42;
	ck_assert_err(vq_mem_read64(m, 0x50000, &v64), VQ_E_MEM_UNMAPPED);
	ck_assert_uint_eq(v64, 42);
	ck_assert_err(vq_mem_write16(m, C_GPA + RSIZE - 1, 1), VQ_E_MEM_UNMAPPED);
	vq_mem_free(m);
}
END_TEST

/* ---- fault ranges ------------------------------------------------------- */

START_TEST(test_fault_direction)
{
	struct vq_mem *m = mem_abc();
	const struct vq_mem_fault *f;
	struct vq_mem_stats st;
	uint64_t g0, g1;
	uint32_t v = 0;
	int id, err;

	ck_assert_int_eq(vq_mem_write32(m, A_GPA + 0x100, 7), 0);
	g0 = vq_mem_generation(m);
	/* reads of [0x100, 0x110) fail, writes do not */
	id = vq_mem_fault_add(m, A_GPA + 0x100, 0x10, VQ_ACC_READ);
	ck_assert_int_ge(id, 0);
	g1 = vq_mem_generation(m);
	ck_assert_uint_ne(g1, g0);
	ck_assert_err(vq_mem_read32(m, A_GPA + 0x100, &v), VQ_E_MEM_FAULT);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(vq_mem_write32(m, A_GPA + 0x100, 9), 0);
	err = 0;
	ck_assert_ptr_null(vq_mem_translate(m, A_GPA + 0x10c, 8, VQ_ACC_READ, &err));
	ck_assert_int_eq(err, -VQ_E_MEM_FAULT);
	/* a read-write translation is refused too */
	ck_assert_ptr_null(vq_mem_translate(m, A_GPA + 0x100, 4, VQ_ACC_RW, NULL));
	/* next to the fault is fine */
	ck_assert_int_eq(vq_mem_read32(m, A_GPA + 0xfc, &v), 0);
	ck_assert_int_eq(vq_mem_read32(m, A_GPA + 0x110, &v), 0);
	f = vq_mem_fault_get(m, id);
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->gpa, A_GPA + 0x100);
	ck_assert_uint_eq(f->len, 0x10);
	ck_assert_uint_eq(f->access, VQ_ACC_READ);
	ck_assert_uint_eq(f->hits, 3);
	vq_mem_get_stats(m, &st);
	ck_assert_uint_eq(st.fault_hits, 3);
	ck_assert_uint_eq(st.refused, 3);

	/* removing restores access, and the write went through */
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	ck_assert_uint_ne(vq_mem_generation(m), g1);
	ck_assert_ptr_null(vq_mem_fault_get(m, id));
	ck_assert_int_eq(vq_mem_read32(m, A_GPA + 0x100, &v), 0);
	ck_assert_uint_eq(v, 9);
	ck_assert_err(vq_mem_fault_remove(m, id), VQ_E_INVAL);

	/* write-only fault: writes fail, reads work */
	id = vq_mem_fault_add(m, B_GPA, 0x1000, VQ_ACC_WRITE);
	ck_assert_int_ge(id, 0);
	ck_assert_err(vq_mem_write8(m, B_GPA + 0xfff, 1), VQ_E_MEM_FAULT);
	ck_assert_err(vq_mem_fill(m, B_GPA, 1, 4), VQ_E_MEM_FAULT);
	ck_assert_int_eq(vq_mem_read32(m, B_GPA, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_uint_eq(vq_mem_fault_get(m, id)->hits, 2);
	ck_assert_int_eq(vq_mem_write8(m, B_GPA + 0x1000, 1), 0);
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	ck_assert_int_eq(vq_mem_write8(m, B_GPA + 0xfff, 1), 0);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_fault_last_byte)
{
	struct vq_mem *m = mem_abc();
	uint8_t buf[16];
	int id;

	/* the fault covers only the last byte of the access */
	id = vq_mem_fault_add(m, C_GPA + 0x20f, 1, VQ_ACC_RW);
	ck_assert_int_ge(id, 0);
	ck_assert_err(vq_mem_read(m, C_GPA + 0x200, buf, 16), VQ_E_MEM_FAULT);
	ck_assert_err(vq_mem_write(m, C_GPA + 0x200, buf, 16), VQ_E_MEM_FAULT);
	ck_assert_int_eq(vq_mem_read(m, C_GPA + 0x200, buf, 15), 0);
	ck_assert_int_eq(vq_mem_read(m, C_GPA + 0x210, buf, 16), 0);
	/* and only the first byte */
	ck_assert_err(vq_mem_read(m, C_GPA + 0x20f, buf, 16), VQ_E_MEM_FAULT);
	/* len 0 counts as one byte */
	ck_assert_ptr_null(vq_mem_translate(m, C_GPA + 0x20f, 0, VQ_ACC_READ, NULL));
	ck_assert_uint_eq(vq_mem_fault_get(m, id)->hits, 4);
	ck_assert_int_eq(vq_mem_read(m, C_GPA, buf, 0), 0);
	/* an access containing the fault entirely */
	{
		static uint8_t big[0x1000];
		ck_assert_err(vq_mem_read(m, C_GPA, big, sizeof(big)), VQ_E_MEM_FAULT);
	}
	vq_mem_free(m);
}
END_TEST

START_TEST(test_fault_table)
{
	struct vq_mem *m = vq_mem_new();
	uint64_t g;
	int id;

	/* invalid arguments */
	ck_assert_err(vq_mem_fault_add(m, 0x1000, 0, VQ_ACC_READ), VQ_E_INVAL);
	ck_assert_err(vq_mem_fault_add(m, 0x1000, 1, 0), VQ_E_INVAL);
	ck_assert_err(vq_mem_fault_add(m, 0x1000, 1, 4), VQ_E_INVAL);
	ck_assert_err(vq_mem_fault_add(m, UINT64_MAX, 2, VQ_ACC_READ), VQ_E_INVAL);
	ck_assert_ptr_null(vq_mem_fault_get(m, -1));
	ck_assert_ptr_null(vq_mem_fault_get(m, VQ_MEM_MAX_FAULTS));
	ck_assert_ptr_null(vq_mem_fault_get(m, 0));
	ck_assert_err(vq_mem_fault_remove(m, -1), VQ_E_INVAL);
	ck_assert_err(vq_mem_fault_remove(m, VQ_MEM_MAX_FAULTS), VQ_E_INVAL);
	/* the very last byte of the address space is a valid fault */
	id = vq_mem_fault_add(m, UINT64_MAX, 1, VQ_ACC_READ);
	ck_assert_int_eq(id, 0);
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);

	/* ids are slot indices; the table fills up; a freed slot is reused */
	for (int i = 0; i < VQ_MEM_MAX_FAULTS; i++)
		ck_assert_int_eq(vq_mem_fault_add(m, (uint64_t)i * 0x100, 0x10, VQ_ACC_RW), i);
	ck_assert_err(vq_mem_fault_add(m, 0x100000, 1, VQ_ACC_RW), VQ_E_NOSPC);
	ck_assert_int_eq(vq_mem_fault_remove(m, 17), 0);
	ck_assert_ptr_null(vq_mem_fault_get(m, 17));
	ck_assert_int_eq(vq_mem_fault_add(m, 0x200000, 1, VQ_ACC_WRITE), 17);
	ck_assert_uint_eq(vq_mem_fault_get(m, 17)->gpa, 0x200000);
	ck_assert_uint_eq(vq_mem_fault_get(m, 17)->hits, 0);
	ck_assert_uint_eq(vq_mem_fault_get(m, 5)->gpa, 0x500);

	g = vq_mem_generation(m);
	vq_mem_fault_clear(m);
	ck_assert_uint_ne(vq_mem_generation(m), g);
	for (int i = 0; i < VQ_MEM_MAX_FAULTS; i++)
		ck_assert_ptr_null(vq_mem_fault_get(m, i));
	ck_assert_int_eq(vq_mem_fault_add(m, 0, 1, VQ_ACC_READ), 0);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_fault_clear_restores)
{
	struct vq_mem *m = mem_abc();
	uint32_t v;

	ck_assert_int_ge(vq_mem_fault_add(m, A_GPA, RSIZE, VQ_ACC_RW), 0);
	ck_assert_int_ge(vq_mem_fault_add(m, C_GPA, 4, VQ_ACC_READ), 0);
	ck_assert_err(vq_mem_read32(m, A_GPA, &v), VQ_E_MEM_FAULT);
	ck_assert_err(vq_mem_read32(m, C_GPA, &v), VQ_E_MEM_FAULT);
	ck_assert_int_eq(vq_mem_read32(m, B_GPA, &v), 0);
	vq_mem_fault_clear(m);
	ck_assert_int_eq(vq_mem_read32(m, A_GPA, &v), 0);
	ck_assert_int_eq(vq_mem_read32(m, C_GPA, &v), 0);
	vq_mem_free(m);
}
END_TEST

/* ---- dirty log ---------------------------------------------------------- */

static void check_dirty(struct vq_mem *m, const uint64_t *want, long n)
{
	uint64_t got[64];
	long k = vq_mem_dirty_collect(m, got, 64);

	ck_assert_int_eq(k, n);
	for (long i = 0; i < n; i++)
		ck_assert_msg(got[i] == want[i], "dirty[%ld]: got 0x%llx want 0x%llx", i,
			      (unsigned long long)got[i], (unsigned long long)want[i]);
	/* collecting cleared them */
	ck_assert_int_eq(vq_mem_dirty_collect(m, got, 64), 0);
}

START_TEST(test_dirty_log)
{
	struct vq_mem *m = mem_abc();
	uint64_t out[8];
	uint8_t buf[16];

	/* off */
	ck_assert_err((int)vq_mem_dirty_collect(m, out, 8), VQ_E_STATE);
	ck_assert_int_eq(vq_mem_write(m, A_GPA, "x", 1), 0);
	vq_mem_mark_dirty(m, A_GPA, 1);    /* no-op */

	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	check_dirty(m, NULL, 0);   /* writes before start are not logged */

	/* a write straddling a page boundary marks both pages; C before A is
	 * reported in ascending order */
	ck_assert_int_eq(vq_mem_write32(m, C_GPA + 0x3000, 1), 0);
	ck_assert_int_eq(vq_mem_write(m, A_GPA + 0x1ffe, "abcd", 4), 0);
	ck_assert_int_eq(vq_mem_write8(m, A_GPA + 0x1fff, 2), 0);
	{
		const uint64_t want[] = {A_GPA + 0x1000, A_GPA + 0x2000, C_GPA + 0x3000};
		check_dirty(m, want, 3);
	}

	/* reads (and read translations) do not mark */
	ck_assert_int_eq(vq_mem_read(m, B_GPA, buf, 16), 0);
	ck_assert_ptr_nonnull(vq_mem_translate(m, B_GPA + 0x5000, 8, VQ_ACC_READ, NULL));
	check_dirty(m, NULL, 0);

	/* write translations, fill and mark_dirty do; len 0 marks one page */
	ck_assert_ptr_nonnull(vq_mem_translate(m, B_GPA + 0x5000, 0x2001, VQ_ACC_WRITE, NULL));
	ck_assert_int_eq(vq_mem_fill(m, A_GPA + 0xf000, 0, 0x1000), 0);
	vq_mem_mark_dirty(m, C_GPA + 0xfff, 0);
	vq_mem_mark_dirty(m, 0x50000, 0x1000);     /* unmapped: ignored */
	{
		const uint64_t want[] = {A_GPA + 0xf000, B_GPA + 0x5000, B_GPA + 0x6000,
					 B_GPA + 0x7000, C_GPA};
		check_dirty(m, want, 5);
	}

	/* a write across A and B marks a page in each */
	ck_assert_int_eq(vq_mem_write(m, A_GPA + RSIZE - 1, "ab", 2), 0);
	{
		const uint64_t want[] = {A_GPA + 0xf000, B_GPA};
		check_dirty(m, want, 2);
	}
	/* a refused write marks nothing */
	ck_assert_err(vq_mem_write(m, B_GPA + RSIZE - 1, "ab", 2), VQ_E_MEM_UNMAPPED);
	ck_assert_int_ge(vq_mem_fault_add(m, B_GPA, 0x1000, VQ_ACC_WRITE), 0);
	ck_assert_err(vq_mem_write8(m, B_GPA, 1), VQ_E_MEM_FAULT);
	check_dirty(m, NULL, 0);
	vq_mem_fault_clear(m);

	/* max limits the batch; the rest stays for the next collect */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(vq_mem_write8(m, B_GPA + (uint64_t)i * 0x1000, 1), 0);
	ck_assert_int_eq(vq_mem_dirty_collect(m, out, 2), 2);
	ck_assert_uint_eq(out[0], B_GPA);
	ck_assert_uint_eq(out[1], B_GPA + 0x1000);
	{
		const uint64_t want[] = {B_GPA + 0x2000, B_GPA + 0x3000, B_GPA + 0x4000};
		check_dirty(m, want, 3);
	}

	/* restart clears the log; stop turns it off */
	ck_assert_int_eq(vq_mem_write8(m, A_GPA, 1), 0);
	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	check_dirty(m, NULL, 0);
	vq_mem_dirty_stop(m);
	ck_assert_err((int)vq_mem_dirty_collect(m, out, 8), VQ_E_STATE);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_dirty_region_added_later)
{
	struct vq_mem *m = mem_abc();

	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	ck_assert_int_eq(vq_mem_add_region(m, "late", 0x40000, 0x4000), 0);
	ck_assert_int_eq(vq_mem_write8(m, 0x43000, 1), 0);
	ck_assert_int_eq(vq_mem_write8(m, A_GPA, 1), 0);
	/* mark_dirty across two adjacent regions marks both sides */
	vq_mem_mark_dirty(m, B_GPA - 1, 2);
	{
		const uint64_t want[] = {A_GPA, A_GPA + 0xf000, B_GPA, 0x43000};
		check_dirty(m, want, 4);
	}
	vq_mem_free(m);
}
END_TEST

/* ---- punch -------------------------------------------------------------- */

START_TEST(test_punch)
{
	struct vq_mem *m = mem_abc();
	uint8_t buf[0x3000], zero[0x3000], b8 = 0;

	memset(buf, 0x5a, sizeof(buf));
	memset(zero, 0, sizeof(zero));
	ck_assert_int_eq(vq_mem_write(m, B_GPA + 0x1000, buf, sizeof(buf)), 0);
	ck_assert_int_eq(vq_mem_punch(m, B_GPA + 0x2000, 0x1000), 0);
	ck_assert_int_eq(vq_mem_read(m, B_GPA + 0x1000, buf, sizeof(buf)), 0);
	for (int i = 0; i < 0x1000; i++)
		ck_assert_uint_eq(buf[i], 0x5a);
	ck_assert_int_eq(memcmp(buf + 0x1000, zero, 0x1000), 0);
	for (int i = 0x2000; i < 0x3000; i++)
		ck_assert_uint_eq(buf[i], 0x5a);
	/* the memory stays usable after a punch */
	ck_assert_int_eq(vq_mem_write32(m, B_GPA + 0x2000, 0xabcd), 0);
	{
		uint32_t v;
		ck_assert_int_eq(vq_mem_read32(m, B_GPA + 0x2000, &v), 0);
		ck_assert_uint_eq(v, 0xabcd);
	}
	/* whole region */
	ck_assert_int_eq(vq_mem_punch(m, B_GPA, RSIZE), 0);
	ck_assert_int_eq(vq_mem_read(m, B_GPA + 0x1000, buf, sizeof(buf)), 0);
	ck_assert_int_eq(memcmp(buf, zero, sizeof(buf)), 0);

	/* alignment */
	ck_assert_err(vq_mem_punch(m, B_GPA + 1, 0x1000), VQ_E_INVAL);
	ck_assert_err(vq_mem_punch(m, B_GPA, 0x800), VQ_E_INVAL);
	ck_assert_err(vq_mem_punch(m, B_GPA, 0), VQ_E_INVAL);
	/* outside: hole, past the end, from B into the hole (nothing of it
	 * punched), wrapping */
	ck_assert_err(vq_mem_punch(m, 0x50000, 0x1000), VQ_E_MEM_UNMAPPED);
	ck_assert_err(vq_mem_punch(m, C_GPA + RSIZE - 0x1000, 0x2000), VQ_E_MEM_UNMAPPED);
	ck_assert_int_eq(vq_mem_write8(m, B_GPA + RSIZE - 0x1000, 0x5a), 0);
	ck_assert_err(vq_mem_punch(m, B_GPA + RSIZE - 0x1000, 0x2000), VQ_E_MEM_UNMAPPED);
	ck_assert_int_eq(vq_mem_read8(m, B_GPA + RSIZE - 0x1000, &b8), 0);
	ck_assert_uint_eq(b8, 0x5a);
	/* across back-to-back regions A and B: both pages punched */
	ck_assert_int_eq(vq_mem_write8(m, A_GPA + RSIZE - 1, 0x77), 0);
	ck_assert_int_eq(vq_mem_write8(m, B_GPA, 0x77), 0);
	ck_assert_int_eq(vq_mem_punch(m, A_GPA + RSIZE - 0x1000, 0x2000), 0);
	ck_assert_int_eq(vq_mem_read8(m, A_GPA + RSIZE - 1, &b8), 0);
	ck_assert_uint_eq(b8, 0);
	ck_assert_int_eq(vq_mem_read8(m, B_GPA, &b8), 0);
	ck_assert_uint_eq(b8, 0);
	ck_assert_err(vq_mem_punch(m, UINT64_MAX - 0xfff, 0x2000), VQ_E_MEM_UNMAPPED);
	vq_mem_free(m);
}
END_TEST

START_TEST(test_punch_marks_dirty)
{
	struct vq_mem *m = mem_abc();
	const uint64_t want[] = {C_GPA + 0x1000, C_GPA + 0x2000};
	uint64_t out[4];

	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	ck_assert_int_eq(vq_mem_punch(m, C_GPA + 0x1000, 0x2000), 0);
	ck_assert_int_eq(vq_mem_dirty_collect(m, out, 4), 2);
	ck_assert_uint_eq(out[0], want[0]);
	ck_assert_uint_eq(out[1], want[1]);
	vq_mem_free(m);
}
END_TEST

/* ---- generation --------------------------------------------------------- */

START_TEST(test_generation)
{
	struct vq_mem *m = vq_mem_new();
	uint64_t g[6];
	int id;

	g[0] = vq_mem_generation(m);
	ck_assert_int_eq(vq_mem_add_region(m, "r", 0, 0x1000), 0);
	g[1] = vq_mem_generation(m);
	id = vq_mem_fault_add(m, 0, 1, VQ_ACC_READ);
	g[2] = vq_mem_generation(m);
	ck_assert_int_eq(vq_mem_fault_remove(m, id), 0);
	g[3] = vq_mem_generation(m);
	ck_assert_int_ge(vq_mem_fault_add(m, 0, 1, VQ_ACC_READ), 0);
	vq_mem_fault_clear(m);
	g[4] = vq_mem_generation(m);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_ne(g[i], g[i + 1]);
	/* plain accesses, refused adds, punches and dirty logging do not move it */
	ck_assert_int_eq(vq_mem_write8(m, 0, 1), 0);
	ck_assert_err(vq_mem_add_region(m, "r", 0, 0x1000), VQ_E_INVAL);
	ck_assert_int_eq(vq_mem_punch(m, 0, 0x1000), 0);
	ck_assert_int_eq(vq_mem_dirty_start(m), 0);
	vq_mem_dirty_stop(m);
	g[5] = vq_mem_generation(m);
	ck_assert_uint_eq(g[5], g[4]);
	vq_mem_free(m);
}
END_TEST

/* ---- residency ---------------------------------------------------------- */

/* A "Name:   123 kB" line of /proc/self/status, in bytes; -1 if missing. */
static long long status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = atoll(line + n + 1) * 1024;
			break;
		}
	}
	fclose(f);
	return v;
}

START_TEST(test_rss_lazy_and_punch)
{
	struct vq_mem *m = vq_mem_new();
	const uint64_t gpa = 0x100000000ull, size = 16 * GiB;
	static uint8_t chunk[64 * 1024];
	long long rss0, rss1, rss2, shm0, shm1, shm2;

	memset(chunk, 0xc3, sizeof(chunk));
	rss0 = status_kb("VmRSS");
	shm0 = status_kb("RssShmem");
	ck_assert_int_gt(rss0, 0);
	ck_assert_int_eq(vq_mem_add_region(m, "big", gpa, size), 0);
	/* touch 1 MiB spread over the region: the first, a middle and the
	 * last part */
	for (uint64_t off = 0; off < 1 * MiB; off += sizeof(chunk)) {
		uint64_t where = off < 512 * KiB ? off : size / 2 + off;
		ck_assert_int_eq(vq_mem_write(m, gpa + where, chunk, sizeof(chunk)), 0);
	}
	ck_assert_int_eq(vq_mem_write64(m, gpa + size - 8, 1), 0);
	rss1 = status_kb("VmRSS");
	shm1 = status_kb("RssShmem");
	ck_assert_msg(rss1 - rss0 < (long long)(10 * MiB), "RSS grew by %lld bytes", rss1 - rss0);
	if (shm0 >= 0) {
		/* the written pages are resident shmem (memfd) pages */
		ck_assert_msg(shm1 - shm0 >= (long long)(1 * MiB),
			      "RssShmem grew by only %lld bytes", shm1 - shm0);
		ck_assert_msg(shm1 - shm0 < (long long)(10 * MiB), "RssShmem grew by %lld",
			      shm1 - shm0);
	}

	ck_assert_int_eq(vq_mem_punch(m, gpa, 512 * KiB), 0);
	ck_assert_int_eq(vq_mem_punch(m, gpa + size / 2 + 512 * KiB, 512 * KiB), 0);
	rss2 = status_kb("VmRSS");
	shm2 = status_kb("RssShmem");
	if (shm0 >= 0)
		ck_assert_msg(shm1 - shm2 >= (long long)(512 * KiB),
			      "RssShmem dropped by only %lld bytes", shm1 - shm2);
	else
		ck_assert_msg(rss1 - rss2 >= (long long)(512 * KiB),
			      "VmRSS dropped by only %lld bytes", rss1 - rss2);
	/* and the punched range reads back as zeroes */
	{
		uint64_t v = 1;
		ck_assert_int_eq(vq_mem_read64(m, gpa + 4096, &v), 0);
		ck_assert_uint_eq(v, 0);
	}
	vq_mem_free(m);
}
END_TEST

static Suite *mem_suite(void)
{
	Suite *s = suite_create("mem");
	TCase *tc;

	tc = tcase_create("regions");
	tcase_add_test(tc, test_new_free);
	tcase_add_test(tc, test_add_alignment_zero_wrap);
	tcase_add_test(tc, test_add_overlap);
	tcase_add_test(tc, test_add_too_many);
	tcase_add_test(tc, test_region_info);
	tcase_add_test(tc, test_generation);
	suite_add_tcase(s, tc);

	tc = tcase_create("translate");
	tcase_add_test(tc, test_translate_inside);
	tcase_add_test(tc, test_translate_edges);
	tcase_add_test(tc, test_cross_adjacent_regions);
	tcase_add_test(tc, test_guard_pages);
	tcase_add_test(tc, test_translate_stats);
	tcase_add_test(tc, test_read_write_fill);
	tcase_add_test(tc, test_le_accessors);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, test_fault_direction);
	tcase_add_test(tc, test_fault_last_byte);
	tcase_add_test(tc, test_fault_table);
	tcase_add_test(tc, test_fault_clear_restores);
	suite_add_tcase(s, tc);

	tc = tcase_create("dirty");
	tcase_add_test(tc, test_dirty_log);
	tcase_add_test(tc, test_dirty_region_added_later);
	tcase_add_test(tc, test_punch_marks_dirty);
	suite_add_tcase(s, tc);

	tc = tcase_create("punch");
	tcase_add_test(tc, test_punch);
	tcase_add_test(tc, test_rss_lazy_and_punch);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return vq_test_run(mem_suite());
}
