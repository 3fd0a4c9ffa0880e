// Cashier panel: one scan field that keeps focus, the member on screen, live updates from the agent.
"use strict";

const TEXT = {
  sv: {
    status_online: "Online", status_offline: "Offline — bonussystemet nås inte", status_unknown: "Ansluter…",
    queue: (n) => n ? `${n} i kö` : "", scan_label: "Skanna medlemskort eller app", search: "Sök",
    balance: "Poäng", pending: "Väntande poäng", vouchers: "Bonuscheckar", no_vouchers: "Inga bonuscheckar",
    expires: "Gäller t.o.m.", member_no: "Medlemsnr", searching: "Söker…",
    cached: (age) => `Sparade uppgifter (${age}) — kan vara inaktuella`, redeem: "Lös in",
    redeem_unavailable: "Inlösen inte aktiverad", redeemed: "Inlöst", queued: "I kö — skickas senare",
    rejected: "Nekad", sending: "Skickar…", conflict: "Konflikt — kontakta butikschef", parked: "Stoppad — kontakta butikschef",
    minutes: (n) => n < 1 ? "nyss" : n < 60 ? `${n} min gamla` : `${Math.round(n / 60)} h gamla`,
    scan_error: "Skanningen gick inte att läsa", network: "Kassaagenten svarar inte",
    print: "Skriv ut", print_balance: "Skriv ut saldo", reprint: "Skriv ut igen", printed: "Utskrivet",
    point_shop: "Poängshop", show_shop: "Visa erbjudanden", buy: "Köp", confirm: "Bekräfta köp", cancel: "Avbryt",
    points_unit: (n) => `${n} p`, missing: (n) => `${n} poäng saknas`, completed: "Köpt",
    confirm_text: (cost, after) => `Köp för ${cost} poäng? Saldo efter köp: ${after}`, print_receipt: "Skriv ut kvitto",
    sale_note: "Poäng för köpet syns när bonussystemet har behandlat kvittot (väntande poäng räknas inte in i saldot).",
  },
  en: {
    status_online: "Online", status_offline: "Offline — loyalty system unreachable", status_unknown: "Connecting…",
    queue: (n) => n ? `${n} queued` : "", scan_label: "Scan member card or app", search: "Search",
    balance: "Points", pending: "Pending points", vouchers: "Vouchers", no_vouchers: "No vouchers",
    expires: "Valid until", member_no: "Member no", searching: "Searching…",
    cached: (age) => `Saved details (${age}) — may be out of date`, redeem: "Redeem",
    redeem_unavailable: "Redemption not enabled", redeemed: "Redeemed", queued: "Queued — will be sent later",
    rejected: "Rejected", sending: "Sending…", conflict: "Conflict — ask the store manager", parked: "Stopped — ask the store manager",
    minutes: (n) => n < 1 ? "just now" : n < 60 ? `${n} min old` : `${Math.round(n / 60)} h old`,
    scan_error: "The scan could not be read", network: "The till agent is not answering",
    print: "Print", print_balance: "Print balance", reprint: "Reprint last", printed: "Printed",
    point_shop: "Point shop", show_shop: "Show offers", buy: "Buy", confirm: "Confirm purchase", cancel: "Cancel",
    points_unit: (n) => `${n} p`, missing: (n) => `${n} points missing`, completed: "Bought",
    confirm_text: (cost, after) => `Buy for ${cost} points? Balance after: ${after}`, print_receipt: "Print receipt",
    sale_note: "Points for this purchase appear once the loyalty system has processed the receipt (pending points are not in the balance yet).",
  },
};

const lang = document.documentElement.lang in TEXT ? document.documentElement.lang : "en";
const T = TEXT[lang];
const token = document.querySelector('meta[name="pos-token"]').content;
const $ = (id) => document.getElementById(id);
// ops: voucherId → {voucher, op} for the member on screen, so a refresh after a redemption keeps the row
// (with its state) instead of dropping the voucher the cashier just used.
const state = { contactId: null, features: [], ops: new Map(), order: [] };

