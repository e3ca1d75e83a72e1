/* install_prog.c - a user's program built against an installed libvqsim, the way
 * libvqsim(3) says: #include <vqsim/...> and
 * cc prog.c $(pkg-config --cflags --libs vqsim). tests/shell/install.sh
 * installs into a temporary directory, builds this and runs it.
 *
 * It includes a header of each installed directory by its documented path
 * (headers that include their neighbours must find them from
 * -I${includedir}), runs an rng device under the reference driver with
 * seed 1 twice and checks that the bytes agree and that a net device with
 * a pcap capture writes a file (libpcap behind the library). Exit 0 and
 * "prog: ok" when all holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vqsim/vqsim.h>
#include <vqsim/dev/net.h>
#include <vqsim/drv/net.h>
#include <vqsim/drv/balloon.h>
#include <vqsim/drv/console.h>

#define RAM_BASE UINT64_C(0x40000000)
#define RAM_SIZE (UINT64_C(16) << 20)
#define RNG_BASE UINT64_C(0x0a000000)
#define NET_BASE UINT64_C(0x0a000200)

static int check(int ok, const char *what)
{
	if (!ok)
		fprintf(stderr, "prog: %s\n", what);
	return ok;
}

/* 16 bytes from an rng device on a fresh machine of the seed. */
static int rng_bytes(uint64_t seed, uint8_t out[16])
{
	const uint64_t want[VQ_FEATURE_WORDS] = {0, 0};
	struct vq_machine *m = vq_machine_new(seed);
	struct vq_drv drv;
	char err[200];
	long n = -1;

	if (!m)
		return 0;
	if (vq_machine_add_ram(m, RAM_BASE, RAM_SIZE) == 0 &&
	    vq_machine_add_mmio(m, "rng", NULL, NULL, RNG_BASE, 16, err, sizeof(err)) &&
	    vq_drv_attach(&drv, m, RNG_BASE, 16, RAM_BASE, RAM_SIZE) == 0) {
		if (vq_drv_init(&drv, want, 1) == 0)
			n = vq_drv_rng_read(&drv, out, 16);
		vq_drv_detach(&drv);
	}
	vq_machine_free(m);
	return n == 16;
}

int main(int argc, char **argv)
{
	uint8_t a[16], b[16];
	struct vq_machine *m;
	char opts[4200], err[200];
	FILE *f;
	int ok = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: prog CAPTURE-PATH\n");
		return 2;
	}
	ok &= check(rng_bytes(1, a) && rng_bytes(1, b), "rng read failed");
	ok &= check(memcmp(a, b, sizeof(a)) == 0, "same seed, different bytes");
	ok &= check(strcmp(vq_errname(-VQ_E_INVAL), "INVAL") == 0, "vq_errname(-VQ_E_INVAL)");

	m = vq_machine_new(1);
	snprintf(opts, sizeof(opts), "backend=pcap,pcap-out=%s", argv[1]);
	ok &= check(m && vq_machine_add_ram(m, RAM_BASE, RAM_SIZE) == 0, "machine");
	ok &= check(m && vq_machine_add_mmio(m, "net", NULL, opts, NET_BASE, 17, err,
					     sizeof(err)) != NULL, err);
	vq_machine_free(m);
	f = fopen(argv[1], "rb");
	ok &= check(f != NULL, "no capture file written");
	if (f)
		fclose(f);
	if (ok)
		printf("prog: ok\n");
	return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
