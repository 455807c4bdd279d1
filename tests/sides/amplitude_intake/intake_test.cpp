// The Amplitude-shaped intake as a sender sees it: the exact replies of the reference's HTTP V2
// (§4.2, §4.3), the per-event validation rules, gzip bodies, the limits, /identify's forms, and
// that the stream's key never appears in a reply.
#include "sides/amplitude/intake.h"

#include <zlib.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

namespace concord::amplitude {
namespace {

using json = nlohmann::json;

const std::string kKey = "0123456789abcdef0123456789abcdef";
constexpr Micros kNow = 1793817971123000;  // 2026-11-04T18:46:11.123Z
constexpr std::int64_t kNowMs = 1793817971123;
constexpr std::string_view kPeer = "203.0.113.7";

IntakeOptions options() {
  IntakeOptions o;
  o.api_key = kKey;
  return o;
}

IntakeReply send(std::string_view path, std::string_view body, const IntakeOptions& o = options(),
                 std::string_view encoding = "", std::string_view content_type = "application/json",
                 std::string_view query = "") {
  IntakeRequest r;
  r.path = path;
  r.query = query;
  r.content_type = content_type;
  r.content_encoding = encoding;
  r.body = body;
  r.peer_address = kPeer;
  r.now = kNow;
  return handle_intake(r, o);
}

IntakeReply post(std::string_view body, const IntakeOptions& o = options()) {
  return send("/2/httpapi", body, o);
}

// An upload of these event objects (JSON text, comma-separated) with the stream's key.
std::string upload(const std::string& events, const std::string& extra = "") {
  return R"({"api_key":")" + kKey + R"(","events":[)" + events + "]" + extra + "}";
}

// An ordinary valid event, with `more` fields added (",\"time\":1" style).
std::string event(const std::string& more = "") {
  return R"({"event_type":"Order Completed","user_id":"user-20391")" + more + "}";
}

// The 400 that lists events: the three maps, as JSON texts.
std::string refused(const std::string& error, const std::string& invalid,
                    const std::string& missing = "{}", const std::string& lengths = "{}") {
  return R"({"code":400,"error":")" + error + R"(","events_with_invalid_fields":)" + invalid +
         R"(,"events_with_missing_fields":)" + missing + R"(,"events_with_invalid_id_lengths":)" +
         lengths + "}";
}
const std::string kInvalidValues = "Invalid field values on some events";

std::string gzip(std::string_view data) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9,
                       Z_DEFAULT_STRATEGY) == Z_OK);
  std::string out(deflateBound(&zs, data.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Every reply keeps the SDKs' rule: a JSON body's "code" is the HTTP status.
void check_code(const IntakeReply& r) {
  INFO(r.body);
  REQUIRE(r.content_type == "application/json");
  const json body = json::parse(r.body);
  CHECK(body.at("code") == r.status);
}

TEST_CASE("intake: an accepted upload answers 200 with the reference's body and the events") {
  const std::string body = upload(
      R"({"user_id":"user-20391","device_id":"C8F9E604-F01A-4BD9-95C6-8E5357DF265D",
          "event_type":"Order Completed","time":1793817970000,"insert_id":"order-88231-completed",
          "event_properties":{"order_id":"88231","total":42.50,"items":["a","b"],"big":12345678901234567890},
          "user_properties":{"plan":"pro","email":"jane@example.com"},
          "session_id":1793817900000,"event_id":17,"platform":"Web","ip":"$remote",
          "library":"amplitude-node-ts/1.3.6","groups":{"company":["a"]},"some_future_key":[{"x":1}]})",
      R"(,"options":{"min_id_length":5},"client_upload_time":"2026-11-05T10:06:11.123Z")");
  const IntakeReply r = post(body);
  CHECK(r.status == 200);
  CHECK(r.body == R"({"code":200,"events_ingested":1,"payload_size_bytes":)" +
                      std::to_string(body.size()) + R"(,"server_upload_time":1793817971123})");
  REQUIRE(r.events.size() == 1);
  const IntakeEvent& e = r.events[0];
  CHECK(e.index == 0);
  CHECK(e.kind == EventKind::kTrack);
  CHECK(e.user_id == "user-20391");
  CHECK(e.device_id == "C8F9E604-F01A-4BD9-95C6-8E5357DF265D");
  CHECK(e.event_type == "Order Completed");
  CHECK(e.time_ms == 1793817970000);
  CHECK(e.insert_id == "order-88231-completed");
  CHECK(e.ip == kPeer);
  // Compact JSON; numbers exactly as sent (42.50 stays 42.50, a 20-digit integer stays whole).
  CHECK(e.event_properties ==
        R"({"order_id":"88231","total":42.50,"items":["a","b"],"big":12345678901234567890})");
  CHECK(e.user_properties == R"({"plan":"pro","email":"jane@example.com"})");
}

