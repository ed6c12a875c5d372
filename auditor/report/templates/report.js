/* auditor report: host table (filter, sort, lazy pages of rows) and host details.
   Every value from the report goes into the page through textContent or setAttribute: never as markup. */
(function () {
  "use strict";
  var PAGE = 200, MAX_TEXT = 20000, MAX_ITEMS = 200, MAX_DEPTH = 6, MAX_LISTING = 500;
  var DATA = JSON.parse(document.getElementById("auditor-data").textContent);
  /* the table's records: one array per host, in the order of DATA.fields */
  var HOSTS = DATA.rows.map(function (r) { var h = {}; DATA.fields.forEach(function (f, i) { h[f] = r[i]; }); return h; });
  DATA.rows = null;
  var SEV_RANK = {critical: 5, high: 4, medium: 3, low: 2, info: 1, "": 0};
  var CONF_RANK = {high: 3, medium: 2, low: 1, "": 0};
  var STATUS_RANK = {error: 6, timed_out: 5, auth_failed: 4, unreachable: 3, failed: 2, ok: 1};
  var REMEDIATION = DATA.kind === "remediation", CHECK_MODE = !!DATA.check_mode;
  var TASK_ORDER = ["failed", "changed", "ok", "skipped"];
  var state = {verdict: "", severity: "", group: "", outcome: "", attention: "", fix: "", task: "", text: "", sort: "attention", dir: -1, shown: PAGE};
  var rows = HOSTS, expanded = Object.create(null);
  var tbody = document.getElementById("host-rows");
  var moreBtn = document.getElementById("more");
  var shownEl = document.getElementById("shown");

  HOSTS.forEach(function (h, i) {
    h._i = i;
    h._hay = [h.name, h.address, h.platform, h.status, h.verdict, h.verdict ? labelOf(h.verdict) : "", h.error || ""]
      .concat(h.groups, h.failed).join("\n").toLowerCase();
  });

  /* Details on demand: each block of DATA.chunk hosts' details is base64(gzip(JSON)) in a script element of its own
     after this script; it is unpacked (DecompressionStream: no request, no eval) when one of its hosts is opened. */
  var blocks = Object.create(null), detailsState = "lazy";
  function loadBlock(k) {
    if (!blocks[k]) blocks[k] = new Promise(function (resolve) {
      var text = document.getElementById("auditor-details-" + k).textContent, bin = atob(text.trim());
      var bytes = new Uint8Array(bin.length);
      for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      resolve(new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text());
    }).then(function (json) {
      JSON.parse(json).forEach(function (d, j) {
        var h = HOSTS[k * DATA.chunk + j];
        h.plays = d.plays; h.previous = d.previous;
        var parts = [];
        d.plays.forEach(function (p) {
          (p.checks || []).forEach(function (c) { if (c.status === "failed" || c.status === "error") parts.push(c.message || ""); });
          (p.tasks || []).forEach(function (t) { parts.push(t.name, t.loop_item || ""); if (t.status === "failed") parts.push(t.message || ""); });
        });
        if (parts.length) h._hay += "\n" + parts.join("\n").toLowerCase();
      });
    });
    return blocks[k];
  }
  function withDetails(h) { return loadBlock(Math.floor(h._i / DATA.chunk)); }
  /* Small runs: unpack every block once the table is drawn (search then covers messages; print has everything). */
  function prefetch() {
    var k = 0, count = Math.ceil(HOSTS.length / DATA.chunk);
    function next() {
      if (k >= count) { detailsState = "ready"; document.documentElement.setAttribute("data-details", "ready"); if (state.text) apply(); return; }
      loadBlock(k++).then(next, failed);
    }
    function failed(e) { document.documentElement.setAttribute("data-details", "failed"); console.warn("details: " + e); }
    next();
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function badge(text, tone) { return el("span", "badge " + tone, text); }
  function taskLabel(status) { return CHECK_MODE && status === "changed" ? "would change" : status; }
  function taskCount(h, status) { return (h.tasks && h.tasks[status]) || 0; }
  function toneOf(name) { return Object.prototype.hasOwnProperty.call(DATA.tones, name) ? DATA.tones[name] : "review"; }
  function labelOf(name) { return Object.prototype.hasOwnProperty.call(DATA.labels, name) ? DATA.labels[name] : name; }
  /* A verdict as people read it: its label on a badge, the code name next to it in small type. */
  function verdictLabel(name, tone) {
    var span = el("span", "vlabel");
    span.appendChild(badge(labelOf(name), "tone-" + tone));
    if (labelOf(name) !== name) { span.appendChild(document.createTextNode(" ")); span.appendChild(el("code", "code", name)); }
    return span;
  }

  var SORTS = {
    attention: function (h) { return [h.arank, h.vrank, h.srank]; },
    name: function (h) { return [h.name.toLowerCase()]; },
    platform: function (h) { return [h.platform]; },
    status: function (h) { return [STATUS_RANK[h.status] || 0]; },
    verdict: function (h) { return [h.vrank, h.verdict]; },
    confidence: function (h) { return [CONF_RANK[h.confidence] || 0]; },
    severity: function (h) { return [h.srank]; },
    failed: function (h) { return REMEDIATION ? [taskCount(h, "failed"), taskCount(h, "changed")] : [h.failed.length]; }
  };
  function cmp(a, b) {
    for (var i = 0; i < a.length; i++) { if (a[i] < b[i]) return -1; if (a[i] > b[i]) return 1; }
    return 0;
  }
  function matches(h) {
    if (state.verdict && (state.verdict === "(no verdict)" ? h.verdict !== "" : h.verdict !== state.verdict)) return false;
    if (state.severity && (state.severity === "none" ? h.severity !== "" : h.severity !== state.severity)) return false;
    if (state.group && h.groups.indexOf(state.group) < 0) return false;
    if (state.outcome && h.status !== state.outcome) return false;
    if (state.attention && h.attention !== state.attention) return false;
    if (state.fix && h.fix !== state.fix) return false;
    if (state.task && !taskCount(h, state.task)) return false;
    if (state.text && h._hay.indexOf(state.text) < 0) return false;
    return true;
  }
  function apply() {
    var key = SORTS[state.sort], dir = state.dir;
    rows = HOSTS.filter(matches);
    rows.sort(function (a, b) { return dir * cmp(key(a), key(b)) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0); });
    document.querySelectorAll("#hosts th[data-sort]").forEach(function (th) {
      if (th.getAttribute("data-sort") === state.sort) th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    render(state.shown);
  }
  function render(limit) {
    var frag = document.createDocumentFragment();
    var n = Math.min(limit, rows.length);
    for (var i = 0; i < n; i++) appendHost(frag, rows[i]);
    tbody.replaceChildren(frag);
    shownEl.textContent = "Showing " + n + " of " + rows.length + " matching hosts (" + HOSTS.length + " in the run).";
    moreBtn.hidden = n >= rows.length;
    moreBtn.textContent = "Show " + Math.min(PAGE, rows.length - n) + " more (" + (rows.length - n) + " not shown)";
  }
  function appendHost(parent, h) {
    var tr = el("tr", "host");
    tr.setAttribute("data-host", h.id);
    var t = el("td"), b = el("button", "toggle", "+");
    b.type = "button";
    b.setAttribute("aria-expanded", "false");
    b.setAttribute("aria-label", "Show details of " + h.name);
    b.addEventListener("click", function () { toggle(h, tr, b); });
    t.appendChild(b); tr.appendChild(t);
    var name = el("td", "name", h.name);
    name.appendChild(el("span", "addr", h.address + (h.port ? ":" + h.port : "") + " · " + h.connection));
    tr.appendChild(name);
    tr.appendChild(el("td", null, h.platform));
    tr.appendChild(el("td", null, h.groups.join(", ")));
    var st = el("td"); st.appendChild(badge(h.status, "tone-" + (h.status === "ok" ? "ok" : h.status === "failed" ? "risk" : "down"))); tr.appendChild(st);
    var vd = el("td"); if (h.verdict) vd.appendChild(verdictLabel(h.verdict, h.tone)); else vd.appendChild(el("span", "muted", "none")); tr.appendChild(vd);
    tr.appendChild(el("td", null, h.confidence));
    tr.appendChild(el("td", h.severity ? "sev sev-" + h.severity : "muted", h.severity || "none"));
    if (REMEDIATION) {
      tr.appendChild(el("td", null, TASK_ORDER.filter(function (s) { return taskCount(h, s); })
        .map(function (s) { return taskCount(h, s) + " " + taskLabel(s); }).join(", ")));
    } else tr.appendChild(el("td", "mono", h.failed.join(" ")));
    parent.appendChild(tr);
    if (expanded[h.id]) { var d = detailRow(h); parent.appendChild(d); b.setAttribute("aria-expanded", "true"); b.textContent = "−"; }
  }
  function toggle(h, tr, b) {
    var next = tr.nextElementSibling;
    if (expanded[h.id]) {
      delete expanded[h.id];
      if (next && next.classList.contains("detail")) next.remove();
      b.setAttribute("aria-expanded", "false"); b.textContent = "+";
    } else {
      expanded[h.id] = true;
      tr.after(detailRow(h));
      b.setAttribute("aria-expanded", "true"); b.textContent = "−";
    }
  }

  function detailRow(h) {
    var tr = el("tr", "detail"), td = el("td");
    td.colSpan = 9;
    tr.setAttribute("data-detail-for", h.id);
    tr.appendChild(td);
    if (h.plays) { fillDetail(td, h); return tr; }
    td.appendChild(el("p", "muted loading", "Unpacking the details of " + h.name + "…"));
    withDetails(h).then(function () { td.textContent = ""; fillDetail(td, h); }, function (e) {
      td.textContent = "";
      td.appendChild(el("p", "alert", "This browser could not unpack the host's details (" + e + "); the JSON report holds them."));
    });
    return tr;
  }
  function fillDetail(td, h) {
    td.appendChild(el("h3", null, "Host " + h.name));
    if (h.error) td.appendChild(el("p", "alert", "Host " + h.status.replace("_", " ") + ": " + h.error));
    if (h.previous) td.appendChild(el("p", "muted", "Since the previous scan (run " + h.previous.run_id + "): " + h.previous.change +
      "; before: " + (h.previous.verdict || h.previous.status || "not audited")));
    h.plays.forEach(function (p) { td.appendChild(playBlock(p)); });
    if (!h.plays.length && !h.error) td.appendChild(el("p", "muted", "No plays ran on this host."));
  }
  var CHECK_ORDER = {error: 0, failed: 1, waived: 2, passed: 3, skipped: 4, not_applicable: 5};
  function playBlock(p) {
    var box = el("div", "play");
    p.checks = p.checks || []; p.tasks = p.tasks || []; p.collectors = (p.collectors || []).filter(function (c) { return c.error || c.truncated; });
    /* worst first: status, then severity; the run's order otherwise */
    p.checks = p.checks.map(function (c, i) { return [c, i]; }).sort(function (a, b) {
      return (CHECK_ORDER[a[0].status] - CHECK_ORDER[b[0].status]) || (SEV_RANK[b[0].severity] - SEV_RANK[a[0].severity]) || (a[1] - b[1]);
    }).map(function (x) { return x[0]; });
    box.appendChild(el("h4", null, "Play: " + p.play));
    box.appendChild(el("p", "muted", "Playbook " + p.playbook));
    if (p.error) box.appendChild(el("p", "alert", "Play error: " + p.error));
    p.collectors.forEach(function (c) {
      box.appendChild(el("p", "alert", "Collector " + c.name + (c.truncated ? " output was truncated" : "") + (c.error ? ": " + c.error : "")));
    });
    if (p.verdict) box.appendChild(verdictBlock(p.verdict));
    var configs = [];
    p.checks.forEach(function (c) { findListings(c.evidence, c.id, configs, 0); });
    configs.forEach(function (cfg) { box.appendChild(listingBlock(cfg.owner, cfg.value)); });
    if (p.checks.length) box.appendChild(checksTable(p.checks));
    if (p.tasks.length) box.appendChild(tasksTable(p.tasks));
    return box;
  }

  /* Remediation tasks in the order they ran; a diff is text in a collapsed <pre>, one span per line. */
  function tasksTable(tasks) {
    var t = el("table", "tasks");
    t.appendChild(el("caption", "visually-hidden", "Remediation tasks in the order they ran"));
    var head = el("thead"), hr = el("tr");
    ["#", "Status", "Task", "Result"].forEach(function (c) { var th = el("th", null, c); th.scope = "col"; hr.appendChild(th); });
    head.appendChild(hr); t.appendChild(head);
    var tb = el("tbody");
    tasks.forEach(function (k, i) {
      var tr = el("tr", "task task-" + k.status);
      tr.appendChild(el("td", "muted", i + 1));
      var st = el("td"); st.appendChild(badge(taskLabel(k.status), "st-" + k.status)); tr.appendChild(st);
      var name = el("td");
      name.appendChild(el("div", "task-name", k.name + (k.loop_item ? " [" + k.loop_item + "]" : "")));
      name.appendChild(el("div", "muted", "module " + k.module));
      tr.appendChild(name);
      var res = el("td", "msg");
      if (k.message) res.appendChild(el("div", null, k.message));
      if (k.backup_path) {
        var bp = el("div", "backup", "Backup: ");
        bp.appendChild(el("code", null, k.backup_path));
        res.appendChild(bp);
      }
      if (k.diff) res.appendChild(diffBlock(k.diff, k.check_mode));
      tr.appendChild(res);
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }
  function diffBlock(diff, checkMode) {
    var text = String(diff), lines;
    if (text.length > MAX_TEXT) text = text.slice(0, MAX_TEXT) + "\n… (" + (String(diff).length - MAX_TEXT) + " more characters)";
    lines = text.split("\n");
    if (lines.length && lines[lines.length - 1] === "") lines.pop();
    var det = el("details", "diff");
    det.appendChild(el("summary", null, (checkMode ? "Diff of what would change" : "Diff") + " (" + lines.length + " lines)"));
    var pre = el("pre", "diff"), inHunk = false;
    lines.forEach(function (line) {
      var cls = null;
      if (line.slice(0, 2) === "@@") { cls = "d-hunk"; inHunk = true; }
      else if (!inHunk) cls = "d-file";  // "--- before" / "+++ after" headers are not removed/added lines
      else if (line.charAt(0) === "+") cls = "d-add";
      else if (line.charAt(0) === "-") cls = "d-del";
      pre.appendChild(el("span", cls, line + "\n"));
    });
    det.appendChild(pre);
    return det;
  }
  function verdictBlock(v) {
    var tone = v.name ? toneOf(v.name) : "review";
    var box = el("div", "verdict-box tone-border-" + tone);
    var head = el("p");
    head.appendChild(el("strong", null, "Verdict "));
    head.appendChild(verdictLabel(v.name, tone));
    head.appendChild(document.createTextNode(" confidence " + v.confidence));
    box.appendChild(head);
    if (v.summary) box.appendChild(el("p", null, v.summary));
    if (v.decided_by && v.decided_by.length) box.appendChild(el("p", "muted", "Decided by " + v.decided_by.join(", ")));
    (v.notes || []).forEach(function (n) { box.appendChild(el("p", "muted", "Note: " + n)); });
    if (v.remediation && v.remediation.length) {
      box.appendChild(el("h5", "visually-hidden", "Remediation"));
      box.appendChild(el("p", null, "Remediation, in order:"));
      var ol = el("ol", "steps");
      v.remediation.forEach(function (s) { ol.appendChild(el("li", null, s)); });
      box.appendChild(ol);
    }
    return box;
  }

  /* A parsed config listing is any object with "lines": [{n, text}] (and maybe "warnings": [{line, message}]). */
  function isListing(v) {
    return v && typeof v === "object" && !Array.isArray(v) && Array.isArray(v.lines) && v.lines.length > 0 &&
      v.lines.every(function (l) { return l && typeof l === "object" && "n" in l && "text" in l; });
  }
  /* Parser warnings [{line, message}] and key issues [{line, text}] read best as "line N: ..." lists. */
  function isWarnings(v) {
    return Array.isArray(v) && v.length > 0 && v.every(function (w) {
      return w && typeof w === "object" && !Array.isArray(w) && ("message" in w || ("text" in w && "line" in w));
    });
  }
  function findListings(v, owner, out, depth) {
    if (!v || typeof v !== "object" || depth > MAX_DEPTH) return;
    if (isListing(v)) { out.push({owner: owner, value: v}); return; }
    var vals = Array.isArray(v) ? v : Object.keys(v).map(function (k) { return v[k]; });
    vals.forEach(function (x) { findListings(x, owner, out, depth + 1); });
  }
  function listingBlock(owner, v) {
    var box = el("div", "config");
    var title = ".wslconfig" + (v.profile || v.path ? " " + (v.profile || v.path) : "");
    box.appendChild(el("h5", "cfg-title", title + " (from " + owner + ")"));
    if (v.user || v.section_used) box.appendChild(el("p", "muted", [v.user ? "user " + v.user : "", v.section_used ? "section used [" + v.section_used + "]" : ""].filter(Boolean).join(", ")));
    var warned = Object.create(null);
    [v.warnings, v.issues].forEach(function (list) {
      (Array.isArray(list) ? list : []).forEach(function (w) { if (w && w.line != null) warned[w.line] = true; });
    });
    var table = el("table", "listing");
    table.appendChild(el("caption", "visually-hidden", title + " with line numbers"));
    var tb = el("tbody");
    v.lines.slice(0, MAX_LISTING).forEach(function (l) {
      var tr = el("tr", warned[l.n] ? "warned" : null);
      var th = el("th", null, l.n); th.scope = "row";
      tr.appendChild(th); tr.appendChild(el("td", null, l.text));
      tb.appendChild(tr);
    });
    table.appendChild(tb);
    box.appendChild(table);
    if (v.lines.length > MAX_LISTING) box.appendChild(el("p", "muted", (v.lines.length - MAX_LISTING) + " more lines not shown"));
    if (isWarnings(v.warnings)) box.appendChild(warningsList(v.warnings));
    if (isWarnings(v.issues)) box.appendChild(warningsList(v.issues));
    return box;
  }
  function warningsList(ws) {
    var ul = el("ul", "warnings");
    ws.slice(0, MAX_ITEMS).forEach(function (w) {
      ul.appendChild(el("li", null, (w.line != null ? "line " + w.line + ": " : "") + ("message" in w ? w.message : w.text)));
    });
    if (ws.length > MAX_ITEMS) ul.appendChild(el("li", "muted", (ws.length - MAX_ITEMS) + " more"));
    return ul;
  }

  function checksTable(checks) {
    var t = el("table", "checks");
    var head = el("thead"), hr = el("tr");
    ["Status", "Check", "Severity", "Message", "Evidence"].forEach(function (c) { var th = el("th", null, c); th.scope = "col"; hr.appendChild(th); });
    head.appendChild(hr); t.appendChild(head);
    var tb = el("tbody");
    checks.forEach(function (c) {
      var tr = el("tr");
      var st = el("td"); st.appendChild(badge(c.status.replace("_", " "), "st-" + c.status)); tr.appendChild(st);
      var id = el("td"); id.appendChild(el("code", null, c.id)); id.appendChild(el("div", null, c.title)); tr.appendChild(id);
      tr.appendChild(el("td", "sev sev-" + c.severity, c.severity));
      var msg = el("td", "msg", c.message || "");
      if (c.remediation && (c.status === "failed" || c.status === "error")) msg.appendChild(el("div", "muted", "Fix: " + c.remediation));
      tr.appendChild(msg);
      var ev = el("td", "evcell");
      var keys = c.evidence ? Object.keys(c.evidence) : [];
      if (keys.length) {
        var det = el("details", "evidence");
        det.appendChild(el("summary", null, "Evidence (" + keys.length + ")"));
        var body = el("div", "ev");
        body.appendChild(renderValue(c.evidence, 0));
        det.appendChild(body);
        ev.appendChild(det);
      } else ev.appendChild(el("span", "muted", "none"));
      tr.appendChild(ev);
      tb.appendChild(tr);
    });
    t.appendChild(tb);
    return t;
  }

  /* Generic evidence: objects as <dl>, arrays as lists, long or multi-line text in <pre>. */
  function renderValue(v, depth) {
    if (v === null || v === undefined) return el("span", "muted", "null");
    if (typeof v !== "object") {
      var s = String(v);
      if (s.length > MAX_TEXT) s = s.slice(0, MAX_TEXT) + "\n… (" + (String(v).length - MAX_TEXT) + " more characters)";
      return (typeof v === "string" && (s.length > 100 || s.indexOf("\n") >= 0)) ? el("pre", null, s) : el("span", null, s);
    }
    if (depth >= MAX_DEPTH) return el("pre", null, JSON.stringify(v).slice(0, MAX_TEXT));
    if (Array.isArray(v)) {
      if (!v.length) return el("span", "muted", "(empty)");
      if (isWarnings(v)) return warningsList(v);
      var list = el("ol");
      v.slice(0, MAX_ITEMS).forEach(function (x) { var li = el("li"); li.appendChild(renderValue(x, depth + 1)); list.appendChild(li); });
      if (v.length > MAX_ITEMS) { list.appendChild(el("li", "muted", (v.length - MAX_ITEMS) + " more items")); }
      return list;
    }
    var keys = Object.keys(v);
    if (!keys.length) return el("span", "muted", "(empty)");
    var dl = el("dl");
    keys.forEach(function (k) {
      if (k === "lines" && isListing(v)) { dl.appendChild(el("dt", null, k)); dl.appendChild(el("dd", "muted", v.lines.length + " lines, shown above with line numbers")); return; }
      dl.appendChild(el("dt", null, k));
      var dd = el("dd");
      dd.appendChild(renderValue(v[k], depth + 1));
      dl.appendChild(dd);
    });
    return dl;
  }

  /* Controls */
  var SELECTS = {verdict: "f-verdict", severity: "f-severity", group: "f-group", outcome: "f-outcome", attention: "f-attention", fix: "f-fix", task: "f-task"};
  Object.keys(SELECTS).forEach(function (k) { if (!document.getElementById(SELECTS[k])) delete SELECTS[k]; });  // f-task: remediation only
  var text = document.getElementById("f-text"), timer = null;
  function clearFilters() {
    Object.keys(SELECTS).forEach(function (k) { state[k] = ""; document.getElementById(SELECTS[k]).value = ""; });
    state.text = ""; text.value = ""; state.shown = PAGE;
  }
  Object.keys(SELECTS).forEach(function (key) {
    var s = document.getElementById(SELECTS[key]);
    s.addEventListener("change", function () { state[key] = s.value; state.shown = PAGE; apply(); });
  });
  text.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { state.text = text.value.trim().toLowerCase(); state.shown = PAGE; apply(); }, 120);
  });
  document.getElementById("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  document.getElementById("f-reset").addEventListener("click", function () { clearFilters(); apply(); });
  document.querySelectorAll("#hosts th[data-sort] button").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var k = btn.parentElement.getAttribute("data-sort");
      if (state.sort === k) state.dir = -state.dir; else { state.sort = k; state.dir = (k === "name" || k === "platform") ? 1 : -1; }
      apply();
    });
  });
  moreBtn.addEventListener("click", function () { state.shown += PAGE; render(state.shown); });
  document.querySelectorAll("button[data-filter]").forEach(function (b) {
    b.addEventListener("click", function () {
      var kind = b.getAttribute("data-filter"), value = b.getAttribute("data-value");
      clearFilters();
      state[kind] = value; document.getElementById(SELECTS[kind]).value = value;
      apply();
      document.getElementById("hosts-h").scrollIntoView();
    });
  });
  document.querySelectorAll("button[data-show-host]").forEach(function (b) {
    b.addEventListener("click", function () {
      var id = b.getAttribute("data-show-host");
      clearFilters();
      state.text = id.toLowerCase(); text.value = id; expanded[id] = true;
      apply();
      var row = tbody.querySelector("tr.detail");
      (row || document.getElementById("hosts-h")).scrollIntoView();
    });
  });

  /* Printing: every matching host, expanded, evidence open. */
  var openedForPrint = [];
  window.addEventListener("beforeprint", function () {
    rows.forEach(function (h) { expanded[h.id] = true; });
    render(rows.length);
    document.querySelectorAll("details:not([open])").forEach(function (d) { d.open = true; openedForPrint.push(d); });
  });
  window.addEventListener("afterprint", function () {
    openedForPrint.forEach(function (d) { d.open = false; }); openedForPrint = [];
    expanded = Object.create(null); render(state.shown);
  });

  apply();
  /* the blocks of details follow this script: they are parsed once the document is */
  document.addEventListener("DOMContentLoaded", function () {
    if (HOSTS.length <= DATA.prefetch) prefetch(); else document.documentElement.setAttribute("data-details", detailsState);
  });
})();
