#include "concord/diff.h"

#include <algorithm>
#include <cstring>
#include <map>

#include "concord/member_fields.h"
#include "concord/meta_keys.h"
#include "concord/record.h"
#include "concord/refusal.h"
#include "concord/snapshot.h"

namespace concord {
namespace {

// One of the three inputs of the merge-join.
struct Input {
  Cursor cursor;
  Family family;
  bool at = false;  // positioned on the current key

  std::string_view key() const { return cursor.key(); }
};

int compare_keys(std::string_view a, std::string_view b) {
  if (a.size() == 16 && b.size() == 16) return std::memcmp(a.data(), b.data(), 16);
  return a.compare(b);
}

Status bad_value(const Status& s, Family f, std::string_view key) {
  MemberKey k;
  std::string id = member_key_from_bytes(key, &k) ? subscriber_hash(k) : "(malformed key)";
  return s.with_context(std::string(family_name(f)) + " record " + id);
}

OpKind op_of(MailchimpAction a, TargetKind target) {
  switch (a) {
    case MailchimpAction::kMark:
      return target == TargetKind::kInterest ? OpKind::kMailchimpAddInterest
                                             : OpKind::kMailchimpAddTag;
    case MailchimpAction::kUnmark:
      return target == TargetKind::kInterest ? OpKind::kMailchimpRemoveInterest
                                             : OpKind::kMailchimpRemoveTag;
    case MailchimpAction::kSubscribe:
      return OpKind::kMailchimpSubscribe;
    case MailchimpAction::kPending:
      return OpKind::kMailchimpPending;
    case MailchimpAction::kUnsubscribe:
      return OpKind::kMailchimpUnsubscribe;
    case MailchimpAction::kArchive:
      return OpKind::kMailchimpArchive;
    case MailchimpAction::kNone:
      break;
  }
  return OpKind::kMailchimpSubscribe;
}

OpKind op_of(CrmAction a) {
  switch (a) {
    case CrmAction::kAdd:
      return OpKind::kCrmAdd;
    case CrmAction::kCreateContact:
      return OpKind::kCrmCreateContact;
    case CrmAction::kRemove:
      return OpKind::kCrmRemove;
    case CrmAction::kNone:
      break;
  }
  return OpKind::kCrmAdd;
}

class Differ {
 public:
  Differ(Store& store, const PairHandle& pair, const SyncOptions& options, PlanSink& sink,
         const FieldPlan* fields)
      : store_(store),
        pair_(pair),
        options_(options),
        sink_(sink),
        fields_(fields != nullptr && !fields->specs.empty() ? fields : nullptr) {}