TEST_CASE("intake: defaults of an event that sends only what is required") {
  const IntakeReply r = post(upload(R"({"event_type":"Signed Up","device_id":"device-1",
                                        "time":null,"user_id":null,"ip":"198.51.100.1"})"));
  REQUIRE(r.status == 200);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].user_id.empty());
  CHECK(r.events[0].time_ms == kNowMs);  // no time: the upload time
  CHECK(r.events[0].insert_id.empty());
  CHECK(r.events[0].ip == "198.51.100.1");
  CHECK(r.events[0].event_properties == "{}");
  CHECK(r.events[0].user_properties == "{}");
}

TEST_CASE("intake: request-level refusals, each with its exact body") {
  struct Case {
    const char* name;
    std::string path;
    std::string body;
    int status;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {"unknown path", "/2/httpapi/extra", upload(event()), 400,
       R"({"code":400,"error":"Invalid request path"})"},
      {"empty body", "/2/httpapi", "", 400, R"({"code":400,"error":"Missing request body"})"},
      {"blank body", "/batch", " \r\n\t", 400, R"({"code":400,"error":"Missing request body"})"},
      {"not JSON", "/2/httpapi", "api_key=x&events=[]", 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"cut short", "/2/httpapi", upload(event()).substr(0, 40), 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"an array", "/2/httpapi", "[" + event() + "]", 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"a string", "/batch", R"("events")", 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"NaN is not JSON", "/2/httpapi", upload(event(R"(,"time":NaN)")), 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"a number beyond double", "/2/httpapi",
       upload(R"({"event_type":"x y","user_id":"user-1","event_properties":{"n":1e400}})"), 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"invalid UTF-8", "/2/httpapi", upload(event(",\"event_properties\":{\"a\":\"\xC3\x28\"}")),
       400, R"({"code":400,"error":"Invalid JSON request body"})"},
      {"trailing text", "/2/httpapi", upload(event()) + "x", 400,
       R"({"code":400,"error":"Invalid JSON request body"})"},
      {"no api_key", "/2/httpapi", R"({"events":[)" + event() + "]}", 400,
       R"({"code":400,"error":"Request missing required field","missing_field":"api_key"})"},
      {"null api_key", "/2/httpapi", R"({"api_key":null,"events":[]})", 400,
       R"({"code":400,"error":"Request missing required field","missing_field":"api_key"})"},
      {"numeric api_key", "/2/httpapi", R"({"api_key":12345,"events":[]})", 400,
       R"({"code":400,"error":"Invalid API key"})"},
      {"object api_key", "/2/httpapi", R"({"api_key":{"k":"v"},"events":[]})", 400,
       R"({"code":400,"error":"Invalid API key"})"},
      {"wrong api_key", "/2/httpapi",
       R"({"api_key":"6eaecc157d0ff5a58c0b0d6df54307be","events":[]})", 400,
       R"({"code":400,"error":"Invalid API key"})"},
      {"no events", "/2/httpapi", R"({"api_key":")" + kKey + R"("})", 400,
       R"({"code":400,"error":"Request missing required field","missing_field":"events"})"},
      {"events null", "/batch", R"({"api_key":")" + kKey + R"(","events":null})", 400,
       R"({"code":400,"error":"Request missing required field","missing_field":"events"})"},
      {"events an object", "/2/httpapi",
       R"({"api_key":")" + kKey + R"(","events":)" + event() + "}", 400,
       R"({"code":400,"error":"Invalid event JSON"})"},
      {"events a string", "/2/httpapi", R"({"api_key":")" + kKey + R"(","events":"[]"})", 400,
       R"({"code":400,"error":"Invalid event JSON"})"},
      {"no events at all is fine", "/2/httpapi", upload(""), 200, ""},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const IntakeReply r = send(c.path, c.body);
      CHECK(r.status == c.status);
      if (!c.reply.empty()) CHECK(r.body == c.reply);
      check_code(r);
      if (r.status != 200) CHECK(r.events.empty());
      // Only a wrong key makes the daemon try another stream's key.
      CHECK(r.wrong_key == (c.reply.find("Invalid API key") != std::string::npos));
    }
  }
}

TEST_CASE("intake: a path with a trailing slash is the same route") {
  CHECK(send("/2/httpapi/", upload(event())).status == 200);
  CHECK(send("/batch/", upload(event())).status == 200);
}

