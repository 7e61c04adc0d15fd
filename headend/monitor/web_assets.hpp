// The dashboard files (headend/web/), embedded at build time by headend/web/embed_assets.cmake.
// Immutable after static initialisation; any thread.
#pragma once

#include <string_view>
#include <vector>

namespace ami::monitor {

struct WebAsset {
  std::string_view name;          // file name under headend/web/, e.g. "app.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view body;
};

const std::vector<WebAsset>& web_assets();

}  // namespace ami::monitor
