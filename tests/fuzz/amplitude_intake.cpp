// An upload to the Amplitude-shaped intake, as anyone who can reach `concord serve` may send it:
// any bytes, on each route, plain or declared gzip. Every request gets a reply whose JSON `code`
// is its status (the SDKs read the code), and events only with a 200.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "sides/amplitude/intake.h"

using namespace concord;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  amplitude::IntakeOptions o;
  o.api_key = "0123456789abcdef0123456789abcdef";
  o.max_batch_bytes = 1 << 20;  // the fuzzer's inputs are small; keep gunzip bounded as in use
  for (std::string_view path : {"/2/httpapi", "/batch", "/identify"}) {
    for (std::string_view encoding : {"", "gzip"}) {
      amplitude::IntakeRequest r;
      r.path = path;
      r.content_type =
          path == "/identify" ? "application/x-www-form-urlencoded" : "application/json";
      r.content_encoding = encoding;
      r.body = in;
      r.peer_address = "127.0.0.1";
      r.now = 1793817970000000;
      amplitude::IntakeReply reply = amplitude::handle_intake(r, o);
      if (reply.status != 200 && !reply.events.empty()) __builtin_trap();
      if (reply.content_type == "application/json") {
        nlohmann::json j = nlohmann::json::parse(reply.body, nullptr, false);
        if (!j.is_object() || !j.contains("code") || j["code"] != reply.status) __builtin_trap();
      }
    }
  }
  return 0;
}
