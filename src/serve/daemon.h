// The daemon of `concord serve`: every sync pair run on its schedule, the pairs Mailchimp's
// webhooks name reconciled, and what the HTTP API shows and changes (DaemonView).
//
// Each Mailchimp account has two workers: one for its pairs' scheduled runs, one for their
// deliveries' runs, so that pairs of different accounts run at the same time and a delivery never
// waits for a long run (a migration) of another pair of its account: the runs share the account's
// connections (its client's budget), each request waiting at most for one in flight. One run of a
// pair at a time is the rule: a pair's deliveries wait while a scheduled run of it is due or
// running (its fetch covers them). step(), the rules with one worker, takes deliveries first, but
// never twice in a row while scheduled runs wait, so that a steady stream of deliveries cannot
// starve the schedule.
//
// The daemon reads time only from the Clock it is given, and step() runs what is due without a
// thread or a wait, so that the worker's rules are tested with a fake clock; start() runs step()
// on a thread that sleeps until the next run is due or something happens.
//
// State kept in each pair's meta family (besides the engine's and the inbox's):
//   serve.created       decimal µs: when the daemon first saw the pair
//   serve.enabled       "1" / "0": the status page's toggle
//
// Thread-safety: the DaemonView methods may be called from any thread while the worker runs.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "concord/config.h"
#include "concord/engine.h"
#include "concord/side.h"
#include "concord/store.h"
#include "concord/time.h"
#include "serve/api.h"
#include "serve/inbox.h"
#include "serve/metrics.h"
#include "serve/scheduler.h"
#include "serve/stream.h"

namespace concord::serve {

// One sync pair as the daemon runs it.
// Reads a people side's webhook delivery (DaemonPair::people_delivery).
using PeopleDelivery = std::function<Result<std::vector<std::string>>(std::string_view body,
                                                                      std::string_view signature)>;

struct DaemonPair {
  const SyncConfig* config = nullptr;  // REQUIRES: outlives the daemon
  const PairHandle* handle = nullptr;  // of the daemon's store
  std::unique_ptr<SyncSide> mailchimp;
  std::unique_ptr<SyncSide> crm;
  // Carries Mailchimp's address change (an `upemail` delivery) over to the CRM contact, so the
  // person stays one contact (CiviCrmClient::change_email). kNotFound when the contact has no
  // such address. Empty: such deliveries only read both addresses again.
  std::function<Status(std::int64_t contact_id, const std::string& old_email,
                       const std::string& new_email)>
      change_crm_email;
  // The id of the pair's audience (resolved from the id or name configured), which deliveries
  // must name. Called once at open and, while it fails, again for each delivery. Empty: not
  // checked.
  std::function<Result<std::string>()> audience_id;
  // Reads a people side's webhook delivery (Mautic's): checks its signature header and returns
  // the ids of the people it names. kPermissionDenied when the signature is wrong, kInvalid
  // (naming what) when the body is malformed. Empty: the pair takes no such deliveries.
  PeopleDelivery people_delivery;
  // Checks the people side's webhook (the Mautic hook of this pair): a warning to show when it is
  // missing or unpublished (deliveries are lost meanwhile), "" when all is well. Called after
  // each scheduled run. Empty: nothing to check.
  std::function<Result<std::string>()> people_webhook_warning;
};

struct DaemonOptions {
  // Where the engine writes the backup before a pair's first apply (state_dir/backups).
  std::filesystem::path backup_dir;
  // The source of every time the daemon reads or records. REQUIRES: outlives the daemon.
  const Clock* clock = &system_clock();
  // One line per run, and what goes wrong between runs. Empty: not logged.
  Log log;
  // The HTTP errors the sides' clients met and retried so far (5xx, 429, resets, timeouts), for
  // concord_api_errors_total. Empty: none are counted.
  std::function<std::uint64_t(Side side)> retried_errors;
  // The most deliveries one webhook run reconciles (more wait for the next run).
  std::size_t deliveries_per_run = 1000;
};

class Daemon : public DaemonView {
 public:
  // Reads each pair's state (created, toggle, last run, stored deliveries) from `store` and
  // derives its webhook secret from config.state_dir; creates nothing but the pairs' meta entries
  // and the webhook key. Errors name the pair. kInvalid when a schedule does not parse. REQUIRES:
  // `config` and `store` outlive the daemon; each pair's handle is of `store` and its sides are not
  // used by anyone else while the daemon lives. `streams` ([[stream]]s) are started and stopped
  // with the worker; their intake and state are part of the view. kInvalid when there are neither
  // pairs nor streams.
  static Result<std::unique_ptr<Daemon>> open(const Config& config, Store& store,
                                              std::vector<DaemonPair> pairs, DaemonOptions options,
                                              std::vector<std::unique_ptr<Stream>> streams = {});
  ~Daemon() override;  // stop()s

  // Runs the workers (two per Mailchimp account, see above) until stop().
  void start();
  // The run in progress stops after its current batch (journaled; the next run resumes); the
  // worker ends. Idempotent.
  void stop();

  // Starts at most one run — the one due first by the rules above, as of the clock's now — and
  // returns when it ends. False when nothing was due. Not while the workers run.
  bool step() { return step(nullptr); }
  // When the next scheduled run is due (kNoTime: none is planned). Deliveries are not counted:
  // they wake the worker when they arrive.
  Micros next_wakeup();

  std::size_t pair_count() const { return pairs_.size(); }
  // The metrics of the runs and deliveries.
  const ServeMetrics& metrics() const { return metrics_; }

