// Dicts, sets and instance attributes of the target, per version:
//   2.7        an open-addressing table of (hash, key, value) entries, in slot order;
//   3.6-3.10   a compact keys object: hash indices, then entries in insertion order; a split
//              dict keeps its values in ma_values[entry index];
//   3.11+      entries are general (hash, key, value) or, for str-only keys, (key, value); a
//              split dict's insertion order is a byte array beside its values (3.11/3.12: before
//              them, 3.13: after them);
//   instances  __dict__ at tp_dictoffset; 3.11+ a "managed" dict before the object, or values
//              alone (keys in the class's ht_cached_keys): 3.11 in a pointer before the object,
//              3.12 tagged in the dict pointer, 3.13 inline after the object header.
// Every count and pointer is checked and every scan bounded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "cpython/objects.h"
#include "cpython/py_types.h"

namespace pystack {

struct DictItem {
  uint64_t key = 0;
  uint64_t value = 0;
};

// Bounds on one hash table: its size as checked, and the entries one scan reads at most (a scan
// for the first items or one key of a real table ends long before).
inline constexpr uint64_t kMaxTableSlots = uint64_t{1} << 24;
inline constexpr uint64_t kMaxScannedEntries = uint64_t{1} << 20;

class DictReader {
 public:
  explicit DictReader(const ObjectReader& objects) : objects_(objects) {}

  // Calls `visit(key, value)` for each item of the dict at `dict` in iteration order until it
  // returns false.
  using Visitor = std::function<bool(uint64_t key, uint64_t value)>;
  absl::Status for_each(uint64_t dict, const Visitor& visit) const;

  // At most `max_items` items; `cut` tells whether more were left out.
  absl::Status items(uint64_t dict, size_t max_items, std::vector<DictItem>& out,
                     bool& cut) const;

  // The value under the str key `key` (ASCII), nullopt when there is none.
  absl::StatusOr<std::optional<uint64_t>> find(uint64_t dict, std::string_view key) const;

  // The elements of a set or frozenset in iteration order, at most `max_items`.
  absl::Status set_items(uint64_t set, size_t max_items, std::vector<uint64_t>& out,
                         bool& cut) const;

  // getattr(object, name) for an attribute kept in the instance's __dict__ (not class
  // attributes, properties or slots); nullopt when it has none by that name.
  absl::StatusOr<std::optional<uint64_t>> find_attribute(uint64_t object, const TypeInfo& type,
                                                         std::string_view name) const;

  // True when `object` is a str (Python 2: str or unicode) equal to the ASCII `text`.
  bool str_equals(uint64_t object, std::string_view text) const;

 private:
  absl::Status for_each_2(uint64_t dict, const Visitor& visit) const;
  absl::Status for_each_3(uint64_t dict, const Visitor& visit) const;
  // Entries of a keys object whose values live apart: `values` holds value i of entry i, and
  // `order` (when not empty) the entry indexes in insertion order.
  absl::Status for_each_split(uint64_t keys, uint64_t values, const std::vector<uint8_t>* order,
                              const Visitor& visit) const;
  absl::StatusOr<std::vector<uint8_t>> split_order(uint64_t values, uint64_t used) const;
  absl::StatusOr<std::optional<uint64_t>> find_in_values(uint64_t keys, uint64_t values,
                                                         std::string_view name) const;
  absl::StatusOr<uint64_t> cached_keys(const TypeInfo& type) const;

  const ObjectReader& objects_;
};

}  // namespace pystack
