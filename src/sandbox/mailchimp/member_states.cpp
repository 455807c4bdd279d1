// The Mailchimp part's member state machine, shared by every write (API, batch, admin hooks):
// status changes and what they record, creation, updates with their email-change and compliance
// rules, archiving and forgetting, and the webhook events each fires.
#include <algorithm>

#include "concord/email.h"
#include "sandbox/mailchimp/routing.h"
#include "sandbox/text.h"

namespace concord::sandbox {
namespace {

// How a status is named in the "already in this list" message of an email change.
std::string_view status_label(MemberStatus s) {
  switch (s) {
    case MemberStatus::kSubscribed:
      return "Subscribed";
    case MemberStatus::kUnsubscribed:
      return "Unsubscribed";
    case MemberStatus::kCleaned:
      return "Cleaned";
    case MemberStatus::kPending:
      return "Pending";
    case MemberStatus::kTransactional:
      return "Non-Subscribed";
    case MemberStatus::kArchived:
      return "Archived";
  }
  return "";
}

}  // namespace

void MailchimpSandbox::Impl::set_status(List& l, Member& m, MemberStatus to, Source src,
                                        std::optional<Micros> timestamp_opt) {
  MemberStatus from = m.status;
  if (from == to) return;
  Micros t = now();
  if (to == MemberStatus::kArchived) m.status_before_archive = from;
  l.count_status(from, -1);
  l.count_status(to, 1);
  m.status = to;
  if (to == MemberStatus::kSubscribed) {
    m.timestamp_opt = timestamp_opt ? *timestamp_opt : t;
    l.last_sub = t;
  } else if (to == MemberStatus::kUnsubscribed) {
    m.unsubscribe_origin = src;
    if (m.extra) m.extra->unsubscribe_reason.clear();
    l.last_unsub = t;
  } else if (to == MemberStatus::kCleaned) {
    if (m.extra) m.extra->clean_reason.clear();
  } else if (to == MemberStatus::kPending) {
    if (m.timestamp_signup == kNoTime) m.timestamp_signup = t;
  }
  ++l.version;
}

std::optional<Problem> MailchimpSandbox::Impl::check_required(
    const List& l, const std::vector<std::string>& values, const std::vector<bool>* touched) {
  ojson errors = ojson::array();
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i) {
    const MergeField& f = l.merge_fields[i];
    if (!f.required) continue;
    if (touched != nullptr && !(*touched)[i]) continue;
    if (values[i].empty()) {
      errors.push_back(field_error(f.tag, f.type == MergeType::kAddress
                                              ? "Please enter a complete address"
                                              : "Please enter a value"));
    }
  }
  if (errors.empty()) return std::nullopt;
  return invalid_resource("Your merge fields were invalid.", std::move(errors));
}

std::optional<Problem> MailchimpSandbox::Impl::check_required_new(const List& l,
                                                                  const MemberWrite& w) {
  std::vector<std::string> values(l.merge_fields.size());
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i)
    values[i] = l.merge_fields[i].default_value;
  for (const auto& [i, v] : w.merges)
    values[static_cast<std::size_t>(i)] = v;
  return check_required(l, values, nullptr);
}

bool MailchimpSandbox::Impl::add_tags(List& l, Member& m, const std::vector<std::string>& names,
                                      Micros t) {
  bool added = false;
  for (const std::string& name : names) {
    std::string n = trim(name);
    if (n.empty()) continue;
    added = set_member_tag(l, m, tag_for_name(l, n, true, t), true, t) || added;
  }
  return added;
}

std::uint32_t MailchimpSandbox::Impl::tag_for_name(List& l, std::string_view name, bool create,
                                                   Micros t) {
  std::size_t before = l.tags.size();
  std::uint32_t id = l.tag_id(name, create, &account->next_tag_id);
  if (l.tags.size() != before) l.tags.back().created_at = l.tags.back().updated_at = t;
  return id;
}

