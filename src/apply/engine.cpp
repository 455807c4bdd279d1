#include "concord/engine.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "concord/backup.h"
#include "concord/civicrm_client.h"
#include "concord/diff.h"
#include "concord/record.h"
#include "concord/report.h"

namespace concord {
namespace {

using nlohmann::json;

constexpr std::size_t kJournalBatch = 1000;

std::string trust_name(Trust t) {
  switch (t) {
    case Trust::kCrm:
      return "crm";
    case Trust::kMailchimp:
      return "mailchimp";
    case Trust::kNone:
      break;
  }
  return "";
}

// The membership a membership operation leaves on its side.
Membership target_of(OpKind k) {
  switch (k) {
    case OpKind::kMailchimpSubscribe:
    case OpKind::kMailchimpPending:
    case OpKind::kCrmAdd:
    case OpKind::kCrmCreateContact:
      return Membership::kIn;
    default:
      return Membership::kOut;
  }
}

// The meta key remembering that Mailchimp refused a member's address as invalid.
std::string refusal_key(const MemberKey& key) {
  return "refused/" + subscriber_hash(key);
}

bool is_membership_op(OpKind k) {
  return k != OpKind::kCrmHoldEmail;
}

Family family_of(Side s) {
  return s == Side::kMailchimp ? Family::kMailchimp : Family::kCrm;
}

// The base once a membership write on `side` took effect at `written_at`.
BaseRecord base_after_write(const Operation& op, Side side, Micros written_at) {
  BaseRecord b = op.base_after;
  if (side == Side::kMailchimp) {
    b.mailchimp_changed_at = written_at;
  } else {
    b.crm_changed_at = written_at;
  }
  return b;
}

// A member's class in the report, and whether it is left unsynced, from a plan's row.
bool row_unsynced(const ReportRow& r) {
  if (r.conflict == Conflict::kInvalidEmail) return true;
  if (r.decision.has_action()) return false;
  const Membership m = r.mailchimp ? r.mailchimp->membership() : Membership::kOut;
  const Membership c = r.crm ? r.crm->membership() : Membership::kOut;
  return m != c;
}

class Run {
 public:
  Run(SyncPair& p, const RunRequest& req) : p_(p), req_(req), log_(p.store, p.pair) {}

  Result<RunOutcome> go() {
    Result<std::uint64_t> id = log_.next_run_id();
    if (!id) return id.status();
    RunRecord& r = out_.record;
    r.id = *id;
    r.sync = p_.config.name;
    r.command = req_.command;
    r.started_at = p_.clock.now();
    r.trust = trust_name(req_.trust);
    if (Status s = log_.put_run(r, /*sync=*/true); !s) return s;

    if (Status s = prepare(); !s) return fail(s);
    if (Status s = plan(); !s) return fail(s);
    if (out_.guard.stop) {
      r.state = RunState::kStoppedByGuard;
      r.notes = out_.guard.reasons;
      return finish();
    }
    if (!req_.apply) {
      r.state = RunState::kPlanned;
      return finish();
    }
    if (Status s = apply(); !s) return fail(s);
    if (stopped()) {
      r.state = RunState::kInterrupted;
      r.notes.push_back("stopped on request; the next run resumes the journal");
    } else {
      r.state = unsynced_.empty() ? RunState::kDone : RunState::kDoneWithFailures;
    }
    return finish();
  }

 private:
  bool stopped() const { return req_.stop != nullptr && req_.stop->load(); }

  void progress(std::string phase, Side side, std::uint64_t done, std::uint64_t total) {
    if (req_.progress) req_.progress(Progress{std::move(phase), side, done, total});
  }

  Result<RunOutcome> fail(const Status& s) {
    out_.record.state = RunState::kFailed;
    out_.record.notes.push_back(s.to_string());
    out_.record.ended_at = p_.clock.now();
    count_requests();
    (void)log_.put_run(out_.record, true);
    return s;
  }

  Result<RunOutcome> finish() {
    RunRecord& r = out_.record;
    r.unsynced = unsynced_.size();
    r.counts.report_rows = out_.report.size();
    r.ended_at = p_.clock.now();
    count_requests();
    if (Status s = log_.put_report_rows(r.id, out_.report); !s) return s;
    if (Status s = log_.put_run(r, /*sync=*/true); !s) return s;
    return std::move(out_);
  }

