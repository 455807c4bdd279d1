// The status and history pages of `concord serve` (see pages.h). Everything a page needs is inline:
// the daemon may run where the browser reaches nothing but it.
#include "serve/pages.h"

#include <cmath>
#include <cstdio>
#include <string_view>

#include "concord/report.h"

namespace concord::serve {
namespace {

using nlohmann::json;

// Shared by both pages: only 'self' may be fetched (the API), scripts and styles are inline, the
// icon is a data: URL (so the browser does not ask for /favicon.ico), and the page's address is
// never sent to another site. ("same-origin", not "no-referrer": under no-referrer browsers send
// `Origin: null` with the page's own POSTs, which the daemon refuses as cross-site.)
// The login form's head is the same but for its policy, which the daemon sends as a header.
constexpr std::string_view kDocumentStart = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="same-origin">
<link rel="icon" href="data:,">
)HTML";
constexpr std::string_view kPagePolicy =
    R"HTML(<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'">
)HTML";

constexpr std::string_view kBaseStyle = R"CSS(
:root{color-scheme:light dark;--bg:#f6f7f9;--card:#fff;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--head:#f3f4f6;
--accent:#2563eb;--accent-fg:#fff;--off:#9ca3af;--focus:#2563eb;
--ok-bg:#dcfce7;--ok-fg:#14532d;--warn-bg:#fef3c7;--warn-fg:#78350f;--bad-bg:#b91c1c;--bad-fg:#fff;
--int-bg:#ffedd5;--int-fg:#7c2d12;--run-bg:#dbeafe;--run-fg:#1e3a8a;--err-bg:#fef2f2;--err-line:#b91c1c;--err-fg:#7f1d1d}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--fg:#e5e7eb;--muted:#9ca3af;--line:#2a2f3a;--head:#1d212a;
--accent:#3b82f6;--off:#4b5563;--focus:#93c5fd;
--ok-bg:#14532d;--ok-fg:#dcfce7;--warn-bg:#713f12;--warn-fg:#fef3c7;--bad-bg:#991b1b;--bad-fg:#fff;
--int-bg:#7c2d12;--int-fg:#ffedd5;--run-bg:#1e3a8a;--run-fg:#dbeafe;--err-bg:#3b1114;--err-line:#f87171;--err-fg:#fecaca}}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
a{color:var(--accent)}
a:focus-visible,button:focus-visible,input:focus-visible{outline:2px solid var(--focus);outline-offset:2px}
.top{display:flex;flex-wrap:wrap;align-items:baseline;gap:.25rem 1rem;padding:.75rem 1rem;background:var(--card);border-bottom:1px solid var(--line)}
.top h1{font-size:1.3rem;margin:0;letter-spacing:.02em}
.top .sub{font-weight:600}
.top .right{margin-left:auto}
main{max-width:110rem;margin:0 auto;padding:1rem}
.muted{color:var(--muted)}
.sr-only{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap;border:0}
.panel{position:relative;background:var(--card);border:1px solid var(--line);border-radius:8px;overflow-x:auto}
table.grid{border-collapse:collapse;width:100%;font-size:.92rem}
.grid th,.grid td{padding:.5rem .6rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:middle}
.grid thead th{background:var(--head);font-weight:600;white-space:nowrap}
.grid tbody tr:last-child>*{border-bottom:0}
.grid .num{text-align:right;font-variant-numeric:tabular-nums}
time{white-space:nowrap}
.result{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.85em;white-space:nowrap;background:var(--head);color:var(--fg)}
.r-done{background:var(--ok-bg);color:var(--ok-fg)}
.r-done-with-failures{background:var(--warn-bg);color:var(--warn-fg)}
.r-stopped-by-guard,.r-failed{background:var(--bad-bg);color:var(--bad-fg)}
.r-interrupted{background:var(--int-bg);color:var(--int-fg)}
.r-running{background:var(--run-bg);color:var(--run-fg)}
.r-running::before{content:"";display:inline-block;width:.5em;height:.5em;margin-right:.35em;border-radius:50%;background:currentColor;animation:pulse 1s ease-in-out infinite alternate}
@keyframes pulse{from{opacity:.25}to{opacity:1}}
@media (prefers-reduced-motion:reduce){.r-running::before{animation:none}}
.empty{padding:1rem;color:var(--muted)}
)CSS";

