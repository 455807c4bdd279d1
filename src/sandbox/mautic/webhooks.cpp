// Where the webhook events of a change go (the reference's §5.4): to each published webhook that
// subscribes to them, at once (one POST per event, sent in the background, no retry) or as rows
// of the queue that POST /_sandbox/mautic/webhooks/process sends, up to webhook_limit rows a POST
// grouped by event, in the webhook's order. A receiver's answer goes to the webhook's log: 410
// unpublishes it at once, and a failure unpublishes it when none of its last webhook_disable_limit
// answers was a 2xx, unless it was modified in the last two days.
#include <algorithm>
#include <mutex>
#include <utility>

#include "sandbox/mautic/entity_json.h"
#include "sandbox/mautic/routing.h"

namespace concord::sandbox::mautic {
namespace {

constexpr Micros kRecently = 2 * 86400 * kMicrosPerSecond;

bool success(int status) {
  return status >= 200 && status < 300;
}

bool subscribes(const Hook& h, std::string_view key) {
  return h.is_published && std::find(h.triggers.begin(), h.triggers.end(), key) != h.triggers.end();
}

Delivery delivery_to(const Hook& h, const Settings& settings, std::uint64_t epoch, Micros at) {
  Delivery d;
  d.epoch = epoch;
  d.hook_id = h.id;
  d.url = h.webhook_url;
  d.secret = h.secret;
  d.origin = settings.site_url;
  d.at = at;
  return d;
}

// A payload item as a delivery carries it: with the time of its event.
ojson stamped(const ojson& payload, Micros at) {
  ojson item = payload;
  item["timestamp"] = time_json(at);
  return item;
}

}  // namespace

void MauticSandbox::changed(std::vector<Fired> fired) {
  generation_.fetch_add(1);
  const Settings& settings = site_.settings;
  for (const Fired& f : fired) {
    const std::string key(event_key(f.type));
    for (const auto& [id, h] : site_.hooks) {
      if (!subscribes(h, key)) continue;
      if (settings.queue_mode == QueueMode::kCommand) {
        site_.queue.push_back({site_.next.queue++, id, key, f.at, f.payload});
        continue;
      }
      Delivery d = delivery_to(h, settings, epoch_.load(), f.at);
      ojson body = ojson::object();
      body[key] = ojson::array({stamped(f.payload, f.at)});
      d.body = php_text(body);
      d.events = {key};
      outbox_.enqueue(std::move(d));
    }
  }
}

void MauticSandbox::on_answer(const Delivery& d) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (d.epoch != epoch_.load()) return;  // a hook of a state since replaced
  auto it = site_.hooks.find(d.hook_id);
  if (it == site_.hooks.end()) return;
  Hook& h = it->second;
  const std::size_t keep = static_cast<std::size_t>(site_.settings.webhook_disable_limit);
  h.responses.push_back(d.status);
  if (h.responses.size() > keep) {
    h.responses.erase(h.responses.begin(), h.responses.end() - static_cast<std::ptrdiff_t>(keep));
  }
  const Micros t = now();
  const bool gone = d.status == 410;
  const bool sick = !success(d.status) &&
                    !(h.date_modified != kNoTime && h.date_modified > t - kRecently) &&
                    std::none_of(h.responses.begin(), h.responses.end(), success);
  if (h.is_published && (gone || sick)) {
    h.is_published = false;
    h.date_modified = t;
  }
  generation_.fetch_add(1);
}

ojson MauticSandbox::process_queue(std::optional<std::int64_t> only) {
  std::lock_guard<std::mutex> processing(process_mu_);
  std::vector<std::int64_t> hook_ids;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (const auto& [id, h] : site_.hooks) {
      if (h.is_published && (!only || id == *only)) hook_ids.push_back(id);
    }
  }
  ojson requests = ojson::array();
  for (std::int64_t id : hook_ids) {
    while (true) {
      Delivery d;
      {
        std::shared_lock<std::shared_mutex> lock(mu_);
        auto it = site_.hooks.find(id);
        if (it == site_.hooks.end() || !it->second.is_published) break;
        const Hook& h = it->second;
        const bool desc = (h.events_orderby_dir.empty() ? site_.settings.events_orderby_dir
                                                        : h.events_orderby_dir) == "DESC";
        std::vector<const QueueRow*> rows;
        for (const QueueRow& r : site_.queue) {
          if (r.hook_id == id) rows.push_back(&r);
        }
        if (desc) std::reverse(rows.begin(), rows.end());
        const auto limit = static_cast<std::size_t>(site_.settings.webhook_limit);
        if (rows.size() > limit) rows.resize(limit);
        if (rows.empty()) break;
        d = delivery_to(h, site_.settings, epoch_.load(), now());
        d.queued = true;
        ojson body = ojson::object();
        for (const QueueRow* r : rows) {
          if (!body.contains(r->event)) {
            body[r->event] = ojson::array();
            d.events.push_back(r->event);
          }
          body[r->event].push_back(stamped(r->payload, r->date_added));
          d.rows.push_back(r->id);
        }
        d.body = php_text(body);
      }
      d = outbox_.send_now(std::move(d));
      requests.push_back(
          {{"webhook_id", id}, {"rows", d.rows.size()}, {"status", d.status}, {"error", d.error}});
      // A transport error leaves the rows for the next run; any answer deletes them, before its
      // status is looked at.
      if (d.status == 0) break;
      {
        std::unique_lock<std::shared_mutex> lock(mu_);
        if (d.epoch != epoch_.load()) break;
        std::erase_if(site_.queue, [&](const QueueRow& r) {
          return std::find(d.rows.begin(), d.rows.end(), r.id) != d.rows.end();
        });
        generation_.fetch_add(1);
      }
      if (!success(d.status)) break;
    }
  }
  ojson answer = ojson::object();
  answer["requests"] = std::move(requests);
  std::shared_lock<std::shared_mutex> lock(mu_);
  answer["remaining"] = site_.queue.size();
  return answer;
}

}  // namespace concord::sandbox::mautic
