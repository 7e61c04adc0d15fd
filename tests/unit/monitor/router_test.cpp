#include <catch2/catch.hpp>

#include <stdexcept>

#include <nlohmann/json.hpp>

#include "headend/http/router.hpp"

using ami::http::Access;
using ami::http::HttpError;
using ami::http::Request;
using ami::http::RequestContext;
using ami::http::Response;
using ami::http::Router;
namespace bh = boost::beast::http;
using nlohmann::json;

namespace {

Request make_request(bh::verb method, std::string target, std::string body = {}, std::string auth = {}) {
  Request req{method, target, 11};
  if (!auth.empty()) req.set(bh::field::authorization, auth);
  if (!body.empty()) {
    req.set(bh::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
  }
  return req;
}

json body_of(const Response& res) { return json::parse(res.body()); }

Router make_router() {
  Router router;
  router.add(bh::verb::get, "/api/v1/meters/{meter_id}/attempts", [](const RequestContext& ctx) {
    return ami::http::json_response(bh::status::ok, {{"meter", ctx.param("meter_id")},
                                                     {"limit", ctx.query_int("limit", 50, 1, 1000)}});
  });
  router.add(bh::verb::post, "/api/v1/meters/{meter_id}/read", [](const RequestContext& ctx) {
    const auto body = ctx.json_body();
    return ami::http::json_response(bh::status::accepted, {{"meter", ctx.param("meter_id")}, {"body", body}});
  }, Access::bearer_token);
  router.add(bh::verb::get, "/boom", [](const RequestContext&) -> Response {
    throw std::runtime_error("/var/lib/secret/path.db: disk I/O error");
  });
  router.add(bh::verb::get, "/teapot", [](const RequestContext&) -> Response {
    throw HttpError(bh::status::bad_request, "bad_day", "day must be YYYY-MM-DD, got 'x'");
  });
  return router;
}

}  // namespace

TEST_CASE("router: captures are percent-decoded and query integers parsed", "[monitor][http]") {
  const auto router = make_router();
  const auto res = router.handle(make_request(bh::verb::get, "/api/v1/meters/M%2F01/attempts?limit=7"));
  REQUIRE(res.result() == bh::status::ok);
  CHECK(body_of(res)["meter"] == "M/01");
  CHECK(body_of(res)["limit"] == 7);
  CHECK(res[bh::field::content_type] == "application/json; charset=utf-8");
  CHECK(body_of(router.handle(make_request(bh::verb::get, "/api/v1/meters/A/attempts")))["limit"] == 50);
}

TEST_CASE("router: unknown paths, wrong methods and bad parameters get JSON 4xx", "[monitor][http]") {
  const auto router = make_router();
  const auto missing = router.handle(make_request(bh::verb::get, "/api/v1/nothing"));
  CHECK(missing.result() == bh::status::not_found);
  CHECK(body_of(missing)["error"]["code"] == "not_found");

  const auto wrong = router.handle(make_request(bh::verb::delete_, "/api/v1/meters/A/attempts"));
  CHECK(wrong.result() == bh::status::method_not_allowed);
  CHECK(wrong[bh::field::allow] == "GET");

  const auto bad_limit = router.handle(make_request(bh::verb::get, "/api/v1/meters/A/attempts?limit=abc"));
  CHECK(bad_limit.result() == bh::status::bad_request);
  CHECK(body_of(bad_limit)["error"]["message"].get<std::string>().find("'limit'") != std::string::npos);

  const auto out_of_range = router.handle(make_request(bh::verb::get, "/api/v1/meters/A/attempts?limit=0"));
  CHECK(out_of_range.result() == bh::status::bad_request);

  const auto bad_escape = router.handle(make_request(bh::verb::get, "/api/v1/meters/A%zz/attempts"));
  CHECK(bad_escape.result() == bh::status::bad_request);

  const auto handler_error = router.handle(make_request(bh::verb::get, "/teapot"));
  CHECK(handler_error.result() == bh::status::bad_request);
  CHECK(body_of(handler_error)["error"]["code"] == "bad_day");
}

TEST_CASE("router: an internal failure is a 500 that leaks no message or path", "[monitor][http]") {
  const auto router = make_router();
  const auto res = router.handle(make_request(bh::verb::get, "/boom"));
  CHECK(res.result() == bh::status::internal_server_error);
  CHECK(body_of(res)["error"]["message"] == "internal error");
  CHECK(res.body().find("/var/lib") == std::string::npos);
  CHECK(res.body().find("disk") == std::string::npos);
}

TEST_CASE("router: protected routes need the configured bearer token", "[monitor][http]") {
  auto router = make_router();
  const auto target = "/api/v1/meters/A/read";
  CHECK(router.handle(make_request(bh::verb::post, target, "{}", "Bearer anything")).result() == bh::status::forbidden);

  router.set_bearer_token("s3cret");
  const auto none = router.handle(make_request(bh::verb::post, target));
  CHECK(none.result() == bh::status::unauthorized);
  CHECK(none[bh::field::www_authenticate] == "Bearer");
  CHECK(router.handle(make_request(bh::verb::post, target, "{}", "Bearer s3cre")).result() == bh::status::unauthorized);
  CHECK(router.handle(make_request(bh::verb::post, target, "{}", "Bearer s3cret2")).result() == bh::status::unauthorized);
  CHECK(router.handle(make_request(bh::verb::post, target, "{}", "Basic s3cret")).result() == bh::status::unauthorized);

  const auto ok = router.handle(make_request(bh::verb::post, target, R"({"x":1})", "Bearer s3cret"));
  CHECK(ok.result() == bh::status::accepted);
  CHECK(body_of(ok)["body"]["x"] == 1);

  const auto not_json = router.handle(make_request(bh::verb::post, target, "[1,2", "Bearer s3cret"));
  CHECK(not_json.result() == bh::status::bad_request);
  CHECK(body_of(not_json)["error"]["code"] == "bad_json");
}

TEST_CASE("router: query strings decode '+' and escapes, malformed ones are refused", "[monitor][http]") {
  const auto q = ami::http::parse_query("a=1&b=x+y%21&c&&d=");
  CHECK(q.at("a") == "1");
  CHECK(q.at("b") == "x y!");
  CHECK(q.at("c").empty());
  CHECK(q.at("d").empty());
  CHECK_THROWS_AS(ami::http::parse_query("a=%4"), HttpError);
  CHECK(ami::http::percent_decode("a+b", false) == "a+b");
  CHECK_FALSE(ami::http::percent_decode("%", false).has_value());
}
