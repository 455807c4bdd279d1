#include "concord/undo.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "concord/journal.h"
#include "concord/record.h"
#include "concord/time.h"

namespace concord {

std::optional<OpKind> inverse_of(OpKind kind, std::optional<std::uint8_t> status_before) {
  const auto was = [&](auto status) {
    return status_before && *status_before == static_cast<std::uint8_t>(status);
  };
  switch (kind) {
    case OpKind::kMailchimpSubscribe:
    case OpKind::kMailchimpPending:
      return was(MailchimpStatus::kArchived) ? OpKind::kMailchimpArchive
                                             : OpKind::kMailchimpUnsubscribe;
    case OpKind::kMailchimpUnsubscribe:
    case OpKind::kMailchimpArchive:
      return was(MailchimpStatus::kPending) ? OpKind::kMailchimpPending
                                            : OpKind::kMailchimpSubscribe;
    case OpKind::kCrmAdd:
    case OpKind::kCrmCreateContact:
      return OpKind::kCrmRemove;
    case OpKind::kCrmRemove:
      return OpKind::kCrmAdd;
    case OpKind::kCrmHoldEmail:
      return OpKind::kCrmReleaseHold;
    case OpKind::kCrmReleaseHold:
      return OpKind::kCrmHoldEmail;
    case OpKind::kMailchimpUpdateFields:
    case OpKind::kCrmUpdateFields:
      return kind;
    case OpKind::kMailchimpAddTag:
      return OpKind::kMailchimpRemoveTag;
    case OpKind::kMailchimpRemoveTag:
      return OpKind::kMailchimpAddTag;
    case OpKind::kMailchimpAddInterest:
      return OpKind::kMailchimpRemoveInterest;
    case OpKind::kMailchimpRemoveInterest:
      return OpKind::kMailchimpAddInterest;
    case OpKind::kMailchimpChangeEmail:
    case OpKind::kCrmChangeEmail:
      return std::nullopt;
  }
  return std::nullopt;
}

namespace {

bool took_effect(JournalState s) {
  return s == JournalState::kDone || s == JournalState::kVerified;
}

// When a write took effect, by the side's clock (the sides' change times are compared with it);
// this machine's time of its answer when the side gave none.
Micros write_time(const JournalEntry& e) {
  return e.written_at != kNoTime ? e.written_at : e.at;
}

// What the runs after the undone one did to a member.
struct LaterWrites {
  std::uint64_t other_run = 0;  // the last run (not an undo of the undone run) that wrote it
  Micros undo_at = kNoTime;     // the last write of an undo of the undone run
  std::vector<OpKind> undone;   // the kinds those undos wrote
};

Result<RunRecord> undoable(Store& store, const PairHandle& pair, std::uint64_t undone) {
  Result<std::optional<RunRecord>> rec = RunLog(store, pair).get_run(undone);
  if (!rec) return rec.status();
  if (!rec->has_value()) {
    return Status::not_found("run " + std::to_string(undone) + " of sync \"" + pair.name() +
                             "\" does not exist (`concord status` lists the runs)");
  }
  const RunRecord& r = **rec;
  if (r.state == RunState::kPlanned || r.state == RunState::kStoppedByGuard) {
    return Status::failed_precondition(
        "run " + std::to_string(undone) + " of sync \"" + pair.name() + "\" was " +
        std::string(run_state_name(r.state)) + " and wrote nothing to undo");
  }
  return std::move(**rec);
}

class UndoPlanner {
 public:
  UndoPlanner(Store& store, const PairHandle& pair, std::uint64_t undone, std::uint64_t this_run,
              PlanSink& sink)
      : store_(store), pair_(pair), undone_(undone), this_run_(this_run), sink_(sink) {}

  Result<DiffResult> run() {
    RunLog log(store_, pair_);
    Result<RunRecord> r = undoable(store_, pair_, undone_);
    if (!r) return r.status();
    if (Status s = count_sides(); !s) return s;
    if (Status s = read_later_runs(log); !s) return s;
    bool any = false;
    if (Status s = plan_members(&any); !s) return s;
    if (!any && r->applied > 0) {
      return Status::failed_precondition(
          "run " + std::to_string(undone_) +
          "'s journal is no longer kept (keep_runs / keep_days pruned it): it cannot be undone");
    }
    return result_;
  }

