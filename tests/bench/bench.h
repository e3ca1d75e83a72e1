/* bench.h - what every benchmark shares. */
#ifndef VQSIM_BENCH_H
#define VQSIM_BENCH_H

#include <time.h>

/* Monotonic wall-clock seconds, for rates measured within one run. */
static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
