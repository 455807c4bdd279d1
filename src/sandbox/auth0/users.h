// The Management API's user reads (docs/sandbox.md "The Auth0 API", "Users"):
//   * GET /api/v2/users: the search (search.h) over the users the index shows, sorted, paged
//     (page, per_page ≤ 100, only the first 1 000 results reachable), optionally wrapped with
//     totals, with fields/include_fields;
//   * GET /api/v2/users/{id}: one user, as stored now.
// The caller has checked the token.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/time.h"
#include "sandbox/auth0/tenant.h"
#include "sandbox/json_writer.h"

namespace concord::sandbox::auth0 {

// Only the first this many results of a search can be paged through.
inline constexpr std::int64_t kSearchWindow = 1000;

http::Reply list_users(const Tenant& tenant, std::string_view query, Micros now);
http::Reply get_user(const Tenant& tenant, std::string_view user_id, std::string_view query);

// What `fields` and `include_fields` ask of an object's keys (users, connections).
struct FieldFilter {
  std::vector<std::string> fields;  // empty: every key
  bool include = true;

  // Parses a comma-separated list.
  static FieldFilter parse(std::string_view list, bool include);
  bool keeps(std::string_view key) const;
  // Writes `object` with the keys kept, in their order.
  void write(JsonOut& o, const ojson& object) const;
};

}  // namespace concord::sandbox::auth0