  void count_requests() {
    out_.record.mailchimp_requests = p_.mailchimp.requests() - mc_requests_at_start_;
    out_.record.crm_requests = p_.crm.requests() - crm_requests_at_start_;
  }

  // ---- 1-2: fetch, resume ----------------------------------------------------------------------

  Status prepare() {
    mc_requests_at_start_ = p_.mailchimp.requests();
    crm_requests_at_start_ = p_.crm.requests();
    if (Status s = p_.mailchimp.resolve(); !s) return s;
    if (Status s = p_.crm.resolve(); !s) return s;
    if (!req_.refresh.empty()) {
      for (SyncSide* side : {&p_.mailchimp, &p_.crm}) {
        progress("fetch", side->side(), 0, req_.refresh.size());
        Result<FetchStats> f = side->refresh(req_.refresh, p_.store, p_.pair);
        if (!f) {
          return f.status().with_context("reading members of " +
                                         std::string(side_name(side->side())) + " again");
        }
        progress("fetch", side->side(), req_.refresh.size(), req_.refresh.size());
      }
      return resume();
    }
    Result<bool> full = want_full_fetch();
    if (!full) return full.status();
    out_.record.full_fetch = *full;
    for (SyncSide* side : {&p_.mailchimp, &p_.crm}) {
      progress("fetch", side->side(), 0, 0);
      Result<FetchStats> f = side->fetch(*full, p_.store, p_.pair);
      if (!f) return f.status().with_context("fetching " + std::string(side_name(side->side())));
      progress("fetch", side->side(), f->members, f->members);
    }
    if (*full) {
      const Micros now = p_.clock.now();
      if (Status s = p_.store.put(p_.pair, Family::kMeta, kMetaLastFullFetch, std::to_string(now));
          !s) {
        return s;
      }
    }
    return resume();
  }

  Result<bool> want_full_fetch() {
    if (req_.full_fetch) return true;
    Result<std::optional<std::string>> last =
        p_.store.get(p_.pair, Family::kMeta, kMetaLastFullFetch);
    if (!last) return last.status();
    if (!last->has_value()) return true;
    const Micros at = std::strtoll((*last)->c_str(), nullptr, 10);
    return p_.clock.now() - at >= req_.full_fetch_every;
  }

