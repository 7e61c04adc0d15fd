// collection::InternedString: the process's one interning pool (storage/interned_string.hpp, where
// the class and its rules live: a pointer per holder, one never-freed copy per distinct value,
// constructing one locks the pool, reads take no lock). The collection engine holds its targets'
// protocol and channel key this way, and hands the channel key on to storage::AttemptRecord as
// the same pointer. This header adds only the fmt formatter (storage does not depend on fmt).
#pragma once

#include <string_view>

#include <fmt/core.h>

#include "storage/interned_string.hpp"

namespace ami::collection {

using InternedString = storage::InternedString;

}  // namespace ami::collection

template <>
struct fmt::formatter<ami::storage::InternedString> : fmt::formatter<std::string_view> {
  template <class FormatContext>
  auto format(const ami::storage::InternedString& s, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(s.view(), ctx);
  }
};
