#include "storage/interned_string.hpp"

#include <functional>
#include <mutex>
#include <unordered_set>

namespace ami::storage {
namespace {

struct InternPoolHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Node-based: an element's address never changes, so InternedString may point into it.
struct InternPool {
  std::mutex mutex;
  std::unordered_set<std::string, InternPoolHash, std::equal_to<>> values;
};

InternPool& interned_string_pool() {
  static InternPool* pool = new InternPool;  // never destroyed: holders may outlive static destruction
  return *pool;
}

const std::string* interned_empty() {
  static const std::string* empty = new std::string;
  return empty;
}

const std::string* intern_in_pool(std::string_view text) {
  if (text.empty()) return interned_empty();  // default-constructed holders: no lock
  auto& pool = interned_string_pool();
  const std::lock_guard lock(pool.mutex);
  auto it = pool.values.find(text);
  if (it == pool.values.end()) it = pool.values.emplace(text).first;
  return &*it;
}

}  // namespace

InternedString::InternedString() : text_(interned_empty()) {}

InternedString::InternedString(std::string_view text) : text_(intern_in_pool(text)) {}

}  // namespace ami::storage