  // Resolves what a dead run left in the journal against the fresh snapshots.
  Status resume() {
    Result<std::vector<JournalEntry>> open = log_.open_entries();
    if (!open) return open.status();
    if (open->empty()) return Status::ok();
    progress("resume", Side::kMailchimp, 0, open->size());
    std::set<std::uint64_t> runs;
    for (std::size_t i = 0; i < open->size(); i += kJournalBatch) {
      const std::size_t end = std::min(open->size(), i + kJournalBatch);
      Batch b;
      for (std::size_t j = i; j < end; ++j) {
        JournalEntry& e = (*open)[j];
        runs.insert(e.run_id);
        Result<std::optional<SnapshotHeader>> h = header_of(side_of(e.op.kind), e.op.key);
        if (!h) return h.status();
        const bool took_effect = h->has_value() && effect_visible(e.op.kind, **h);
        e.state = took_effect ? JournalState::kVerified : JournalState::kSuperseded;
        e.at = p_.clock.now();
        e.resolved_by = out_.record.id;
        b.put(p_.pair, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
        if (took_effect && is_membership_op(e.op.kind)) {
          std::string v;
          encode_base(base_after_write(e.op, side_of(e.op.kind), (*h)->changed_at), &v);
          b.put(p_.pair, Family::kBase, e.op.key.view(), v);
        }
        if (took_effect) ++out_.record.applied;
      }
      if (Status s = p_.store.write(b, /*sync=*/true); !s) return s;
    }
    for (std::uint64_t id : runs) {
      Result<std::optional<RunRecord>> dead = log_.get_run(id);
      if (!dead) return dead.status();
      if (!dead->has_value()) continue;
      RunRecord& d = **dead;
      if (d.state == RunState::kRunning || d.state == RunState::kFailed) {
        d.state = RunState::kInterrupted;
      }
      d.notes.push_back("journal resolved by run " + std::to_string(out_.record.id));
      if (Status s = log_.put_run(d); !s) return s;
      out_.record.resumed_from = id;
    }
    progress("resume", Side::kMailchimp, open->size(), open->size());
    return Status::ok();
  }

  static bool effect_visible(OpKind k, const SnapshotHeader& h) {
    if (k == OpKind::kCrmHoldEmail) return (h.flags & kCrmEmailOnHold) != 0;
    return h.membership == target_of(k);
  }

  Result<std::optional<SnapshotHeader>> header_of(Side side, const MemberKey& key) {
    Result<std::optional<std::string>> v = p_.store.get(p_.pair, family_of(side), key.view());
    if (!v) return v.status();
    if (!v->has_value()) return std::optional<SnapshotHeader>();
    SnapshotHeader h;
    if (Status s = decode_snapshot_header(**v, &h); !s) return s;
    return std::optional<SnapshotHeader>(h);
  }

  // ---- 3: plan, guards -------------------------------------------------------------------------

  Status plan() {
    SyncOptions o = p_.config.options;
    o.trust = req_.trust;
    o.allow_mass_removal = req_.allow_mass_removal;
    Result<Plan> plan = make_plan(p_.store, p_.pair, o);
    if (!plan) return plan.status();
    out_.plan = std::move(*plan);
    out_.record.first_run = out_.plan.first_run;
    out_.record.counts = out_.plan.counts;
    if (Status s = drop_refused(); !s) return s;
    out_.guard = check_guards(out_.plan.counts, o);
    for (const ReportRow& row : out_.plan.reports) {
      if (row.conflict != Conflict::kInvalidEmail) row_of_[row.key] = out_.report.size();
      out_.report.push_back(report_entry(row));
      if (row_unsynced(row)) unsynced_.insert(row.key);
    }
    if (out_.guard.stop) {
      for (const std::string& reason : out_.guard.reasons) {
        ReportEntry e;
        e.conflict = "guard";
        e.decision = "run stopped before applying anything";
        e.reason = reason;
        out_.report.push_back(std::move(e));
      }
    }
    return Status::ok();
  }

  // Mailchimp refused some addresses for good in an earlier run (invalid or fake, or permanently
  // deleted): sending them again would be refused again, so they stay out of the plan and in
  // the report.
  Status drop_refused() {
    std::vector<std::string> keys;
    std::vector<std::size_t> at;
    auto& ops = out_.plan.operations;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (ops[i].kind == OpKind::kMailchimpSubscribe || ops[i].kind == OpKind::kMailchimpPending) {
        keys.push_back(refusal_key(ops[i].key));
        at.push_back(i);
      }
    }
    if (keys.empty()) return Status::ok();
    std::vector<std::string_view> views(keys.begin(), keys.end());
    std::vector<std::optional<std::string>> found;
    if (Status s = p_.store.multi_get(p_.pair, Family::kMeta, views, &found); !s) return s;
    std::vector<bool> drop(ops.size(), false);
    for (std::size_t n = 0; n < at.size(); ++n) {
      if (!found[n]) continue;
      const Operation& op = ops[at[n]];
      drop[at[n]] = true;
      --out_.plan.counts.of(op.kind);
      ReportEntry e;
      e.email = op.email;
      const std::string& why = *found[n];  // "<class>: run N: <Mailchimp's words>"
      const std::size_t colon = why.find(": ");
      e.conflict = colon == std::string::npos ? "invalid-email" : why.substr(0, colon);
      e.side = "mailchimp";
      e.decision = std::string(op_kind_name(op.kind)) + " not sent";
      e.reason = "Mailchimp refused this address before (" +
                 (colon == std::string::npos ? why : why.substr(colon + 2)) +
                 "); it is not sent again";
      add_row(op.key, std::move(e));
      unsynced_.insert(op.key);
    }
    std::vector<Operation> kept;
    kept.reserve(ops.size());
    for (std::size_t i = 0; i < ops.size(); ++i) {
      if (!drop[i]) kept.push_back(std::move(ops[i]));
    }
    ops = std::move(kept);
    return Status::ok();
  }

  // Replaces the member's row in the report, or adds one.
  void add_row(const MemberKey& key, ReportEntry e) {
    if (auto it = row_of_.find(key); it != row_of_.end()) {
      out_.report[it->second] = std::move(e);
      return;
    }
    row_of_[key] = out_.report.size();
    out_.report.push_back(std::move(e));
  }

  // ---- 4-5: backup, journal, apply -------------------------------------------------------------