 private:
  // The sizes the guards compare against, as the diff counts them.
  Status count_sides() {
    PlanCounts& c = result_.counts;
    for (Family f : {Family::kMailchimp, Family::kCrm}) {
      Cursor cur = store_.scan(pair_, f);
      for (cur.seek_to_first(); cur.valid(); cur.next()) {
        SnapshotHeader h;
        if (Status s = decode_snapshot_header(cur.value(), &h); !s) return s;
        const bool in = h.membership == Membership::kIn;
        if (f == Family::kMailchimp) {
          ++c.mailchimp_members;
          c.mailchimp_in += in;
        } else {
          ++c.crm_members;
          c.crm_in += in;
        }
      }
      if (Status s = cur.status(); !s) return s;
    }
    Cursor cur = store_.scan(pair_, Family::kBase);
    for (cur.seek_to_first(); cur.valid(); cur.next()) {
      BaseRecord b;
      if (Status s = decode_base_fixed(cur.value(), &b); !s) return s;
      ++c.base_members;
      c.base_in += b.membership == Membership::kIn;
    }
    return cur.status();
  }

  // The writes of every run after the undone one and before this one.
  Status read_later_runs(RunLog& log) {
    std::map<std::uint64_t, bool> is_undo;  // run → whether it undoes the undone run
    Cursor c = store_.scan(pair_, Family::kJournal);
    for (c.seek(run_key(undone_ + 1)); c.valid(); c.next()) {
      Result<JournalEntry> e = decode_journal_entry(c.key(), c.value());
      if (!e) return e.status();
      if (e->run_id >= this_run_) break;
      if (!took_effect(e->state)) continue;
      auto u = is_undo.find(e->run_id);
      if (u == is_undo.end()) {
        Result<std::optional<RunRecord>> r = log.get_run(e->run_id);
        if (!r) return r.status();
        u = is_undo.emplace(e->run_id, r->has_value() && (*r)->undoes == undone_).first;
      }
      LaterWrites& w = later_[e->op.key];
      if (u->second) {
        w.undo_at = std::max(w.undo_at, write_time(*e));
        w.undone.push_back(e->op.kind);
      } else {
        w.other_run = e->run_id;
      }
    }
    return c.status();
  }

  // The undone run's journal, a member at a time (the diff journaled a member's writes together).
  Status plan_members(bool* any) {
    Cursor c = store_.scan(pair_, Family::kJournal);
    std::vector<JournalEntry> member;
    for (c.seek(run_key(undone_)); c.valid(); c.next()) {
      Result<JournalEntry> e = decode_journal_entry(c.key(), c.value());
      if (!e) return e.status();
      if (e->run_id != undone_) break;
      *any = true;
      if (!took_effect(e->state)) continue;
      if (!member.empty() && !(member.front().op.key == e->op.key)) {
        if (Status s = plan_member(member); !s) return s;
        member.clear();
      }
      member.push_back(std::move(*e));
    }
    if (Status s = c.status(); !s) return s;
    return member.empty() ? Status::ok() : plan_member(member);
  }

  struct Sides {
    std::optional<SnapshotHeader> mailchimp;
    std::optional<SnapshotHeader> crm;
    std::optional<CrmBody> crm_body;
    std::optional<BaseRecord> base;
  };

  Result<Sides> read_sides(const MemberKey& key) {
    Sides out;
    for (Family f : {Family::kMailchimp, Family::kCrm}) {
      Result<std::optional<std::string>> v = store_.get(pair_, f, key.view());
      if (!v) return v.status();
      if (!v->has_value()) continue;
      SnapshotView view;
      if (Status s = decode_snapshot(**v, &view); !s) return s;
      if (f == Family::kMailchimp) {
        out.mailchimp = view.header;
      } else {
        out.crm = view.header;
        CrmBody body;
        if (decode_crm_body(view.body, &body)) out.crm_body = std::move(body);
      }
    }
    Result<std::optional<std::string>> b = store_.get(pair_, Family::kBase, key.view());
    if (!b) return b.status();
    if (b->has_value()) {
      BaseRecord base;
      if (Status s = decode_base(**b, &base); !s) return s;
      out.base = std::move(base);
    }
    return out;
  }

  // Why the member must be left as it is ("" when it may be undone): a later run wrote it, or a
  // side's record changed after `since`.
  static std::string changed_since(const LaterWrites* later, const Sides& sides, Micros since) {
    if (later != nullptr && later->other_run != 0) {
      return "run " + std::to_string(later->other_run) + " wrote the member later";
    }
    if (sides.mailchimp && sides.mailchimp->changed_at > since) {
      return "Mailchimp's record changed later (" + format_iso8601(sides.mailchimp->changed_at) +
             ")";
    }
    if (sides.crm && sides.crm->changed_at > since) {
      return "the CRM's group membership changed later (" + format_iso8601(sides.crm->changed_at) +
             ")";
    }
    if (sides.crm_body && sides.crm_body->modified_at != kNoTime &&
        sides.crm_body->modified_at > since) {
      return "the CRM contact changed later (" + format_iso8601(sides.crm_body->modified_at) + ")";
    }
    return "";
  }

