// SPDX-License-Identifier: GPL-2.0-only OR BSD-2-Clause
// Items to bytes and back. An event is flattened through its field list
// (visit_body below, one per kind, walked by both directions) into numbers
// and strings; each is written as its difference from the previous record
// of the same kind and pid, and only when it changed. A sample of an idle
// process is then its kind, a time delta, its pid and a few changed
// counters: 10-20 bytes before zstd.
#include "core/record_codec.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <unordered_map>

#include "core/event_kind.h"

namespace treetrace::record_codec {

void put_varint(std::string &out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

namespace {

uint64_t zigzag(int64_t v) { return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63); }
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void put_string(std::string &out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

// Reads what put_* wrote; any overrun or bound makes ok() false for good.
class Cursor {
public:
  explicit Cursor(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  bool ok() const { return ok_; }
  bool at_end() const { return p_ == end_; }
  void fail() { ok_ = false; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ == end_) {
        ok_ = false;
        return 0;
      }
      const uint8_t byte = static_cast<uint8_t>(*p_++);
      if (shift == 63 && byte > 1) { // the tenth byte may hold one bit only
        ok_ = false;
        return 0;
      }
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (!(byte & 0x80))
        return v;
    }
    ok_ = false;
    return 0;
  }
  uint8_t byte() {
    if (p_ == end_) {
      ok_ = false;
      return 0;
    }
    return static_cast<uint8_t>(*p_++);
  }
  std::string string(size_t max) {
    const uint64_t n = varint();
    if (!ok_ || n > max || n > static_cast<uint64_t>(end_ - p_)) {
      ok_ = false;
      return {};
    }
    std::string s(p_, n);
    p_ += n;
    return s;
  }
  // A count of things each at least min_bytes long, checked against what is left.
  uint64_t count(uint64_t max, size_t min_bytes = 1) {
    const uint64_t n = varint();
    if (!ok_ || n > max || n * min_bytes > static_cast<uint64_t>(end_ - p_))
      ok_ = false;
    return ok_ ? n : 0;
  }

private:
  const char *p_;
  const char *end_;
  bool ok_ = true;
};

// ---- The field lists: one per record kind, walked by Flatten and Restore.

// The byte*ns integral is a double made from the kernel's KiB*us counter
// (core/decode.cpp); it is stored as that counter when that gives the same
// double back exactly, and as its bits otherwise.
constexpr double kIntegralScale = 1024.0 * 1000.0;

template <class V> void visit_header(EventHeader &h, V &v) {
  v.num(h.proc.start_ns);
  v.num(h.ppid);
  v.num(h.ns_pid);
  v.num(h.cgroup_id);
  v.str(h.comm, kMaxShortString);
}

// Memory comes in pages and spans in microseconds (core/decode.cpp), and
// system time is what user time leaves of the CPU time: stored that way,
// most changes take a byte or two and the system time none.
constexpr uint64_t kPage = 4096;

template <class V> void visit_counters(ProcCounters &c, V &v) {
  v.num(c.cpu_ns);
  v.num(c.cpu_user_ns);
  v.beyond(c.cpu_sys_ns, c.cpu_ns - std::min(c.cpu_ns, c.cpu_user_ns));
  v.scaled(c.rss_bytes, kPage);
  v.scaled(c.rss_anon_bytes, kPage);
  v.scaled(c.rss_file_bytes, kPage);
  v.scaled(c.rss_shmem_bytes, kPage);
  v.scaled(c.rss_peak_bytes, kPage);
  v.scaled(c.rss_peak_sampled_bytes, kPage);
  v.integral(c.rss_integral_byte_ns);
  v.scaled(c.rss_integral_span_ns, 1000);
}

template <class V> void visit_activity(ProcActivity &a, V &v) {
  v.num(a.minflt);
  v.num(a.majflt);
  v.num(a.nvcsw);
  v.num(a.nivcsw);
}

template <class V> void visit_body(ForkEvent &e, V &v) {
  visit_header(e.hdr, v);
  v.num(e.child.pid);
  v.num(e.child.start_ns);
  v.num(e.child_ns_pid);
}
template <class V> void visit_body(ExecEvent &e, V &v) {
  visit_header(e.hdr, v);
  v.str(e.old_comm, kMaxShortString);
  v.num(e.exec_tid);
  v.str(e.filename, kMaxShortString);
  v.num(e.filename_truncated);
  v.str_list(e.argv, kMaxArgvBytes);
  v.num(e.argv_truncated);
}
template <class V> void visit_body(ExitEvent &e, V &v) {
  visit_header(e.hdr, v);
  visit_counters(e.counters, v);
  visit_activity(e.activity, v);
  v.num(e.wait_status);
  v.num(e.exit_code);
  v.num(e.signal);
  v.num(e.core_dumped);
  v.enumerated(e.mem_source, ExitMemSource::None);
  v.num(e.oom_killed);
}
template <class V> void visit_body(SampleEvent &e, V &v) {
  visit_header(e.hdr, v);
  visit_counters(e.counters, v);
  visit_activity(e.activity, v);
  v.enumerated(e.origin, SampleOrigin::Refresh);
}
template <class V> void visit_body(ExistingEvent &e, V &v) {
  visit_header(e.hdr, v);
  v.num(e.nr_threads);
  v.num(e.kernel_thread);
}
template <class V> void visit_body(OomKillEvent &e, V &v) {
  visit_header(e.hdr, v);
  v.num(e.rss_anon_bytes);
  v.num(e.rss_file_bytes);
  v.num(e.rss_shmem_bytes);
  v.num(e.rss_peak_bytes);
  v.num(e.context_known);
  v.enumerated(e.constraint, OomConstraint::Memcg);
  v.num(e.memcg_id);
  v.num(e.memcg_hierarchy_id);
  v.optional(e.memcg_limit_bytes);
  v.num(e.memcg_usage_bytes);
  v.num(e.trigger_pid);
  v.num(e.victim_pid_only);
}

// Event -> numbers and strings.
struct Flatten {
  std::vector<uint64_t> nums;
  std::vector<std::string> strs;

  template <class T> void num(T &x) {
    if constexpr (std::is_signed_v<T>)
      nums.push_back(static_cast<uint64_t>(static_cast<int64_t>(x)));
    else
      nums.push_back(static_cast<uint64_t>(x));
  }
  template <class E> void enumerated(E &x, E) { nums.push_back(static_cast<uint64_t>(x)); }
  // x as quotient and remainder by unit (the remainder is 0 when x is whole units).
  void scaled(uint64_t &x, uint64_t unit) {
    nums.push_back(x / unit);
    nums.push_back(x % unit);
  }
  // x as its difference from what the fields before it imply.
  void beyond(uint64_t &x, uint64_t expected) { nums.push_back(x - expected); }
  void integral(double &d) {
    const double k = std::nearbyint(d / kIntegralScale);
    const bool exact = k >= 0 && k < 0x1p63 && static_cast<double>(static_cast<uint64_t>(k)) * kIntegralScale == d;
    nums.push_back(exact ? static_cast<uint64_t>(k) : 0);
    nums.push_back(exact ? 0 : std::bit_cast<uint64_t>(d)); // never 0: d == +0.0 is exact
  }
  void optional(std::optional<uint64_t> &x) {
    nums.push_back(x.has_value());
    nums.push_back(x.value_or(0));
  }
  void str(std::string &s, size_t) { strs.push_back(s); }
  void strs_(std::vector<std::string> &list) {
    nums.push_back(list.size());
    std::string joined;
    for (size_t i = 0; i < list.size(); ++i) {
      if (i)
        joined.push_back('\0');
      joined += list[i];
    }
    strs.push_back(std::move(joined));
  }
  void str_list(std::vector<std::string> &list, size_t) { strs_(list); }
};

// Numbers and strings -> event, validating every value against its field.
struct Restore {
  const std::vector<uint64_t> &nums;
  const std::vector<std::string> &strs;
  size_t next_num = 0, next_str = 0;
  bool ok = true;

  uint64_t take() {
    if (next_num >= nums.size()) {
      ok = false;
      return 0;
    }
    return nums[next_num++];
  }
  template <class T> void num(T &x) {
    const uint64_t raw = take();
    if constexpr (std::is_same_v<T, bool>) {
      ok &= raw <= 1;
      x = raw == 1;
    } else if constexpr (std::is_signed_v<T>) {
      const auto v = static_cast<int64_t>(raw);
      ok &= v >= std::numeric_limits<T>::min() && v <= std::numeric_limits<T>::max();
      x = static_cast<T>(v);
    } else {
      ok &= raw <= std::numeric_limits<T>::max();
      x = static_cast<T>(raw);
    }
  }
  void scaled(uint64_t &x, uint64_t unit) {
    const uint64_t q = take(), r = take();
    ok &= r < unit && q <= (UINT64_MAX - r) / unit;
    x = q * unit + r;
  }
  void beyond(uint64_t &x, uint64_t expected) { x = take() + expected; }
  template <class E> void enumerated(E &x, E max) {
    const uint64_t raw = take();
    ok &= raw <= static_cast<uint64_t>(max);
    x = static_cast<E>(raw);
  }
  void integral(double &d) {
    const uint64_t k = take(), bits = take();
    d = bits ? std::bit_cast<double>(bits) : static_cast<double>(k) * kIntegralScale;
    ok &= !(bits && k);
  }
  void optional(std::optional<uint64_t> &x) {
    const uint64_t has = take(), v = take();
    ok &= has <= 1 && (has || v == 0);
    if (has)
      x = v;
  }
  void str(std::string &s, size_t max) {
    if (next_str >= strs.size() || strs[next_str].size() > max) {
      ok = false;
      return;
    }
    s = strs[next_str++];
  }
  void str_list(std::vector<std::string> &list, size_t max) {
    const uint64_t count = take();
    std::string joined;
    str(joined, max);
    if (!ok)
      return;
    list.clear();
    if (count == 0) {
      ok &= joined.empty();
      return;
    }
    size_t start = 0;
    for (;;) {
      const size_t nul = joined.find('\0', start);
      list.push_back(joined.substr(start, nul == std::string::npos ? std::string::npos : nul - start));
      if (nul == std::string::npos)
        break;
      start = nul + 1;
    }
    ok &= list.size() == count;
  }
};

Event blank_event(EventKind kind) {
  switch (kind) {
  case EventKind::Fork:
    return ForkEvent{};
  case EventKind::Exec:
    return ExecEvent{};
  case EventKind::Exit:
    return ExitEvent{};
  case EventKind::Sample:
    return SampleEvent{};
  case EventKind::Existing:
    return ExistingEvent{};
  case EventKind::OomKill:
    return OomKillEvent{};
  }
  return ForkEvent{}; // not reached
}

template <class V> void visit_event(Event &e, V &v) {
  std::visit([&](auto &alt) { visit_body(alt, v); }, e);
}

EventHeader &header_of(Event &e) {
  return std::visit([](auto &alt) -> EventHeader & { return alt.hdr; }, e);
}

} // namespace

struct DeltaTable {
  struct Previous {
    std::vector<uint64_t> nums;
    std::vector<std::string> strs;
  };
  std::unordered_map<uint64_t, Previous> by_key;
  // The decoder's working copy of one record's values, kept so that
  // decoding a record allocates nothing once these have grown.
  Previous scratch;

