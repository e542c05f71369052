#include "cpython/dict.h"

#include "cpython/image.h"

#include <cstring>

#include "absl/strings/str_format.h"

namespace pystack {
namespace {

constexpr size_t kEntriesPerRead = 256;
constexpr uint64_t kMaxSplitEntries = 255;  // the order array holds bytes

// Where a keys object's entries start and how they look.
struct KeysShape {
  uint64_t entries = 0;
  uint64_t nentries = 0;
  int64_t entry_size = 0;
  int64_t key_offset = 0;
  int64_t value_offset = 0;
};

// Reads the entries of `shape` (the first kMaxScannedEntries at most) kEntriesPerRead at a time
// and hands each read to `chunk(first, count, entries)`: entries [first, first + count), whose
// i-th starts at entries + i * entry_size. `chunk` returns false to stop, or an error to stop
// with it.
template <typename Chunk>
absl::Status scan_entries(const RemoteMemory& memory, const KeysShape& shape, Chunk chunk) {
  std::vector<uint8_t> buffer;
  for (uint64_t first = 0; first < std::min(shape.nentries, kMaxScannedEntries);
       first += kEntriesPerRead) {
    const uint64_t count = std::min<uint64_t>(kEntriesPerRead, shape.nentries - first);
    buffer.resize(count * shape.entry_size);
    if (absl::Status s =
            memory.read(shape.entries + first * shape.entry_size, buffer.data(), buffer.size());
        !s.ok()) {
      return s;
    }
    absl::StatusOr<bool> more = chunk(first, count, buffer.data());
    if (!more.ok()) return more.status();
    if (!*more) break;
  }
  return absl::OkStatus();
}

}  // namespace

bool DictReader::str_equals(uint64_t object, std::string_view text) const {
  absl::StatusOr<std::optional<PyText>> value = objects_.read_text(object, text.size() + 1);
  if (!value.ok() || !value->has_value()) return false;
  const PyText& t = **value;
  if (t.length != text.size() || t.code_points.size() != text.size()) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    if (t.code_points[i] != static_cast<unsigned char>(text[i])) return false;
  }
  return true;
}

absl::Status DictReader::for_each(uint64_t dict, const Visitor& visit) const {
  return objects_.release().dicts == DictModel::kPython2Table ? for_each_2(dict, visit)
                                                              : for_each_3(dict, visit);
}

absl::Status DictReader::items(uint64_t dict, size_t max_items, std::vector<DictItem>& out,
                               bool& cut) const {
  cut = false;
  return for_each(dict, [&](uint64_t key, uint64_t value) {
    if (out.size() >= max_items) {
      cut = true;
      return false;
    }
    out.push_back({key, value});
    return true;
  });
}

absl::StatusOr<std::optional<uint64_t>> DictReader::find(uint64_t dict,
                                                         std::string_view key) const {
  std::optional<uint64_t> found;
  absl::Status status = for_each(dict, [&](uint64_t k, uint64_t value) {
    if (!str_equals(k, key)) return true;
    found = value;
    return false;
  });
  if (!status.ok()) return status;
  return found;
}

// 2.7: ma_table holds ma_mask + 1 slots; a slot is in use when it has a key and a value (a
// deleted one keeps the dummy key and no value).
absl::Status DictReader::for_each_2(uint64_t dict, const Visitor& visit) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  absl::StatusOr<uint64_t> table = objects_.read_pointer(dict + layout.dict.keys);
  absl::StatusOr<int64_t> mask = read_value<int64_t>(memory, dict + layout.dict.mask);
  if (!table.ok() || !mask.ok()) return corrupt("unreadable dict", dict);
  if (*mask < 0 || static_cast<uint64_t>(*mask) >= kMaxTableSlots || (*mask & (*mask + 1)) != 0) {
    return corrupt("dict of impossible size", dict);
  }
  const KeysShape shape{*table, static_cast<uint64_t>(*mask) + 1, layout.dict_entry.size,
                        layout.dict_entry.key, layout.dict_entry.value};
  return scan_entries(
      memory, shape, [&](uint64_t, uint64_t count, const uint8_t* entries) -> absl::StatusOr<bool> {
        for (uint64_t i = 0; i < count; ++i) {
          const uint8_t* entry = entries + i * shape.entry_size;
          const uint64_t key = load_u64(entry + shape.key_offset);
          const uint64_t value = load_u64(entry + shape.value_offset);
          if (key != 0 && value != 0 && !visit(key, value)) return false;
        }
        return true;
      });
}

