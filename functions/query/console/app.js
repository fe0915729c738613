// Runtime Inventory console: a page of the API itself. Every call goes to the JSON routes with the
// browser's basic-auth credentials, or, signed in with SSO, the provider's token as a bearer
// token; nothing is loaded from anywhere else. DOM is built with textContent only, so no
// reported string can become markup.
"use strict";

const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
let ROLE = meta("ri-role");
let USER = meta("ri-user");
let IS_ADMIN = ROLE === "admin";
// Who may write, revoke and approve VEX annotations (the API checks it regardless).
let CAN_ANNOTATE = IS_ADMIN || ROLE === "vex-approver";
// Single sign-on: the provider and the console's public client, on /ui/sso only.
const SSO_ISSUER = meta("ri-sso-issuer");
const SSO_CLIENT = meta("ri-sso-client");
// The token of the signed-in person (sessionStorage: gone with the tab, never sent by itself).
let TOKEN = null;
const PAGE_SIZE = 50;
const view = document.getElementById("view");
const statusLine = document.getElementById("status");

function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function say(message, isError) {
  statusLine.textContent = message || "";
  statusLine.className = isError ? "error" : "";
}

async function api(path, options) {
  // Against the origin: a page opened as http://user:pass@host/ui would make a relative URL
  // carry the credentials, which fetch refuses.
  const response = await fetch(new URL(path, location.origin), {
    credentials: "same-origin",
    ...options,
    headers: {
      Accept: "application/json",
      ...(options && options.body ? { "Content-Type": "application/json" } : {}),
      ...(TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {}),
    },
  });
  if (response.status === 401 && TOKEN) signOut();
  if (response.status === 204) return null;
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = (body && (body.message || body.error)) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function ago(iso) {
  if (!iso) return "";
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 120) return `${minutes} min ago`;
  if (minutes < 2880) return `${Math.round(minutes / 60)} h ago`;
  return `${Math.round(minutes / 1440)} days ago`;
}

// "1 context", "3 contexts".
function count(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function shortDigest(digest) {
  return digest ? digest.replace(/^sha256:/, "").slice(0, 12) : "(tag only)";
}

function workloadText(item) {
  const list = (item.workloads || []).map((w) => `${w.kind} ${w.name} (${w.containers})`);
  if (item.workload_count && item.workload_count > list.length) list.push(`… ${item.workload_count} in all`);
  return list.join(", ");
}

// ---- charts: plain SVG bars ------------------------------------------------------------------

function barChart(title, bars, options) {
  const width = 520, rowHeight = 20, labelWidth = options && options.vertical ? 0 : 170;
  if (!bars.length) return h("figure", {}, h("figcaption", {}, title), h("p", {}, "Nothing to draw yet."));
  const max = Math.max(1, ...bars.map((bar) => bar.value));
  let chart;
  if (options && options.vertical) {
    // 16 px above the bars for the scale, 20 below for the first and last day.
    const top = 16, height = 160, gap = 2, barWidth = Math.min(40, Math.max(3, Math.floor(width / bars.length) - gap));
    chart = svg("svg", { viewBox: `0 0 ${width} ${top + height + 20}`, role: "img", "aria-label": title, width },
      bars.map((bar, index) => {
        const barHeight = Math.round((bar.value / max) * height);
        return svg("g", {},
          svg("rect", { class: "bar", x: index * (barWidth + gap), y: top + height - barHeight, width: barWidth, height: barHeight },
            svg("title", {}, `${bar.label}: ${bar.value}`)));
      }),
      svg("text", { x: 0, y: top + height + 16 }, bars[0].label),
      svg("text", { x: width, y: top + height + 16, "text-anchor": "end" }, bars[bars.length - 1].label),
      svg("text", { x: 0, y: 11 }, `${max} at most in a day`));
  } else {
    const height = bars.length * rowHeight;
    chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": title, width },
      bars.map((bar, index) => {
        const length = Math.max(1, Math.round((bar.value / max) * (width - labelWidth - 40)));
        const y = index * rowHeight;
        return svg("g", {},
          svg("text", { x: 0, y: y + 14 }, bar.label.length > 26 ? bar.label.slice(0, 25) + "…" : bar.label),
          svg("rect", { class: bar.stale ? "bar stale" : "bar", x: labelWidth, y: y + 3, width: length, height: rowHeight - 6 },
            svg("title", {}, `${bar.label}: ${bar.value}`)),
          svg("text", { x: labelWidth + length + 4, y: y + 14 }, bar.value));
      }));
  }
  return h("figure", {}, h("figcaption", {}, title), chart);
}

const SEVERITIES = ["critical", "high", "medium", "low", "negligible", "unknown"];

// "2 critical, 1 high" from an image's counts; "" when it has none worth naming.
function severityText(counts) {
  if (!counts) return "";
  return SEVERITIES.slice(0, 4).filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`).join(", ");
}

function severityBadge(severity) {
  return h("span", { class: `badge sev-${severity}` }, severity);
}

// ---- VEX annotations -------------------------------------------------------------------------

const VEX_STATUSES = ["not_affected", "affected", "fixed", "under_investigation"];
const JUSTIFICATIONS = ["component_not_present", "vulnerable_code_not_present", "vulnerable_code_not_in_execute_path",
  "vulnerable_code_cannot_be_controlled_by_adversary", "inline_mitigations_already_exist"];

function words(name) {
  return name.replace(/_/g, " ");
}

function vexBadge(vex) {
  return vex ? h("span", { class: `badge vex-${vex.status}`, title: `annotation ${vex.uuid}` }, words(vex.status)) : null;
}

// A checkbox showing the rows of `tableId` VEX suppresses: they are hidden until it is ticked.
function suppressedToggle(id, suppressed, tableId) {
  if (!suppressed) return null;
  return h("label", { class: "toggle" },
    h("input", { type: "checkbox", id, onchange: (event) => {
      for (const row of document.querySelectorAll(`#${tableId} tr.suppressed`)) row.hidden = !event.target.checked;
    } }),
    `Show ${suppressed} suppressed by VEX`);
}