constexpr std::string_view kStatusStyle = R"CSS(
.banner{margin:0 0 1rem;padding:.6rem 1rem;border-left:4px solid var(--err-line);background:var(--err-bg);color:var(--err-fg);border-radius:4px}
.banner p{margin:0}
#syncs th[scope=row]{overflow-wrap:anywhere;min-width:8rem}
.sync-name{display:block;font-weight:600;font-size:1.02rem}
small{display:block;font-size:.84em;font-weight:normal;color:var(--muted);margin-top:.1rem}
.warning{display:block;font-size:.84em;color:var(--err-fg);margin-top:.2rem}
.toggle{appearance:none;-webkit-appearance:none;position:relative;flex:none;width:2.6rem;height:1.45rem;margin:0;border-radius:999px;background:var(--off);cursor:pointer;transition:background .15s;vertical-align:middle}
.toggle::before{content:"";position:absolute;top:.15rem;left:.15rem;width:1.15rem;height:1.15rem;border-radius:50%;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.35);transition:transform .15s}
.toggle:checked{background:var(--accent)}
.toggle:checked::before{transform:translateX(1.15rem)}
.toggle[aria-busy=true]{opacity:.6;cursor:progress}
@media (prefers-reduced-motion:reduce){.toggle,.toggle::before{transition:none}}
.switch{position:relative;display:inline-flex;align-items:center;gap:.5rem;cursor:pointer;white-space:nowrap}
.state{font-size:.85em;color:var(--muted)}
.state.s-running,.state.s-queued{color:var(--run-fg);background:var(--run-bg);padding:0 .4rem;border-radius:4px}
.run-id{color:var(--muted);font-variant-numeric:tabular-nums;margin-right:.3rem}
.counts{display:grid;grid-template-columns:auto auto;gap:0 .8rem;font-size:.88em;font-variant-numeric:tabular-nums;white-space:nowrap}
.counts .zero{color:var(--muted)}
.counts .c-failed:not(.zero),.counts .c-refused:not(.zero){color:var(--err-line);font-weight:600}
.counts [hidden]{display:none}
.run-now{font:inherit;font-size:.9em;padding:.3rem .8rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer;white-space:nowrap}
.run-now:disabled{opacity:.5;cursor:not-allowed}
.link-button{font:inherit;font-size:.9em;padding:0;border:0;background:none;color:var(--accent);cursor:pointer;text-decoration:underline}
.links{display:flex;gap:.8rem;margin-top:.3rem;font-size:.88em}
.links a[hidden]{display:none}
#streams-panel{margin-top:1.2rem}
#streams caption{text-align:left;padding:.6rem .8rem;font-weight:600}
@media (max-width:640px){
#streams thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
#streams,#streams tbody,#streams tr,#streams th,#streams td{display:block;width:100%}
#streams tbody tr{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 .75rem;padding:.4rem .8rem}
#streams td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.35rem 0;text-align:right}
#streams td::before{content:attr(data-label);color:var(--muted);flex:none;text-align:left}
main{padding:.6rem}
.panel{background:none;border:0;overflow:visible}
#syncs thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
#syncs,#syncs tbody,#syncs tr,#syncs th,#syncs td{display:block;width:100%}
#syncs tbody tr{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 .75rem;padding:.4rem .8rem}
#syncs th[scope=row]{border-bottom:1px solid var(--line);padding:.35rem 0 .5rem;margin-bottom:.25rem}
.sync-name{font-size:1.15rem}
#syncs td{display:flex;justify-content:space-between;align-items:flex-start;gap:1rem;border:0;padding:.35rem 0}
#syncs td::before{content:attr(data-label);color:var(--muted);flex:none}
#syncs td>.v{text-align:right;min-width:0}
.counts{justify-content:end}
#syncs td.actions{padding-top:.6rem}
#syncs td.actions::before{content:none}
#syncs td.actions>.v{display:flex;align-items:center;flex-wrap:wrap;gap:.5rem 1rem;text-align:left;width:100%}
.links{margin:0}
}
)CSS";

