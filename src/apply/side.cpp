// The Mailchimp and CiviCRM clients as SyncSides: the snapshot stage (snapshot.h) over each
// client's reads, and the client's writes.
#include <optional>

#include "concord/civicrm_client.h"
#include "concord/config.h"
#include "concord/mailchimp_client.h"
#include "concord/side.h"
#include "concord/snapshot.h"

namespace concord {
namespace {

// What both adapters share: the audience/group is resolved once, then fetches and writes go to it.
template <typename Client, typename Id>
class ClientSide : public SyncSide {
 public:
  ClientSide(Client& client, std::string name) : client_(client), name_(std::move(name)) {}

  Status resolve() override {
    if (id_) return Status::ok();
    Result<Id> id = lookup();
    if (!id) {
      return id.status()
          .with_context(std::string(noun()) + " \"" + name_ + "\"")
          .with_origin(origin());
    }
    id_ = *id;
    return Status::ok();
  }

  Result<FetchStats> fetch(bool full, Store& store, const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    return attributed(stage_fetch(*id_, full, store, pair));
  }

  Result<FetchStats> refresh(const std::vector<std::string>& emails, Store& store,
                             const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    return attributed(stage_refresh(*id_, emails, store, pair));
  }

  std::vector<SideOutcome> apply(const std::vector<SideWrite>& writes) override {
    std::vector<SideOutcome> out(writes.size());
    if (Status s = resolve(); !s) {
      for (SideOutcome& o : out)
        o.message = s.message();
      return out;
    }
    std::vector<SideOutcome> res = apply_resolved(*id_, writes);
    for (std::size_t i = 0; i < res.size() && i < out.size(); ++i)
      out[i] = std::move(res[i]);
    return out;
  }

  std::uint64_t requests() const override { return client_.requests(); }

 protected:
  // Errors of the client say they came from its system (a store error the client met keeps
  // kStore, set where the store failed).
  Result<FetchStats> attributed(Result<FetchStats> r) const {
    if (r) return r;
    return r.status().with_origin(origin());
  }
  Origin origin() const {
    return side() == Side::kMailchimp ? Origin::kMailchimp : Origin::kCivicrm;
  }

  virtual Result<Id> lookup() = 0;
  virtual const char* noun() const = 0;
  virtual std::vector<SideOutcome> apply_resolved(const Id& id,
                                                  const std::vector<SideWrite>& writes) = 0;
  virtual Result<FetchStats> stage_fetch(const Id& id, bool full, Store& store,
                                         const PairHandle& pair) = 0;
  virtual Result<FetchStats> stage_refresh(const Id& id, const std::vector<std::string>& emails,
                                           Store& store, const PairHandle& pair) = 0;

  Client& client_;
  std::string name_;
  std::optional<Id> id_;
};

class MailchimpSide final : public ClientSide<MailchimpClient, std::string> {
 public:
  MailchimpSide(MailchimpClient& client, std::string audience, Resubscribe resubscribe,
                MailchimpTarget target)
      : ClientSide(client, std::move(audience)),
        resubscribe_(resubscribe),
        target_(std::move(target)) {
    mark_.kind = target_.kind;
  }

  Side side() const override { return Side::kMailchimp; }

  // The audience, then the tag or interest (once).
  Status resolve() override {
    if (Status s = ClientSide::resolve(); !s) return s;
    if (target_resolved_ || target_.kind == TargetKind::kAudience) return Status::ok();
    if (Status s = resolve_target(); !s) return s.with_origin(origin());
    target_resolved_ = true;
    return Status::ok();
  }
  // The client sends a chunk's batch-subscribe calls of 500 over the account's connections at
  // once. A large chunk keeps them busy, leaves one part-filled call per chunk (a migration's
  // write calls stay near writes / 500), and gathers the members Mailchimp refuses for compliance
  // from twenty calls into one `pending` retry.
  std::size_t batch_size() const override { return 10000; }

 private:
  Result<std::string> lookup() override {
    Result<Audience> a = client_.resolve_audience(name_);
    if (!a) return a.status();
    return a->id;
  }
  const char* noun() const override { return "audience"; }

