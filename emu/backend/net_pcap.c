/* net_pcap.c - a net backend on capture files: what the guest sends is
 * written to a classic libpcap file, and frames for the guest are read from
 * one. The format is written and parsed here (no libpcap): a 24-byte global
 * header, then per frame a 16-byte record header and the bytes.
 *
 * Timestamps of written records come from the machine's virtual clock, so
 * the same run writes the same file. The reader offers frames through pull()
 * in file order; the device takes each one only when guest buffers are
 * there for it, so a reader never loses frames for lack of buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "../device.h"
#include "netdev.h"

#define PCAP_MAGIC_US     0xa1b2c3d4u  /* microsecond timestamps */
#define PCAP_MAGIC_NS     0xa1b23c4du  /* nanosecond timestamps */
#define PCAP_LINKTYPE_ETHERNET 1u
#define PCAP_SNAPLEN      65535u
#define PCAP_GLOBAL_LEN   24u
#define PCAP_RECORD_LEN   16u

struct pcap_be {
	struct vq_net_backend be;
	int out_fd;            /* -1 without pcap-out */
	FILE *in;              /* NULL without pcap-in */
	bool in_swapped;       /* file written on a host of the other byte order */
	bool in_done;          /* end of file (or a damaged record) reached */
	uint64_t written, read;
};

static uint32_t get32(const uint8_t *p, bool swapped)
{
	uint32_t le = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		      (uint32_t)p[3] << 24;
	return swapped ? __builtin_bswap32(le) : le;
}

/* Write all of iov (a short write is retried; the file is left consistent
 * only if the whole record went out). 0 or -VQ_E_SYS. */