TEST_CASE("intake: each validation rule of one event, with the maps it fills") {
  struct Case {
    const char* name;
    std::string event;
    std::string reply;  // "" = accepted
    std::string extra = "";
  };
  const std::string long_string(1025, 'x');
  const std::string limit_string(1024, 'x');
  std::string accents;  // 1024 characters, 2048 bytes: the limit counts characters
  for (int i = 0; i < 1024; ++i)
    accents += "\xC3\xA9";
  auto nest = [](int depth) {  // {"a":{"a":…{}…}}: `depth` objects
    std::string s;
    for (int i = 1; i < depth; ++i)
      s += R"({"a":)";
    s += "{}";
    for (int i = 1; i < depth; ++i)
      s += "}";
    return s;
  };
  const std::vector<Case> cases = {
      // event_type
      {"no event_type", R"({"user_id":"user-20391"})",
       refused("Request missing required field", "{}", R"({"event_type":[0]})")},
      {"null event_type", R"({"event_type":null,"user_id":"user-20391"})",
       refused("Request missing required field", "{}", R"({"event_type":[0]})")},
      {"numeric event_type", R"({"event_type":5,"user_id":"user-20391"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"empty event_type", R"({"event_type":"","user_id":"user-20391"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"event_type too long", R"({"event_type":")" + long_string + R"(","user_id":"user-20391"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"reserved start session", R"({"event_type":"[Amplitude] Start Session","user_id":"user-1"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"reserved end session", R"({"event_type":"[Amplitude] End Session","user_id":"user-1"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"reserved merged user", R"({"event_type":"[Amplitude] Merged User","user_id":"user-1"})",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"reserved revenue",
       R"j({"event_type":"[Amplitude] Revenue (Verified)","user_id":"user-1"})j",
       refused(kInvalidValues, R"({"event_type":[0]})")},
      {"SDK session events are not reserved",
       R"({"event_type":"session_start","user_id":"user-1"})", ""},
      {"revenue_amount", R"({"event_type":"revenue_amount","user_id":"user-1"})", ""},
      // ids
      {"neither id", R"({"event_type":"Order Completed"})",
       refused("Request missing required field", "{}", R"({"device_id":[0],"user_id":[0]})")},
      {"null ids", R"({"event_type":"Order Completed","user_id":null,"device_id":null})",
       refused("Request missing required field", "{}", R"({"device_id":[0],"user_id":[0]})")},
      {"numeric user_id", R"({"event_type":"Order Completed","user_id":1234567})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"numeric user_id beside a device",
       R"({"event_type":"x y","user_id":1234567,"device_id":"device-1"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"object device_id", R"({"event_type":"Order Completed","device_id":{"id":"device-1"}})",
       refused(kInvalidValues, R"({"device_id":[0]})")},
      {"user_id null (text)", R"({"event_type":"Order Completed","user_id":"null"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"user_id NULL, any case", R"({"event_type":"x y","user_id":"NULL","device_id":"device-1"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"user_id anonymous", R"({"event_type":"Order Completed","user_id":"Anonymous"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"user_id undefined", R"({"event_type":"Order Completed","user_id":"undefined"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"user_id empty", R"({"event_type":"Order Completed","user_id":"","device_id":"device-1"})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"all-zero IDFA device",
       R"({"event_type":"x y","device_id":"00000000-0000-0000-0000-000000000000"})",
       refused(kInvalidValues, R"({"device_id":[0]})")},
      {"device lmy47d", R"({"event_type":"x y","device_id":"LMY47D","user_id":"user-1"})",
       refused(kInvalidValues, R"({"device_id":[0]})")},
      {"user_id too long", R"({"event_type":"x y","user_id":")" + long_string + R"("})",
       refused(kInvalidValues, R"({"user_id":[0]})")},
      {"user_id at the string limit", R"({"event_type":"x y","user_id":")" + limit_string + R"("})",
       ""},
      {"short user_id alone", R"({"event_type":"Order Completed","user_id":"abcd"})",
       refused(kInvalidValues, "{}", "{}", R"({"user_id":[0]})")},
      {"both ids short", R"({"event_type":"Order Completed","user_id":"abcd","device_id":"dev"})",
       refused(kInvalidValues, "{}", "{}", R"({"device_id":[0],"user_id":[0]})")},
      {"short id removed beside a good one",
       R"({"event_type":"Order Completed","user_id":"abcd","device_id":"device-1"})", ""},
      {"min_id_length 1 from the request", R"({"event_type":"Order Completed","user_id":"abc"})",
       "", R"(,"options":{"min_id_length":1})"},
      {"min_id_length not a number is ignored", R"({"event_type":"x y","user_id":"abc"})",
       refused(kInvalidValues, "{}", "{}", R"({"user_id":[0]})"),
       R"(,"options":{"min_id_length":"1"})"},
      {"min_id_length 0 is ignored", R"({"event_type":"x y","user_id":"abc"})",
       refused(kInvalidValues, "{}", "{}", R"({"user_id":[0]})"),
       R"(,"options":{"min_id_length":0})"},
      // time
      {"ISO time", event(R"(,"time":"2026-11-05T10:06:10Z")"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"time in quotes", event(R"(,"time":"1793817970000")"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"fractional time", event(R"(,"time":1793817970000.5)"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"time with an exponent", event(R"(,"time":1.79e12)"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"time as 1.0", event(R"(,"time":1.0)"), refused(kInvalidValues, R"({"time":[0]})")},
      {"20-digit time", event(R"(,"time":12345678901234567890)"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"30-digit time", event(R"(,"time":123456789012345678901234567890)"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"negative time", event(R"(,"time":-1)"), refused(kInvalidValues, R"({"time":[0]})")},
      {"time after 9999", event(R"(,"time":253402300800000)"),
       refused(kInvalidValues, R"({"time":[0]})")},
      {"boolean time", event(R"(,"time":true)"), refused(kInvalidValues, R"({"time":[0]})")},
      {"time 0", event(R"(,"time":0)"), ""},
      // insert_id
      {"numeric insert_id", event(R"(,"insert_id":7)"),
       refused(kInvalidValues, R"({"insert_id":[0]})")},
      {"insert_id too long", event(R"(,"insert_id":")" + long_string + "\""),
       refused(kInvalidValues, R"({"insert_id":[0]})")},
      // properties
      {"event_properties a string", event(R"(,"event_properties":"x")"),
       refused(kInvalidValues, R"({"event_properties":[0]})")},
      {"event_properties an array", event(R"(,"event_properties":[1,2])"),
       refused(kInvalidValues, R"({"event_properties":[0]})")},
      {"user_properties a number", event(R"(,"user_properties":3)"),
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"property string too long", event(R"(,"event_properties":{"a":[")" + long_string + R"("]})"),
       refused(kInvalidValues, R"({"event_properties":[0]})")},
      {"property key too long", event(R"(,"user_properties":{")" + long_string + R"(":1})"),
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"property string at the limit",
       event(R"(,"event_properties":{"a":")" + limit_string + "\"}"), ""},
      {"limit in characters, not bytes", event(R"(,"event_properties":{"a":")" + accents + "\"}"),
       ""},
      {"properties 40 deep", event(R"(,"event_properties":)" + nest(40)), ""},
      {"properties 41 deep", event(R"(,"event_properties":)" + nest(41)),
       refused(kInvalidValues, R"({"event_properties":[0]})")},
      {"user properties 41 deep", event(R"(,"user_properties":)" + nest(41)),
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"deep unknown keys are not read", event(R"(,"groups":)" + nest(200)), ""},
      // identify
      {"identify with operations",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"$set":{"plan":"pro"},"$setOnce":{"a":1},"$unset":{"b":"-"},"$clearAll":"-"}})",
       ""},
      {"identify with plain keys",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"plan":"pro"}})", ""},
      {"identify mixing operations and plain keys",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"$set":{"plan":"pro"},"plan":"pro"}})",
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"identify $set not an object",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"$set":"pro"}})",
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"identify $add an array",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"$add":[1]}})",
       refused(kInvalidValues, R"({"user_properties":[0]})")},
      {"a key that looks like an operation is plain",
       R"({"event_type":"$identify","user_id":"user-1","user_properties":{"$plan":"pro","tier":1}})",
       ""},
      {"an ordinary event may mix them",
       R"({"event_type":"Order Completed","user_id":"user-1","user_properties":{"$set":{"a":1},"plan":"pro"}})",
       ""},
      // several problems in one event: each field says so
      {"every field wrong",
       R"({"event_type":7,"user_id":42,"device_id":"none","time":"now","insert_id":[],"event_properties":1,"user_properties":"x"})",
       refused(
           kInvalidValues,
           R"({"device_id":[0],"event_properties":[0],"event_type":[0],"insert_id":[0],"time":[0],"user_id":[0],"user_properties":[0]})")},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const IntakeReply r = post(upload(c.event, c.extra));
      check_code(r);
      if (c.reply.empty()) {
        CHECK(r.status == 200);
        CHECK(r.events.size() == 1);
      } else {
        CHECK(r.status == 400);
        CHECK(r.body == c.reply);
        CHECK(r.events.empty());
      }
    }
  }
}

