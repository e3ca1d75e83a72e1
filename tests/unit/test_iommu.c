/* test_iommu.c - VIRTIO_F_ACCESS_PLATFORM: the I/O page table (map, unmap,
 * cut, translate, merge), the ring behind it (buffers straddling mappings
 * become segments; unmapped, partly mapped and read-only IOVAs break the
 * ring with RING_IOMMU naming the IOVA; ring areas translated too) and a
 * device on a machine surviving each fault and recovering by reset. */
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define PG 0x1000ull

/* ---- the table ------------------------------------------------------- */

START_TEST(map_rules)
{
	struct vq_iommu *io = vq_iommu_new();
	struct vq_iommu_map mp;

	ck_assert_ptr_nonnull(io);
	ck_assert_err(vq_iommu_map(io, 0x1001, 0x2000, PG, true), VQ_E_INVAL);  /* iova */
	ck_assert_err(vq_iommu_map(io, 0x1000, 0x2001, PG, true), VQ_E_INVAL);  /* gpa */
	ck_assert_err(vq_iommu_map(io, 0x1000, 0x2000, 0x800, true), VQ_E_INVAL); /* len */
	ck_assert_err(vq_iommu_map(io, 0x1000, 0x2000, 0, true), VQ_E_INVAL);
	ck_assert_err(vq_iommu_map(io, UINT64_MAX - PG + 1, 0, PG, true), VQ_E_INVAL); /* 2^64 */
	ck_assert_int_eq(vq_iommu_map(io, 0x10000, 0x50000, 2 * PG, false), 0);
	ck_assert_int_eq(vq_iommu_map(io, 0x1000, 0x2000, PG, true), 0);
	/* overlaps refused, whichever side */
	ck_assert_err(vq_iommu_map(io, 0x11000, 0x0, PG, true), VQ_E_INVAL);
	ck_assert_err(vq_iommu_map(io, 0xf000, 0x0, 2 * PG, true), VQ_E_INVAL);
	ck_assert_uint_eq(vq_iommu_count(io), 2);
	/* listed in IOVA order */
	ck_assert_int_eq(vq_iommu_get(io, 0, &mp), 0);
	ck_assert_uint_eq(mp.iova, 0x1000);
	ck_assert_uint_eq(mp.gpa, 0x2000);
	ck_assert(mp.write);
	ck_assert_int_eq(vq_iommu_get(io, 1, &mp), 0);
	ck_assert_uint_eq(mp.iova, 0x10000);
	ck_assert_uint_eq(mp.len, 2 * PG);
	ck_assert(!mp.write);
	ck_assert_err(vq_iommu_get(io, 2, &mp), VQ_E_INVAL);
	vq_iommu_free(io);
}
END_TEST

START_TEST(unmap_cuts)
{
	struct vq_iommu *io = vq_iommu_new();
	struct vq_iommu_map mp;
	uint64_t gpa, run;

	ck_assert_int_eq(vq_iommu_map(io, 0x10000, 0x80000, 8 * PG, true), 0);
	/* a hole in the middle: two mappings, the second's gpa moved */
	ck_assert_int_eq(vq_iommu_unmap(io, 0x12000, 2 * PG), 2 * PG);
	ck_assert_uint_eq(vq_iommu_count(io), 2);
	ck_assert_int_eq(vq_iommu_get(io, 1, &mp), 0);
	ck_assert_uint_eq(mp.iova, 0x14000);
	ck_assert_uint_eq(mp.gpa, 0x84000);
	ck_assert_uint_eq(mp.len, 4 * PG);
	/* head and tail cuts across both, nothing mapped counts nothing */
	ck_assert_int_eq(vq_iommu_unmap(io, 0x11000, 4 * PG), 2 * PG);
	ck_assert_int_eq(vq_iommu_get(io, 0, &mp), 0);
	ck_assert_uint_eq(mp.len, PG);
	ck_assert_int_eq(vq_iommu_get(io, 1, &mp), 0);
	ck_assert_uint_eq(mp.iova, 0x15000);
	ck_assert_uint_eq(mp.gpa, 0x85000);
	ck_assert_int_eq(vq_iommu_unmap(io, 0x40000, PG), 0);
	ck_assert_err(vq_iommu_unmap(io, 0x40800, PG), VQ_E_INVAL);
	ck_assert_err(vq_iommu_translate(io, 0x12000, 1, VQ_ACC_READ, &gpa, &run),
		      VQ_E_RING_IOMMU);
	ck_assert_int_eq(vq_iommu_translate(io, 0x15010, 0x10, VQ_ACC_READ, &gpa, &run), 0);
	ck_assert_uint_eq(gpa, 0x85010);
	ck_assert_uint_eq(run, 0x10);
	/* whole mappings removed */
	ck_assert_int_eq(vq_iommu_unmap(io, 0, 0x100000), 4 * PG);
	ck_assert_uint_eq(vq_iommu_count(io), 0);
	vq_iommu_free(io);
}
END_TEST