bool MailchimpSandbox::Impl::set_member_tag(List& l, Member& m, std::uint32_t tag_id, bool on,
                                            Micros t) {
  if (tag_id == 0) return false;
  auto it = std::find_if(m.tags.begin(), m.tags.end(),
                         [tag_id](const MemberTag& mt) { return mt.tag_id == tag_id; });
  if (on == (it != m.tags.end())) return false;
  if (on) {
    m.tags.push_back(MemberTag{tag_id, t});
  } else {
    m.tags.erase(it);
  }
  // A tag is a static segment: its membership changed, and so did the member.
  if (TagDef* def = l.tag_by_id(tag_id)) def->updated_at = t;
  m.last_changed = t;
  ++l.version;
  return true;
}

Member& MailchimpSandbox::Impl::create_member(List& l, const MemberWrite& w, MemberStatus status,
                                              Source src, std::string_view source_label) {
  Member m;
  Micros t = now();
  m.email = *w.email;
  m.key = member_key(normalise_email(m.email));
  do {
    m.contact_id = account->random16();
  } while (l.find_contact(m.contact_id) != nullptr);
  m.unique_email_id = account->random_unique_email_id();
  m.web_id = account->next_web_id++;
  m.status = status;
  m.text_email = w.text_email.value_or(false);
  m.vip = w.vip.value_or(false);
  m.source = account->intern_source(source_label);
  m.timestamp_signup = w.timestamp_signup.value_or(kNoTime);
  if (status == MemberStatus::kSubscribed) {
    m.timestamp_opt = w.timestamp_opt.value_or(t);
    l.last_sub = t;
  } else {
    m.timestamp_opt = w.timestamp_opt.value_or(kNoTime);
    if (status == MemberStatus::kPending && m.timestamp_signup == kNoTime) m.timestamp_signup = t;
    if (status == MemberStatus::kUnsubscribed) {
      m.unsubscribe_origin = src;
      l.last_unsub = t;
    }
  }
  std::vector<std::string> values(l.merge_fields.size());
  for (std::size_t i = 0; i < l.merge_fields.size(); ++i)
    values[i] = l.merge_fields[i].default_value;
  for (const auto& [i, v] : w.merges)
    values[static_cast<std::size_t>(i)] = v;
  m.merges = pack_merges(values);
  m.interests = w.interests_on;
  if (w.language || w.ip_signup || w.ip_opt) {
    MemberExtra& x = m.ext();
    x.language = w.language.value_or("");
    x.ip_signup = w.ip_signup.value_or("");
    x.ip_opt = w.ip_opt.value_or("");
  }
  if (w.tags) add_tags(l, m, *w.tags, t);
  m.last_changed = t;
  return l.add(std::move(m));
}