// The status page's behaviour. Data is only ever put in the page with textContent and
// setAttribute, never as markup.
constexpr std::string_view kStatusScript = R"JS(
(function () {
  'use strict';
  var POLL_MS = 5000, TIMEOUT_MS = 15000, ACTION_ERROR_MS = 20000;
  var RESULTS = ['done', 'done-with-failures', 'stopped-by-guard', 'failed', 'interrupted', 'running'];
  var STATES = ['idle', 'running', 'queued', 'disabled'];
  var body = document.getElementById('rows');
  var banner = document.getElementById('error');
  var rows = new Map();
  var timer = null, seq = 0, nextId = 0, pollError = '', actionError = '', actionErrorUntil = 0;

  // Only same-origin paths from the data become links.
  function localPath(url) {
    return typeof url === 'string' && url.charAt(0) === '/' && url.charAt(1) !== '/' &&
        url.charAt(1) !== '\\';
  }
  function syncPath(name, what) { return '/api/syncs/' + encodeURIComponent(name) + '/' + what; }

  function describe(status, data) {
    if (status === 401) return 'the session has ended: log in again at /login';
    var msg = data && typeof data.error === 'string' ? data.error : '';
    return 'HTTP ' + status + (msg ? ': ' + msg : '');
  }
  function api(method, path, payload) {
    var headers = {'Accept': 'application/json'};
    // The session cookie goes along (same origin); the token itself never reaches the page.
    var init = {method: method, headers: headers, cache: 'no-store', credentials: 'same-origin'};
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(payload);
    }
    var abort = typeof AbortController === 'function' ? new AbortController() : null;
    var timeout = null;
    if (abort) {
      init.signal = abort.signal;
      timeout = setTimeout(function () { abort.abort(); }, TIMEOUT_MS);
    }
    return fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        clearTimeout(timeout);
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (r.status === 401) location.assign('/login');
        if (!r.ok) {
          var err = new Error(describe(r.status, data));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    }, function (e) {
      clearTimeout(timeout);
      throw new Error('cannot reach concord (' + (e && e.name === 'AbortError' ? 'timed out' : e.message) + ')');
    });
  }

  function showBanner() {
    if (actionError && Date.now() > actionErrorUntil) actionError = '';
    var lines = [actionError, pollError].filter(Boolean);
    banner.textContent = '';
    lines.forEach(function (line) {
      var p = document.createElement('p');
      p.textContent = line;
      banner.appendChild(p);
    });
    banner.hidden = lines.length === 0;
  }
  function setActionError(msg) {
    actionError = msg;
    actionErrorUntil = Date.now() + ACTION_ERROR_MS;
    showBanner();
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }
  // "Nov 23, 10:30" (the year only when it is not this year's), or "Nov 1, 2026" for a date.
  function fmtTime(iso, dateOnly) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return String(iso);
    var opts = {month: 'short', day: 'numeric'};
    if (dateOnly || d.getFullYear() !== new Date().getFullYear()) opts.year = 'numeric';
    var day = d.toLocaleDateString(undefined, opts);
    return dateOnly ? day : day + ', ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
  }
  function setTime(el, iso, none, dateOnly) {
    if (typeof iso === 'string' && iso) {
      el.textContent = fmtTime(iso, dateOnly);
      el.dateTime = iso;
      el.title = iso;
    } else {
      el.textContent = none;
      el.removeAttribute('datetime');
      el.removeAttribute('title');
    }
  }
  function fmtDuration(s) {
    if (typeof s !== 'number' || !isFinite(s) || s < 0) return '';
    if (s < 10) return s.toFixed(1) + ' s';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    var m = Math.floor(s / 60);
    if (m < 60) return m + ' min ' + (s % 60) + ' s';
    return Math.floor(m / 60) + ' h ' + (m % 60) + ' min';
  }
  function count(n) { return typeof n === 'number' && isFinite(n) ? n : 0; }

  function make(tag, cls, text) {
    var el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // One row: the name (and when it was created), the switch and state, the schedule (and the next
  // run), the last run (id, start, duration), its result and counts, and the actions. In each
  // cell a single .v element holds the content (on a phone each cell is a "label: value" line).
  function makeRow(name) {
    var id = 'sync-' + (nextId++);
    var r = {name: name, togglePending: false, runPending: false, lastSync: null};
    var tr = r.tr = make('tr');
    tr.setAttribute('data-sync', name);
    function cell(label, cls) {
      var td = make('td', cls);
      td.setAttribute('data-label', label);
      tr.appendChild(td);
      return td.appendChild(make('div', 'v'));
    }
    var th = tr.appendChild(make('th', 'name'));
    th.scope = 'row';
    r.nameEl = th.appendChild(make('span', 'sync-name'));
    r.nameEl.id = id + '-name';
    r.kind = th.appendChild(make('small', 'kind'));
    r.warning = th.appendChild(make('strong', 'warning'));
    r.warning.setAttribute('role', 'status');
    var created = th.appendChild(make('small', 'created', 'created '));
    r.created = created.appendChild(make('time'));

    var label = cell('State', 'state-cell').appendChild(make('label', 'switch'));
    r.toggle = label.appendChild(make('input', 'toggle'));
    r.toggle.type = 'checkbox';
    r.toggle.setAttribute('role', 'switch');
    r.toggleLabel = label.appendChild(make('span', 'sr-only'));
    r.state = label.appendChild(make('span', 'state'));
    r.state.id = id + '-state';
    r.toggle.setAttribute('aria-describedby', r.state.id);

    var schedule = cell('Schedule', 'schedule-cell');
    r.schedule = schedule.appendChild(make('span', 'schedule'));
    var next = schedule.appendChild(make('small', 'next-run', 'next: '));
    r.next = next.appendChild(make('time'));

    var last = cell('Last run', 'last-run');
    r.runId = last.appendChild(make('span', 'run-id'));
    r.started = last.appendChild(make('time', 'started'));
    var took = last.appendChild(make('small', 'took'));
    r.tookLabel = took.appendChild(make('span', '', 'took '));
    r.duration = took.appendChild(make('span', 'duration'));
    r.took = took;

    r.result = cell('Result', 'result-cell').appendChild(make('span', 'result'));
    var counts = cell('Counts', 'counts-cell').appendChild(make('div', 'counts'));
    r.counts = {};
    [['applied', 'applied'], ['failed', 'failed'], ['refused', 'refused'], ['report_rows', 'report rows']]
        .forEach(function (c) {
          var span = counts.appendChild(make('span', 'c-' + c[0].replace('_', '-')));
          var b = span.appendChild(make('b'));
          span.appendChild(document.createTextNode(' ' + c[1]));
          r.counts[c[0]] = {span: span, b: b};
        });

    var actions = cell('Actions', 'actions');
    r.run = actions.appendChild(make('button', 'run-now', 'Run now'));
    r.run.type = 'button';
    r.run.setAttribute('aria-describedby', r.nameEl.id);
    var links = actions.appendChild(make('div', 'links'));
    r.report = links.appendChild(make('a', 'report', 'report'));
    r.history = links.appendChild(make('a', 'history', 'history'));

    // A click while the previous change is still on its way is ignored.
    r.toggle.addEventListener('click', function (e) { if (r.togglePending) e.preventDefault(); });
    r.toggle.addEventListener('change', function () { setEnabled(r, r.toggle.checked); });
    r.run.addEventListener('click', function () { runNow(r); });
    return r;
  }

  function setEnabled(r, want) {
    r.togglePending = true;
    r.toggle.setAttribute('aria-busy', 'true');
    api('POST', syncPath(r.name, 'enabled'), {enabled: want}).then(function (sync) {
      if (sync && typeof sync === 'object' && sync.name === r.name) update(r, sync, true);
      if (actionError) { actionError = ''; showBanner(); }
    }, function (e) {
      r.toggle.checked = !want;
      setActionError('Could not ' + (want ? 'enable ' : 'disable ') + r.name + ': ' + e.message);
    }).then(function () {
      r.togglePending = false;
      r.toggle.removeAttribute('aria-busy');
      poll();
    });
  }

  function runNow(r) {
    if (r.runPending) return;
    r.runPending = true;
    r.run.disabled = true;
    api('POST', syncPath(r.name, 'run'), {}).then(function () {
      r.runPending = false;
      // Until the next poll says otherwise (the button stays disabled until then).
      r.state.textContent = 'queued';
      r.state.className = 'state s-queued';
      if (actionError) { actionError = ''; showBanner(); }
    }, function (e) {
      r.runPending = false;
      setActionError('Could not start ' + r.name + ': ' + e.message);
      if (r.lastSync) update(r, r.lastSync, false);
    }).then(poll);
  }

  function update(r, s, fromAction) {
    r.lastSync = s;
    r.nameEl.textContent = s.name;
    r.kind.textContent = typeof s.kind === 'string' ? s.kind : '';
    r.warning.textContent = typeof s.warning === 'string' ? s.warning : '';
    r.warning.hidden = !r.warning.textContent;
    r.toggleLabel.textContent = 'Enabled: ' + s.name;
    setTime(r.created, s.created, '\u2014', true);
    if (!r.togglePending || fromAction) r.toggle.checked = !!s.enabled;
    var state = STATES.indexOf(s.state) >= 0 ? s.state : (s.enabled ? 'idle' : 'disabled');
    if (!r.runPending) {
      r.state.textContent = state;
      r.state.className = 'state s-' + state;
    }
    r.run.disabled = r.runPending || state === 'running' || state === 'queued';
    r.schedule.textContent = typeof s.schedule === 'string' && s.schedule ? s.schedule : '\u2014';
    setTime(r.next, s.next_run, s.enabled ? '\u2014' : 'off');

    var run = s.last_run && typeof s.last_run === 'object' ? s.last_run : null;
    if (run) {
      r.runId.textContent = run.id !== undefined && run.id !== null ? '#' + run.id : '';
      setTime(r.started, run.started, '\u2014');
      var d = fmtDuration(run.duration_s);
      var running = run.result === 'running';
      if (!d && running && run.started) {
        var since = (Date.now() - new Date(run.started).getTime()) / 1000;
        d = since >= 0 ? fmtDuration(since) + '\u2026' : '';
      }
      r.tookLabel.textContent = running ? 'running for ' : 'took ';
      r.duration.textContent = d;
      r.took.hidden = !d;
      var result = RESULTS.indexOf(run.result) >= 0 ? run.result : 'unknown';
      r.result.hidden = false;
      r.result.textContent = typeof run.result === 'string' ? run.result : 'unknown';
      r.result.className = 'result r-' + result;
      r.result.setAttribute('data-result', r.result.textContent);
      var c = run.counts && typeof run.counts === 'object' ? run.counts : {};
      Object.keys(r.counts).forEach(function (k) {
        var n = count(c[k]);
        r.counts[k].b.textContent = n;
        r.counts[k].span.classList.toggle('zero', n === 0);
        r.counts[k].span.hidden = false;
      });
      if (localPath(run.report_url)) {
        r.report.href = run.report_url;
        r.report.hidden = false;
      } else {
        r.report.removeAttribute('href');
        r.report.hidden = true;
      }
    } else {
      r.runId.textContent = '';
      setTime(r.started, null, 'never run');
      r.duration.textContent = '';
      r.took.hidden = true;
      r.result.hidden = true;
      r.result.textContent = '';
      r.result.removeAttribute('data-result');
      Object.keys(r.counts).forEach(function (k) { r.counts[k].span.hidden = true; });
      r.report.removeAttribute('href');
      r.report.hidden = true;
    }
    var history = localPath(s.history_url) ? s.history_url
        : '/syncs/' + encodeURIComponent(s.name) + '/runs';
    r.history.href = history;
  }

  function render(list) {
    var seen = new Set();
    var order = [];
    list.forEach(function (s) {
      if (!s || typeof s !== 'object' || typeof s.name !== 'string' || seen.has(s.name)) return;
      seen.add(s.name);
      var r = rows.get(s.name);
      if (!r) {
        r = makeRow(s.name);
        rows.set(s.name, r);
      }
      update(r, s, false);
      order.push(r.tr);
    });
    rows.forEach(function (r, name) {
      if (!seen.has(name)) {
        r.tr.remove();
        rows.delete(name);
      }
    });
    // Moves rows only when the order changed (moving a row would take the focus from its controls).
    order.forEach(function (tr, i) {
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    });
    syncCount = order.length;
    showEmpty();
  }

  // "No sync pairs" only when there are no streams either.
  var syncCount = 0, streamCount = 0;
  function showEmpty() {
    document.getElementById('empty').hidden = syncCount !== 0 || streamCount !== 0;
  }

  // The streams' table is rebuilt at each poll: it has no controls that could lose the focus.
  function renderStreams(list) {
    var panel = document.getElementById('streams-panel');
    var tbody = document.getElementById('stream-rows');
    var valid = list.filter(function (s) { return s && typeof s === 'object' && typeof s.name === 'string'; });
    panel.hidden = valid.length === 0;
    streamCount = valid.length;
    showEmpty();
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    valid.forEach(function (s) {
      var tr = document.createElement('tr');
      tr.setAttribute('data-stream', s.name);
      var name = make('th', 'sync-name', s.name);
      name.setAttribute('scope', 'row');
      tr.appendChild(name);
      var into = make('td', 's-into', String(s.kind || '') + ' \u201c' + String(s.audience || '') + '\u201d');
      into.setAttribute('data-label', 'into');
      tr.appendChild(into);
      ['accepted', 'forwarded', 'queued'].forEach(function (k) {
        var td = make('td', 's-' + k, String(count(s[k])));
        td.setAttribute('data-label', k);
        tr.appendChild(td);
      });
      var reasons = [];
      var by = s.dropped_by_reason && typeof s.dropped_by_reason === 'object' ? s.dropped_by_reason : {};
      Object.keys(by).forEach(function (k) { if (count(by[k]) > 0) reasons.push(k.replace(/_/g, ' ') + ' ' + count(by[k])); });
      var dropped = make('td', 's-dropped', String(count(s.dropped)));
      dropped.setAttribute('data-label', 'dropped');
      if (reasons.length) dropped.title = reasons.join(', ');
      if (reasons.length) dropped.appendChild(make('div', 'muted', reasons.join(', ')));
      tr.appendChild(dropped);
      var err = typeof s.last_error === 'string' ? s.last_error : '';
      var errCell = make('td', 's-error', err || '\u2014');
      errCell.setAttribute('data-label', 'last error');
      if (err && typeof s.last_error_at === 'string') errCell.title = s.last_error_at;
      if (Array.isArray(s.unknown_properties) && s.unknown_properties.length) {
        errCell.appendChild(make('div', 'muted', 'not sent (no merge field): ' +
            s.unknown_properties.filter(function (p) { return typeof p === 'string'; }).join(', ')));
      }
      tr.appendChild(errCell);
      tbody.appendChild(tr);
    });
  }

  function pollStreams() {
    api('GET', '/api/streams').then(function (data) {
      renderStreams(data && Array.isArray(data.streams) ? data.streams : []);
    }, function () { /* the syncs' poll reports what is wrong */ });
  }

  function poll() {
    clearTimeout(timer);
    pollStreams();
    var mine = ++seq;
    api('GET', '/api/syncs').then(function (data) {
      if (mine !== seq) return;
      render(data && Array.isArray(data.syncs) ? data.syncs : []);
      pollError = '';
      var now = new Date();
      var stamp = document.getElementById('updated');
      stamp.textContent = 'updated ' + pad(now.getHours()) + ':' + pad(now.getMinutes()) + ':' + pad(now.getSeconds());
      stamp.title = now.toISOString();
    }, function (e) {
      if (mine !== seq) return;
      pollError = e.message;
    }).then(function () {
      if (mine !== seq) return;
      document.getElementById('loading').hidden = true;
      document.body.setAttribute('data-loaded', 'true');
      showBanner();
      timer = setTimeout(poll, POLL_MS);
    });
  }

  document.getElementById('logout').addEventListener('click', function () {
    api('POST', '/logout', {}).then(function () { location.assign('/login'); },
                                    function () { location.assign('/login'); });
  });
  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') poll();
  });
  poll();
})();
)JS";

