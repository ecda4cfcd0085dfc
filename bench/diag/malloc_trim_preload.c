// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Diagnostic for bench/run's memory figures, not part of treetrace: loaded
 * with LD_PRELOAD, it calls malloc_trim(0) once a second in a thread of its
 * own, so glibc hands freed heap back to the kernel. The difference it
 * makes to VmRSS is memory the process has already freed (e.g. what libbpf
 * used to parse the kernel's BTF while loading) but still holds.
 */
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

static void *trimmer(void *arg)
{
	(void)arg;
	for (;;) {
		sleep(1);
		malloc_trim(0);
	}
	return NULL;
}

__attribute__((constructor)) static void start_trimmer(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, trimmer, NULL) == 0)
		pthread_detach(t);
}
