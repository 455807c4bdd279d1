#include "concord/backup.h"

#include <cerrno>
#include <cstring>
#include <memory>
#include <system_error>

#include "concord/civicrm_client.h"
#include "concord/json_text.h"
#include "concord/record.h"
#include "store/private_file.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

// Appends `s` as a CSV cell.
void append_csv_cell(std::string* out, std::string_view s) {
  const bool quote = s.find_first_of(",\"\r\n") != std::string_view::npos;
  // Backups are opened in spreadsheets: a cell starting like a formula is defused.
  const bool formula = !s.empty() && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
  if (quote) out->push_back('"');
  if (formula) out->push_back('\'');
  for (char c : s) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  if (quote) out->push_back('"');
}

std::string time_cell(Micros t) {
  return t == kNoTime ? "" : format_iso8601(t);
}

// Writes one side's snapshot as CSV and JSON (an array, one member per line), each file 0600
// (private_file.h): a backup names people.
class SideWriter {
 public:
  static Result<std::unique_ptr<SideWriter>> create(const fs::path& dir, std::string_view side) {
    Result<std::unique_ptr<PrivateFile>> csv =
        PrivateFile::create(dir / (std::string(side) + ".csv"));
    if (!csv) return csv.status();
    Result<std::unique_ptr<PrivateFile>> json =
        PrivateFile::create(dir / (std::string(side) + ".json"));
    if (!json) return json.status();
    return std::unique_ptr<SideWriter>(new SideWriter(std::move(*csv), std::move(*json)));
  }

  void header(const std::vector<std::string>& cols) {
    std::ostream& csv = csv_->out();
    for (std::size_t i = 0; i < cols.size(); ++i)
      csv << (i ? "," : "") << cols[i];
    csv << "\r\n";
  }

  // `record`: the member's JSON object, as text. (Each line is built whole and written at once:
  // a backup writes every member of both sides.)
  void row(std::initializer_list<std::string_view> cells, std::string_view record) {
    line_.clear();
    bool first = true;
    for (std::string_view cell : cells) {
      if (!first) line_.push_back(',');
      first = false;
      append_csv_cell(&line_, cell);
    }
    line_ += "\r\n";
    csv_->out().write(line_.data(), static_cast<std::streamsize>(line_.size()));
    if (count_ > 0) json_->out().write(",\n", 2);
    json_->out().write(record.data(), static_cast<std::streamsize>(record.size()));
    ++count_;
  }

  // Ends the JSON array and syncs both files to disk.
  Status close() {
    json_->out() << "\n]\n";
    Status csv = csv_->close();
    Status json = json_->close();
    return !csv ? csv : json;
  }

  std::uint64_t count() const { return count_; }

 private:
  SideWriter(std::unique_ptr<PrivateFile> csv, std::unique_ptr<PrivateFile> json)
      : csv_(std::move(csv)), json_(std::move(json)) {
    json_->out() << "[\n";
  }

  std::unique_ptr<PrivateFile> csv_, json_;
  std::uint64_t count_ = 0;
  std::string line_;  // the CSV line being built
};