// Shows <time datetime> elements in local time (the ISO value stays in the title).
constexpr std::string_view kRunsScript = R"JS(
(function () {
  'use strict';
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  var year = new Date().getFullYear();
  Array.prototype.forEach.call(document.querySelectorAll('time[datetime]'), function (el) {
    var d = new Date(el.getAttribute('datetime'));
    if (isNaN(d.getTime())) return;
    var opts = {month: 'short', day: 'numeric'};
    if (d.getFullYear() !== year) opts.year = 'numeric';
    el.textContent = d.toLocaleDateString(undefined, opts) + ', ' + pad(d.getHours()) + ':' +
        pad(d.getMinutes()) + ':' + pad(d.getSeconds());
  });
})();
)JS";

void append_escaped(std::string& out, std::string_view s) {
  append_html_escaped(out, s);
}

const json* field(const json& obj, const char* key) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string string_field(const json& obj, const char* key) {
  const json* v = field(obj, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : std::string();
}

// A number as text ("—" when absent or not a number).
std::string number_text(const json* v) {
  if (v == nullptr || !v->is_number()) return "\u2014";
  if (v->is_number_integer()) return v->dump();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v->get<double>());
  return buf;
}

// The same rules as the status page's script.
std::string duration_text(const json* v) {
  if (v == nullptr || !v->is_number()) return "";
  double s = v->get<double>();
  if (!std::isfinite(s) || s < 0) return "";
  char buf[64];
  if (s < 10) {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
    return buf;
  }
  long long r = std::llround(s);
  if (r < 60) {
    std::snprintf(buf, sizeof buf, "%lld s", r);
  } else if (r < 3600) {
    std::snprintf(buf, sizeof buf, "%lld min %lld s", r / 60, r % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%lld h %lld min", r / 3600, (r / 60) % 60);
  }
  return buf;
}

// A same-origin path: "/…" but not "//host" or "/\host" (which browsers treat as another host).
bool local_path(std::string_view url) {
  return !url.empty() && url[0] == '/' && (url.size() == 1 || (url[1] != '/' && url[1] != '\\'));
}

void append_time(std::string& out, const std::string& iso, std::string_view none) {
  if (iso.empty()) {
    append_escaped(out, none);
    return;
  }
  out += "<time datetime=\"";
  append_escaped(out, iso);
  out += "\" title=\"";
  append_escaped(out, iso);
  out += "\">";
  append_escaped(out, iso);
  out += "</time>";
}

bool known_result(std::string_view r) {
  for (std::string_view k :
       {"done", "done-with-failures", "stopped-by-guard", "failed", "interrupted", "running"}) {
    if (r == k) return true;
  }
  return false;
}

}  // namespace

