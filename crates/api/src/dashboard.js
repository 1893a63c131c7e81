"use strict";
// Switchyard's dashboard: one page that reads the API at window.APIUrl and
// shows what it is asked for by the URL fragment:
//   #/                          overview
//   #/{http,tcp,udp}/{kind}?search=&status=&sortBy=&direction=   a list
//   #/{http,tcp,udp}/{kind}/{name}                                 one element
//   #/entrypoints[/{name}]      entrypoints
//   #/certificates?search=&status=&sortBy=&direction=&page=    the certificates, a page at a time
//   #/certificates/{id}         one certificate
//   #/explain?url=&entryPoint=&method=&header=&clientIp=           the explain form
// Every 5 seconds the data of the page is read again; the page's own state
// (its fragment, the form, the search box) is kept.

const API = window.APIUrl;
const REFRESH_MS = 5000;
// The most pages a list follows through X-Next-Page (100 rows each).
const MAX_PAGES = 200;

const KINDS = {
  http: ["routers", "services", "middlewares"],
  tcp: ["routers", "services", "middlewares"],
  udp: ["routers", "services"],
};
const STATUSES = [["", "All"], ["enabled", "Success"], ["warning", "Warnings"], ["disabled", "Errors"]];

// ---- helpers ---------------------------------------------------------------

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"}[c]));
}

function el(tag, attrs, html) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (html !== undefined) e.innerHTML = html;
  return e;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path) {
  const r = await fetch(API + path, {headers: {Accept: "application/json"}});
  const text = await r.text();
  let body;
  try { body = JSON.parse(text); } catch (_) { body = text; }
  if (!r.ok) {
    const message = (body && body.message) || String(body).trim() || r.statusText;
    throw new ApiError(r.status, message);
  }
  return {body, next: r.headers.get("X-Next-Page")};
}

// Every element of a list: page after page while X-Next-Page names one.
async function apiAll(path, params) {
  const all = [];
  let page = "1";
  for (let n = 0; page && n < MAX_PAGES; n++) {
    const q = new URLSearchParams(params);
    q.set("page", page);
    q.set("per_page", "100");
    const {body, next} = await api(path + "?" + q.toString());
    all.push(...(Array.isArray(body) ? body : []));
    // The last page names page 1 as the next, as Traefik's API does.
    page = next && Number(next) > Number(page) ? next : null;
  }
  return all;
}

// The fragment as a path (its segments decoded) and parameters.
function here() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split(/\?(.*)/s);
  const segments = path.split("/").filter(s => s !== "").map(s => {
    try { return decodeURIComponent(s); } catch (_) { return s; }
  });
  return {segments, params: new URLSearchParams(query || "")};
}

function href(...segments) {
  return "#/" + segments.map(encodeURIComponent).join("/");
}

