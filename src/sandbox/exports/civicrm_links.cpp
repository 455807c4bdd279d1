#include "sandbox/exports/civicrm_links.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "sandbox/exports/ascii.h"
#include "sandbox/text.h"

namespace concord::sandbox::exports {

namespace {

// CiviCRM's group.title is varchar(255).
constexpr std::size_t kMaxTitleBytes = 255;

std::string field_of(const CrmContact& c, std::string_view name) {
  for (const auto& [k, v] : c.fields) {
    if (k == name) return v;
  }
  return "";
}

// The display name CiviCRM's default format gives, when the export has no Display Name.
std::string display_name(const CrmContact& c) {
  if (!c.display_name.empty()) return c.display_name;
  if (c.contact_type == "Organization") return field_of(c, "organization_name");
  if (c.contact_type == "Household") return field_of(c, "household_name");
  std::string first = field_of(c, "first_name"), last = field_of(c, "last_name");
  return first.empty() ? last : last.empty() ? first : first + " " + last;
}

// Splits a Group(s) cell into titles: known titles first (longest first), else at ", ".
std::vector<std::string> split_groups(std::string_view cell,
                                      const std::vector<std::string>& known) {
  std::vector<std::string> out;
  std::string_view rest = trim_view(cell);
  while (!rest.empty()) {
    std::size_t take = 0;
    for (const std::string& t : known) {
      if (rest.starts_with(t) && (rest.size() == t.size() || rest.substr(t.size(), 2) == ", ")) {
        take = t.size();
        break;
      }
    }
    if (take == 0) take = std::min(rest.find(", "), rest.size());
    std::string title = trim(rest.substr(0, take));
    if (!title.empty()) out.push_back(std::move(title));
    rest.remove_prefix(take);
    if (rest.starts_with(", ")) rest.remove_prefix(2);
  }
  return out;
}

class Linker {
 public:
  Linker(CrmExport crm, ExportProblems* problems) : crm_(std::move(crm)), problems_(problems) {}

  LinkedSite run() {
    number_contacts();
    std::vector<std::string> known;
    for (const CrmHistoryRow& h : crm_.history) {
      if (std::find(known.begin(), known.end(), h.group) == known.end()) known.push_back(h.group);
    }
    std::stable_sort(known.begin(), known.end(), [](const std::string& a, const std::string& b) {
      return a.size() > b.size();
    });
    listed_.resize(site_.contacts.size());
    for (std::size_t i = 0; i < site_.contacts.size(); ++i) {
      const CrmContact& c = site_.contacts[i];
      for (const std::string& title : split_groups(c.groups, known)) {
        if (title.size() > kMaxTitleBytes) {
          problems_->push_back(
              {c.file, c.line,
               "Group(s): the title \"" + title + "\" is longer than CiviCRM's 255 bytes"});
          continue;
        }
        listed_[i].insert(group_id(title));
      }
    }
    link_history();
    memberships();
    choose_main_group();
    return std::move(site_);
  }

 private:
  void number_contacts() {
    std::int64_t next = 1;
    for (const CrmContact& c : crm_.contacts)
      next = std::max(next, c.id + 1);
    for (CrmContact& c : crm_.contacts) {
      if (c.id == 0) c.id = next++;
    }
    site_.contacts = std::move(crm_.contacts);
    std::stable_sort(site_.contacts.begin(), site_.contacts.end(),
                     [](const CrmContact& a, const CrmContact& b) { return a.id < b.id; });
    for (std::size_t i = 0; i < site_.contacts.size(); ++i) {
      const CrmContact& c = site_.contacts[i];
      by_id_[c.id] = i;
      for (const CrmEmail& e : c.emails)
        by_email_[ascii_lower(trim(e.email))].insert(i);
      if (std::string n = display_name(c); !n.empty()) by_name_[n].insert(i);
      if (!c.sort_name.empty()) by_name_[c.sort_name].insert(i);
    }
  }

  std::int64_t group_id(const std::string& title) {
    auto [it, fresh] =
        group_ids_.emplace(title, static_cast<std::int64_t>(site_.groups.size()) + 1);
    if (fresh) site_.groups.push_back(LinkedGroup{it->second, title});
    return it->second;
  }

