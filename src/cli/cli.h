// Internal to the `concord` command: shared helpers of its subcommands.
#pragma once

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "concord/amplitude_client.h"
#include "concord/auth0_client.h"
#include "concord/civicrm_client.h"
#include "concord/config.h"
#include "concord/decide.h"
#include "concord/engine.h"
#include "concord/mailchimp_client.h"
#include "concord/mautic_client.h"
#include "concord/mixpanel_client.h"
#include "concord/plan.h"
#include "concord/side.h"
#include "concord/store.h"

namespace concord::cli {

// Exit statuses (README.md, "Exit status").
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitGuard = 3;
inline constexpr int kExitUnsynced = 4;

struct Global {
  std::string config = "concord.toml";
  bool verbose = false;
};

// Prints "concord: <message>" on stderr and returns `code`.
int fail(int code, const std::string& message);
// The exit code for a Status: kInvalid config/usage problems are 2, the rest 1.
int exit_for(const Status& s);

// Everything a command needs, opened from the configuration.
class Context {
 public:
  // `read_only`: the store is opened for reading only (status, report, explain), so that these
  // work while `concord serve` holds it; a pair with no state yet is then kNotFound.
  static Result<std::unique_ptr<Context>> open(const Global& g, bool with_store = true,
                                               bool read_only = false);

  const Config& config() const { return config_; }
  Store& store() { return *store_; }
  std::filesystem::path backup_dir() const { return config_.state_dir / "backups"; }

  // The syncs a command acts on: the one named, or all of them.
  Result<std::vector<const SyncConfig*>> syncs(const std::string& name) const;

  // Clients are created on first use and shared by every sync of the account.
  Result<MailchimpClient*> mailchimp(const std::string& account);
  Result<CiviCrmClient*> civicrm(const std::string& connection);
  Result<MauticClient*> mautic(const std::string& name);

  // A reader of a one-way pair's set (its source's client is made on first use and shared).
  Result<std::unique_ptr<SourceReader>> source_reader(const SyncConfig& sync);

  struct Pair {
    const PairHandle* handle = nullptr;
    std::unique_ptr<SyncSide> mailchimp;
    std::unique_ptr<SyncSide> crm;  // the people side: the CiviCRM group or a one-way source
  };
  Result<Pair> pair(const SyncConfig& sync);

  // HTTP errors the clients met and retried (5xx, 429, resets, timeouts), per side.
  std::uint64_t retried_errors(Side side) const {
    return (side == Side::kMailchimp ? *mailchimp_retries_ : *crm_retries_).load();
  }

 private:
  Config config_;
  std::unique_ptr<Store> store_;
  std::map<std::string, std::unique_ptr<MailchimpClient>> mailchimp_;
  std::map<std::string, std::unique_ptr<CiviCrmClient>> civicrm_;
  std::map<std::string, std::unique_ptr<Auth0Client>> auth0_;
  std::map<std::string, std::unique_ptr<MixpanelClient>> mixpanel_;
  std::map<std::string, std::unique_ptr<AmplitudeClient>> amplitude_;
  std::map<std::string, std::unique_ptr<MauticClient>> mautic_;
  std::shared_ptr<std::atomic<std::uint64_t>> mailchimp_retries_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> crm_retries_ =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

// Progress lines on stderr: on a terminal (rewritten in place), or always with --verbose.
std::function<void(const Progress&)> progress_printer(bool verbose);

class PlanListing;
// What --json says of a plan apart from its lists: {"sync", "first_run", "counts"}.
nlohmann::json plan_json(const PlanCounts& counts, bool first_run, const std::string& sync);
// Writes `header` (an object) with the listing's "operations" and "report" lists added, as
// indented JSON without a final newline.
Status print_plan_json(const nlohmann::json& header, PlanListing& listing, std::FILE* out);

std::string time_text(Micros t);  // ISO 8601, or "-" when unknown

// Subcommands.
struct RehearseOptions {
  std::string table;
  std::string state_dir = "state";
  std::string trust;
  std::string tie = "crm";
  bool json = false;
};
int rehearse(const RehearseOptions& o);

struct RunOptions {
  std::string sync;
  std::string trust;
  bool allow_mass_removal = false;
  bool allow_mass_addition = false;
  bool full = false;
  bool json = false;
  std::uint64_t undo_run = 0;  // `concord undo --run N`: the run undone (0: plan or sync)
};
int init(const Global& g, bool force);
int check(const Global& g, bool as_json);
int plan(const Global& g, const RunOptions& o);
int sync(const Global& g, const RunOptions& o);
// `concord undo --run N`: plans (and with `apply`, makes) the inverse of run N's writes (undo.h).
int undo(const Global& g, const RunOptions& o, bool apply);

struct ReportOptions {
  std::string sync;
  std::uint64_t run = 0;  // 0: the last
  std::string format = "md";
  std::string output;
};
int report(const Global& g, const ReportOptions& o);
int status(const Global& g, bool json);
// `concord prune`: retention now (RunLog::prune with each sync's keep_runs and keep_days).
int prune(const Global& g, const std::string& sync, bool json);
int backup(const Global& g, const std::string& sync, const std::string& dir, bool as_json);
int explain(const Global& g, const std::string& email, const std::string& sync, bool json);

struct ServeOptions {
  std::string listen;  // overrides [serve] listen
};
int serve(const Global& g, const ServeOptions& o);
int webhooks_install(const Global& g, const std::string& sync, const std::string& public_url,
                     bool as_json);
// `concord webhooks install --mautic`: a signed Mautic webhook for each Mautic pair.
int mautic_webhooks_install(const Global& g, const std::string& sync, const std::string& public_url,
                            bool as_json);
int webhooks_list(const Global& g, const std::string& sync, bool as_json);

}  // namespace concord::cli