// Replaces the fragment's parameters without a new navigation.
function setParams(params) {
  const path = window.location.hash.replace(/^#/, "").split("?")[0] || "/";
  const q = params.toString();
  history.replaceState(null, "", "#" + path + (q ? "?" + q : ""));
}

// A name qualified by `provider` when it has no provider of its own.
function qualify(name, provider) {
  return !name || name.includes("@") || !provider ? name : name + "@" + provider;
}

function badge(status) {
  const text = {enabled: "Success", warning: "Warning", disabled: "Error"}[status] || status;
  return `<span class="badge ${esc(status)}" data-status="${esc(status)}">${esc(text)}</span>`;
}

function errorsBox(errors) {
  if (!errors || !errors.length) return "";
  return `<div class="errors" role="alert" data-testid="errors"><strong>${errors.length === 1 ? "Error" : "Errors"}</strong><ul>` +
    errors.map(e => `<li>${esc(e)}</li>`).join("") + "</ul></div>";
}

function link(scheme, kind, name) {
  return `<a href="${href(scheme, kind, name)}">${esc(name)}</a>`;
}

// A router's entrypoints (those it is in use on, else those it names), linked.
function entryPointLinks(r) {
  return (r.using || r.entryPoints || []).map(n => `<a href="${href("entrypoints", n)}">${esc(n)}</a>`).join(", ");
}

// A router's TLS in a list: terminated, or passed through (TCP).
function tlsBadge(tls) {
  if (!tls) return "";
  return tls.passthrough ? `<span class="badge yes" data-tls="passthrough">TLS passthrough</span>` :
    `<span class="badge yes" data-tls="terminated">TLS</span>`;
}

// A configuration value as nested definition lists.
function props(value) {
  if (value === null || value === undefined) return `<span class="muted">none</span>`;
  if (Array.isArray(value)) {
    if (!value.length) return `<span class="muted">[]</span>`;
    if (value.every(v => typeof v !== "object" || v === null)) return value.map(v => `<code>${esc(v)}</code>`).join(", ");
    return value.map(props).join("");
  }
  if (typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return `<span class="muted">{}</span>`;
    return `<dl class="props">` + keys.map(k => `<dt>${esc(k)}</dt><dd>${props(value[k])}</dd>`).join("") + "</dl>";
  }
  return `<code>${esc(value)}</code>`;
}

// ---- views -----------------------------------------------------------------
// A view builds its frame once (`mount`) and fills its data on every refresh
// (`refresh`), so that inputs keep their focus and text.

function overviewView() {
  return {
    section: "overview",
    mount(root) {
      root.innerHTML = `<h1>Overview</h1>
        <div id="ov-problems"></div>
        <h2>Entrypoints</h2><div class="cards" id="ov-entrypoints"></div>
        <div id="ov-sections"></div>
        <h2>Features</h2><div class="cards" id="ov-features"></div>
        <h2>Providers</h2><div class="cards" id="ov-providers"></div>`;
    },
    async refresh(root) {
      const [{body: ov}, eps] = await Promise.all([api("overview"), apiAll("entrypoints", {})]);
      // Every element with errors or warnings, with what is wrong, first.
      const troubled = [];
      for (const scheme of ["http", "tcp", "udp"]) {
        for (const kind of KINDS[scheme]) {
          const c = (ov[scheme] && ov[scheme][kind]) || {};
          if (!c.errors && !c.warnings) continue;
          for (const status of ["disabled", "warning"]) {
            for (const e of await apiAll(`${scheme}/${kind}`, {status})) troubled.push([scheme, kind, e]);
          }
        }
      }
      root.querySelector("#ov-problems").innerHTML = troubled.length ?
        `<h2>Problems</h2><table id="problems"><thead><tr><th>Status</th><th>Kind</th><th>Name</th><th>Errors</th></tr></thead><tbody>` +
        troubled.map(([scheme, kind, e]) => `<tr class="has-error" data-name="${esc(e.name)}"><td>${badge(e.status)}</td>
          <td>${scheme.toUpperCase()} ${esc(kind.replace(/s$/, ""))}</td><td>${link(scheme, kind, e.name)}</td><td>${errorsBox(e.error)}</td></tr>`).join("") +
        "</tbody></table>" : "";
      root.querySelector("#ov-entrypoints").innerHTML = eps.map(ep =>
        `<a class="card" href="${href("entrypoints", ep.name)}" data-testid="entrypoint"><h3>${esc(ep.name)}</h3><div class="big">${esc(ep.address)}</div></a>`
      ).join("") || `<p class="muted">No entrypoints.</p>`;
      let sections = "";
      for (const scheme of ["http", "tcp", "udp"]) {
        sections += `<h2>${scheme.toUpperCase()}</h2><div class="cards">`;
        for (const kind of KINDS[scheme]) {
          const c = (ov[scheme] && ov[scheme][kind]) || {total: 0, warnings: 0, errors: 0};
          const success = c.total - c.warnings - c.errors;
          const to = status => href(scheme, kind) + (status ? "?status=" + status : "");
          sections += `<div class="card" data-testid="count-${scheme}-${kind}">
            <h3><a href="${to("")}">${kind[0].toUpperCase() + kind.slice(1)}</a></h3>
            <div class="big" data-count="total">${c.total}</div>
            <div class="counts">
              <a class="ok" href="${to("enabled")}"><span data-count="success">${success}</span> success</a>
              <a class="warn" href="${to("warning")}"><span data-count="warnings">${c.warnings}</span> warnings</a>
              <a class="err" href="${to("disabled")}"><span data-count="errors">${c.errors}</span> errors</a>
            </div></div>`;
        }
        sections += "</div>";
      }
      const cc = ov.certificates || {total: 0, warnings: 0, errors: 0};
      const toCerts = status => "#/certificates" + (status ? "?status=" + status : "");
      sections += `<h2>TLS</h2><div class="cards"><div class="card" data-testid="count-certificates">
        <h3><a href="${toCerts("")}">Certificates</a></h3>
        <div class="big" data-count="total">${cc.total}</div>
        <div class="counts">
          <a class="ok" href="${toCerts("enabled")}"><span data-count="success">${cc.total - cc.warnings - cc.errors}</span> valid</a>
          <a class="warn" href="${toCerts("warning")}"><span data-count="warnings">${cc.warnings}</span> expiring</a>
          <a class="err" href="${toCerts("expired")}"><span data-count="errors">${cc.errors}</span> expired</a>
        </div></div></div>`;
      root.querySelector("#ov-sections").innerHTML = sections;
      const f = ov.features || {};
      const feature = (name, v) => `<div class="card"><h3>${esc(name)}</h3><span class="badge ${v ? "yes" : "no"}">${v ? esc(v === true ? "on" : v) : "off"}</span></div>`;
      root.querySelector("#ov-features").innerHTML =
        feature("Tracing", f.tracing) + feature("Metrics", f.metrics) + feature("Access log", f.accessLog);
      root.querySelector("#ov-providers").innerHTML = (ov.providers || []).map(p =>
        `<div class="card" data-testid="provider"><h3>${esc(p)}</h3></div>`).join("") || `<p class="muted">No providers.</p>`;
    },
  };
}

// The columns of each list: title, sortBy field (or null), cell.
function columns(scheme, kind) {
  const status = ["Status", "status", e => badge(e.status) + errorsBox(e.error)];
  const name = ["Name", "name", e => link(scheme, kind, e.name)];
  const provider = ["Provider", "provider", e => esc(e.provider)];
  if (kind === "routers") {
    const entryPoints = ["Entrypoints", "entryPoints", e => entryPointLinks(e)];
    const service = ["Service", "service", e => e.service ? link(scheme, "services", qualify(e.service, e.provider)) : ""];
    // UDP routers have no rule, TLS or priority: a UDP entrypoint's
    // datagrams all go to its one router.
    if (scheme === "udp") return [status, name, entryPoints, service, provider];
    return [status, name,
      ["Rule", "rule", e => `<code>${esc(e.rule)}</code>`],
      entryPoints,
      ["TLS", null, e => tlsBadge(e.tls)],
      service,
      ["Priority", "priority", e => esc(e.priorityStr ?? e.priority)],
      provider];
  }
  if (kind === "services") {
    const servers = e => {
      const lb = e.loadBalancer;
      return lb && lb.servers ? lb.servers.length : "";
    };
    return [status, name, ["Type", "type", e => esc(e.type)], ["Servers", "servers", servers], provider];
  }
  return [status, name, ["Type", "type", e => esc(e.type)], provider];
}

// A list of elements as a table: search box, status filter, sortable
// columns, all pages followed through X-Next-Page (or, with `pageSize`,
// one page at a time with Previous/Next). `spec`: section, title, tabs
// (HTML), path (under the API), columns (title, sortBy field or null,
// cell), statuses (value, label), noun (singular, plural), rowClass.
function tableView(spec) {
  let state;
  return {
    section: spec.section,
    mount(root, params) {
      state = {
        search: params.get("search") || "",
        status: params.get("status") || "",
        sortBy: params.get("sortBy") || "name",
        direction: params.get("direction") || "asc",
        page: Math.max(1, Number(params.get("page")) || 1),
      };
      root.innerHTML = `<h1>${esc(spec.title)}</h1>
        ${spec.tabs || ""}
        <div class="toolbar">
          <input type="search" id="search" placeholder="Search" size="30" aria-label="Search">
          <select id="status-filter" aria-label="Status">${spec.statuses.map(([v, t]) => `<option value="${v}">${t}</option>`).join("")}</select>
          <span id="list-count" class="muted"></span>
        </div>
        <table id="list"><thead><tr></tr></thead><tbody></tbody></table>
        ${spec.pageSize ? `<div class="pager" id="pager"><button type="button" id="page-prev">&larr; Previous</button>
          <span id="page-number" class="muted"></span><button type="button" id="page-next">Next &rarr;</button></div>` : ""}`;
      const search = root.querySelector("#search");
      const filter = root.querySelector("#status-filter");
      search.value = state.search;
      filter.value = state.status;
      let timer = null;
      const changed = (keepPage) => {
        if (!keepPage) state.page = 1;
        state.search = search.value;
        state.status = filter.value;
        const q = new URLSearchParams();
        for (const k of ["search", "status"]) if (state[k]) q.set(k, state[k]);
        if (state.sortBy !== "name" || state.direction !== "asc") { q.set("sortBy", state.sortBy); q.set("direction", state.direction); }
        if (state.page > 1) q.set("page", String(state.page));
        setParams(q);
        refreshNow();
      };
      search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => changed(false), 250); });
      filter.addEventListener("change", () => changed(false));
      if (spec.pageSize) {
        root.querySelector("#page-prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); changed(true); });
        root.querySelector("#page-next").addEventListener("click", () => { state.page += 1; changed(true); });
      }
      const head = root.querySelector("thead tr");
      for (const [title, field] of spec.columns) {
        const th = el("th", field ? {class: "sortable", "data-sort": field} : {}, esc(title));
        if (field) {
          th.addEventListener("click", () => {
            state.direction = state.sortBy === field && state.direction === "asc" ? "desc" : "asc";
            state.sortBy = field;
            changed(false);
          });
        }
        head.appendChild(th);
      }
    },
    async refresh(root) {
      const params = {sortBy: state.sortBy, direction: state.direction};
      if (state.search) params.search = state.search;
      if (state.status) params.status = state.status;
      let items;
      let more = false;
      if (spec.pageSize) {
        const q = new URLSearchParams(params);
        q.set("page", String(state.page));
        q.set("per_page", String(spec.pageSize));
        let answer;
        try {
          answer = await api(spec.path + "?" + q.toString());
        } catch (err) {
          // A page past the end (the list shrank): back to the first.
          if (err.status === 400 && state.page > 1) { state.page = 1; return this.refresh(root); }
          throw err;
        }
        items = Array.isArray(answer.body) ? answer.body : [];
        more = Number(answer.next) > state.page;
        root.querySelector("#page-prev").disabled = state.page <= 1;
        root.querySelector("#page-next").disabled = !more;
        root.querySelector("#page-number").textContent = `page ${state.page}`;
      } else {
        items = await apiAll(spec.path, params);
      }
      for (const th of root.querySelectorAll("th[data-sort]")) {
        const on = th.dataset.sort === state.sortBy;
        th.classList.toggle("sorted", on);
        th.classList.toggle("desc", on && state.direction === "desc");
      }
      const body = root.querySelector("tbody");
      body.innerHTML = items.map(e =>
        `<tr data-name="${esc(e.name)}" class="${spec.rowClass(e)}">` +
        spec.columns.map(([, , cell]) => `<td>${cell(e)}</td>`).join("") + "</tr>").join("") ||
        `<tr><td colspan="${spec.columns.length}" class="muted">Nothing to show.</td></tr>`;
      const [one, many] = spec.noun;
      root.querySelector("#list-count").textContent = `${items.length} ${items.length === 1 ? one : many}` +
        (spec.pageSize && (more || state.page > 1) ? " on this page" : "");
    },
  };
}