START_TEST(translate_runs)
{
	struct vq_iommu *io = vq_iommu_new();
	struct vq_iommu_stats st;
	uint64_t gpa, run, bad;

	/* three pages: two contiguous in both spaces (merged), then a jump */
	ck_assert_int_eq(vq_iommu_map(io, 0x10000, 0x80000, PG, true), 0);
	ck_assert_int_eq(vq_iommu_map(io, 0x11000, 0x81000, PG, true), 0);
	ck_assert_int_eq(vq_iommu_map(io, 0x12000, 0x90000, PG, false), 0);
	ck_assert_int_eq(vq_iommu_translate(io, 0x10800, 0x2000, VQ_ACC_READ, &gpa, &run), 0);
	ck_assert_uint_eq(gpa, 0x80800);
	ck_assert_uint_eq(run, 0x1800);   /* up to the jump */
	ck_assert_int_eq(vq_iommu_translate(io, 0x12000, 0x800, VQ_ACC_READ, &gpa, &run), 0);
	ck_assert_uint_eq(gpa, 0x90000);
	/* a write through the read-only page */
	ck_assert_err(vq_iommu_translate(io, 0x12000, 4, VQ_ACC_WRITE, &gpa, &run),
		      VQ_E_RING_IOMMU);
	/* whole-range: contiguous ok, not contiguous names the first bad iova */
	ck_assert_int_eq(vq_iommu_translate_all(io, 0x10000, 2 * PG, VQ_ACC_WRITE, &gpa, &bad), 0);
	ck_assert_uint_eq(gpa, 0x80000);
	ck_assert_err(vq_iommu_translate_all(io, 0x11000, 2 * PG, VQ_ACC_READ, &gpa, &bad),
		      VQ_E_RING_IOMMU);
	ck_assert_uint_eq(bad, 0x12000);
	ck_assert_err(vq_iommu_translate_all(io, 0x12000, 2 * PG, VQ_ACC_READ, &gpa, &bad),
		      VQ_E_RING_IOMMU);
	ck_assert_uint_eq(bad, 0x13000);   /* partly mapped */
	ck_assert_err(vq_iommu_translate(io, UINT64_MAX, 2, VQ_ACC_READ, &gpa, &run), VQ_E_INVAL);
	vq_iommu_get_stats(io, &st);
	ck_assert_uint_eq(st.translations, 6);
	ck_assert_uint_eq(st.faults, 3);
	vq_iommu_free(io);
}
END_TEST

/* ---- the ring behind the IOMMU ---------------------------------------- */

#define MEM_GPA  0x10000ull
#define MEM_SIZE 0x100000ull
#define RING_GPA 0x10000ull
#define NUM 8
/* IOVAs: the rings at 0x1000000 (offset mapping), buffers at 0x2000000 */
#define RING_IOVA 0x1000000ull
#define BUF_IOVA  0x2000000ull

static struct vq_mem *m;
static struct vq_iommu *io;
static struct vq_ring r;
static struct vq_ring_drv drv;
static struct vq_chain c;
static struct vq_ring_addr ra, ia;   /* guest-physical and IOVA placements */