absl::Status DictReader::for_each_3(uint64_t dict, const Visitor& visit) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  absl::StatusOr<uint64_t> keys = objects_.read_pointer(dict + layout.dict.keys);
  absl::StatusOr<uint64_t> values = objects_.read_pointer(dict + layout.dict.values);
  absl::StatusOr<int64_t> used = read_value<int64_t>(memory, dict + layout.dict.used);
  if (!keys.ok() || !values.ok() || !used.ok()) return corrupt("unreadable dict", dict);
  if (*used < 0 || static_cast<uint64_t>(*used) > kMaxTableSlots) {
    return corrupt("dict of impossible size", dict);
  }
  if (*keys == 0) return corrupt("dict without keys", dict);
  if (*values == 0) return for_each_split(*keys, 0, nullptr, visit);
  // 3.6-3.10 split dicts iterate in entry order; 3.11+ keep an insertion-order array.
  if (objects_.release().dicts == DictModel::kCompactKeys) {
    return for_each_split(*keys, *values, nullptr, visit);
  }
  absl::StatusOr<std::vector<uint8_t>> order = split_order(*values, static_cast<uint64_t>(*used));
  if (!order.ok()) return order.status();
  return for_each_split(*keys, *values, &*order, visit);
}

// 3.11/3.12: order[i] is ((uint8_t *)values)[-3 - i]; 3.13: an array after values[capacity].
absl::StatusOr<std::vector<uint8_t>> DictReader::split_order(uint64_t values,
                                                            uint64_t used) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  if (used > kMaxSplitEntries) return corrupt("split dict of impossible size", values);
  std::vector<uint8_t> order(used);
  if (used == 0) return order;
  if (layout.dictvalues.values > 0) {
    absl::StatusOr<uint8_t> capacity = read_value<uint8_t>(memory, values);
    if (!capacity.ok()) return capacity.status();
    const uint64_t array = values + layout.dictvalues.values + *capacity * 8;
    if (absl::Status s = memory.read(array, order.data(), used); !s.ok()) return s;
    return order;
  }
  std::vector<uint8_t> before(used + 2);
  if (absl::Status s = memory.read(values - before.size(), before.data(), before.size()); !s.ok())
    return s;
  // before.back() is values[-1], so values[-3 - i] is before[size - 3 - i].
  for (uint64_t i = 0; i < used; ++i) order[i] = before[before.size() - 3 - i];
  return order;
}