function listView(scheme, kind) {
  const tabs = KINDS[scheme].map(k =>
    `<a href="${href(scheme, k)}" class="${k === kind ? "active" : ""}">${k[0].toUpperCase() + k.slice(1)}</a>`).join("");
  return tableView({
    section: scheme,
    title: `${scheme.toUpperCase()} ${kind}`,
    tabs: `<div class="tabs">${tabs}</div>`,
    path: `${scheme}/${kind}`,
    columns: columns(scheme, kind),
    statuses: STATUSES,
    noun: [kind.replace(/s$/, ""), kind],
    rowClass: e => e.error && e.error.length ? "has-error" : "",
  });
}

// The details of a router of `scheme`: UDP routers have only entrypoints
// and a service; TCP and HTTP routers a rule, a priority, TLS and
// middlewares too.
function routerDetail(scheme, r) {
  const eps = entryPointLinks(r);
  const mws = (r.middlewares || []).map(m => qualify(m, r.provider));
  const service = qualify(r.service, r.provider);
  const chain = [`<span class="step">entrypoints: ${eps || "none"}</span>`]
    .concat(mws.map(m => `<span class="step" data-testid="chain-middleware">${link(scheme, "middlewares", m)}</span>`))
    .concat(service ? [`<span class="step" data-testid="chain-service">${link(scheme, "services", service)}</span>`] : [])
    .join(`<span class="arrow">&rarr;</span>`);
  const routed = scheme !== "udp";
  return `<dl class="props" id="detail-props">
      <dt>Status</dt><dd>${badge(r.status)}</dd>
      ${routed ? `<dt>Rule</dt><dd><code data-testid="rule">${esc(r.rule)}</code></dd>` : ""}
      ${routed && r.ruleSyntax ? `<dt>Rule syntax</dt><dd>${esc(r.ruleSyntax)}</dd>` : ""}
      <dt>Entrypoints</dt><dd data-testid="entrypoints">${eps}</dd>
      ${routed ? `<dt>Priority</dt><dd>${esc(r.priorityStr ?? r.priority)}</dd>` : ""}
      ${routed ? `<dt>TLS</dt><dd data-testid="tls">${r.tls ? props(r.tls) : `<span class="muted">no</span>`}</dd>` : ""}
      ${routed ? `<dt>Middlewares</dt><dd>${mws.map(m => link(scheme, "middlewares", m)).join(", ") || `<span class="muted">none</span>`}</dd>` : ""}
      <dt>Service</dt><dd data-testid="service">${service ? link(scheme, "services", service) : ""}</dd>
      <dt>Provider</dt><dd>${esc(r.provider)}</dd>
      ${r.observability ? `<dt>Observability</dt><dd>${props(r.observability)}</dd>` : ""}
    </dl>
    <h2>Chain</h2><div class="chain">${chain}</div>`;
}