static void ring_setup(void)
{
	uint64_t bytes;

	m = vq_mem_new();
	io = vq_iommu_new();
	ck_assert_int_eq(vq_mem_add_region(m, "ram", MEM_GPA, MEM_SIZE), 0);
	ck_assert_int_eq(vq_ring_size(VQ_RING_SPLIT, NUM, RING_GPA, &ra, &bytes), 0);
	ck_assert_int_eq(vq_ring_drv_init(&drv, m, VQ_RING_SPLIT, NUM, &ra, VQ_RING_F_INDIRECT), 0);
	/* the ring pages at RING_IOVA */
	ck_assert_int_eq(vq_iommu_map(io, RING_IOVA, RING_GPA, 2 * PG, true), 0);
	ia.desc = ra.desc - RING_GPA + RING_IOVA;
	ia.driver = ra.driver - RING_GPA + RING_IOVA;
	ia.device = ra.device - RING_GPA + RING_IOVA;
	vq_chain_init(&c);
	ck_assert_int_eq(vq_ring_init_iommu(&r, m, io, VQ_RING_SPLIT, NUM, &ia,
					    VQ_RING_F_INDIRECT), 0);
	ck_assert_uint_eq(r.phys.desc, ra.desc);
	ck_assert_uint_eq(r.phys.device, ra.device);
}

static void ring_teardown(void)
{
	vq_chain_release(&c);
	vq_ring_drv_free(&drv);
	vq_iommu_free(io);
	vq_mem_free(m);
}

/* One chain of one buffer at iova through the driver side (which writes
 * the address as given: the driver knows the IOVAs). */
static void post(uint64_t iova, uint32_t len, bool writable)
{
	struct vq_buf b = {iova, len, writable};

	ck_assert_int_ge(vq_ring_drv_add(&drv, &b, 1, 7), 0);
	vq_ring_drv_publish(&drv);
}

START_TEST(ring_straddle_two_segments)
{
	uint8_t out[0x1000];
	uint32_t len = 0;
	uint64_t tok = 0;

	/* two IOVA pages back to back, 64 KiB apart in guest memory */
	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA, 0x80000, PG, true), 0);
	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA + PG, 0x90000, PG, true), 0);
	ck_assert_int_eq(vq_mem_fill(m, 0x80800, 0xaa, 0x800), 0);
	ck_assert_int_eq(vq_mem_fill(m, 0x90000, 0xbb, 0x800), 0);
	post(BUF_IOVA + 0x800, 0x1000, false);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, 2);
	ck_assert_uint_eq(c.seg[0].gpa, 0x80800);
	ck_assert_uint_eq(c.seg[0].len, 0x800);
	ck_assert_uint_eq(c.seg[1].gpa, 0x90000);
	ck_assert_uint_eq(c.seg[1].len, 0x800);
	ck_assert_uint_eq(c.read_bytes, 0x1000);
	ck_assert_uint_eq(vq_chain_read(&c, 0, out, sizeof(out)), 0x1000);
	ck_assert_uint_eq(out[0x7ff], 0xaa);
	ck_assert_uint_eq(out[0x800], 0xbb);
	/* a writable one the same way; the bytes land in both pieces */
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	post(BUF_IOVA + 0xff0, 0x20, true);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, 2);
	memset(out, 0x5c, 0x20);
	ck_assert_uint_eq(vq_chain_write(&c, 0, out, 0x20), 0x20);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0x20), 0);
	ck_assert_int_ge(vq_ring_publish(&r), 0);
	uint8_t v = 0;
	ck_assert_int_eq(vq_mem_read8(m, 0x80ff0, &v), 0);
	ck_assert_uint_eq(v, 0x5c);
	ck_assert_int_eq(vq_mem_read8(m, 0x9000f, &v), 0);
	ck_assert_uint_eq(v, 0x5c);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_int_eq(vq_ring_drv_get_used(&drv, &tok, &len), 1);
	ck_assert_uint_eq(len, 0x20);
	/* batch pops go through the same walker */
	post(BUF_IOVA + 0x800, 0x1000, false);
	post(BUF_IOVA + 0x10, 0x10, false);
	struct vq_chain cs[2];
	vq_chain_init(&cs[0]);
	vq_chain_init(&cs[1]);
	ck_assert_int_eq(vq_ring_pop_batch(&r, cs, 2), 2);
	ck_assert_uint_eq(cs[0].nseg, 2);
	ck_assert_uint_eq(cs[1].nseg, 1);
	ck_assert_uint_eq(cs[1].seg[0].gpa, 0x80010);
	vq_chain_release(&cs[0]);
	vq_chain_release(&cs[1]);
}
END_TEST