TEST_CASE("intake: a short id is removed from the accepted event") {
  const IntakeReply r =
      post(upload(R"({"event_type":"Order Completed","user_id":"abcd","device_id":"device-1"})"));
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].user_id.empty());
  CHECK(r.events[0].device_id == "device-1");
}

TEST_CASE("intake: the maps list every offending index, and a 400 accepts nothing") {
  const std::string good = event();
  const std::string no_type = R"({"user_id":"user-20391"})";
  const std::string bad_time = event(R"(,"time":"yesterday")");
  const std::string short_id = R"({"event_type":"x y","device_id":"dev"})";
  const std::vector<std::string> events = {no_type, good,     bad_time, short_id, good,
                                           no_type, bad_time, good,     short_id, no_type};
  std::string joined;
  for (const std::string& e : events)
    joined += (joined.empty() ? "" : ",") + e;
  const IntakeReply r = post(upload(joined));
  CHECK(r.status == 400);
  CHECK(r.body == refused(kInvalidValues, R"({"time":[2,6]})", R"({"event_type":[0,5,9]})",
                          R"({"device_id":[3,8]})"));
  CHECK(r.events.empty());

  SECTION("the SDK's retry of the rest is accepted, once, by the retry") {
    // What analytics-core does: drop the named indexes, send the others again.
    const json body = json::parse(r.body);
    std::vector<bool> dropped(events.size(), false);
    for (const char* map : {"events_with_invalid_fields", "events_with_missing_fields",
                            "events_with_invalid_id_lengths"}) {
      for (const auto& [field, indexes] : body.at(map).items()) {
        for (const auto& i : indexes)
          dropped.at(i.get<std::size_t>()) = true;
      }
    }
    std::string rest;
    for (std::size_t i = 0; i < events.size(); ++i) {
      if (!dropped[i]) rest += (rest.empty() ? "" : ",") + events[i];
    }
    const IntakeReply retry = post(upload(rest));
    CHECK(retry.status == 200);
    CHECK(retry.events.size() == 3);
  }
}

