// `concord explain EMAIL`: why a member is where it is, from what the store holds (as of the last
// fetch): both sides' records, the base, the decision decide() makes now with each rule it went
// through, and every operation ever journaled for the member.
#include <iostream>

#include "cli/cli.h"
#include "concord/email.h"
#include "concord/journal.h"
#include "concord/member_fields.h"
#include "concord/meta_keys.h"
#include "concord/moves.h"
#include "concord/record.h"
#include "concord/refusal.h"
#include "concord/snapshot.h"
#include "serve/stream_queue.h"

namespace concord::cli {
namespace {

using nlohmann::json;

std::string membership_text(Membership m) {
  return m == Membership::kIn ? "IN" : "OUT";
}

struct Stored {
  std::optional<MailchimpBody> mc_record;
  std::optional<MailchimpState> mc;
  std::optional<CrmState> crm;
  json mc_body, crm_body;  // the stored records, as explain shows them
  std::optional<CrmBody> person;
  std::optional<BaseRecord> base;
  std::optional<StoredRefusal> refusal;  // Mailchimp refused the address for good before
};

json mailchimp_record(const MailchimpBody& b) {
  json fields = json::object();
  for (const auto& [tag, value] : b.merge_fields)
    fields[tag] = value;
  json j = {{"merge_fields", fields},
            {"last_changed", b.last_changed},
            {"timestamp_opt", b.timestamp_opt}};
  if (!b.unsubscribe_reason.empty()) j["unsubscribe_reason"] = b.unsubscribe_reason;
  return j;
}

// The body as the store keeps it (encode_crm_body), as JSON.
json crm_record(const CrmBody& b) {
  return json::parse(encode_crm_body(b));
}

// A member's stored records (both sides, the base) through the record codecs, and any refusal.
Result<Stored> load(Store& store, const PairHandle& pair, const MemberKey& key) {
  Result<MemberRecords> m = read_member(store, pair, key);
  if (!m) return m.status();
  Stored st;
  st.mc = m->mailchimp;
  st.crm = m->crm;
  st.base = m->base;
  if (m->mailchimp_body) {
    st.mc_body = mailchimp_record(*m->mailchimp_body);
    st.mc_record = m->mailchimp_body;
  }
  if (m->crm_body) {
    st.crm_body = crm_record(*m->crm_body);
    st.person = m->crm_body;
  }
  Result<std::optional<std::string>> r = store.get(pair, Family::kMeta, meta::refusal_key(key));
  if (!r) return r.status();
  if (r->has_value()) {
    Result<StoredRefusal> refusal = decode_refusal(**r);
    if (!refusal) return refusal.status();
    st.refusal = std::move(*refusal);
  }
  return st;
}

// Which consent flags a contact has, as words.
std::string consent_text(const CrmState& crm) {
  std::string s;
  auto add = [&](bool on, const char* what) {
    if (on) s += (s.empty() ? "" : ", ") + std::string(what);
  };
  add(crm.is_opt_out, "opted out");
  add(crm.do_not_email, "do-not-email");
  add(crm.deceased, "deceased");
  add(crm.hold_opt_out, "address on hold as an opt-out");
  return s;
}

// The rules decide() went through, in order, as sentences.
std::vector<std::string> trace(const MailchimpState& mc, const CrmState& crm, const BaseState* base,
                               const SyncOptions& o, const Decision& d) {
  std::vector<std::string> steps;
  const bool mc_changed = mailchimp_changed(mc, base);
  const bool respect = o.respect_crm_opt_out;
  const bool crm_changed_ = crm_changed(crm, base, respect);
  const Membership crm_m = crm.mailchimp_membership(respect);
  steps.push_back("Mailchimp says " + membership_text(mc.membership()) + " (" +
                  std::string(mailchimp_status_name(mc.status)) + ", changed " +
                  time_text(mc.changed_at) + ")");
  steps.push_back("the CRM says " + membership_text(crm_m) + " (" +
                  std::string(crm.present() ? crm_status_name(crm.status) : "no history row") +
                  (crm.trashed ? ", contact in the trash" : "") + ", changed " +
                  time_text(crm.mailchimp_changed_at(respect)) + ")");
  if (respect && crm.consent_flag() && crm.membership() == Membership::kIn) {
    steps.push_back(
        "consent outranks the group: the contact is in the group but must not be "
        "mailed (" +
        consent_text(crm) + ", seen " + time_text(crm.consent_changed_at) +
        "), so it is OUT for Mailchimp");
  }
  if (base == nullptr) {
    steps.push_back(
        "no base: the sides never agreed on this member (rule 4: a side where the "
        "member is absent has not changed)");
  } else {
    steps.push_back("base: both agreed on " + membership_text(base->membership) +
                    " (Mailchimp time " + time_text(base->mailchimp_changed_at) + ", CRM time " +
                    time_text(base->crm_changed_at) + ")");
  }
  steps.push_back(std::string("Mailchimp ") + (mc_changed ? "changed" : "did not change") +
                  " since the base; the CRM " + (crm_changed_ ? "changed" : "did not change"));
  if (mc.membership() == crm_m) {
    steps.push_back("rule 1: both sides say " + membership_text(mc.membership()) +
                    ": no membership action");
  } else if (o.trust != Trust::kNone) {
    steps.push_back("rule 5: --trust " + std::string(trust_name(o.trust)) +
                    ": that side wins every disagreement in this run");
  } else if (mc_changed != crm_changed_) {
    steps.push_back("rule 2: only " + std::string(mc_changed ? "Mailchimp" : "the CRM") +
                    " changed: it wins");
  } else {
    steps.push_back("rule 3: both changed: " + std::string(reason_name(d.reason)) +
                    " (skew margin " + std::to_string(o.skew_margin / kMicrosPerSecond) + " s)");
  }
  steps.push_back("outcome: " + explain(d));
  return steps;
}

// The mapped fields as the last run resolved them (meta kFieldSpecs); before any run, the config's
// mapping with every merge field taken as text.
std::vector<FieldSpec> field_specs(Store& store, const PairHandle& pair, const SyncConfig& sync) {
  Result<std::optional<std::string>> v = store.get(pair, Family::kMeta, meta::kFieldSpecs);
  if (v && v->has_value()) {
    if (Result<std::vector<FieldSpec>> specs = decode_field_specs(**v); specs) return *specs;
  }
  std::vector<FieldSpec> out;
  for (const FieldMapping& f : sync.fields) {
    FieldSpec spec{f.tag, f.crm_field, f.direction, {}};
    spec.merge.tag = f.tag;
    out.push_back(std::move(spec));
  }
  return out;
}

std::string_view direction_name(FieldDirection d) {
  switch (d) {
    case FieldDirection::kToMailchimp:
      return "to_mailchimp";
    case FieldDirection::kToCrm:
      return "to_crm";
    case FieldDirection::kBoth:
      break;
  }
  return "both";
}

std::string_view field_write_name(const FieldOutcome& f) {
  if (f.crm_unread) return "none (the contact was read before the field was mapped)";
  switch (f.decision.write) {
    case FieldWrite::kToMailchimp:
      return "to_mailchimp";
    case FieldWrite::kToCrm:
      return "to_crm";
    case FieldWrite::kNone:
      break;
  }
  return "none";
}

// What a tag or interest pair's Mailchimp side carries: "the tag \"vip\"", "the interest …".
std::string target_text(const SyncConfig& s) {
  switch (s.target) {
    case TargetKind::kTag:
      return "the tag \"" + (s.tag.empty() ? "<the cohort's name>" : s.tag) + "\"";
    case TargetKind::kInterest:
      return "the interest \"" + s.interest + "\"";
    case TargetKind::kAudience:
      break;
  }
  return "the audience";
}

std::string crm_contacts(const std::optional<CrmBody>& person) {
  if (!person) return "-";
  if (!person->source_id.empty()) return "id " + person->source_id;  // a one-way source's person
  std::string s = "contact " + std::to_string(person->contact_id);
  if (!person->duplicates.empty()) {
    s += " (also contacts";
    for (std::int64_t id : person->duplicates)
      s += " " + std::to_string(id);
    s += " share the address)";
  }
  return s;
}

// What each [[stream]] forwarded for the member, oldest first: [{"stream", "forwarded": […]}].
// A stream that has taken nothing yet has an empty list.
Result<json> streams_json(Context& ctx, const std::string& email) {
  json out = json::array();
  for (const StreamConfig& s : ctx.config().streams) {
    json events = json::array();
    Result<std::vector<serve::ForwardedRecord>> h =
        serve::forwarded_history(ctx.store(), s.name, email);
    if (!h && h.status().code() != Status::Code::kNotFound) return h.status();
    if (h) {
      for (const serve::ForwardedRecord& r : *h) {
        json props = json::object();
        for (const auto& [k, v] : r.properties)
          props[k] = v;
        events.push_back({{"kind", r.identify ? "identify" : "event"},
                          {"name", r.identify ? json(nullptr) : json(r.name)},
                          {"occurred_at", time_text(r.occurred_at)},
                          {"forwarded_at", time_text(r.forwarded_at)},
                          {r.identify ? "merge_fields" : "properties", std::move(props)}});
      }
    }
    out.push_back({{"stream", s.name}, {"forwarded", std::move(events)}});
  }
  return out;
}

void print_streams(const json& streams) {
  for (const json& s : streams) {
    const json& f = s["forwarded"];
    std::printf("\nForwarded by stream %s: %zu\n", s["stream"].get<std::string>().c_str(),
                f.size());
    for (const json& e : f) {
      if (e["kind"] == "identify") {
        std::printf("  %s  identify (forwarded %s)", e["occurred_at"].get<std::string>().c_str(),
                    e["forwarded_at"].get<std::string>().c_str());
        for (const auto& [tag, value] : e["merge_fields"].items())
          std::printf(" %s=\"%s\"", tag.c_str(), value.get<std::string>().c_str());
      } else {
        std::printf("  %s  %s (forwarded %s)", e["occurred_at"].get<std::string>().c_str(),
                    e["name"].get<std::string>().c_str(),
                    e["forwarded_at"].get<std::string>().c_str());
      }
      std::printf("\n");
    }
  }
}

}  // namespace

int explain(const Global& g, const std::string& raw_email, const std::string& sync_name,
            bool as_json) {
  Result<std::string> email = parse_email(raw_email);
  if (!email) return fail(kExitUsage, "EMAIL: " + email.status().message());
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/true, /*read_only=*/true);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  Result<json> streams = streams_json(**ctx, *email);
  if (!streams) return fail(kExitError, streams.status().to_string());
  if ((*ctx)->config().syncs.empty() && !(*ctx)->config().streams.empty()) {
    // Streams only: what they forwarded is all there is to say.
    if (as_json) {
      std::cout << json{{"email", *email}, {"streams", *streams}}.dump(2) << "\n";
    } else {
      std::printf("%s (subscriber hash %s)\n", email->c_str(),
                  subscriber_hash(member_key(*email)).c_str());
      print_streams(*streams);
    }
    return kExitOk;
  }
  Result<const SyncConfig*> sync = (*ctx)->config().sync(sync_name);
  if (!sync) return fail(kExitUsage, sync.status().message());
  Result<const PairHandle*> pair = (*ctx)->store().pair((*sync)->name);
  if (!pair && pair.status().code() == Status::Code::kNotFound) {
    return fail(kExitUsage, "sync " + (*sync)->name + " has not run yet");
  }
  if (!pair) return fail(kExitError, pair.status().message());
  const MemberKey key = member_key(*email);
  Result<Stored> st = load((*ctx)->store(), **pair, key);
  if (!st) return fail(kExitError, st.status().to_string());
  RunLog log((*ctx)->store(), **pair);
  Result<std::vector<JournalEntry>> ops = log.entries_of(key);
  if (!ops) return fail(kExitError, ops.status().to_string());

