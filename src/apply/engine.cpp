#include "concord/engine.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <exception>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "apply/chunk_feed.h"
#include "apply/effects.h"
#include "apply/first_backup.h"
#include "apply/plan_passes.h"
#include "apply/report_writer.h"
#include "concord/backup.h"
#include "concord/diff.h"
#include "concord/member_fields.h"
#include "concord/meta_keys.h"
#include "concord/moves.h"
#include "concord/parallel.h"
#include "concord/parse.h"
#include "concord/record.h"
#include "concord/refusal.h"
#include "concord/report.h"
#include "concord/snapshot.h"
#include "core/fail_point.h"

namespace concord {
namespace {

// How far ahead of this machine's clock a watermark (a server's time) may be before it is taken
// for a bogus one: clocks of servers and this machine differ by seconds, not a day.
constexpr Micros kWatermarkAhead = 86400 * kMicrosPerSecond;

class Run {
 public:
  Run(SyncPair& p, const RunRequest& req) : p_(p), req_(req), log_(p.store, p.pair) {}

  Result<RunOutcome> go() {
    // A store that cannot write stops the run before anything is sent; after a full disk this
    // is also where the store notices that there is room again and reopens itself.
    if (Status s = p_.store.check_writable(); !s) return s;
    if (Status s = one_time_done(); !s) return s;
    Result<std::uint64_t> id = log_.next_run_id();
    if (!id) return id.status();
    RunRecord& r = out_.record;
    r.id = *id;
    report_.emplace(p_.store, p_.pair, r.id);
    r.sync = p_.config.name;
    r.command = req_.command;
    r.started_at = p_.clock.now();
    r.trust = std::string(trust_name(req_.trust));
    r.undoes = req_.undoes;
    if (Status s = undo_dead_single_pass(); !s) return s;
    if (Status s = log_.put_run(r, /*sync=*/true); !s) return s;

    if (Status s = prepare(); !s) return fail(s);
    if (Status s = plan(); !s) return fail(s);
    if (out_.guard.stop) {
      backup_.discard();
      r.state = RunState::kStoppedByGuard;
      r.notes.insert(r.notes.end(), out_.guard.reasons.begin(), out_.guard.reasons.end());
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

  // Stored values of some members, read for a chunk at once (nullopt: none stored).
  using StoredEntries = std::map<MemberKey, std::optional<std::string>>;
  // `key`'s value in `family`: from `read` when it holds it, else from the store.
  Result<std::optional<std::string>> stored_value(Family family, const MemberKey& key,
                                                  const StoredEntries* read) {
    if (read != nullptr) {
      if (auto it = read->find(key); it != read->end()) return it->second;
    }
    return p_.store.get(p_.pair, family, key.view());
  }

  // (The sides are fetched and written from several threads: one report at a time.)
  void progress(std::string phase, Side side, std::uint64_t done, std::uint64_t total) {
    if (!req_.progress) return;
    std::lock_guard<std::mutex> lock(progress_mu_);
    req_.progress(Progress{std::move(phase), side, done, total});
  }

  Result<RunOutcome> fail(const Status& s) {
    backup_.discard();
    out_.record.state = RunState::kFailed;
    out_.record.notes.push_back(s.to_string());
    out_.record.ended_at = p_.clock.now();
    out_.record.counts.report_rows = report_->rows();
    count_requests();
    (void)report_->flush();
    (void)log_.put_run(out_.record, true);
    return s;
  }

  // A one-time mirror that was mirrored once is not sent again (a plan may still look).
  Status one_time_done() {
    // (An undo of its one run is what a one-time mirror may still need.)
    if (!one_time() || !req_.apply || req_.undoes != 0) return Status::ok();
    Result<std::optional<std::string>> done =
        p_.store.get(p_.pair, Family::kMeta, meta::kOneTimeDone);
    if (!done) return done.status();
    if (!done->has_value()) return Status::ok();
    return Status::failed_precondition(
        "sync \"" + p_.config.name + "\" is a one-time mirror and run " + **done +
        " mirrored it; it stays disabled (mode = \"dynamic\" keeps it up to date)");
  }
  bool one_time() const { return p_.config.one_way() && p_.config.mode == CohortMode::kOneTime; }

  Result<RunOutcome> finish() {
    RunRecord& r = out_.record;
    if (one_time() && req_.undoes == 0 &&
        (r.state == RunState::kDone || r.state == RunState::kDoneWithFailures)) {
      // Mirrored once: the pair is disabled (also on the status page) and stays so.
      Batch b;
      b.put(p_.pair, Family::kMeta, meta::kOneTimeDone, std::to_string(r.id));
      b.put(p_.pair, Family::kMeta, meta::kServeEnabled, "0");
      if (Status s = p_.store.write(b, /*sync=*/true); !s) return s;
      r.notes.push_back("a one-time mirror: done, and disabled from now on");
    }
    r.unsynced = unsynced_.size();
    r.counts.report_rows = report_->rows();
    r.ended_at = p_.clock.now();
    count_requests();
    if (Status s = report_->flush(); !s) return s;
    if (Status s = log_.put_run(r, /*sync=*/true); !s) return s;
    // Retention, after every run: years of runs do not pile up journals and reports. A failure
    // here does not undo the run; its record says so, and the next run tries again.
    Result<RunLog::Pruned> pruned =
        log_.prune(p_.config.keep_runs, p_.config.keep_days, p_.clock.now());
    if (!pruned) {
      r.notes.push_back("pruning old runs failed: " + pruned.status().to_string());
      if (Status s = log_.put_run(r, /*sync=*/true); !s) return s;
    }
    return std::move(out_);
  }

  void count_requests() {
    out_.record.mailchimp_requests = p_.target.requests() - mc_requests_at_start_;
    out_.record.crm_requests = p_.people.requests() - crm_requests_at_start_;
  }

  // ---- 1-2: fetch, resume ----------------------------------------------------------------------

  Status prepare() {
    mc_requests_at_start_ = p_.target.requests();
    crm_requests_at_start_ = p_.people.requests();
    if (Status s = p_.target.resolve(); !s) return s;
    if (Status s = p_.people.resolve(); !s) return s;
    if (Status s = plan_fields(); !s) return s;
    if (!req_.refresh.empty() || !req_.refresh_people.empty()) {
      std::vector<std::string> emails = req_.refresh;
      if (!req_.refresh_people.empty()) {
        progress("fetch", Side::kCrm, 0, req_.refresh_people.size());
        Result<FetchStats> f =
            p_.people.refresh_people(req_.refresh_people, p_.store, p_.pair, &emails);
        if (!f) return f.status().with_context("reading people of the people side again");
        progress("fetch", Side::kCrm, f->members, f->members);
      }
      std::sort(emails.begin(), emails.end());
      emails.erase(std::unique(emails.begin(), emails.end()), emails.end());
      for (SyncSide* side : {&p_.target, &p_.people}) {
        if (emails.empty()) break;
        progress("fetch", side->side(), 0, emails.size());
        Result<FetchStats> f = side->refresh(emails, p_.store, p_.pair);
        if (!f) {
          return f.status().with_context("reading members of " +
                                         std::string(side_name(side->side())) + " again");
        }
        progress("fetch", side->side(), emails.size(), emails.size());
      }
      if (Status s = settle(/*backup_beside=*/false); !s) return s;
      return resume();
    }
    Result<bool> full = want_full_fetch();
    if (!full) return full.status();
    // A new mapping's CRM fields were never read: every contact is read with them.
    if (fields_.recheck_all) *full = true;
    out_.record.full_fetch = *full;
    // Both sides are read at once, each within its own connections (neither read depends on the
    // other: settle() below joins them), with running counts of the members read, page by page.
    const std::array<SyncSide*, 2> sides = {&p_.target, &p_.people};
    std::array<std::optional<Result<FetchStats>>, 2> fetched;
    run_in_parallel(sides.size(), sides.size(), [&](std::size_t i) {
      FetchProgress pages(
          [this](Side side, std::uint64_t read) { progress("fetch", side, read, 0); });
      progress("fetch", sides[i]->side(), 0, 0);
      fetched[i] = sides[i]->fetch(*full, p_.store, p_.pair);
    });
    for (std::size_t i = 0; i < sides.size(); ++i) {
      SyncSide* side = sides[i];
      const Result<FetchStats>& f = *fetched[i];
      if (!f) return f.status().with_context("fetching " + std::string(side_name(side->side())));
      if (f->counts_differed) {
        out_.record.notes.push_back(std::string(side_name(side->side())) +
                                    "'s member counts differed from the snapshot (members deleted "
                                    "permanently): read in full");
      }
      progress("fetch", side->side(), f->members, f->members);
    }
    if (Status s = settle(/*backup_beside=*/true); !s) return s;
    if (*full) {
      if (Status s = note_unknown_crm_times(); !s) return s;
      const Micros now = p_.clock.now();
      if (Status s =
              p_.store.put(p_.pair, Family::kMeta, meta::kLastFullFetch, std::to_string(now));
          !s) {
        return s;
      }
    }
    return resume();
  }

  // Once both sides are read, before resume() and the diff read the snapshots: a CRM contact is
  // keyed by the address Mailchimp has, whichever side was read first; and contacts outside the
  // group that Mailchimp subscribers are, are known (the plan adds them rather than creating
  // them). A run that will write the pair's first backup writes it here, from the snapshots as
  // the fetch left them, while the look-up waits on the CRM (the backup is CPU, the look-up
  // requests); apply() records it once the guards let the run go on.
  Status settle(bool backup_beside) {
    if (Status s = settle_representatives(p_.store, p_.pair).status(); !s) return s;
    std::optional<BackupSource> source;
    if (backup_beside && req_.apply) {
      Result<bool> due = backup_.due();
      if (!due) return due.status();
      // (Opened before the look-up begins: its contacts are not in the backup.)
      if (*due) source.emplace(p_.store, p_.pair);
    }
    std::array<Status, 2> done;
    run_in_parallel(source ? 2 : 1, 2, [&](std::size_t i) {
      if (i == 1) {
        progress("backup", Side::kMailchimp, 0, 0);
        done[1] = backup_.write(&*source, p_.clock.now());
        return;
      }
      Result<FetchStats> outside = p_.people.look_up_outside(p_.store, p_.pair);
      done[0] = outside.status().with_context("looking up contacts outside the group");
    });
    return !done[0] ? done[0] : done[1];
  }

  // The sync's field mapping against the audience's merge fields. A merge tag the audience does not
  // have stops the run before anything is read (`concord check` says the same).
  Status plan_fields() {
    // A Mautic pair must give every required merge field a value, as Mautic's plugin asks (a new
    // member without one is refused by Mailchimp): a missing mapping stops the run up front.
    const bool required_mapped = p_.config.people == PeopleKind::kMautic;
    if (p_.config.fields.empty() && !required_mapped) return Status::ok();
    Result<std::vector<MergeFieldSpec>> merge = p_.target.merge_fields();
    if (!merge) return merge.status().with_context("reading the audience's merge fields");
    if (required_mapped) {
      for (const MergeFieldSpec& m : *merge) {
        if (!m.required || m.tag == "EMAIL") continue;
        const bool mapped = std::any_of(p_.config.fields.begin(), p_.config.fields.end(),
                                        [&](const FieldMapping& f) { return f.tag == m.tag; });
        if (!mapped) {
          return Status::invalid("fields: the audience's merge field " + m.tag +
                                 " is required: map it to a Mautic field (fields = { " + m.tag +
                                 " = \"…\" })");
        }
      }
      if (p_.config.fields.empty()) return Status::ok();
    }
    std::string signature;
    for (const FieldMapping& f : p_.config.fields) {
      FieldSpec spec{f.tag, f.crm_field, f.direction, {}};
      auto it = std::find_if(merge->begin(), merge->end(),
                             [&](const MergeFieldSpec& m) { return m.tag == f.tag; });
      if (it == merge->end()) {
        return Status::invalid("fields: the audience has no merge field " + f.tag +
                               " (concord check lists the merge fields it has)");
      }
      spec.merge = *it;
      signature += f.tag + "=" + f.crm_field + "/" + std::to_string(static_cast<int>(f.direction)) +
                   "/" + std::string(merge_type_name(it->type)) + ";";
      fields_.specs.push_back(std::move(spec));
    }
    Result<std::optional<std::string>> stored =
        p_.store.get(p_.pair, Family::kMeta, meta::kFieldMapping);
    if (!stored) return stored.status();
    fields_.recheck_all = !stored->has_value() || **stored != signature;
    field_signature_ = std::move(signature);
    // What `explain` decides fields with, offline.
    return p_.store.put(p_.pair, Family::kMeta, meta::kFieldSpecs,
                        encode_field_specs(fields_.specs));
  }

  Result<bool> want_full_fetch() {
    if (req_.full_fetch) return true;
    Result<std::optional<std::string>> last =
        p_.store.get(p_.pair, Family::kMeta, meta::kLastFullFetch);
    if (!last) return last.status();
    if (!last->has_value()) return true;
    Result<std::int64_t> at = parse_int64(**last);
    if (!at) return true;  // unreadable: a full fetch writes it afresh
    const Micros now = p_.clock.now();
    // A time ahead of now (the clock stepped back) would put the full fetch off until the clock
    // caught up: read everything now, which writes the time afresh.
    if (*at > now) return true;
    // So would a watermark far ahead of now (a bogus Date header): an incremental read from it
    // would miss every change until then. A full read sets the watermarks afresh.
    Cursor c = p_.store.scan(p_.pair, Family::kMeta);
    for (std::string_view prefix : {meta::kMailchimpWatermarkPrefix, meta::kCivicrmWatermarkPrefix,
                                    meta::kSourceWatermarkPrefix}) {
      for (c.seek(prefix); c.valid() && c.key().starts_with(prefix); c.next()) {
        Result<std::int64_t> w = parse_int64(c.value());
        if (w && *w > now + kWatermarkAhead) return true;
      }
    }
    if (Status s = c.status(); !s) return s;
    return now - *at >= req_.full_fetch_every;
  }

  // Group members without a change time (memberships with no history row: an import that wrote
  // none, or a rehearsal from a contact export without the history download) are decided as if
  // they never changed: a dated change on Mailchimp's side wins. The run says so, with how many.
  Status note_unknown_crm_times() {
    if (p_.config.one_way()) return Status::ok();
    std::uint64_t unknown = 0, in = 0;
    Cursor c = p_.store.scan(p_.pair, Family::kCrm);
    for (c.seek_to_first(); c.valid(); c.next()) {
      SnapshotHeader h;
      if (Status s = decode_snapshot_header(c.value(), &h); !s) return s;
      if (h.membership != Membership::kIn) continue;
      ++in;
      unknown += h.changed_at == kNoTime;
    }
    if (Status s = c.status(); !s) return s;
    if (unknown == 0) return Status::ok();
    out_.record.notes.push_back(
        "the CRM's change times are unknown for " + std::to_string(unknown) + " of " +
        std::to_string(in) +
        " group members (memberships with no subscription history row): they are decided as if "
        "they never changed, so a dated change in Mailchimp wins over them");
    return Status::ok();
  }

  // Resolves what a dead run left in the journal against the fresh snapshots, a batch at a time.
  Status resume() {
    Result<std::uint64_t> open = log_.open_count();
    if (!open) return open.status();
    // Once this resume is done, no run before this one has an open entry: later scans skip them.
    if (*open == 0) return log_.mark_resolved_before(out_.record.id);
    progress("resume", Side::kMailchimp, 0, *open);
    std::set<std::uint64_t> runs;
    std::uint64_t done = 0;
    Status scanned = log_.for_each_open(kJournalBatch, [&](std::vector<JournalEntry>& batch) {
      Batch b;
      std::map<MemberKey, BaseRecord> bases;  // bases written in this batch
      for (JournalEntry& e : batch) {
        runs.insert(e.run_id);
        Result<std::optional<SnapshotHeader>> h =
            header_of(p_.store, p_.pair, side_of(e.op.kind), e.op.key);
        if (!h) return h.status();
        bool took_effect = h->has_value() && effect_visible(e.op.kind, **h);
        if (took_effect && !e.op.fields.empty()) {
          // Fields written along (or alone): the fresh record has their values.
          Result<std::optional<std::string>> v =
              p_.store.get(p_.pair, snapshot_family(side_of(e.op.kind)), e.op.key.view());
          if (!v) return v.status();
          took_effect =
              v->has_value() && fields_visible(fields_.specs, e.op, side_of(e.op.kind), **v);
        }
        e.state = took_effect ? JournalState::kVerified : JournalState::kSuperseded;
        e.at = p_.clock.now();
        if (took_effect) e.written_at = (*h)->changed_at;
        e.resolved_by = out_.record.id;
        b.put(p_.pair, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
        if (took_effect) {
          if (Status s = store_base(e.op, side_of(e.op.kind), (*h)->changed_at, bases, b); !s) {
            return s;
          }
        }
        if (took_effect) ++out_.record.applied;
      }
      done += batch.size();
      progress("resume", Side::kMailchimp, done, *open);
      return p_.store.write(b, /*sync=*/true);
    });
    if (!scanned) return scanned;
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
    return log_.mark_resolved_before(out_.record.id);
  }

  // ---- 3: plan, guards -------------------------------------------------------------------------

  // The first pass: counts, guards and the report. Nothing is written to either side or to the
  // base, so a plan or a guard stop changes nothing.
  SyncOptions options() const {
    SyncOptions o = p_.config.options;
    o.trust = req_.trust;
    o.allow_mass_removal = req_.allow_mass_removal;
    o.allow_mass_addition = req_.allow_mass_addition;
    return o;
  }

  // The diff, or the request's own planner (an undo).
  Result<DiffResult> plan_into(PlanSink& sink, const SyncOptions& o) {
    if (req_.planner) return req_.planner(sink, out_.record.id);
    return diff(p_.store, p_.pair, o, sink, &fields_);
  }

  Status plan() {
    const SyncOptions o = options();
    PlanPass pass(*report_, req_.observer);
    progress(req_.undoes != 0 ? "undo" : "plan", Side::kMailchimp, 0, 0);
    // A run that applies over an empty base (a first sync: the large one) reports and journals
    // in one pass of the diff, not two: should a guard stop it, what it journaled and the bases
    // it wrote are removed, leaving the base as empty as it was. Its mark (synced before the pass
    // writes anything) tells the next run to remove them should this one die before applying.
    Result<bool> single = single_pass_allowed();
    if (!single) return single.status();
    // The addition guard spares the pair's first sync, even resumed after a kill (its base is
    // partly written by then, so an empty base would not say it).
    Result<bool> synced_before = log_.completed_before(out_.record.id);
    if (!synced_before) return synced_before.status();
    // No guard can stop it: the pass journals while the apply sends (apply()).
    streams_ = *single && !guards_may_stop(o, /*first_run=*/!*synced_before, /*base_empty=*/true);
    if (streams_) return Status::ok();
    std::optional<JournalPass> journal;
    if (*single) {
      if (Status s = mark_single_pass(p_.store, p_.pair, out_.record.id); !s) return s;
      journal.emplace(p_.store, p_.pair, out_.record.id, p_.clock.now());
    }
    TeeSink both(pass, journal ? &*journal : nullptr);
    Result<DiffResult> d = plan_into(both, o);
    if (!d) return d.status();
    if (Status s = pass.status(); !s) return s;
    out_.record.first_run = d->first_run;
    out_.record.counts = d->counts;
    out_.guard = check_guards(d->counts, o, /*first_run=*/!*synced_before);
    if (out_.guard.stop) {
      for (const std::string& reason : out_.guard.reasons) {
        ReportEntry e;
        e.conflict = "guard";
        e.decision = "run stopped before applying anything";
        e.reason = reason;
        if (Status s = report_->add(nullptr, std::move(e)); !s) return s;
      }
      return journal ? undo_single_pass(p_.store, p_.pair, out_.record.id) : Status::ok();
    }
    if (!journal) return Status::ok();
    if (Status s = journaled(*journal, *d); !s) return s;
    fail_point("single-pass");
    // The journal is on disk (journaled() ends in a synced write): the run goes on to apply.
    return end_single_pass(p_.store, p_.pair);
  }

  // Whether plan() may journal in its pass: the run applies, over an empty base, with the diff
  // (not an undo's planner).
  Result<bool> single_pass_allowed() {
    if (!req_.apply || req_.planner) return false;
    return base_is_empty(p_.store, p_.pair);
  }

  // At a run's start: a single pass that did not get to apply is undone (see plan()).
  Status undo_dead_single_pass() {
    Result<std::optional<std::string>> note =
        undo_dead_single_pass_of(p_.store, p_.pair, log_, out_.record.id);
    if (!note) return note.status();
    if (*note) out_.record.notes.push_back(std::move(**note));
    return Status::ok();
  }

  // ---- 4-5: backup, journal, apply -------------------------------------------------------------

  Status apply() {
    if (streams_) return stream();
    // The first backup and the journal at once: the backup reads the snapshots, which the
    // journal's pass does not write, and nothing is sent before both are done (a backup that
    // fails leaves a journal of planned entries, which the next run resolves unsent).
    std::array<Status, 2> prepared;
    run_in_parallel(2, 2,
                    [&](std::size_t i) { prepared[i] = i == 0 ? first_backup() : journal_plan(); });
    for (const Status& s : prepared) {
      if (!s) return s;
    }
    return apply_sides(nullptr);
  }

  // A first sync that no guard can stop (plan() left the pass to this): one pass of the diff
  // counts, reports and journals, publishing each batch once synced; both sides send what it has
  // journaled meanwhile, from the moment the first backup is recorded. What the pass journals
  // after a side stopped stays planned (the next run resolves it unsent).
  Status stream() {
    JournalTail tail;
    std::array<Status, 2> done;
    run_in_parallel(2, 2, [&](std::size_t i) {
      if (i == 0) {
        done[0] = stream_plan(tail);
        return;
      }
      done[1] = first_backup();
      if (done[1]) done[1] = apply_sides(&tail);
    });
    return !done[0] ? done[0] : done[1];
  }

  Status stream_plan(JournalTail& tail) {
    JournalPass journal(p_.store, p_.pair, out_.record.id, p_.clock.now(), &tail);
    // Whatever ends the pass (an exception too) lets the readers finish.
    struct Close {
      JournalTail& tail;
      const JournalPass& journal;
      Status status = Status::internal("the journal's pass ended");
      ~Close() { tail.close(status, journal.entries()); }
    } close{tail, journal};
    const SyncOptions o = options();
    PlanPass pass(*report_, req_.observer);
    TeeSink both(pass, &journal);
    Result<DiffResult> d = plan_into(both, o);
    Status planned = !d ? d.status() : pass.status();
    if (!planned) {
      count_planned(journal);  // (the run's counts of what was sent stay whole)
      return close.status = planned;
    }
    close.status = journaled(journal, *d);
    if (!close.status) return close.status;
    out_.record.first_run = d->first_run;
    out_.record.counts = d->counts;
    return Status::ok();
  }

  // Both sides' journal entries of this run sent at once; `tail`, when given, says how far a pass
  // still running has journaled.
  Status apply_sides(JournalTail* tail) {
    // Both sides at once: a run's writes on one side never wait on the other's (each was decided
    // from both snapshots as they were read), and each side keeps its own connections busy.
    // Mailchimp's members added are read back as soon as its side is done.
    constexpr std::array<Side, 2> kSides = {Side::kMailchimp, Side::kCrm};
    std::array<Status, 2> sent;
    run_in_parallel(kSides.size(), kSides.size(), [&](std::size_t i) {
      // A side's adapter that throws (a test's fake standing for a killed process) stops the
      // other side too, as a kill would.
      try {
        sent[i] = apply_side(kSides[i], tail);
        if (sent[i] && kSides[i] == Side::kMailchimp && !stopped() && !aborted_) {
          sent[i] = read_back_added();
        }
      } catch (...) {
        aborted_ = true;
        throw;
      }
      if (!sent[i]) aborted_ = true;
    });
    Status s = !sent[0] ? sent[0] : sent[1];
    for (const OpKindInfo& k : kOpKinds) {
      const std::size_t i = static_cast<std::size_t>(k.kind);
      for (std::size_t st = 0; st < results_[i].size(); ++st) {
        if (results_[i][st] == 0) continue;
        out_.operation_results[{std::string(k.name),
                                std::string(journal_state_name(static_cast<JournalState>(st)))}] =
            results_[i][st];
      }
    }
    return s;
  }

  // The first backup, recorded as taken before anything is sent (first_backup.h).
  Status first_backup() {
    Result<std::optional<std::filesystem::path>> dir = backup_.record(p_.clock.now());
    if (!dir) return dir.status();
    if (*dir) out_.backup = **dir;
    return Status::ok();
  }

  // The second pass: the same diff over the same snapshots (nothing has written them since the
  // first), now streaming agreements into the base and operations into the journal.
  Status journal_plan() {
    if (journaled_) return Status::ok();  // plan() journaled in its pass
    JournalPass pass(p_.store, p_.pair, out_.record.id, p_.clock.now());
    Result<DiffResult> d = plan_into(pass, options());
    if (!d) return d.status();
    return journaled(pass, *d);
  }

  // Once a pass has journaled the plan `d`: its last entries synced, the moves it settled
  // forgotten, the field mapping recorded, its counts kept.
  Status journaled(JournalPass& pass, const DiffResult& d) {
    count_planned(pass);
    if (Status s = pass.finish(); !s) return s;
    journaled_ = true;
    // Moves that need nothing more are forgotten, now that their bases moved.
    if (!d.settled_moves.empty()) {
      Batch b;
      for (const AddressMove& m : d.settled_moves)
        b.del(p_.pair, Family::kMeta, move_key(m.side, m.to()));
      if (Status s = p_.store.write(b); !s) return s;
    }
    // Every member's fields are now decided under this mapping (bases stored, writes journaled),
    // once the CRM was read in full with the mapped fields — by the diff, not an undo's planner.
    if (fields_.recheck_all && out_.record.full_fetch && !req_.planner) {
      if (Status s = p_.store.put(p_.pair, Family::kMeta, meta::kFieldMapping, field_signature_);
          !s) {
        return s;
      }
    }
    return Status::ok();
  }

  // Adds what `pass` journaled to the run's planned operations (added: a streamed run's apply
  // may have counted some of them sent already).
  void count_planned(const JournalPass& pass) {
    std::lock_guard<std::mutex> lock(record_mu_);
    for (const OpKindInfo& k : kOpKinds) {
      const std::size_t i = static_cast<std::size_t>(k.kind);
      results_[i][static_cast<std::size_t>(JournalState::kPlanned)] += pass.planned()[i];
    }
  }

  // Members this run added to Mailchimp are read back once its side is written (an incremental
  // read: the pages of what changed since this run's fetch), for Mailchimp's answer to an add does
  // not say the member's contact_id, and without it an address changed before the next run could
  // not be recognised as the same person (moves.h). A failure here is a note: the next run reads
  // them. (Mailchimp's counts are final once its side is done; the CRM's lanes may still run.)
  Status read_back_added() {
    std::uint64_t added = 0;
    for (OpKind k : {OpKind::kMailchimpSubscribe, OpKind::kMailchimpPending}) {
      added += results_[static_cast<std::size_t>(k)][static_cast<std::size_t>(JournalState::kDone)];
    }
    if (added == 0) return Status::ok();
    Result<FetchStats> f = p_.target.fetch(false, p_.store, p_.pair);
    if (!f) {
      std::lock_guard<std::mutex> lock(record_mu_);  // the CRM's writes may still be recorded
      out_.record.notes.push_back(
          "reading back the members added to Mailchimp failed (the next run "
          "reads them): " +
          f.status().to_string());
    }
    return Status::ok();
  }

  // Reads this run's journal back, one side's entries a chunk (batch_size()) at a time, and sends
  // the chunks, up to the side's concurrent_batches() at once while the next are read. A member's
  // entries on the side stay in one chunk, in journal order. Each chunk's outcomes are journaled
  // once it is answered (record_outcomes(), one chunk at a time across both sides).
  Status apply_side(Side side, JournalTail* tail) {
    SyncSide& s = side == Side::kMailchimp ? p_.target : p_.people;
    std::uint64_t total = 0;  // (streamed: unknown until the pass is over)
    std::unique_lock<std::mutex> lock(record_mu_);
    for (const OpKindInfo& k : kOpKinds) {
      if (k.side == side) {
        total += results_[static_cast<std::size_t>(k.kind)]
                         [static_cast<std::size_t>(JournalState::kPlanned)];
      }
    }
    lock.unlock();
    if (total == 0 && tail == nullptr) return Status::ok();
    const std::size_t lanes = std::max<std::size_t>(1, s.concurrent_batches());
    ChunkFeed feed(lanes);
    run_in_parallel(lanes + 1, lanes + 1, [&](std::size_t lane) {
      if (lane == 0) {
        // Whatever ends the reading (an exception too) lets the senders finish.
        struct Close {
          ChunkFeed& feed;
          ~Close() { feed.close(); }
        } close{feed};
        if (Status st = read_chunks(side, std::max<std::size_t>(1, s.batch_size()), feed, tail);
            !st) {
          feed.fail(st);
        }
        return;
      }
      // A sender that throws stops the reader and the other senders.
      struct FailOnThrow {
        ChunkFeed& feed;
        ~FailOnThrow() {
          if (std::uncaught_exceptions() > 0) feed.fail(Status::internal("a write lane ended"));
        }
      } guard{feed};
      while (std::optional<std::vector<JournalEntry>> chunk = feed.pop()) {
        if (stopped() || aborted_) continue;  // left planned: the next run resumes them
        if (Status st = send_chunk(side, s, *chunk, total); !st) feed.fail(st);
      }
    });
    return feed.status();
  }

  // This run's entries of `side`, in journal order, in chunks of about `step` into `feed`; with a
  // tail, as its pass writes them (read afresh past what was read each time it advances).
  Status read_chunks(Side side, std::size_t step, ChunkFeed& feed, JournalTail* tail) {
    std::vector<JournalEntry> chunk;
    std::uint32_t from = 0;
    for (;;) {
      JournalTail::Seen seen{std::numeric_limits<std::uint32_t>::max(), true};
      if (tail != nullptr) {
        seen = tail->wait_past(from);
        // A pass that failed fails the run: nothing more is sent.
        if (seen.over && !tail->status()) return Status::ok();
      }
      Cursor c = p_.store.scan(p_.pair, Family::kJournal);
      for (c.seek(journal_key(out_.record.id, from)); c.valid(); c.next()) {
        std::uint64_t run = 0;
        std::uint32_t seq = 0;
        if (!decode_journal_key(c.key(), &run, &seq) || run != out_.record.id) break;
        if (seq >= seen.end) break;
        Result<JournalEntry> e = decode_journal_entry(c.key(), c.value());
        if (!e) return e.status();
        if (side_of(e->op.kind) != side) continue;
        if (stopped() || aborted_) return Status::ok();
        if (chunk.size() >= step && e->op.key != chunk.back().op.key) {
          if (!feed.push(std::move(chunk))) return Status::ok();
          chunk = {};
        }
        chunk.push_back(std::move(*e));
        ++queued_[side == Side::kMailchimp ? 0 : 1];
      }
      if (Status st = c.status(); !st) return st;
      if (seen.over) break;
      from = seen.end;
    }
    if (!chunk.empty()) feed.push(std::move(chunk));
    return Status::ok();
  }

  // Sends one chunk and journals its outcomes.
  Status send_chunk(Side side, SyncSide& s, std::vector<JournalEntry>& chunk, std::uint64_t total) {
    StoredEntries entries;
    Result<std::vector<SideWrite>> writes = writes_for(side, chunk, &entries);
    if (!writes) return writes.status();
    fail_point("before-send");
    std::vector<SideOutcome> outcomes = s.apply(*writes);
    fail_point("after-send");
    outcomes.resize(chunk.size());
    std::lock_guard<std::mutex> lock(record_mu_);
    if (Status st = record_outcomes(side, chunk, outcomes, &entries); !st) return st;
    const std::size_t i = side == Side::kMailchimp ? 0 : 1;
    std::uint64_t& done = sent_[i];
    done += chunk.size();
    // (A streamed run's total grows as its pass journals.)
    progress("apply", side, done, std::max(total, queued_[i].load()));
    return Status::ok();
  }

  // The writes of a chunk, with what each needs from the snapshots (the contact's id; for a
  // Mailchimp field update, the member's status), read for the whole chunk at once. The fields
  // each write carries were decided by the diff and journaled with it. `*entries` gets the entries
  // read at the members' own addresses (remember_write() needs them again once the chunk is
  // answered: its side's lanes write other members, so they are still what the store holds).
  Result<std::vector<SideWrite>> writes_for(Side side, const std::vector<JournalEntry>& chunk,
                                            StoredEntries* entries) {
    // A change of address reads the member or contact at its old address.
    std::vector<MemberKey> at;
    at.reserve(chunk.size());
    for (const JournalEntry& e : chunk)
      at.push_back(is_change_email(e.op.kind) ? member_key(e.op.from_email) : e.op.key);
    std::vector<std::string_view> keys;
    keys.reserve(chunk.size());
    for (const MemberKey& k : at)
      keys.push_back(k.view());
    std::vector<std::optional<std::string>> stored;
    if (Status s = p_.store.multi_get(p_.pair, snapshot_family(side), keys, &stored); !s) return s;
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      if (!is_change_email(chunk[n].op.kind)) entries->emplace(chunk[n].op.key, stored[n]);
    }
    std::vector<SideWrite> writes;
    writes.reserve(chunk.size());
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      const Operation& op = chunk[n].op;
      SideWrite w{op.kind, op.email, 0, {}, MailchimpStatus::kSubscribed, op.from_email};
      SnapshotView v;
      if (stored[n] && decode_snapshot(*stored[n], &v)) {
        if (side == Side::kCrm) {
          CrmBody person;
          if (decode_crm_body(v.body, &person)) w.contact_id = person.contact_id;
        } else if (v.header.status == static_cast<std::uint8_t>(MailchimpStatus::kPending)) {
          w.status = MailchimpStatus::kPending;
        } else if (v.header.status == static_cast<std::uint8_t>(MailchimpStatus::kUnsubscribed)) {
          // An interest written on an unsubscribed member keeps it unsubscribed.
          w.status = MailchimpStatus::kUnsubscribed;
        }
      }
      for (const OpField& f : op.fields) {
        if (side == Side::kMailchimp) {
          w.fields.emplace_back(f.tag, f.value);
        } else if (const FieldSpec* spec = field_spec(f.tag)) {
          w.fields.emplace_back(spec->crm_field, f.value);
        }
      }
      writes.push_back(std::move(w));
    }
    return writes;
  }

  const FieldSpec* field_spec(std::string_view tag) const {
    for (const FieldSpec& f : fields_.specs) {
      if (f.tag == tag) return &f;
    }
    return nullptr;
  }

  // Marks a chunk's journal entries with their outcomes and stores the base of each member
  // whose membership write succeeded, in one synced write.
  // `entries`: the written side's entries of the chunk's members as writes_for() read them.
  Status record_outcomes(Side side, std::vector<JournalEntry>& chunk,
                         const std::vector<SideOutcome>& outcomes, const StoredEntries* entries) {
    Batch b;
    const Micros now = p_.clock.now();
    std::map<MemberKey, std::string> snapshots;  // the written side's entries, as written
    std::map<MemberKey, BaseRecord> bases;       // bases written in this chunk
    // The chunk's stored bases, read at once (here, under the record lock: the other side may
    // have written some since the chunk was sent). A point read each cost a block read from a
    // store larger than its cache: most of a million-member migration's CPU.
    StoredEntries stored_bases;
    {
      std::vector<std::string_view> keys;
      keys.reserve(chunk.size());
      for (const JournalEntry& e : chunk)
        keys.push_back(e.op.key.view());
      std::vector<std::optional<std::string>> values;
      if (Status s = p_.store.multi_get(p_.pair, Family::kBase, keys, &values); !s) return s;
      for (std::size_t n = 0; n < chunk.size(); ++n)
        stored_bases.emplace(chunk[n].op.key, std::move(values[n]));
    }
    for (std::size_t n = 0; n < chunk.size(); ++n) {
      JournalEntry& e = chunk[n];
      const SideOutcome& o = outcomes[n];
      e.at = now;
      e.message = o.message;
      switch (o.code) {
        case SideOutcome::Code::kDone:
          e.state = JournalState::kDone;
          e.written_at = o.changed_at;
          ++out_.record.applied;
          // Mailchimp says when; for a CRM write, the server's time of its answer, which is no
          // earlier than the history row's date the next fetch reads, so that concord's own write
          // does not count as a change made in the CRM (kNoTime when the answer had no Date: then
          // the row's date counts as a change, and an agreeing one only refreshes the base).
          if (Status s = store_base(e.op, side, o.changed_at, bases, b, &stored_bases); !s) {
            return s;
          }
          if (is_change_email(e.op.kind)) {
            if (Status s = finish_move(p_.store, p_.pair, e.op, side, b); !s) return s;
          } else if (Status s = remember_write(e, side, o, snapshots, entries); !s) {
            return s;
          }
          if (o.conflict != Conflict::kNone) {
            if (Status s = note_outcome(e, o, /*unsynced=*/false); !s) return s;
          }
          break;
        case SideOutcome::Code::kRefused:
          e.state = JournalState::kRefused;
          ++out_.record.refused;
          if (is_change_email(e.op.kind)) {
            if (Status s = refuse_move(p_.store, p_.pair, e.op, side, o.message, b); !s) return s;
          } else if (Status s = remember_refusal(p_.store, p_.pair, e, o, b); !s) {
            return s;
          }
          if (Status s = note_outcome(e, o, /*unsynced=*/true); !s) return s;
          break;
        case SideOutcome::Code::kFailed:
          e.state = JournalState::kFailed;
          ++out_.record.failed;
          if (Status s = note_outcome(e, o, /*unsynced=*/true); !s) return s;
          break;
      }
      auto& tally = results_[static_cast<std::size_t>(e.op.kind)];
      --tally[static_cast<std::size_t>(JournalState::kPlanned)];
      ++tally[static_cast<std::size_t>(e.state)];
      b.put(p_.pair, Family::kJournal, journal_key(e.run_id, e.seq), encode_journal_entry(e));
    }
    for (const auto& [key, value] : snapshots)
      b.put(p_.pair, snapshot_family(side), key.view(), value);
    for (const auto& [key, member] : identities_) {
      b.put(p_.pair, Family::kMeta, key, member.view());
    }
    identities_.clear();
    return p_.store.write(b, /*sync=*/true);
  }

  // Puts the base once `op` took effect at `written_at` into `b` (settled_base(), or an undo's
  // restored base); `bases` holds the bases this batch wrote so far.
  // `stored`, when given, holds the stored bases of the members it names (read for a chunk).
  Status store_base(const Operation& op, Side side, Micros written_at,
                    std::map<MemberKey, BaseRecord>& bases, Batch& b,
                    const StoredEntries* stored = nullptr) {
    if (op.restores_base) {
      // The base before the undone run comes back, so that the next run decides the member as it
      // would have before it. Without one, the member is as new to the pair as it was then.
      if (!op.before || !op.before->base) {
        b.del(p_.pair, Family::kBase, op.key.view());
        bases.erase(op.key);
        return Status::ok();
      }
      auto it = bases.find(op.key);
      BaseRecord out = it != bases.end() ? it->second : *op.before->base;
      // The undo's own write is no change of a person's; the hashes cannot match the sides now.
      if (written_at != kNoTime) {
        (side == Side::kMailchimp ? out.mailchimp_changed_at : out.crm_changed_at) = written_at;
      }
      out.mailchimp_hash = out.crm_hash = 0;
      std::string v;
      encode_base(out, &v);
      b.put(p_.pair, Family::kBase, op.key.view(), v);
      bases[op.key] = std::move(out);
      return Status::ok();
    }
    if (!op_info(op.kind).membership && op.base_after.fields.empty()) return Status::ok();
    Result<std::optional<BaseRecord>> nb = settled_base(op, side, written_at, bases, stored);
    if (!nb) return nb.status();
    if (nb->has_value()) {
      std::string v;
      encode_base(**nb, &v);
      b.put(p_.pair, Family::kBase, op.key.view(), v);
      bases[op.key] = std::move(**nb);
    }
    return Status::ok();
  }

  // The base once `op` took effect at `written_at`: a membership write sets the membership part
  // (base_after_write); every write merges the field bases it settles into those stored (another
  // write of the member, on the other side, settles the others). A field update never says
  // anything of the membership: without a stored base it stores none (nullopt), for the member's
  // membership writes may not have happened (a base saying IN would make the side still OUT look
  // changed, and remove the member from the other).
  Result<std::optional<BaseRecord>> settled_base(const Operation& op, Side side, Micros written_at,
                                                 const std::map<MemberKey, BaseRecord>& pending,
                                                 const StoredEntries* read = nullptr) {
    std::optional<BaseRecord> stored;
    if (auto it = pending.find(op.key); it != pending.end()) {
      stored = it->second;
    } else {
      Result<std::optional<std::string>> v = stored_value(Family::kBase, op.key, read);
      if (!v) return v.status();
      BaseRecord b;
      if (v->has_value() && decode_base(**v, &b)) stored = std::move(b);
    }
    if (!op_info(op.kind).membership && !stored) return std::optional<BaseRecord>();
    BaseRecord out;
    if (op_info(op.kind).membership) {
      out = base_after_write(op, side, written_at);
      out.fields = stored ? stored->fields : std::vector<FieldBase>{};
    } else {
      out = *stored;
      // The hashes cannot match the sides after this write: the next run decides the member again
      // and stores them.
      out.mailchimp_hash = out.crm_hash = 0;
    }
    for (const FieldBase& f : op.base_after.fields)
      out.set_field(f.tag, f.value);
    return std::optional<BaseRecord>(std::move(out));
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
                        std::map<MemberKey, std::string>& snapshots,
                        const StoredEntries* read = nullptr) {
    if (side == Side::kMailchimp && o.changed_at == kNoTime) return Status::ok();
    // A field update leaves the membership as it was; the next fetch reads the values back.
    if (is_field_update(e.op.kind)) return Status::ok();
    std::optional<std::string> stored;
    if (auto it = snapshots.find(e.op.key); it != snapshots.end()) {
      stored = it->second;
    } else {
      Result<std::optional<std::string>> v = stored_value(snapshot_family(side), e.op.key, read);
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
      if (p_.config.target != TargetKind::kAudience) {
        // A tag or interest target: the write put it on or took it off (a subscribe adds the
        // member carrying it); the status stays unless the write made the member.
        st.mark = op_info(e.op.kind).target;
        st.changed_at = o.changed_at;
        if (op_info(e.op.kind).mc_status != MailchimpStatus::kAbsent) {
          st.status =
              o.status != MailchimpStatus::kAbsent ? o.status : op_info(e.op.kind).mc_status;
          st.unsubscribe_origin = UnsubscribeOrigin::kUnknown;
        }
        encode_snapshot(mailchimp_header(st, hash), email, body, &out);
        snapshots[e.op.key] = std::move(out);
        return Status::ok();
      }
      st.status = o.status;
      if (st.status == MailchimpStatus::kAbsent) st.status = op_info(e.op.kind).mc_status;
      // An unsubscribe through the API is an admin's: Mailchimp accepts a later resubscribe.
      st.unsubscribe_origin = st.status == MailchimpStatus::kUnsubscribed
                                  ? UnsubscribeOrigin::kAdmin
                                  : UnsubscribeOrigin::kUnknown;
      st.changed_at = o.changed_at;
      encode_snapshot(mailchimp_header(st, hash), email, body, &out);
    } else {
      CrmState st;
      if (stored && !crm_state_of(h, &st)) st = CrmState{};
      if (e.op.kind == OpKind::kCrmHoldEmail || e.op.kind == OpKind::kCrmReleaseHold) {
        st.email_on_hold = e.op.kind == OpKind::kCrmHoldEmail;
      } else {
        // As in the base: the server's time of the answer (the next fetch reads the history
        // row's own date).
        st.status = op_info(e.op.kind).crm_status;
        st.changed_at = o.changed_at;
        if (st.status == CrmStatus::kAdded) {
          st.contact_known = true;
          st.trashed = false;
        }
        // A contact created here is known by its id at once (moves.h), not at the next read.
        if (!o.identity.empty() && body.find("\"contact_id\"") == std::string::npos) {
          CrmBody created;
          Result<std::int64_t> id = parse_int64(o.identity);
          if (id) {
            created.contact_id = *id;
            body = encode_crm_body(created);
            identities_[identity_key(Side::kCrm, o.identity)] = e.op.key;
          }
        }
      }
      encode_snapshot(crm_header(st, hash), email, body, &out);
    }
    snapshots[e.op.key] = std::move(out);
    return Status::ok();
  }

  // A report row for a member the plan did not report: both sides' states and the base as the
  // store holds them before this run's writes (what the run decided on). Best effort: what cannot
  // be read is left out of the row.
  ReportRow stored_row(const Operation& op) {
    ReportRow row;
    row.key = op.key;
    row.email = op.email;
    if (auto h = header_of(p_.store, p_.pair, Side::kMailchimp, op.key); h && h->has_value()) {
      MailchimpState m;
      if (mailchimp_state_of(**h, &m)) row.mailchimp = m;
    }
    if (auto h = header_of(p_.store, p_.pair, Side::kCrm, op.key); h && h->has_value()) {
      CrmState c;
      if (crm_state_of(**h, &c)) row.crm = c;
    }
    Result<std::optional<std::string>> b = p_.store.get(p_.pair, Family::kBase, op.key.view());
    BaseRecord base;
    if (b && b->has_value() && decode_base(**b, &base)) row.base = base.state();
    return row;
  }

  // Adds a write's outcome to the member's report row (or a new row).
  Status note_outcome(const JournalEntry& e, const SideOutcome& o, bool unsynced) {
    const Side side = side_of(e.op.kind);
    const std::string what = std::string(side_name(side)) + " " +
                             (o.code == SideOutcome::Code::kDone      ? "answered"
                              : o.code == SideOutcome::Code::kRefused ? "refused"
                                                                      : "failed") +
                             " " + std::string(op_kind_name(e.op.kind));
    std::string reason = what + (o.message.empty() ? "" : ": " + o.message);
    if (o.code == SideOutcome::Code::kFailed) reason += " (retried by the next run)";
    if (unsynced) unsynced_.insert(e.op.key);
    const std::string conflict(
        conflict_name(o.conflict == Conflict::kNone ? Conflict::kFailedWrite : o.conflict));
    if (!report_->has(e.op.key)) {
      ReportEntry r = report_entry(stored_row(e.op));
      r.side = std::string(side_name(side));
      r.decision =
          std::string(op_kind_name(e.op.kind)) + " (" + std::string(reason_name(e.op.reason)) + ")";
      r.conflict = conflict;
      r.reason = reason;
      return report_->add(&e.op.key, std::move(r));
    }
    return report_->amend(e.op.key, [&](ReportEntry& r) {
      r.conflict = conflict;
      r.reason = r.reason.empty() ? reason : r.reason + "; " + reason;
    });
  }

  static bool is_change_email(OpKind k) {
    return k == OpKind::kMailchimpChangeEmail || k == OpKind::kCrmChangeEmail;
  }

  static bool is_field_update(OpKind k) {
    return k == OpKind::kMailchimpUpdateFields || k == OpKind::kCrmUpdateFields;
  }

  SyncPair& p_;
  const RunRequest& req_;
  FieldPlan fields_;  // the sync's mapped fields (plan_fields)
  // Identities (moves.h) learnt from this chunk's write answers, for the batch that records it.
  std::map<std::string, MemberKey> identities_;
  // The apply's sides and chunks run at once: one chunk's outcomes are recorded at a time (its
  // bases are read and written whole, and the counts, report and identities above are shared).
  std::mutex record_mu_;
  std::mutex progress_mu_;
  std::array<std::uint64_t, 2> sent_{};  // entries sent, Mailchimp and CRM (progress)
  std::atomic<bool> aborted_{false};     // one side failed: the other stops between chunks
  std::string field_signature_;          // the mapping, as meta kFieldMapping keeps it
  RunLog log_;
  RunOutcome out_;
  std::optional<ReportWriter> report_;  // made once the run has its id
  FirstBackup backup_{p_.store, p_.pair, req_.backup_dir, p_.config.name};
  bool journaled_ = false;  // the plan is in the journal
  bool streams_ = false;    // the journal's pass runs beside the apply (stream())
  // Entries of this run read from the journal for sending, Mailchimp and CRM (progress).
  std::array<std::atomic<std::uint64_t>, 2> queued_{};
  std::set<MemberKey> unsynced_;
  // Operations of this run by kind and journal state.
  std::array<std::array<std::uint64_t, 6>, kOpKindCount> results_{};
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
