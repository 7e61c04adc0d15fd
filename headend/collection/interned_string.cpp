#include "headend/collection/interned_string.hpp"

#include <functional>
#include <mutex>
#include <unordered_set>

namespace ami::collection {
namespace {

struct InternedHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// Node-based: an element's address never changes, so InternedString may point into it.
struct InternPool {
  std::mutex mutex;
  std::unordered_set<std::string, InternedHash, std::equal_to<>> values;
};

InternPool& intern_pool() {
  static InternPool* pool = new InternPool;  // never destroyed: targets may outlive static destruction
  return *pool;
}

const std::string* interned_empty() {
  static const std::string* empty = new std::string;
  return empty;
}

const std::string* intern(std::string_view text) {
  if (text.empty()) return interned_empty();  // default-constructed targets and jobs: no lock
  auto& pool = intern_pool();
  const std::lock_guard lock(pool.mutex);
  auto it = pool.values.find(text);
  if (it == pool.values.end()) it = pool.values.emplace(text).first;
  return &*it;
}

}  // namespace

InternedString::InternedString() : text_(interned_empty()) {}

InternedString::InternedString(std::string_view text) : text_(intern(text)) {}

}  // namespace ami::collection
