// `concord check`: every account, pair and stream of the configuration checked against the
// systems it names (credentials, audiences, groups, sources, fields, tags and interests), without
// writing anything. Prints what it found, or with --json one object (docs/cli.md).
#include <strings.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <iostream>

#include "cli/cli.h"
#include "sides/amplitude/member_event.h"

namespace concord::cli {
namespace {

using nlohmann::json;

// What check found, section by section: printed as it goes, or gathered for --json.
class CheckLog {
 public:
  // `progress`: where --json, which prints only at the end, says which section it is at.
  CheckLog(bool as_json, std::function<void(const Progress&)> progress)
      : as_json_(as_json), progress_(std::move(progress)) {}

  // A new section: an account ("mailchimp"), a pair ("sync") or a stream ("stream").
  void section(const std::string& kind, const std::string& name, const std::string& title) {
    if (!as_json_) std::printf("%s\n", title.c_str());
    if (as_json_ && progress_) progress_(Progress{"check " + kind + " " + name, {}, 0, 0});
    sections_.push_back(
        {{"kind", kind}, {"name", name}, {"found", json::array()}, {"problems", json::array()}});
  }
  // Something found as it should be.
  __attribute__((format(printf, 2, 3))) void info(const char* format, ...) {
    char line[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(line, sizeof line, format, args);
    va_end(args);
    if (!as_json_) std::printf("  %s\n", line);
    if (!sections_.empty()) sections_.back()["found"].push_back(line);
  }
  void problem(const std::string& what) {
    ++problems_;
    if (!as_json_) std::printf("  PROBLEM: %s\n", what.c_str());
    if (!sections_.empty()) sections_.back()["problems"].push_back(what);
  }

  // The summary line (or the JSON object); the exit status.
  int finish() const {
    if (as_json_ && progress_) {
      progress_(Progress{"check", {}, sections_.size(), sections_.size()});
    }
    if (as_json_) {
      std::cout
          << json{{"ok", problems_ == 0}, {"problems", problems_}, {"sections", sections_}}.dump(2)
          << "\n";
    } else if (problems_ > 0) {
      std::printf("\n%d problem%s found.\n", problems_, problems_ == 1 ? "" : "s");
    } else {
      std::printf("\nAll good.\n");
    }
    return problems_ > 0 ? kExitError : kExitOk;
  }

 private:
  const bool as_json_;
  std::function<void(const Progress&)> progress_;
  int problems_ = 0;
  json sections_ = json::array();
};

// A tag or interest target: the tag (which a first sync may create) or the interest (which must
// exist). A cohort's default tag is checked by check_source, once the cohort is resolved.
void check_target(MailchimpClient& mc, const std::string& list_id, const SyncConfig& s,
                  CheckLog& log) {
  if (s.target == TargetKind::kInterest) {
    const auto [category, name] = split_interest(s.interest);
    Result<Interest> i = mc.find_interest(list_id, category, name);
    if (!i) {
      log.problem("interest \"" + s.interest + "\": " + i.status().message());
    } else {
      log.info("interest %s \"%s\" of category \"%s\"", i->id.c_str(), i->name.c_str(),
               i->category_title.c_str());
    }
  } else if (s.target == TargetKind::kTag && !s.tag.empty()) {
    Result<Tag> t = mc.find_tag(list_id, s.tag);
    if (t) {
      log.info("tag %lld \"%s\" (%lld members)", static_cast<long long>(t->id), t->name.c_str(),
               static_cast<long long>(t->member_count));
    } else if (t.status().code() == Status::Code::kNotFound) {
      log.info("tag \"%s\" does not exist yet: the first sync creates it", s.tag.c_str());
    } else {
      log.problem("tag \"" + s.tag + "\": " + t.status().message());
    }
  }
}

// The audience's required merge fields that the mapping leaves out.
std::vector<std::string> unmapped_required(const std::vector<MergeField>& merge,
                                           const std::vector<FieldMapping>& fields) {
  std::vector<std::string> out;
  for (const MergeField& m : merge) {
    if (!m.required || m.tag == "EMAIL") continue;
    bool mapped = false;
    for (const FieldMapping& f : fields)
      mapped |= f.tag == m.tag;
    if (!mapped) out.push_back(m.tag);
  }
  return out;
}

// A one-way source: its credentials, and the connection or cohort the sync names.
void check_source(Context& ctx, const SyncConfig& s, CheckLog& log) {
  Result<std::unique_ptr<SourceReader>> reader = ctx.source_reader(s);
  if (!reader) {
    log.problem(reader.status().message());
    return;
  }
  const char* noun = s.people == PeopleKind::kAuth0    ? "connection"
                     : s.people == PeopleKind::kMautic ? "segment"
                                                       : "cohort";
  const std::string& named = s.people == PeopleKind::kAuth0    ? s.connection
                             : s.people == PeopleKind::kMautic ? s.segment
                                                               : s.cohort;
  const std::string what = std::string(noun) + " \"" + named + "\"";
  if (Status st = (*reader)->resolve(); !st) {
    log.problem(std::string(people_kind_name(s.people)) + " " + what + ": " + st.message());
    return;
  }
  log.info("%s %s \"%s\"", std::string(people_kind_name(s.people)).c_str(), noun,
           (*reader)->set_name().c_str());
  if (s.target == TargetKind::kTag && s.tag.empty()) {
    log.info("target: the tag \"%s\" (the cohort's name)", (*reader)->set_name().c_str());
  }
}

// A [[stream]]: its key is set, its audience found, its filters make Mailchimp event names, and
// the user properties it names have merge fields (the others would never be sent).
void check_stream(Context& ctx, const StreamConfig& s, CheckLog& log) {
  log.section("stream", s.name, "Stream " + s.name + " (amplitude)");
  if (Result<std::string> key = read_secret(s.api_key_env, "the key senders must send"); !key) {
    log.problem(key.status().message());
  } else {
    log.info("senders' key from $%s", s.api_key_env.c_str());
  }
  for (const std::string& e : s.events) {
    if (!amplitude::member_event_name(e)) {
      log.problem("events: \"" + e +
                  "\" makes no Mailchimp event name (2 to 30 of a-z, 0-9, _ and -)");
    }
  }
  Result<MailchimpClient*> mc = ctx.mailchimp(s.mailchimp);
  if (!mc) {
    log.problem(mc.status().message());
    return;
  }
  Result<Audience> a = (*mc)->resolve_audience(s.audience);
  if (!a) {
    log.problem("audience \"" + s.audience + "\": " + a.status().message());
    return;
  }
  log.info("audience %s \"%s\" (%lld members)", a->id.c_str(), a->name.c_str(),
           static_cast<long long>(a->member_count));
  if (!s.send_users || s.user_properties.empty()) return;
  Result<std::vector<MergeField>> mf = (*mc)->merge_fields(a->id);
  if (!mf) {
    log.problem("merge fields of " + a->id + ": " + mf.status().message());
    return;
  }
  for (const std::string& p : s.user_properties) {
    const bool found = std::any_of(mf->begin(), mf->end(), [&](const MergeField& m) {
      return strcasecmp(m.tag.c_str(), p.c_str()) == 0;
    });
    if (!found) {
      log.problem("user_properties: \"" + p +
                  "\" names no merge field of the audience (a property is sent only to the merge "
                  "field whose tag is its name)");
    }
  }
  log.info("user properties checked against the merge fields");
}

}  // namespace

int check(const Global& g, bool as_json) {
  Result<std::unique_ptr<Context>> ctx = Context::open(g, /*with_store=*/false);
  if (!ctx) return fail(exit_for(ctx.status()), ctx.status().message());
  const Config& cfg = (*ctx)->config();
  CheckLog log(as_json, progress_printer(g.verbose));
  for (const auto& [name, account] : cfg.mailchimp) {
    log.section("mailchimp", name, "Mailchimp account " + name);
    Result<MailchimpClient*> c = (*ctx)->mailchimp(name);
    if (!c) {
      log.problem(c.status().message());
      continue;
    }
    if (Status s = (*c)->ping(); !s) {
      log.problem("cannot reach Mailchimp: " + s.message());
    } else {
      log.info("reached the API with the key from $%s", account.api_key_env.c_str());
    }
  }
  for (const SyncConfig& s : cfg.syncs) {
    log.section("sync", s.name, "Sync " + s.name);
    Result<MailchimpClient*> mc = (*ctx)->mailchimp(s.mailchimp);
    if (mc) {
      Result<Audience> a = (*mc)->resolve_audience(s.audience);
      if (!a) {
        log.problem("audience \"" + s.audience + "\": " + a.status().message());
      } else {
        log.info("audience %s \"%s\" (%lld members)", a->id.c_str(), a->name.c_str(),
                 static_cast<long long>(a->member_count));
        Result<std::vector<MergeField>> mf = (*mc)->merge_fields(a->id);
        if (!mf) {
          log.problem("merge fields of " + a->id + ": " + mf.status().message());
        } else {
          for (const FieldMapping& f : s.fields) {
            bool found = false;
            for (const MergeField& m : *mf)
              found |= m.tag == f.tag;
            if (!found) {
              std::string tags;
              for (const MergeField& m : *mf)
                tags += (tags.empty() ? "" : ", ") + m.tag;
              log.problem("fields: the audience has no merge field " + f.tag + " (it has " + tags +
                          ")");
            }
          }
          if (s.people == PeopleKind::kMautic) {
            for (const std::string& tag : unmapped_required(*mf, s.fields)) {
              log.problem("fields: the audience's merge field " + tag +
                          " is required: map it to a Mautic field (fields = { " + tag +
                          " = \"…\" }); Mailchimp refuses new members without it");
            }
          }
          if (!s.fields.empty()) log.info("field mapping checked against the merge fields");
        }
        check_target(**mc, a->id, s, log);
      }
    } else {
      log.problem(mc.status().message());
    }
    if (s.one_way()) {
      check_source(**ctx, s, log);
      continue;
    }
    Result<CiviCrmClient*> crm = (*ctx)->civicrm(s.civicrm);
    if (crm) {
      Result<CrmGroup> grp = (*crm)->resolve_group(s.group);
      if (!grp) {
        log.problem("group \"" + s.group + "\": " + grp.status().message());
      } else {
        log.info("CiviCRM group %lld \"%s\" (%s)", static_cast<long long>(grp->id),
                 grp->title.c_str(), grp->name.c_str());
      }
      if (!s.fields.empty()) {
        // The mapped contact fields exist, and those concord writes are writable.
        Result<std::vector<CiviCrmClient::ContactField>> cf = (*crm)->contact_fields();
        if (!cf) {
          log.problem("contact fields: " + cf.status().message());
        } else {
          for (const FieldMapping& f : s.fields) {
            auto it = std::find_if(cf->begin(), cf->end(),
                                   [&](const auto& c) { return c.name == f.crm_field; });
            if (it == cf->end()) {
              log.problem("fields: " + f.tag + " = \"" + f.crm_field +
                          "\": CiviCRM contacts have no such field (custom fields are named "
                          "Group_Name.Field_Name)");
            } else if (it->readonly && f.direction != FieldDirection::kToMailchimp) {
              log.problem("fields: " + f.tag + " = \"" + f.crm_field +
                          "\" is read-only in CiviCRM: map it with direction = \"to_mailchimp\"");
            }
          }
          log.info("field mapping checked against the contact fields");
        }
      }
    } else {
      log.problem(crm.status().message());
    }
  }
  for (const StreamConfig& s : cfg.streams)
    check_stream(**ctx, s, log);
  return log.finish();
}

}  // namespace concord::cli