TEST_CASE("intake: an element of events that is not an object is named under \"event\"") {
  const IntakeReply r = post(upload(event() + R"(,"Order Completed",[1],null,)" + event()));
  CHECK(r.status == 400);
  CHECK(r.body == refused("Invalid event JSON", R"({"event":[1,2,3]})"));
  CHECK(r.events.empty());
}

TEST_CASE("intake: a repeated key counts once, the last one") {
  const IntakeReply r = post(R"({"api_key":"wrong","events":[{"x":1}],"api_key":")" + kKey +
                             R"(","events":[)" + event(R"(,"user_id":"user-77777")") + "]}");
  REQUIRE(r.status == 200);
  REQUIRE(r.events.size() == 1);
  CHECK(r.events[0].user_id == "user-77777");
}

TEST_CASE("intake: kinds and the peer address") {
  const IntakeReply r = post(upload(
      R"({"event_type":"$identify","user_id":"user-1","ip":"$remote"},
         {"event_type":"$groupidentify","user_id":"user-1"},
         {"event_type":"Order Completed","user_id":"user-1","ip":"192.0.2.5"},
         {"event_type":"Order Completed","user_id":"user-1","ip":5})"));
  REQUIRE(r.events.size() == 4);
  CHECK(r.events[0].kind == EventKind::kIdentify);
  CHECK(r.events[0].ip == kPeer);
  CHECK(r.events[1].kind == EventKind::kGroupIdentify);
  CHECK(r.events[2].kind == EventKind::kTrack);
  CHECK(r.events[2].ip == "192.0.2.5");
  CHECK(r.events[3].ip.empty());  // not a string: concord does not use it
  for (std::size_t i = 0; i < r.events.size(); ++i)
    CHECK(r.events[i].index == i);
}

TEST_CASE("intake: limits of count and size answer 413") {
  const std::string too_large = R"({"code":413,"error":"Payload too large"})";
  auto events = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i)
      s += (i ? "," : "") + event();
    return s;
  };
  SECTION("2000 events are accepted, 2001 are not") {
    const IntakeReply ok = post(upload(events(2000)));
    CHECK(ok.status == 200);
    CHECK(ok.events.size() == 2000);
    const IntakeReply over = post(upload(events(2001)));
    CHECK(over.status == 413);
    CHECK(over.body == too_large);
    CHECK(over.events.empty());
  }
  SECTION("the count is configurable, and counts elements that are not events too") {
    IntakeOptions o = options();
    o.max_events = 3;
    CHECK(post(upload(events(3)), o).status == 200);
    CHECK(post(upload(events(3) + ",1"), o).status == 413);
  }
  SECTION("1 MB for /2/httpapi, 20 MB for /batch") {
    const std::string padding(1 << 20, 'p');
    const std::string big = upload(event(R"(,"padding":")" + padding + "\""));
    const IntakeReply httpapi = send("/2/httpapi", big);
    CHECK(httpapi.status == 413);
    CHECK(httpapi.body == too_large);
    const IntakeReply batch = send("/batch", big);
    CHECK(batch.status == 200);
    CHECK(batch.events.size() == 1);
    const std::string huge(20 * (1 << 20) + 1, ' ');
    CHECK(send("/batch", huge).status == 413);
    const std::string just_fits =
        upload(event()) + std::string((1 << 20) - upload(event()).size(), ' ');
    CHECK(send("/2/httpapi", just_fits).status == 200);
  }
}