  Result<FetchStats> stage_fetch(const std::string& list_id, bool full, Store& store,
                                 const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    mark_.seen_at = now();
    return fetch_mailchimp(client_, list_id, full, store, pair, mark_);
  }
  Result<FetchStats> stage_refresh(const std::string& list_id,
                                   const std::vector<std::string>& emails, Store& store,
                                   const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    mark_.seen_at = now();
    return refresh_mailchimp(client_, list_id, emails, store, pair, mark_);
  }

  Micros now() const { return (target_.clock ? *target_.clock : system_clock()).now(); }

  Status resolve_target() {
    if (target_.kind == TargetKind::kInterest) {
      const auto [category, name] = split_interest(target_.interest);
      Result<Interest> i = client_.find_interest(*id_, category, name);
      if (!i) return i.status().with_context("interest \"" + target_.interest + "\"");
      mark_.interest_id = i->id;
      return Status::ok();
    }
    std::string name = target_.tag;
    if (name.empty() && target_.tag_name) {
      Result<std::string> n = target_.tag_name();
      if (!n) return n.status();
      name = std::move(*n);
    }
    if (name.empty()) return Status::invalid("the pair's tag has no name");
    mark_.tag = name;
    Result<Tag> t = client_.find_tag(*id_, name);
    if (t) {
      tag_id_ = t->id;
      mark_.tag = t->name;
    } else if (t.status().code() != Status::Code::kNotFound) {
      return t.status().with_context("tag \"" + name + "\"");
    }
    // A tag the audience does not have yet: nobody carries it; the first write creates it.
    return Status::ok();
  }

  Result<std::vector<MergeFieldSpec>> merge_fields() override {
    if (specs_) return *specs_;
    if (Status s = resolve(); !s) return s;
    Result<std::vector<MergeField>> fields = client_.merge_fields(*id_);
    if (!fields) return fields.status().with_origin(origin());
    std::vector<MergeFieldSpec> specs;
    for (const MergeField& f : *fields) {
      MergeFieldSpec m;
      m.tag = f.tag;
      // A type concord does not know is taken as text: its values are sent as they are.
      m.type = parse_merge_type(f.type).value_or(MergeType::kText);
      m.required = f.required;
      m.date_format = f.date_format;
      m.choices = f.choices;
      specs.push_back(std::move(m));
    }
    specs_ = std::move(specs);
    return *specs_;
  }

  std::vector<SideOutcome> apply_resolved(const std::string& list_id,
                                          const std::vector<SideWrite>& writes) override {
    if (Status s = resolve(); !s) return failed(writes.size(), s);
    std::vector<MailchimpWrite> mw;
    mw.reserve(writes.size());
    for (const SideWrite& w : writes) {
      MailchimpWrite m;
      m.email = w.email;
      m.kind = kind_of(w.kind);
      m.merge_fields = w.fields;
      m.status = w.status;
      m.from_email = w.from_email;
      for (const auto& [tag, value] : w.fields) {
        if (is_address(tag)) m.address_tags.push_back(tag);
      }
      const bool subscribes =
          w.kind == OpKind::kMailchimpSubscribe || w.kind == OpKind::kMailchimpPending;
      if (target_.kind == TargetKind::kTag && subscribes) m.tags.push_back(mark_.tag);
      if (w.kind == OpKind::kMailchimpAddTag || w.kind == OpKind::kMailchimpRemoveTag) {
        if (tag_id_ == 0) {
          // The first write that puts the tag on someone creates it.
          Result<Tag> t = client_.create_tag(list_id, mark_.tag);
          if (!t)
            return failed(writes.size(),
                          t.status().with_context("creating tag \"" + mark_.tag + "\""));
          tag_id_ = t->id;
        }
        m.tag_id = tag_id_;
      }
      if (target_.kind == TargetKind::kInterest &&
          (subscribes || w.kind == OpKind::kMailchimpAddInterest ||
           w.kind == OpKind::kMailchimpRemoveInterest)) {
        m.interests.emplace_back(mark_.interest_id, w.kind != OpKind::kMailchimpRemoveInterest);
      }
      mw.push_back(std::move(m));
    }
    std::vector<SideOutcome> out;
    for (const WriteOutcome& r : client_.apply(list_id, mw, resubscribe_)) {
      out.push_back(outcome_of(r));
    }
    return out;
  }

