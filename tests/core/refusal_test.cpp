// The stored form of a refusal (include/concord/refusal.h), and its meta key.
#include "concord/refusal.h"

#include <catch2/catch.hpp>

#include "concord/email.h"
#include "concord/meta_keys.h"

namespace concord {
namespace {

TEST_CASE("a refusal survives encoding, byte for byte as documented") {
  StoredRefusal r{Refusal::kForgotten, 258, "Forgotten Email Not Subscribed"};
  const std::string v = encode_refusal(r);
  REQUIRE(v.size() == 10 + r.message.size());
  CHECK(v[0] == 1);                                             // format version
  CHECK(v[1] == 2);                                             // Refusal::kForgotten
  CHECK(v.substr(2, 8) == std::string("\0\0\0\0\0\0\1\2", 8));  // run id, big-endian
  Result<StoredRefusal> back = decode_refusal(v);
  REQUIRE(back.is_ok());
  CHECK(back->kind == Refusal::kForgotten);
  CHECK(back->run_id == 258);
  CHECK(back->message == r.message);
}

TEST_CASE("refusals stored as text by earlier releases are read") {
  Result<StoredRefusal> inv =
      decode_refusal("invalid-email: run 3: fake@example.com looks fake or invalid");
  REQUIRE(inv.is_ok());
  CHECK(inv->kind == Refusal::kInvalidAddress);
  CHECK(inv->run_id == 3);
  CHECK(inv->message == "fake@example.com looks fake or invalid");
  Result<StoredRefusal> gone = decode_refusal("forgotten: run 12: ");
  REQUIRE(gone.is_ok());
  CHECK(gone->kind == Refusal::kForgotten);
  CHECK(gone->run_id == 12);
}

TEST_CASE("a damaged refusal is an error, never a guess") {
  CHECK(decode_refusal("").status().code() == Status::Code::kCorruption);
  CHECK(decode_refusal("compliance: run 1: x").status().code() == Status::Code::kCorruption);
  CHECK(decode_refusal(std::string("\1\2\0", 3)).status().code() == Status::Code::kCorruption);
  std::string bad_kind = encode_refusal({Refusal::kInvalidAddress, 1, ""});
  bad_kind[1] = 9;
  CHECK(decode_refusal(bad_kind).status().code() == Status::Code::kCorruption);
}

TEST_CASE("refusal keys name the member and sort as member keys do") {
  const MemberKey a = member_key("a@example.org"), b = member_key("b@example.org");
  const std::string ka = meta::refusal_key(a), kb = meta::refusal_key(b);
  CHECK(ka == "refused/" + subscriber_hash(a));
  CHECK((ka < kb) == (a < b));
  MemberKey back;
  REQUIRE(meta::member_of_refusal_key(ka, &back));
  CHECK(back == a);
  CHECK_FALSE(meta::member_of_refusal_key("refused/xyz", &back));
  CHECK_FALSE(meta::member_of_refusal_key("fetch.last_full", &back));
}

}  // namespace
}  // namespace concord