/* pop fails with code, the detail naming want */
static void pop_fails(int code, const char *want)
{
	ck_assert_err(vq_ring_pop(&r, &c), code);
	ck_assert_msg(strstr(r.error_detail, want) != NULL, "detail '%s' lacks '%s'",
		      r.error_detail, want);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_BROKEN);
}

START_TEST(ring_unmapped_buffer)
{
	post(BUF_IOVA + 0x40, 0x10, false);
	pop_fails(VQ_E_RING_IOMMU, "iova 0x2000040 not mapped");
}
END_TEST

START_TEST(ring_partly_mapped_buffer)
{
	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA, 0x80000, PG, true), 0);
	post(BUF_IOVA + 0xff0, 0x20, true);
	pop_fails(VQ_E_RING_IOMMU, "iova 0x2001000 not mapped");
}
END_TEST

START_TEST(ring_write_through_readonly)
{
	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA, 0x80000, PG, false), 0);
	post(BUF_IOVA, 0x10, false);          /* reading is fine */
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	post(BUF_IOVA, 0x10, true);
	pop_fails(VQ_E_RING_IOMMU, "writable buffer iova 0x2000000+16: iova 0x2000000 mapped read-only");
}
END_TEST

START_TEST(ring_indirect_table_translated)
{
	/* the table at IOVA BUF_IOVA (gpa 0x60000), its buffer at BUF_IOVA+PG */
	struct vq_buf b[2] = {{BUF_IOVA + PG, 0x10, false}, {BUF_IOVA + PG + 0x10, 0x10, true}};

	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA, 0x60000, PG, false), 0);
	ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA + PG, 0x80000, PG, true), 0);
	/* the driver writes the table through guest-physical memory */
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, 2, 0x60000, 1), 0);
	/* ... and puts the IOVA in the descriptor */
	ck_assert_int_eq(vq_mem_write64(m, ra.desc, BUF_IOVA), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, 2);
	ck_assert_uint_eq(c.seg[0].gpa, 0x80000);
	ck_assert_uint_eq(c.seg[1].gpa, 0x80010);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	/* the table's IOVA unmapped: INDIRECT through the IOMMU fails */
	ck_assert_int_ge(vq_ring_drv_add_indirect(&drv, b, 2, 0x60000, 2), 0);
	ck_assert_int_eq(vq_iommu_unmap(io, BUF_IOVA, PG), PG);
	vq_ring_drv_publish(&drv);
	for (unsigned i = 0; i < NUM; i++)   /* whichever descriptor it took */
		ck_assert_int_eq(vq_mem_write64(m, ra.desc + 16 * i, BUF_IOVA), 0);
	pop_fails(VQ_E_RING_IOMMU, "indirect table iova 0x2000000+32: iova 0x2000000 not mapped");
}
END_TEST

/* Every page of a buffer in a mapping of its own, not contiguous with the
 * next: one segment a page. The segments of a chain are bounded (queue size
 * + VQ_IOMMU_MAX_MAPPINGS): a chain past that is a ring error, not an
 * allocation without end. */