  MailchimpState mc = st->mc.value_or(MailchimpState{});
  if (st->refusal) mc.refusal = st->refusal->kind;  // as the diff reads it
  const CrmState crm = st->crm.value_or(CrmState{});
  BaseState bs;
  if (st->base) bs = st->base->state();
  const SyncOptions& o = (*sync)->options;
  const Decision d = decide(mc, crm, st->base ? &bs : nullptr, o);
  const std::vector<std::string> steps = trace(mc, crm, st->base ? &bs : nullptr, o, d);

  // The mapped fields, decided as the diff would (for a member both sides have IN, the diff
  // writes them; explain shows the decision whatever the membership).
  const std::vector<FieldSpec> specs = field_specs((*ctx)->store(), **pair, **sync);
  MemberFieldInput fin;
  fin.mailchimp = st->mc_record ? &*st->mc_record : nullptr;
  if (st->mc_record) {
    Result<Micros> t = parse_iso8601(st->mc_record->last_changed);
    fin.mailchimp_changed_at = t ? *t : mc.changed_at;
  }
  fin.crm = st->person && crm.contact_known ? &*st->person : nullptr;
  fin.base = st->base ? &*st->base : nullptr;
  const MemberFields fields = decide_member_fields(specs, fin, o.tie, o.skew_margin);
  json jfields = json::array();
  for (const FieldOutcome& f : fields.each) {
    jfields.push_back({{"tag", f.spec->tag},
                       {"crm_field", f.spec->crm_field},
                       {"direction", direction_name(f.spec->direction)},
                       {"type", merge_type_name(f.spec->merge.type)},
                       {"mailchimp", f.mailchimp},
                       {"crm", f.crm_unread ? json(nullptr) : json(f.crm)},
                       {"base", f.base ? json(*f.base) : json(nullptr)},
                       {"write", field_write_name(f)},
                       {"reason", field_reason_name(f.decision.reason)},
                       {"problem", f.problem}});
  }

