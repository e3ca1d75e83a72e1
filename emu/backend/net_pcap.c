/* net_pcap.c - a net backend on capture files, through libpcap: what the
 * guest sends is written to a pcap file, and frames for the guest are read
 * from a pcap or pcapng file (whatever libpcap's savefile reader takes).
 *
 * The writer stamps records with the machine's virtual clock at nanosecond
 * precision (magic 0xa1b23c4d), so the same run writes the same file byte
 * for byte and frames sent within one microsecond keep distinct times. It
 * flushes after every record: a write error is reported by the send that
 * caused it, and a reader following the file sees each frame at once.
 *
 * The reader offers frames through pull() in file order; the device takes
 * each one only when guest buffers are there for it, so a reader never
 * loses frames for lack of buffers. A record libpcap cannot read (a damaged
 * or cut file, a pcapng interface of another link type) ends the input:
 * counted in read_errors and traced with libpcap's message. A record cut
 * short at capture time (caplen < len, a small snaplen) holds only part of
 * the frame: delivering that part would hand the guest a frame that never
 * was on the wire, so it is dropped, counted in rx_truncated and traced.
 */
#include <errno.h>
#include <stdarg.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../device.h"
#include "netdev.h"

#define PCAP_SNAPLEN 65535

struct pcap_be {
	struct vq_net_backend be;
	pcap_t *out;              /* a "dead" handle: the writer's link type and snaplen */
	pcap_dumper_t *dumper;    /* NULL without pcap-out */
	pcap_t *in;               /* NULL without pcap-in */
	bool in_done;             /* end of input (or an unreadable record) reached */
	uint64_t written, read;   /* records written; records read (dropped ones too) */
};

/* A trace line about the capture input, when the device has a tracer on. */
static void capture_trace(struct pcap_be *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void capture_trace(struct pcap_be *p, const char *fmt, ...)
{
	struct vq_dev *d = p->be.dev;
	char msg[200];
	va_list ap;

	if (!d || !d->tracer || !d->tracer->on)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vq_trace(d->tracer, VQ_EV_DEVICE, d->name, -1, "%s", msg);
}

static int capture_send(struct vq_net_backend *be, const void *frame, size_t len,
		     const struct vq_net_meta *meta)
{
	struct pcap_be *p = (struct pcap_be *)be;
	uint64_t now = be->dev ? vq_dev_now(be->dev) : 0;
	struct pcap_pkthdr h = {0};

	(void)meta;
	if (!p->dumper)
		return 0; /* no capture file: the wire leads nowhere */
	/* with nanosecond precision tv_usec carries nanoseconds */
	h.ts.tv_sec = (time_t)(now / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(now % 1000000000u);
	h.caplen = len > PCAP_SNAPLEN ? PCAP_SNAPLEN : (bpf_u_int32)len;
	h.len = (bpf_u_int32)len;
	errno = 0;
	pcap_dump((u_char *)p->dumper, &h, frame);
	if (pcap_dump_flush(p->dumper) != 0 || ferror(pcap_dump_file(p->dumper))) {
		be->err = errno ? errno : EIO;
		clearerr(pcap_dump_file(p->dumper));
		return -VQ_E_SYS;
	}
	p->written++;
	return 0;
}

static int capture_pull(struct vq_net_backend *be, void *buf, size_t cap, size_t *len)
{
	struct pcap_be *p = (struct pcap_be *)be;
	struct pcap_pkthdr *h;
	const u_char *data;
	int rc;

	while (p->in && !p->in_done) {
		rc = pcap_next_ex(p->in, &h, &data);
		if (rc != 1) {
			p->in_done = true;
			if (rc == PCAP_ERROR_BREAK)
				return 0; /* end of file */
			be->read_errors++;
			capture_trace(p, "pcap-in: input ends at record %llu: %s",
				   (unsigned long long)p->read + 1, pcap_geterr(p->in));
			return 0;
		}
		p->read++;
		if (h->caplen < h->len && h->len <= VQ_NET_BACKEND_FRAME_MAX) {
			be->rx_truncated++;
			capture_trace(p, "pcap-in: record %llu dropped: truncated in the capture "
				   "(%u of %u bytes)", (unsigned long long)p->read, h->caplen,
				   h->len);
			continue;
		}
		/* a frame longer than a backend passes on: its true length tells
		 * the device to count it as too big (libpcap has cut caplen to
		 * the file's snaplen already) */
		memcpy(buf, data, h->caplen < cap ? h->caplen : cap);
		*len = h->len;
		return 1;
	}
	return 0;
}

static void capture_close(struct vq_net_backend *be)
{
	struct pcap_be *p = (struct pcap_be *)be;

	if (p->dumper)
		pcap_dump_close(p->dumper);
	if (p->out)
		pcap_close(p->out);
	if (p->in)
		pcap_close(p->in);
	free(p);
}

static const struct vq_net_backend_ops capture_ops = {
	.name = "pcap",
	.send = capture_send,
	.pull = capture_pull,
	.close = capture_close,
};

/* Create path and write the file header. 0 or -VQ_E_SYS with a message. */
static int capture_open_out(struct pcap_be *p, const char *path, char *err, size_t errlen)
{
	FILE *f;

	p->out = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, PCAP_SNAPLEN,
						      PCAP_TSTAMP_PRECISION_NANO);
	if (!p->out) {
		snprintf(err, errlen, "pcap-out '%s': out of memory", path);
		return -VQ_E_NOMEM;
	}
	f = fopen(path, "wbe");
	if (!f) {
		snprintf(err, errlen, "pcap-out '%s': cannot create: %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	/* pcap_dump_fopen writes the header; on failure the FILE stays ours */
	p->dumper = pcap_dump_fopen(p->out, f);
	if (!p->dumper || pcap_dump_flush(p->dumper) != 0) {
		int e = errno;

		snprintf(err, errlen, "pcap-out '%s': cannot write: %s", path,
			 p->dumper ? strerror(e) : pcap_geterr(p->out));
		if (!p->dumper)
			fclose(f);
		return -VQ_E_SYS;
	}
	return 0;
}

/* Open path with libpcap (pcap or pcapng) and check the link type is
 * Ethernet. 0 or an error with a message. */
static int capture_open_in(struct pcap_be *p, const char *path, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE] = "";
	FILE *f = fopen(path, "rbe");
	int link;

	if (!f) {
		snprintf(err, errlen, "pcap-in '%s': cannot open: %s", path, strerror(errno));
		return -VQ_E_SYS;
	}
	p->in = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!p->in) {
		fclose(f); /* libpcap leaves the FILE to us when it fails */
		snprintf(err, errlen, "pcap-in '%s': not a capture libpcap reads: %s", path, perr);
		return -VQ_E_INVAL;
	}
	link = pcap_datalink(p->in);
	if (link != DLT_EN10MB) {
		const char *name = pcap_datalink_val_to_name(link);

		snprintf(err, errlen, "pcap-in '%s': link type %s (%d) is not Ethernet (EN10MB)",
			 path, name ? name : "unknown", link);
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
	p->be.ops = &capture_ops;
	if ((out_path && *out_path && capture_open_out(p, out_path, err, errlen) < 0) ||
	    (in_path && *in_path && capture_open_in(p, in_path, err, errlen) < 0)) {
		capture_close(&p->be);
		return NULL;
	}
	return &p->be;
}
