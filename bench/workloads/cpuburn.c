// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * CPU-bound job for bench/run (the noise floor): a fixed number of rounds
 * of integer mixing, no system calls, no memory traffic. Prints one JSON
 * line: {"rounds":N,"seconds":S}.
 *
 *   cpuburn [ROUNDS_MILLIONS]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	uint64_t millions = argc > 1 ? strtoull(argv[1], NULL, 10) : 200;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	const double start = now_s();
	for (uint64_t i = 0; i < millions * 1000000ull; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	const double elapsed = now_s() - start;
	printf("{\"rounds\":%llu,\"seconds\":%.6f,\"sink\":%llu}\n",
	       (unsigned long long)(millions * 1000000ull), elapsed, (unsigned long long)(x & 1));
	return 0;
}