function api(path, options = {}) {
  const headers = { "X-POS-Token": token, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  return fetch(path, { ...options, headers }).then(async (response) => {
    let body = null;
    try { body = await response.json(); } catch (_) { body = null; }
    if (!response.ok) {
      const err = (body && body.error) || { code: "http_" + response.status, message: T.network };
      if (err.code === "unauthorized") reloadForNewToken();
      throw err;
    }
    return body;
  }, () => { throw { code: "network", message: T.network }; });
}

// The manager made a new API token (settings page): this page still holds the old one. Reload once to get the
// new one; never more than once a minute, so a real token problem shows its message instead of looping.
function reloadForNewToken() {
  const last = Number(sessionStorage.getItem("posplugin-token-reload") || 0);
  if (Date.now() - last < 60000) return;
  sessionStorage.setItem("posplugin-token-reload", String(Date.now()));
  window.location.reload();
}

function translateStatic() {
  document.querySelectorAll("[data-i18n]").forEach((el) => {
    const value = T[el.dataset.i18n];
    if (typeof value === "string") el.textContent = value;
  });
}

function showMessage(text, kind) {
  const el = $("message");
  el.textContent = text;
  el.className = "message" + (kind ? " " + kind : "");
  el.hidden = !text;
}

function formatNumber(n) {
  return new Intl.NumberFormat(lang === "sv" ? "sv-SE" : "en-GB", { maximumFractionDigits: 2 }).format(n);
}

function formatMoney(value) {
  if (!value) return "";
  return new Intl.NumberFormat(lang === "sv" ? "sv-SE" : "en-GB", { style: "currency", currency: value.currency })
    .format(value.amount);
}

function formatDate(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString(lang === "sv" ? "sv-SE" : "en-GB");
}

function renderMember(view) {
  if (state.contactId !== view.contact.id) {
    $("sale-note").hidden = true;
    state.ops.clear();
    state.order = [];
    $("shop").hidden = true;
    $("shop").replaceChildren();
  }
  state.contactId = view.contact.id;
  const c = view.contact;
  $("member-name").textContent = `${c.firstName} ${c.lastName}`.trim();
  $("member-number").textContent = c.memberNumber ? `${T.member_no} ${c.memberNumber}` : "";
  $("points-balance").textContent = formatNumber(view.points.balance);
  $("points-pending").textContent = formatNumber(view.points.pending);
  const badge = $("member-source");
  if (view.source === "cache") {
    badge.textContent = T.cached(T.minutes(Math.floor((view.ageSeconds || 0) / 60)));
    badge.hidden = false;
  } else {
    badge.hidden = true;
  }
  const list = $("vouchers");
  list.replaceChildren();
  const shown = new Set(view.vouchers.map((v) => v.id));
  const vouchers = [...view.vouchers];
  for (const [id, entry] of state.ops) if (!shown.has(id)) vouchers.push(entry.voucher);
  // Rows keep the place they were first shown in, so nothing jumps under the cashier's finger.
  for (const v of vouchers) if (!state.order.includes(v.id)) state.order.push(v.id);
  vouchers.sort((a, b) => state.order.indexOf(a.id) - state.order.indexOf(b.id));
  for (const v of vouchers) list.appendChild(voucherRow(v));
  $("no-vouchers").hidden = vouchers.length > 0;
  $("member").hidden = false;
}

function makeButton(className, text, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = text;
  button.addEventListener("click", onClick);
  return button;
}

// The left half of a voucher or shop row: a name, a big value, a line of detail.
function rowInfo(nameText, valueText, metaText, metaClass) {
  const info = document.createElement("div");
  const parts = [["voucher-name", nameText], ["voucher-value", valueText], [metaClass, metaText]];
  for (const [className, text] of parts) {
    const el = document.createElement("div");
    el.className = className;
    el.textContent = text;
    info.appendChild(el);
  }
  return info;
}

function voucherRow(v) {
  const li = document.createElement("li");
  li.dataset.voucherId = v.id;
  const locals = (v.localValues || []).filter(Boolean).map(formatMoney).join(" · ");
  const info = rowInfo(v.name, formatMoney(v.value),
    `${T.expires} ${formatDate(v.expiresOn)}` + (locals ? ` · ${locals}` : ""), "voucher-meta");
  const action = document.createElement("div");
  action.className = "voucher-actions";
  const printButton = makeButton("secondary print", T.print, () => printReceipt("/api/v1/print/voucher",
    { contactId: state.contactId, voucherId: v.id }, printButton));
  printButton.disabled = !state.features.includes("print");
  const button = makeButton("redeem", T.redeem, () => redeem(v, button));
  const enabled = state.features.includes("redeem");
  button.disabled = !enabled;
  if (!enabled) button.title = T.redeem_unavailable;
  action.append(printButton, button);
  li.append(info, action);
  const known = state.ops.get(v.id);
  if (known) showOpState(action, known.op, printButton);
  return li;
}

async function redeem(voucher, button) {
  button.disabled = true;
  // Known before the request leaves: an SSE refresh or op event may arrive before the POST's own answer.
  const opId = crypto.randomUUID();
  state.ops.set(voucher.id, { voucher, op: { opId, state: "sending" } });
  refreshRow(voucher.id);
  try {
    const op = await api(`/api/v1/vouchers/${encodeURIComponent(voucher.id)}/redeem`, {
      method: "POST", body: JSON.stringify({ contactId: state.contactId, opId }),
    });
    const entry = state.ops.get(voucher.id);
    // An op event may already have brought a later state than this answer's "queued": keep that one.
    const eventWasNewer = entry && entry.op.state !== "sending" && op.state === "queued";
    if (entry && !eventWasNewer) entry.op = op;
  } catch (err) {
    state.ops.delete(voucher.id);
    showMessage(err.message);
  }
  refreshRow(voucher.id);
  focusScan();
}

function refreshRow(voucherId) {
  const row = document.querySelector(`#vouchers li[data-voucher-id="${CSS.escape(voucherId)}"]`);
  const entry = state.ops.get(voucherId);
  if (row && entry) row.replaceWith(voucherRow(entry.voucher));
}

function showOpState(cell, op, printButton) {
  const label = document.createElement("span");
  label.className = `op-state ${op.state}`;
  label.dataset.opId = op.opId;
  label.textContent = T[op.state] || op.state;
  if (op.reasonText) label.textContent += ` — ${op.reasonText}`;
  cell.replaceChildren(...(printButton ? [printButton, label] : [label]));
}

async function printReceipt(path, body, button) {
  if (button) button.disabled = true;
  try {
    await api(path, { method: "POST", body: JSON.stringify(body) });
    showMessage(T.printed, "ok");
  } catch (err) {
    showMessage(err.message);
  }
  if (button) button.disabled = false;
  focusScan();
}

async function loadShop() {
  const list = $("shop");
  try {
    const { items } = await api(`/api/v1/members/${state.contactId}/point-shop/items`);
    list.replaceChildren(...items.map(shopRow));
    list.hidden = false;
  } catch (err) {
    showMessage(err.message);
  }
}

function shopRow(item) {
  const li = document.createElement("li");
  li.className = "shop-item" + (item.affordable ? "" : " unaffordable");
  li.dataset.itemId = item.id;
  const info = rowInfo(item.title || item.name, T.points_unit(formatNumber(item.cost)),
    item.affordable ? item.description : T.missing(formatNumber(item.missingPoints)),
    item.affordable ? "voucher-meta" : "missing");
  const action = document.createElement("div");
  action.className = "voucher-actions";
  const button = makeButton("buy", T.buy, () => confirmPurchase(item, action));
  button.disabled = !item.affordable;
  action.appendChild(button);
  li.append(info, action);
  return li;
}

function confirmPurchase(item, cell) {
  const box = document.createElement("div");
  box.className = "confirm";
  const text = document.createElement("span");
  text.textContent = T.confirm_text(formatNumber(item.cost), formatNumber(item.balance - item.cost));
  const buttons = document.createElement("div");
  buttons.className = "confirm-buttons";
  const cancel = makeButton("secondary", T.cancel, () => { loadShop(); focusScan(); });
  const ok = makeButton("confirm-buy", T.confirm, () => purchase(item, cell, ok));
  buttons.append(cancel, ok);
  box.append(text, buttons);
  cell.replaceChildren(box);
  focusScan();  // never leave focus on "Confirm": a wedge scanner's Enter would buy the item
}

async function purchase(item, cell, button) {
  button.disabled = true;
  try {
    const op = await api(`/api/v1/members/${state.contactId}/point-shop/purchases`, {
      method: "POST", body: JSON.stringify({ itemId: item.id, opId: crypto.randomUUID() }),
    });
    const label = document.createElement("span");
    label.className = `op-state ${op.state === "completed" ? "redeemed" : op.state}`;
    label.textContent = (T[op.state] || op.state) + (op.reasonText ? ` — ${op.reasonText}` : "");
    const children = [label];
    if (op.state === "completed") {
      const print = makeButton("secondary print-purchase", T.print_receipt, () => printReceipt(
        "/api/v1/print/point-shop-purchase", { contactId: state.contactId, opId: op.opId }, print));
      children.unshift(print);
      api(`/api/v1/members/${state.contactId}`).then(renderMember, () => {});  // the new balance
    }
    cell.replaceChildren(...children);
  } catch (err) {
    button.disabled = false;
    showMessage(err.message);
  }
  focusScan();
}

async function identify(code) {
  showMessage(T.searching, "info");
  try {
    const view = await api("/api/v1/identify", { method: "POST", body: JSON.stringify({ code }) });
    showMessage("");
    renderMember(view);
  } catch (err) {
    showMessage(err.message);
  }
}

function setStatus(engage, queue) {
  const bar = $("statusbar");
  bar.className = "status " + (engage || "unknown");
  $("status-text").textContent = T["status_" + (engage || "unknown")] || engage;
  if (queue !== undefined) $("queue-text").textContent = T.queue(queue);
}

async function refreshHealth() {
  try {
    const h = await fetch("/api/v1/health").then((r) => r.json());
    state.features = h.features || [];
    setStatus(h.engage, (h.queue && h.queue.pending) || 0);
  } catch (_) {
    setStatus("offline");
  }
}

// Server-Sent Events over fetch, so the token travels in a header rather than the URL.
async function listen() {
  for (;;) {
    try {
      const response = await fetch("/api/v1/events", { headers: { "X-POS-Token": token } });
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          handleEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
        }
      }
    } catch (_) { /* agent restarting: try again below */ }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function handleEvent(block) {
  let name = "message";
  let data = "";
  for (const line of block.split("\n")) {
    if (line.startsWith("event: ")) name = line.slice(7);
    else if (line.startsWith("data: ")) data += line.slice(6);
  }
  if (!data) return;
  const payload = JSON.parse(data);
  if (name === "scan") {
    if (payload.status === "ok") { showMessage(""); renderMember(payload.member); }
    else showMessage(payload.error ? payload.error.message : T.scan_error);
  } else if (name === "status" || name === "hello") {
    setStatus(payload.engage);
    refreshHealth();
  } else if (name === "member" && payload.contactId === state.contactId && payload.view) {
    renderMember(payload.view);  // a background refresh: render it as it is, never refetch (that would loop)
  } else if (name === "sale" && payload.contactId && payload.contactId === state.contactId) {
    $("sale-note").textContent = T.sale_note;
    $("sale-note").hidden = false;
  } else if (name === "op") {
    const entry = payload.voucherId && state.ops.get(payload.voucherId);
    if (entry && entry.op.opId === payload.opId) {
      entry.op = payload;
      refreshRow(payload.voucherId);
    }
    refreshHealth();
  }
}

function focusScan() {
  const scan = $("scan");
  if (document.activeElement !== scan) scan.focus();
}

document.addEventListener("DOMContentLoaded", () => {
  translateStatic();
  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const scan = $("scan");
    const code = scan.value;
    scan.value = "";
    if (code.trim()) identify(code);
    focusScan();
  });
  // Keyboard-wedge scanners type wherever focus is: keep it on the scan field unless a button has it.
  $("scan").addEventListener("blur", () => setTimeout(() => {
    if (!document.activeElement || document.activeElement === document.body) focusScan();
  }, 150));
  $("print-balance").addEventListener("click", (e) =>
    printReceipt("/api/v1/print/balance", { contactId: state.contactId }, e.currentTarget));
  $("reprint").addEventListener("click", (e) => printReceipt("/api/v1/print/reprint", {}, e.currentTarget));
  $("open-shop").addEventListener("click", () => { loadShop(); focusScan(); });
  focusScan();
  refreshHealth();
  setInterval(refreshHealth, 10000);
  listen();
});
