/* Scheduled Tasks plugin page: plain JS, no build step, no external resources.
 *
 * Runs in the AstrBot dashboard's sandboxed iframe (no same-origin: no storage, no
 * cookies, no window.confirm). Every request goes through the dashboard bridge
 * (window.AstrBotPluginPage), which adds the login token. The bridge only sends GET and
 * POST, so edits and deletes are POST /jobs/<id> with "_method": "PATCH" / "DELETE".
 */
(function () {
  "use strict";

  const bridge = window.AstrBotPluginPage || window.AstrBotPluginView || null;
  const REFRESH_MS = 5000;
  const PAGE_SIZE = 50;
  const RUNS_PAGE = 10;
  const REQUEST_TIMEOUT_MS = 30000;

  const state = {
    ready: false,
    jobs: [],
    total: 0,
    offset: 0,
    filter: "all", // "all" | "true" | "false" (the API's enabled=)
    q: "",
    status: null,
    loadError: "",
    loaded: false,
    expanded: new Set(),
    runs: {}, // job id -> {runs, total, error, limit}
    busy: new Set(), // job ids with a request in flight
    formOpen: false,
    confirmOpen: false,
    editing: null, // the job being edited, or null when creating
    initial: null, // the form's values when it opened (edit: only changes are sent)
    seq: 0,
    refreshing: null,
    again: false,
    lastHtml: "",
    core: null, // AstrBot's own future tasks: {tasks, proactive, two_schedulers}
  };

  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  // ----- i18n -------------------------------------------------------------------------------

  function t(key, fallback, vars) {
    let text = fallback || key;
    if (bridge && typeof bridge.t === "function") {
      try {
        text = bridge.t(key, fallback) || fallback || key;
      } catch (_err) {
        text = fallback || key;
      }
    }
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, (m, k) =>
        Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m,
      );
    }
    return text;
  }

  function locale() {
    try {
      return (bridge && bridge.getLocale && bridge.getLocale()) || "en-US";
    } catch (_err) {
      return "en-US";
    }
  }

  function applyStatic() {
    for (const el of $$("[data-i18n]")) {
      if (el.dataset.fallback === undefined) {
        el.dataset.fallback = el.textContent.replace(/\s+/g, " ").trim();
      }
      el.textContent = t(el.dataset.i18n, el.dataset.fallback);
    }
    for (const el of $$("[data-i18n-placeholder]")) {
      if (el.dataset.fallbackPlaceholder === undefined) {
        el.dataset.fallbackPlaceholder = el.getAttribute("placeholder") || "";
      }
      el.setAttribute("placeholder", t(el.dataset.i18nPlaceholder, el.dataset.fallbackPlaceholder));
    }
    document.title = t("pages.future-tasks.title", "Scheduled Tasks");
    document.documentElement.lang = locale();
    for (const el of $$("[aria-label='Close']")) el.setAttribute("title", t("ui.close", "Close"));
    updateFormHints();
  }

  const MODE_LABELS = {
    reminder: ["ui.mode_reminder", "Reminder"],
    main: ["ui.mode_main", "Main-chat agent"],
    isolated: ["ui.mode_isolated", "Isolated agent"],
  };
  const RUN_STATUS = {
    running: ["ui.run_running", "running"],
    ok: ["ui.run_ok", "ok"],
    error: ["ui.run_error", "error"],
    timeout: ["ui.run_timeout", "timed out"],
    interrupted: ["ui.run_interrupted", "interrupted"],
    missed: ["ui.run_missed", "missed"],
  };
  const DELIVERY = {
    pending: ["ui.delivery_pending", "sending"],
    delivered: ["ui.delivery_delivered", "delivered"],
    "not-delivered": ["ui.delivery_not_delivered", "not delivered"],
    "not-requested": ["ui.delivery_not_requested", "no delivery"],
    unknown: ["ui.delivery_unknown", "unknown (the bot stopped)"],
  };
  const TRIGGER = {
    schedule: ["ui.trigger_schedule", "schedule"],
    manual: ["ui.trigger_manual", "run now"],
    retry: ["ui.trigger_retry", "retry"],
  };
  const CATCH_UP = {
    once: ["ui.catch_once", "Run the latest missed once"],
    skip: ["ui.catch_skip", "Skip missed runs"],
    all: ["ui.catch_all", "Run every missed run"],
  };

  function label(table, value) {
    const entry = table[value];
    return entry ? t(entry[0], entry[1]) : String(value == null ? "" : value);
  }

  // ----- helpers ----------------------------------------------------------------------------

  function esc(value) {
    return String(value == null ? "" : value)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  /** "2026-01-12 18:00:00 CST (Asia/Shanghai)" -> ["2026-01-12 18:00:00 CST", "Asia/Shanghai"] */
  function splitLocal(text) {
    if (!text) return ["", ""];
    const m = /^(.*?)\s*\(([^()]+)\)\s*$/.exec(text);
    return m ? [m[1], m[2]] : [text, ""];
  }

  /** The local time without its seconds, for the table (the title keeps the full one). */
  function shortLocal(text) {
    return splitLocal(text)[0].replace(/(\d{1,2}:\d{2}):\d{2}/, "$1");
  }

  function relative(atMs) {
    if (typeof atMs !== "number") return "";
    const diff = atMs - Date.now();
    const abs = Math.abs(diff);
    let value;
    let unit;
    if (abs < 60e3) {
      value = Math.round(diff / 1e3);
      unit = "second";
    } else if (abs < 3600e3) {
      value = Math.round(diff / 60e3);
      unit = "minute";
    } else if (abs < 86400e3) {
      value = Math.round(diff / 3600e3);
      unit = "hour";
    } else {
      value = Math.round(diff / 86400e3);
      unit = "day";
    }
    try {
      return new Intl.RelativeTimeFormat(locale(), { numeric: "auto" }).format(value, unit);
    } catch (_err) {
      return "";
    }
  }

  function duration(ms) {
    if (typeof ms !== "number") return "";
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + " s";
    const m = Math.floor(ms / 60000);
    const s = Math.round((ms % 60000) / 1000);
    return m + " min" + (s ? " " + s + " s" : "");
  }

  // ----- schedules in words ---------------------------------------------------------------

  function scheduleWords(sched) {
    const fallback = String(sched.words || sched.text || sched.kind || "").replace(/\s*\([^()]*\)\s*$/, "");
    try {
      if (sched.kind === "every" && typeof sched.every_ms === "number") return everyWords(sched.every_ms, sched.every);
      if (sched.kind === "at" && sched.at_local) {
        const time = shortLocal(sched.at_local);
        return t("ui.once_at", "once, {time}", { time });
      }
      if (sched.kind === "cron" && sched.expr) return cronWords(sched.expr) || fallback;
    } catch (_err) {
      return fallback;
    }
    return fallback;
  }

  function everyWords(ms, compact) {
    const units = [
      [86400e3, "day"],
      [3600e3, "hour"],
      [60e3, "minute"],
      [1e3, "second"],
    ];
    for (const [size, unit] of units) {
      if (ms >= size && ms % size === 0) {
        const n = ms / size;
        if (n === 1) return t("ui.every_1_" + unit, "every " + unit);
        return t("ui.every_n_" + unit + "s", "every {n} " + unit + "s", { n });
      }
    }
    return t("ui.every_other", "every {d}", { d: compact || ms + " ms" });
  }

  const DOW_NAMES = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };

  function weekdayName(n) {
    // 2024-01-07 was a Sunday.
    const date = new Date(Date.UTC(2024, 0, 7 + (n % 7), 12));
    return new Intl.DateTimeFormat(locale(), { weekday: "short", timeZone: "UTC" }).format(date);
  }

  function dowNumber(text) {
    const key = text.toLowerCase();
    if (key in DOW_NAMES) return DOW_NAMES[key];
    if (/^[0-7]$/.test(key)) return Number(key) % 7;
    return null;
  }

  /** "mon-fri" -> "Mon–Fri", "sat,sun" -> "Sat, Sun"; null when it is not that simple. */
  function daysWords(field) {
    const parts = [];
    for (const item of field.split(",")) {
      const range = item.split("-");
      if (range.length === 2) {
        const a = dowNumber(range[0]);
        const b = dowNumber(range[1]);
        if (a === null || b === null) return null;
        parts.push(weekdayName(a) + "–" + weekdayName(b));
      } else {
        const a = dowNumber(item);
        if (a === null) return null;
        parts.push(weekdayName(a));
      }
    }
    return parts.join(t("ui.list_sep", ", "));
  }

  function pad2(n) {
    return String(n).padStart(2, "0");
  }

  /** Common cron shapes in words; null for anything else (the expression is shown as written). */
  function cronWords(expr) {
    const f = String(expr).trim().split(/\s+/);
    if (f.length !== 5) return null;
    const [min, hour, dom, mon, dow] = f;
    const num = (x, hi) => /^\d{1,2}$/.test(x) && Number(x) <= hi;
    const step = /^\*\/(\d{1,2})$/;
    if (dom !== "*" || mon !== "*") {
      if (num(min, 59) && num(hour, 23) && num(dom, 31) && mon === "*" && dow === "*") {
        return t("ui.cron_monthly", "day {day} of every month at {time}", {
          day: Number(dom),
          time: pad2(hour) + ":" + pad2(min),
        });
      }
      return null;
    }
    if (hour === "*" && dow === "*") {
      if (min === "*") return everyWords(60e3);
      const m = step.exec(min);
      if (m) return everyWords(Number(m[1]) * 60e3);
      if (num(min, 59)) return t("ui.cron_hourly", "every hour at :{mm}", { mm: pad2(min) });
      return null;
    }
    if (!num(min, 59)) return null;
    const hours = hour.split(",");
    if (!hours.every((h) => num(h, 23))) return null;
    const time = hours.map((h) => pad2(h) + ":" + pad2(min)).join(t("ui.list_sep", ", "));
    if (dow === "*") return t("ui.cron_daily", "every day at {time}", { time });
    const days = daysWords(dow);
    return days ? t("ui.cron_weekly", "{days} at {time}", { days, time }) : null;
  }

  function withTimeout(promise) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(t("ui.err_timeout", "The dashboard did not answer in time."))),
        REQUEST_TIMEOUT_MS,
      );
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function api(method, endpoint, data) {
    if (!bridge) {
      return Promise.reject(
        new Error(t("ui.err_no_bridge", "Open this page from the AstrBot dashboard (Plugins → Scheduled Tasks).")),
      );
    }
    const call = method === "GET" ? bridge.apiGet(endpoint, data || {}) : bridge.apiPost(endpoint, data || {});
    return withTimeout(Promise.resolve(call));
  }

  function errorText(err) {
    const text = (err && (err.message || String(err))) || t("ui.err_unknown", "Something went wrong.");
    return text;
  }

  /** A session id, breakable after its colons (and slashes) instead of mid-word. */
  function breakable(text) {
    return esc(text).replace(/([:/])/g, "$1<wbr>");
  }

  function jobPath(id, rest) {
    return "jobs/" + encodeURIComponent(id) + (rest ? "/" + rest : "");
  }

  function jobTitle(job) {
    return job.display_name || job.name || job.id;
  }

  // ----- banner and toasts ------------------------------------------------------------------

  function showBanner(text) {
    $("#banner-text").textContent = text;
    $("#banner").hidden = !text;
  }

  function toast(text, isError) {
    const el = document.createElement("div");
    el.className = "toast" + (isError ? " error" : "");
    el.setAttribute("role", isError ? "alert" : "status");
    el.textContent = text;
    const box = $("#toasts");
    box.appendChild(el);
    while (box.childElementCount > 3) box.firstElementChild.remove();
    setTimeout(() => el.remove(), isError ? 9000 : 5000);
    el.addEventListener("click", () => el.remove());
  }

  // ----- loading ----------------------------------------------------------------------------

  async function loadJobs() {
    const params = { limit: PAGE_SIZE, offset: state.offset };
    if (state.q) params.q = state.q;
    if (state.filter !== "all") params.enabled = state.filter;
    const seq = ++state.seq;
    const data = await api("GET", "jobs", params);
    if (seq !== state.seq) return; // a newer list request (filter/search) was sent meanwhile
    const jobs = Array.isArray(data && data.jobs) ? data.jobs : [];
    const total = typeof data.total === "number" ? data.total : jobs.length;
    if (!jobs.length && state.offset > 0 && total > 0) {
      state.offset = Math.max(0, Math.floor((total - 1) / PAGE_SIZE) * PAGE_SIZE);
      return loadJobs();
    }
    state.jobs = jobs;
    state.total = total;
    state.loaded = true;
    const ids = new Set(jobs.map((j) => j.id));
    for (const id of Array.from(state.expanded)) {
      if (!ids.has(id)) state.expanded.delete(id);
    }
  }

  async function loadStatus() {
    state.status = await api("GET", "status");
  }

  /** AstrBot's own future tasks; a failure only hides the notice. */
  async function loadCoreTasks() {
    try {
      state.core = await api("GET", "core-tasks");
    } catch (_err) {
      state.core = null;
    }
    renderCoreNotice();
  }

  async function loadRuns(id) {
    const prev = state.runs[id] || { limit: RUNS_PAGE };
    try {
      const data = await api("GET", jobPath(id, "runs"), { limit: prev.limit });
      state.runs[id] = {
        runs: Array.isArray(data && data.runs) ? data.runs : [],
        total: data && typeof data.total === "number" ? data.total : 0,
        limit: prev.limit,
        error: "",
      };
    } catch (err) {
      state.runs[id] = { ...prev, error: errorText(err) };
    }
  }

  /** Load everything and draw it. A call while a load is under way makes that load go
   *  round once more (so a new filter or a just-made change is never missed) and gets
   *  the same promise. */
  function refresh() {
    if (state.refreshing) {
      state.again = true;
      return state.refreshing;
    }
    state.refreshing = (async () => {
      do {
        state.again = false;
        const results = await Promise.allSettled([loadJobs(), loadStatus()]);
        const failed = results.find((r) => r.status === "rejected");
        state.loadError = failed ? errorText(failed.reason) : "";
        await Promise.allSettled(Array.from(state.expanded).map(loadRuns));
        render();
      } while (state.again);
    })().finally(() => {
      state.refreshing = null;
    });
    return state.refreshing;
  }

  function tick() {
    if (!state.ready || state.formOpen || state.confirmOpen || document.hidden) return;
    refresh();
  }

  // ----- rendering --------------------------------------------------------------------------

  function render() {
    renderStatus();
    renderJobs();
    showBanner(state.loadError);
  }

  function renderStatus() {
    const s = state.status;
    const dot = $("#status-dot");
    const stateEl = $("#status-state");
    if (!s) {
      dot.className = "dot";
      stateEl.textContent = state.loadError ? t("ui.status_unknown", "Status unknown") : t("ui.loading", "Loading…");
      return;
    }
    dot.className = "dot " + (s.enabled ? "on" : "off");
    stateEl.textContent = s.enabled
      ? t("ui.scheduler_on", "Scheduler on")
      : s.off_reason
        ? t("ui.scheduler_off_because", "Scheduler off: {reason}", { reason: s.off_reason })
        : t("ui.scheduler_off", "Scheduler off");
    const c = s.jobs || {};
    $("#status-counts").textContent = t(
      "ui.status_counts",
      "{total} in all · {enabled} active · {disabled} paused · {running} running",
      { total: c.total || 0, enabled: c.enabled || 0, disabled: c.disabled || 0, running: c.running || 0 },
    );
    const [wake] = splitLocal(s.next_wake_local);
    const rel = relative(s.next_wake_at);
    $("#status-next").textContent = wake
      ? wake + (rel ? " (" + rel + ")" : "")
      : s.enabled
        ? t("ui.nothing_scheduled", "nothing scheduled")
        : "–";
    const db = $("#status-db");
    db.textContent = s.database_path || "–";
    db.title = s.database_path || "";
    $("#status-error-wrap").hidden = !s.last_error;
    $("#status-error").textContent = s.last_error || "";
    const aside = s.set_aside || [];
    $("#status-aside-wrap").hidden = !aside.length;
    $("#status-aside").textContent = aside.map((a) => a.id + ": " + a.reason).join(" · ");
  }

  /** Two schedulers at once: AstrBot's own future tasks are active and its agent still
   *  offers its future_task tool. Say so and offer to move them here. */
  function renderCoreNotice() {
    const core = state.core;
    const importable = core && Array.isArray(core.tasks) ? core.tasks.filter((task) => !task.problem) : [];
    const show = Boolean(core && core.two_schedulers && importable.length);
    $("#core-notice").hidden = !show;
    if (!show) return;
    $("#core-notice-text").textContent = t(
      "ui.two_schedulers",
      "Two schedulers are active: AstrBot's own future tasks ({count}) run beside this plugin. Import them here to keep one list; they are disabled in AstrBot, not deleted.",
      { count: importable.length },
    );
  }

  async function importCoreTasks() {
    const tasks = ((state.core && state.core.tasks) || []).filter((task) => !task.problem);
    const names = tasks.map((task) => "• " + (task.name || task.core_id) + " (" + task.schedule + ")").join("\n");
    const ok = await confirmDialog({
      title: t("ui.import_core_title", "Import AstrBot's future tasks?"),
      text:
        t(
          "ui.import_core_text",
          "Each becomes an isolated agent task here with the same schedule and chat, and is disabled (not deleted) in AstrBot:",
        ) +
        "\n" +
        names,
      ok: t("ui.import_core", "Import them"),
    });
    if (!ok) return;
    try {
      const data = await api("POST", "core-tasks/import", {});
      const moved = Array.isArray(data && data.moved) ? data.moved : [];
      const done = moved.filter((m) => m.job_id).length;
      toast(t("ui.import_core_done", "Imported {done} of {total} tasks.", { done, total: moved.length }), done < moved.length);
    } catch (err) {
      toast(errorText(err), true);
    }
    await loadCoreTasks();
    refresh();
  }

  function statusBadges(status, delivery, late) {
    let html = "";
    if (status) html += '<span class="badge ' + esc(status) + '">' + esc(label(RUN_STATUS, status)) + "</span> ";
    if (late) html += '<span class="badge late">' + esc(t("ui.late", "late")) + "</span> ";
    if (delivery && delivery !== "not-requested") {
      html += '<span class="badge ' + esc(delivery) + '">' + esc(label(DELIVERY, delivery)) + "</span>";
    }
    return html;
  }

  function actionButton(action, id, text, extra) {
    const busy = state.busy.has(id);
    return (
      '<button type="button" class="btn link small' +
      (extra ? " " + extra : "") +
      '" data-action="' +
      action +
      '" data-id="' +
      esc(id) +
      '"' +
      (busy ? " disabled" : "") +
      ">" +
      esc(text) +
      "</button>"
    );
  }

  function jobRow(job) {
    const id = job.id;
    const expanded = state.expanded.has(id);
    const owner = job.owner || {};
    const sched = job.schedule || {};
    const target = job.target || {};
    const who = owner.sender_name || owner.sender_id || "";
    const whoSub =
      owner.sender_name && owner.sender_id && owner.sender_name !== owner.sender_id && owner.sender_id !== "dashboard"
        ? owner.sender_id
        : "";
    const next = shortLocal(job.next_run_local);
    const last = shortLocal(job.last_run_local);
    const cls = ["job-row", job.enabled ? "active" : "paused", expanded ? "expanded" : ""].join(" ");

    let html = '<tr class="' + cls + '" data-id="' + esc(id) + '">';
    // task
    html +=
      '<td class="cell-task" data-label="' +
      esc(t("ui.col_task", "Task")) +
      '"><div class="task-name">' +
      esc(jobTitle(job)) +
      '</div><div class="task-id">' +
      esc(id) +
      '</div><div class="task-msg" title="' +
      esc(job.message) +
      '">' +
      esc(job.message) +
      "</div></td>";
    // owner and chat
    html +=
      '<td class="cell-owner" data-label="' +
      esc(t("ui.col_owner", "Owner and chat")) +
      '"><div>' +
      esc(who) +
      (whoSub ? ' <span class="sub">' + esc(whoSub) + "</span>" : "") +
      '</div><div class="sub"><code>' +
      breakable(owner.origin) +
      "</code></div>" +
      (target.session && target.session !== owner.origin
        ? '<div class="sub">→ <code>' + breakable(target.session) + "</code></div>"
        : "") +
      "</td>";
    // mode
    html +=
      '<td class="cell-mode" data-label="' +
      esc(t("ui.col_mode", "Mode")) +
      '"><span class="badge mode-' +
      esc(job.mode) +
      '">' +
      esc(label(MODE_LABELS, job.mode)) +
      "</span></td>";
    // schedule: in words (in the page's language), and as written
    const written = String(sched.text || "");
    html +=
      '<td class="cell-schedule" data-label="' +
      esc(t("ui.col_schedule", "Schedule")) +
      '"><div class="words">' +
      esc(scheduleWords(sched)) +
      '</div><div class="sub">' +
      (written ? "<code>" + esc(written) + "</code> · " : "") +
      breakable(sched.tz) +
      "</div></td>";
    // next run
    let nextHtml;
    if (job.running) {
      nextHtml = '<span class="badge running">' + esc(t("ui.running_now", "running now")) + "</span>";
    } else if (!job.enabled) {
      nextHtml = '<span class="muted">' + esc(t("ui.paused_no_next", "paused")) + "</span>";
    } else if (next) {
      nextHtml = "<div>" + esc(next) + '</div><div class="rel">' + esc(relative(job.next_run_at)) + "</div>";
    } else {
      nextHtml = '<span class="muted">–</span>';
    }
    html +=
      '<td class="cell-next" data-label="' + esc(t("ui.col_next", "Next run")) + '" title="' + esc(job.next_run_local || "") + '">' + nextHtml + "</td>";
    // last run
    let lastHtml;
    if (last) {
      lastHtml =
        "<div>" +
        esc(last) +
        "</div><div>" +
        statusBadges(job.last_status, job.last_delivery) +
        "</div>" +
        (job.last_error ? '<div class="err-text">' + esc(job.last_error) + "</div>" : "");
    } else {
      lastHtml = '<span class="muted">' + esc(t("ui.never", "never")) + "</span>";
    }
    html +=
      '<td class="cell-last" data-label="' +
      esc(t("ui.col_last", "Last run")) +
      '" title="' +
      esc(job.last_run_local || "") +
      '">' +
      lastHtml +
      "</td>";
    // enabled
    const enabledText = job.enabled ? t("ui.state_active", "Active") : t("ui.state_paused", "Paused");
    html +=
      '<td class="cell-enabled" data-label="' +
      esc(t("ui.col_enabled", "Enabled")) +
      '"><div class="enabled-cell"><label class="switch" title="' +
      esc(job.enabled ? t("ui.pause", "Pause") : t("ui.resume", "Resume")) +
      '"><input type="checkbox" data-action="toggle" data-id="' +
      esc(id) +
      '"' +
      (job.enabled ? " checked" : "") +
      (state.busy.has(id) ? " disabled" : "") +
      ' aria-label="' +
      esc(enabledText) +
      '"><span class="track"></span></label><span class="small nowrap state-text">' +
      esc(enabledText) +
      "</span></div></td>";
    // actions
    html +=
      '<td class="cell-actions"><div class="actions">' +
      actionButton("history", id, expanded ? t("ui.hide_history", "Hide runs") : t("ui.history", "Runs")) +
      actionButton("edit", id, t("ui.edit", "Edit")) +
      actionButton("toggle-btn", id, job.enabled ? t("ui.pause", "Pause") : t("ui.resume", "Resume")) +
      actionButton("run", id, t("ui.run_now", "Run now")) +
      actionButton("delete", id, t("ui.delete", "Delete"), "danger-text") +
      "</div></td>";
    html += "</tr>";
    if (expanded) html += detailRow(job);
    return html;
  }

  function kv(name, value) {
    if (value === undefined || value === null || value === "") return "";
    return "<dt>" + esc(name) + "</dt><dd>" + esc(value) + "</dd>";
  }

  function yesNo(value) {
    return value ? t("ui.opt_yes", "Yes") : t("ui.opt_no", "No");
  }

  function detailRow(job) {
    const target = job.target || {};
    const sched = job.schedule || {};
    const agent = job.mode !== "reminder";
    let info = '<dl class="kv">';
    info += kv(t("ui.field_message", "Message"), job.message);
    if (job.media && job.media.length) info += kv(t("ui.media", "Attachments"), job.media.join("\n"));
    info += kv(t("ui.state", "State"), job.state);
    info += kv(t("ui.delivers_to", "Delivers"), target.words || target.session);
    info += kv(t("ui.field_catch_up", "After downtime"), label(CATCH_UP, job.catch_up));
    if (sched.kind === "at") info += kv(t("ui.field_delete_after_run", "After a one-shot ran"), job.delete_after_run ? t("ui.opt_delete", "Delete it") : t("ui.opt_keep", "Keep it"));
    if (target.best_effort) info += kv(t("ui.best_effort_short", "Best effort"), yesNo(true));
    if (agent) {
      info += kv(t("ui.field_provider", "Model provider"), job.provider_id || t("ui.opt_default", "Default"));
      if (job.mode === "isolated") info += kv(t("ui.field_persona", "Persona"), job.persona_id || t("ui.opt_default", "Default"));
      if (job.mode === "main") info += kv(t("ui.field_wake_mode", "Wake"), job.wake_mode);
    }
    if (job.timeout_seconds) info += kv(t("ui.field_timeout", "Timeout (s)"), job.timeout_seconds);
    if (job.consecutive_errors) info += kv(t("ui.consecutive_errors", "Failures in a row"), job.consecutive_errors);
    info += kv(t("ui.created", "Created"), splitLocal(job.created_local)[0]);
    info += kv(t("ui.updated", "Changed"), splitLocal(job.updated_local)[0]);
    info += "</dl>";

    const r = state.runs[job.id];
    let hist = '<div class="history"><h3>' + esc(t("ui.run_history", "Run history"));
    if (r && r.total) hist += ' <span class="muted small">' + esc(t("ui.runs_total", "{n} in all", { n: r.total })) + "</span>";
    hist += "</h3>";
    if (!r) {
      hist += '<p class="muted small">' + esc(t("ui.loading", "Loading…")) + "</p>";
    } else if (r.error) {
      hist += '<p class="err-text">' + esc(r.error) + "</p>";
    } else if (!r.runs.length) {
      hist += '<p class="muted small">' + esc(t("ui.no_runs", "No runs yet.")) + "</p>";
    } else {
      hist +=
        '<table class="runs"><thead><tr><th>' +
        esc(t("ui.run_started", "Started")) +
        "</th><th>" +
        esc(t("ui.run_trigger", "Trigger")) +
        "</th><th>" +
        esc(t("ui.run_status", "Result")) +
        "</th><th>" +
        esc(t("ui.run_duration", "Took")) +
        "</th><th>" +
        esc(t("ui.run_output", "Output or error")) +
        "</th></tr></thead><tbody>";
      for (const run of r.runs) {
        const when = splitLocal(run.started_local || run.slot_local)[0];
        hist +=
          '<tr class="run-row" data-run="' +
          esc(run.run_id) +
          '" data-status="' +
          esc(run.status) +
          '"><td>' +
          esc(when) +
          "</td><td>" +
          esc(label(TRIGGER, run.trigger)) +
          "</td><td>" +
          statusBadges(run.status, run.delivery, run.late) +
          "</td><td>" +
          esc(duration(run.duration_ms)) +
          '</td><td class="out">' +
          (run.error ? '<div class="err-text">' + esc(run.error) + "</div>" : "") +
          esc(run.output || "") +
          "</td></tr>";
      }
      hist += "</tbody></table>";
      if (r.total > r.runs.length) {
        hist +=
          '<button type="button" class="btn link small" data-action="more-runs" data-id="' +
          esc(job.id) +
          '">' +
          esc(t("ui.more_runs", "Show more")) +
          "</button>";
      }
    }
    hist += "</div>";
    return (
      '<tr class="detail-row" data-detail="' +
      esc(job.id) +
      '"><td colspan="8"><div class="detail-grid"><div>' +
      info +
      "</div>" +
      hist +
      "</div></td></tr>"
    );
  }

  function renderJobs() {
    const body = $("#jobs-body");
    const html = state.jobs.map(jobRow).join("");
    if (html !== state.lastHtml) {
      body.innerHTML = html;
      state.lastHtml = html;
    }
    const empty = state.loaded && !state.jobs.length;
    $("#jobs").hidden = empty;
    $("#empty").hidden = !empty;
    if (empty) {
      const filtered = state.q || state.filter !== "all";
      $("#empty-text").textContent = filtered
        ? t("ui.empty_filtered", "No task matches.")
        : t("ui.empty", "No tasks yet. Create one here, with /cron add in a chat, or ask the bot.");
      $("#empty-new").hidden = !!filtered;
    }
    const pager = $("#pager");
    pager.hidden = state.total <= PAGE_SIZE;
    if (!pager.hidden) {
      const from = state.total ? state.offset + 1 : 0;
      const to = Math.min(state.offset + state.jobs.length, state.total);
      $("#pager-text").textContent = t("ui.pager", "{from}–{to} of {total}", { from, to, total: state.total });
      $("#prev-btn").disabled = state.offset <= 0;
      $("#next-btn").disabled = state.offset + PAGE_SIZE >= state.total;
    }
    $("#list-info").textContent = state.loaded
      ? t("ui.list_info", "{n} tasks", { n: state.total })
      : "";
    updateSessionList();
  }

  function updateSessionList() {
    const sessions = new Set();
    for (const job of state.jobs) {
      if (job.owner && job.owner.origin && !job.owner.origin.startsWith("webui:")) sessions.add(job.owner.origin);
      if (job.target && job.target.session) sessions.add(job.target.session);
    }
    const list = $("#session-list");
    const html = Array.from(sessions)
      .sort()
      .map((s) => '<option value="' + esc(s) + '"></option>')
      .join("");
    if (list.innerHTML !== html) list.innerHTML = html;
  }

  // ----- actions ----------------------------------------------------------------------------

  function findJob(id) {
    return state.jobs.find((j) => j.id === id) || null;
  }

  async function withBusy(id, work) {
    state.busy.add(id);
    renderJobs();
    try {
      return await work();
    } finally {
      state.busy.delete(id);
      renderJobs();
    }
  }

  async function setEnabled(job, enabled) {
    job.enabled = enabled; // shown at once; the refresh below brings the real state
    await withBusy(job.id, async () => {
      try {
        const data = await api("POST", jobPath(job.id), { _method: "PATCH", enabled });
        const updated = (data && data.job) || null;
        if (enabled) {
          const [next] = splitLocal(updated && updated.next_run_local);
          toast(
            next
              ? t("ui.toast_resumed_next", "Resumed {name}; next run {next}.", { name: jobTitle(job), next })
              : t("ui.toast_resumed", "Resumed {name}.", { name: jobTitle(job) }),
          );
        } else {
          toast(t("ui.toast_paused", "Paused {name}; it will not run until resumed.", { name: jobTitle(job) }));
        }
      } catch (err) {
        toast(errorText(err), true);
      }
    });
    await refresh();
  }

  async function runNow(job) {
    const ok = await confirmDialog({
      title: t("ui.confirm_run_title", "Run {name} now?", { name: jobTitle(job) }),
      text:
        job.mode === "reminder"
          ? t("ui.confirm_run_reminder", "The reminder is sent to {target} right away. The schedule does not move.", {
              target: (job.target && job.target.session) || (job.owner && job.owner.origin) || "",
            })
          : t("ui.confirm_run_agent", "An agent run starts right away; its answer goes to {target}. The schedule does not move.", {
              target: (job.target && job.target.session) || (job.owner && job.owner.origin) || "",
            }),
      ok: t("ui.run_now", "Run now"),
    });
    if (!ok) return;
    await withBusy(job.id, async () => {
      try {
        await api("POST", jobPath(job.id, "run"), {});
        toast(t("ui.toast_run_started", "{name} is running; see its run history.", { name: jobTitle(job) }));
        state.expanded.add(job.id);
      } catch (err) {
        toast(errorText(err), true);
      }
    });
    await refresh();
    // The run usually finishes within a second or two: look again soon.
    setTimeout(() => {
      if (!state.formOpen && !state.confirmOpen) refresh();
    }, 1500);
  }

  async function deleteJob(job) {
    const ok = await confirmDialog({
      title: t("ui.confirm_delete_title", "Delete {name}?", { name: jobTitle(job) }),
      text: t(
        "ui.confirm_delete_text",
        "Task {id} and its run history are deleted for good. It will not run again. To stop it for a while, pause it instead.",
        { id: job.id },
      ),
      ok: t("ui.delete", "Delete"),
      danger: true,
    });
    if (!ok) return;
    await withBusy(job.id, async () => {
      try {
        await api("POST", jobPath(job.id), { _method: "DELETE" });
        state.expanded.delete(job.id);
        delete state.runs[job.id];
        toast(t("ui.toast_deleted", "Deleted {name}.", { name: jobTitle(job) }));
      } catch (err) {
        toast(errorText(err), true);
      }
    });
    await refresh();
  }

  async function toggleHistory(id) {
    if (state.expanded.has(id)) {
      state.expanded.delete(id);
      renderJobs();
      return;
    }
    state.expanded.add(id);
    renderJobs();
    await loadRuns(id);
    renderJobs();
  }

  async function moreRuns(id) {
    const r = state.runs[id];
    if (!r) return;
    r.limit = (r.limit || RUNS_PAGE) + RUNS_PAGE * 2;
    await loadRuns(id);
    renderJobs();
  }

  // ----- confirm dialog ---------------------------------------------------------------------

  let confirmResolve = null;

  function confirmDialog({ title, text, ok, danger }) {
    if (confirmResolve) confirmResolve(false);
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    const okBtn = $("#confirm-ok");
    okBtn.textContent = ok;
    okBtn.className = "btn " + (danger ? "danger" : "primary");
    $("#confirm-overlay").hidden = false;
    state.confirmOpen = true;
    setTimeout(() => okBtn.focus(), 0);
    return new Promise((resolve) => {
      confirmResolve = resolve;
    });
  }

  function closeConfirm(result) {
    $("#confirm-overlay").hidden = true;
    state.confirmOpen = false;
    const resolve = confirmResolve;
    confirmResolve = null;
    if (resolve) resolve(result);
  }

  // ----- create / edit form -----------------------------------------------------------------

  const form = () => $("#job-form");
  const FIELD_NAMES = [
    "session",
    "name",
    "mode",
    "message",
    "kind",
    "when",
    "tz",
    "deliver",
    "channel",
    "to",
    "catch_up",
    "delete_after_run",
    "best_effort",
    "provider_id",
    "persona_id",
    "timeout_seconds",
    "wake_mode",
  ];

  function formValues() {
    const f = form();
    const out = {};
    for (const name of FIELD_NAMES) {
      const el = f.elements[name];
      if (!el) continue;
      out[name] = el.type === "checkbox" ? el.checked : String(el.value || "").trim();
    }
    return out;
  }

  function setFormValues(values) {
    const f = form();
    for (const name of FIELD_NAMES) {
      const el = f.elements[name];
      if (!el) continue;
      const v = values[name];
      if (el.type === "checkbox") el.checked = !!v;
      else el.value = v == null ? "" : String(v);
    }
  }

  function boolChoice(v) {
    return v === true ? "true" : v === false ? "false" : "";
  }

  function updateFormHints() {
    const f = form();
    if (!f) return;
    const mode = f.elements.mode.value;
    const kind = f.elements.kind.value;
    const hints = {
      reminder: ["ui.hint_mode_reminder", "Sends the message as written. No model is involved."],
      main: [
        "ui.hint_mode_main",
        "Hands the message to the bot's agent in the chat's own conversation (with its history and persona); the reply is sent to the chat.",
      ],
      isolated: [
        "ui.hint_mode_isolated",
        "A fresh agent turn each time, with the message as its task and the user's tools; its answer is sent to the chat.",
      ],
    };
    const h = hints[mode] || hints.reminder;
    $("#mode-hint").textContent = t(h[0], h[1]);
    const whenHints = {
      at: ["ui.hint_at", "Once: after 20m / 1h30m / 2d, at 08:00 (the next one in the zone), or at 2026-01-12T18:00 (read in the zone unless it has an offset)."],
      every: ["ui.hint_every", "A fixed interval: 10m, 2h, 1d. Runs stay on the grid from the creation time."],
      cron: ["ui.hint_cron", "Five fields: minute hour day month weekday, e.g. 0 9 * * mon-fri or */15 * * * *."],
    };
    const placeholders = { at: "20m", every: "1h", cron: "0 9 * * mon-fri" };
    const wh = whenHints[kind] || whenHints.at;
    $("#when-hint").textContent = t(wh[0], wh[1]);
    f.elements.when.setAttribute("placeholder", placeholders[kind] || "");
    const zone = (state.status && state.status.timezone) || "UTC";
    f.elements.tz.setAttribute("placeholder", zone);
    f.elements.tz.title = t("ui.hint_tz", "IANA zone; empty = the default ({zone})", { zone });
    for (const el of $$(".agent-only", f)) el.hidden = mode === "reminder";
    for (const el of $$(".isolated-only", f)) el.hidden = mode !== "isolated";
    for (const el of $$(".main-only", f)) el.hidden = mode !== "main";
  }

  function fillZones() {
    const list = $("#tz-list");
    if (list.childElementCount) return;
    let zones = [];
    try {
      zones = Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : [];
    } catch (_err) {
      zones = [];
    }
    if (!zones.includes("UTC")) zones = ["UTC"].concat(zones);
    list.innerHTML = zones.map((z) => '<option value="' + esc(z) + '"></option>').join("");
  }

  function showFormError(text) {
    const el = $("#form-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function openForm(job) {
    fillZones();
    state.editing = job || null;
    const f = form();
    f.reset();
    showFormError("");
    if (job) {
      const target = job.target || {};
      const sched = job.schedule || {};
      setFormValues({
        session: job.owner && job.owner.origin,
        name: job.name || "",
        mode: job.mode,
        message: job.message,
        kind: sched.kind || "at",
        when: whenForEdit(sched),
        tz: sched.tz || "",
        deliver: boolChoice(target.deliver),
        channel: target.channel || "",
        to: target.to || "",
        catch_up: job.catch_up || "",
        delete_after_run: boolChoice(job.delete_after_run),
        best_effort: !!target.best_effort,
        provider_id: job.provider_id || "",
        persona_id: job.persona_id || "",
        timeout_seconds: job.timeout_seconds || "",
        wake_mode: job.wake_mode || "",
      });
      $("#form-title").textContent = t("ui.form_edit_title", "Edit {name}", { name: jobTitle(job) });
      $("#form-submit").textContent = t("ui.save", "Save");
      $("#field-session").hidden = true;
      $("#chat-picker").hidden = true;
      $("#field-origin").hidden = false;
      $("#origin-text").textContent = (job.owner && job.owner.origin) || "";
    } else {
      setFormValues({ mode: "reminder", kind: "at" });
      $("#form-title").textContent = t("ui.form_create_title", "New task");
      $("#form-submit").textContent = t("ui.create", "Create");
      $("#field-session").hidden = false;
      $("#chat-picker").hidden = false;
      $("#field-origin").hidden = true;
      $("#chat-search").value = "";
      loadChats();
    }
    state.initial = formValues();
    $("#advanced").open = !!job && hasAdvanced(state.initial);
    updateFormHints();
    $("#form-overlay").hidden = false;
    state.formOpen = true;
    previewWhen();
    setTimeout(() => (job ? f.elements.message : $("#chat-search")).focus(), 0);
  }

  /** The schedule as it can be sent back: "every 1h" -> "1h"; a one-shot as its local time. */
  function whenForEdit(sched) {
    const text = String(sched.text || "").trim();
    if (sched.kind === "every") return text.replace(/^every\s+/i, "") || sched.every || "";
    if (sched.kind === "cron") return text.replace(/^cron\s+/i, "").replace(/^["'`]|["'`]$/g, "") || sched.expr || "";
    if (typeof sched.at === "number") {
      const local = isoInZone(sched.at, sched.tz);
      if (local) return local;
    }
    return text;
  }

  /** 2026-01-12T18:00 (or with :ss) for the instant ``ms`` in the IANA zone ``tz``. */
  function isoInZone(ms, tz) {
    try {
      const parts = {};
      const fmt = new Intl.DateTimeFormat("en-US", {
        timeZone: tz || "UTC",
        hourCycle: "h23",
        year: "numeric",
        month: "2-digit",
        day: "2-digit",
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
      for (const p of fmt.formatToParts(new Date(ms))) parts[p.type] = p.value;
      const base = parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
      return parts.second && parts.second !== "00" ? base + ":" + parts.second : base;
    } catch (_err) {
      return "";
    }
  }

  function hasAdvanced(v) {
    return !!(v.deliver || v.channel || v.to || v.best_effort || v.provider_id || v.persona_id || v.wake_mode);
  }

  function closeForm() {
    $("#form-overlay").hidden = true;
    state.formOpen = false;
    state.editing = null;
    state.initial = null;
  }

  const SCHEDULE_FIELD = { at: "run_at", every: "every", cron: "cron" };

  // ----- picking a chat and previewing the schedule ------------------------------------------

  const CHAT_KIND = {
    private: ["ui.chat_private", "private"],
    group: ["ui.chat_group", "group"],
    other: ["ui.chat_other", "other"],
  };
  const CHATS_SHOWN = 8;
  const live = { chatSeq: 0, previewSeq: 0, chatTimer: null, previewTimer: null };

  /** The chats the bot knows that match the search box, as buttons that fill the session. */
  async function loadChats() {
    const seq = ++live.chatSeq;
    const q = $("#chat-search").value.trim();
    let chats = [];
    let error = "";
    try {
      const data = await api("GET", "chats", q ? { q } : {});
      chats = Array.isArray(data && data.chats) ? data.chats : [];
    } catch (err) {
      error = errorText(err);
    }
    if (seq !== live.chatSeq) return;
    const chosen = form().elements.session.value.trim();
    const box = $("#chat-results");
    if (error || !chats.length) {
      const empty = q
        ? t("ui.chats_none_match", "No known chat matches; type the session below.")
        : t("ui.chats_none", "The bot knows no chats yet; type the session below.");
      box.innerHTML = '<p class="muted small">' + esc(error || empty) + "</p>";
      return;
    }
    box.innerHTML = chats
      .slice(0, CHATS_SHOWN)
      .map((chat) => {
        const kind = label(CHAT_KIND, chat.kind);
        const title = (chat.names && chat.names[0]) || chat.chat_id;
        const where = [chat.platform_type || chat.platform, kind, chat.chat_id].filter(Boolean).join(" · ");
        return (
          '<button type="button" class="chat-option' +
          (chat.session === chosen ? " chosen" : "") +
          '" role="option" data-session="' +
          esc(chat.session) +
          '"><span class="chat-name">' +
          esc(title) +
          '</span><span class="muted small">' +
          esc(where) +
          "</span></button>"
        );
      })
      .join("");
  }

  function chooseChat(button) {
    form().elements.session.value = button.dataset.session;
    for (const el of $$(".chat-option", $("#chat-results"))) el.classList.toggle("chosen", el === button);
  }

  /** The next runs of what the "when" field says, as the service reads it, before saving. */
  async function previewWhen() {
    const f = form();
    const when = f.elements.when.value.trim();
    const box = $("#when-preview");
    const seq = ++live.previewSeq;
    if (!when) {
      box.textContent = "";
      box.classList.remove("error");
      return;
    }
    const params = { [SCHEDULE_FIELD[f.elements.kind.value] || "when"]: when };
    if (f.elements.tz.value.trim()) params.tz = f.elements.tz.value.trim();
    let text = "";
    let failed = false;
    try {
      const data = await api("GET", "preview", params);
      const runs = (data && data.runs) || [];
      text = runs.length
        ? t("ui.preview_runs", "Next runs: {runs}", { runs: runs.map((r) => shortLocal(r.local)).join(" · ") })
        : t("ui.preview_never", "This schedule does not run again.");
    } catch (err) {
      text = errorText(err);
      failed = true;
    }
    if (seq !== live.previewSeq) return;
    box.textContent = text;
    box.classList.toggle("error", failed);
  }

  function later(key, work) {
    clearTimeout(live[key]);
    live[key] = setTimeout(work, 300);
  }

  function bodyFromForm(values, initial) {
    const creating = !initial;
    const changed = (k) => creating || values[k] !== initial[k];
    const body = {};
    const agent = values.mode !== "reminder";
    if (creating) body.session = values.session;
    if (changed("mode")) body.mode = values.mode;
    if (changed("message")) body.message = values.message;
    if (creating || changed("kind") || changed("when")) body[SCHEDULE_FIELD[values.kind] || "when"] = values.when;
    if (values.tz && (changed("tz") || body.run_at || body.every || body.cron)) body.tz = values.tz;
    if (!creating && changed("tz") && !values.tz) body.tz = "";
    for (const k of ["name", "channel", "to"]) {
      if (creating ? values[k] : changed(k)) body[k] = values[k];
    }
    for (const k of ["deliver", "delete_after_run"]) {
      if (values[k] && changed(k)) body[k] = values[k] === "true";
    }
    if (values.catch_up && changed("catch_up")) body.catch_up = values.catch_up;
    if (creating ? values.best_effort : changed("best_effort")) body.best_effort = values.best_effort;
    if (agent || !creating) {
      for (const k of ["provider_id", "persona_id"]) {
        if (creating ? values[k] : changed(k)) body[k] = values[k];
      }
      if (values.timeout_seconds && changed("timeout_seconds")) body.timeout_seconds = Number(values.timeout_seconds);
      if (values.wake_mode && changed("wake_mode")) body.wake_mode = values.wake_mode;
    }
    return body;
  }

  function checkForm(values, creating) {
    if (creating && !values.session) return t("ui.err_session", "Give the chat (session) the task belongs to, e.g. onebot:FriendMessage:12345.");
    if (!values.message) return t("ui.err_message", "Say what the task should send or do.");
    if (!values.when) return t("ui.err_when", "Say when the task runs.");
    if (values.timeout_seconds && !/^\d+$/.test(values.timeout_seconds)) return t("ui.err_timeout_value", "The timeout is a whole number of seconds.");
    return "";
  }

  async function submitForm(ev) {
    ev.preventDefault();
    const values = formValues();
    const job = state.editing;
    const problem = checkForm(values, !job);
    if (problem) {
      showFormError(problem);
      return;
    }
    const body = bodyFromForm(values, job ? state.initial : null);
    if (job && !Object.keys(body).length) {
      closeForm();
      toast(t("ui.toast_nothing_changed", "Nothing changed."));
      return;
    }
    const submit = $("#form-submit");
    submit.disabled = true;
    showFormError("");
    try {
      let data;
      if (job) {
        data = await api("POST", jobPath(job.id), { _method: "PATCH", ...body });
      } else {
        data = await api("POST", "jobs", body);
      }
      const saved = (data && data.job) || data || {};
      const [next] = splitLocal(saved.next_run_local);
      closeForm();
      if (job) {
        toast(
          next
            ? t("ui.toast_saved_next", "Saved {name}; next run {next}.", { name: jobTitle(saved), next })
            : t("ui.toast_saved", "Saved {name}.", { name: jobTitle(saved) }),
        );
      } else {
        toast(
          next
            ? t("ui.toast_created_next", "Created {name} ({id}); next run {next}.", {
                name: jobTitle(saved),
                id: saved.id,
                next,
              })
            : t("ui.toast_created", "Created {name} ({id}).", { name: jobTitle(saved), id: saved.id }),
        );
      }
      await refresh();
    } catch (err) {
      showFormError(errorText(err));
    } finally {
      submit.disabled = false;
    }
  }

  // ----- events -----------------------------------------------------------------------------

  function bindEvents() {
    $("#new-btn").addEventListener("click", () => openForm(null));
    $("#empty-new").addEventListener("click", () => openForm(null));
    $("#refresh-btn").addEventListener("click", () => refresh());
    $("#banner-close").addEventListener("click", () => showBanner(""));
    $("#import-core-btn").addEventListener("click", () => importCoreTasks());

    $("#filter").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button[data-filter]");
      if (!btn) return;
      for (const b of $$("#filter button")) b.classList.toggle("active", b === btn);
      state.filter = btn.dataset.filter;
      state.offset = 0;
      refresh();
    });

    let searchTimer = null;
    $("#search").addEventListener("input", (ev) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => {
        state.q = ev.target.value.trim();
        state.offset = 0;
        refresh();
      }, 300);
    });

    $("#prev-btn").addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE_SIZE);
      refresh();
    });
    $("#next-btn").addEventListener("click", () => {
      state.offset += PAGE_SIZE;
      refresh();
    });

    const body = $("#jobs-body");
    body.addEventListener("click", (ev) => {
      const el = ev.target.closest("[data-action]");
      if (!el || el.disabled) return;
      const id = el.dataset.id;
      const job = findJob(id);
      const action = el.dataset.action;
      if (action === "toggle") return; // handled on change
      if (action === "history") toggleHistory(id);
      else if (action === "more-runs") moreRuns(id);
      else if (!job) return;
      else if (action === "edit") openForm(job);
      else if (action === "toggle-btn") setEnabled(job, !job.enabled);
      else if (action === "run") runNow(job);
      else if (action === "delete") deleteJob(job);
    });
    body.addEventListener("change", (ev) => {
      const el = ev.target.closest("input[data-action='toggle']");
      if (!el) return;
      const job = findJob(el.dataset.id);
      if (job) setEnabled(job, el.checked);
    });

    const f = form();
    f.addEventListener("submit", submitForm);
    f.elements.mode.addEventListener("change", updateFormHints);
    f.elements.kind.addEventListener("change", updateFormHints);
    f.elements.kind.addEventListener("change", () => previewWhen());
    f.elements.when.addEventListener("input", () => later("previewTimer", previewWhen));
    f.elements.tz.addEventListener("input", () => later("previewTimer", previewWhen));
    $("#chat-search").addEventListener("input", () => later("chatTimer", loadChats));
    $("#chat-results").addEventListener("click", (ev) => {
      const button = ev.target.closest(".chat-option");
      if (button) chooseChat(button);
    });
    for (const el of $$("[data-close]", f)) el.addEventListener("click", closeForm);
    $("#form-overlay").addEventListener("mousedown", (ev) => {
      if (ev.target === ev.currentTarget) closeForm();
    });

    $("#confirm-ok").addEventListener("click", () => closeConfirm(true));
    $("#confirm-cancel").addEventListener("click", () => closeConfirm(false));
    $("#confirm-overlay").addEventListener("mousedown", (ev) => {
      if (ev.target === ev.currentTarget) closeConfirm(false);
    });

    document.addEventListener("keydown", (ev) => {
      if (ev.key !== "Escape") return;
      if (state.confirmOpen) closeConfirm(false);
      else if (state.formOpen) closeForm();
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) tick();
    });
  }

  function init() {
    bindEvents();
    applyStatic();
    if (!bridge) {
      showBanner(t("ui.err_no_bridge", "Open this page from the AstrBot dashboard (Plugins → Scheduled Tasks)."));
      return;
    }
    bridge.onContext(() => {
      applyStatic();
      state.lastHtml = "";
      if (state.ready) {
        render();
        renderCoreNotice();
      }
    });
    const slow = setTimeout(() => {
      if (!state.ready) showBanner(t("ui.err_no_context", "Waiting for the dashboard… Open this page from the AstrBot dashboard."));
    }, 10000);
    bridge.ready().then(() => {
      clearTimeout(slow);
      state.ready = true;
      applyStatic();
      refresh();
      loadCoreTasks();
      setInterval(tick, REFRESH_MS);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