function scopeText(annotation) {
  const scope = annotation.scope || {};
  if (scope.image_digest) return `image ${shortDigest(scope.image_digest)}`;
  if (scope.repository) return `repository ${scope.repository}`;
  if (scope.context) return `context ${scope.context}`;
  if (scope.account) return "the whole account";
  return "";
}

function packageText(annotation) {
  const p = annotation.package_identifier;
  return p ? `${p.name}${p.version ? " " + p.version : ""}` : "every package";
}

// A button that acts on its second click ("Confirm …"), then redraws the view.
function confirmedButton(label, action) {
  return h("button", { type: "button", class: "danger", onclick: (event) => {
    event.target.replaceWith(h("button", { type: "button", class: "danger", onclick: async (confirm) => {
      confirm.target.disabled = true;
      try { await action(); await route(); } catch (error) { say(error.message, true); confirm.target.disabled = false; }
    } }, `Confirm ${label.toLowerCase()}`));
  } }, label);
}

// The form under a finding's row: what the team says of it in this image, and until when.
function annotationForm(digest, finding) {
  const select = (label, name, options) => h("label", {}, label,
    h("select", { name }, options.map(([value, text]) => h("option", { value }, text))));
  return h("form", { class: "annotate", onsubmit: async (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const annotation = { vulnerability_id: finding.vulnerability_id, status: data.get("status") };
      if (data.get("justification")) annotation.justification = data.get("justification");
      if (data.get("notes").trim()) annotation.status_notes = data.get("notes").trim();
      const { name, version, type } = finding.package;
      const body = { annotation, package_identifier: { name, version, ...(type ? { type } : {}) } };
      // Through the end of the chosen day, UTC.
      if (data.get("expires")) body.expires_at = `${data.get("expires")}T23:59:59Z`;
      try {
        const saved = await api(`/v2/images/${digest}/vuln-annotations`, { method: "POST", body: JSON.stringify(body) });
        await route();
        say(saved.state === "pending" ? "Saved: it applies once an approver other than you approves it." : "Saved.");
      } catch (error) { say(error.message, true); }
    } },
    select("Status", "status", VEX_STATUSES.map((status) => [status, words(status)])),
    select("Justification", "justification", [["", "none"], ...JUSTIFICATIONS.map((j) => [j, words(j)])]),
    h("label", {}, "Notes", h("input", { name: "notes", placeholder: "JndiLookup removed from the jar" })),
    h("label", {}, "Expires (optional)", h("input", { name: "expires", type: "date" })),
    h("button", { type: "submit" }, "Save annotation"));
}

