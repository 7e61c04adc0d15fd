// The process's one string-interning pool: a read-only string held once per distinct value for
// the life of the process. A meter target's protocol and channel key, and a queued attempt's
// channel, are the same few strings for 100,000 meters (one per gateway), so each holder keeps a
// pointer (8 bytes) instead of its own std::string (32 bytes, plus a heap copy for a channel key
// longer than the 15-character small-string buffer). docs/PERFORMANCE.md, "Where the memory goes".
// It lives here, below headend/, because storage's own records (AttemptRecord) hold such values;
// the collection engine uses it as collection::InternedString (headend/collection/interned_string.hpp,
// which also teaches fmt to format it).
//
// Reads like a const std::string: converts to const std::string& and std::string_view, compares
// with strings and literals, concatenates. Equal values are the same pointer, so comparing two
// InternedStrings is one pointer compare.
// Ownership: the pool owns every value and only grows (values are never freed, not even at exit):
// fine for registry protocols, channel keys and attempt outcome names, whose distinct values are
// bounded by what was ever configured; do not intern per-read or per-meter text.
// Threads: constructing one locks the process-wide pool (any thread); copies and reads take no lock.
// Errors: none (only std::bad_alloc).
#pragma once

#include <string>
#include <string_view>

namespace ami::storage {

class InternedString {
 public:
  InternedString();  // ""
  InternedString(std::string_view text);  // NOLINT(google-explicit-constructor): reads like a string
  InternedString(const std::string& text) : InternedString(std::string_view(text)) {}  // NOLINT
  InternedString(const char* text) : InternedString(std::string_view(text)) {}         // NOLINT

  [[nodiscard]] const std::string& str() const { return *text_; }
  [[nodiscard]] std::string_view view() const { return *text_; }
  operator const std::string&() const { return *text_; }  // NOLINT(google-explicit-constructor)
  operator std::string_view() const { return *text_; }    // NOLINT(google-explicit-constructor)

  [[nodiscard]] bool empty() const { return text_->empty(); }
  [[nodiscard]] std::size_t size() const { return text_->size(); }
  [[nodiscard]] const char* c_str() const { return text_->c_str(); }
  [[nodiscard]] bool starts_with(std::string_view prefix) const { return text_->starts_with(prefix); }
  [[nodiscard]] std::size_t find(std::string_view s, std::size_t pos = 0) const { return text_->find(s, pos); }
  [[nodiscard]] std::size_t rfind(std::string_view s, std::size_t pos = std::string::npos) const {
    return text_->rfind(s, pos);
  }
  [[nodiscard]] std::string substr(std::size_t pos, std::size_t count = std::string::npos) const {
    return text_->substr(pos, count);
  }

  friend bool operator==(const InternedString& a, const InternedString& b) { return a.text_ == b.text_; }
  friend bool operator==(const InternedString& a, std::string_view b) { return *a.text_ == b; }
  friend bool operator==(const InternedString& a, const std::string& b) { return *a.text_ == b; }
  friend bool operator==(const InternedString& a, const char* b) { return *a.text_ == b; }
  friend bool operator<(const InternedString& a, const InternedString& b) { return *a.text_ < *b.text_; }

  friend std::string operator+(const InternedString& a, std::string_view b) { return *a.text_ + std::string(b); }
  friend std::string operator+(const InternedString& a, const char* b) { return *a.text_ + b; }
  friend std::string operator+(const char* a, const InternedString& b) { return a + *b.text_; }
  friend std::string operator+(const std::string& a, const InternedString& b) { return a + *b.text_; }
  friend std::string operator+(std::string&& a, const InternedString& b) { return std::move(a) + *b.text_; }

 private:
  const std::string* text_;  // into the pool; never null
};

}  // namespace ami::storage
