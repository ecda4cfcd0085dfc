// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// The one list of record kinds. Every layer switches on EventKind; the
// switches have no default, and the build makes an unhandled enumerator an
// error (-Werror=switch), so a new kind cannot be forgotten anywhere.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include "core/model.h"
#include "treetrace/events.h"

namespace treetrace {

enum class EventKind : uint8_t { Fork, Exec, Exit, Sample, Existing, OomKill };

inline constexpr std::array<EventKind, 6> kEventKinds = {EventKind::Fork,   EventKind::Exec,     EventKind::Exit,
                                                         EventKind::Sample, EventKind::Existing, EventKind::OomKill};

// Event's alternatives stand in EventKind order, so kind_of() is its index.
template <EventKind K, typename T>
inline constexpr bool kAlternativeIs = std::is_same_v<std::variant_alternative_t<static_cast<size_t>(K), Event>, T>;
static_assert(std::variant_size_v<Event> == kEventKinds.size(), "one Event alternative per EventKind");
static_assert(kAlternativeIs<EventKind::Fork, ForkEvent> && kAlternativeIs<EventKind::Exec, ExecEvent> &&
              kAlternativeIs<EventKind::Exit, ExitEvent> && kAlternativeIs<EventKind::Sample, SampleEvent> &&
              kAlternativeIs<EventKind::Existing, ExistingEvent> && kAlternativeIs<EventKind::OomKill, OomKillEvent>);
static_assert(TT_EVENT_KIND_MAX == kEventKinds.size() + 1, "events.h and EventKind list the same kinds");

inline EventKind kind_of(const Event &e) { return static_cast<EventKind>(e.index()); }

// The name used in --events, in JSON ("event") and in text output.
constexpr const char *event_kind_name(EventKind kind) {
  switch (kind) {
  case EventKind::Fork:
    return "fork";
  case EventKind::Exec:
    return "exec";
  case EventKind::Exit:
    return "exit";
  case EventKind::Sample:
    return "sample";
  case EventKind::Existing:
    return "existing";
  case EventKind::OomKill:
    return "oom_kill";
  }
  return "?"; // not reached: the switch covers every kind
}

inline std::optional<EventKind> event_kind_from_name(std::string_view name) {
  for (EventKind k : kEventKinds)
    if (name == event_kind_name(k))
      return k;
  return std::nullopt;
}

// The record kind on the wire (enum tt_event_kind).
constexpr uint32_t wire_kind(EventKind kind) {
  switch (kind) {
  case EventKind::Fork:
    return TT_EVENT_FORK;
  case EventKind::Exec:
    return TT_EVENT_EXEC;
  case EventKind::Exit:
    return TT_EVENT_EXIT;
  case EventKind::Sample:
    return TT_EVENT_SAMPLE;
  case EventKind::Existing:
    return TT_EVENT_EXISTING;
  case EventKind::OomKill:
    return TT_EVENT_OOM_KILL;
  }
  return 0;
}

// A set of kinds, e.g. which ones to print.
class EventKindSet {
public:
  constexpr EventKindSet() = default;
  static constexpr EventKindSet all() {
    EventKindSet s;
    for (EventKind k : kEventKinds)
      s.add(k);
    return s;
  }
  constexpr void add(EventKind k) { bits_ |= bit(k); }
  constexpr bool contains(EventKind k) const { return bits_ & bit(k); }
  constexpr bool empty() const { return bits_ == 0; }
  friend constexpr bool operator==(EventKindSet, EventKindSet) = default;

private:
  static constexpr uint32_t bit(EventKind k) { return 1u << static_cast<unsigned>(k); }
  uint32_t bits_ = 0;
};

} // namespace treetrace