START_TEST(ring_segments_bounded)
{
	struct vq_buf b[2];
	unsigned n = VQ_IOMMU_MAX_MAPPINGS - 1;   /* the ring holds one mapping */

	for (unsigned i = 0; i < n; i++)
		ck_assert_int_eq(vq_iommu_map(io, BUF_IOVA + i * PG, 0x80000 + (i % 2) * 2 * PG, PG,
					      false), 0);
	ck_assert_err(vq_iommu_map(io, BUF_IOVA + n * PG, 0x80000, PG, false), VQ_E_NOSPC);
	/* one buffer over all of them: n segments, served */
	b[0] = (struct vq_buf){BUF_IOVA, (uint32_t)(n * PG), false};
	ck_assert_int_ge(vq_ring_drv_add(&drv, b, 1, 1), 0);
	vq_ring_drv_publish(&drv);
	ck_assert_int_eq(vq_ring_pop(&r, &c), 1);
	ck_assert_uint_eq(c.nseg, n);
	ck_assert_uint_eq(c.seg[1].gpa, 0x82000);
	ck_assert_int_eq(vq_ring_push(&r, &c, 0), 0);
	/* two of them in one chain: past the bound */
	b[1] = b[0];
	ck_assert_int_ge(vq_ring_drv_add(&drv, b, 2, 2), 0);
	vq_ring_drv_publish(&drv);
	pop_fails(VQ_E_RING_IOMMU, "more than 1032 segments");
}
END_TEST

START_TEST(ring_areas_translated)
{
	struct vq_ring r2;

	/* unmapped used ring at init: refused, naming the area */
	struct vq_ring_addr bad = ia;
	bad.device = 0x3000000;
	ck_assert_err(vq_ring_init_iommu(&r2, m, io, VQ_RING_SPLIT, NUM, &bad, 0),
		      VQ_E_RING_IOMMU);
	ck_assert_msg(strstr(r2.error_detail, "used ring iova 0x3000000") != NULL, "%s",
		      r2.error_detail);
	/* a used ring the device may only read */
	ck_assert_int_eq(vq_iommu_map(io, 0x3000000, ra.device & ~(PG - 1), PG, false), 0);
	bad.device = 0x3000000 + (ra.device & (PG - 1));
	ck_assert_err(vq_ring_init_iommu(&r2, m, io, VQ_RING_SPLIT, NUM, &bad, 0),
		      VQ_E_RING_IOMMU);
	/* the ring pages unmapped after init: the next operation fails */
	ck_assert_int_eq(vq_iommu_unmap(io, RING_IOVA, 2 * PG), 2 * PG);
	post(MEM_GPA, 0x10, false);
	ck_assert_err(vq_ring_pop(&r, &c), VQ_E_RING_IOMMU);
	ck_assert_msg(strstr(r.error_detail, "descriptor table iova 0x1000000") != NULL, "%s",
		      r.error_detail);
	/* remapped elsewhere in IOVA space, a re-init serves again */
	ck_assert_int_eq(vq_iommu_map(io, RING_IOVA, RING_GPA, 2 * PG, true), 0);
	ck_assert_int_eq(vq_ring_init_iommu(&r, m, io, VQ_RING_SPLIT, NUM, &ia, 0), 0);
}
END_TEST

/* ---- a device on a machine ------------------------------------------- */

#define RAM 0x40000000ull
#define RAM_SIZE (16ull << 20)
#define MMIO 0x0a000000ull