  Result<DiffResult> run() {
    Input mc{store_.scan(pair_, Family::kMailchimp), Family::kMailchimp};
    Input crm{store_.scan(pair_, Family::kCrm), Family::kCrm};
    Input base{store_.scan(pair_, Family::kBase), Family::kBase};
    mc.cursor.seek_to_first();
    crm.cursor.seek_to_first();
    base.cursor.seek_to_first();
    refusals_.seek(meta::kRefusalPrefix);
    Result<std::vector<AddressMove>> moves = load_moves(store_, pair_);
    if (!moves) return moves.status();
    for (AddressMove& m : *moves) {
      moves_from_.emplace(m.from(), moves_.size());
      moves_to_.emplace(m.to(), moves_.size());
      moves_.push_back(std::move(m));
    }
    result_.first_run = !base.cursor.valid();
    PlanCounts& c = result_.counts;

    while (true) {
      const bool mv = mc.cursor.valid(), cv = crm.cursor.valid(), bv = base.cursor.valid();
      if (!mv && !cv && !bv) break;
      // The smallest current key.
      std::string_view key;
      if (mv) key = mc.key();
      if (cv && (key.empty() || compare_keys(crm.key(), key) < 0)) key = crm.key();
      if (bv && (key.empty() || compare_keys(base.key(), key) < 0)) key = base.key();
      mc.at = mv && compare_keys(mc.key(), key) == 0;
      crm.at = cv && compare_keys(crm.key(), key) == 0;
      base.at = bv && compare_keys(base.key(), key) == 0;

      SnapshotHeader mh, ch;
      BaseRecord b;
      if (mc.at) {
        if (Status s = decode_snapshot_header(mc.cursor.value(), &mh); !s) {
          return bad_value(s, Family::kMailchimp, key);
        }
        ++c.mailchimp_members;
        if (mh.membership == Membership::kIn) ++c.mailchimp_in;
      }
      if (crm.at) {
        if (Status s = decode_snapshot_header(crm.cursor.value(), &ch); !s) {
          return bad_value(s, Family::kCrm, key);
        }
        ++c.crm_members;
        if (ch.membership == Membership::kIn) ++c.crm_in;
      }
      if (base.at) {
        if (Status s = decode_base(base.cursor.value(), &b); !s) {
          return bad_value(s, Family::kBase, key);
        }
        ++c.base_members;
        if (b.membership == Membership::kIn) ++c.base_in;
      }

      if (mc.at && crm.at && base.at && !(fields_ != nullptr && fields_->recheck_all) &&
          unchanged_since_base(mh, ch, b)) {
        // The fast path: neither side changed since they last agreed.
        ++c.unchanged;
        if (b.membership == Membership::kIn) ++c.unchanged_in;
      } else {
        Status s = decide_member(key, mc, mh, crm, ch, base.at ? &b : nullptr);
        if (!s) return s;
      }
      if (mc.at) mc.cursor.next();
      if (crm.at) crm.cursor.next();
      if (base.at) base.cursor.next();
    }
    for (Input* in : {&mc, &crm, &base}) {
      if (Status s = in->cursor.status(); !s) return s;
    }
    if (Status s = refusals_.status(); !s) return s;
    if (Status s = report_rejects(); !s) return s;
    return result_;
  }

 private:
  static bool unchanged_since_base(const SnapshotHeader& mh, const SnapshotHeader& ch,
                                   const BaseRecord& b) {
    return mh.membership == b.membership && ch.membership == b.membership &&
           mh.changed_at <= b.mailchimp_changed_at && ch.changed_at <= b.crm_changed_at &&
           mh.content_hash == b.mailchimp_hash && ch.content_hash == b.crm_hash &&
           (ch.flags & (kCrmDuplicate | kCrmConsentFlags)) == 0;
  }

