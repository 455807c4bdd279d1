// The HTTP side of `concord serve`: every request the daemon answers, as a function from request
// to reply over a narrow view of the daemon (DaemonView), so that routes, the token and the JSON
// shapes are tested against a fake daemon without sockets.
//
// Routes (docs/operations.md; the JSON shapes are written down in serve/pages.h):
//   /webhooks/mailchimp/<sync>/<secret>   deliveries (GET: Mailchimp's check of the URL)
//   POST /2/httpapi, /batch, /identify     a [[stream]]'s Amplitude-shaped intake (its key, no
//   token) /healthz                              "ok", no token GET /login, POST /login (form:
//   token)  the login form; a session cookie for the right token POST /logout ends the session /
//   the status page /metrics                              Prometheus text GET  /api/syncs, GET
//   /api/streams, GET /api/runs?sync=NAME&limit=N POST /api/syncs/<sync>/enabled {"enabled":bool},
//   POST /api/syncs/<sync>/run {} GET  /syncs/<sync>/runs, GET /syncs/<sync>/runs/<id>/report.html
// Every route but the webhooks, the intake, /healthz and /login needs the token (`Authorization:
// Bearer …`) or a session; a page asked for without either is redirected to /login. Who may ask,
// and the checks against cross-site requests, are in serve/auth.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "concord/http.h"
#include "concord/journal.h"
#include "concord/status.h"
#include "concord/time.h"
#include "serve/auth.h"
#include "serve/metrics.h"
#include "serve/webhook.h"

namespace concord::serve {

// Where the daemon's parts write their log lines (one line each, no newline).
using Log = std::function<void(const std::string& line)>;

// A sync pair as the status page shows it.
struct SyncView {
  enum class State : std::uint8_t { kIdle = 0, kRunning, kQueued, kDisabled };
  std::string name;
  Micros created = kNoTime;  // when the daemon first saw the pair
  bool enabled = true;       // the status page's toggle
  std::string schedule;      // as configured
  // The people side and the target, e.g. "civicrm → audience", "auth0 → audience",
  // "mixpanel → tag".
  std::string kind;
  State state = State::kIdle;
  Micros next_run = kNoTime;  // kNoTime: not planned (disabled)
  std::optional<RunRecord> last_run;
  // What the operator must act on, when anything: the people side's webhook is missing or
  // unpublished (Mautic drops the deliveries meanwhile). Empty when all is well.
  std::string warning;
};
std::string_view sync_state_name(SyncView::State s);

// A [[stream]] as the status page shows it.
struct StreamView {
  std::string name;
  std::string kind;      // "amplitude → audience"
  std::string audience;  // as configured
  std::uint64_t accepted = 0;
  std::uint64_t forwarded = 0;
  std::uint64_t queued = 0;
  std::vector<std::pair<std::string, std::uint64_t>> dropped;  // reason → events, every reason
  std::string last_error;                                      // "" when none
  Micros last_error_at = kNoTime;
  // User properties that name no merge field of the audience (not sent; reported once each).
  std::vector<std::string> unknown_properties;
};  // "idle", "running", "queued", "disabled"

// What the API asks of the daemon. Unknown pair names are kNotFound.
//
// Thread-safety: called from the HTTP server's threads, several at once.
class DaemonView {
 public:
  virtual ~DaemonView() = default;

  // Every pair, in name order.
  virtual std::vector<SyncView> syncs() = 0;
  virtual Result<SyncView> sync(const std::string& name) = 0;
  // The pair's last `limit` runs, newest first; one run; a run's report rows.
  virtual Result<std::vector<RunRecord>> runs(const std::string& sync, std::size_t limit) = 0;
  virtual Result<std::optional<RunRecord>> run(const std::string& sync, std::uint64_t id) = 0;
  virtual Result<std::vector<ReportEntry>> report_rows(const std::string& sync,
                                                       std::uint64_t id) = 0;

  // The toggle (kept across restarts); returns the pair as updated.
  virtual Result<SyncView> set_enabled(const std::string& sync, bool enabled) = 0;
  // Asks for one run of the pair as soon as the worker is free.
  virtual Status run_now(const std::string& sync) = 0;

  virtual std::string metrics_text() = 0;
  // Whether the daemon can do its work: its store can write (a full disk cannot). Not OK: why.
  virtual Status health() = 0;

  // Whether `secret` is the secret of the pair's webhook URL (false for an unknown pair).
  virtual bool webhook_secret_ok(const std::string& sync, std::string_view secret) = 0;
  // Stores a delivery durably for the pair's next webhook run; OK only once it is stored.
  // kInvalid (nothing stored) when it names another audience than the pair's; kUnavailable when
  // it cannot be stored or checked now (the sender tries again).
  virtual Status deliver(const std::string& sync, WebhookEvent event) = 0;
  // A people side's delivery for the pair (Mautic's webhooks): its signature checked and the ids
  // of the people it names. kNotFound when the pair takes none; kPermissionDenied for a wrong
  // signature; kInvalid when the body is malformed (naming what).
  virtual Result<std::vector<std::string>> read_people_delivery(const std::string& sync,
                                                                std::string_view body,
                                                                std::string_view signature) = 0;
  // Counts a refused delivery.
  virtual void webhook_rejected(Rejection reason) = 0;

  // The [[stream]]s, in name order.
  virtual std::vector<StreamView> streams() { return {}; }
  // An event intake request (POST /2/httpapi, /batch, /identify): answered by the stream whose
  // key it sends (the first stream's answer when none matches). nullopt when there are no streams.
  virtual std::optional<http::Reply> intake(const http::Request& request,
                                            std::string_view peer_address) {
    (void)request;
    (void)peer_address;
    return std::nullopt;
  }
};

struct ApiOptions {
  // The token the data routes require. Empty: no one gets in (the listener always sets one).
  std::string token;
  // The names this daemon answers as (serve/auth.h).
  Site site;
  // When not empty, deliveries must carry this header with the HMAC-SHA256 of their body under
  // signature_secret (webhook_signature_ok); others are refused 403.
  std::string signature_header;
  std::string signature_secret;
  // Toggles from the status page and refused deliveries are logged here. Empty: not logged.
  Log log;
};

// Thread-safety: handle() may be called from several threads at once.
class Api {
 public:
  // REQUIRES: `view` outlives the Api.
  Api(DaemonView& view, ApiOptions options) : view_(view), options_(std::move(options)) {}

  // The checks made on a request's header alone (Host, authentication, size): a reply refuses
  // it before its body is read. handle() makes them too.
  std::optional<http::Reply> admit(const http::Request& head);
  // `peer_address`: the client's IP (an Amplitude event's "ip":"$remote").
  http::Reply handle(const http::Request& request, std::string_view peer_address = {});

 private:
  http::Reply login(const http::Request& req);
  http::Reply logout(const http::Request& req);
  http::Reply webhook(const http::Request& req, const std::vector<std::string>& parts);
  http::Reply people_webhook(const http::Request& req, const std::vector<std::string>& parts);
  http::Reply intake(const http::Request& req, std::string_view peer_address);
  // The query's parameters; the first of a name repeated counts.
  using Query = std::map<std::string, std::string>;

  http::Reply api(const http::Request& req, const std::vector<std::string>& parts,
                  const Query& query);
  http::Reply pages(const std::vector<std::string>& parts);
  bool authorised(const http::Request& req);
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  DaemonView& view_;
  const ApiOptions options_;
  Sessions sessions_;
};

}  // namespace concord::serve
