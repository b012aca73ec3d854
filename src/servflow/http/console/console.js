// servflow's reference console: the HTTP API driven from a plain page, no framework, no build.
//
// The key is kept in sessionStorage and sent as "Authorization: Bearer <key>". Live updates come
// from GET /api/events (Server-Sent Events) read with fetch, because EventSource cannot send
// headers; on a drop it reconnects with Last-Event-ID, so no event is missed. Commands send the
// ETag last read as If-Match: the desk refuses them (412) if the request moved on unseen.
"use strict";

(() => {
  const API = "../api";
  const KEY = "servflow.console.key";
  const CLOCKS = [
    ["first_response", "first_response_due"],
    ["resolution", "resolution_due"],
    ["update", "update_due"],
  ];
  const STOPPED = new Set(["completed", "closed", "cancelled"]);
  const LIVE_CLOCK = new Set(["running", "warning", "breached"]); // paused: not counting
  const $ = (id) => document.getElementById(id);

  const state = {
    key: sessionStorage.getItem(KEY),
    team: "",
    rows: [],
    alerts: new Map(), // "SR-000001/resolution" -> an SLA alert (at risk or breached)
    alertsAllowed: true,
    selected: null, // the ticket code shown in the detail pane
    request: null,
    etag: null,
    clocks: [],
    lastEventId: null,
    stream: null, // the AbortController of the event stream
    queueTimer: 0,
    detailTimer: 0,
  };

  // -- the API --------------------------------------------------------------------------------

  class Problem extends Error {
    constructor(status, body) {
      super(body && body.detail ? body.detail : `HTTP ${status}`);
      this.status = status;
      this.body = body;
    }
  }

  async function call(method, path, { body, etag } = {}) {
    const headers = { Authorization: `Bearer ${state.key}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (etag) headers["If-Match"] = etag;
    const response = await fetch(`${API}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = { detail: text };
    }
    if (response.status === 401) {
      signOut(data && data.detail ? data.detail : "The API key was not accepted.");
    }
    if (!response.ok) throw new Problem(response.status, data);
    return { data, etag: response.headers.get("ETag") };
  }

  /** A problem's words for people: its detail, and each field it names. */
  function explain(error) {
    if (!(error instanceof Problem)) return `Could not reach the server (${error.message}).`;
    const body = error.body || {};
    if (body.detail) return body.title ? `${body.title}: ${body.detail}` : body.detail;
    const fields = (body.errors || []).map((e) => `${e.field}: ${e.problem}`);
    return [error.message, ...fields].join("; ");
  }

  // -- messages -------------------------------------------------------------------------------

  function say(text, kind = "error", where = $("message")) {
    where.textContent = text;
    where.classList.toggle("info", kind === "info");
    where.hidden = !text;
  }

  // -- time -----------------------------------------------------------------------------------

  function span(ms) {
    let s = Math.round(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400);
    s -= d * 86400;
    const h = Math.floor(s / 3600);
    s -= h * 3600;
    const m = Math.floor(s / 60);
    s -= m * 60;
    if (d) return `${d}d ${h}h`;
    if (h) return `${h}h ${m}m`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  const when = (iso) =>
    new Date(iso).toLocaleString(undefined, { dateStyle: "short", timeStyle: "short" });

  /** A due instant: its countdown (when it still counts), its class, and the exact time. */
  function dueCell(cell, due, { counting, alert, warnFrom }) {
    cell.replaceChildren();
    cell.className = "due";
    if (!due) {
      cell.textContent = "—";
      return;
    }
    const at = Date.parse(due);
    const left = at - Date.now();
    const warn = warnFrom ? Date.parse(warnFrom) : null;
    const time = document.createElement("time");
    time.dateTime = due;
    if (counting) {
      time.textContent = left >= 0 ? `in ${span(left)}` : `overdue ${span(left)}`;
      const breached = left < 0 || (alert && alert.state === "breached");
      const risky = (alert && alert.state === "warning") || (warn !== null && Date.now() >= warn);
      if (breached) cell.classList.add("breached");
      else if (risky) cell.classList.add("at-risk");
      const small = document.createElement("small");
      small.textContent = breached ? `breached · ${when(due)}` : when(due);
      cell.append(time, small);
    } else {
      time.textContent = when(due);
      cell.append(time);
    }
    cell.dataset.due = due;
  }

  // -- the queue ------------------------------------------------------------------------------

  function scheduleQueue() {
    clearTimeout(state.queueTimer);
    state.queueTimer = setTimeout(() => refreshQueue().catch(report), 50);
  }

  async function refreshAlerts() {
    if (!state.alertsAllowed) return;
    try {
      const [risk, breached] = await Promise.all([
        call("GET", "/sla/at-risk?limit=500"),
        call("GET", "/sla/breaches?limit=500"),
      ]);
      state.alerts = new Map(
        [...risk.data, ...breached.data].map((a) => [`${a.ticket_code}/${a.clock}`, a]),
      );
    } catch (error) {
      // Customers may not list the desk's clocks: the queue then counts down without them.
      if (error instanceof Problem && error.status === 403) state.alertsAllowed = false;
      else throw error;
    }
  }

  async function refreshQueue() {
    const query = new URLSearchParams({ limit: "100" });
    if (state.team) query.set("team", state.team);
    const [{ data }] = await Promise.all([call("GET", `/queue?${query}`), refreshAlerts()]);
    state.rows = data.items;
    renderQueue(data.total);
  }

  function renderQueue(total) {
    const body = $("queue-rows");
    body.replaceChildren();
    const teams = new Set([...$("teams").options].map((o) => o.value));
    for (const row of state.rows) {
      if (row.team) teams.add(row.team);
      const tr = document.createElement("tr");
      tr.dataset.ticket = row.ticket_code;
      const chosen = row.ticket_code === state.selected;
      tr.classList.toggle("selected", chosen);

      const ticket = document.createElement("td");
      const pick = document.createElement("button");
      pick.type = "button";
      pick.className = "link";
      pick.textContent = row.ticket_code;
      if (chosen) pick.setAttribute("aria-current", "true");
      pick.addEventListener("click", () => select(row.ticket_code));
      ticket.append(pick);
      const status = cell(row.status, "status");
      const priority = cell(row.priority || "—", "priority");
      const who = cell([row.team, row.agent].filter(Boolean).join(" / ") || "—", "who");
      tr.append(ticket, status, priority, who);
      for (const [clock] of CLOCKS) {
        const td = document.createElement("td");
        td.dataset.clock = clock;
        tr.append(td);
      }
      body.append(tr);
    }
    $("teams").replaceChildren(
      ...[...teams].sort().map((t) => Object.assign(document.createElement("option"), { value: t })),
    );
    const where = state.team ? `team ${state.team}` : "every team";
    $("queue-caption").textContent =
      `Open requests of ${where}, in work order: ${state.rows.length}` +
      (total !== null && total > state.rows.length ? ` of ${total}` : "");
    if (!state.rows.length) {
      const tr = document.createElement("tr");
      const td = cell("Nothing in this queue.");
      td.colSpan = 7;
      tr.append(td);
      body.append(tr);
    }
    tick();
  }

  function cell(text, name) {
    const td = document.createElement("td");
    td.textContent = text;
    if (name) td.dataset.field = name;
    return td;
  }

  /** Every second: the countdowns move on, and clocks cross into at-risk and breached. */
  function tick() {
    for (const row of state.rows) {
      const tr = $("queue-rows").querySelector(`tr[data-ticket="${CSS.escape(row.ticket_code)}"]`);
      if (!tr) continue;
      for (const [clock, field] of CLOCKS) {
        const alert = state.alerts.get(`${row.ticket_code}/${clock}`);
        const due = row[field];
        const future = due && Date.parse(due) > Date.now();
        // A clock past due counts on only if the desk says it is breached (else it was met).
        const counting = !STOPPED.has(row.status) && (future || Boolean(alert));
        dueCell(tr.querySelector(`td[data-clock="${clock}"]`), due, {
          counting,
          alert,
          warnFrom: alert ? alert.warn_from : null,
        });
      }
    }
    for (const clock of state.clocks) {
      const td = $("clocks").querySelector(`td[data-clock="${clock.name}"]`);
      if (td) {
        const counting = LIVE_CLOCK.has(clock.state);
        dueCell(td, clock.due, { counting, alert: clock, warnFrom: clock.warn_from });
      }
    }
  }

  // -- one request ----------------------------------------------------------------------------

  async function select(ticket) {
    state.selected = ticket;
    for (const tr of $("queue-rows").querySelectorAll("tr")) {
      const chosen = tr.dataset.ticket === ticket;
      tr.classList.toggle("selected", chosen);
      const button = tr.querySelector("button");
      if (button && chosen) button.setAttribute("aria-current", "true");
      else if (button) button.removeAttribute("aria-current");
    }
    $("detail").hidden = false;
    await refreshDetail().catch(report);
  }

  function scheduleDetail() {
    clearTimeout(state.detailTimer);
    state.detailTimer = setTimeout(() => refreshDetail().catch(report), 50);
  }

  async function refreshDetail() {
    const ticket = state.selected;
    if (!ticket) return;
    const ref = encodeURIComponent(ticket);
    const [request, history, sla] = await Promise.all([
      call("GET", `/requests/${ref}`),
      call("GET", `/requests/${ref}/history`),
      call("GET", `/requests/${ref}/sla`),
    ]);
    if (ticket !== state.selected) return;
    state.request = request.data;
    state.etag = request.etag;
    renderRequest(request.data);
    renderClocks(sla.data);
    renderHistory(history.data);
  }

  function renderRequest(r) {
    $("detail-title").textContent = `Request ${r.ticket_code}`;
    const facts = [
      ["Status", r.status, "status"],
      ["Priority", r.priority || "—", "priority"],
      ["Kind", `${r.kind} (${r.stage}, ${r.channel})`],
      ["Customer", r.customer.name || r.customer.id],
      ["Team / agent", [r.team, r.agent].filter(Boolean).join(" / ") || "—"],
      ["Symptom", r.symptom],
      ["Version", String(r.version), "version"],
    ];
    if (r.resolution) facts.splice(6, 0, ["Resolution", `${r.outcome}: ${r.resolution}`]);
    $("summary").replaceChildren(
      ...facts.flatMap(([name, value, field]) => {
        const dt = document.createElement("dt");
        dt.textContent = name;
        const dd = document.createElement("dd");
        dd.textContent = value;
        if (field) dd.dataset.field = field;
        return [dt, dd];
      }),
    );
  }

  function renderClocks(sla) {
    state.clocks = [sla.first_response, sla.resolution, sla.update].filter(Boolean);
    $("clocks").replaceChildren(
      ...state.clocks.map((c) => {
        const tr = document.createElement("tr");
        const due = document.createElement("td");
        due.dataset.clock = c.name;
        const label = c.state.replaceAll("_", " ") + (c.is_paused ? " (paused)" : "");
        tr.append(cell(c.name.replaceAll("_", " ")), cell(label, "state"), due);
        return tr;
      }),
    );
    tick();
  }

  function renderHistory(entries) {
    $("history").replaceChildren(
      ...entries.map((e) => {
        const li = document.createElement("li");
        const time = document.createElement("time");
        time.className = "when";
        time.dateTime = e.occurred_at;
        time.textContent = when(e.occurred_at);
        const what = document.createElement("strong");
        what.textContent = ` ${e.event_type}`;
        li.append(time, what, ` by ${e.actor}`);
        const changes = e.changes
          .filter((c) => !HIDDEN.has(c.field) && !(blank(c.before) && blank(c.after)))
          .map((c) =>
            blank(c.before) ? `${c.field}: ${show(c.after)}` : `${c.field}: ${show(c.before)} → ${show(c.after)}`,
          );
        if (changes.length) {
          const small = document.createElement("div");
          small.className = "changes";
          small.textContent = changes.join("; ");
          li.append(small);
        }
        return li;
      }),
    );
  }

  // What a history entry leaves out: identities, and fields an event left empty.
  const HIDDEN = new Set(["id", "ticket_code", "opened_at", "opened_by"]);
  const blank = (value) =>
    value === null ||
    value === undefined ||
    value === false ||
    value === 0 ||
    value === "" ||
    (Array.isArray(value) && value.length === 0);
  const show = (value) => {
    if (blank(value)) return "—";
    if (typeof value !== "object") return String(value);
    if ("id" in value) return String(value.name || value.id);
    return JSON.stringify(value);
  };

  // -- working a request ----------------------------------------------------------------------

  async function work(event) {
    event.preventDefault();
    const form = event.currentTarget;
    if (!state.selected) return;
    const body = {};
    for (const [name, value] of new FormData(form)) {
      if (String(value).trim()) body[name] = String(value).trim();
    }
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const ref = encodeURIComponent(state.selected);
      const done = await call("POST", `/requests/${ref}/${form.dataset.command}`, {
        body,
        etag: state.etag,
      });
      state.etag = done.etag;
      state.request = done.data;
      renderRequest(done.data);
      for (const field of form.querySelectorAll("textarea")) field.value = "";
      say(`${done.data.ticket_code}: ${form.dataset.command.replace("-", " ")} recorded.`, "info");
      scheduleDetail();
      scheduleQueue();
    } catch (error) {
      say(explain(error));
      // Stale (412) or otherwise refused: show the request as it now stands.
      if (error instanceof Problem && error.status !== 401) scheduleDetail();
    } finally {
      button.disabled = false;
    }
  }

  async function openRequest(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const body = Object.fromEntries(
      [...new FormData(form)].map(([k, v]) => [k, String(v).trim()]).filter(([, v]) => v),
    );
    try {
      const { data } = await call("POST", "/requests", { body });
      $("open-dialog").close();
      form.reset();
      say(`${data.ticket_code} opened.`, "info");
      scheduleQueue();
      await select(data.ticket_code);
    } catch (error) {
      say(explain(error), "error", $("open-error"));
    }
  }

  // -- live events ----------------------------------------------------------------------------

  function live(text, mode) {
    $("live").textContent = text;
    $("live").dataset.state = mode;
  }

  /** Read /api/events for as long as the key is in use, reconnecting with Last-Event-ID. */
  async function follow() {
    let delay = 500;
    while (state.key) {
      const controller = new AbortController();
      state.stream = controller;
      const headers = { Authorization: `Bearer ${state.key}`, Accept: "text/event-stream" };
      if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
      try {
        const response = await fetch(`${API}/events`, {
          headers,
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          signOut("The API key was not accepted.");
          return;
        }
        if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
        live("Live", "open");
        delay = 500;
        // Whatever happened before the stream started is read once, now.
        scheduleQueue();
        scheduleDetail();
        await read(response.body);
      } catch (error) {
        if (controller.signal.aborted) return;
      }
      if (!state.key) return;
      live(`Reconnecting in ${Math.round(delay / 1000) || 1}s`, "retry");
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 15000);
    }
  }

  async function read(stream) {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let message = { id: null, event: "message", data: [] };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop(); // an unfinished line waits for the next chunk
      for (const line of lines) {
        if (line === "") {
          if (message.data.length) dispatch(message);
          message = { id: null, event: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue; // a keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "id") message.id = text;
        else if (field === "event") message.event = text;
        else if (field === "data") message.data.push(text);
      }
    }
  }

  function dispatch(message) {
    if (message.id !== null) state.lastEventId = message.id;
    let row = null;
    try {
      row = JSON.parse(message.data.join("\n"));
    } catch {
      return;
    }
    scheduleQueue();
    if (row && state.selected && row.ticket_code === state.selected) scheduleDetail();
  }

  // -- signing in and out ---------------------------------------------------------------------

  async function signIn(key) {
    state.key = key;
    try {
      await call("GET", "/queue?limit=1");
    } catch (error) {
      if (!(error instanceof Problem) || error.status !== 401) say(explain(error));
      return;
    }
    sessionStorage.setItem(KEY, key);
    say("");
    $("sign-in").hidden = true;
    $("desk").hidden = false;
    $("sign-out").hidden = false;
    $("open-request").hidden = false;
    await refreshQueue().catch(report);
    follow();
  }

  function signOut(why) {
    state.key = null;
    sessionStorage.removeItem(KEY);
    if (state.stream) state.stream.abort();
    state.selected = null;
    state.lastEventId = null;
    live("Not connected", "off");
    $("desk").hidden = true;
    $("detail").hidden = true;
    $("sign-out").hidden = true;
    $("open-request").hidden = true;
    $("sign-in").hidden = false;
    $("key").value = "";
    say(why || "");
    $("key").focus();
  }

  function report(error) {
    say(explain(error));
  }

  // -- wiring ---------------------------------------------------------------------------------

  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("key").value.trim());
  });
  $("sign-out").addEventListener("click", () => signOut());
  $("filter").addEventListener("submit", (event) => {
    event.preventDefault();
    state.team = $("team").value.trim();
    refreshQueue().catch(report);
  });
  for (const form of document.querySelectorAll("form[data-command]")) {
    form.addEventListener("submit", work);
  }
  $("open-request").addEventListener("click", () => {
    say("", "error", $("open-error"));
    $("open-dialog").showModal();
  });
  $("open-cancel").addEventListener("click", () => $("open-dialog").close());
  $("open-form").addEventListener("submit", openRequest);

  setInterval(tick, 1000);
  // The desk's warning windows move with time, not events: look again now and then.
  setInterval(() => {
    if (state.key) refreshQueue().catch(report);
  }, 60000);

  if (state.key) signIn(state.key);
  else $("key").focus();
})();