std::optional<Problem> MailchimpSandbox::Impl::update_member(List& l, Member& m,
                                                             const MemberWrite& w,
                                                             std::optional<MemberStatus> to,
                                                             Source src, bool skip_merge_validation,
                                                             std::string_view email_for_errors) {
  // Email change.
  std::optional<MemberKey> new_key;
  if (w.email) {
    MemberKey k = member_key(normalise_email(*w.email));
    if (k != m.key) {
      if (m.status != MemberStatus::kSubscribed) {
        return schema_problem(ojson::array(
            {field_error("email address",
                         "This member's status is \"" + std::string(status_name(m.status)) +
                             ".\" You can only update email addresses for members with a status "
                             "of \"subscribed.\"")}));
      }
      if (const Member* other = l.find(k)) {
        return schema_problem(ojson::array({field_error(
            "email address", "\"" + *w.email + "\" is already in this list with a status of \"" +
                                 std::string(status_label(other->status)) + "\".")}));
      }
      if (l.forgotten.count(k.bytes) != 0) return forgotten_email(*w.email);
      new_key = k;
    }
  }
  if (to && *to == MemberStatus::kSubscribed && m.status != MemberStatus::kSubscribed &&
      m.in_compliance_state()) {
    return compliance_state(email_for_errors);
  }
  // Merge values.
  std::vector<std::string> values = unpack_merges(m.merges, l.merge_fields.size());
  std::vector<bool> touched(l.merge_fields.size(), false);
  for (const auto& [i, v] : w.merges) {
    values[static_cast<std::size_t>(i)] = v;
    touched[static_cast<std::size_t>(i)] = true;
  }
  if (!skip_merge_validation) {
    if (auto p =
            check_required(l, values, m.status == MemberStatus::kArchived ? nullptr : &touched)) {
      return p;
    }
  }
  // Apply.
  bool changed_any = false, profile = false;
  MemberStatus before = m.status;
  std::string old_email = m.email;
  if (new_key) {
    l.rekey(m, *new_key);
    m.email = *w.email;
    m.unique_email_id = account->random_unique_email_id();
    changed_any = true;
  } else if (w.email && *w.email != m.email) {
    m.email = *w.email;  // the same address in another case
    changed_any = profile = true;
  }
  std::string packed = pack_merges(values);
  if (packed != m.merges) {
    m.merges = std::move(packed);
    changed_any = profile = true;
  }
  if (std::uint64_t groups = (m.interests | w.interests_on) & ~w.interests_off;
      groups != m.interests) {
    m.interests = groups;
    changed_any = profile = true;  // a change of groups is a profile change (§15.4)
  }
  if (w.text_email && *w.text_email != m.text_email) {
    m.text_email = *w.text_email;
    changed_any = profile = true;
  }
  if (w.vip && *w.vip != m.vip) {
    m.vip = *w.vip;
    changed_any = profile = true;
  }
  auto set_extra = [&](const std::optional<std::string>& v, std::string MemberExtra::*field) {
    if (!v) return;
    std::string_view cur = m.extra ? std::string_view(m.extra.get()->*field) : std::string_view();
    if (cur == *v) return;
    m.ext().*field = *v;
    changed_any = profile = true;
  };
  set_extra(w.language, &MemberExtra::language);
  set_extra(w.ip_signup, &MemberExtra::ip_signup);
  set_extra(w.ip_opt, &MemberExtra::ip_opt);
  if (w.timestamp_signup && *w.timestamp_signup != m.timestamp_signup) {
    m.timestamp_signup = *w.timestamp_signup;
    changed_any = true;
  }
  if (to && *to != m.status) {
    set_status(l, m, *to, src, w.timestamp_opt);
    changed_any = true;
  } else if (w.timestamp_opt && *w.timestamp_opt != m.timestamp_opt) {
    m.timestamp_opt = *w.timestamp_opt;
    changed_any = true;
  }
  if (!changed_any) return std::nullopt;
  m.last_changed = now();
  ++l.version;
  // Webhooks.
  if (new_key) {
    fire(l, kEvUpemail, src,
         {{"data[list_id]", l.id},
          {"data[new_id]", ueid_hex(m.unique_email_id)},
          {"data[new_email]", m.email},
          {"data[old_email]", old_email}});
  }
  if (m.status != before) {
    if (m.status == MemberStatus::kSubscribed) {
      fire_member(l, kEvSubscribe, src, m);
    } else if (m.status == MemberStatus::kUnsubscribed && before != MemberStatus::kArchived) {
      fire_member(l, kEvUnsubscribe, src, m,
                  {{"data[action]", "unsub"}, {"data[reason]", "manual"}});
    } else if (m.status == MemberStatus::kCleaned) {
      fire(l, kEvCleaned, src,
           {{"data[list_id]", l.id},
            {"data[campaign_id]", ""},
            {"data[reason]", "hard"},
            {"data[email]", m.email}});
    }
  } else if (profile && m.status != MemberStatus::kArchived) {
    fire_member(l, kEvProfile, src, m);
  }
  return std::nullopt;
}

void MailchimpSandbox::Impl::archive(List& l, Member& m, Source src) {
  MemberStatus before = m.status;
  set_status(l, m, MemberStatus::kArchived, src, std::nullopt);
  m.last_changed = now();
  if (before != MemberStatus::kArchived) {
    fire_member(l, kEvUnsubscribe, src, m,
                {{"data[action]", "delete"}, {"data[reason]", "manual"}});
  }
}

void MailchimpSandbox::Impl::forget(List& l, Member& m, Source src) {
  if (m.status != MemberStatus::kArchived) {
    fire_member(l, kEvUnsubscribe, src, m,
                {{"data[action]", "delete"}, {"data[reason]", "manual"}});
  }
  l.forget(m);
}

}  // namespace concord::sandbox