TEST_CASE("intake: gzip bodies") {
  const std::string body = upload(event() + "," + event());
  SECTION("accepted, sized after gunzip") {
    for (const char* encoding : {"gzip", "GZIP", " gzip ", "x-gzip"}) {
      const IntakeReply r = send("/2/httpapi", gzip(body), options(), encoding);
      CHECK(r.status == 200);
      CHECK(r.events.size() == 2);
      CHECK(json::parse(r.body).at("payload_size_bytes") == body.size());
    }
  }
  SECTION("identity is plain") {
    CHECK(send("/2/httpapi", body, options(), "identity").status == 200);
  }
  SECTION("two gzip members in a row read as one body") {
    const std::string half = body.substr(0, body.size() / 2);
    const std::string rest = body.substr(body.size() / 2);
    CHECK(send("/2/httpapi", gzip(half) + gzip(rest), options(), "gzip").status == 200);
  }
  const std::string unreadable = R"({"code":400,"error":"Invalid JSON request body"})";
  SECTION("corrupt, cut short, not gzip, trailing bytes, another encoding") {
    std::string corrupt = gzip(body);
    corrupt[corrupt.size() / 2] ^= 0x55;
    corrupt[corrupt.size() / 2 + 1] ^= 0x55;
    const std::string gz = gzip(body);
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"gzip", corrupt},
        {"gzip", gz.substr(0, gz.size() - 10)},
        {"gzip", gz.substr(0, 1)},
        {"gzip", ""},
        {"gzip", body},
        {"gzip", gz + "junk"},
        {"br", body},
        {"deflate", body},
    };
    for (const auto& [encoding, data] : cases) {
      const IntakeReply r = send("/2/httpapi", data, options(), encoding);
      CHECK(r.status == 400);
      CHECK(r.body == unreadable);
    }
  }
  SECTION("a gzip bomb stops at the limit") {
    // 64 MB of zeros in about 64 KB: inflating it whole would take 64 MB.
    const std::string bomb = gzip(std::string(64 << 20, '\0'));
    REQUIRE(bomb.size() < (1 << 17));
    const IntakeReply httpapi = send("/2/httpapi", bomb, options(), "gzip");
    CHECK(httpapi.status == 413);
    CHECK(httpapi.body == R"({"code":413,"error":"Payload too large"})");
    CHECK(send("/batch", bomb, options(), "gzip").status == 413);
    IntakeOptions o = options();
    o.max_httpapi_bytes = body.size() - 1;  // the limit is on the inflated size
    CHECK(send("/2/httpapi", gzip(body), o, "gzip").status == 413);
  }
}

TEST_CASE("intake: no reply carries the stream's key or the key sent") {
  const std::string sent = "SENT-KEY-6eaecc157d0ff5a58c0b0d6df54307be";
  IntakeOptions o = options();
  o.api_key = "EXPECTED-KEY-0123456789abcdef0123456789";
  const std::vector<std::string> bodies = {
      R"({"api_key":")" + sent + R"(","events":[)" + event() + "]}",
      R"({"api_key":")" + o.api_key + R"(","events":[{"user_id":"x"}]})",
      R"({"api_key":")" + o.api_key + R"(","events":"x"})",
      R"({"api_key":")" + o.api_key + R"("})",
      R"({"api_key":")" + sent + R"("})",
      "{\"api_key\":\"" + sent,
  };
  for (const std::string& body : bodies) {
    for (const char* path : {"/2/httpapi", "/batch"}) {
      const IntakeReply r = send(path, body, o);
      INFO(r.body);
      CHECK(r.status == 400);
      CHECK(r.body.find("KEY") == std::string::npos);
      CHECK(r.body.find("6eaecc") == std::string::npos);
      CHECK(r.body.find("0123456789") == std::string::npos);
    }
  }
  const IntakeReply identify = send("/identify", "api_key=" + sent + "&identification={}", o, "",
                                    "application/x-www-form-urlencoded");
  CHECK(identify.status == 400);
  CHECK(identify.body == "invalid_api_key");
  CHECK(identify.wrong_key);
}

TEST_CASE("intake: a stream without a key accepts nothing, not even an empty key") {
  IntakeOptions o = options();
  o.api_key = "";
  CHECK(post(R"({"api_key":"","events":[]})", o).body ==
        R"({"code":400,"error":"Invalid API key"})");
  CHECK(post(upload(event()), o).status == 400);
}

// /identify ---------------------------------------------------------------------------------

std::string form(const std::string& key, const std::string& identification) {
  std::string body = "api_key=" + key + "&identification=";
  for (const char c : identification) {  // percent-encode as curl --data-urlencode does
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
      body += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
      body += hex;
    }
  }
  return body;
}

IntakeReply identify(const std::string& body, const IntakeOptions& o = options(),
                     std::string_view content_type = "application/x-www-form-urlencoded",
                     std::string_view encoding = "", std::string_view query = "") {
  return send("/identify", body, o, encoding, content_type, query);
}