  static uint64_t key(uint32_t pid, EventKind kind) {
    return (static_cast<uint64_t>(pid) << 3) | static_cast<uint8_t>(kind);
  }
  // The previous values of this pid and kind, created empty (zeros) when new.
  Previous &previous(uint32_t pid, EventKind kind, size_t nums, size_t strs) {
    const uint64_t k = key(pid, kind);
    auto it = by_key.find(k);
    if (it == by_key.end()) {
      if (by_key.size() >= kMaxDeltaStates)
        by_key.clear(); // both sides clear at the same record
      it = by_key.emplace(k, Previous{std::vector<uint64_t>(nums, 0), std::vector<std::string>(strs)}).first;
    }
    return it->second;
  }
  // An exited pid's next records belong to another process.
  void forget(uint32_t pid) {
    for (EventKind kind : kEventKinds)
      by_key.erase(key(pid, kind));
  }
};

namespace {

void encode_event(const Event &event, DeltaTable &deltas, uint64_t &last_ts, std::string &p) {
  Event copy = event; // the field list walks mutable references
  const EventKind kind = kind_of(copy);
  EventHeader &h = header_of(copy);
  p.push_back(static_cast<char>(kind));
  put_varint(p, zigzag(static_cast<int64_t>(h.ts_ns - last_ts)));
  last_ts = h.ts_ns;
  put_varint(p, h.proc.pid);
  Flatten flat;
  visit_event(copy, flat);
  DeltaTable::Previous &prev = deltas.previous(h.proc.pid, kind, flat.nums.size(), flat.strs.size());
  uint64_t mask = 0;
  for (size_t i = 0; i < flat.nums.size(); ++i)
    if (flat.nums[i] != prev.nums[i])
      mask |= uint64_t{1} << i;
  put_varint(p, mask);
  for (size_t i = 0; i < flat.nums.size(); ++i)
    if (mask & (uint64_t{1} << i))
      put_varint(p, zigzag(static_cast<int64_t>(flat.nums[i] - prev.nums[i])));
  uint64_t smask = 0;
  for (size_t i = 0; i < flat.strs.size(); ++i)
    if (flat.strs[i] != prev.strs[i])
      smask |= uint64_t{1} << i;
  put_varint(p, smask);
  for (size_t i = 0; i < flat.strs.size(); ++i)
    if (smask & (uint64_t{1} << i))
      put_string(p, flat.strs[i]);
  prev.nums = std::move(flat.nums);
  prev.strs = std::move(flat.strs);
  if (kind == EventKind::Exit)
    deltas.forget(h.proc.pid);
}

void put_optional(std::string &p, const std::optional<uint64_t> &v) {
  p.push_back(v ? 1 : 0);
  if (v)
    put_varint(p, *v);
}

struct ItemWriter {
  DeltaTable &deltas;
  uint64_t &last_ts_ns;
  std::string &p;