// The details of a service of `scheme`: HTTP servers have a URL, TCP and
// UDP servers an address.
function serviceDetail(scheme, s) {
  let out = `<dl class="props" id="detail-props">
      <dt>Status</dt><dd>${badge(s.status)}</dd>
      <dt>Type</dt><dd>${esc(s.type)}</dd>
      <dt>Provider</dt><dd>${esc(s.provider)}</dd>
      <dt>Used by</dt><dd>${(s.usedBy || []).map(n => link(scheme, "routers", n)).join(", ") || `<span class="muted">no router</span>`}</dd>`;
  const lb = s.loadBalancer;
  if (lb) {
    for (const key of ["passHostHeader", "strategy", "sticky", "healthCheck", "serversTransport", "responseForwarding", "proxyProtocol", "terminationDelay"]) {
      if (lb[key] !== undefined) out += `<dt>${esc(key)}</dt><dd data-testid="lb-${esc(key)}">${props(lb[key])}</dd>`;
    }
  }
  out += "</dl>";
  if (lb) {
    const st = s.serverStatus || {};
    // Only HTTP servers have a weight; UDP servers have no health status.
    const weighted = scheme === "http";
    const health = scheme !== "udp";
    out += `<h2>Servers</h2><table id="servers"><thead><tr><th>${scheme === "http" ? "URL" : "Address"}</th>` +
      `${weighted ? "<th>Weight</th>" : ""}${health ? "<th>Status</th>" : ""}</tr></thead><tbody>` +
      (lb.servers || []).map(sv => {
        const target = sv.url || sv.address || "";
        const status = st[target] ? badge(st[target]) : `<span class="muted">unknown</span>`;
        return `<tr><td><code>${esc(target)}</code>${sv.tls ? ` <span class="badge yes">TLS</span>` : ""}</td>` +
          `${weighted ? `<td>${esc(sv.weight ?? 1)}</td>` : ""}${health ? `<td>${status}</td>` : ""}</tr>`;
      }).join("") + "</tbody></table>";
  }
  const children = [];
  if (s.weighted) for (const c of s.weighted.services || []) children.push([c.name, "weight " + (c.weight ?? 1)]);
  if (s.mirroring) {
    children.push([s.mirroring.service, "main"]);
    for (const m of s.mirroring.mirrors || []) children.push([m.name, (m.percent ?? 0) + "% mirrored"]);
  }
  if (s.failover) {
    children.push([s.failover.service, "main"]);
    children.push([s.failover.fallback, "fallback"]);
  }
  if (children.length) {
    out += `<h2>Services</h2><table id="children"><thead><tr><th>Service</th><th>Role</th></tr></thead><tbody>` +
      children.map(([n, role]) => `<tr><td>${link(scheme, "services", qualify(n, s.provider))}</td><td>${esc(role)}</td></tr>`).join("") +
      "</tbody></table>";
    const rest = Object.assign({}, s.weighted || s.mirroring || s.failover);
    delete rest.services; delete rest.mirrors; delete rest.service; delete rest.fallback;
    if (Object.keys(rest).length) out += `<h2>Settings</h2>${props(rest)}`;
  }
  return out;
}

