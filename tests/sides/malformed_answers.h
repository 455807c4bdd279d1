// Answers of any shape (issue 14, "No input crashes it"): a transport that answers every request
// with one canned body, and the shapes both clients must read without throwing or aborting.
#pragma once

#include <string>
#include <vector>

#include "concord/http.h"

namespace concord::testing {

class CannedTransport final : public http::Client {
 public:
  explicit CannedTransport(std::string body, int status = 200)
      : body_(std::move(body)), status_(status) {}
  Result<http::Response> send(const http::Request&) override {
    ++attempts_;
    http::Response r;
    r.status = status_;
    r.body = body_;
    return r;
  }
  std::uint64_t attempts() const override { return attempts_; }
  std::uint64_t connections_opened() const override { return 1; }

 private:
  std::string body_;
  int status_;
  std::uint64_t attempts_ = 0;
};

// Bodies that are not what the API documents: wrong top-level types, wrong member types, nulls,
// huge numbers, truncated JSON.
inline const std::vector<std::string>& malformed_bodies() {
  static const std::vector<std::string> bodies = {
      "",
      "[]",
      "\"x\"",
      "null",
      "42",
      "{",
      "{}",
      R"({"lists":[1]})",
      R"({"lists":"x","total_items":"many"})",
      R"({"lists":[{"id":5,"name":["a"],"stats":{"member_count":"x"}}]})",
      R"({"id":7,"name":null,"stats":[]})",
      R"({"merge_fields":[1,null,{"tag":5,"type":{},"options":"x"}]})",
      R"({"stats":{"member_count":1e400,"unsubscribe_count":-1,"cleaned_count":"0"}})",
      R"({"members":[null,1,{"email_address":5,"status":[]}],"total_items":99999999999999999999})",
      R"({"webhooks":[null,{"id":1,"events":"x","sources":[true]}]})",
      R"({"new_members":[null,{"email_address":{}}],"updated_members":"x","errors":[5,{"error":1}]})",
      R"({"values":[null]})",
      R"({"values":"x"})",
      R"({"values":{"a":1}})",
      R"({"values":[1,"x",[],{"contact_id":"abc","id":{},"email":7,"status":5,"date":[]}]})",
      R"({"values":[{"id":99999999999999999999999,"name":null,"title":false}]})",
      R"({"values":[],"count":"x"})",
  };
  return bodies;
}

}  // namespace concord::testing
