// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads floor.bpf.o, attaches its programs, prints "ready" and holds them
 * until SIGINT/SIGTERM or until stdin closes. While it waits it drains the
 * object's ring buffers (used by the ringbuf_* probe programs): the ring
 * with wakeups as they come, the other one on its 200 ms poll timeout.
 *
 *   floor_loader OBJECT [PROG...]     attach only the named programs
 */
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int drop_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	return 0;
}

static int wanted(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return 1;
	for (int i = 2; i < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[16];
	int nlinks = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s OBJECT [PROG...]\n", argv[0]);
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	struct bpf_program *prog;
	bpf_object__for_each_program(prog, obj)
		bpf_program__set_autoload(prog, wanted(bpf_program__name(prog), argc, argv));
	if (bpf_object__load(obj)) {
		fprintf(stderr, "load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj)
	{
		if (!bpf_program__autoload(prog))
			continue;
		struct bpf_link *l = bpf_program__attach(prog);
		if (!l) {
			fprintf(stderr, "attach %s: %s\n", bpf_program__name(prog),
				strerror(errno));
			return 1;
		}
		if (nlinks < 16)
			links[nlinks++] = l;
	}
	struct ring_buffer *rb = NULL;
	struct bpf_map *map;
	bpf_object__for_each_map(map, obj)
	{
		if (bpf_map__type(map) != BPF_MAP_TYPE_RINGBUF)
			continue;
		if (!rb)
			rb = ring_buffer__new(bpf_map__fd(map), drop_record, NULL, NULL);
		else
			ring_buffer__add(rb, bpf_map__fd(map), drop_record, NULL);
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("ready\n");
	fflush(stdout);
	struct pollfd pfd[2] = {{.fd = 0, .events = POLLIN},
				{.fd = rb ? ring_buffer__epoll_fd(rb) : -1, .events = POLLIN}};
	while (!stop) {
		int n = poll(pfd, rb ? 2 : 1, 200);
		if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP))) {
			char buf[64];
			if (read(0, buf, sizeof buf) <= 0)
				break; /* stdin closed: the benchmark is gone */
		}
		if (rb)
			ring_buffer__consume(rb);
	}
	ring_buffer__free(rb);
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return 0;
}