absl::Status DictReader::for_each_split(uint64_t keys, uint64_t values,
                                        const std::vector<uint8_t>* order,
                                        const Visitor& visit) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  KeysShape shape;
  absl::StatusOr<int64_t> nentries = read_value<int64_t>(memory, keys + layout.dictkeys.nentries);
  if (!nentries.ok()) return corrupt("unreadable dict keys", keys);
  uint64_t size = 0;
  uint64_t index_bytes = 0;
  bool unicode_entries = false;
  if (objects_.release().dicts == DictModel::kKeysWithKind) {
    uint8_t header[3];
    if (absl::Status s = memory.read(keys + layout.dictkeys.log2_size, header, 3); !s.ok())
      return corrupt("unreadable dict keys", keys);
    // dk_log2_size, dk_log2_index_bytes, dk_kind are consecutive bytes.
    if (header[0] > 40 || header[1] > 43 || header[2] > 2) return corrupt("corrupt dict keys", keys);
    size = uint64_t{1} << header[0];
    index_bytes = uint64_t{1} << header[1];
    unicode_entries = header[2] != 0;
  } else {
    absl::StatusOr<int64_t> dk_size = read_value<int64_t>(memory, keys + layout.dictkeys.size);
    if (!dk_size.ok()) return corrupt("unreadable dict keys", keys);
    if (*dk_size <= 0 || (*dk_size & (*dk_size - 1)) != 0 ||
        static_cast<uint64_t>(*dk_size) > kMaxTableSlots) {
      return corrupt("corrupt dict keys", keys);
    }
    size = static_cast<uint64_t>(*dk_size);
    const uint64_t width = size <= 0xff ? 1 : size <= 0xffff ? 2 : size <= 0xffffffffULL ? 4 : 8;
    index_bytes = size * width;
  }
  if (*nentries < 0 || static_cast<uint64_t>(*nentries) > size ||
      static_cast<uint64_t>(*nentries) > kMaxTableSlots) {
    return corrupt("corrupt dict keys", keys);
  }
  shape.entries = keys + layout.dictkeys.indices + index_bytes;
  shape.nentries = static_cast<uint64_t>(*nentries);
  shape.entry_size = unicode_entries ? layout.dict_unicode_entry.size : layout.dict_entry.size;
  shape.key_offset = unicode_entries ? layout.dict_unicode_entry.key : layout.dict_entry.key;
  shape.value_offset = unicode_entries ? layout.dict_unicode_entry.value : layout.dict_entry.value;
  const uint64_t values_array = values + std::max<int64_t>(layout.dictvalues.values, 0);
  if (values != 0 && layout.dictvalues.values > 0) {
    // 3.13: the shared keys may have grown past this object's values array.
    absl::StatusOr<uint8_t> capacity = read_value<uint8_t>(memory, values);
    if (!capacity.ok()) return capacity.status();
    shape.nentries = std::min<uint64_t>(shape.nentries, *capacity);
  }

  if (order != nullptr) {
    for (uint8_t index : *order) {
      if (index >= shape.nentries) return corrupt("corrupt split dict order", values);
      absl::StatusOr<uint64_t> key =
          objects_.read_pointer(shape.entries + index * shape.entry_size + shape.key_offset);
      absl::StatusOr<uint64_t> value = objects_.read_pointer(values_array + index * 8);
      if (!key.ok() || !value.ok()) return corrupt("unreadable split dict", values);
      if (*key != 0 && *value != 0 && !visit(*key, *value)) break;
    }
    return absl::OkStatus();
  }
  std::vector<uint64_t> split_values;
  return scan_entries(
      memory, shape,
      [&](uint64_t first, uint64_t count, const uint8_t* entries) -> absl::StatusOr<bool> {
        if (values != 0) {
          split_values.resize(count);
          if (absl::Status s =
                  memory.read(values_array + first * 8, split_values.data(), count * 8);
              !s.ok()) {
            return s;
          }
        }
        for (uint64_t i = 0; i < count; ++i) {
          const uint8_t* entry = entries + i * shape.entry_size;
          const uint64_t key = load_u64(entry + shape.key_offset);
          const uint64_t value =
              values != 0 ? split_values[i] : load_u64(entry + shape.value_offset);
          if (key != 0 && value != 0 && !visit(key, value)) return false;
        }
        return true;
      });
}

absl::Status DictReader::set_items(uint64_t set, size_t max_items, std::vector<uint64_t>& out,
                                   bool& cut) const {
  const Layout& layout = objects_.layout();
  const RemoteMemory& memory = objects_.memory();
  cut = false;
  absl::StatusOr<uint64_t> table = objects_.read_pointer(set + layout.set.table);
  absl::StatusOr<int64_t> mask = read_value<int64_t>(memory, set + layout.set.mask);
  absl::StatusOr<int64_t> used = read_value<int64_t>(memory, set + layout.set.used);
  if (!table.ok() || !mask.ok() || !used.ok()) return corrupt("unreadable set", set);
  if (*mask < 0 || static_cast<uint64_t>(*mask) >= kMaxTableSlots || (*mask & (*mask + 1)) != 0 ||
      *used < 0 || *used > *mask + 1) {
    return corrupt("set of impossible size", set);
  }
  // setentry: {key, hash} in 3.x, {hash, key} in 2.7. A deleted slot holds the dummy key; 3.x
  // also sets its hash to -1, which no real element has.
  const int64_t hash_offset = layout.set_entry.key == 0 ? 8 : 0;
  const bool python2 = objects_.release().strings == StringModel::kPython2;  // its dummy key
  const KeysShape shape{*table, static_cast<uint64_t>(*mask) + 1, layout.set_entry.size,
                        layout.set_entry.key, hash_offset};
  // Reading stops after the read in which every element in use was found.
  if (*used == 0) return absl::OkStatus();
  uint64_t found = 0;
  return scan_entries(
      memory, shape, [&](uint64_t, uint64_t count, const uint8_t* entries) -> absl::StatusOr<bool> {
        for (uint64_t i = 0; i < count; ++i) {
          const uint8_t* entry = entries + i * shape.entry_size;
          const uint64_t key = load_u64(entry + shape.key_offset);
          const auto hash = static_cast<int64_t>(load_u64(entry + hash_offset));
          if (key == 0 || (!python2 && hash == -1)) continue;
          if (python2 && str_equals(key, "<dummy key>")) continue;
          if (out.size() >= max_items) {
            cut = true;
            return false;
          }
          out.push_back(key);
          ++found;
        }
        return found < static_cast<uint64_t>(*used);
      });
}

