// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// EventKind, the one list of record kinds every layer switches on
// (core/event_kind.h): names, the variant index, the wire values of
// include/treetrace/events.h and EventKindSet.
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "core/decode.h"
#include "core/event_kind.h"
#include "treetrace/events.h"

namespace treetrace {
namespace {

// One event of each alternative, in the order the test expects kind_of() to give.
std::vector<std::pair<Event, EventKind>> one_of_each() {
  return {
      {ForkEvent{}, EventKind::Fork},     {ExecEvent{}, EventKind::Exec},         {ExitEvent{}, EventKind::Exit},
      {SampleEvent{}, EventKind::Sample}, {ExistingEvent{}, EventKind::Existing}, {OomKillEvent{}, EventKind::OomKill},
  };
}

TEST(EventKind, ListHoldsEveryKindOnceInEnumOrder) {
  ASSERT_EQ(kEventKinds.size(), 6u);
  ASSERT_EQ(kEventKinds.size(), static_cast<size_t>(TT_EVENT_KIND_MAX) - 1);
  for (size_t i = 0; i < kEventKinds.size(); ++i)
    EXPECT_EQ(static_cast<size_t>(kEventKinds[i]), i) << "kEventKinds[" << i << "]";
}

TEST(EventKind, NamesAreTheDocumentedOnes) {
  EXPECT_STREQ(event_kind_name(EventKind::Fork), "fork");
  EXPECT_STREQ(event_kind_name(EventKind::Exec), "exec");
  EXPECT_STREQ(event_kind_name(EventKind::Exit), "exit");
  EXPECT_STREQ(event_kind_name(EventKind::Sample), "sample");
  EXPECT_STREQ(event_kind_name(EventKind::Existing), "existing");
  EXPECT_STREQ(event_kind_name(EventKind::OomKill), "oom_kill");
}

TEST(EventKind, EveryNameRoundTripsAndNamesAreDistinct) {
  std::set<std::string> seen;
  for (EventKind k : kEventKinds) {
    const std::string name = event_kind_name(k);
    SCOPED_TRACE(name);
    EXPECT_FALSE(name.empty());
    EXPECT_NE(name, "?");
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name";
    const std::optional<EventKind> back = event_kind_from_name(name);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, k);
  }
  EXPECT_EQ(seen.size(), kEventKinds.size());
}

TEST(EventKind, UnknownNamesAreRejected) {
  const std::string_view names[] = {
      "",      "FORK", "Fork",    "oom-kill", "oomkill", "oom",  "kill",    " fork",     "fork ",
      "forkx", "exe",  "samples", "tree",     "group",   "lost", "summary", "fork,exec", std::string_view("fork\0", 5),
  };
  for (std::string_view name : names) {
    SCOPED_TRACE(testing::Message() << "'" << std::string(name) << "' (" << name.size() << " bytes)");
    EXPECT_FALSE(event_kind_from_name(name).has_value());
  }
}

TEST(EventKind, KindOfMatchesTheVariantAlternative) {
  const auto events = one_of_each();
  ASSERT_EQ(events.size(), kEventKinds.size());
  for (const auto &[event, expected] : events) {
    SCOPED_TRACE(event_kind_name(expected));
    EXPECT_EQ(kind_of(event), expected);
    EXPECT_EQ(event.index(), static_cast<size_t>(expected));
  }
  // Not just the default-constructed alternative: a filled one too.
  OomKillEvent oom;
  oom.hdr.proc = {42, 7};
  oom.victim_pid_only = true;
  EXPECT_EQ(kind_of(Event{oom}), EventKind::OomKill);
  SampleEvent refresh;
  refresh.origin = SampleOrigin::Refresh;
  EXPECT_EQ(kind_of(Event{refresh}), EventKind::Sample);
}

TEST(EventKind, WireKindMatchesEventsH) {
  EXPECT_EQ(wire_kind(EventKind::Fork), static_cast<uint32_t>(TT_EVENT_FORK));
  EXPECT_EQ(wire_kind(EventKind::Exec), static_cast<uint32_t>(TT_EVENT_EXEC));
  EXPECT_EQ(wire_kind(EventKind::Exit), static_cast<uint32_t>(TT_EVENT_EXIT));
  EXPECT_EQ(wire_kind(EventKind::Sample), static_cast<uint32_t>(TT_EVENT_SAMPLE));
  EXPECT_EQ(wire_kind(EventKind::Existing), static_cast<uint32_t>(TT_EVENT_EXISTING));
  EXPECT_EQ(wire_kind(EventKind::OomKill), static_cast<uint32_t>(TT_EVENT_OOM_KILL));
  // The literal values are the ABI with the BPF object: they never move.
  EXPECT_EQ(wire_kind(EventKind::Fork), 1u);
  EXPECT_EQ(wire_kind(EventKind::Exec), 2u);
  EXPECT_EQ(wire_kind(EventKind::Exit), 3u);
  EXPECT_EQ(wire_kind(EventKind::Sample), 4u);
  EXPECT_EQ(wire_kind(EventKind::Existing), 5u);
  EXPECT_EQ(wire_kind(EventKind::OomKill), 6u);
  std::set<uint32_t> seen;
  for (EventKind k : kEventKinds) {
    const uint32_t w = wire_kind(k);
    EXPECT_GT(w, 0u) << event_kind_name(k);
    EXPECT_LT(w, static_cast<uint32_t>(TT_EVENT_KIND_MAX)) << event_kind_name(k);
    EXPECT_TRUE(seen.insert(w).second) << event_kind_name(k);
  }
}

// A record of each wire kind, exactly its size, decodes to the EventKind
// whose wire_kind() it carries: decode and EventKind agree on the mapping.
template <typename Raw> void expect_decodes_as(EventKind k) {
  SCOPED_TRACE(event_kind_name(k));
  Raw raw{};
  raw.hdr.kind = wire_kind(k);
  raw.hdr.pid = 4242;
  const DecodeResult r = decode_event(&raw, sizeof raw);
  ASSERT_TRUE(r.event.has_value()) << to_string(r.error);
  EXPECT_EQ(kind_of(*r.event), k);
}

TEST(EventKind, DecodeMapsEachWireKindToItsKind) {
  expect_decodes_as<tt_fork_event>(EventKind::Fork);
  expect_decodes_as<tt_exec_event>(EventKind::Exec);
  expect_decodes_as<tt_exit_event>(EventKind::Exit);
  expect_decodes_as<tt_sample_event>(EventKind::Sample);
  expect_decodes_as<tt_existing_event>(EventKind::Existing);
  expect_decodes_as<tt_oom_kill_event>(EventKind::OomKill);
}

TEST(EventKindSet, NoneContainsNothing) {
  constexpr EventKindSet none;
  EXPECT_TRUE(none.empty());
  for (EventKind k : kEventKinds)
    EXPECT_FALSE(none.contains(k)) << event_kind_name(k);
  EXPECT_EQ(none, EventKindSet{});
}

TEST(EventKindSet, AllContainsEveryKind) {
  constexpr EventKindSet all = EventKindSet::all();
  EXPECT_FALSE(all.empty());
  for (EventKind k : kEventKinds)
    EXPECT_TRUE(all.contains(k)) << event_kind_name(k);
  EXPECT_NE(all, EventKindSet{});
  // Adding what it holds changes nothing.
  EventKindSet again = all;
  for (EventKind k : kEventKinds)
    again.add(k);
  EXPECT_EQ(again, all);
}

TEST(EventKindSet, AddedKindsOnly) {
  for (EventKind only : kEventKinds) {
    SCOPED_TRACE(event_kind_name(only));
    EventKindSet s;
    s.add(only);
    EXPECT_FALSE(s.empty());
    for (EventKind k : kEventKinds)
      EXPECT_EQ(s.contains(k), k == only) << event_kind_name(k);
    EXPECT_NE(s, EventKindSet::all());
  }
  EventKindSet oom_and_exit;
  oom_and_exit.add(EventKind::OomKill);
  oom_and_exit.add(EventKind::Exit);
  EventKindSet exit_and_oom;
  exit_and_oom.add(EventKind::Exit);
  exit_and_oom.add(EventKind::OomKill);
  EXPECT_EQ(oom_and_exit, exit_and_oom); // order of adding does not matter
  EXPECT_TRUE(oom_and_exit.contains(EventKind::OomKill));
  EXPECT_TRUE(oom_and_exit.contains(EventKind::Exit));
  EXPECT_FALSE(oom_and_exit.contains(EventKind::Sample));
  // Every kind added one by one is all().
  EventKindSet built;
  for (EventKind k : kEventKinds)
    built.add(k);
  EXPECT_EQ(built, EventKindSet::all());
}

} // namespace
} // namespace treetrace
