// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The bounded output queue: what is pushed is written whole and in order,
// in batches woken by publish(), and what does not fit is counted.
#include <csignal>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <string>
#include <unistd.h>

#include "output/output_queue.h"

namespace treetrace {
namespace {

struct Pipe {
  int rd = -1, wr = -1;
  Pipe() {
    int fds[2];
    EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
    rd = fds[0];
    wr = fds[1];
    fcntl(rd, F_SETFL, O_NONBLOCK);
  }
  ~Pipe() {
    close(rd);
    if (wr >= 0)
      close(wr);
  }
  // Everything that arrives within timeout_ms of the last byte.
  std::string read_for(int timeout_ms) {
    std::string out;
    pollfd p{rd, POLLIN, 0};
    while (poll(&p, 1, timeout_ms) > 0) {
      char buf[4096];
      ssize_t n = read(rd, buf, sizeof buf);
      if (n <= 0)
        break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
};

TEST(OutputQueue, PublishedLinesAreWrittenInOrder) {
  Pipe p;
  OutputQueue q(p.wr, 1 << 20);
  std::string expected;
  for (int i = 0; i < 100; i++) {
    std::string line = "line " + std::to_string(i) + "\n";
    expected += line;
    ASSERT_TRUE(q.try_push(line));
  }
  q.publish();
  EXPECT_EQ(p.read_for(500), expected);
  EXPECT_EQ(q.written_lines(), 100u);
  EXPECT_EQ(q.dropped_lines(), 0u);
}

TEST(OutputQueue, UnpublishedLinesWaitUntilAQuarterIsUsed) {
  Pipe p;
  OutputQueue q(p.wr, 4096);
  // Once this is out, the writer is surely asleep, waiting for a wakeup.
  ASSERT_TRUE(q.try_push("first\n"));
  q.publish();
  ASSERT_EQ(p.read_for(200), "first\n");
  ASSERT_TRUE(q.try_push(std::string(100, 'a') + "\n"));
  EXPECT_EQ(p.read_for(100), "") << "one small line does not wake the writer by itself";
  ASSERT_TRUE(q.try_push(std::string(1100, 'b') + "\n"));
  const std::string got = p.read_for(500);
  EXPECT_EQ(got.size(), 101u + 1101u) << "past a quarter of the queue the writer wakes without publish()";
}

TEST(OutputQueue, LinesThatDoNotFitAreDroppedAndCounted) {
  Pipe p;
  OutputQueue q(p.wr, 1024);
  ASSERT_TRUE(q.try_push(std::string(1000, 'x')));
  // Whether or not the writer has taken the first line yet, a second one
  // that would pass the bound while it is queued is refused.
  size_t refused = 0;
  for (int i = 0; i < 3; i++)
    refused += !q.try_push(std::string(2000, 'y'));
  EXPECT_EQ(refused, 3u);
  EXPECT_EQ(q.dropped_lines(), 3u);
  q.flush(1000);
  EXPECT_EQ(p.read_for(200).size(), 1000u);
}

TEST(OutputQueue, FlushWritesEverythingQueued) {
  Pipe p;
  OutputQueue q(p.wr, 1 << 20);
  for (int i = 0; i < 10; i++)
    ASSERT_TRUE(q.try_push("x\n"));
  q.flush(1000);
  EXPECT_EQ(q.written_lines(), 10u);
  std::string expected;
  for (int i = 0; i < 10; i++)
    expected += "x\n";
  EXPECT_EQ(p.read_for(100), expected);
}

TEST(OutputQueue, ClosedReaderStopsTheQueue) {
  signal(SIGPIPE, SIG_IGN); // as treetrace does: EPIPE, not death
  Pipe p;
  close(p.rd);
  p.rd = open("/dev/null", O_RDONLY | O_CLOEXEC); // keep the destructor's close() valid
  OutputQueue q(p.wr, 1 << 20);
  ASSERT_TRUE(q.try_push("lost\n"));
  q.flush(1000);
  EXPECT_TRUE(q.fd_closed()) << "EPIPE marks the queue closed";
  EXPECT_FALSE(q.try_push("after\n"));
}

} // namespace
} // namespace treetrace