  Tag operator()(const RecordingMeta &m) {
    for (const std::string *str : {&m.treetrace_version, &m.hostname, &m.kernel, &m.command, &m.group_by})
      put_string(p, *str);
    put_varint(p, m.start_ns);
    put_varint(p, zigzag(m.realtime_offset_ns));
    put_varint(p, m.interval_ns);
    put_varint(p, m.max_live_procs);
    put_varint(p, (m.init_children_are_roots ? 1u : 0u) | (m.per_process ? 2u : 0u));
    return Tag::Meta;
  }
  Tag operator()(const Event &e) {
    encode_event(e, deltas, last_ts_ns, p);
    return Tag::Event;
  }
  Tag operator()(const RecordedCgroup &c) {
    put_varint(p, c.id);
    put_string(p, c.path);
    return Tag::Cgroup;
  }
  Tag operator()(const RecordedTick &t) {
    put_varint(p, t.now_ns);
    p.push_back(static_cast<char>((t.final ? 1 : 0) | (t.only_tree ? 2 : 0)));
    if (t.only_tree) {
      put_varint(p, t.only_tree->pid);
      put_varint(p, t.only_tree->start_ns);
    }
    put_varint(p, t.rows.size());
    for (const RecordedRow &r : t.rows) {
      put_varint(p, r.root.pid);
      put_varint(p, r.root.start_ns);
      put_string(p, r.group);
      put_optional(p, r.pss_bytes);
      put_optional(p, r.memcg_current_bytes);
      put_optional(p, r.memcg_peak_bytes);
      put_optional(p, r.memcg_limit_bytes);
    }
    return Tag::Tick;
  }
  Tag operator()(const RecordedLoss &l) {
    for (uint64_t v :
         {l.now_ns, l.attempts, l.delivered, l.dropped_kernel, l.dropped_output, l.proc_table_full, l.procs_untracked})
      put_varint(p, v);
    return Tag::Loss;
  }
  Tag operator()(const RecordedReconcile &r) {
    put_varint(p, r.now_ns);
    put_varint(p, r.live.size());
    for (const auto &lp : r.live) {
      put_varint(p, lp.key.pid);
      put_varint(p, lp.key.start_ns);
      put_varint(p, lp.ppid);
      put_string(p, lp.comm);
    }
    return Tag::Reconcile;
  }
  Tag operator()(const RecordedStartupDone &) { return Tag::StartupDone; }
  Tag operator()(const RecordedEnd &e) {
    put_varint(p, e.now_ns);
    put_varint(p, e.wall_ns);
    p.push_back(static_cast<char>((e.exit_code ? 1 : 0) | (e.signal ? 2 : 0)));
    if (e.exit_code)
      put_varint(p, zigzag(*e.exit_code));
    if (e.signal)
      put_varint(p, zigzag(*e.signal));
    put_string(p, e.stop_reason);
    return Tag::End;
  }
};

} // namespace

// ---- Decoder

ItemDecoder::ItemDecoder() : deltas_(std::make_unique<DeltaTable>()) {}
ItemDecoder::~ItemDecoder() = default;

namespace {

std::optional<uint64_t> get_optional(Cursor &c) {
  const uint8_t has = c.byte();
  if (has > 1)
    c.fail();
  if (has != 1)
    return std::nullopt;
  return c.varint();
}

// How many numbers and strings each kind's field list has: fixed by
// visit_body, so counted once.
struct Shape {
  size_t nums = 0, strs = 0;
};
const Shape &shape_of(EventKind kind) {
  static const std::array<Shape, kEventKinds.size()> shapes = [] {
    std::array<Shape, kEventKinds.size()> out{};
    for (EventKind k : kEventKinds) {
      Event blank = blank_event(k);
      Flatten flat;
      visit_event(blank, flat);
      out[static_cast<size_t>(k)] = {flat.nums.size(), flat.strs.size()};
    }
    return out;
  }();
  return shapes[static_cast<size_t>(kind)];
}

Result<RecordingItem> decode_event(Cursor &c, DeltaTable &deltas, uint64_t &last_ts) {
  const uint8_t raw_kind = c.byte();
  if (!c.ok() || raw_kind >= kEventKinds.size())
    return Error("unknown record kind " + std::to_string(raw_kind));
  const auto kind = static_cast<EventKind>(raw_kind);
  const uint64_t ts = last_ts + static_cast<uint64_t>(unzigzag(c.varint()));
  const uint64_t pid = c.varint();
  if (!c.ok() || pid > std::numeric_limits<uint32_t>::max())
    return Error("malformed record header");
  // Built in place in the item it is returned as: an event is a few
  // hundred bytes, and moving it costs more than decoding it.
  RecordingItem item(std::in_place_type<Event>, blank_event(kind));
  Event &event = std::get<Event>(item);
  const Shape &shape = shape_of(kind);
  if (shape.nums > 64 || shape.strs > 64)
    return Error("record kind with too many fields"); // not reached: the lists are short
  DeltaTable::Previous &prev = deltas.previous(static_cast<uint32_t>(pid), kind, shape.nums, shape.strs);
  const uint64_t mask = c.varint();
  if (shape.nums < 64 && (mask >> shape.nums))
    return Error("record changes fields it does not have");
  // The new values are built in the scratch copy and swapped in only when
  // the record is good, so a bad record leaves the state as it was.
  std::vector<uint64_t> &nums = deltas.scratch.nums;
  nums.assign(prev.nums.begin(), prev.nums.end());
  for (size_t i = 0; i < nums.size(); ++i)
    if (mask & (uint64_t{1} << i))
      nums[i] = prev.nums[i] + static_cast<uint64_t>(unzigzag(c.varint()));
  const uint64_t smask = c.varint();
  if (shape.strs < 64 && (smask >> shape.strs))
    return Error("record changes strings it does not have");
  std::vector<std::string> &strs = deltas.scratch.strs;
  strs.resize(prev.strs.size());
  for (size_t i = 0; i < strs.size(); ++i)
    if (smask & (uint64_t{1} << i))
      strs[i] = c.string(kMaxArgvBytes);
    else
      strs[i] = prev.strs[i];
  if (!c.ok() || !c.at_end())
    return Error("malformed record");
  Restore restore{nums, strs};
  visit_event(event, restore);
  if (!restore.ok)
    return Error("record with a value out of range");
  EventHeader &h = header_of(event);
  h.ts_ns = ts;
  h.proc.pid = static_cast<uint32_t>(pid);
  last_ts = ts;
  prev.nums.swap(nums);
  prev.strs.swap(strs);
  if (kind == EventKind::Exit)
    deltas.forget(static_cast<uint32_t>(pid));
  return item;
}

} // namespace

Result<RecordingItem> ItemDecoder::decode(Tag tag, std::string_view payload) {
  Cursor c(payload);
  auto finish = [&](RecordingItem item) -> Result<RecordingItem> {
    if (!c.ok() || !c.at_end())
      return Error("malformed item (tag " + std::to_string(static_cast<int>(tag)) + ")");
    return item;
  };
  switch (tag) {
  case Tag::Meta: {
    RecordingMeta m;
    for (std::string *s : {&m.treetrace_version, &m.hostname, &m.kernel, &m.command, &m.group_by})
      *s = c.string(kMaxShortString);
    m.start_ns = c.varint();
    m.realtime_offset_ns = unzigzag(c.varint());
    m.interval_ns = c.varint();
    m.max_live_procs = c.varint();
    const uint64_t flags = c.varint();
    if (flags > 3 || m.max_live_procs > (1u << 24))
      c.fail();
    m.init_children_are_roots = flags & 1;
    m.per_process = flags & 2;
    return finish(std::move(m));
  }
  case Tag::Event:
    return decode_event(c, *deltas_, last_ts_ns_);
  case Tag::Cgroup: {
    RecordedCgroup g;
    g.id = c.varint();
    g.path = c.string(kMaxShortString);
    return finish(std::move(g));
  }
  case Tag::Tick: {
    RecordedTick t;
    t.now_ns = c.varint();
    const uint8_t flags = c.byte();
    if (flags > 3)
      c.fail();
    t.final = flags & 1;
    if (flags & 2) {
      ProcKey k;
      const uint64_t pid = c.varint();
      k.start_ns = c.varint();
      if (pid > std::numeric_limits<uint32_t>::max())
        c.fail();
      k.pid = static_cast<uint32_t>(pid);
      t.only_tree = k;
    }
    const uint64_t n = c.count(kMaxRows, 7);
    for (uint64_t i = 0; i < n && c.ok(); ++i) {
      RecordedRow r;
      const uint64_t pid = c.varint();
      if (pid > std::numeric_limits<uint32_t>::max())
        c.fail();
      r.root.pid = static_cast<uint32_t>(pid);
      r.root.start_ns = c.varint();
      r.group = c.string(kMaxShortString);
      r.pss_bytes = get_optional(c);
      r.memcg_current_bytes = get_optional(c);
      r.memcg_peak_bytes = get_optional(c);
      r.memcg_limit_bytes = get_optional(c);
      t.rows.push_back(std::move(r));
    }
    return finish(std::move(t));
  }
  case Tag::Loss: {
    RecordedLoss l;
    for (uint64_t *v : {&l.now_ns, &l.attempts, &l.delivered, &l.dropped_kernel, &l.dropped_output, &l.proc_table_full,
                        &l.procs_untracked})
      *v = c.varint();
    return finish(l);
  }
  case Tag::Reconcile: {
    RecordedReconcile r;
    r.now_ns = c.varint();
    const uint64_t n = c.count(kMaxRows, 4);
    for (uint64_t i = 0; i < n && c.ok(); ++i) {
      Aggregator::LiveProcess lp;
      const uint64_t pid = c.varint();
      lp.key.start_ns = c.varint();
      const uint64_t ppid = c.varint();
      if (pid > std::numeric_limits<uint32_t>::max() || ppid > std::numeric_limits<uint32_t>::max())
        c.fail();
      lp.key.pid = static_cast<uint32_t>(pid);
      lp.ppid = static_cast<uint32_t>(ppid);
      lp.comm = c.string(kMaxShortString);
      r.live.push_back(std::move(lp));
    }
    return finish(std::move(r));
  }
  case Tag::StartupDone:
    return finish(RecordedStartupDone{});
  case Tag::End: {
    RecordedEnd e;
    e.now_ns = c.varint();
    e.wall_ns = c.varint();
    const uint8_t flags = c.byte();
    if (flags > 3)
      c.fail();
    auto small_int = [&]() {
      const int64_t v = unzigzag(c.varint());
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max())
        c.fail();
      return static_cast<int>(v);
    };
    if (flags & 1)
      e.exit_code = small_int();
    if (flags & 2)
      e.signal = small_int();
    e.stop_reason = c.string(kMaxShortString);
    return finish(std::move(e));
  }
  }
  return Error("unknown item tag " + std::to_string(static_cast<int>(tag)));
}

} // namespace treetrace::record_codec

