// A one-way source (Auth0 users, a Mixpanel or Amplitude cohort, a Mautic segment) as the people
// side of a pair: the snapshot stage over the source's reader. It is read, never written.
#include "concord/meta_keys.h"
#include "concord/side.h"
#include "concord/snapshot.h"

namespace concord {
namespace {

class SourceSide final : public SyncSide {
 public:
  SourceSide(std::unique_ptr<SourceReader> reader, SourceSideOptions options, const Clock& clock)
      : reader_(std::move(reader)), options_(std::move(options)), clock_(clock) {}

  Side side() const override { return Side::kCrm; }
  std::size_t batch_size() const override { return 500; }
  std::uint64_t requests() const override { return reader_->requests(); }

  Status resolve() override {
    if (resolved_) return Status::ok();
    if (Status s = reader_->resolve(); !s) return s.with_origin(options_.origin);
    resolved_ = true;
    return Status::ok();
  }

  Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    Result<FetchStats> r = fetch_source(*reader_, how(), full, store, pair);
    if (!r) return r.status().with_origin(options_.origin);  // a store error keeps kStore
    return r;
  }

  // By address, a source is not read again (a cohort can only be read whole; a Mautic delivery
  // names its contacts by id: refresh_people): the stored set stands until the next scheduled
  // fetch, and the refreshed Mailchimp members are decided against it.
  Result<FetchStats> refresh(const std::vector<std::string>&, Store&, const PairHandle&) override {
    if (Status s = resolve(); !s) return s;
    return FetchStats{};
  }

  Result<FetchStats> refresh_people(const std::vector<std::string>& ids, Store& store,
                                    const PairHandle& pair,
                                    std::vector<std::string>* emails) override {
    if (Status s = resolve(); !s) return s;
    Result<FetchStats> r = refresh_source(*reader_, ids, how(), store, pair, emails);
    if (!r) return r.status().with_origin(options_.origin);
    return r;
  }

  // Never called for a one-way pair (decide() plans no write to its people side); should one
  // come, it is refused, not sent.
  std::vector<SideOutcome> apply(const std::vector<SideWrite>& writes) override {
    std::vector<SideOutcome> out(writes.size());
    for (SideOutcome& o : out) {
      o.code = SideOutcome::Code::kRefused;
      o.conflict = Conflict::kFailedWrite;
      o.message = std::string(origin_name(options_.origin)) +
                  " is the source of a one-way pair: concord never writes to it";
    }
    return out;
  }

 private:
  SourceFetch how() const {
    SourceFetch how;
    how.watermark_key = meta::source_watermark(origin_name(options_.origin), options_.set);
    how.seen_at = clock_.now();
    how.verified_only = options_.verified_only;
    switch (options_.origin) {
      case Origin::kAuth0:
        how.noun = "Auth0 user";
        break;
      case Origin::kMixpanel:
        how.noun = "Mixpanel profile";
        break;
      case Origin::kAmplitude:
        how.noun = "Amplitude user";
        break;
      case Origin::kMautic:
        how.noun = "Mautic contact";
        break;
      default:
        break;
    }
    return how;
  }

  std::unique_ptr<SourceReader> reader_;
  SourceSideOptions options_;
  const Clock& clock_;
  bool resolved_ = false;
};

}  // namespace

std::unique_ptr<SyncSide> source_side(std::unique_ptr<SourceReader> reader,
                                      SourceSideOptions options, const Clock& clock) {
  return std::make_unique<SourceSide>(std::move(reader), std::move(options), clock);
}

}  // namespace concord