  // The contact a history row names (its index), or "" and the reason it names none.
  std::string find_contact(const CrmHistoryRow& h, std::size_t* index) {
    if (h.contact_id > 0) {
      auto it = by_id_.find(h.contact_id);
      if (it == by_id_.end()) {
        return "contact " + std::to_string(h.contact_id) + " is not in the contact export";
      }
      *index = it->second;
      return "";
    }
    bool by_email = !h.contact_email.empty();
    const auto& map = by_email ? by_email_ : by_name_;
    std::string key = by_email ? ascii_lower(h.contact_email) : h.contact_name;
    std::string shown = by_email ? h.contact_email : h.contact_name;
    auto it = map.find(key);
    if (it == map.end()) return "no contact \"" + shown + "\" in the contact export";
    if (it->second.size() > 1) {
      return std::to_string(it->second.size()) + " contacts in the contact export are \"" + shown +
             "\": the row cannot say which";
    }
    *index = *it->second.begin();
    return "";
  }

  void link_history() {
    if (crm_.history.empty()) return;
    if (site_.contacts.empty()) {
      // Every row would be unreadable for the same reason: said once, for each file.
      for (const std::string& f : crm_.history_files) {
        problems_->push_back(
            {f, 0, "not used: a history download needs the contact export beside it"});
      }
      return;
    }
    struct Row {
      std::size_t source;  // index in crm_.history
      std::int64_t contact, group;
    };
    std::vector<Row> rows;
    for (std::size_t i = 0; i < crm_.history.size(); ++i) {
      const CrmHistoryRow& h = crm_.history[i];
      std::size_t contact = 0;
      std::string why = find_contact(h, &contact);
      if (!why.empty()) {
        problems_->push_back({h.file, h.line, why});
        continue;
      }
      rows.push_back(Row{i, site_.contacts[contact].id, group_id(h.group)});
    }
    // Ids follow the order the rows happened; a download may be sorted any way.
    std::stable_sort(rows.begin(), rows.end(), [&](const Row& a, const Row& b) {
      return crm_.history[a.source].date < crm_.history[b.source].date;
    });
    for (const Row& r : rows) {
      const CrmHistoryRow& h = crm_.history[r.source];
      site_.history.push_back(LinkedHistory{r.contact, r.group, h.date, h.status, h.method});
      site_.groups[static_cast<std::size_t>(r.group - 1)].history_rows++;
      latest_[{r.contact, r.group}] = r.source;
    }
  }

  void memberships() {
    for (std::size_t i = 0; i < site_.contacts.size(); ++i) {
      const CrmContact& c = site_.contacts[i];
      std::set<std::int64_t> groups = listed_[i];
      for (auto it = latest_.lower_bound({c.id, 0}); it != latest_.end() && it->first.first == c.id;
           ++it) {
        groups.insert(it->first.second);
      }
      for (std::int64_t g : groups) {
        bool in_list = listed_[i].count(g) > 0;
        const std::string& title = site_.groups[static_cast<std::size_t>(g - 1)].title;
        std::string status = in_list ? "Added" : "";
        if (auto it = latest_.find({c.id, g}); it != latest_.end()) {
          const CrmHistoryRow& h = crm_.history[it->second];
          status = h.status;
          if (crm_.has_groups_column && in_list != (status == "Added")) {
            problems_->push_back({c.file, c.line,
                                  std::string("Group(s) ") + (in_list ? "lists" : "does not list") +
                                      " \"" + title + "\" but the latest history row for it (" +
                                      h.file + ":" + std::to_string(h.line) + ") is " + status +
                                      ": the membership follows the history"});
          }
        }
        if (status.empty() || status == "Deleted") continue;
        site_.members.push_back(LinkedMembership{c.id, g, status});
        if (status == "Added") site_.groups[static_cast<std::size_t>(g - 1)].added++;
      }
    }
  }

  void choose_main_group() {
    const LinkedGroup* best = nullptr;
    for (const LinkedGroup& g : site_.groups) {
      if (best == nullptr || g.history_rows > best->history_rows ||
          (g.history_rows == best->history_rows && g.added > best->added)) {
        best = &g;
      }
    }
    if (best != nullptr) site_.main_group = best->id;
  }

  CrmExport crm_;
  ExportProblems* problems_;
  LinkedSite site_;
  std::map<std::int64_t, std::size_t> by_id_;
  std::map<std::string, std::set<std::size_t>> by_email_, by_name_;
  std::map<std::string, std::int64_t> group_ids_;
  std::vector<std::set<std::int64_t>> listed_;  // by contact index: groups Group(s) lists
  // (contact, group) -> index in crm_.history of its latest row
  std::map<std::pair<std::int64_t, std::int64_t>, std::size_t> latest_;
};

}  // namespace

LinkedSite link_civicrm(CrmExport crm, ExportProblems* problems) {
  return Linker(std::move(crm), problems).run();
}

}  // namespace concord::sandbox::exports