static int write_all(struct pcap_be *p, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(p->out_fd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			p->be.err = w < 0 ? errno : EIO;
			return -VQ_E_SYS;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

static int pcap_send(struct vq_net_backend *be, const void *frame, size_t len,
		     const struct vq_net_meta *meta)
{
	struct pcap_be *p = (struct pcap_be *)be;
	uint64_t now = be->dev ? vq_dev_now(be->dev) : 0;
	uint32_t incl = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (uint32_t)len;
	uint8_t rec[PCAP_RECORD_LEN];
	struct iovec iov[2];
	int rc;

	(void)meta;
	if (p->out_fd < 0)
		return 0; /* no capture file: the wire leads nowhere */
	vq_put_le32(rec, (uint32_t)(now / 1000000000u));
	vq_put_le32(rec + 4, (uint32_t)(now % 1000000000u / 1000u));
	vq_put_le32(rec + 8, incl);
	vq_put_le32(rec + 12, (uint32_t)len);
	iov[0] = (struct iovec){.iov_base = rec, .iov_len = sizeof(rec)};
	iov[1] = (struct iovec){.iov_base = (void *)frame, .iov_len = incl};
	rc = write_all(p, iov, incl ? 2 : 1);
	if (rc == 0)
		p->written++;
	return rc;
}

/* Read exactly len bytes; 1 if all came, 0 at a clean end, -1 when cut short. */
static int read_exact(FILE *f, void *buf, size_t len)
{
	size_t got = fread(buf, 1, len, f);

	if (got == len)
		return 1;
	return got == 0 && feof(f) ? 0 : -1;
}

static int pcap_pull(struct vq_net_backend *be, void *buf, size_t cap, size_t *len)
{
	struct pcap_be *p = (struct pcap_be *)be;
	uint8_t rec[PCAP_RECORD_LEN];
	uint32_t incl;
	size_t take;
	int rc;

	if (!p->in || p->in_done)
		return 0;
	rc = read_exact(p->in, rec, sizeof(rec));
	if (rc <= 0) {
		if (rc < 0)
			be->read_errors++; /* a record header cut short: file damaged */
		p->in_done = true;
		return 0;
	}
	incl = get32(rec + 8, p->in_swapped);
	take = incl < cap ? incl : cap;
	if (take && read_exact(p->in, buf, take) != 1) {
		be->read_errors++;
		p->in_done = true;
		return 0;
	}
	/* a record longer than we take is skipped; its true length tells the
	 * device to count it as too big */
	if (incl > take && fseek(p->in, (long)(incl - take), SEEK_CUR) != 0) {
		be->read_errors++;
		p->in_done = true;
		return 0;
	}
	*len = incl;
	p->read++;
	return 1;
}

static void pcap_close(struct vq_net_backend *be)
{
	struct pcap_be *p = (struct pcap_be *)be;

	if (p->out_fd >= 0)
		close(p->out_fd);
	if (p->in)
		fclose(p->in);
	free(p);
}

static const struct vq_net_backend_ops pcap_ops = {
	.name = "pcap",
	.send = pcap_send,
	.pull = pcap_pull,
	.close = pcap_close,
};

/* Create out_path and write the global header. 0 or -VQ_E_SYS with a message. */
static int pcap_open_out(struct pcap_be *p, const char *path, char *err, size_t errlen)
{
	uint8_t g[PCAP_GLOBAL_LEN];
	struct iovec iov = {.iov_base = g, .iov_len = sizeof(g)};

	p->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (p->out_fd < 0) {
		snprintf(err, errlen, "pcap-out '%s': cannot create: %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	vq_put_le32(g, PCAP_MAGIC_US);
	vq_put_le16(g + 4, 2);  /* version 2.4 */
	vq_put_le16(g + 6, 4);
	vq_put_le32(g + 8, 0);  /* thiszone: timestamps are UTC (here: virtual time) */
	vq_put_le32(g + 12, 0); /* sigfigs */
	vq_put_le32(g + 16, PCAP_SNAPLEN);
	vq_put_le32(g + 20, PCAP_LINKTYPE_ETHERNET);
	if (write_all(p, &iov, 1) < 0) {
		snprintf(err, errlen, "pcap-out '%s': cannot write: %s", path,
			 strerror(p->be.err));
		return -VQ_E_SYS;
	}
	return 0;
}

/* Open in_path and check its global header. 0 or an error with a message. */
static int pcap_open_in(struct pcap_be *p, const char *path, char *err, size_t errlen)
{
	uint8_t g[PCAP_GLOBAL_LEN];
	uint32_t magic, link;

	p->in = fopen(path, "rbe");
	if (!p->in) {
		snprintf(err, errlen, "pcap-in '%s': cannot open: %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	if (read_exact(p->in, g, sizeof(g)) != 1) {
		snprintf(err, errlen, "pcap-in '%s': shorter than a pcap global header (24 bytes)",
			 path);
		return -VQ_E_INVAL;
	}
	magic = get32(g, false);
	if (magic == PCAP_MAGIC_US || magic == PCAP_MAGIC_NS) {
		p->in_swapped = false;
	} else if (magic == __builtin_bswap32(PCAP_MAGIC_US) ||
		   magic == __builtin_bswap32(PCAP_MAGIC_NS)) {
		p->in_swapped = true;
	} else {
		snprintf(err, errlen,
			 "pcap-in '%s': magic 0x%08x is not classic pcap%s", path, magic,
			 magic == 0x0a0d0d0au ? " (pcapng: convert with editcap -F pcap)" : "");
		return -VQ_E_INVAL;
	}
	link = get32(g + 20, p->in_swapped) & 0x0fffffffu; /* high bits: FCS info */
	if (link != PCAP_LINKTYPE_ETHERNET) {
		snprintf(err, errlen, "pcap-in '%s': linktype %u is not Ethernet (1)", path, link);
		return -VQ_E_INVAL;
	}
	return 0;
}

struct vq_net_backend *vq_net_pcap_open(const char *out_path, const char *in_path, char *err,
					size_t errlen)
{
	struct pcap_be *p;

	if ((!out_path || !*out_path) && (!in_path || !*in_path)) {
		snprintf(err, errlen, "pcap: needs pcap-out=FILE and/or pcap-in=FILE");
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(err, errlen, "pcap: out of memory");
		return NULL;
	}
	p->be.ops = &pcap_ops;
	p->out_fd = -1;
	if ((out_path && *out_path && pcap_open_out(p, out_path, err, errlen) < 0) ||
	    (in_path && *in_path && pcap_open_in(p, in_path, err, errlen) < 0)) {
		pcap_close(&p->be);
		return NULL;
	}
	return &p->be;
}