START_TEST(device_survives_and_recovers)
{
	struct vq_machine *mc = vq_machine_new(5);
	struct vq_dev *dev;
	struct vq_drv d;
	char err[200];
	uint8_t out[16];
	uint64_t want[VQ_FEATURE_WORDS] = {1ull << VIRTIO_F_ACCESS_PLATFORM, 0};
	struct vq_iommu *mio;

	ck_assert_int_eq(vq_machine_add_ram(mc, RAM, RAM_SIZE), 0);
	dev = vq_machine_add_mmio(mc, "rng", NULL, NULL, MMIO, 3, err, sizeof(err));
	ck_assert_msg(dev != NULL, "%s", err);
	mio = vq_machine_iommu(mc);
	ck_assert_ptr_eq(dev->iommu, mio);
	ck_assert(dev->host_features[0] & (1ull << VIRTIO_F_ACCESS_PLATFORM));
	ck_assert_int_eq(vq_drv_attach(&d, mc, MMIO, 3, RAM, RAM_SIZE / 2), 0);
	/* without the feature the table is not used at all */
	ck_assert_int_eq(vq_drv_init(&d, NULL, 1), 0);
	ck_assert_uint_eq(vq_iommu_count(mio), 0);
	ck_assert_int_eq(vq_drv_rng_read(&d, out, 8), 8);
	ck_assert_ptr_null(dev->queues[0].ring.iommu);
	/* with it the driver maps its heap (identity) and the device uses it */
	ck_assert_int_eq(vq_drv_init(&d, want, 1), 0);
	ck_assert(vq_dev_has_feature(dev, VIRTIO_F_ACCESS_PLATFORM));
	ck_assert_ptr_eq(dev->queues[0].ring.iommu, mio);
	ck_assert_uint_eq(vq_iommu_count(mio), 1);
	ck_assert_int_eq(vq_drv_rng_read(&d, out, 8), 8);
	/* the page of the driver's rng buffer made read-only: the device's
	 * write faults, the device goes to NEEDS_RESET naming the IOVA */
	uint64_t pg = d.scratch_gpa & ~(PG - 1);
	ck_assert_uint_ne(d.scratch_gpa, 0);
	ck_assert_int_eq(vq_iommu_unmap(mio, pg, PG), PG);
	ck_assert_int_eq(vq_iommu_map(mio, pg, pg, PG, false), 0);
	ck_assert_int_lt(vq_drv_rng_read(&d, out, 8), 0);
	ck_assert(vq_drv_status(&d) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
	ck_assert_int_eq(dev->last_error, -VQ_E_RING_IOMMU);
	ck_assert_msg(strstr(dev->last_error_msg, "mapped read-only") != NULL, "%s",
		      dev->last_error_msg);
	/* reset and re-init: the driver maps its heap again, service resumes */
	ck_assert_int_eq(vq_drv_init(&d, want, 1), 0);
	ck_assert_int_eq(vq_drv_rng_read(&d, out, 8), 8);
	ck_assert_uint_eq(vq_iommu_count(mio), 1);
	/* the same page unmapped: a fault again, then recovery again */
	pg = d.scratch_gpa & ~(PG - 1);
	ck_assert_int_eq(vq_iommu_unmap(mio, pg, PG), PG);
	ck_assert_int_lt(vq_drv_rng_read(&d, out, 8), 0);
	ck_assert_int_eq(dev->last_error, -VQ_E_RING_IOMMU);
	ck_assert_msg(strstr(dev->last_error_msg, "not mapped") != NULL, "%s", dev->last_error_msg);
	ck_assert_int_eq(vq_drv_init(&d, want, 1), 0);
	ck_assert_int_eq(vq_drv_rng_read(&d, out, 8), 8);
	vq_drv_detach(&d);
	vq_machine_free(mc);
}
END_TEST

static Suite *iommu_suite(void)
{
	Suite *s = suite_create("iommu");
	TCase *tc = tcase_create("table");
	TCase *tr = tcase_create("ring");
	TCase *td = tcase_create("device");

	tcase_add_test(tc, map_rules);
	tcase_add_test(tc, unmap_cuts);
	tcase_add_test(tc, translate_runs);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(tr, ring_setup, ring_teardown);
	tcase_add_test(tr, ring_straddle_two_segments);
	tcase_add_test(tr, ring_unmapped_buffer);
	tcase_add_test(tr, ring_partly_mapped_buffer);
	tcase_add_test(tr, ring_write_through_readonly);
	tcase_add_test(tr, ring_indirect_table_translated);
	tcase_add_test(tr, ring_areas_translated);
	tcase_add_test(tr, ring_segments_bounded);
	suite_add_tcase(s, tr);
	tcase_add_test(td, device_survives_and_recovers);
	suite_add_tcase(s, td);
	return s;
}

int main(void)
{
	return vq_test_run(iommu_suite());
}
