// The Management API's connection reads (docs/sandbox.md "The Auth0 API", "Connections"):
//   * GET /api/v2/connections with `name` and `strategy` filters and its three shapes: a bare
//     array (offset paging, or none), {total,start,limit,connections} with include_totals, and
//     {connections,next} with checkpoint paging (`take`/`from`, which win over include_totals);
//   * GET /api/v2/connections/{id}.
// The caller has checked the token.
//
// Thread-safety: the caller holds the part's lock.
#pragma once

#include <string_view>

#include "concord/http.h"
#include "sandbox/auth0/tenant.h"

namespace concord::sandbox::auth0 {

http::Reply list_connections(const Tenant& tenant, std::string_view query);
http::Reply get_connection(const Tenant& tenant, std::string_view id, std::string_view query);

}  // namespace concord::sandbox::auth0
