#include "cli/plan_listing.h"

#include "concord/json_text.h"

namespace concord::cli {
namespace {

Conflict shown_class(const ReportRow& r) {
  return r.conflict == Conflict::kNone && r.decision.duplicate ? Conflict::kDuplicate : r.conflict;
}

// One spooled line: an element of the JSON list, without a trailing comma.
// (Written with JsonText, keys in nlohmann's sorted order as the lists always had them: a
// migration spools every operation, and building a json object for each was a tenth of its diff
// pass.)
void spool(std::FILE* f, JsonText& j, bool* failed) {
  std::string line = j.take();
  line.push_back('\n');
  if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) *failed = true;
}

}  // namespace

void PlanListing::FileCloser::operator()(std::FILE* f) const {
  if (f != nullptr) std::fclose(f);
}

PlanListing::PlanListing(std::size_t keep, bool spool) : keep_(keep) {
  if (spool) {
    ops_spool_.reset(std::tmpfile());
    rows_spool_.reset(std::tmpfile());
    spool_failed_ = !ops_spool_ || !rows_spool_;
  }
}

PlanListing::~PlanListing() = default;

void PlanListing::operation(Operation&& op) {
  ++operations_;
  if (ops_spool_) {
    JsonText j;
    j.begin_object()
        .key("action")
        .string(op_kind_name(op.kind))
        .key("email")
        .string(op.email)
        .key("reason")
        .string(reason_name(op.reason))
        .key("side")
        .string(side_name(side_of(op.kind)))
        .end_object();
    spool(ops_spool_.get(), j, &spool_failed_);
  }
  if (kept_ops_.size() < keep_) kept_ops_.push_back(std::move(op));
}

void PlanListing::report(ReportRow&& row) {
  ++report_rows_;
  if (rows_spool_) {
    JsonText j;
    j.begin_object()
        .key("class")
        .string(conflict_name(shown_class(row)))
        .key("email")
        .string(row.email)
        .key("reason")
        .string(row.reason)
        .end_object();
    spool(rows_spool_.get(), j, &spool_failed_);
  }
  if (kept_rows_.size() < keep_) kept_rows_.push_back(std::move(row));
}

void PlanListing::print_operations(std::FILE* out) const {
  for (const Operation& op : kept_ops_) {
    std::fprintf(out, "  %-9s %-26s %-32s %s\n", std::string(side_name(side_of(op.kind))).c_str(),
                 std::string(op_kind_name(op.kind)).c_str(), op.email.c_str(),
                 std::string(reason_name(op.reason)).c_str());
  }
  if (operations_ > kept_ops_.size()) {
    std::fprintf(out, "  … and %llu more (--json lists them all)\n",
                 static_cast<unsigned long long>(operations_ - kept_ops_.size()));
  }
}

void PlanListing::print_report_rows(std::FILE* out) const {
  for (const ReportRow& r : kept_rows_) {
    std::fprintf(out, "  %-14s %-32s %s\n", std::string(conflict_name(shown_class(r))).c_str(),
                 r.email.c_str(), r.reason.c_str());
  }
  if (report_rows_ > kept_rows_.size()) {
    std::fprintf(out, "  … and %llu more (see `concord report`)\n",
                 static_cast<unsigned long long>(report_rows_ - kept_rows_.size()));
  }
}

Status PlanListing::copy_list(std::FILE* from, std::uint64_t n, std::FILE* out) {
  std::fputs("[", out);
  if (n > 0) {
    if (std::fflush(from) != 0 || std::fseek(from, 0, SEEK_SET) != 0) {
      return Status::io_error("reading back the spooled plan");
    }
    char buf[1 << 16];
    bool first = true;
    std::string line;
    while (std::fgets(buf, sizeof buf, from) != nullptr) {
      line += buf;
      if (line.empty() || line.back() != '\n') continue;  // a line longer than the buffer
      line.pop_back();
      std::fputs(first ? "\n    " : ",\n    ", out);
      std::fwrite(line.data(), 1, line.size(), out);
      first = false;
      line.clear();
    }
    if (std::ferror(from)) return Status::io_error("reading back the spooled plan");
    std::fputs("\n  ", out);
  }
  std::fputs("]", out);
  return Status::ok();
}

Status PlanListing::write_json_lists(std::FILE* out) {
  if (spool_failed_ || !ops_spool_ || !rows_spool_) {
    return Status::io_error("cannot spool the plan to a temporary file");
  }
  std::fputs(",\n  \"operations\": ", out);
  if (Status s = copy_list(ops_spool_.get(), operations_, out); !s) return s;
  std::fputs(",\n  \"report\": ", out);
  return copy_list(rows_spool_.get(), report_rows_, out);
}

void print_counts(const PlanCounts& c, std::FILE* out) {
  const std::pair<const char*, std::uint64_t> outcomes[] = {
      {"stays subscribed", c.unchanged_in},
      {"removed from the CRM group", c.remove_from_crm},
      {"unsubscribed in Mailchimp", c.unsubscribe_in_mailchimp},
      {"added to Mailchimp", c.add_to_mailchimp},
      {"added to the CRM group", c.add_to_crm + c.create_crm_contact},
      {"  of which new CRM contacts", c.create_crm_contact},
      {"sent a confirmation (pending)", c.pending_in_mailchimp},
      {"archived in Mailchimp", c.archive_in_mailchimp},
      {"CRM email put on hold", c.hold_crm_email},
      {"CRM email hold lifted", c.release_crm_hold},
      {"fields updated in Mailchimp", c.update_mailchimp_fields},
      {"fields updated in the CRM", c.update_crm_fields},
      {"address changed in Mailchimp", c.change_email_in_mailchimp},
      {"address changed in the CRM", c.change_email_in_crm},
      {"tagged in Mailchimp", c.add_tag_in_mailchimp},
      {"tag taken off in Mailchimp", c.remove_tag_in_mailchimp},
      {"interest set in Mailchimp", c.add_interest_in_mailchimp},
      {"interest cleared in Mailchimp", c.remove_interest_in_mailchimp},
      {"unchanged", c.unchanged},
      {"report rows", c.report_rows},
  };
  for (const auto& [label, n] : outcomes) {
    std::fprintf(out, "  %-34s %8llu\n", label, static_cast<unsigned long long>(n));
  }
}

}  // namespace concord::cli