std::string login_page_html(std::string_view message) {
  std::string out(kDocumentStart);
  out += "<title>concord \u2014 log in</title>\n<style>";
  out += kBaseStyle;
  out += R"CSS(
.login{max-width:26rem;margin:3rem auto;padding:1.25rem 1.5rem;background:var(--card);border:1px solid var(--line);border-radius:8px}
.login h2{margin:0 0 .75rem;font-size:1.15rem}
.login label{display:block;margin:0 0 .35rem;font-weight:600}
.login input{width:100%;font:inherit;padding:.45rem .6rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
.login button{margin-top:.9rem;font:inherit;padding:.45rem 1rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-fg);cursor:pointer}
.login .err{margin:0 0 .75rem;padding:.5rem .75rem;border-left:4px solid var(--err-line);background:var(--err-bg);color:var(--err-fg);border-radius:4px}
)CSS";
  out += R"HTML(</style>
</head>
<body>
<header class="top"><h1>concord</h1><span class="sub">Log in</span></header>
<main>
<form class="login" method="post" action="/login">
<h2>Log in</h2>
)HTML";
  if (!message.empty()) {
    out += "<p class=\"err\" id=\"login-error\" role=\"alert\">";
    append_escaped(out, message);
    out += "</p>\n";
  }
  out += R"HTML(<label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<p class="muted">The token is kept in <code>serve.token</code> in concord's state directory (or in the variable <code>[serve] token_env</code> names).</p>