  Status decide_member(std::string_view key, const Input& mc, const SnapshotHeader& mh,
                       const Input& crm, const SnapshotHeader& ch, const BaseRecord* b) {
    MailchimpState ms;
    CrmState cs;
    if (mc.at) {
      if (Status s = mailchimp_state_of(mh, &ms); !s) return bad_value(s, Family::kMailchimp, key);
    }
    if (crm.at) {
      if (Status s = crm_state_of(ch, &cs); !s) return bad_value(s, Family::kCrm, key);
      if (Status s = read_consent_time(crm.cursor.value(), key, &cs); !s) return s;
    }
    MemberKey mk;
    member_key_from_bytes(key, &mk);
    // An address that moved (moves.h) is decided as a move, not as a member leaving one address
    // and another arriving at the next.
    if (!moves_.empty()) {
      Result<bool> handled = decide_move(mk, mc, crm);
      if (!handled) return handled.status();
      if (*handled) return Status::ok();
    }
    BaseState bs;
    if (b != nullptr) bs = b->state();
    Result<const StoredRefusal*> refused = refusal_of(mk);
    if (!refused) return refused.status();
    if (*refused != nullptr) ms.refusal = (*refused)->kind;
    const Decision d = decide(ms, cs, b ? &bs : nullptr, options_);
    const Micros crm_time = cs.mailchimp_changed_at(options_.respect_crm_opt_out);
    PlanCounts& c = result_.counts;

    // The mapped fields, for a member both sides will have IN.
    MemberFields fields;
    if (fields_ != nullptr && d.target == Membership::kIn) {
      // A contact to be created starts blank, whatever contact the address had before.
      const bool new_contact = d.crm == CrmAction::kCreateContact;
      if (Status s = decide_fields(key, mc, ms, crm, cs, b, new_contact, &fields); !s) return s;
    }
    // Fields only a write of their own can carry: Mailchimp's when no subscribe goes (the member
    // must be subscribed or pending there to take them), the CRM's when no contact is created
    // (the contact must be known).
    const bool mc_subscribes =
        d.mailchimp == MailchimpAction::kSubscribe || d.mailchimp == MailchimpAction::kPending;
    const bool mc_update =
        !fields.to_mailchimp.empty() && !mc_subscribes &&
        (ms.status == MailchimpStatus::kSubscribed || ms.status == MailchimpStatus::kPending);
    const bool crm_update =
        !fields.to_crm.empty() && d.crm != CrmAction::kCreateContact && cs.contact_known;
    // A member with field writes is decided again by the next run (the hashes its base gets
    // cannot match), so that a field write that failed is retried.
    const bool field_writes = fields.writes();

    if (!d.has_action()) {
      ++c.unchanged;
      // (A one-way pair's member the source never had is no agreement: it gets no base.)
      if (d.winner == Winner::kNone && d.reason == Reason::kAgree) {
        if (d.target == Membership::kIn) ++c.unchanged_in;
        // Agreement: refresh the base when it is missing or out of date.
        if (!mc.at && !crm.at) {
          sink_.base_update(mk, std::nullopt);  // neither side has the member any more
        } else {
          BaseRecord nb{d.target, ms.changed_at, crm_time, mc.at ? mh.content_hash : 0,
                        crm.at ? ch.content_hash : 0};
          if (b != nullptr) nb.fields = b->fields;
          for (const FieldBase& f : fields.agreed)
            nb.set_field(f.tag, f.value);
          if (field_writes) nb.mailchimp_hash = nb.crm_hash = 0;
          if (b == nullptr || !(*b == nb)) sink_.base_update(mk, nb);
        }
      }
    }
    const std::string problems = fields.problems();
    const bool report = d.needs_report() || !problems.empty();
    std::string email;
    if (d.has_action() || report || mc_update || crm_update) {
      Status s = read_email(mc.at ? mc.cursor.value() : crm.cursor.value(),
                            mc.at ? Family::kMailchimp : Family::kCrm, key, &email);
      if (!s) return s;
    }
    // The base once the writes succeed: the target membership, the winner's time, and the
    // written side's time left for the applier (kNoTime); the fields each write settles.
    BaseRecord after{d.target, kNoTime, kNoTime, mc.at ? mh.content_hash : 0,
                     crm.at ? ch.content_hash : 0};
    if (d.winner == Winner::kMailchimp) after.mailchimp_changed_at = ms.changed_at;
    if (d.winner == Winner::kCrm) after.crm_changed_at = crm_time;
    if (field_writes) after.mailchimp_hash = after.crm_hash = 0;
    for (const FieldBase& f : fields.agreed)
      after.set_field(f.tag, f.value);
    auto emit = [&](OpKind kind, const std::vector<OpField>* written) {
      ++c.of(kind);
      Operation op{mk, email, kind, d.reason, d.note, {}, {}, after};
      // What the written side holds now, for `concord undo` to put back.
      const Side side = side_of(kind);
      OpBefore before;
      before.status = side == Side::kMailchimp ? static_cast<std::uint8_t>(ms.status)
                                               : static_cast<std::uint8_t>(cs.status);
      if (b != nullptr) before.base = *b;
      if (written != nullptr) {
        op.fields = *written;
        for (const OpField& f : *written) {
          op.base_after.set_field(f.tag, f.value);
          for (const FieldOutcome& o : fields.each) {
            if (o.spec->tag != f.tag) continue;
            before.fields.push_back({f.tag, side == Side::kMailchimp ? o.mailchimp : o.crm});
            break;
          }
        }
      }
      op.before = std::move(before);
      sink_.operation(std::move(op));
    };
    if (d.mailchimp != MailchimpAction::kNone) {
      emit(op_of(d.mailchimp, options_.target), mc_subscribes ? &fields.to_mailchimp : nullptr);
    }
    if (d.crm != CrmAction::kNone) {
      emit(op_of(d.crm), d.crm == CrmAction::kCreateContact ? &fields.to_crm : nullptr);
    }
    if (d.hold_email) emit(OpKind::kCrmHoldEmail, nullptr);
    if (mc_update) emit(OpKind::kMailchimpUpdateFields, &fields.to_mailchimp);
    if (crm_update) emit(OpKind::kCrmUpdateFields, &fields.to_crm);
    if (report) {
      ++c.report_rows;
      ReportRow row;
      row.key = mk;
      row.email = std::move(email);
      row.conflict = d.needs_report() ? d.conflict : Conflict::kInvalidField;
      if (mc.at) row.mailchimp = ms;
      if (crm.at) row.crm = cs;
      if (b != nullptr) row.base = bs;
      row.decision = d;
      row.reason = d.needs_report() ? explain(d) : "";
      if (*refused != nullptr && d.mailchimp == MailchimpAction::kNone) {
        const StoredRefusal& r = **refused;
        row.reason += " (Mailchimp's answer";
        if (r.run_id != 0) row.reason += " in run " + std::to_string(r.run_id);
        row.reason += r.message.empty() ? ")" : ": " + r.message + ")";
      }
      if (!problems.empty()) row.reason += (row.reason.empty() ? "" : "; ") + problems;
      sink_.report(std::move(row));
    }
    return Status::ok();
  }