  Status apply() {
    if (Status s = first_backup(); !s) return s;
    if (Status s = store_agreements(); !s) return s;
    if (Status s = journal_plan(); !s) return s;
    Status s;
    for (Side side : {Side::kMailchimp, Side::kCrm}) {
      s = apply_side(side);
      if (!s) break;
    }
    for (const JournalEntry& e : entries_) {
      ++out_.operation_results[{std::string(op_kind_name(e.op.kind)),
                                std::string(journal_state_name(e.state))}];
    }
    return s;
  }

  Status first_backup() {
    Result<std::optional<std::string>> done =
        p_.store.get(p_.pair, Family::kMeta, kMetaFirstBackup);
    if (!done) return done.status();
    if (done->has_value()) return Status::ok();
    progress("backup", Side::kMailchimp, 0, 0);
    Result<BackupResult> b =
        write_backup(p_.store, p_.pair, req_.backup_dir, p_.config.name, p_.clock.now());
    if (!b) return b.status().with_context("backing up both sides before the first apply");
    out_.backup = b->dir;
    return p_.store.put(p_.pair, Family::kMeta, kMetaFirstBackup, b->dir.string());
  }

  Status store_agreements() {
    Batch b;
    std::string v;
    for (const auto& [key, base] : out_.plan.base_updates) {
      if (base) {
        encode_base(*base, &v);
        b.put(p_.pair, Family::kBase, key.view(), v);
      } else {
        b.del(p_.pair, Family::kBase, key.view());
      }
      if (b.count() >= kJournalBatch) {
        if (Status s = p_.store.write(b); !s) return s;
        b.clear();
      }
    }
    return p_.store.write(b);
  }

  Status journal_plan() {
    const auto& ops = out_.plan.operations;
    entries_.reserve(ops.size());
    Batch b;
    for (std::size_t i = 0; i < ops.size(); ++i) {
      JournalEntry e;
      e.run_id = out_.record.id;
      e.seq = static_cast<std::uint32_t>(i);
      e.op = ops[i];
      e.at = p_.clock.now();
      b.put(p_.pair, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
      entries_.push_back(std::move(e));
      if (b.count() >= kJournalBatch) {
        if (Status s = p_.store.write(b); !s) return s;
        b.clear();
      }
    }
    // The last write syncs the log: every entry is on disk before anything is sent.
    return p_.store.write(b, /*sync=*/true);
  }

  Status apply_side(Side side) {
    SyncSide& s = side == Side::kMailchimp ? p_.mailchimp : p_.crm;
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < entries_.size(); ++i) {
      if (side_of(entries_[i].op.kind) == side) todo.push_back(i);
    }
    const std::size_t step = std::max<std::size_t>(1, s.batch_size());
    for (std::size_t i = 0; i < todo.size(); i += step) {
      if (stopped()) return Status::ok();
      const std::size_t end = std::min(todo.size(), i + step);
      std::vector<std::size_t> chunk(todo.begin() + i, todo.begin() + end);
      Result<std::vector<SideWrite>> writes = writes_for(side, chunk);
      if (!writes) return writes.status();
      std::vector<SideOutcome> outcomes = s.apply(*writes);
      outcomes.resize(chunk.size());
      if (Status st = record_outcomes(side, chunk, outcomes); !st) return st;
      progress("apply", side, end, todo.size());
    }
    return Status::ok();
  }

  // The writes of a chunk, with what each needs from the snapshots (contact ids, names).
  Result<std::vector<SideWrite>> writes_for(Side side, const std::vector<std::size_t>& chunk) {
    std::vector<std::string_view> keys;
    keys.reserve(chunk.size());
    for (std::size_t i : chunk)
      keys.push_back(entries_[i].op.key.view());
    std::vector<std::optional<std::string>> crm, mc;
    if (Status s = p_.store.multi_get(p_.pair, Family::kCrm, keys, &crm); !s) return s;
    if (Status s = p_.store.multi_get(p_.pair, Family::kMailchimp, keys, &mc); !s) return s;
    std::vector<SideWrite> writes;
    writes.reserve(chunk.size());
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      const Operation& op = entries_[chunk[n]].op;
      SideWrite w{op.kind, op.email, 0, {}};
      CrmRecord rec;
      if (crm[n]) {
        SnapshotView v;
        if (decode_snapshot(*crm[n], &v)) {
          if (Result<CrmRecord> r = parse_crm_record(v.body); r) rec = std::move(*r);
        }
      }
      w.contact_id = rec.contact_id;
      if (side == Side::kMailchimp) {
        if (op.kind == OpKind::kMailchimpSubscribe || op.kind == OpKind::kMailchimpPending) {
          add_fields_to_mailchimp(rec, w);
        }
      } else if (op.kind == OpKind::kCrmCreateContact) {
        add_fields_to_crm(mc[n], w);
      }
      writes.push_back(std::move(w));
    }
    return writes;
  }