absl::StatusOr<uint64_t> DictReader::cached_keys(const TypeInfo& type) const {
  if (!type.heap() || objects_.layout().heaptype.cached_keys < 0) return uint64_t{0};
  return objects_.read_pointer(type.address + objects_.layout().heaptype.cached_keys);
}

absl::StatusOr<std::optional<uint64_t>> DictReader::find_in_values(uint64_t keys, uint64_t values,
                                                                   std::string_view name) const {
  std::optional<uint64_t> found;
  absl::Status status = for_each_split(keys, values, nullptr, [&](uint64_t key, uint64_t value) {
    if (!str_equals(key, name)) return true;
    found = value;
    return false;
  });
  if (!status.ok()) return status;
  return found;
}

absl::StatusOr<std::optional<uint64_t>> DictReader::find_attribute(uint64_t object,
                                                                   const TypeInfo& type,
                                                                   std::string_view name) const {
  const ManagedDict model = objects_.release().managed_dict;
  const bool managed = model != ManagedDict::kNone && (type.flags & kTpFlagsManagedDict);
  if (!managed) {
    if (type.dictoffset <= 0 || type.dictoffset > (1 << 20)) return std::optional<uint64_t>();
    absl::StatusOr<uint64_t> dict = objects_.read_pointer(object + type.dictoffset);
    if (!dict.ok()) return dict.status();
    if (*dict == 0) return std::optional<uint64_t>();
    return find(*dict, name);
  }
  // The managed dict pointer is before the object (MANAGED_DICT_OFFSET: three words, one in a
  // free-threaded build, which has no PyGC_Head).
  const int64_t dict_offset = objects_.layout().object.managed_dict;
  if (dict_offset >= 0 || dict_offset < -64) return std::optional<uint64_t>();
  const uint64_t dict_slot = object - static_cast<uint64_t>(-dict_offset);
  absl::StatusOr<uint64_t> word = objects_.read_pointer(dict_slot);
  if (!word.ok()) return word.status();
  uint64_t values = 0;
  if (model == ManagedDict::kPointers311) {
    if (*word != 0) return find(*word, name);
    absl::StatusOr<uint64_t> v = objects_.read_pointer(dict_slot - 8);  // 3.11's values, below
    if (!v.ok()) return v.status();
    values = *v;
  } else if (model == ManagedDict::kTaggedValues312) {
    if ((*word & 1) == 0) {
      if (*word == 0) return std::optional<uint64_t>();
      return find(*word, name);
    }
    values = *word + 1;
  } else {
    if (*word != 0) return find(*word, name);
    if (!(type.flags & kTpFlagsInlineValues)) return std::optional<uint64_t>();
    values = object + static_cast<uint64_t>(type.basicsize);
    absl::StatusOr<uint8_t> valid = read_value<uint8_t>(objects_.memory(), values + 3);
    if (!valid.ok()) return valid.status();
    if (*valid == 0) return std::optional<uint64_t>();
  }
  if (values == 0) return std::optional<uint64_t>();
  absl::StatusOr<uint64_t> keys = cached_keys(type);
  if (!keys.ok()) return keys.status();
  if (*keys == 0) return std::optional<uint64_t>();
  return find_in_values(*keys, values, name);
}

}  // namespace pystack
