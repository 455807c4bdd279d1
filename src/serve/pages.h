// The HTML pages `concord serve` answers with: the status page at "/" and a sync pair's run
// history.
//
// Both are self-contained documents (inline CSS and script, no external assets; a
// Content-Security-Policy meta tag forbids loading anything from another origin) that read well on
// a desktop and on a phone, light or dark as the system prefers.
//
// The status page is a static shell: it holds no data, and fetches everything from the daemon's
// JSON API with fetch(), every 5 s and right after each action:
//
//   GET  /api/syncs                  200 {"syncs":[<sync>…]}
//   POST /api/syncs/{name}/enabled   body {"enabled":false}, Content-Type application/json
//                                    200 <sync> (the pair as updated)
//   POST /api/syncs/{name}/run       202 {"queued":true}
//   errors                           4xx/5xx {"error":"…"}
//
//   <sync> = {"name":"newsletter","created":"2026-11-01T10:00:00Z","enabled":true,
//             "schedule":"every 30m","kind":"civicrm → audience",
//             "state":"idle"|"running"|"queued"|"disabled",
//             "next_run":"…Z"|null,"last_run":null|<run>,"history_url":"/syncs/newsletter/runs"}
//   <run>  = {"id":12,"started":"…Z","ended":"…Z"|null,"duration_s":3.2|null,
//             "result":"done"|"done-with-failures"|"stopped-by-guard"|"failed"|"interrupted"|
//                      "running",
//             "counts":{"planned":10,"applied":9,"failed":1,"refused":0,"report_rows":2},
//             "report_url":"/syncs/newsletter/runs/12/report.html"|null}
//
// ({name} is percent-encoded in the path.) The API calls carry the session cookie (the page never
// sees the token); a 401 sends the browser to /login. Links from the data are followed only when
// they are paths on the same origin ("/…").
//
// Thread-safety: pure functions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace concord::serve {

// The status page ("Scheduled jobs"): one row per sync pair, updated in place. Stable hooks for
// tests: each row is `tr[data-sync="<name>"]`; in it `input.toggle` (role=switch), `.state`,
// `.run-id` ("#12"), `.result` (its text the result, e.g. "done"; `data-result` the same),
// `button.run-now`, `a.report`, `a.history`. `#error` is the error banner.
std::string status_page_html();

// The login form: posts the token to /login (`#token`), with `message` (escaped) above it when
// not empty (`#login-error`).
std::string login_page_html(std::string_view message);

// The history page of one pair, rendered on the server from
//   {"name":"newsletter","runs":[<run>…]}
// (runs in the order given; a missing or ill-typed field shows as "—"). Every text from the data
// is escaped; a report_url that is not a same-origin path ("/…") is not linked. A small inline
// script shows times in the browser's local time.
std::string runs_page_html(const nlohmann::json& sync_and_runs);

}  // namespace concord::serve