function middlewareDetail(scheme, m) {
  const config = {};
  for (const [k, v] of Object.entries(m)) {
    if (!["name", "provider", "status", "error", "usedBy", "type"].includes(k)) config[k] = v;
  }
  return `<dl class="props" id="detail-props">
      <dt>Status</dt><dd>${badge(m.status)}</dd>
      <dt>Type</dt><dd>${esc(m.type)}</dd>
      <dt>Provider</dt><dd>${esc(m.provider)}</dd>
      <dt>Used by</dt><dd>${(m.usedBy || []).map(n => link(scheme, "routers", n)).join(", ") || `<span class="muted">no router</span>`}</dd>
    </dl>
    <h2>Configuration</h2><div id="middleware-config">${props(config)}</div>`;
}

function detailView(scheme, kind, name) {
  return {
    section: scheme,
    mount(root) {
      root.innerHTML = `<p><a href="${href(scheme, kind)}">&larr; ${scheme.toUpperCase()} ${esc(kind)}</a></p>
        <h1 id="detail-name">${esc(name)}</h1><div id="detail"></div>`;
    },
    async refresh(root) {
      const target = root.querySelector("#detail");
      let e;
      try {
        e = (await api(`${scheme}/${kind}/${encodeURIComponent(name)}`)).body;
      } catch (err) {
        if (err.status === 404) { target.innerHTML = errorsBox([err.message]); return; }
        throw err;
      }
      const show = {routers: routerDetail, services: serviceDetail, middlewares: middlewareDetail}[kind];
      const body = show(scheme, e);
      target.innerHTML = errorsBox(e.error) + body + `<h2>As the API shows it</h2><pre>${esc(JSON.stringify(e, null, 2))}</pre>`;
    },
  };
}