  // DaemonView.
  std::vector<SyncView> syncs() override;
  Result<SyncView> sync(const std::string& name) override;
  Result<std::vector<RunRecord>> runs(const std::string& sync, std::size_t limit) override;
  Result<std::optional<RunRecord>> run(const std::string& sync, std::uint64_t id) override;
  Result<std::vector<ReportEntry>> report_rows(const std::string& sync, std::uint64_t id) override;
  Result<SyncView> set_enabled(const std::string& sync, bool enabled) override;
  Status run_now(const std::string& sync) override;
  std::string metrics_text() override;
  Status health() override;
  bool webhook_secret_ok(const std::string& sync, std::string_view secret) override;
  Status deliver(const std::string& sync, WebhookEvent event) override;
  Result<std::vector<std::string>> read_people_delivery(const std::string& sync,
                                                        std::string_view body,
                                                        std::string_view signature) override;
  void webhook_rejected(Rejection reason) override { metrics_.webhook_rejected(reason); }
  std::vector<StreamView> streams() override;
  std::optional<http::Reply> intake(const http::Request& request,
                                    std::string_view peer_address) override;

 private:
  struct Pair {
    DaemonPair spec;
    bool busy = false;  // a run of the pair is in progress. GUARDED_BY(mu_).
    std::string webhook_secret;
    Micros created = kNoTime;
    bool webhook_pending = false;  // deliveries stored since the last webhook run began
    std::string audience_id;       // GUARDED_BY(audience_mu_); empty until resolved
    // Runs in a row that left deliveries unreconciled, and when they are tried again (kNoTime:
    // not waiting out a back-off). GUARDED_BY(mu_).
    int failures = 0;
    Micros retry_at = kNoTime;
    std::string warning;  // SyncView::warning. GUARDED_BY(mu_).
  };
  // What a run leaves for the pair's deliveries: nothing, more to take at once (a backlog
  // larger than one run takes), or deliveries to try again after a back-off (the run failed or
  // stopped, or an address change could not be made).
  enum class FollowUp : std::uint8_t { kNone, kMore, kRetryLater };
  FollowUp follow_up(Pair& p, bool kept_back);
  // REQUIRES: mu_ held.
  Micros next_wakeup_locked() const;
  // The pair's audience id, resolved now if it is not known yet.
  Result<std::string> audience_of(Pair& p);
  std::mutex audience_mu_;  // held while resolving: one look-up at a time
  // The store's last writability check and when it was made (health() checks at most once a
  // second: a health checker polling often does not cost a synced write each time).
  std::mutex health_mu_;
  Status health_;                    // GUARDED_BY(health_mu_)
  Micros health_checked_ = kNoTime;  // GUARDED_BY(health_mu_)

  Daemon(const Config& config, Store& store, DaemonOptions options)
      : config_(config), store_(store), options_(std::move(options)) {}

  Status add(DaemonPair spec, Micros now);
  Pair* find(const std::string& name);
  // REQUIRES: mu_ held.
  SyncView view_of(const Pair& p);
  // One run of a pair: scheduled (or "run now"), or for its stored deliveries.
  FollowUp run_pair(Pair& p, bool webhook);
  // The addresses the oldest `limit` deliveries name, after carrying out their address changes
  // in the CRM. `numbers` gets the deliveries this run settles: an address change that failed is
  // not among them (it stays stored and is tried again), and *kept_back says whether one was.
  // `people` gets the people side's ids the people-side deliveries (Mautic's) name.
  Result<std::vector<std::string>> take_deliveries(Pair& p, std::size_t limit,
                                                   std::vector<std::uint64_t>* numbers,
                                                   bool* kept_back,
                                                   std::vector<std::string>* people);
  // Carries out the address changes among `deliveries`; the numbers of those that failed go to
  // `failed` (logged).
  void change_addresses(Pair& p, const std::vector<Inbox::Delivery>& deliveries,
                        std::set<std::uint64_t>* failed);
  Status change_crm_email(Pair& p, const std::string& old_email, const std::string& new_email);
  // Whether the audience has a member with this address, as Mailchimp says now (read into the
  // pair's snapshot).
  Result<bool> mailchimp_has(Pair& p, const std::string& email);
  void count_pending(const Pair& p);
  // A worker's share: one account's scheduled runs, or its deliveries' runs.
  struct Lane {
    std::string account;
    bool webhook = false;
  };
  // step() for one lane (nullptr: every lane, by the one-worker rules).
  bool step(const Lane* lane);
  void work(const Lane& lane);
  // Wakes every worker to look again. REQUIRES: mu_ held.
  void wake_locked();
  void log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

  const Config& config_;
  Store& store_;
  const DaemonOptions options_;
  std::unique_ptr<Inbox> inbox_;
  ServeMetrics metrics_;
  std::map<std::string, Pair> pairs_;             // fixed after open()
  std::vector<std::unique_ptr<Stream>> streams_;  // fixed after open(); in name order

  std::mutex mu_;  // guards what follows, and the webhook_pending flags
  std::condition_variable cv_;
  Scheduler sched_;
  std::deque<std::string> queue_;  // taken from the scheduler, not started yet
  bool last_was_webhook_ = false;  // step() with one worker
  std::uint64_t wakeups_ = 0;      // moves on whenever something happened that a worker may take
  bool stopping_ = false;

  std::atomic<bool> stop_flag_{false};         // the engine's RunRequest::stop
  std::uint64_t retried_counted_[2] = {0, 0};  // by Side: retried errors already exported
  std::vector<std::thread> workers_;
};

}  // namespace concord::serve