Status backup_mailchimp(BackupSource& source, SideWriter& w) {
  w.header({"email", "status", "status_changed_at", "unsubscribe_origin", "last_changed",
            "timestamp_opt", "unsubscribe_reason", "merge_fields"});
  Cursor& c = source.mailchimp();
  MailchimpBody member;  // (reused: its strings keep their room from one member to the next)
  for (c.seek_to_first(); c.valid(); c.next()) {
    SnapshotView v;
    if (Status s = decode_snapshot(c.value(), &v); !s) return s;
    MailchimpState st;
    if (Status s = mailchimp_state_of(v.header, &st); !s) return s;
    if (Status s = decode_mailchimp_body(v.body, &member, MergeFields::kTextOnly); !s) {
      return s.with_context("Mailchimp member " + std::string(v.email));
    }
    const char* origin = st.unsubscribe_origin == UnsubscribeOrigin::kSelf    ? "self"
                         : st.unsubscribe_origin == UnsubscribeOrigin::kAdmin ? "admin"
                                                                              : "";
    // The stored body goes into the JSON backup as it is (merge fields of every type included):
    // it is JSON concord wrote, and decoded above.
    const std::string changed_at = time_cell(st.changed_at);
    JsonText record;
    record.begin_object()
        .key("email")
        .string(v.email)
        .key("record")
        .raw(v.body)
        .key("status")
        .string(mailchimp_status_name(st.status))
        .key("status_changed_at")
        .string(changed_at)
        .end_object();
    w.row({v.email, mailchimp_status_name(st.status), changed_at, origin, member.last_changed,
           member.timestamp_opt, member.unsubscribe_reason,
           member.merge_fields_json.empty() ? std::string_view("{}")
                                            : std::string_view(member.merge_fields_json)},
          record.str());
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

Status backup_crm(BackupSource& source, SideWriter& w) {
  w.header({"email", "contact_id", "first_name", "last_name", "group_status", "group_changed_at",
            "flags", "duplicate_contact_ids"});
  Cursor& c = source.crm();
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
    JsonText record;
    record.begin_object()
        .key("email")
        .string(v.email)
        .key("flags")
        .string(crm_flags(st))
        .key("group_changed_at")
        .string(time_cell(st.changed_at))
        .key("group_status")
        .string(crm_status_name(st.status))
        .key("record")
        .raw(v.body)
        .end_object();
    const std::string id = std::to_string(r.contact_id), changed_at = time_cell(st.changed_at),
                      flags = crm_flags(st);
    w.row({v.email, id, r.first_name, r.last_name, crm_status_name(st.status), changed_at, flags,
           dups},
          record.str());
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
  BackupSource source(store, pair);
  return write_backup(source, parent, sync, now);
}

Result<BackupResult> write_backup(BackupSource& source, const fs::path& parent,
                                  std::string_view sync, Micros now) {
  // The parent may be a directory the user named: made if missing, never narrowed. The backup's
  // own directory is 0700 and its files 0600.
  if (Status s = make_private_dir(parent, ExistingDir::kKeep); !s) return s;
  BackupResult res;
  res.dir = parent / (std::string(sync) + "-" + stamp(now));
  for (int n = 2; fs::exists(res.dir); ++n) {
    res.dir = parent / (std::string(sync) + "-" + stamp(now) + "-" + std::to_string(n));
  }
  const fs::path tmp = res.dir.string() + ".partial";
  std::error_code ec;
  fs::remove_all(tmp, ec);
  if (ec) return Status::io_error("cannot remove " + tmp.string() + ": " + ec.message());
  if (Status s = make_private_dir(tmp); !s) return s;
  struct Part {
    const char* side;
    Status (*write)(BackupSource&, SideWriter&);
    std::uint64_t* count;
  };
  for (const Part& part : {Part{"mailchimp", backup_mailchimp, &res.mailchimp_members},
                           Part{"crm", backup_crm, &res.crm_members}}) {
    Result<std::unique_ptr<SideWriter>> w = SideWriter::create(tmp, part.side);
    if (!w) return w.status();
    if (Status s = part.write(source, **w); !s) return s;
    if (Status s = (*w)->close(); !s) return s;
    *part.count = (*w)->count();
  }
  // The files and their names are on disk before the directory takes its final name, and that
  // name is on disk before the caller records the backup as taken: a crash leaves a .partial
  // directory (made again next time) or a whole backup, never a recorded backup that is not.
  if (Status s = sync_dir(tmp); !s) return s;
  if (::rename(tmp.c_str(), res.dir.c_str()) != 0) {
    return Status::io_error("cannot rename " + tmp.string() + " to " + res.dir.string() + ": " +
                            std::strerror(errno));
  }
  if (Status s = sync_dir(parent); !s) return s;
  return res;
}

}  // namespace concord
