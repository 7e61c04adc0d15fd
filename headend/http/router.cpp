#include "headend/http/router.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

namespace ami::http {

namespace {

using beast_http::status;

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto slash = path.find('/', pos);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > pos) segments.emplace_back(path.substr(pos, end - pos));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return segments;
}

bool is_capture(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Constant-time comparison so the token cannot be guessed byte by byte from response timing.
bool equal_constant_time(std::string_view a, std::string_view b) {
  unsigned diff = a.size() == b.size() ? 0u : 1u;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned>(static_cast<unsigned char>(a[i]) ^
                                  static_cast<unsigned char>(i < b.size() ? b[i] : 0));
  }
  return diff == 0;
}

std::string clip(std::string_view text, std::size_t max) {
  return text.size() <= max ? std::string(text) : std::string(text.substr(0, max)) + "...";
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::map<std::string, std::string, std::less<>> parse_query(std::string_view query) {
  std::map<std::string, std::string, std::less<>> out;
  std::size_t pos = 0;
  while (pos < query.size()) {
    const auto amp = query.find('&', pos);
    const auto end = amp == std::string_view::npos ? query.size() : amp;
    const auto item = query.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const auto key = percent_decode(item.substr(0, eq), true);
    const auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1), true);
    if (!key || !value) {
      throw HttpError(status::bad_request, "bad_query", "malformed percent-escape in query parameter '" +
                                                            clip(item.substr(0, eq), 40) + "'");
    }
    out[*key] = *value;
  }
  return out;
}

Response json_response(status code, const nlohmann::json& body) {
  Response res{code, 11};
  res.set(beast_http::field::content_type, "application/json; charset=utf-8");
  res.set(beast_http::field::cache_control, "no-store");
  res.set("X-Content-Type-Options", "nosniff");
  // Replace invalid UTF-8 (e.g. a meter id echoed from a bad request) instead of throwing.
  res.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  res.prepare_payload();
  return res;
}

Response json_error(status code, std::string_view error_code, std::string_view message) {
  return json_response(code, {{"error", {{"code", error_code}, {"message", message}}}});
}

Response text_response(status code, std::string body, std::string_view content_type) {
  Response res{code, 11};
  res.set(beast_http::field::content_type, std::string(content_type));
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

const std::string& RequestContext::param(std::string_view name) const {
  const auto it = params.find(name);
  if (it == params.end()) throw std::logic_error("route has no capture named " + std::string(name));
  return it->second;
}

std::optional<std::string> RequestContext::query_value(std::string_view name) const {
  const auto it = query.find(name);
  if (it == query.end()) return std::nullopt;
  return it->second;
}

std::int64_t RequestContext::query_int(std::string_view name, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) const {
  const auto text = query_value(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  const auto* first = text->data();
  const auto* last = first + text->size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || ptr != last || value < min || value > max) {
    throw HttpError(status::bad_request, "bad_parameter",
                    "query parameter '" + std::string(name) + "' must be an integer in [" + std::to_string(min) +
                        ", " + std::to_string(max) + "], got '" + clip(*text, 40) + "'");
  }
  return value;
}

nlohmann::json RequestContext::json_body() const {
  const auto& body = request.body();
  if (body.empty()) return nlohmann::json::object();
  const auto type = request[beast_http::field::content_type];
  if (std::string_view(type.data(), type.size()).substr(0, 16) != "application/json") {
    throw HttpError(status::unsupported_media_type, "unsupported_media_type",
                    "request body must be application/json");
  }
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    throw HttpError(status::bad_request, "bad_json", "request body is not a JSON object");
  }
  return parsed;
}

void Router::add(beast_http::verb method, std::string pattern, Handler handler, Access access) {
  routes_.push_back(Route{method, split_path(pattern), std::move(handler), access});
}

bool Router::authorized(const Request& request) const {
  const auto field = request[beast_http::field::authorization];
  const std::string_view header(field.data(), field.size());
  constexpr std::string_view scheme = "Bearer ";
  if (header.size() <= scheme.size() || header.substr(0, scheme.size()) != scheme) return false;
  return equal_constant_time(header.substr(scheme.size()), token_);
}

Response Router::handle(const Request& request) const {
  const std::string_view target(request.target().data(), request.target().size());
  const auto question = target.find('?');
  const auto path = target.substr(0, question);
  try {
    if (path.empty() || path.front() != '/') {
      throw HttpError(status::bad_request, "bad_target", "request target must be an absolute path");
    }
    const auto segments = split_path(path);
    std::vector<std::string> allowed;
    for (const auto& route : routes_) {
      if (route.segments.size() != segments.size()) continue;
      PathParams params;
      bool match = true;
      for (std::size_t i = 0; i < segments.size() && match; ++i) {
        if (is_capture(route.segments[i])) {
          auto decoded = percent_decode(segments[i], false);
          if (!decoded) throw HttpError(status::bad_request, "bad_target", "malformed percent-escape in path");
          params[route.segments[i].substr(1, route.segments[i].size() - 2)] = std::move(*decoded);
        } else {
          match = route.segments[i] == segments[i];
        }
      }
      if (!match) continue;
      if (route.method != request.method()) {
        allowed.emplace_back(beast_http::to_string(route.method));
        continue;
      }
      if (route.access == Access::bearer_token) {
        if (token_.empty()) {
          return json_error(status::forbidden, "disabled", "this operation is disabled: no API token is configured");
        }
        if (!authorized(request)) {
          auto res = json_error(status::unauthorized, "unauthorized", "missing or invalid bearer token");
          res.set(beast_http::field::www_authenticate, "Bearer");
          return res;
        }
      }
      RequestContext context{request, std::move(params),
                             question == std::string_view::npos ? std::map<std::string, std::string, std::less<>>{}
                                                                : parse_query(target.substr(question + 1))};
      return route.handler(context);
    }
    if (!allowed.empty()) {
      std::string allow;
      for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
      auto res = json_error(status::method_not_allowed, "method_not_allowed",
                            std::string(request.method_string()) + " is not allowed here; use " + allow);
      res.set(beast_http::field::allow, allow);
      return res;
    }
    return json_error(status::not_found, "not_found", "no such resource: " + clip(path, 120));
  } catch (const HttpError& e) {
    return json_error(e.status(), e.code(), e.what());
  } catch (const std::exception& e) {
    spdlog::error("http: {} {} failed: {}", std::string(request.method_string()), clip(path, 200), e.what());
    return json_error(status::internal_server_error, "internal", "internal error");
  }
}

}  // namespace ami::http