TEST_CASE("identify: a form with one identification or several") {
  SECTION("an array") {
    const IntakeReply r = identify(form(
        kKey,
        R"([{"user_id":"user-20391","user_properties":{"$set":{"plan":"pro"},"$setOnce":{"first_seen":"2024-05-01"}}},
           {"device_id":"device-1","user_properties":{"plan":"free"},"time":5}])"));
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/plain; charset=utf-8");
    CHECK(r.body == "success");
    REQUIRE(r.events.size() == 2);
    CHECK(r.events[0].kind == EventKind::kIdentify);
    CHECK(r.events[0].event_type == "$identify");
    CHECK(r.events[0].user_id == "user-20391");
    CHECK(r.events[0].time_ms == kNowMs);
    CHECK(r.events[0].user_properties ==
          R"({"$set":{"plan":"pro"},"$setOnce":{"first_seen":"2024-05-01"}})");
    CHECK(r.events[1].device_id == "device-1");
    CHECK(r.events[1].index == 1);
    CHECK(r.events[1].time_ms == kNowMs);  // an identification has no time of its own
  }
  SECTION("one object, '+' as space, as curl --data sends it") {
    const IntakeReply r = identify(
        "api_key=" + kKey +
        R"(&identification={"user_id":"user-20391","user_properties":{"plan":"pro+plus"}})");
    CHECK(r.status == 200);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].user_properties == R"({"plan":"pro plus"})");
  }
  SECTION("multipart/form-data") {
    const std::string body =
        "--XyZ\r\nContent-Disposition: form-data; name=\"api_key\"\r\n\r\n" + kKey +
        "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"identification\"\r\n"
        "Content-Type: application/json\r\n\r\n{\"user_id\":\"user-20391\"}\r\n--XyZ--\r\n";
    const IntakeReply r = identify(body, options(), "multipart/form-data; boundary=XyZ");
    CHECK(r.status == 200);
    CHECK(r.events.size() == 1);
    const IntakeReply quoted = identify(body, options(), "multipart/form-data; boundary=\"XyZ\"");
    CHECK(quoted.status == 200);
    const IntakeReply other = identify(body, options(), "multipart/form-data; boundary=AbC");
    CHECK(other.body == "invalid_api_key");  // no part found under another boundary
    const IntakeReply cut =
        identify(body.substr(0, 50), options(), "multipart/form-data; boundary=XyZ");
    CHECK(cut.body == "invalid_api_key");
  }
  SECTION("GET: the fields in the query string") {
    const std::string query = form(kKey, R"({"user_id":"user-20391"})");
    const IntakeReply r = identify("", options(), "", "", query);
    CHECK(r.status == 200);
    CHECK(r.events.size() == 1);
  }
  SECTION("gzip") {
    const IntakeReply r = identify(gzip(form(kKey, R"({"user_id":"user-20391"})")), options(),
                                   "application/x-www-form-urlencoded", "gzip");
    CHECK(r.status == 200);
  }
}

TEST_CASE("identify: refusals") {
  struct Case {
    const char* name;
    std::string body;
    int status;
    std::string reply;
  };
  const std::vector<Case> cases = {
      {"no api_key", R"(identification={"user_id":"user-20391"})", 400, "invalid_api_key"},
      {"wrong api_key", form("nope", R"({"user_id":"user-20391"})"), 400, "invalid_api_key"},
      {"no identification", "api_key=" + kKey, 400, "missing_event"},
      {"not JSON", form(kKey, "user_id=user-20391"), 400, "missing_event"},
      {"a JSON string", form(kKey, R"("user-20391")"), 400, "missing_event"},
      {"an empty array", form(kKey, "[]"), 400, "missing_event"},
      {"no id", form(kKey, R"({"user_properties":{"plan":"pro"}})"), 400, "missing_event"},
      {"one bad among good ones",
       form(kKey, R"([{"user_id":"user-20391"},{"user_id":"null"},{"user_id":"user-2"}])"), 400,
       "missing_event"},
      {"an element not an object", form(kKey, R"([{"user_id":"user-20391"},5])"), 400,
       "missing_event"},
      {"operations mixed with plain keys",
       form(kKey, R"({"user_id":"user-20391","user_properties":{"$set":{"a":1},"b":2}})"), 400,
       "missing_event"},
  };
  for (const Case& c : cases) {
    DYNAMIC_SECTION(c.name) {
      const IntakeReply r = identify(c.body);
      CHECK(r.status == c.status);
      CHECK(r.body == c.reply);
      CHECK(r.events.empty());
    }
  }
  SECTION("too many identifications, too large a form") {
    IntakeOptions o = options();
    o.max_events = 2;
    const IntakeReply many = identify(
        form(kKey, R"([{"user_id":"user-1"},{"user_id":"user-2"},{"user_id":"user-3"}])"), o);
    CHECK(many.status == 413);
    CHECK(many.body == "Payload too large");
    o = options();
    o.max_identify_bytes = 20;
    CHECK(identify(form(kKey, R"({"user_id":"user-20391"})"), o).status == 413);
  }
}

// Whatever arrives ---------------------------------------------------------------------------

