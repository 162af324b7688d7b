// ParaCluster's dashboard: every figure comes from the REST API with the token the user pasted (kept in this tab's
// sessionStorage). Text from the server is always set as text, never as HTML.
"use strict";

const TOKEN_KEY = "paracluster-token";
const state = { token: null, readOnly: false, selected: null, created: {}, fleet: {}, timers: [], busy: {} };

// --- small DOM helpers -------------------------------------------------------------------------------------------

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function table(headers, rows, rowAttrs = () => ({})) {
  const head = el("tr", {}, ...headers.map((h) => el("th", {}, h)));
  const body = rows.map((row, i) => el("tr", rowAttrs(row, i), ...row.cells.map((c) => el("td", {}, c))));
  return el("table", {}, el("thead", {}, head), el("tbody", {}, ...body));
}

function notice(text, kind = "error") {
  const box = $("#notice");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function age(iso) {
  if (!iso) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

// --- the API -----------------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function call(method, path, body) {
  const options = { method, headers: { Authorization: `Bearer ${state.token}` } };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { message: text }; }
  if (response.status === 401) signOut("The token was refused: " + ((data && data.message) || ""));
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

const cluster = (name) => `/v3/clusters/${encodeURIComponent(name)}`;
const own = (name) => `/paracluster/v1/clusters/${encodeURIComponent(name)}`;

// --- token -------------------------------------------------------------------------------------------------------

function takeTokenFromFragment() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    history.replaceState(null, "", location.pathname);  // the token leaves the address bar and history
  }
}