  bool is_address(const std::string& tag) const {
    if (!specs_) return false;
    for (const MergeFieldSpec& m : *specs_) {
      if (m.tag == tag) return m.type == MergeType::kAddress;
    }
    return false;
  }

  static std::vector<SideOutcome> failed(std::size_t n, const Status& s) {
    std::vector<SideOutcome> out(n);
    for (SideOutcome& o : out) {
      o.code = SideOutcome::Code::kFailed;
      o.conflict = Conflict::kFailedWrite;
      o.message = s.message();
    }
    return out;
  }

  static MailchimpWrite::Kind kind_of(OpKind k) {
    switch (k) {
      case OpKind::kMailchimpChangeEmail:
        return MailchimpWrite::Kind::kChangeEmail;
      case OpKind::kMailchimpAddTag:
        return MailchimpWrite::Kind::kAddTag;
      case OpKind::kMailchimpRemoveTag:
        return MailchimpWrite::Kind::kRemoveTag;
      case OpKind::kMailchimpAddInterest:
      case OpKind::kMailchimpRemoveInterest:  // an interest is set in a batch-subscribe item
      case OpKind::kMailchimpUpdateFields:
        return MailchimpWrite::Kind::kUpdateFields;
      case OpKind::kMailchimpPending:
        return MailchimpWrite::Kind::kPending;
      case OpKind::kMailchimpUnsubscribe:
        return MailchimpWrite::Kind::kUnsubscribe;
      case OpKind::kMailchimpArchive:
        return MailchimpWrite::Kind::kArchive;
      default:
        return MailchimpWrite::Kind::kSubscribe;
    }
  }

  static SideOutcome outcome_of(const WriteOutcome& w) {
    SideOutcome o;
    o.message = w.message;
    o.changed_at = w.last_changed;
    o.status = w.status;
    using C = WriteOutcome::Code;
    switch (w.code) {
      case C::kDone:
        o.code = SideOutcome::Code::kDone;
        break;
      case C::kPendingSent:
        o.code = SideOutcome::Code::kDone;
        o.conflict = Conflict::kCompliance;
        o.status = MailchimpStatus::kPending;
        break;
      case C::kCompliance:
        o.code = SideOutcome::Code::kRefused;
        o.conflict = Conflict::kCompliance;
        break;
      case C::kCleaned:
        o.code = SideOutcome::Code::kRefused;
        o.conflict = Conflict::kCleaned;
        o.status = MailchimpStatus::kCleaned;
        break;
      case C::kForgotten:
        o.code = SideOutcome::Code::kRefused;
        o.conflict = Conflict::kForgotten;
        o.status = MailchimpStatus::kForgotten;
        break;
      case C::kInvalid:
        o.code = SideOutcome::Code::kRefused;
        o.conflict = Conflict::kInvalidEmail;
        break;
      case C::kFailed:
        o.code = SideOutcome::Code::kFailed;
        o.conflict = Conflict::kFailedWrite;
        break;
    }
    return o;
  }

  Resubscribe resubscribe_;
  std::optional<std::vector<MergeFieldSpec>> specs_;  // read once
  MailchimpTarget target_;
  MailchimpMark mark_;       // what a fetch reads the target from
  std::int64_t tag_id_ = 0;  // 0: the audience has no such tag yet
  bool target_resolved_ = false;
};

class CiviCrmSide final : public ClientSide<CiviCrmClient, std::int64_t> {
 public:
  CiviCrmSide(CiviCrmClient& client, std::string group, std::vector<std::string> fields)
      : ClientSide(client, std::move(group)), reader_(client.with_fields(std::move(fields))) {}