namespace treetrace {

// ---- Encoder

struct RecordingEncoder::State {
  record_codec::DeltaTable deltas;
  uint64_t last_ts_ns = 0;
  std::string payload;
};

RecordingEncoder::RecordingEncoder() : state_(std::make_unique<State>()) {}
RecordingEncoder::~RecordingEncoder() = default;
RecordingEncoder::RecordingEncoder(RecordingEncoder &&) noexcept = default;
RecordingEncoder &RecordingEncoder::operator=(RecordingEncoder &&) noexcept = default;

std::string RecordingEncoder::header() {
  std::string h;
  auto put32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i)
      h.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  };
  // A zstd skippable frame (magic 0x184D2A50..5F, then the content size).
  put32(0x184D2A5Bu);
  put32(16);
  h.append("TTREC", 6); // with its NUL
  h.push_back(static_cast<char>(kRecordingFormatVersion & 0xff));
  h.push_back(static_cast<char>(kRecordingFormatVersion >> 8));
  put32(0); // flags (none yet) and reserved
  put32(0); // reserved
  return h;
}

void RecordingEncoder::encode(const RecordingItem &item, std::string &out) {
  std::string &p = state_->payload;
  p.clear();
  p.push_back(0); // the tag, set below
  const record_codec::Tag tag = std::visit(record_codec::ItemWriter{state_->deltas, state_->last_ts_ns, p}, item);
  p[0] = static_cast<char>(tag);
  record_codec::put_varint(out, p.size());
  out += p;
}

} // namespace treetrace