  // A key that is a pending move's old or new address. Returns true when the move decided the key
  // (nothing more to do), false when the key is decided as any member is.
  Result<bool> decide_move(const MemberKey& mk, const Input& mc, const Input& crm) {
    PlanCounts& c = result_.counts;
    if (auto to = moves_to_.find(mk); to != moves_to_.end()) {
      const AddressMove& m = moves_[to->second];
      const Side other = other_side(m.side);
      const Input& at_new = other == Side::kMailchimp ? mc : crm;
      Result<bool> old_there = has(other, m.from());
      if (!old_there) return old_there.status();
      // The other side recorded the same move (both keyed by the new address).
      const auto [first, last] = moves_to_.equal_range(mk);
      const bool other_moved_too = std::any_of(first, last, [&](const auto& e) {
        const AddressMove& o = moves_[e.second];
        return o.side == other && o.from_email == m.from_email;
      });
      if (!*old_there || other_moved_too) {
        // Nothing for the other side to follow (it never had the old address, or it moved too):
        // the member is decided at its new address, with the old address's base.
        result_.settled_moves.push_back(m);
        if (!*old_there && !at_new.at) return false;
        Result<std::optional<BaseRecord>> old_base = base_of(m.from());
        if (!old_base) return old_base.status();
        if (!old_base->has_value()) return false;
        BaseRecord moved = **old_base;
        moved.mailchimp_hash = moved.crm_hash = 0;  // decided again at the new address
        sink_.base_update(mk, moved);
        sink_.base_update(m.from(), std::nullopt);
        return false;
      }
      ++c.unchanged;
      std::string problem;
      if (m.occupied) {
        problem = "the new address " + m.to_email + " belonged to another " +
                  (m.side == Side::kMailchimp ? "member in Mailchimp" : "contact in the CRM") +
                  " already: nothing is merged";
      } else if (at_new.at) {
        problem = "the new address " + m.to_email + " belongs to another " +
                  (other == Side::kMailchimp ? "member in Mailchimp" : "contact in the CRM") +
                  ": nothing is merged";
      } else if (!m.refused.empty()) {
        problem = std::string(other == Side::kMailchimp ? "Mailchimp" : "the CRM") +
                  " refused the change: " + m.refused;
      }
      if (!problem.empty()) {
        ++c.report_rows;
        ReportRow row;
        row.key = mk;
        row.email = m.to_email;
        row.conflict = Conflict::kAddressChange;
        row.decision.conflict = Conflict::kAddressChange;
        row.reason = "the address changed in " +
                     std::string(m.side == Side::kMailchimp ? "Mailchimp" : "the CRM") + " from " +
                     m.from_email + " to " + m.to_email + "; " + problem +
                     ", and both addresses stay until a person settles it";
        sink_.report(std::move(row));
        return true;
      }
      const OpKind kind =
          other == Side::kMailchimp ? OpKind::kMailchimpChangeEmail : OpKind::kCrmChangeEmail;
      ++c.of(kind);
      Operation op{mk, m.to_email, kind, Reason::kAgree, Note::kNone, {}, {}, {}};
      op.from_email = m.from_email;
      sink_.operation(std::move(op));
      return true;
    }
    if (auto from = moves_from_.find(mk); from != moves_from_.end()) {
      const AddressMove& m = moves_[from->second];
      const bool other_has = (m.side == Side::kMailchimp ? crm : mc).at;
      if (!other_has) return false;  // nothing left at the old address to follow
      ++result_.counts.unchanged;    // waits for its move (decided at the new address)
      return true;
    }
    return false;
  }