<button type="submit">Log in</button>
</form>
</main>
</body>
</html>
)HTML";
  return out;
}

std::string status_page_html() {
  std::string out;
  out.reserve(kDocumentStart.size() + kPagePolicy.size() + kBaseStyle.size() + kStatusStyle.size() +
              kStatusScript.size() + 2048);
  out += kDocumentStart;
  out += kPagePolicy;
  out += "<title>concord \u2014 scheduled jobs</title>\n<style>";
  out += kBaseStyle;
  out += kStatusStyle;
  out += R"HTML(</style>
</head>
<body>
<header class="top"><h1>concord</h1><span class="sub">Scheduled jobs</span><span id="updated" class="right muted"></span><button type="button" id="logout" class="link-button">Log out</button></header>
<main>
<div id="error" class="banner" role="alert" hidden></div>
<div class="panel">
<table id="syncs" class="grid">
<caption class="sr-only">Sync pairs and their last runs</caption>
<thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Schedule</th><th scope="col">Last run</th><th scope="col">Result</th><th scope="col">Counts</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
<tbody id="rows"></tbody>
</table>
<p id="loading" class="empty">Loading&hellip;</p>
<p id="empty" class="empty" hidden>No sync pairs are configured.</p>
</div>
<div id="streams-panel" class="panel" hidden>
<table id="streams" class="grid">
<caption>Streams: events and users forwarded as they come</caption>
<thead><tr><th scope="col">Name</th><th scope="col">Into</th><th scope="col">Accepted</th><th scope="col">Forwarded</th><th scope="col">Queued</th><th scope="col">Dropped</th><th scope="col">Last error</th></tr></thead>
<tbody id="stream-rows"></tbody>
</table>
</div>
</main>
<script>)HTML";
  out += kStatusScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