  Side side() const override { return Side::kCrm; }
  // Five saves' worth of writes a chunk: the client sends each kind in its own batches (the
  // contacts to create looked up in one call, made and added to the group in another; the adds
  // and removes in a third), so a chunk of mixed kinds takes a few calls, not three a save.
  std::size_t batch_size() const override {
    return 5 * static_cast<std::size_t>(client_.write_batch());
  }
  // A chunk's calls go one after another: chunks are sent at once up to the site's connection
  // budget.
  std::size_t concurrent_batches() const override {
    return static_cast<std::size_t>(std::max(1, client_.max_connections()));
  }

 private:
  Result<std::int64_t> lookup() override {
    Result<CrmGroup> g = client_.resolve_group(name_);
    if (!g) return g.status();
    return g->id;
  }
  const char* noun() const override { return "group"; }

  Result<FetchStats> stage_fetch(const std::int64_t& group_id, bool full, Store& store,
                                 const PairHandle& pair) override {
    return fetch_crm(*reader_, group_id, full, store, pair);
  }
  Result<FetchStats> stage_refresh(const std::int64_t& group_id,
                                   const std::vector<std::string>& emails, Store& store,
                                   const PairHandle& pair) override {
    return refresh_crm(*reader_, group_id, emails, store, pair);
  }

 public:
  Result<FetchStats> look_up_outside(Store& store, const PairHandle& pair) override {
    if (Status s = resolve(); !s) return s;
    return attributed(look_up_outside_contacts(*reader_, store, pair));
  }

 private:
  std::vector<SideOutcome> apply_resolved(const std::int64_t& group_id,
                                          const std::vector<SideWrite>& writes) override {
    std::vector<CrmWrite> cw;
    cw.reserve(writes.size());
    for (const SideWrite& w : writes) {
      CrmWrite c;
      c.kind = kind_of(w.kind);
      c.contact_id = w.contact_id;
      c.email = w.email;
      c.fields = w.fields;
      c.from_email = w.from_email;
      cw.push_back(std::move(c));
    }
    std::vector<CrmWriteOutcome> res = client_.apply(group_id, cw);
    std::vector<SideOutcome> out(res.size());
    for (std::size_t i = 0; i < res.size(); ++i) {
      out[i].message = res[i].message;
      switch (res[i].code) {
        case CrmWriteOutcome::Code::kDone:
          out[i].code = SideOutcome::Code::kDone;
          out[i].changed_at = res[i].written_at;
          if (res[i].contact_id != 0) out[i].identity = std::to_string(res[i].contact_id);
          break;
        case CrmWriteOutcome::Code::kInvalid:
          out[i].code = SideOutcome::Code::kRefused;
          out[i].conflict = Conflict::kFailedWrite;
          break;
        case CrmWriteOutcome::Code::kFailed:
          out[i].code = SideOutcome::Code::kFailed;
          out[i].conflict = Conflict::kFailedWrite;
          break;
      }
    }
    return out;
  }

  static CrmWrite::Kind kind_of(OpKind k) {
    switch (k) {
      case OpKind::kCrmCreateContact:
        return CrmWrite::Kind::kCreateContact;
      case OpKind::kCrmRemove:
        return CrmWrite::Kind::kRemove;
      case OpKind::kCrmHoldEmail:
        return CrmWrite::Kind::kHoldEmail;
      case OpKind::kCrmReleaseHold:
        return CrmWrite::Kind::kReleaseHold;
      case OpKind::kCrmUpdateFields:
        return CrmWrite::Kind::kUpdateFields;
      case OpKind::kCrmChangeEmail:
        return CrmWrite::Kind::kChangeEmail;
      default:
        return CrmWrite::Kind::kAdd;
    }
  }

  std::unique_ptr<CrmReader> reader_;  // the client's reads, with the mapped fields
};

}  // namespace

std::unique_ptr<SyncSide> mailchimp_side(MailchimpClient& client, std::string audience,
                                         Resubscribe resubscribe, MailchimpTarget target) {
  return std::make_unique<MailchimpSide>(client, std::move(audience), resubscribe,
                                         std::move(target));
}

std::unique_ptr<SyncSide> civicrm_side(CiviCrmClient& client, std::string group,
                                       std::vector<std::string> fields) {
  return std::make_unique<CiviCrmSide>(client, std::move(group), std::move(fields));
}

}  // namespace concord