async function signIn(token) {
  state.token = token;
  try {
    const me = await call("GET", "/paracluster/v1/token");
    sessionStorage.setItem(TOKEN_KEY, token);
    state.readOnly = me.readOnly;
    $("#whoami").textContent = `${me.name || me.id}${me.readOnly ? " (read-only)" : ""}`;
    document.body.classList.toggle("read-only", me.readOnly);
    for (const button of document.querySelectorAll("[data-changes]")) button.disabled = me.readOnly;
    $("#login").hidden = true;
    $("#tabs").hidden = false;
    $("#sign-out").hidden = false;
    notice("");
    show("clusters");
  } catch (err) {
    if (err.status !== 401) notice(err.message);
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  stopTimers();
  for (const view of document.querySelectorAll(".view")) view.hidden = true;
  $("#login").hidden = false;
  $("#tabs").hidden = true;
  $("#sign-out").hidden = true;
  $("#whoami").textContent = "";
  if (message) notice(message);
}

// --- views and polling ---------------------------------------------------------------------------------------------

function stopTimers() {
  state.timers.forEach(clearInterval);
  state.timers = [];
}

function every(ms, fn) {
  // One request of a kind at a time: a slow answer is not stacked up behind.
  const run = async () => {
    if (state.busy[fn.name]) return;
    state.busy[fn.name] = true;
    try { await fn(); } finally { state.busy[fn.name] = false; }
  };
  run();
  state.timers.push(setInterval(run, ms));
}

function show(view) {
  stopTimers();
  for (const button of document.querySelectorAll("#tabs button")) {
    button.classList.toggle("active", button.dataset.view === view);
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `${view}-view`;
  if (view === "clusters") {
    every(3000, refreshClusters);
    every(2000, refreshSelected);
    every(3000, refreshSlurm);
  } else if (view === "images") {
    loadImages();
  }
}

// --- clusters ----------------------------------------------------------------------------------------------------

async function refreshClusters() {
  let listing;
  try {
    listing = await call("GET", "/v3/clusters");
  } catch (err) {
    notice(err.message);
    return;
  }
  const clusters = listing.clusters;
  // The list has no creation time nor fleet status: describe each cluster (in parallel) for them.
  await Promise.all(clusters.map(async (c) => {
    try {
      const described = await call("GET", cluster(c.clusterName));
      state.created[c.clusterName] = described.creationTime;
      state.fleet[c.clusterName] = described.computeFleetStatus;
    } catch (_) { /* gone meanwhile */ }
  }));
  const rows = clusters.map((c) => ({
    name: c.clusterName,
    cells: [c.clusterName, el("span", { class: `badge ${c.clusterStatus}` }, c.clusterStatus),
      state.fleet[c.clusterName] || "", c.region, age(state.created[c.clusterName])],
  }));
  const body = $("#cluster-list tbody");
  body.replaceChildren(...rows.map((row) => {
    const tr = el("tr", { "data-cluster": row.name, class: row.name === state.selected ? "selected" : "" },
      ...row.cells.map((cell, i) => el("td", { class: ["name", "status", "fleet", "region", "age"][i] }, cell)));
    tr.addEventListener("click", () => select(row.name));
    return tr;
  }));
  $("#no-clusters").hidden = clusters.length > 0;
  if (state.selected && !clusters.some((c) => c.clusterName === state.selected)) {
    notice(`Cluster ${state.selected} is gone.`, "info");
    state.selected = null;
    $("#cluster").hidden = true;
  }
}

function select(name) {
  state.selected = name;
  $("#cluster").hidden = false;
  $("#cluster-name").textContent = name;
  $("#delete-confirm").hidden = true;
  $("#update-form").hidden = true;
  $("#logs").replaceChildren();
  $("#log-events").replaceChildren();
  for (const id of ["#slurm-nodes", "#slurm-jobs", "#slurm-accounting", "#instances", "#node-chart"]) {
    $(id).replaceChildren();
  }
  for (const row of document.querySelectorAll("#cluster-list tbody tr")) {
    row.classList.toggle("selected", row.dataset.cluster === name);
  }
  refreshSelected();
  refreshSlurm();
}

async function refreshSelected() {
  const name = state.selected;
  if (!name) return;
  let described;
  try {
    described = await call("GET", cluster(name));
  } catch (err) {
    if (err.status === 404) return;  // the list notices it is gone
    notice(err.message);
    return;
  }
  if (name !== state.selected) return;
  state.fleet[name] = described.computeFleetStatus;
  const status = $("#cluster-status");
  status.textContent = described.clusterStatus;
  status.className = `badge ${described.clusterStatus}`;
  const summary = [
    ["Status", described.clusterStatus + (described.progress ? ` (${described.progress})` : "")],
    ["Compute fleet", described.computeFleetStatus],
    ["Created", `${described.creationTime} (${age(described.creationTime)} ago)`],
    ["Head node", described.headNode ? `${described.headNode.privateIpAddress} (${described.headNode.state})` : ""],
    ["Region", described.region],
    ["Slurm REST API", described.scheduler?.slurmrestdUrl || ""],
  ];
  for (const pool of described.loginNodes || []) {
    summary.push([`Login pool ${pool.poolName}`, `${pool.address}:${pool.port} (${pool.healthyNodes} healthy)`]);
  }
  for (const failure of described.failures || []) summary.push([failure.failureCode, failure.failureReason]);
  $("#cluster-summary").replaceChildren(...summary.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const fleet = described.computeFleetStatus;
  $("#fleet-stop").disabled = state.readOnly || !["RUNNING", "STARTING", "START_REQUESTED", "PROTECTED"].includes(fleet);
  $("#fleet-start").disabled = state.readOnly || !["STOPPED", "STOPPING", "STOP_REQUESTED", "PROTECTED"].includes(fleet);
  try {
    const listing = await call("GET", `${cluster(name)}/instances`);
    $("#instances").replaceChildren(table(["Node", "Type", "Queue", "Instance", "Address", "State", "Launched"],
      listing.instances.map((i) => ({ cells: [i.nodeName || i.nodeType, i.instanceType, i.queueName || i.poolName || "",
        i.instanceId, i.privateIpAddress, i.state, i.launchTime] }))));
  } catch (err) { $("#instances").replaceChildren(el("p", { class: "muted" }, err.message)); }
}

async function refreshSlurm() {
  const name = state.selected;
  if (!name) return;
  const [slurm, counts] = await Promise.allSettled([call("GET", `${own(name)}/slurm`),
    call("GET", `${own(name)}/nodecounts`)]);
  if (name !== state.selected) return;
  if (counts.status === "fulfilled") $("#node-chart").replaceChildren(window.nodeChart(counts.value.samples));
  if (slurm.status === "rejected") {
    const err = slurm.reason;
    const text = err.status === 409 ? "Available once the cluster is created." : err.message;
    $("#slurm-nodes").replaceChildren(el("p", { class: "muted" }, text));
    return;
  }
  renderNodes(slurm.value.nodes);
  $("#slurm-jobs").replaceChildren(jobsTable(slurm.value.jobs, "No jobs in the queue."));
  $("#slurm-accounting").replaceChildren("accounting" in slurm.value
    ? jobsTable(slurm.value.accounting, "No finished jobs.")
    : el("p", { class: "muted" }, "No accounting on this cluster (Scheduling/SlurmSettings/Database)."));
}

function renderNodes(nodes) {
  const byQueue = {};
  for (const node of nodes) (byQueue[node.queueName] ||= []).push(node);
  const blocks = Object.entries(byQueue).map(([queue, members]) => {
    const counts = {};
    for (const node of members) counts[node.category] = (counts[node.category] || 0) + 1;
    const summary = Object.entries(counts).map(([category, n]) => `${n} ${category}`).join(", ");
    return el("div", { class: "queue", "data-queue": queue }, el("h4", {}, `${queue}: ${summary}`),
      table(["Node", "State", "Reason"], members.map((n) => ({ n, cells: [n.nodeName, n.state, n.reason || ""] })),
        (row) => ({ class: `node ${row.n.category.replace(/ /g, "-")}`, "data-node": row.n.nodeName })));
  });
  $("#slurm-nodes").replaceChildren(...(blocks.length ? blocks : [el("p", { class: "muted" }, "No Slurm nodes.")]));
}

function jobsTable(jobs, empty) {
  if (!jobs.length) return el("p", { class: "muted" }, empty);
  return table(["Job", "Queue", "Name", "User", "State", "Elapsed", "Nodes", "Where / why"],
    jobs.map((j) => ({ cells: [j.jobId, j.queueName, j.name, j.user, j.state, j.elapsed, j.nodes, j.nodeListOrReason] })));
}

async function fleet(status) {
  try {
    await call("PATCH", `${cluster(state.selected)}/computefleet`, { status });
    notice(`${status} sent to ${state.selected}.`, "info");
    refreshSelected();
  } catch (err) { notice(err.message); }
}

async function deleteSelected(event) {
  event.preventDefault();
  const name = state.selected;
  if ($("#delete-name").value !== name) {
    notice(`Type ${name} to confirm.`);
    return;
  }
  try {
    await call("DELETE", cluster(name));
    notice(`Deleting ${name}.`, "info");
    $("#delete-confirm").hidden = true;
    refreshClusters();
  } catch (err) { notice(err.message); }
}

// --- update: the cluster's configuration in an editor; a dry run shows the change set, then the update applies it ---

async function openUpdate() {
  const name = state.selected;
  const form = $("#update-form");
  $("#update-result").replaceChildren();
  $("#update-apply").disabled = true;
  try {
    const answer = await call("GET", `${own(name)}/configuration`);
    if (name !== state.selected) return;
    $("#update-config").value = answer.clusterConfiguration;
    form.hidden = false;
  } catch (err) { notice(err.message); }
}

function changeTable(changes, errors = []) {
  const why = Object.fromEntries(errors.map((e) => [e.parameter, e.message]));
  return table(["Parameter", "Current", "Requested", "Refused because"], changes.map((c) => ({
    c, cells: [c.parameter, JSON.stringify(c.currentValue), JSON.stringify(c.requestedValue), why[c.parameter] || ""],
  })), (row) => ({ class: why[row.c.parameter] ? "change refused" : "change", "data-parameter": row.c.parameter }));
}

async function submitUpdate(dryrun) {
  const name = state.selected;
  const text = $("#update-config").value;
  const result = $("#update-result");
  result.replaceChildren(el("p", { class: "muted" }, dryrun ? "Checking..." : "Updating..."));
  try {
    const answer = await call("PUT", `${cluster(name)}${dryrun ? "?dryrun=true" : ""}`, { clusterConfiguration: text });
    result.replaceChildren(el("p", { class: "ok", id: "update-message" }, `Updating ${name}:`),
      changeTable(answer.changeSet || []));
    $("#update-apply").disabled = true;
    notice(`Updating ${name}.`, "info");
    refreshSelected();
  } catch (err) {
    const ok = err.status === 412;  // a dry run that would succeed: its change set is what the update would do
    $("#update-apply").disabled = state.readOnly || !ok;
    const parts = [el("p", { class: ok ? "ok" : "error", id: "update-message" },
      ok ? "These changes can be applied now:" : err.message)];
    if (err.body.changeSet) parts.push(changeTable(err.body.changeSet, err.body.updateValidationErrors || []));
    const messages = err.body.configurationValidationErrors || [];
    if (messages.length) parts.push(configListing(text, messages));
    result.replaceChildren(...parts);
  }
}

// --- logs: a cluster's log streams, and the latest events of one (earlier ones on demand) ------------------------

async function loadLogStreams() {
  const name = state.selected;
  const target = $("#logs");
  $("#log-events").replaceChildren();
  try {
    const streams = [];
    let token = null;
    do {
      const page = await call("GET", `${cluster(name)}/logstreams${token ? `?nextToken=${encodeURIComponent(token)}` : ""}`);
      streams.push(...page.logStreams);
      token = page.nextToken;
    } while (token);
    if (name !== state.selected) return;
    if (!streams.length) {
      target.replaceChildren(el("p", { class: "muted" }, "No log streams yet."));
      return;
    }
    target.replaceChildren(table(["Stream", "Last event", "Last read"], streams.map((s) => ({
      s, cells: [el("a", { href: "#", class: "stream" }, s.logStreamName), s.lastEventTimestamp, age(s.lastIngestionTime) + " ago"],
    })), (row) => ({ "data-stream": row.s.logStreamName })));
    for (const link of target.querySelectorAll("a.stream")) {
      link.addEventListener("click", (event) => {
        event.preventDefault();
        showLogEvents(link.closest("tr").dataset.stream);
      });
    }
  } catch (err) {
    target.replaceChildren(el("p", { class: "muted" }, err.message));
  }
}

async function showLogEvents(stream, before = null, shown = []) {
  const name = state.selected;
  const path = `${cluster(name)}/logstreams/${encodeURIComponent(stream)}?limit=200` +
    (before ? `&nextToken=${encodeURIComponent(before)}` : "");
  try {
    const page = await call("GET", path);
    if (name !== state.selected) return;
    const events = [...page.events, ...shown];
    const lines = events.map((e) => el("div", { class: "log-line" },
      el("span", { class: "number" }, e.timestamp), el("code", {}, e.message)));
    const earlier = el("button", { type: "button", id: "log-earlier", disabled: !page.events.length }, "Earlier events");
    earlier.addEventListener("click", () => showLogEvents(stream, page.prevToken, events));
    $("#log-events").replaceChildren(el("h4", {}, stream), earlier,
      el("div", { class: "listing", id: "log-listing" }, ...(lines.length ? lines : [el("p", { class: "muted" }, "No events.")])));
  } catch (err) {
    $("#log-events").replaceChildren(el("p", { class: "muted" }, err.message));
  }
}

// --- create ------------------------------------------------------------------------------------------------------

async function submitConfig(dryrun) {
  const name = $("#create-name").value.trim();
  const text = $("#create-config").value;
  const result = $("#create-result");
  result.replaceChildren(el("p", { class: "muted" }, dryrun ? "Validating..." : "Creating..."));
  try {
    const answer = await call("POST", `/v3/clusters${dryrun ? "?dryrun=true" : ""}`,
      { clusterName: name, clusterConfiguration: text });
    result.replaceChildren(el("p", { class: "ok" }, `Creating ${answer.cluster.clusterName}: see Clusters.`),
      configListing(text, answer.validationMessages || []));
    state.selected = answer.cluster.clusterName;
    show("clusters");
    select(answer.cluster.clusterName);
  } catch (err) {
    const messages = err.body.configurationValidationErrors || err.body.validationMessages || [];
    const ok = err.status === 412;  // ParallelCluster's answer to a dry run that would succeed
    result.replaceChildren(el("p", { class: ok ? "ok" : "error", id: "create-message" },
      ok ? "The configuration is valid." : err.message), configListing(text, messages));
  }
}

// The configuration with line numbers; each message that names a line ("(line 24)") is shown under it.
function configListing(text, messages) {
  const atLine = {};
  const elsewhere = [];
  for (const message of messages) {
    const found = /\bline (\d+)\b/.exec(message.message);
    if (found) (atLine[found[1]] ||= []).push(message); else elsewhere.push(message);
  }
  const item = (m) => el("div", { class: `message ${m.level}` }, `${m.level} ${m.type}: ${m.message}`);
  const lines = text.split("\n").map((line, i) => {
    const number = String(i + 1);
    const found = atLine[number] || [];
    const level = found.some((m) => m.level === "ERROR") ? "error" : found.length ? "warning" : "";
    return el("div", { class: `config-line ${level}`, "data-line": number },
      el("span", { class: "number" }, number), el("code", {}, line || " "), ...found.map(item));
  });
  return el("div", { class: "listing" }, ...elsewhere.map(item), ...lines);
}

function readUpload() {
  const file = $("#create-file").files[0];
  if (!file) return;
  const reader = new FileReader();
  reader.onload = () => { $("#create-config").value = reader.result; };
  reader.readAsText(file);
}

// --- images ------------------------------------------------------------------------------------------------------

async function loadImages() {
  const target = $("#custom-images");
  try {
    const lists = await Promise.all(["AVAILABLE", "PENDING", "FAILED"].map(
      (status) => call("GET", `/v3/images/custom?imageStatus=${status}`)));
    const images = lists.flatMap((answer) => answer.images);
    // A failed build's reason is in its description only.
    const reasons = await Promise.all(images.map((i) => i.imageBuildStatus === "BUILD_FAILED"
      ? call("GET", `/v3/images/custom/${encodeURIComponent(i.imageId)}`).then(
        (d) => d.imagebuilderImageStatusReason || d.cloudformationStackStatusReason || "", () => "")
      : Promise.resolve("")));
    target.replaceChildren(images.length
      ? table(["Image", "Status", "AMI", "Version", "Reason"], images.map((i, n) => ({
        cells: [i.imageId, i.imageBuildStatus, (i.ec2AmiInfo || {}).amiId || "", i.version, reasons[n]] })),
      (row) => ({ "data-image": row.cells[0] }))
      : el("p", { class: "muted" }, "No custom images yet: build one with paracluster build-image."));
  } catch (err) {
    target.replaceChildren(el("p", { class: "muted" }, err.message));
  }
  try {
    const answer = await call("GET", "/v3/images/official");
    $("#official-images").replaceChildren(table(["AMI", "OS", "Architecture", "Name"], answer.images.map((i) => ({
      cells: [i.amiId, i.os, i.architecture, i.name] }))));
  } catch (err) {
    $("#official-images").replaceChildren(el("p", { class: "muted" }, err.message));
  }
}

// --- wiring ------------------------------------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("#tabs button")) {
    button.addEventListener("click", () => show(button.dataset.view));
  }
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    signIn($("#token-input").value.trim());
  });
  $("#sign-out").addEventListener("click", () => signOut());
  $("#fleet-stop").addEventListener("click", () => fleet("STOP_REQUESTED"));
  $("#fleet-start").addEventListener("click", () => fleet("START_REQUESTED"));
  $("#delete-cluster").addEventListener("click", () => {
    $("#delete-confirm").hidden = false;
    $("#delete-name").value = "";
    $("#delete-name").focus();
  });
  $("#delete-cancel").addEventListener("click", () => { $("#delete-confirm").hidden = true; });
  $("#delete-confirm").addEventListener("submit", deleteSelected);
  $("#update-cluster").addEventListener("click", openUpdate);
  $("#update-check").addEventListener("click", () => submitUpdate(true));
  $("#update-config").addEventListener("input", () => { $("#update-apply").disabled = true; });
  $("#update-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitUpdate(false);
  });
  $("#update-cancel").addEventListener("click", () => { $("#update-form").hidden = true; });
  $("#load-logs").addEventListener("click", loadLogStreams);
  $("#create-file").addEventListener("change", readUpload);
  $("#validate-submit").addEventListener("click", () => submitConfig(true));
  $("#create-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitConfig(false);
  });
  takeTokenFromFragment();
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) signIn(saved); else $("#login").hidden = false;
});