std::string runs_page_html(const nlohmann::json& sync_and_runs) {
  const std::string name = string_field(sync_and_runs, "name");
  std::string out;
  out.reserve(8192);
  out += kDocumentStart;
  out += kPagePolicy;
  out += "<title>";
  append_escaped(out, name);
  out += " \u2014 run history \u2014 concord</title>\n<style>";
  out += kBaseStyle;
  out += R"CSS(
.crumbs{margin:0 0 .75rem}
h2{font-size:1.15rem;margin:0 0 .75rem;overflow-wrap:anywhere}
@media (max-width:640px){
main{padding:.6rem}
.panel{background:none;border:0}
#runs thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
#runs,#runs tbody,#runs tr,#runs th,#runs td{display:block;width:100%}
#runs tbody tr{background:var(--card);border:1px solid var(--line);border-radius:10px;margin:0 0 .75rem;padding:.4rem .8rem}
#runs th[scope=row],#runs td{display:flex;justify-content:space-between;gap:1rem;border:0;padding:.25rem 0;text-align:right}
#runs th[scope=row]::before,#runs td::before{content:attr(data-label);color:var(--muted);font-weight:normal;text-align:left}
}
)CSS";
  out += R"HTML(</style>
</head>
<body>
<header class="top"><h1>concord</h1><span class="sub">Run history</span></header>
<main>
<p class="crumbs"><a href="/" data-local>&larr; all sync pairs</a></p>
<h2>)HTML";
  append_escaped(out, name.empty() ? std::string_view("(unnamed)") : std::string_view(name));
  out += "</h2>\n";

  const json* runs = field(sync_and_runs, "runs");
  if (runs == nullptr || !runs->is_array() || runs->empty()) {
    out += "<div class=\"panel\"><p class=\"empty\" id=\"no-runs\">No runs yet.</p></div>\n";
  } else {
    out += R"HTML(<div class="panel">
<table id="runs" class="grid">
<caption class="sr-only">Runs</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col" class="num">Duration</th><th scope="col">Result</th><th scope="col" class="num">Planned</th><th scope="col" class="num">Applied</th><th scope="col" class="num">Failed</th><th scope="col" class="num">Refused</th><th scope="col" class="num">Report rows</th><th scope="col"><span class="sr-only">Report</span></th></tr></thead>
<tbody>
)HTML";
    static const json kEmpty = json::object();
    for (const json& run : *runs) {
      if (!run.is_object()) continue;
      const json* counts_ptr = field(run, "counts");
      const json& counts = counts_ptr != nullptr && counts_ptr->is_object() ? *counts_ptr : kEmpty;
      const std::string id = number_text(field(run, "id"));
      const std::string result = string_field(run, "result");
      out += "<tr data-run=\"";
      append_escaped(out, id);
      out += "\"><th scope=\"row\" class=\"run-id\" data-label=\"Run\">#";
      append_escaped(out, id);
      // An undo says which run it undid.
      if (const json* undoes = field(run, "undoes"); undoes != nullptr && undoes->is_number()) {
        const std::string undone = number_text(undoes);
        out += " <span class=\"undo\" data-undoes=\"";
        append_escaped(out, undone);
        out += "\">undo of #";
        append_escaped(out, undone);
        out += "</span>";
      }
      out += "</th><td data-label=\"Started\">";
      append_time(out, string_field(run, "started"), "\u2014");
      out += "</td><td data-label=\"Ended\">";
      append_time(out, string_field(run, "ended"), result == "running" ? "running" : "\u2014");
      out += "</td><td class=\"num\" data-label=\"Duration\">";
      append_escaped(out, duration_text(field(run, "duration_s")));
      out += "</td><td data-label=\"Result\">";
      if (!result.empty()) {
        out += "<span class=\"result r-";
        out += known_result(result) ? result : std::string("unknown");
        out += "\" data-result=\"";
        append_escaped(out, result);
        out += "\">";
        append_escaped(out, result);
        out += "</span>";
      } else {
        out += "\u2014";
      }
      out += "</td>";
      for (auto [key, label] : {std::pair{"planned", "Planned"}, std::pair{"applied", "Applied"},
                                std::pair{"failed", "Failed"}, std::pair{"refused", "Refused"},
                                std::pair{"report_rows", "Report rows"}}) {
        out += "<td class=\"num\" data-label=\"";
        out += label;
        out += "\">";
        append_escaped(out, number_text(field(counts, key)));
        out += "</td>";
      }
      out += "<td data-label=\"Report\">";
      const std::string report = string_field(run, "report_url");
      if (local_path(report)) {
        out += "<a class=\"report\" data-local href=\"";
        append_escaped(out, report);
        out += "\">report</a>";
      }
      out += "</td></tr>\n";
    }
    out += "</tbody>\n</table>\n</div>\n";
  }
  out += "</main>\n<script>";
  out += kRunsScript;
  out += "</script>\n</body>\n</html>\n";
  return out;
}

}  // namespace concord::serve
