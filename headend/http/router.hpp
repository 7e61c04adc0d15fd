// HTTP routing without sockets: method + path pattern -> handler, JSON errors, bearer token.
//
// Patterns are literal segments and `{name}` captures ("/api/v1/meters/{meter_id}/attempts"); a
// capture matches one non-empty segment, percent-decoded. Query strings are split off before
// matching and read with query_param().
//
// Errors: a handler reports a client mistake by throwing HttpError (status + short code + message
// naming what was wrong); the router turns it into that status with the JSON body
// {"error":{"code":..., "message":...}}. Any other exception becomes a 500 whose body says only
// "internal error" (the message goes to the log, never to the client: no paths, no stack traces).
// Unknown path -> 404, known path with another method -> 405 with Allow, protected route without
// a valid "Authorization: Bearer <token>" -> 401 (403 when no token is configured at all).
//
// Ownership/threads: build a Router at start-up (one thread); afterwards handle() is const and may
// run on any thread concurrently, as long as the handlers themselves allow it.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "headend/runtime/asio.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace ami::http {

namespace beast_http = boost::beast::http;
using Request = beast_http::request<beast_http::string_body>;
using Response = beast_http::response<beast_http::string_body>;
using PathParams = std::map<std::string, std::string, std::less<>>;

class HttpError : public std::runtime_error {
 public:
  HttpError(beast_http::status status, std::string code, const std::string& message)
      : std::runtime_error(message), status_(status), code_(std::move(code)) {}
  [[nodiscard]] beast_http::status status() const { return status_; }
  [[nodiscard]] const std::string& code() const { return code_; }

 private:
  beast_http::status status_;
  std::string code_;
};

// What a handler sees: the request, its path captures and its decoded query parameters.
struct RequestContext {
  const Request& request;
  PathParams params;
  std::map<std::string, std::string, std::less<>> query;

  // The capture `name` (always present for a matched route).
  [[nodiscard]] const std::string& param(std::string_view name) const;
  // Query parameter or nullopt.
  [[nodiscard]] std::optional<std::string> query_value(std::string_view name) const;
  // Query parameter parsed as an integer in [min, max]; `fallback` when absent; HttpError 400
  // naming the parameter when it is not a number or out of range.
  [[nodiscard]] std::int64_t query_int(std::string_view name, std::int64_t fallback, std::int64_t min,
                                       std::int64_t max) const;
  // The body parsed as a JSON object ("{}" when empty); HttpError 400/415 otherwise.
  [[nodiscard]] nlohmann::json json_body() const;
};

using Handler = std::function<Response(const RequestContext&)>;

enum class Access { open, bearer_token };

class Router {
 public:
  void add(beast_http::verb method, std::string pattern, Handler handler, Access access = Access::open);
  // Token for Access::bearer_token routes; empty disables them (403).
  void set_bearer_token(std::string token) { token_ = std::move(token); }

  // Never throws; every failure is a JSON error response.
  [[nodiscard]] Response handle(const Request& request) const;

 private:
  struct Route {
    beast_http::verb method;
    std::vector<std::string> segments;  // "{name}" marks a capture
    Handler handler;
    Access access;
  };
  [[nodiscard]] bool authorized(const Request& request) const;
  std::vector<Route> routes_;
  std::string token_;
};

// Responses every handler builds the same way. `version` and keep-alive are set by the server.
Response json_response(beast_http::status status, const nlohmann::json& body);
Response json_error(beast_http::status status, std::string_view code, std::string_view message);
Response text_response(beast_http::status status, std::string body, std::string_view content_type);

// Percent-decoding ('+' is a space in query strings only); nullopt for a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);
// Splits "a=1&b=x%20y" into decoded pairs; malformed escapes -> HttpError 400.
std::map<std::string, std::string, std::less<>> parse_query(std::string_view query);

}  // namespace ami::http
