#include "concord/backup.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <system_error>

#include "concord/civicrm_client.h"
#include "concord/record.h"

namespace concord {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string csv_cell(std::string_view s) {
  bool quote = s.find_first_of(",\"\r\n") != std::string_view::npos;
  // Backups are opened in spreadsheets: a cell starting like a formula is defused.
  const bool formula = !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
  std::string out;
  if (formula) out += '\'';
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return quote ? "\"" + out + "\"" : out;
}

std::string time_cell(Micros t) {
  return t == kNoTime ? "" : format_iso8601(t);
}

// Writes one side's snapshot as CSV and JSON (an array, one member per line).
class SideWriter {
 public:
  SideWriter(const fs::path& dir, std::string_view side)
      : csv_path_(dir / (std::string(side) + ".csv")),
        json_path_(dir / (std::string(side) + ".json")),
        csv_(csv_path_),
        json_(json_path_) {
    json_ << "[\n";
  }

  void header(const std::vector<std::string>& cols) {
    for (std::size_t i = 0; i < cols.size(); ++i)
      csv_ << (i ? "," : "") << cols[i];
    csv_ << "\r\n";
  }

  void row(const std::vector<std::string>& cells, const json& record) {
    for (std::size_t i = 0; i < cells.size(); ++i)
      csv_ << (i ? "," : "") << csv_cell(cells[i]);
    csv_ << "\r\n";
    json_ << (count_ ? ",\n" : "") << record.dump(-1, ' ', false, json::error_handler_t::replace);
    ++count_;
  }

  Status close() {
    json_ << "\n]\n";
    csv_.flush();
    json_.flush();
    if (!csv_) return Status::io_error("cannot write " + csv_path_.string());
    if (!json_) return Status::io_error("cannot write " + json_path_.string());
    return Status::ok();
  }

  std::uint64_t count() const { return count_; }

 private:
  fs::path csv_path_, json_path_;
  std::ofstream csv_, json_;
  std::uint64_t count_ = 0;
};

Status backup_mailchimp(Store& store, const PairHandle& pair, SideWriter& w) {
  w.header({"email", "status", "status_changed_at", "unsubscribe_origin", "last_changed",
            "timestamp_opt", "unsubscribe_reason", "merge_fields"});
  Cursor c = store.scan(pair, Family::kMailchimp);
  for (c.seek_to_first(); c.valid(); c.next()) {
    SnapshotView v;
    if (Status s = decode_snapshot(c.value(), &v); !s) return s;
    MailchimpState st;
    if (Status s = mailchimp_state_of(v.header, &st); !s) return s;
    MailchimpBody member;
    if (Status s = decode_mailchimp_body(v.body, &member); !s) {
      return s.with_context("Mailchimp member " + std::string(v.email));
    }
    // The stored body goes into the JSON backup as it is (merge fields of every type included).
    json body = json::parse(v.body, nullptr, false);
    const char* origin = st.unsubscribe_origin == UnsubscribeOrigin::kSelf    ? "self"
                         : st.unsubscribe_origin == UnsubscribeOrigin::kAdmin ? "admin"
                                                                              : "";
    json record = {{"email", v.email},
                   {"status", mailchimp_status_name(st.status)},
                   {"status_changed_at", time_cell(st.changed_at)},
                   {"record", body}};
    w.row({std::string(v.email), std::string(mailchimp_status_name(st.status)),
           time_cell(st.changed_at), origin, member.last_changed, member.timestamp_opt,
           member.unsubscribe_reason,
           body.contains("merge_fields") ? body["merge_fields"].dump() : "{}"},
          record);
  }
  return c.status();
}

std::string crm_flags(const CrmState& s) {
  std::string f;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!f.empty()) f += ' ';
    f += name;
  };
  add(!s.contact_known, "no-contact");
  add(s.trashed, "trashed");
  add(s.do_not_email, "do-not-email");
  add(s.is_opt_out, "opted-out");
  add(s.deceased, "deceased");
  add(s.email_on_hold && !s.hold_opt_out, "email-on-hold");
  add(s.hold_opt_out, "email-on-hold-opt-out");
  add(s.duplicate, "duplicate");
  return f;
}

Status backup_crm(Store& store, const PairHandle& pair, SideWriter& w) {
  w.header({"email", "contact_id", "first_name", "last_name", "group_status", "group_changed_at",
            "flags", "duplicate_contact_ids"});
  Cursor c = store.scan(pair, Family::kCrm);
  for (c.seek_to_first(); c.valid(); c.next()) {
    SnapshotView v;
    if (Status s = decode_snapshot(c.value(), &v); !s) return s;
    CrmState st;
    if (Status s = crm_state_of(v.header, &st); !s) return s;
    CrmBody r;
    if (Status s = decode_crm_body(v.body, &r); !s) {
      return s.with_context("CRM member " + std::string(v.email));
    }
    std::string dups;
    for (std::int64_t id : r.duplicates)
      dups += (dups.empty() ? "" : " ") + std::to_string(id);
    json record = {{"email", v.email},
                   {"group_status", crm_status_name(st.status)},
                   {"group_changed_at", time_cell(st.changed_at)},
                   {"flags", crm_flags(st)},
                   {"record", json::parse(v.body, nullptr, false)}};
    w.row({std::string(v.email), std::to_string(r.contact_id), r.first_name, r.last_name,
           std::string(crm_status_name(st.status)), time_cell(st.changed_at), crm_flags(st), dups},
          record);
  }
  return c.status();
}

// 20260105T120000Z
std::string stamp(Micros now) {
  std::string t = format_iso8601(now).substr(0, 19);  // 2026-01-05T12:00:00
  std::string out;
  for (char ch : t) {
    if (ch != ':' && ch != '-') out += ch;
  }
  return out + "Z";
}

}  // namespace

Result<BackupResult> write_backup(Store& store, const PairHandle& pair, const fs::path& parent,
                                  std::string_view sync, Micros now) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  if (ec) return Status::io_error("cannot create " + parent.string() + ": " + ec.message());
  BackupResult res;
  res.dir = parent / (std::string(sync) + "-" + stamp(now));
  for (int n = 2; fs::exists(res.dir); ++n) {
    res.dir = parent / (std::string(sync) + "-" + stamp(now) + "-" + std::to_string(n));
  }
  const fs::path tmp = res.dir.string() + ".partial";
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) return Status::io_error("cannot create " + tmp.string() + ": " + ec.message());
  {
    SideWriter mc(tmp, "mailchimp");
    if (Status s = backup_mailchimp(store, pair, mc); !s) return s;
    if (Status s = mc.close(); !s) return s;
    res.mailchimp_members = mc.count();
  }
  {
    SideWriter crm(tmp, "crm");
    if (Status s = backup_crm(store, pair, crm); !s) return s;
    if (Status s = crm.close(); !s) return s;
    res.crm_members = crm.count();
  }
  fs::rename(tmp, res.dir, ec);
  if (ec) return Status::io_error("cannot rename " + tmp.string() + ": " + ec.message());
  return res;
}

}  // namespace concord