function entrypointsView() {
  return {
    section: "entrypoints",
    mount(root) {
      root.innerHTML = `<h1>Entrypoints</h1><table id="list"><thead><tr><th>Name</th><th>Address</th></tr></thead><tbody></tbody></table>`;
    },
    async refresh(root) {
      const eps = await apiAll("entrypoints", {});
      root.querySelector("tbody").innerHTML = eps.map(ep =>
        `<tr data-name="${esc(ep.name)}"><td><a href="${href("entrypoints", ep.name)}">${esc(ep.name)}</a></td><td><code>${esc(ep.address)}</code></td></tr>`).join("");
    },
  };
}

function entrypointView(name) {
  return {
    section: "entrypoints",
    mount(root) {
      root.innerHTML = `<p><a href="#/entrypoints">&larr; Entrypoints</a></p><h1 id="detail-name">${esc(name)}</h1><div id="detail"></div>`;
    },
    async refresh(root) {
      const target = root.querySelector("#detail");
      try {
        const {body} = await api("entrypoints/" + encodeURIComponent(name));
        target.innerHTML = props(body);
      } catch (err) {
        if (err.status === 404) { target.innerHTML = errorsBox([err.message]); return; }
        throw err;
      }
    },
  };
}

function explainView() {
  let asked = null;
  return {
    section: "explain",
    mount(root, params) {
      root.innerHTML = `<h1>Explain a request</h1>
        <p class="muted">How this instance would route one request: the routers of the entrypoint in the order tried, each matcher's result, and what answers.</p>
        <form class="explain" id="explain-form">
          <label for="ex-url">URL</label><input id="ex-url" name="url" placeholder="http://app.example.com/path" required>
          <label for="ex-ep">Entrypoint</label><select id="ex-ep" name="entryPoint"><option value="">(the only one with routers)</option></select>
          <label for="ex-method">Method</label><select id="ex-method" name="method">${["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].map(m => `<option>${m}</option>`).join("")}</select>
          <label for="ex-headers">Headers</label><textarea id="ex-headers" name="headers" rows="3" placeholder="X-Env: prod (one per line)"></textarea>
          <label for="ex-ip">Client IP</label><input id="ex-ip" name="clientIp" placeholder="127.0.0.1">
          <span></span><span><button type="submit" id="ex-submit">Explain</button></span>
        </form>
        <div id="explanation"></div>`;
      const form = root.querySelector("#explain-form");
      root.querySelector("#ex-url").value = params.get("url") || "";
      root.querySelector("#ex-method").value = params.get("method") || "GET";
      root.querySelector("#ex-headers").value = params.getAll("header").join("\n");
      root.querySelector("#ex-ip").value = params.get("clientIp") || "";
      root.querySelector("#ex-ep").dataset.wanted = params.get("entryPoint") || "";
      if (params.get("url")) asked = params;
      form.addEventListener("submit", ev => {
        ev.preventDefault();
        const q = new URLSearchParams();
        q.set("url", root.querySelector("#ex-url").value.trim());
        const ep = root.querySelector("#ex-ep").value;
        if (ep) q.set("entryPoint", ep);
        q.set("method", root.querySelector("#ex-method").value);
        for (const line of root.querySelector("#ex-headers").value.split("\n")) if (line.trim()) q.append("header", line.trim());
        const ip = root.querySelector("#ex-ip").value.trim();
        if (ip) q.set("clientIp", ip);
        asked = q;
        setParams(q);
        refreshNow();
      });
    },
    async refresh(root) {
      const select = root.querySelector("#ex-ep");
      // HTTP requests arrive on TCP entrypoints only.
      const eps = (await apiAll("entrypoints", {})).filter(e => !/\/udp$/i.test(e.address || ""));
      const wanted = select.value || select.dataset.wanted;
      const names = eps.map(e => e.name);
      if (select.options.length - 1 !== names.length || names.some((n, i) => select.options[i + 1].value !== n)) {
        select.innerHTML = `<option value="">(the only one with routers)</option>` + names.map(n => `<option value="${esc(n)}">${esc(n)}</option>`).join("");
      }
      select.value = names.includes(wanted) ? wanted : "";
      if (!asked) return;
      const out = root.querySelector("#explanation");
      let x;
      try {
        x = (await api("explain?" + asked.toString())).body;
      } catch (err) {
        if (err.status === 400) { out.innerHTML = errorsBox([err.message]); return; }
        throw err;
      }
      out.innerHTML = renderExplanation(x);
    },
  };
}

