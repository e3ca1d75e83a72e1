/* dev/blk.h - virtio-blk, the block device (spec 5.2).
 *
 * Constants and little-endian wire layouts of the specification, the device
 * type to create with vq_machine_add_mmio(m, "blk", ...), and its counters.
 * Options: backend=ram|file, size=BYTES[K|M|G|T] (ram), path=FILE (file),
 * readonly, queues=N, queue-size=N, serial=STRING, discard=on|off,
 * write-zeroes=on|off, flush=on|off, writeback=on|off, seg-max=N,
 * size-max=BYTES, blk-size=BYTES.
 */
#ifndef VQSIM_DEV_BLK_H
#define VQSIM_DEV_BLK_H

#include <stdint.h>

#include "../dev.h"

/* Feature bits (spec 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX      1   /* size_max: largest single segment */
#define VIRTIO_BLK_F_SEG_MAX       2   /* seg_max: most segments a request */
#define VIRTIO_BLK_F_GEOMETRY      4   /* geometry (legacy disks) */
#define VIRTIO_BLK_F_RO            5   /* read-only */
#define VIRTIO_BLK_F_BLK_SIZE      6   /* blk_size */
#define VIRTIO_BLK_F_FLUSH         9   /* VIRTIO_BLK_T_FLUSH */
#define VIRTIO_BLK_F_TOPOLOGY      10  /* topology */
#define VIRTIO_BLK_F_CONFIG_WCE    11  /* writeback is driver-writable */
#define VIRTIO_BLK_F_MQ            12  /* num_queues request queues */
#define VIRTIO_BLK_F_DISCARD       13  /* VIRTIO_BLK_T_DISCARD */
#define VIRTIO_BLK_F_WRITE_ZEROES  14  /* VIRTIO_BLK_T_WRITE_ZEROES */
#define VIRTIO_BLK_F_LIFETIME      15  /* VIRTIO_BLK_T_GET_LIFETIME */
#define VIRTIO_BLK_F_SECURE_ERASE  16  /* VIRTIO_BLK_T_SECURE_ERASE */
#define VIRTIO_BLK_F_ZONED         17  /* zoned device (after 1.2; not offered) */

/* Request types (spec 5.2.6). */
#define VIRTIO_BLK_T_IN            0
#define VIRTIO_BLK_T_OUT           1
#define VIRTIO_BLK_T_FLUSH         4
#define VIRTIO_BLK_T_GET_ID        8
#define VIRTIO_BLK_T_GET_LIFETIME  10
#define VIRTIO_BLK_T_DISCARD       11
#define VIRTIO_BLK_T_WRITE_ZEROES  13
#define VIRTIO_BLK_T_SECURE_ERASE  14

/* Status byte values. */
#define VIRTIO_BLK_S_OK      0
#define VIRTIO_BLK_S_IOERR   1
#define VIRTIO_BLK_S_UNSUPP  2

#define VIRTIO_BLK_SECTOR_SIZE 512u
#define VIRTIO_BLK_ID_BYTES    20u   /* GET_ID: NUL-padded, no NUL if 20 long */

/* Device configuration layout (spec 5.2.4), little-endian, 72 bytes. */
struct virtio_blk_config {
	uint64_t capacity;                 /* 0: in 512-byte sectors */
	uint32_t size_max;                 /* 8 */
	uint32_t seg_max;                  /* 12 */
	struct {
		uint16_t cylinders;        /* 16 */
		uint8_t heads;             /* 18 */
		uint8_t sectors;           /* 19 */
	} __attribute__((packed)) geometry;
	uint32_t blk_size;                 /* 20 */
	struct {
		uint8_t physical_block_exp; /* 24: log2 logical blocks per physical */
		uint8_t alignment_offset;   /* 25: first aligned logical block */
		uint16_t min_io_size;       /* 26: in logical blocks */
		uint32_t opt_io_size;       /* 28: in logical blocks */
	} __attribute__((packed)) topology;
	uint8_t writeback;                 /* 32: 1 writeback, 0 writethrough */
	uint8_t unused0;                   /* 33 */
	uint16_t num_queues;               /* 34 */
	uint32_t max_discard_sectors;      /* 36 */
	uint32_t max_discard_seg;          /* 40 */
	uint32_t discard_sector_alignment; /* 44 */
	uint32_t max_write_zeroes_sectors; /* 48 */
	uint32_t max_write_zeroes_seg;     /* 52 */
	uint8_t write_zeroes_may_unmap;    /* 56 */
	uint8_t unused1[3];                /* 57 */
	uint32_t max_secure_erase_sectors; /* 60 */
	uint32_t max_secure_erase_seg;     /* 64 */
	uint32_t secure_erase_sector_alignment; /* 68 */
} __attribute__((packed));

/* The device-readable header every request starts with. */
struct virtio_blk_outhdr {
	uint32_t type;      /* VIRTIO_BLK_T_* */
	uint32_t reserved;  /* was ioprio */
	uint64_t sector;    /* IN/OUT: offset in 512-byte sectors; else 0 */
} __attribute__((packed));

/* One range of a DISCARD or WRITE_ZEROES request (16 bytes). */
#define VIRTIO_BLK_WZ_F_UNMAP 1u   /* flags bit 0: write zeroes may deallocate */
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;     /* bit 0 unmap, bits 1..31 reserved */
} __attribute__((packed));

extern const struct vq_dev_type vq_blk_type;

/* What a blk device has done since it was created (reset keeps them). */
struct vq_blk_stats {
	/* requests by type */
	uint64_t req_in, req_out, req_flush, req_get_id, req_discard, req_write_zeroes;
	uint64_t req_other;       /* any other type: answered UNSUPP */
	/* answers by status */
	uint64_t status_ok, status_ioerr, status_unsupp;
	/* malformed requests */
	uint64_t no_status;       /* no status byte a used length can cover (none
				     writable, or 4 GiB writable): used len 0 */
	uint64_t short_header;    /* fewer than 16 readable bytes: IOERR */
	uint64_t bad_length;      /* data not a multiple of 512 / 16, GET_ID < 20: IOERR */
	uint64_t out_of_range;    /* sectors beyond capacity or the max_* limits: IOERR */
	uint64_t readonly_refused;/* writes to a read-only disk: IOERR */
	uint64_t not_negotiated;  /* FLUSH / DISCARD / WRITE_ZEROES without the feature */
	uint64_t backend_errors;  /* backend calls that failed: IOERR */
	uint64_t config_ignored;  /* driver config writes other than a valid writeback */
	/* data */
	uint64_t bytes_read;      /* IN data bytes served */
	uint64_t bytes_written;   /* OUT data bytes stored */
	uint64_t bytes_zeroed;    /* WRITE_ZEROES bytes */
	uint64_t bytes_discarded; /* DISCARD bytes */
	uint64_t syncs;           /* backend flushes: FLUSH requests and writethrough */
};

/* Copy d's counters to st. 0, or -VQ_E_INVAL if d is not a blk device. */
int vq_blk_get_stats(const struct vq_dev *d, struct vq_blk_stats *st);
/* Capacity of a blk device in 512-byte sectors (0 if d is not one). */
uint64_t vq_blk_capacity(const struct vq_dev *d);
/* Current cache mode: 1 writeback, 0 writethrough (every write is synced
 * before it completes), -VQ_E_INVAL if d is not a blk device. */
int vq_blk_writeback(const struct vq_dev *d);

#endif
