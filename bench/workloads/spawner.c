// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Fork+exec storm for bench/run: JOBS workers each spawn PROGRAM (default
 * /bin/true) with posix_spawn and reap it, as fast as they can, until
 * SECONDS have passed or COUNT processes were spawned in total. Prints one
 * JSON line: {"spawned":N,"seconds":S,"rate":N/S,"failed":F}.
 *
 *   spawner [-t SECONDS] [-n COUNT] [-j JOBS] [-f] [PROGRAM [ARG...]]
 *
 * -f: fork a child that exits at once instead of spawning PROGRAM (a
 * process lifecycle without exec, the cheapest one the kernel has).
 */
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct shared {
	volatile uint64_t spawned;
	volatile uint64_t failed;
};

int main(int argc, char **argv)
{
	double seconds = 0;
	uint64_t count = 0;
	int jobs = 1, opt, fork_only = 0;
	char *default_argv[] = {"/bin/true", NULL};

	while ((opt = getopt(argc, argv, "+t:n:j:f")) != -1) {
		switch (opt) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 'j':
			jobs = atoi(optarg);
			break;
		case 'f':
			fork_only = 1;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-t SECONDS] [-n COUNT] [-j JOBS] [-f] [PROGRAM "
				"[ARG...]]\n",
				argv[0]);
			return 2;
		}
	}
	if (seconds <= 0 && count == 0)
		seconds = 5;
	if (jobs < 1)
		jobs = 1;
	char **child_argv = optind < argc ? argv + optind : default_argv;

	struct shared *sh =
		mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return 1;
	const double start = now_s();
	const double deadline = seconds > 0 ? start + seconds : 1e300;
	for (int j = 0; j < jobs; j++) {
		pid_t w = fork();
		if (w < 0)
			return 1;
		if (w)
			continue;
		for (;;) {
			if (count &&
			    __atomic_fetch_add(&sh->spawned, 1, __ATOMIC_RELAXED) >= count) {
				__atomic_fetch_sub(&sh->spawned, 1, __ATOMIC_RELAXED);
				break;
			}
			if (now_s() >= deadline) {
				if (count)
					__atomic_fetch_sub(&sh->spawned, 1, __ATOMIC_RELAXED);
				break;
			}
			pid_t c;
			int st;
			if (fork_only) {
				c = fork();
				if (c == 0)
					_exit(0);
			}
			if (fork_only ? c < 0
				      : posix_spawn(&c, child_argv[0], NULL, NULL, child_argv,
						    environ) != 0) {
				__atomic_fetch_add(&sh->failed, 1, __ATOMIC_RELAXED);
				if (count)
					__atomic_fetch_sub(&sh->spawned, 1, __ATOMIC_RELAXED);
				continue;
			}
			if (!count)
				__atomic_fetch_add(&sh->spawned, 1, __ATOMIC_RELAXED);
			while (waitpid(c, &st, 0) < 0 && errno == EINTR)
				;
		}
		_exit(0);
	}
	for (int j = 0; j < jobs; j++)
		wait(NULL);
	const double elapsed = now_s() - start;
	printf("{\"spawned\":%llu,\"seconds\":%.6f,\"rate\":%.1f,\"failed\":%llu,\"jobs\":%d,"
	       "\"fork_only\":%d}\n",
	       (unsigned long long)sh->spawned, elapsed, (double)sh->spawned / elapsed,
	       (unsigned long long)sh->failed, jobs, fork_only);
	return 0;
}
