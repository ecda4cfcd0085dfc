// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The aggregator's flat hash map and ring: the same answers as the standard
// containers they replace, through growth, shrinking and wrap-around.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/flat_map.h"
#include "core/ring.h"

namespace treetrace {
namespace {

TEST(FlatMap, AgreesWithUnorderedMapUnderRandomInsertsAndErases) {
  std::mt19937 rng(42);
  FlatMap<uint32_t, ProcKey, PidKeyTraits> flat;
  std::unordered_map<uint32_t, ProcKey> ref;
  // Small key range: many collisions, erases inside probe runs, and the
  // table grows to thousands of slots and shrinks back.
  for (int round = 0; round < 4; ++round) {
    const uint32_t range = round % 2 ? 64 : 20000;
    for (int i = 0; i < 200000; ++i) {
      const uint32_t pid = rng() % range;
      switch (rng() % 3) {
      case 0: {
        const ProcKey v{pid, rng()};
        auto [slot, inserted] = flat.try_emplace(pid, v);
        auto [it, ref_inserted] = ref.try_emplace(pid, v);
        ASSERT_EQ(inserted, ref_inserted);
        ASSERT_EQ(*slot, it->second);
        break;
      }
      case 1:
        ASSERT_EQ(flat.erase(pid), ref.erase(pid) == 1);
        break;
      default: {
        const ProcKey *got = flat.find(pid);
        auto it = ref.find(pid);
        ASSERT_EQ(got != nullptr, it != ref.end());
        if (got)
          ASSERT_EQ(*got, it->second);
      }
      }
      ASSERT_EQ(flat.size(), ref.size());
    }
    // Empty it: every key must still be found on the way out.
    for (auto it = ref.begin(); it != ref.end(); it = ref.erase(it))
      ASSERT_TRUE(flat.erase(it->first));
    ASSERT_TRUE(flat.empty());
  }
}

TEST(FlatMap, SetOfProcessKeys) {
  FlatSet<ProcKey, ProcKeyTraits> set;
  std::unordered_set<ProcKey, ProcKeyHash> ref;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 100000; ++i) {
    // PID reuse: the same pid with different start times are different keys.
    const ProcKey k{static_cast<uint32_t>(rng() % 300), 1'000'000 + rng() % 50};
    if (rng() % 2) {
      ASSERT_EQ(set.try_emplace(k).second, ref.insert(k).second);
    } else {
      ASSERT_EQ(set.erase(k), ref.erase(k) == 1);
    }
    ASSERT_EQ(set.contains(k), ref.count(k) == 1);
  }
  EXPECT_EQ(set.size(), ref.size());
  std::unordered_set<ProcKey, ProcKeyHash> iterated(set.begin(), set.end());
  EXPECT_EQ(iterated, ref) << "iteration visits every key once";
  EXPECT_EQ(static_cast<size_t>(std::distance(set.begin(), set.end())), ref.size());
}

TEST(Ring, KeepsTheLatestInOrderAndReusesSlots) {
  Ring<std::string> ring;
  std::vector<const std::string *> slots;
  for (int i = 0; i < 10; ++i) {
    std::string &s = ring.push(4);
    if (i >= 4)
      EXPECT_EQ(s, std::to_string(i - 4)) << "the oldest slot, contents intact, for the caller to overwrite";
    s = std::to_string(i);
    if (i == 3) // full: from here on the same four slots, oldest first
      for (std::string &kept : ring)
        slots.push_back(&kept);
    if (i >= 4)
      EXPECT_EQ(&s, slots[static_cast<size_t>(i % 4)]) << "no new slot once full";
  }
  ASSERT_EQ(ring.size(), 4u);
  std::vector<std::string> order(ring.begin(), ring.end());
  EXPECT_EQ(order, (std::vector<std::string>{"6", "7", "8", "9"}));
}

TEST(Ring, InOrderBeforeItIsFull) {
  Ring<int> ring;
  for (int i = 0; i < 3; ++i)
    ring.push(8) = i;
  std::vector<int> order(ring.begin(), ring.end());
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

} // namespace
} // namespace treetrace