  Result<bool> has(Side side, const MemberKey& key) {
    Result<std::optional<std::string>> v = store_.get(pair_, snapshot_family(side), key.view());
    if (!v) return v.status();
    return v->has_value();
  }

  Result<std::optional<BaseRecord>> base_of(const MemberKey& key) {
    Result<std::optional<std::string>> v = store_.get(pair_, Family::kBase, key.view());
    if (!v) return v.status();
    if (!v->has_value()) return std::optional<BaseRecord>();
    BaseRecord b;
    if (Status s = decode_base(**v, &b); !s) return bad_value(s, Family::kBase, key.view());
    return std::optional<BaseRecord>(std::move(b));
  }

  // The member's fields: both records' values, the base, and the decision of each.
  Status decide_fields(std::string_view key, const Input& mc, const MailchimpState& ms,
                       const Input& crm, const CrmState& cs, const BaseRecord* b, bool new_contact,
                       MemberFields* out) {
    MailchimpBody mb;
    CrmBody cb;
    MemberFieldInput in;
    in.base = b;
    if (mc.at) {
      SnapshotView v;
      if (Status s = decode_snapshot(mc.cursor.value(), &v); !s) {
        return bad_value(s, Family::kMailchimp, key);
      }
      if (Status s = decode_mailchimp_body(v.body, &mb); !s) {
        return bad_value(s, Family::kMailchimp, key);
      }
      in.mailchimp = &mb;
      Result<Micros> t = parse_iso8601(mb.last_changed);
      in.mailchimp_changed_at = t ? *t : ms.changed_at;
    }
    if (crm.at && cs.contact_known && !new_contact) {
      SnapshotView v;
      if (Status s = decode_snapshot(crm.cursor.value(), &v); !s) {
        return bad_value(s, Family::kCrm, key);
      }
      if (Status s = decode_crm_body(v.body, &cb); !s) return bad_value(s, Family::kCrm, key);
      in.crm = &cb;
    }
    *out = decide_member_fields(fields_->specs, in, options_.tie, options_.skew_margin);
    return Status::ok();
  }