TEST_CASE("intake: hostile bodies get a reply, never a crash") {
  SECTION("nesting a hundred thousand deep") {
    const std::string deep(100000, '[');
    CHECK(post(deep).status == 400);
    CHECK(post(upload(event(R"(,"event_properties":{"a":)" + deep))).status == 400);
    std::string closed =
        upload(event(R"(,"event_properties":{"a":)" + deep + std::string(100000, ']') + "}"));
    const IntakeReply r = send("/batch", closed);
    CHECK(r.status == 400);
    CHECK(r.body == refused(kInvalidValues, R"({"event_properties":[0]})"));
  }
  SECTION("a property array of half a million numbers") {
    std::string numbers = "[0";
    for (int i = 0; i < 500000; ++i)
      numbers += ",1";
    numbers += "]";
    const IntakeReply r =
        send("/batch", upload(event(R"(,"event_properties":{"n":)" + numbers + "}")));
    CHECK(r.status == 200);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].event_properties.size() == numbers.size() + 6);
  }
  SECTION("mutations of a valid body: every reply is JSON whose code is its status") {
    const std::string base = upload(
        R"({"user_id":"user-20391","device_id":"device-1","event_type":"$identify","time":1793817970000,
            "insert_id":"i-1","event_properties":{"a":[1,2.5,{"b":null}],"c":"d\u00e9"},
            "user_properties":{"$set":{"email":"jane@example.com"}}},)" +
        event());
    std::mt19937 random(20260501);
    const std::string alphabet = "{}[]\",:0123456789.eE+-tfnul\\ \x80\xff\xc3";
    for (int i = 0; i < 3000; ++i) {
      std::string body = base;
      const int edits = 1 + static_cast<int>(random() % 4);
      for (int e = 0; e < edits && !body.empty(); ++e) {
        const std::size_t at = random() % body.size();
        switch (random() % 3) {
          case 0:
            body[at] = alphabet[random() % alphabet.size()];
            break;
          case 1:
            body.erase(at, 1 + random() % 8);
            break;
          case 2:
            body.insert(at, 1, alphabet[random() % alphabet.size()]);
            break;
        }
      }
      const IntakeReply r = send(i % 2 ? "/batch" : "/2/httpapi", body);
      INFO(body);
      check_code(r);
      CHECK((r.status == 200 || r.status == 400));
      if (r.status != 200) CHECK(r.events.empty());
    }
  }
}

// Builders and the dedup key -------------------------------------------------------------------

TEST_CASE("throttled_reply and unavailable_reply: the reference's bodies") {
  Throttled t;
  t.eps_threshold = 30;
  t.devices = {{"C8F9E604-F01A-4BD9-95C6-8E5357DF265D", 31}};
  t.users = {{"datamonster@amplitude.com", 32}};
  t.events = {3, 4, 7};
  const IntakeReply r = throttled_reply(t);
  CHECK(r.status == 429);
  CHECK(r.body ==
        R"({"code":429,"error":"Too many requests for some devices and users","eps_threshold":30,)"
        R"("throttled_devices":{"C8F9E604-F01A-4BD9-95C6-8E5357DF265D":31},)"
        R"("throttled_users":{"datamonster@amplitude.com":32},"throttled_events":[3,4,7]})");
  CHECK(r.events.empty());
  t.quota_users = {{"user-1", 500001}};
  CHECK(json::parse(throttled_reply(t).body).at("exceeded_daily_quota_users") ==
        json{{"user-1", 500001}});
  CHECK(!json::parse(throttled_reply(t).body).contains("exceeded_daily_quota_devices"));

  const IntakeReply u = unavailable_reply();
  CHECK(u.status == 503);
  CHECK(u.body == R"({"code":503,"error":"Service unavailable"})");
}

TEST_CASE("dedup_key: the same insert_id on the same device is the same event") {
  IntakeEvent a;
  a.device_id = "device-1";
  a.user_id = "user-1";
  a.insert_id = "order-1";
  IntakeEvent same = a;
  same.user_id = "user-2";
  CHECK(dedup_key(a) == dedup_key(same));
  IntakeEvent other_device = a;
  other_device.device_id = "device-2";
  CHECK(dedup_key(a) != dedup_key(other_device));
  IntakeEvent by_user;  // no device: the user_id scopes it
  by_user.user_id = "device-1";
  by_user.insert_id = "order-1";
  CHECK(dedup_key(by_user) != dedup_key(a));
  // An id and insert_id cannot run together into another pair's key.
  IntakeEvent x, y;
  x.device_id = "ab";
  x.insert_id = "c";
  y.device_id = "a";
  y.insert_id = "bc";
  CHECK(dedup_key(x) != dedup_key(y));
  IntakeEvent none = a;
  none.insert_id = "";
  CHECK(dedup_key(none).empty());
}

}  // namespace
}  // namespace concord::amplitude