  Status plan_member(const std::vector<JournalEntry>& writes) {
    const MemberKey& key = writes.front().op.key;
    const std::string& email = writes.front().op.email;
    auto later_it = later_.find(key);
    const LaterWrites* later = later_it == later_.end() ? nullptr : &later_it->second;
    // Since when a change is someone else's: the undone run's last write of the member, or an
    // earlier undo's of it (its own writes are no one else's change), by the sides' clocks.
    Micros since = kNoTime;
    for (const JournalEntry& e : writes)
      since = std::max(since, write_time(e));
    if (later != nullptr) since = std::max(since, later->undo_at);
    Result<Sides> sides = read_sides(key);
    if (!sides) return sides.status();
    if (const std::string why = changed_since(later, *sides, since); !why.empty()) {
      report(key, email, Conflict::kChangedSinceRun,
             "changed since run " + std::to_string(undone_) + ": " + why + "; left as it is");
      return Status::ok();
    }
    for (const JournalEntry& e : writes) {
      const std::optional<std::uint8_t> before_status =
          e.op.before ? std::optional<std::uint8_t>(e.op.before->status) : std::nullopt;
      const std::optional<OpKind> inverse = inverse_of(e.op.kind, before_status);
      if (!inverse) {
        report(key, email, Conflict::kAddressChange,
               "run " + std::to_string(undone_) + " changed the address from " + e.op.from_email +
                   " to " + e.op.email + "; an address change is not undone");
        continue;
      }
      if (later != nullptr &&
          std::find(later->undone.begin(), later->undone.end(), *inverse) != later->undone.end()) {
        continue;  // an earlier undo of this run reversed it
      }
      if (Status s = emit(e, *inverse, *sides); !s) return s;
      if (e.op.kind == OpKind::kCrmCreateContact) {
        report(key, email, Conflict::kNone,
               "run " + std::to_string(undone_) +
                   " created this CRM contact; it is removed from the group and the contact is "
                   "left (concord never deletes contacts)");
      }
    }
    return Status::ok();
  }

  Status emit(const JournalEntry& e, OpKind kind, const Sides& sides) {
    Operation op;
    op.key = e.op.key;
    op.email = e.op.email;
    op.kind = kind;
    op.reason = Reason::kUndo;
    op.restores_base = true;
    // Field updates write back the values the fields had; their bases are those of before.
    if (kind == OpKind::kMailchimpUpdateFields || kind == OpKind::kCrmUpdateFields) {
      if (!e.op.before || e.op.before->fields.empty()) return Status::ok();  // not known
      op.fields = e.op.before->fields;
    }
    // The base the member had before the undone run; without one (the run met the member
    // first), one that leaves the written side as the undo leaves it and the other side
    // changed, as it was to that run.
    if (e.op.before && e.op.before->base) {
      op.base_after = *e.op.before->base;
    } else {
      op.base_after = BaseRecord{};
      op.base_after.membership = op_info(kind).membership
                                     ? op_info(kind).target
                                     : (sides.base ? sides.base->membership : Membership::kOut);
    }
    // What the undo overwrites, so that it can be undone in turn.
    OpBefore before;
    const bool mailchimp = side_of(kind) == Side::kMailchimp;
    const std::optional<SnapshotHeader>& h = mailchimp ? sides.mailchimp : sides.crm;
    before.status = h ? h->status : 0;
    before.fields = e.op.fields;
    before.base = sides.base;
    op.before = std::move(before);
    ++result_.counts.of(kind);
    sink_.operation(std::move(op));
    return Status::ok();
  }

  void report(const MemberKey& key, const std::string& email, Conflict conflict,
              std::string reason) {
    ReportRow row;
    row.key = key;
    row.email = email;
    row.conflict = conflict;
    row.decision.conflict = conflict;
    row.decision.reason = Reason::kUndo;
    row.reason = std::move(reason);
    ++result_.counts.report_rows;
    sink_.report(std::move(row));
  }

  Store& store_;
  const PairHandle& pair_;
  std::uint64_t undone_;
  std::uint64_t this_run_;
  PlanSink& sink_;
  std::map<MemberKey, LaterWrites> later_;
  DiffResult result_;
};

}  // namespace

Status check_undoable(Store& store, const PairHandle& pair, std::uint64_t undone) {
  return undoable(store, pair, undone).status();
}

Result<DiffResult> plan_undo(Store& store, const PairHandle& pair, std::uint64_t undone,
                             std::uint64_t this_run, PlanSink& sink) {
  return UndoPlanner(store, pair, undone, this_run, sink).run();
}

}  // namespace concord