  static std::string crm_field(const CrmRecord& rec, std::string_view field) {
    if (field == "first_name") return rec.first_name;
    if (field == "last_name") return rec.last_name;
    return {};
  }

  void add_fields_to_mailchimp(const CrmRecord& rec, SideWrite& w) const {
    for (const FieldMapping& f : p_.config.fields) {
      if (f.direction == FieldMapping::Direction::kToCrm) continue;
      std::string v = crm_field(rec, f.crm_field);
      if (!v.empty()) w.fields.emplace_back(f.tag, std::move(v));
    }
  }

  void add_fields_to_crm(const std::optional<std::string>& mc_value, SideWrite& w) const {
    if (!mc_value) return;
    SnapshotView v;
    if (!decode_snapshot(*mc_value, &v)) return;
    json body = json::parse(v.body, nullptr, false);
    if (!body.is_object() || !body.contains("merge_fields")) return;
    const json& mf = body["merge_fields"];
    for (const FieldMapping& f : p_.config.fields) {
      if (f.direction == FieldMapping::Direction::kToMailchimp) continue;
      auto it = mf.find(f.tag);
      if (it == mf.end() || !it->is_string()) continue;
      std::string value = it->get<std::string>();
      if (!value.empty()) w.fields.emplace_back(f.crm_field, std::move(value));
    }
  }

  // Marks a chunk's journal entries with their outcomes and stores the base of each member
  // whose membership write succeeded, in one synced write.
  Status record_outcomes(Side side, const std::vector<std::size_t>& chunk,
                         const std::vector<SideOutcome>& outcomes) {
    Batch b;
    const Micros now = p_.clock.now();
    std::string v;
    std::map<MemberKey, std::string> snapshots;  // the written side's entries, as written
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      JournalEntry& e = entries_[chunk[n]];
      const SideOutcome& o = outcomes[n];
      e.at = now;
      e.message = o.message;
      switch (o.code) {
        case SideOutcome::Code::kDone:
          e.state = JournalState::kDone;
          ++out_.record.applied;
          if (is_membership_op(e.op.kind)) {
            // Mailchimp says when; for a CRM write, the server's time of its answer, which is
            // no earlier than the history row's date the next fetch reads, so that concord's own
            // write does not count as a change made in the CRM (kNoTime when the answer had no
            // Date: then the row's date counts as a change, and an agreeing one only refreshes
            // the base).
            encode_base(base_after_write(e.op, side, o.changed_at), &v);
            b.put(p_.pair, Family::kBase, e.op.key.view(), v);
          }
          if (Status s = remember_write(e, side, o, snapshots); !s) return s;
          if (o.conflict != Conflict::kNone) note_outcome(e, o, /*unsynced=*/false);
          break;
        case SideOutcome::Code::kRefused:
          e.state = JournalState::kRefused;
          ++out_.record.refused;
          if (Status s = remember_refusal(e, o, b); !s) return s;
          note_outcome(e, o, /*unsynced=*/true);
          break;
        case SideOutcome::Code::kFailed:
          e.state = JournalState::kFailed;
          ++out_.record.failed;
          note_outcome(e, o, /*unsynced=*/true);
          break;
      }
      b.put(p_.pair, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
    }
    for (const auto& [key, value] : snapshots)
      b.put(p_.pair, family_of(side), key.view(), value);
    return p_.store.write(b, /*sync=*/true);
  }