function renderExplanation(x) {
  const r = x.request || {};
  const chosen = x.router;
  let out = `<div class="answer ${chosen ? "" : "notfound"}" id="explain-answer">${esc(x.answer)}</div>
    <p class="muted">${esc(r.method)} ${r.tls ? "https" : "http"}://${esc(r.host)}${esc(r.path)}${r.query ? "?" + esc(r.query) : ""} from ${esc(r.clientIp)} on entrypoint ${esc(r.entryPoint)}</p>`;
  if (chosen) {
    const service = x.serviceDetail || {};
    const st = service.serverStatus || {};
    const servers = ((service.loadBalancer || {}).servers || []).map(s => s.url || s.address || "");
    const steps = [`<span class="step">router ${link("http", "routers", chosen)}</span>`]
      .concat((x.middlewares || []).map(m => `<span class="step">middleware ${link("http", "middlewares", m)}</span>`))
      .concat([`<span class="step">service ${link("http", "services", x.service)}</span>`])
      .concat(servers.length ? [`<span class="step">servers ${servers.map(s => `<code>${esc(s)}</code> ${st[s] ? badge(st[s]) : ""}`).join(", ")}</span>`] : []);
    out += `<h2>Chosen</h2><div class="chain" id="explain-chain">${steps.join(`<span class="arrow">&rarr;</span>`)}</div>`;
  }
  out += `<h2>Routers tried, in order</h2><table id="explain-routers"><thead><tr><th>#</th><th>Router</th><th>Priority</th><th>Matched</th><th>Matchers</th></tr></thead><tbody>` +
    (x.routers || []).map((rt, i) => `<tr data-name="${esc(rt.name)}" class="${rt.name === chosen ? "chosen" : ""}">
      <td>${i + 1}</td><td>${link("http", "routers", rt.name)}${rt.name === chosen ? ` <span class="badge enabled">chosen</span>` : ""}</td>
      <td>${esc(rt.priority)}</td>
      <td><span class="badge ${rt.matched ? "yes" : "no"}" data-matched="${rt.matched}">${rt.matched ? "yes" : "no"}</span></td>
      <td>${(rt.terms || []).map(t => `<span class="term ${t.matched ? "matched" : "unmatched"}"><code>${esc(t.term)}</code></span>`).join("") || `<code>${esc(rt.rule)}</code>`}</td></tr>`).join("") +
    "</tbody></table>";
  return out;
}