  // Address changes waiting for the other side (or for a person) that involve this address.
  Result<std::vector<AddressMove>> moves = load_moves((*ctx)->store(), **pair);
  if (!moves) return fail(kExitError, moves.status().to_string());
  json jmoves = json::array();
  for (const AddressMove& m : *moves) {
    if (m.from_email != *email && m.to_email != *email) continue;
    jmoves.push_back({{"changed_in", side_name(m.side)},
                      {"from", m.from_email},
                      {"to", m.to_email},
                      {"state", m.occupied           ? "new address taken"
                                : !m.refused.empty() ? "refused: " + m.refused
                                                     : "pending"}});
  }

  json jops = json::array();
  for (const JournalEntry& e : *ops) {
    Result<std::optional<RunRecord>> run = log.get_run(e.run_id);
    jops.push_back({{"run", e.run_id},
                    {"run_started_at",
                     run && run->has_value() ? time_text((**run).started_at) : std::string("-")},
                    {"at", time_text(e.at)},
                    {"side", side_name(side_of(e.op.kind))},
                    {"action", op_kind_name(e.op.kind)},
                    {"reason", reason_name(e.op.reason)},
                    {"result", journal_state_name(e.state)},
                    {"message", e.message}});
    if (!e.op.from_email.empty()) jops.back()["from"] = e.op.from_email;
    if (!e.op.fields.empty()) {
      json written = json::object();
      for (const OpField& f : e.op.fields)
        written[f.tag] = f.value;
      jops.back()["fields"] = std::move(written);
    }
  }
  if (as_json) {
    json j = {{"email", *email},
              {"sync", (*sync)->name},
              {"subscriber_hash", subscriber_hash(key)},
              {"mailchimp", st->mc ? json{{"status", mailchimp_status_name(mc.status)},
                                          {"status_changed_at", time_text(mc.changed_at)},
                                          {"record", st->mc_body}}
                                   : json(nullptr)},
              // A tag or interest pair: whether the member carries it, since when.
              {"target", target_text(**sync)},
              {"carries", st->mc && mc.mark ? json(*mc.mark == Membership::kIn) : json(nullptr)},
              {"people_side", people_kind_name((*sync)->people)},
              {"refused", st->refusal ? json{{"as", st->refusal->kind == Refusal::kForgotten
                                                        ? "forgotten"
                                                        : "invalid-email"},
                                             {"run", st->refusal->run_id},
                                             {"message", st->refusal->message}}
                                      : json(nullptr)},
              {"crm", st->crm ? json{{"status", crm_status_name(crm.status)},
                                     {"changed_at", time_text(crm.changed_at)},
                                     {"contact_known", crm.contact_known},
                                     {"trashed", crm.trashed},
                                     {"do_not_email", crm.do_not_email},
                                     {"is_opt_out", crm.is_opt_out},
                                     {"is_deceased", crm.deceased},
                                     {"email_on_hold", crm.email_on_hold},
                                     {"hold_opt_out", crm.hold_opt_out},
                                     {"consent_changed_at", time_text(crm.consent_changed_at)},
                                     {"record", st->crm_body}}
                              : json(nullptr)},
              {"base", st->base ? json{{"membership", membership_text(bs.membership)},
                                       {"mailchimp_changed_at", time_text(bs.mailchimp_changed_at)},
                                       {"crm_changed_at", time_text(bs.crm_changed_at)}}
                                : json(nullptr)},
              {"decision",
               {{"winner", winner_name(d.winner)},
                {"reason", reason_name(d.reason)},
                {"mailchimp_action", action_name(d.mailchimp)},
                {"crm_action", action_name(d.crm)},
                {"hold_email", d.hold_email},
                {"conflict", conflict_name(d.conflict)},
                {"rules", steps}}},
              {"fields", jfields},
              {"address_changes", jmoves},
              {"operations", jops},
              {"streams", *streams}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%s in sync %s (subscriber hash %s), as of the last fetch\n\n", email->c_str(),
              (*sync)->name.c_str(), subscriber_hash(key).c_str());
  if (st->mc && mc.mark) {
    std::printf("Mailchimp: %s; %s %s since %s\n",
                std::string(mailchimp_status_name(mc.status)).c_str(),
                *mc.mark == Membership::kIn ? "carries" : "does not carry",
                target_text(**sync).c_str(), time_text(mc.changed_at).c_str());
  } else if (st->mc) {
    std::printf("Mailchimp: %s since %s\n", std::string(mailchimp_status_name(mc.status)).c_str(),
                time_text(mc.changed_at).c_str());
  } else {
    std::printf("Mailchimp: not in the audience\n");
  }
  if (st->refusal) {
    std::printf("           refused for good in run %llu (%s): %s\n",
                static_cast<unsigned long long>(st->refusal->run_id),
                st->refusal->kind == Refusal::kForgotten ? "forgotten" : "invalid address",
                st->refusal->message.c_str());
  }
  if ((*sync)->one_way()) {
    // A source's set: in it (Added) since concord first saw the person there.
    const std::string label = std::string(people_kind_name((*sync)->people)) + ":";
    if (st->crm) {
      std::printf("%-10s %s since %s, %s\n", label.c_str(),
                  crm.status == CrmStatus::kAdded ? "in the set" : "in the set, not mirrored",
                  time_text(crm.changed_at).c_str(), crm_contacts(st->person).c_str());
    } else {
      std::printf("%-10s not in the set\n", label.c_str());
    }
  } else if (st->crm) {
    std::printf("CRM:       %s %s, %s\n",
                crm.present() ? std::string(crm_status_name(crm.status)).c_str() : "no row",
                time_text(crm.changed_at).c_str(), crm_contacts(st->person).c_str());
  } else {
    std::printf("CRM:       no contact with this address in the group's history\n");
  }
  std::printf("\nDecision now\n");
  for (const std::string& s : steps)
    std::printf("  - %s\n", s.c_str());
  if (!fields.each.empty()) {
    std::printf("\nFields (Mailchimp | CRM | base → decision)\n");
    for (const json& f : jfields) {
      auto shown = [](const json& v) {
        return v.is_null() ? std::string("-") : "\"" + v.get<std::string>() + "\"";
      };
      std::printf("  %s ↔ %s (%s): %s | %s | %s → %s (%s)%s\n", f["tag"].get<std::string>().c_str(),
                  f["crm_field"].get<std::string>().c_str(),
                  f["direction"].get<std::string>().c_str(), shown(f["mailchimp"]).c_str(),
                  shown(f["crm"]).c_str(), shown(f["base"]).c_str(),
                  f["write"].get<std::string>().c_str(), f["reason"].get<std::string>().c_str(),
                  f["problem"].get<std::string>().empty()
                      ? ""
                      : (": not sent: " + f["problem"].get<std::string>()).c_str());
    }
  }
  for (const json& m : jmoves) {
    std::printf("\nAddress change in %s: %s → %s (%s)\n",
                m["changed_in"].get<std::string>().c_str(), m["from"].get<std::string>().c_str(),
                m["to"].get<std::string>().c_str(), m["state"].get<std::string>().c_str());
  }
  std::printf("\nOperations journaled for this member\n");
  if (jops.empty()) std::printf("  none\n");
  for (const json& op : jops) {
    // The reason is the rule that decided the operation in its run.
    std::printf("  run %-4s %s  %-9s %-26s %-10s %-22s %s\n", op["run"].dump().c_str(),
                op["at"].get<std::string>().c_str(), op["side"].get<std::string>().c_str(),
                op["action"].get<std::string>().c_str(), op["result"].get<std::string>().c_str(),
                op["reason"].get<std::string>().c_str(), op["message"].get<std::string>().c_str());
    if (op.contains("fields")) {
      for (const auto& [tag, value] : op["fields"].items())
        std::printf("           %s = \"%s\"\n", tag.c_str(), value.get<std::string>().c_str());
    }
  }
  print_streams(*streams);
  return kExitOk;
}

}  // namespace concord::cli