// An image's own annotations, each revocable by annotators.
function annotationsTable(digest, annotations) {
  if (!annotations.length) return h("p", { id: "image-annotations" }, "No VEX annotation of this image.");
  return h("div", { class: "table-wrap" }, h("table", { id: "image-annotations" },
    h("thead", {}, h("tr", {}, ["Vulnerability", "Package", "Status", "State", "Author", "Expires", CAN_ANNOTATE ? "Actions" : null]
      .filter(Boolean).map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, annotations.map((a) => h("tr", { "data-uuid": a.annotation.uuid },
      h("td", {}, a.annotation.vulnerability_id),
      h("td", {}, packageText(a)),
      h("td", {}, vexBadge(a.annotation)),
      h("td", {}, h("span", { class: `badge ${a.state}` }, a.state)),
      h("td", {}, a.annotation.author),
      h("td", {}, a.expires_at ? a.expires_at.slice(0, 10) : a.expires_when_fixed ? "when fixed" : "never"),
      CAN_ANNOTATE ? h("td", {}, confirmedButton("Revoke",
        () => api(`/v2/images/${digest}/vuln-annotations/${a.annotation.uuid}`, { method: "DELETE" }))) : null)))));
}

// ---- views -----------------------------------------------------------------------------------

async function showClusters() {
  say("Loading clusters…");
  const [{ clusters }, exposure] = await Promise.all([api("/v2/clusters"), api("/v2/exposure?min_severity=high")]);
  const exposed = new Map(exposure.clusters.map((c) => [`${c.inventory_type} ${c.cluster}`, c.by_severity]));
  clusters.sort((a, b) => (b.stale - a.stale) || a.cluster.localeCompare(b.cluster));
  const rows = clusters.map((c) => h("tr", { "data-cluster": c.cluster },
    h("td", {}, c.stale ? h("span", { class: "badge stale" }, "stale") : h("span", { class: "badge ok" }, "reporting")),
    h("td", {}, h("a", { href: `#/images?context=${encodeURIComponent(c.inventory_type === "ecs" ? c.cluster : c.cluster + "/")}&type=${c.inventory_type}` }, c.cluster)),
    h("td", {}, c.inventory_type),
    h("td", {}, (c.sources || []).join(", ")),
    h("td", { class: "hide-narrow" }, `${c.context_count}: ${c.contexts.slice(0, 5).join(", ")}${c.contexts.length > 5 ? ", …" : ""}`),
    h("td", { title: c.last_report_at }, ago(c.last_report_at)),
    h("td", {}, c.container_count),
    h("td", {}, c.image_count),
    h("td", { class: "exposure" }, (exposed.get(`${c.inventory_type} ${c.cluster}`) || {}).critical || 0),
    h("td", { class: "exposure" }, (exposed.get(`${c.inventory_type} ${c.cluster}`) || {}).high || 0)));
  view.replaceChildren(
    h("h2", {}, "Clusters"),
    h("div", { class: "table-wrap" }, h("table", { id: "clusters" },
      h("thead", {}, h("tr", {}, ["Status", "Cluster", "Type", "Source", "Contexts", "Last report", "Containers", "Images", "Critical images", "High images"].map(
        (name) => h("th", { scope: "col", class: name === "Contexts" ? "hide-narrow" : undefined }, name)))),
      h("tbody", {}, rows))),
    h("div", { class: "charts" },
      barChart("Images per cluster", clusters.map((c) => ({ label: c.cluster.replace(/^arn:aws:ecs:[^:]+:[^:]+:cluster\//, "ecs/"), value: c.image_count, stale: c.stale }))),
      h("div", { id: "per-day" })));
  say(clusters.length ? `${clusters.length} clusters, ${clusters.filter((c) => c.stale).length} stale` : "No cluster has reported yet.");
  drawNewPerDay();
}

// New images per day over the retained period, from the images' first sighting (pages of the
// inventory, at most 20,000 items, so a large inventory does not hold the browser).
async function drawNewPerDay() {
  const perDay = new Map();
  let next = null, pages = 0;
  do {
    const page = await api(`/v2/inventories?limit=1000${next ? "&next=" + encodeURIComponent(next) : ""}`);
    for (const item of page.items) {
      const day = (item.first_seen || "").slice(0, 10);
      if (day) perDay.set(day, (perDay.get(day) || 0) + 1);
    }
    next = page.next;
  } while (next && ++pages < 20);
  const days = [...perDay.keys()].sort();
  const bars = [];
  if (days.length) {
    for (let day = new Date(days[0] + "T00:00:00Z"); day <= new Date(); day.setUTCDate(day.getUTCDate() + 1)) {
      const key = day.toISOString().slice(0, 10);
      bars.push({ label: key, value: perDay.get(key) || 0 });
    }
  }
  const target = document.getElementById("per-day");
  if (target) target.replaceChildren(barChart("New images per day", bars.slice(-120), { vertical: true }));
}

const imageState = { cursors: [null], page: 0, items: [], sort: null };

function imageFilters() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  return { type: params.get("type") || "", context: params.get("context") || "", digest: params.get("digest") || "",
           kind: params.get("kind") || "", workload: params.get("workload") || "",
           severity: params.get("severity") || "", cve: params.get("cve") || "", at: params.get("at") || "" };
}

function inventoryQuery(filters, cursor) {
  const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
  if (filters.type) query.set("inventory_type", filters.type);
  if (filters.context) query.set("context", filters.context.endsWith("*") ? filters.context : filters.context + "*");
  if (filters.digest) query.set("image_digest", filters.digest.trim());
  if (filters.kind) query.set("workload_kind", filters.kind);
  if (filters.workload) query.set("workload", filters.workload);
  if (filters.severity) query.set("min_severity", filters.severity);
  if (filters.cve) query.set("vulnerability_id", filters.cve.trim());
  if (cursor) query.set("next", cursor);
  return "/v2/inventories?" + query;
}

async function showImages() {
  const filters = imageFilters();
  const field = (label, name, value, extra) => h("label", {}, label, h("input", { name, value, ...extra }));
  const select = (label, name, value, options) => h("label", {}, label,
    h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === value }, text))));
  const form = h("form", { class: "filters", id: "image-filters", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const params = new URLSearchParams();
      for (const [key, value] of data) if (value) params.set(key, value);
      location.hash = "#/images?" + params;
    } },
    select("Type", "type", filters.type, [["", "any"], ["kubernetes", "Kubernetes"], ["ecs", "ECS"]]),
    field("Context starts with", "context", filters.context, { placeholder: "prod-eu-1/" }),
    field("Image digest", "digest", filters.digest, { placeholder: "sha256:…" }),
    select("Workload kind", "kind", filters.kind, [["", "any"], ...["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "EcsService", "EcsTaskFamily"].map((k) => [k, k])]),
    field("Workload", "workload", filters.workload, { placeholder: "payments-*" }),
    select("Findings at least", "severity", filters.severity, [["", "any"], ...SEVERITIES.map((s) => [s, s])]),
    field("Vulnerability", "cve", filters.cve, { placeholder: "CVE-2024-3094" }),
    field("As of", "at", filters.at, { placeholder: "2026-11-20T10:15:00Z" }),
    h("button", { type: "submit" }, "Filter"));
  view.replaceChildren(h("h2", {}, "Images"), form, h("div", { id: "image-page" }));
  if (filters.at) return showImagesAsOf(filters);
  imageState.cursors = [null];
  imageState.page = 0;
  imageState.sort = null;
  await loadImagePage(filters);
}

// What ran at a past moment, from the running intervals (`GET /v2/history?context=&at=`): the
// type and context filters apply; the others describe today's inventory and are not used.
async function showImagesAsOf(filters) {
  const at = new Date(filters.at);
  if (Number.isNaN(at.getTime())) return say(`"${filters.at}" is not a date and time (2026-11-20T10:15:00Z)`, true);
  say("Finding what ran then…");
  const query = new URLSearchParams({ context: (filters.context.replace(/\*$/, "")) + "*", at: at.toISOString() });
  if (filters.type) query.set("inventory_type", filters.type);
  const ran = await api("/v2/history?" + query);
  const rows = ran.intervals.map((interval) => h("tr", {},
    h("td", {}, h("a", { href: `#/image/${encodeURIComponent(interval.image_digest)}` }, interval.image_tag),
      h("br"), h("code", {}, shortDigest(interval.image_digest))),
    h("td", {}, interval.context),
    h("td", { class: "hide-narrow" }, workloadText(interval)),
    h("td", {}, interval.from.slice(0, 16).replace("T", " ")),
    h("td", {}, interval.to ? interval.to.slice(0, 16).replace("T", " ") : "still running")));
  document.getElementById("image-page").replaceChildren(
    h("p", {}, `As of ${ran.at}: ${ran.intervals.length} images running.`),
    h("div", { class: "table-wrap" }, h("table", { id: "images-as-of" },
      h("thead", {}, h("tr", {}, ["Image", "Context", "Workloads", "From", "To"].map((name, index) =>
        h("th", { scope: "col", class: index === 2 ? "hide-narrow" : undefined }, name)))),
      h("tbody", {}, rows))));
  say("");
}

async function loadImagePage(filters) {
  say("Loading images…");
  const page = await api(inventoryQuery(filters, imageState.cursors[imageState.page]));
  imageState.items = page.items;
  imageState.cursors[imageState.page + 1] = page.next || undefined;
  renderImagePage(filters);
  say(`${page.items.length} images on page ${imageState.page + 1}${page.next ? "" : " (last page)"}`);
}

function renderImagePage(filters) {
  const items = [...imageState.items];
  if (imageState.sort) {
    const { key, direction } = imageState.sort;
    items.sort((a, b) => direction * String(a[key]).localeCompare(String(b[key])));
  }
  const sortButton = (label, key) => {
    const current = imageState.sort && imageState.sort.key === key ? imageState.sort.direction : 0;
    return h("th", { scope: "col", "aria-sort": current ? (current > 0 ? "ascending" : "descending") : "none" },
      h("button", { type: "button", onclick: () => {
        imageState.sort = { key, direction: current > 0 ? -1 : 1 };
        renderImagePage(filters);
      } }, `${label} ${current > 0 ? "▲" : current < 0 ? "▼" : "↕"}`));
  };
  const rows = items.map((item) => h("tr", {},
    h("td", {}, item.image_digest ? h("a", { href: `#/image/${encodeURIComponent(item.image_digest)}` }, item.image_tag) : item.image_tag,
      h("br"), h("code", {}, shortDigest(item.image_digest))),
    h("td", {}, item.context),
    h("td", {}, item.container_count),
    h("td", { class: "hide-narrow" }, workloadText(item)),
    h("td", { title: item.first_seen }, item.first_seen.slice(0, 16).replace("T", " ")),
    h("td", { title: item.last_seen }, item.last_seen.slice(0, 16).replace("T", " ")),
    h("td", { class: "vulnerabilities" }, severityText(item.vulnerabilities))));
  const pager = h("div", { class: "pager" },
    h("button", { type: "button", class: "secondary", disabled: imageState.page === 0, onclick: () => { imageState.page -= 1; loadImagePage(filters); } }, "Previous"),
    h("span", {}, `Page ${imageState.page + 1}`),
    h("button", { type: "button", class: "secondary", id: "next-page", disabled: !imageState.cursors[imageState.page + 1], onclick: () => { imageState.page += 1; loadImagePage(filters); } }, "Next"));
  document.getElementById("image-page").replaceChildren(
    h("div", { class: "table-wrap" }, h("table", { id: "images" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Image"), h("th", { scope: "col" }, "Context"), h("th", { scope: "col" }, "Containers"),
        h("th", { scope: "col", class: "hide-narrow" }, "Workloads"),
        sortButton("First seen", "first_seen"), sortButton("Last seen", "last_seen"), h("th", { scope: "col" }, "Vulnerabilities"))),
      h("tbody", {}, rows))),
    pager);
}

async function showImage(digest) {
  say("Finding where it runs…");
  // A digest is path-safe as it is (an encoded ':' would not match the route).
  const pathSafe = /^sha256:[0-9a-f]{64}$/.test(digest);
  const [inventory, scheduled, findings, history, annotations, sbom] = await Promise.all([
    api(`/v2/inventories?image_digest=${encodeURIComponent(digest)}`),
    pathSafe ? api(`/v2/images/${digest}/scheduled`) : { scheduled: [] },
    pathSafe ? api(`/v2/images/${digest}/vulnerabilities?include_suppressed=true`).catch(() => null) : null,
    api(`/v2/history?image_digest=${encodeURIComponent(digest)}&limit=1000`).catch(() => ({ intervals: [] })),
    pathSafe ? api(`/v2/images/${digest}/vuln-annotations`).catch(() => ({ items: [] })) : { items: [] },
    pathSafe ? api(`/v2/images/${digest}/sbom?limit=1000`).catch(() => null) : null,
  ]);
  const items = inventory.items;
  // A namespace holds no "/", an EKS cluster's ARN does: the cluster ends at the last one.
  const clusters = new Set(items.map((item) => item.inventory_type === "ecs" ? item.context : item.context.slice(0, item.context.lastIndexOf("/"))));
  view.replaceChildren(
    h("h2", {}, items.length ? items[0].image_tag : "Image"),
    h("p", {}, h("code", {}, digest)),
    h("p", { id: "image-summary" }, items.length ? `Runs in ${count(items.length, "context")} of ${count(clusters.size, "cluster")}.` : "Not running anywhere in this account's inventory."),
    h("div", { class: "table-wrap" }, h("table", { id: "image-contexts" },
      h("thead", {}, h("tr", {}, ["Context", "Type", "Containers", "Workloads", "First seen", "Last seen"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, items.map((item) => h("tr", {},
        h("td", {}, item.context), h("td", {}, item.inventory_type), h("td", {}, item.container_count),
        h("td", {}, workloadText(item)), h("td", {}, item.first_seen), h("td", {}, item.last_seen)))))),
    h("h3", {}, "Where it ran"),
    timeline(history.intervals),
    h("h3", {}, "Scheduled for analysis"),
    h("p", { id: "image-scheduled" }, scheduled.scheduled.length
      ? scheduled.scheduled.map((s) => `by subscription ${s.subscription_key} (${s.subscription_id})`).join("; ")
      : "No subscription has scheduled it."),
    h("h3", {}, "Vulnerabilities"),
    findings ? findingsTable(findings, pathSafe && digest) : h("p", { id: "image-findings" }, "No scanner has posted findings of this image."),
    h("h3", {}, "VEX annotations"),
    annotationsTable(digest, annotations.items),
    h("h3", {}, "Packages"),
    sbom ? packagesTable(sbom) : h("p", { id: "image-packages" }, "No SBOM of this image has been posted."));
  say("");
}

// An image's packages from its SBOM, each linked to the search of where it runs.
function packagesTable(sbom) {
  const shown = sbom.packages.length < sbom.package_count ? ` (the first ${sbom.packages.length})` : "";
  return h("div", {},
    h("p", { id: "image-packages" }, `${count(sbom.package_count, "package")} from a ${sbom.format} SBOM posted ${ago(sbom.posted_at)} by ${sbom.posted_by}${shown}.`),
    h("div", { class: "table-wrap" }, h("table", { id: "image-package-list" },
      h("thead", {}, h("tr", {}, ["Package", "Version", "Type", "Built from"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, sbom.packages.map((p) => h("tr", {},
        h("td", {}, h("a", { href: `#/packages?purl=${encodeURIComponent(p.purl.split("@")[0])}` }, packageLabel({ ...p, source: null }))),
        h("td", {}, p.version || ""), h("td", {}, p.type), h("td", {}, p.source || "")))))));
}

// "liblzma5 (amd64, from xz-utils)": a Debian binary and its source package are told apart.
function packageLabel(p) {
  const notes = [p.qualifiers && p.qualifiers.arch, p.source && `from ${p.source}`].filter(Boolean);
  return notes.length ? `${p.name} (${notes.join(", ")})` : p.name;
}

// Where a package runs: by purl or name and type, optionally a vers range and a past time.
async function showPackages() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const field = (name, label, placeholder) => h("label", {}, label,
    h("input", { name, value: params.get(name) || "", placeholder, autocomplete: "off", spellcheck: "false" }));
  const form = h("form", { class: "filters", id: "package-search", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      const query = new URLSearchParams();
      for (const [key, value] of data.entries()) if (String(value).trim()) query.set(key, String(value).trim());
      location.hash = `#/packages?${query}`;
    } },
    field("purl", "Package (purl)", "pkg:deb/debian/xz-utils"),
    field("range", "Versions (vers)", "vers:deb/>=5.6.0|<=5.6.1"),
    field("at", "Running at, UTC (optional)", "2024-03-29T12:00:00Z"),
    h("button", { type: "submit" }, "Find"));
  view.replaceChildren(h("h2", {}, "Packages"), form);
  if (!params.get("purl")) {
    say("Name a package by its purl: where it runs now, or at a time.");
    return;
  }
  say("Finding where it runs…");
  const query = new URLSearchParams();
  for (const key of ["purl", "range", "at"]) if (params.get(key)) query.set(key, params.get(key));
  // A day alone is its start, a time without a zone UTC.
  const at = params.get("at");
  if (at && /^\d{4}-\d{2}-\d{2}$/.test(at)) query.set("at", `${at}T00:00:00Z`);
  else if (at && !/([zZ]|[+-]\d\d:\d\d)$/.test(at)) query.set("at", `${at}Z`);
  const found = await api(`/v2/packages?${query}`);
  const rows = found.packages.flatMap((p) => p.images.flatMap((image) => (image.contexts.length ? image.contexts : [null]).map((c) => h("tr", {},
    h("td", {}, packageLabel(p)), h("td", {}, p.version || ""),
    h("td", {}, h("a", { href: `#/image/${encodeURIComponent(image.image_digest)}` }, image.image_tags[0] || shortDigest(image.image_digest))),
    h("td", {}, c ? c.context : "not running"), h("td", {}, c ? workloadText(c) : ""),
    h("td", {}, c ? c.first_seen : ""), h("td", {}, c && c.last_seen ? c.last_seen : "")))));
  view.append(h("div", { class: "table-wrap" }, h("table", { id: "package-places" },
    h("thead", {}, h("tr", {}, ["Package", "Version", "Image", "Context", "Workloads", "Since", "Until"].map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, rows))));
  const images = new Set(found.packages.flatMap((p) => p.images.map((image) => image.image_digest)));
  const verb = params.get("at") ? "ran at that time" : images.size === 1 ? "runs now" : "run now";
  say(rows.length ? `${count(images.size, "image")} carrying it ${verb}, in ${count(rows.length, "place")}.`
    : `No image carrying it ${params.get("at") ? "ran at that time" : "runs now"}.`);
}

// One row per context, each running interval a bar from its start to its end (now while it runs).
function timeline(intervals) {
  if (!intervals.length) return h("p", { id: "timeline" }, "No running interval is recorded for this image.");
  const now = Date.now();
  const spans = intervals.map((interval) => ({ ...interval, start: Date.parse(interval.from), end: interval.to ? Date.parse(interval.to) : now }));
  const first = Math.min(...spans.map((span) => span.start));
  const last = Math.max(first + 1, ...spans.map((span) => span.end));
  const contexts = [...new Set(spans.map((span) => span.context))];
  const width = 520, rowHeight = 20, labelWidth = 170, plot = width - labelWidth - 10;
  const x = (time) => labelWidth + Math.round(((time - first) / (last - first)) * plot);
  const day = (time) => new Date(time).toISOString().slice(0, 10);
  const height = contexts.length * rowHeight + 20;
  // Drawn at its own size (at most the page's width): stretched to a wide page, its labels grew
  // to several times the page's font size.
  const chart = svg("svg", { id: "timeline", viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "Where it ran, and when", width },
    contexts.map((context, row) => svg("g", { "data-context": context },
      svg("text", { x: 0, y: row * rowHeight + 14 }, context.length > 26 ? context.slice(0, 25) + "…" : context),
      spans.filter((span) => span.context === context).map((span) =>
        svg("rect", { class: span.to ? "interval" : "interval running", x: x(span.start), y: row * rowHeight + 3,
          width: Math.max(2, x(span.end) - x(span.start)), height: rowHeight - 6 },
          svg("title", {}, `${context}: ${span.from} to ${span.to || "now"}`))))),
    svg("text", { x: labelWidth, y: height - 4 }, day(first)),
    svg("text", { x: width, y: height - 4, "text-anchor": "end" }, spans.some((span) => !span.to) ? "now" : day(last)));
  return h("figure", {}, h("figcaption", {}, `${count(intervals.length, "interval")} in ${count(contexts.length, "context")}`), chart);
}

// The image's findings; those VEX suppresses are hidden until asked for. Annotators get a form
// under a finding's row.
function findingsTable(findings, digest) {
  const sources = findings.scanners.map((s) => `${s.scanner} (${s.findings}, ${s.posted_at.slice(0, 16).replace("T", " ")})`).join("; ");
  const columns = ["Vulnerability", "Severity", "Package", "Fixed in", "Scanners", "VEX", CAN_ANNOTATE && digest ? "Actions" : null];
  const row = (f) => {
    const suppressed = Boolean(f.vex && f.vex.suppressed);
    return h("tr", { class: suppressed ? "suppressed" : undefined, hidden: suppressed, "data-id": f.vulnerability_id },
      h("td", {}, h("a", { href: `#/vulnerability/${encodeURIComponent(f.vulnerability_id)}` }, f.vulnerability_id)),
      h("td", {}, severityBadge(f.severity)),
      h("td", {}, `${f.package.name} ${f.package.version}`),
      h("td", {}, (f.fixed_in || []).join(", ")),
      h("td", {}, f.sources.join(", ")),
      h("td", {}, vexBadge(f.vex)),
      CAN_ANNOTATE && digest ? h("td", {}, h("button", { type: "button", class: "secondary annotate", onclick: (event) => {
        const under = h("tr", { class: "annotating" }, h("td", { colspan: columns.length }, annotationForm(digest, f)));
        event.target.closest("tr").after(under);
        event.target.disabled = true;
      } }, "Annotate")) : null);
  };
  return h("div", { id: "image-findings" },
    h("p", {}, `${severityText(findings.vulnerabilities) || "No vulnerability at low or above"} — from ${sources}`),
    suppressedToggle("show-suppressed-findings", findings.suppressed, "findings"),
    h("div", { class: "table-wrap" }, h("table", { id: "findings" },
      h("thead", {}, h("tr", {}, columns.filter(Boolean).map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, findings.findings.slice(0, 500).map(row)))));
}

// What to fix first (`GET /v2/vulnerabilities`): every vulnerability running now, ranked.
async function showWorklist() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const query = new URLSearchParams({ limit: "200" });
  for (const name of ["kev", "min_severity", "sort", "fix_available"]) if (params.get(name)) query.set(name, params.get(name));
  say("Ranking what runs…");
  const worklist = await api("/v2/vulnerabilities?" + query);
  const select = (label, name, options) => h("label", {}, label,
    h("select", { name }, options.map(([v, text]) => h("option", { value: v, selected: v === (params.get(name) || "") }, text))));
  const form = h("form", { class: "filters", id: "worklist-filters", onsubmit: (event) => {
      event.preventDefault();
      const chosen = new URLSearchParams();
      for (const [key, value] of new FormData(event.target)) if (value) chosen.set(key, value);
      location.hash = "#/worklist?" + chosen;
    } },
    select("Exploited", "kev", [["", "any"], ["true", "known exploited (KEV)"], ["false", "not listed"]]),
    select("Severity at least", "min_severity", [["", "any"], ...SEVERITIES.map((s) => [s, s])]),
    select("Fix", "fix_available", [["", "any"], ["true", "a fix exists"], ["false", "no fix yet"]]),
    select("Order by", "sort", [["", "risk"], ["epss", "EPSS"], ["exposure_days", "days exposed"], ["due_at", "due date"]]),
    h("button", { type: "submit" }, "Show"));
  const rows = worklist.vulnerabilities.map((row, index) => h("tr", { "data-id": row.vulnerability_id },
    h("td", {}, index + 1),
    h("td", {}, h("a", { href: `#/vulnerability/${encodeURIComponent(row.vulnerability_id)}` }, row.vulnerability_id), " ",
      row.is_kev ? h("span", { class: "badge kev", title: row.kev && `CISA: added ${row.kev.date_added}` }, "KEV") : null, " ",
      row.kev && row.kev.known_ransomware_campaign_use === "Known" ? h("span", { class: "badge ransomware" }, "ransomware") : null),
    h("td", {}, severityBadge(row.severity)),
    h("td", { class: "epss" }, row.epss ? `${Math.floor(row.epss.percentile * 100)}th (${row.epss.epss.toFixed(3)})` : "—"),
    h("td", {}, row.risk.toFixed(1)),
    h("td", {}, `${count(row.workload_count, "workload")} in ${count(row.cluster_count, "cluster")}`),
    h("td", {}, row.exposure_days),
    h("td", { class: row.overdue ? "due overdue" : "due", title: row.due_at || "" },
      row.due_at ? (row.overdue ? `overdue since ${row.due_at.slice(0, 10)}` : row.due_at.slice(0, 10)) : "—"),
    h("td", {}, row.fix_available ? "yes" : "no")));
  view.replaceChildren(h("h2", {}, "What to fix first"), form,
    h("div", { class: "table-wrap" }, h("table", { id: "worklist" },
      h("thead", {}, h("tr", {}, ["#", "Vulnerability", "Severity", "EPSS percentile", "Risk", "Where", "Days exposed", "Due", "Fix"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows))));
  const overdue = worklist.vulnerabilities.filter((row) => row.overdue).length;
  const suppressed = worklist.suppressed ? `; ${worklist.suppressed} suppressed by VEX` : "";
  say(worklist.total ? `${count(worklist.total, "vulnerability")} running, ${overdue} overdue on this page${worklist.next ? "; the first 200 shown" : ""}${suppressed}` : `No vulnerability of a scanned image runs now${suppressed}.`);
}

async function showVulnerabilities() {
  say("Loading exposure…");
  const exposure = await api("/v2/exposure?min_severity=high");
  const form = h("form", { class: "filters", id: "cve-search", onsubmit: (event) => {
      event.preventDefault();
      const id = new FormData(event.target).get("cve").trim();
      if (id) location.hash = `#/vulnerability/${encodeURIComponent(id)}`;
    } },
    h("label", {}, "Where does this vulnerability run?", h("input", { name: "cve", placeholder: "CVE-2024-3094", autocomplete: "off" })),
    h("button", { type: "submit" }, "Find"));
  const rows = exposure.clusters.map((c) => h("tr", {},
    h("td", {}, h("a", { href: `#/images?context=${encodeURIComponent(c.inventory_type === "ecs" ? c.cluster : c.cluster + "/")}&type=${c.inventory_type}&severity=high` }, c.cluster)),
    h("td", {}, c.inventory_type),
    h("td", {}, c.by_severity.critical),
    h("td", {}, c.by_severity.high),
    h("td", {}, c.workloads)));
  view.replaceChildren(h("h2", {}, "Vulnerabilities"), form,
    h("h3", {}, "Running images with high or critical findings, per cluster"),
    h("div", { class: "table-wrap" }, h("table", { id: "exposure" },
      h("thead", {}, h("tr", {}, ["Cluster", "Type", "Critical images", "High images", "Workloads running them"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows))));
  say(exposure.clusters.length ? `${exposure.clusters.length} clusters run images with high or critical findings` : "No running image has high or critical findings.");
}

async function showVulnerability(id) {
  say(`Finding where ${id} runs…`);
  let found;
  try {
    found = await api(`/v2/vulnerabilities/${encodeURIComponent(id)}?limit=200&include_suppressed=true`);
  } catch (error) {
    view.replaceChildren(h("h2", {}, id), h("p", { id: "vulnerability-summary" }, "No image of this account carries it."));
    return say("");
  }
  const isSuppressed = (image) => Boolean(image.vex && image.vex.suppressed);
  const rows = found.images.flatMap((image) => image.contexts.map((c) => h("tr",
    { class: isSuppressed(image) ? "suppressed" : undefined, hidden: isSuppressed(image) },
    h("td", {}, h("a", { href: `#/image/${encodeURIComponent(image.image_digest)}` }, image.image_tag)),
    h("td", {}, c.context),
    h("td", {}, workloadText(c)),
    h("td", {}, image.packages.map((p) => `${p.name} ${p.version}`).join(", ")),
    h("td", { title: c.first_seen }, c.first_seen.slice(0, 16).replace("T", " ")),
    h("td", {}, vexBadge(image.vex)))));
  const shown = found.images.filter((image) => !isSuppressed(image));
  const contexts = shown.reduce((n, image) => n + image.contexts.length, 0);
  view.replaceChildren(h("h2", {}, found.vulnerability_id, " ", severityBadge(found.severity)),
    h("p", { id: "vulnerability-summary" }, shown.length
      ? `Runs in ${count(contexts, "context")}, from ${count(shown.length, "image")}.${found.fixed_in.length ? " Fixed in " + found.fixed_in.join(", ") + "." : ""}`
      : found.suppressed ? "Where it runs, VEX annotations say it does not apply." : "Images carry it, but none runs now."),
    suppressedToggle("show-suppressed-images", found.suppressed, "vulnerability-contexts"),
    h("div", { class: "table-wrap" }, h("table", { id: "vulnerability-contexts" },
      h("thead", {}, h("tr", {}, ["Image", "Context", "Workloads", "Packages", "Since", "VEX"].map((name) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, rows))));
  say(found.next ? "More images carry it than one page shows." : "");
}

// The account's annotations: those waiting for a second person first (approvers approve
// another's), then the rest; annotators revoke.
async function showVex() {
  say("Loading annotations…");
  const [pending, all] = await Promise.all([api("/v2/vex?state=pending&limit=1000"), api("/v2/vex?limit=1000")]);
  const decided = all.items.filter((a) => a.state !== "pending");
  const table = (id, annotations, action) => h("div", { class: "table-wrap" }, h("table", { id },
    h("thead", {}, h("tr", {}, ["Vulnerability", "Applies to", "Package", "Status", "State", "Author", "Expires", CAN_ANNOTATE ? "Actions" : null]
      .filter(Boolean).map((name) => h("th", { scope: "col" }, name)))),
    h("tbody", {}, annotations.map((a) => h("tr", { "data-uuid": a.annotation.uuid },
      h("td", {}, h("a", { href: `#/vulnerability/${encodeURIComponent(a.annotation.vulnerability_id)}` }, a.annotation.vulnerability_id)),
      h("td", {}, scopeText(a)),
      h("td", {}, packageText(a)),
      h("td", {}, vexBadge(a.annotation), a.annotation.justification ? ` ${words(a.annotation.justification)}` : ""),
      h("td", {}, h("span", { class: `badge ${a.state}` }, a.state)),
      h("td", {}, a.annotation.author),
      h("td", {}, a.expires_at ? a.expires_at.slice(0, 10) : a.expires_when_fixed ? "when fixed" : "never"),
      CAN_ANNOTATE ? h("td", {}, action(a)) : null)))));
  const approve = (a) => a.annotation.author === USER
    ? "another approver decides"
    : h("button", { type: "button", class: "approve", onclick: async (event) => {
      event.target.disabled = true;
      try { await api(`/v2/vex/${a.annotation.uuid}/approve`, { method: "POST" }); await route(); say("Approved: it applies now."); }
      catch (error) { say(error.message, true); event.target.disabled = false; }
    } }, "Approve");
  const revoke = (a) => confirmedButton("Revoke", () => api(`/v2/vex/${a.annotation.uuid}`, { method: "DELETE" }));
  view.replaceChildren(h("h2", {}, "VEX annotations"),
    h("h3", {}, "Waiting for approval"),
    pending.items.length ? table("vex-pending", pending.items, approve) : h("p", { id: "vex-pending" }, "Nothing waits for approval."),
    h("h3", {}, "Decided"),
    decided.length ? table("vex-annotations", decided, revoke) : h("p", { id: "vex-annotations" }, "No annotation yet: annotate a finding on an image's page, or post an OpenVEX document to /v2/vex."));
  say(`${count(pending.items.length, "annotation")} waiting for approval, ${decided.length} decided`);
}

async function showSubscriptions() {
  say("Loading subscriptions…");
  const subscriptions = await api("/v2/subscriptions?subscription_type=runtime_inventory");
  const act = (label, action, className) => h("button", { type: "button", class: className, onclick: async (event) => {
      event.target.disabled = true;
      try { await action(); await showSubscriptions(); } catch (error) { say(error.message, true); event.target.disabled = false; }
    } }, label);
  const rows = subscriptions.map((s) => h("tr", { "data-key": s.subscription_key },
    h("td", {}, s.subscription_key),
    h("td", {}, s.active ? h("span", { class: "badge ok" }, "active") : h("span", { class: "badge off" }, "inactive")),
    h("td", { class: "hide-narrow" }, s.created_at),
    IS_ADMIN ? h("td", {},
      act(s.active ? "Deactivate" : "Activate", () => api(`/v2/subscriptions/${s.subscription_id}`, { method: "PUT", body: JSON.stringify({ active: !s.active }) }), "secondary"),
      " ",
      h("button", { type: "button", class: "danger", onclick: (event) => {
        // Two steps instead of a dialog: the second click deletes.
        event.target.replaceWith(act("Confirm delete", () => api(`/v2/subscriptions/${s.subscription_id}`, { method: "DELETE" }), "danger"));
      } }, "Delete")) : null));
  const create = IS_ADMIN ? h("form", { class: "filters", id: "new-subscription", onsubmit: async (event) => {
      event.preventDefault();
      const key = new FormData(event.target).get("key").trim();
      if (!key) return say("A subscription needs a key: a cluster, namespace or ECS ARN prefix.", true);
      try {
        await api("/v2/subscriptions", { method: "POST", body: JSON.stringify({ subscription_key: key, subscription_type: "runtime_inventory" }) });
        await showSubscriptions();
        say(`Subscription ${key} created (inactive until activated).`);
      } catch (error) { say(error.message, true); }
    } },
    h("label", {}, "Watch a cluster, namespace or ECS ARN prefix", h("input", { name: "key", placeholder: "prod-eu-1" })),
    h("button", { type: "submit" }, "Create subscription")) : h("p", {}, "Read-only: an admin manages subscriptions.");
  view.replaceChildren(h("h2", {}, "Subscriptions"), create,
    h("div", { class: "table-wrap" }, h("table", { id: "subscriptions" },
      h("thead", {}, h("tr", {}, ["Key", "State", "Created", IS_ADMIN ? "Actions" : null].filter(Boolean).map(
        (name) => h("th", { scope: "col", class: name === "Created" ? "hide-narrow" : undefined }, name)))),
      h("tbody", {}, rows))));
  say(`${subscriptions.length} subscriptions`);
}

// ---- routing ---------------------------------------------------------------------------------

// The landing view: the worklist once something with findings runs, else the clusters.
async function landing() {
  const worklist = await api("/v2/vulnerabilities?limit=1").catch(() => null);
  return worklist && worklist.total ? "#/worklist" : "#/clusters";
}

async function route() {
  const hash = location.hash || await landing();
  const [path] = hash.slice(1).split("?");
  const parts = path.split("/").filter(Boolean);
  for (const link of document.querySelectorAll("header nav a")) {
    const current = { image: "images", vulnerability: "vulnerabilities" }[parts[0]] || parts[0];
    if (link.dataset.view === current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  try {
    if (parts[0] === "worklist") await showWorklist();
    else if (parts[0] === "images") await showImages();
    else if (parts[0] === "image" && parts[1]) await showImage(decodeURIComponent(parts[1]));
    else if (parts[0] === "vulnerabilities") await showVulnerabilities();
    else if (parts[0] === "vulnerability" && parts[1]) await showVulnerability(decodeURIComponent(parts[1]));
    else if (parts[0] === "vex") await showVex();
    else if (parts[0] === "packages") await showPackages();
    else if (parts[0] === "subscriptions") await showSubscriptions();
    else await showClusters();
    document.body.dataset.ready = hash;
  } catch (error) {
    say(error.message, true);
    document.body.dataset.ready = hash;
  }
}

// --- Single sign-on: OAuth 2.0 authorization code with PKCE (RFC 7636), a public client. ---

const base64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const randomText = () => base64url(crypto.getRandomValues(new Uint8Array(32)));
const redirectUri = () => `${location.origin}/ui/callback`;

async function discovery() {
  const response = await fetch(`${SSO_ISSUER.replace(/\/$/, "")}/.well-known/openid-configuration`);
  if (!response.ok) throw new Error(`the identity provider answered ${response.status}`);
  return response.json();
}

// Off to the provider, with a fresh verifier and state kept for the way back.
async function startSignIn() {
  const verifier = randomText();
  const state = randomText();
  sessionStorage.setItem("ri-pkce", JSON.stringify({ verifier, state, hash: location.hash }));
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const { authorization_endpoint: endpoint } = await discovery();
  const query = new URLSearchParams({
    response_type: "code", client_id: SSO_CLIENT, redirect_uri: redirectUri(), scope: "openid email profile",
    state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${endpoint}?${query}`);
}

// Back from the provider: the code for tokens, if the state is the one this tab sent.
async function finishSignIn() {
  const params = new URLSearchParams(location.search);
  const pending = JSON.parse(sessionStorage.getItem("ri-pkce") || "null");
  sessionStorage.removeItem("ri-pkce");
  history.replaceState(null, "", `/ui/sso${(pending && pending.hash) || ""}`);
  if (params.get("error")) throw new Error(`sign-in refused: ${params.get("error")}`);
  if (!pending || params.get("state") !== pending.state) throw new Error("sign-in answer not for this tab; sign in again");
  const { token_endpoint: endpoint } = await discovery();
  const response = await fetch(endpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", code: params.get("code") || "", redirect_uri: redirectUri(),
      client_id: SSO_CLIENT, code_verifier: pending.verifier,
    }),
  });
  const tokens = await response.json().catch(() => ({}));
  // The ID token names the console as its audience; some providers' access tokens do not.
  const token = tokens.id_token || tokens.access_token;
  if (!response.ok || !token) throw new Error(`the identity provider refused the code (${tokens.error || response.status})`);
  sessionStorage.setItem("ri-token", token);
  return token;
}

function signOut() {
  TOKEN = null;
  sessionStorage.removeItem("ri-token");
  location.assign("/ui/sso");
}

function showSignIn(message) {
  document.getElementById("sign-in").hidden = false;
  document.getElementById("password-sign-in").hidden = meta("ri-basic") !== "true";
  for (const part of document.querySelectorAll("header nav, #digest-search, header .who")) part.hidden = true;
  say(message || "", Boolean(message));
  document.body.dataset.ready = "sign-in";
}

// Who signed in, from the API itself: the console shows what the role may do.
async function signedIn(token) {
  TOKEN = token;
  const me = await api("/v2");
  ROLE = me.role;
  USER = me.user;
  IS_ADMIN = ROLE === "admin";
  CAN_ANNOTATE = IS_ADMIN || ROLE === "vex-approver";
  document.getElementById("sign-out").hidden = false;
}

async function start() {
  if (!SSO_ISSUER) document.getElementById("sign-in").remove();
  if (SSO_ISSUER) {
    document.getElementById("sso-sign-in").addEventListener("click", () => startSignIn().catch((error) => say(error.message, true)));
    document.getElementById("sign-out").addEventListener("click", signOut);
    try {
      const token = location.pathname === "/ui/callback" ? await finishSignIn() : sessionStorage.getItem("ri-token");
      if (!token) return showSignIn();
      await signedIn(token);
    } catch (error) {
      return showSignIn(error.message);
    }
  }
  document.getElementById("who").textContent = `${USER} (${ROLE})`;
  document.getElementById("digest-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const digest = document.getElementById("digest-input").value.trim();
    if (digest) location.hash = `#/image/${encodeURIComponent(digest)}`;
  });
  window.addEventListener("hashchange", () => { document.body.dataset.ready = ""; route(); });
  route();
}

start();