// ---- the page --------------------------------------------------------------

function viewFor(segments) {
  const [first, kind, ...rest] = segments;
  if (!first) return overviewView();
  if (first === "explain") return explainView();
  if (first === "entrypoints") return kind ? entrypointView(kind) : entrypointsView();
  if (first === "certificates") return kind ? certificateView([kind, ...rest].join("/")) : certificatesView();
  if (KINDS[first]) {
    const k = KINDS[first].includes(kind) ? kind : "routers";
    if (rest.length && kind === k) return detailView(first, k, rest.join("/"));
    return listView(first, k);
  }
  return overviewView();
}

// The view shown and the element it draws in (a new one per navigation, so
// that a refresh still running for the previous view draws nowhere visible).
let current = null;
let box = null;
let generation = 0;

async function refreshNow() {
  const view = current;
  const target = box;
  const mine = ++generation;
  const problem = document.getElementById("problem");
  try {
    await view.refresh(target);
    if (mine !== generation) return;
    problem.hidden = true;
    document.getElementById("refreshed").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    if (mine !== generation) return;
    problem.textContent = "Cannot read the API: " + err.message;
    problem.hidden = false;
  }
}

function navigate() {
  const {segments, params} = here();
  current = viewFor(segments);
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.section === current.section);
  const root = document.getElementById("view");
  box = el("div");
  root.replaceChildren(box);
  current.mount(box, params);
  refreshNow();
}

window.addEventListener("hashchange", navigate);
setInterval(() => { if (current) refreshNow(); }, REFRESH_MS);
api("version").then(({body}) => {
  document.getElementById("version").textContent = "version " + body.Version;
}).catch(() => {});
navigate();