  // A write that took effect is what its side now holds: the side's snapshot entry says so at
  // once (in the write that marks the journal), so that `explain`, and anything else reading the
  // store before the next fetch, sees the member as this run left it rather than as it was before
  // (and, for a membership write, a decision that would undo it). The next fetch reads the member
  // back and replaces the entry. A Mailchimp write whose answer gave no time is left to that
  // fetch: a stored status equal to the fetched one would keep the stored (unknown) time.
  // `snapshots` holds the entries written so far in this chunk (a member may have two writes:
  // a removal and an email hold).
  Status remember_write(const JournalEntry& e, Side side, const SideOutcome& o,
                        std::map<MemberKey, std::string>& snapshots) {
    if (side == Side::kMailchimp && o.changed_at == kNoTime) return Status::ok();
    std::optional<std::string> stored;
    if (auto it = snapshots.find(e.op.key); it != snapshots.end()) {
      stored = it->second;
    } else {
      Result<std::optional<std::string>> v =
          p_.store.get(p_.pair, family_of(side), e.op.key.view());
      if (!v) return v.status();
      stored = std::move(*v);
    }
    SnapshotHeader h;
    std::string email = e.op.email, body = "{}";
    std::uint64_t hash =
        side == Side::kMailchimp ? e.op.base_after.mailchimp_hash : e.op.base_after.crm_hash;
    if (stored) {
      SnapshotView view;
      if (Status s = decode_snapshot(*stored, &view); !s) return s;
      h = view.header;
      email.assign(view.email);
      body.assign(view.body);
      hash = h.content_hash;
    }
    std::string out;
    if (side == Side::kMailchimp) {
      MailchimpState st;
      if (stored && !mailchimp_state_of(h, &st)) st = MailchimpState{};
      st.status = o.status;
      if (st.status == MailchimpStatus::kAbsent) {
        switch (e.op.kind) {
          case OpKind::kMailchimpPending:
            st.status = MailchimpStatus::kPending;
            break;
          case OpKind::kMailchimpUnsubscribe:
            st.status = MailchimpStatus::kUnsubscribed;
            break;
          case OpKind::kMailchimpArchive:
            st.status = MailchimpStatus::kArchived;
            break;
          default:
            st.status = MailchimpStatus::kSubscribed;
            break;
        }
      }
      // An unsubscribe through the API is an admin's: Mailchimp accepts a later resubscribe.
      st.unsubscribe_origin = st.status == MailchimpStatus::kUnsubscribed
                                  ? UnsubscribeOrigin::kAdmin
                                  : UnsubscribeOrigin::kUnknown;
      st.changed_at = o.changed_at;
      encode_snapshot(mailchimp_header(st, hash), email, body, &out);
    } else {
      CrmState st;
      if (stored && !crm_state_of(h, &st)) st = CrmState{};
      if (e.op.kind == OpKind::kCrmHoldEmail) {
        st.email_on_hold = true;
      } else {
        // As in the base: the server's time of the answer (the next fetch reads the history
        // row's own date).
        st.status = e.op.kind == OpKind::kCrmRemove ? CrmStatus::kRemoved : CrmStatus::kAdded;
        st.changed_at = o.changed_at;
        if (st.status == CrmStatus::kAdded) {
          st.contact_known = true;
          st.trashed = false;
        }
      }
      encode_snapshot(crm_header(st, hash), email, body, &out);
    }
    snapshots[e.op.key] = std::move(out);
    return Status::ok();
  }

  // A Mailchimp refusal says something about the member that the next diff must know without
  // waiting for a fetch (so that it is not sent again): the address is cleaned, forgotten, or
  // the person unsubscribed themself.
  Status remember_refusal(const JournalEntry& e, const SideOutcome& o, Batch& b) {
    if (side_of(e.op.kind) != Side::kMailchimp) return Status::ok();
    // Refusals that never change (the address is invalid, or was permanently deleted) are
    // remembered apart from the snapshot, which a full fetch rewrites.
    if (o.conflict == Conflict::kInvalidEmail || o.conflict == Conflict::kForgotten) {
      b.put(p_.pair, Family::kMeta, refusal_key(e.op.key),
            std::string(conflict_name(o.conflict)) + ": run " + std::to_string(e.run_id) + ": " +
                o.message);
      if (o.conflict == Conflict::kInvalidEmail) return Status::ok();
    }
    if (o.conflict != Conflict::kCleaned && o.conflict != Conflict::kForgotten &&
        o.conflict != Conflict::kCompliance) {
      return Status::ok();
    }
    Result<std::optional<std::string>> v =
        p_.store.get(p_.pair, Family::kMailchimp, e.op.key.view());
    if (!v) return v.status();
    SnapshotHeader h;
    std::string email = e.op.email, body = "{}";
    if (v->has_value()) {
      SnapshotView view;
      if (Status s = decode_snapshot(**v, &view); !s) return s;
      h = view.header;
      body.assign(view.body);
    }
    MailchimpState st;
    if (Status s = mailchimp_state_of(h, &st); !s) st = MailchimpState{};
    if (o.conflict == Conflict::kCompliance) {
      st.status = MailchimpStatus::kUnsubscribed;
      st.unsubscribe_origin = UnsubscribeOrigin::kSelf;
    } else {
      st.status = o.conflict == Conflict::kCleaned ? MailchimpStatus::kCleaned
                                                   : MailchimpStatus::kForgotten;
    }
    // The change time stays what the snapshot said (kNoTime when absent): learning of a refusal is
    // not a membership change in Mailchimp, and must not make Mailchimp win over the CRM.
    std::string out;
    encode_snapshot(mailchimp_header(st, h.content_hash), email, body, &out);
    b.put(p_.pair, Family::kMailchimp, e.op.key.view(), out);
    return Status::ok();
  }