  // The refusal stored for `key`, or nullptr. Members are asked for in key order, so the cursor
  // only moves forward (refusal keys are hex digests, which sort as the member keys do).
  Result<const StoredRefusal*> refusal_of(const MemberKey& key) {
    MemberKey at;
    while (refusals_.valid() && refusals_.key().starts_with(meta::kRefusalPrefix)) {
      if (!meta::member_of_refusal_key(refusals_.key(), &at)) {
        refusals_.next();  // not a refusal of a member: not ours to read
        continue;
      }
      if (at >= key) break;
      refusals_.next();
    }
    if (!refusals_.valid() || !refusals_.key().starts_with(meta::kRefusalPrefix) || at != key) {
      return static_cast<const StoredRefusal*>(nullptr);
    }
    Result<StoredRefusal> r = decode_refusal(refusals_.value());
    if (!r) return r.status().with_context("meta " + std::string(refusals_.key()));
    refusal_ = std::move(*r);
    return static_cast<const StoredRefusal*>(&refusal_);
  }

  // The consent time lives in the body (the header has no room for a second time); most bodies
  // have none, and are not parsed.
  static Status read_consent_time(std::string_view value, std::string_view key, CrmState* cs) {
    SnapshotView v;
    if (Status s = decode_snapshot(value, &v); !s) return bad_value(s, Family::kCrm, key);
    if (!crm_body_has_consent_time(v.body)) return Status::ok();
    CrmBody body;
    if (Status s = decode_crm_body(v.body, &body); !s) return bad_value(s, Family::kCrm, key);
    cs->consent_changed_at = body.consent_changed_at;
    return Status::ok();
  }

  static Status read_email(std::string_view value, Family f, std::string_view key,
                           std::string* email) {
    SnapshotView v;
    if (Status s = decode_snapshot(value, &v); !s) return bad_value(s, f, key);
    email->assign(v.email);
    return Status::ok();
  }

  // Rows a side returned that could not be keyed are report rows of every plan until they are
  // fixed on that side.
  Status report_rejects() {
    Cursor r = store_.scan(pair_, Family::kRejects);
    for (r.seek_to_first(); r.valid(); r.next()) {
      Side side = Side::kMailchimp;
      RejectedRow rejected;
      if (Status s = decode_reject(r.value(), &side, &rejected); !s) return s;
      ReportRow row;
      row.conflict = Conflict::kInvalidEmail;
      row.decision.conflict = Conflict::kInvalidEmail;
      row.email = rejected.email;
      row.side = std::string(side_name(side));
      row.reason =
          "not synced: " + (rejected.field.empty() ? std::string("email") : rejected.field) + " " +
          (rejected.message.empty() ? std::string("is invalid") : rejected.message);
      if (!rejected.source_id.empty() && rejected.source_id != row.email) {
        // A CRM or source row's id names its kind ("contact 12", "Auth0 user auth0|5").
        row.reason += " (" + (side == Side::kMailchimp ? "mailchimp record " : std::string()) +
                      rejected.source_id + ")";
      }
      ++result_.counts.report_rows;
      sink_.report(std::move(row));
    }
    return r.status();
  }

  Store& store_;
  const PairHandle& pair_;
  const SyncOptions& options_;
  PlanSink& sink_;
  const FieldPlan* fields_;  // nullptr: no mapped fields
  DiffResult result_;
  Cursor refusals_ = store_.scan(pair_, Family::kMeta);
  StoredRefusal refusal_;                             // the last one refusal_of() read
  std::vector<AddressMove> moves_;                    // the pending address moves
  std::multimap<MemberKey, std::size_t> moves_from_;  // old address → moves_ index
  std::multimap<MemberKey, std::size_t> moves_to_;    // new address → moves_ index
};

}  // namespace

Result<DiffResult> diff(Store& store, const PairHandle& pair, const SyncOptions& options,
                        PlanSink& sink, const FieldPlan* fields) {
  return Differ(store, pair, options, sink, fields).run();
}

Result<Plan> make_plan(Store& store, const PairHandle& pair, const SyncOptions& options,
                       const FieldPlan* fields) {
  Plan plan;
  Result<DiffResult> r = diff(store, pair, options, plan, fields);
  if (!r) return r.status();
  plan.first_run = r->first_run;
  plan.counts = r->counts;
  return plan;
}

}  // namespace concord