  // A report row for a member the plan did not report: both sides' states and the base as the
  // store holds them before this run's writes (what the run decided on). Best effort: what cannot
  // be read is left out of the row.
  ReportRow stored_row(const Operation& op) {
    ReportRow row;
    row.key = op.key;
    row.email = op.email;
    if (auto h = header_of(Side::kMailchimp, op.key); h && h->has_value()) {
      MailchimpState m;
      if (mailchimp_state_of(**h, &m)) row.mailchimp = m;
    }
    if (auto h = header_of(Side::kCrm, op.key); h && h->has_value()) {
      CrmState c;
      if (crm_state_of(**h, &c)) row.crm = c;
    }
    Result<std::optional<std::string>> b = p_.store.get(p_.pair, Family::kBase, op.key.view());
    BaseRecord base;
    if (b && b->has_value() && decode_base(**b, &base)) row.base = base.state();
    return row;
  }

  // Adds a write's outcome to the member's report row (or a new row).
  void note_outcome(const JournalEntry& e, const SideOutcome& o, bool unsynced) {
    const Side side = side_of(e.op.kind);
    const std::string what = std::string(side_name(side)) + " " +
                             (o.code == SideOutcome::Code::kDone      ? "answered"
                              : o.code == SideOutcome::Code::kRefused ? "refused"
                                                                      : "failed") +
                             " " + std::string(op_kind_name(e.op.kind));
    std::string reason = what + (o.message.empty() ? "" : ": " + o.message);
    if (o.code == SideOutcome::Code::kFailed) reason += " (retried by the next run)";
    auto it = row_of_.find(e.op.key);
    if (it == row_of_.end()) {
      ReportEntry r = report_entry(stored_row(e.op));
      r.side = std::string(side_name(side));
      r.decision =
          std::string(op_kind_name(e.op.kind)) + " (" + std::string(reason_name(e.op.reason)) + ")";
      row_of_[e.op.key] = out_.report.size();
      out_.report.push_back(std::move(r));
      it = row_of_.find(e.op.key);
    }
    ReportEntry& r = out_.report[it->second];
    r.conflict = std::string(
        conflict_name(o.conflict == Conflict::kNone ? Conflict::kFailedWrite : o.conflict));
    r.reason = r.reason.empty() ? reason : r.reason + "; " + reason;
    if (unsynced) unsynced_.insert(e.op.key);
  }

  SyncPair& p_;
  const RunRequest& req_;
  RunLog log_;
  RunOutcome out_;
  std::vector<JournalEntry> entries_;
  std::map<MemberKey, std::size_t> row_of_;  // member → its row in out_.report
  std::set<MemberKey> unsynced_;
  std::uint64_t mc_requests_at_start_ = 0;
  std::uint64_t crm_requests_at_start_ = 0;
};

}  // namespace

int RunOutcome::exit_code() const {
  switch (record.state) {
    case RunState::kDone:
    case RunState::kPlanned:
      return 0;
    case RunState::kDoneWithFailures:
      return 4;
    case RunState::kStoppedByGuard:
      return 3;
    default:
      return 1;
  }
}

Result<RunOutcome> run_sync(SyncPair& p, const RunRequest& request) {
  return Run(p, request).go();
}

}  // namespace concord
