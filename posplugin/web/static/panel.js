// Cashier panel: one scan field that keeps every keystroke, only ever the member just scanned on screen, live
// updates from the agent.
"use strict";

const TEXT = {
  sv: {
    status_online: "Online", status_offline: "Offline — bonussystemet svarar inte", status_unknown: "Ansluter…",
    status_agent: "Kassaagenten svarar inte — starta om den eller kontakta butikschef",
    queue: (n) => n ? `${n} i kö` : "", scan_label: "Skanna medlemskort eller app", search: "Sök",
    search_other: "Telefon / e-post", search_label: "Telefonnummer eller e-postadress",
    balance: "Poäng", pending: "Väntande poäng", vouchers: "Bonuscheckar", no_vouchers: "Inga bonuscheckar",
    expires: "Gäller t.o.m.", member_no: "Medlemsnr", searching: "Söker…", voucher_no: "Nr",
    cached: (age) => `Sparade uppgifter (${age}) — kan vara inaktuella`, redeem: "Lös in",
    redeem_unavailable: "Inlösen inte aktiverad", redeemed: "Inlöst", queued: "I kö — skickas senare",
    rejected: "Nekad", sending: "Skickar…", conflict: "Konflikt — kontakta butikschef", parked: "Stoppad — kontakta butikschef",
    completed: "Klart", gone: "Inte längre tillgänglig",
    minutes: (n) => n < 1 ? "nyss" : n < 60 ? `${n} min gamla` : `${Math.round(n / 60)} h gamla`,
    scan_error: "Skanningen gick inte att läsa", network: "Kassaagenten svarar inte",
    print: "Skriv ut", print_balance: "Skriv ut saldo", reprint: "Skriv ut igen", printed: "Utskrivet",
    point_shop: "Poängshop", show_shop: "Visa erbjudanden", buy: "Köp", confirm: "Bekräfta köp", cancel: "Avbryt",
    points_unit: (n) => `${n} p`, missing: (n) => `${n} poäng saknas`, bought: "Köpt",
    confirm_text: (cost, after) => `Köp för ${cost} poäng? Saldo efter köp: ${after}`, print_receipt: "Skriv ut kvitto",
    sale_note: "Poäng för köpet syns när bonussystemet har behandlat kvittot (väntande poäng räknas inte in i saldot).",
    shop_offline: "Poängshopen kräver anslutning till bonussystemet. Försök igen när kassan är online.",
    history_offline: "Poänghistoriken kräver anslutning till bonussystemet.",
    next_customer: "Nästa kund", cleared: "Redo för nästa kund", history: "Poänghistorik", no_history: "Inga poänghändelser",
    active_from: (d) => `Aktiveras ${d}`, expires_on: (d) => `Går ut ${d}`, points_expire: (d) => `Poängen går ut ${d}`,
    copy: "Kopiera", copied: "Kopierat", undo: "Ångra inlösen",
    undo_text: "Ångra inlösen? Bonuschecken blir giltig igen (för ett makulerat köp).", undo_confirm: "Ja, ångra",
    reactivated: "Återaktiverad — giltig igen", undo_queued: "Ångring i kö — skickas senare",
    printed_late: "Kvittot är nu utskrivet.",
    print_expired: "Kvittot skrevs inte ut: skrivaren blev inte redo i tid. Skriv ut igen om det behövs.",
    reward: "Belöning", reward_amount: "Belopp", reward_redeem: "Lös in",
    reward_invalid: "Ange ett belopp över 0 med högst två decimaler, högst 100 000 (t.ex. 50,00).",
    reward_tap: "Tryck på Lös in för att lösa in belöningen.", reward_code: "Kod",
    reward_queued: "Väntar på bonussystemet — ge inte rabatten än", reward_redeemed: "Inlöst — ge rabatten",
    reward_undo: "Ångra belöning", reward_undo_text: "Ångra belöningen? Poängen går tillbaka till medlemmen (för ett makulerat köp).",
    reward_undone: "Ångrad — poängen återförda", reward_undo_queued: "Ångring i kö — skickas senare",
    restricted: (n, where) => `${n} poäng gäller bara i ${where}`,
    restricted_here: (n) => `Varav ${n} poäng bara gäller i den här butiken`,
  },
  en: {
    status_online: "Online", status_offline: "Offline — the loyalty system is not answering", status_unknown: "Connecting…",
    status_agent: "The till agent is not answering — restart it or ask the store manager",
    queue: (n) => n ? `${n} queued` : "", scan_label: "Scan member card or app", search: "Search",
    search_other: "Phone / e-mail", search_label: "Phone number or e-mail address",
    balance: "Points", pending: "Pending points", vouchers: "Vouchers", no_vouchers: "No vouchers",
    expires: "Valid until", member_no: "Member no", searching: "Searching…", voucher_no: "No.",
    cached: (age) => `Saved details (${age}) — may be out of date`, redeem: "Redeem",
    redeem_unavailable: "Redemption not enabled", redeemed: "Redeemed", queued: "Queued — will be sent later",
    rejected: "Rejected", sending: "Sending…", conflict: "Conflict — ask the store manager", parked: "Stopped — ask the store manager",
    completed: "Done", gone: "No longer available",
    minutes: (n) => n < 1 ? "just now" : n < 60 ? `${n} min old` : `${Math.round(n / 60)} h old`,
    scan_error: "The scan could not be read", network: "The till agent is not answering",
    print: "Print", print_balance: "Print balance", reprint: "Reprint last", printed: "Printed",
    point_shop: "Point shop", show_shop: "Show offers", buy: "Buy", confirm: "Confirm purchase", cancel: "Cancel",
    points_unit: (n) => `${n} p`, missing: (n) => `${n} points missing`, bought: "Bought",
    confirm_text: (cost, after) => `Buy for ${cost} points? Balance after: ${after}`, print_receipt: "Print receipt",
    sale_note: "Points for this purchase appear once the loyalty system has processed the receipt (pending points are not in the balance yet).",
    shop_offline: "The point shop needs a connection to the loyalty system. Try again when the till is online.",
    history_offline: "Point history needs a connection to the loyalty system.",
    next_customer: "Next customer", cleared: "Ready for the next customer", history: "Point history", no_history: "No point events",
    active_from: (d) => `Active from ${d}`, expires_on: (d) => `Expires ${d}`, points_expire: (d) => `Points expire ${d}`,
    copy: "Copy", copied: "Copied", undo: "Undo redemption",
    undo_text: "Undo the redemption? The voucher becomes valid again (for a voided sale).", undo_confirm: "Yes, undo",
    reactivated: "Reactivated — valid again", undo_queued: "Undo queued — will be sent later",
    printed_late: "The receipt has printed now.",
    print_expired: "The receipt was not printed: the printer was not ready in time. Print it again if needed.",
    reward: "Reward", reward_amount: "Amount", reward_redeem: "Redeem",
    reward_invalid: "Enter an amount above 0 with at most two decimals, up to 100,000 (e.g. 50.00).",
    reward_tap: "Tap Redeem to redeem the reward.", reward_code: "Code",
    reward_queued: "Waiting for the loyalty system — do not give the discount yet", reward_redeemed: "Redeemed — give the discount",
    reward_undo: "Undo reward", reward_undo_text: "Undo the reward? The points go back to the member (for a voided sale).",
    reward_undone: "Undone — points returned", reward_undo_queued: "Undo queued — will be sent later",
    restricted: (n, where) => `${n} points usable only at ${where}`,
    restricted_here: (n) => `Of which ${n} points count only at this store`,
  },
};

const lang = document.documentElement.lang in TEXT ? document.documentElement.lang : "en";
const T = TEXT[lang];
const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
let token = meta("pos-token");
const idleSeconds = Number(meta("pos-idle-seconds")) || 0;
const $ = (id) => document.getElementById(id);

// Everything about the member on screen. ops: voucherId → {voucher, op} for vouchers redeemed (or undone) from
// this panel, so their rows keep their state. order: row order, fixed until the next scan. shown: the vouchers
// on screen by id, so a background refresh can mark a vanished one instead of removing its row.
// rewards: opId → {opId, amount, op, undo} for rewards asked for at this panel, in order. rewardAttempt: the
// reward asked for and not yet answered with an op ({amount, opId}): a repeat of it sends the same opId.
const state = {
  contactId: null, features: [], ops: new Map(), order: [], shown: new Map(), gone: new Set(),
  reactivated: new Set(), view: null, rewards: new Map(), rewardAttempt: null,
};
const unsupported = new Set();  // buttons whose call the backend answered 501 not_supported: hidden from then on
const MAX_REWARD = 100000;  // as the agent (posplugin/rewards.py)
const printedFor = new Set();  // members with a receipt printed from this panel: "Reprint" is theirs only
let confirmRestore = null;  // closes the open confirm box, if any
let idleTimer = null;

// ---- formatting: the same rules as the receipts (posplugin/receipts/formatting.py) -------------------------

const SYMBOLS_SV = { SEK: "kr", EUR: "€", NOK: "NOK", DKK: "DKK" };
const SYMBOLS_EN = { EUR: "€", GBP: "£", USD: "$" };
const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

function grouped(value, places) {
  const [whole, fraction] = Math.abs(value).toFixed(places).split(".");
  const sep = lang === "sv" ? " " : ",";
  const digits = whole.replace(/\B(?=(\d{3})+(?!\d))/g, sep);
  return (value < 0 ? "-" : "") + digits + (fraction ? (lang === "sv" ? "," : ".") + fraction : "");
}

function formatNumber(n) {
  const value = Number(n) || 0;
  return grouped(value, Number.isInteger(value) ? 0 : 1);
}

// Any currency code, ISO or not ("BONUS"): a plain amount and the code, never an exception that hides the member.
function formatMoney(value) {
  if (!value) return "";
  const amount = grouped(Number(value.amount) || 0, 2);
  const code = String(value.currency || "");
  if (lang === "sv") return `${amount} ${SYMBOLS_SV[code] || code}`.trim();
  return SYMBOLS_EN[code] ? `${SYMBOLS_EN[code]}${amount}` : `${amount} ${code}`.trim();
}

function formatDate(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const dd = String(d.getDate()).padStart(2, "0");
  if (lang === "sv") return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${dd}`;
  return `${dd} ${MONTHS_EN[d.getMonth()]} ${d.getFullYear()}`;
}

// ---- talking to the agent -------------------------------------------------------------------------------

async function api(path, options = {}, retried = false) {
  const headers = { "X-POS-Token": token, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch (_) {
    setStatus("agent");
    throw { code: "network", message: T.network };
  }
  let body = null;
  try { body = await response.json(); } catch (_) { body = null; }
  if (!response.ok) {
    const err = (body && body.error) || { code: "http_" + response.status, message: T.network };
    // The manager made a new API token: fetch it and send this request once more, so the scan is not lost.
    if (err.code === "unauthorized" && !retried && await renewToken()) return api(path, options, true);
    throw err;
  }
  return body;
}

async function renewToken() {
  try {
    const page = await fetch("/", { cache: "no-store" }).then((r) => r.text());
    const found = /<meta name="pos-token" content="([^"]+)"/.exec(page);
    if (!found || found[1] === token) return false;
    token = found[1];
    document.querySelector('meta[name="pos-token"]').content = token;
    return true;
  } catch (_) {
    return false;
  }
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

// ---- the member on screen -------------------------------------------------------------------------------

// Nothing of the last customer may stay: name, points, buttons, notes, open lists and confirms.
function clearMember() {
  closeConfirm();
  Object.assign(state, { contactId: null, view: null, order: [] });
  for (const key of ["ops", "shown"]) state[key].clear();
  state.gone.clear();
  state.reactivated.clear();
  state.rewards.clear();
  state.rewardAttempt = null;
  $("member").hidden = true;
  for (const id of ["vouchers", "shop", "history", "rewards"]) $(id).replaceChildren();
  $("reward-amount").value = "";
  $("reward-amount").removeAttribute("aria-invalid");
  $("reward-redeem").disabled = false;
  $("points-restricted").hidden = true;
  $("shop").hidden = true;
  $("history-box").hidden = true;
  $("sale-note").hidden = true;
  $("member-name").textContent = "";
  $("points-balance").textContent = "";
  $("points-pending").textContent = "";
  clearOffers();
}

// fresh: a new scan or search (rows in the answer's order); otherwise a background refresh, which never moves
// a row: a voucher that disappeared is marked as such in place, a new one goes last.
function renderMember(view, fresh) {
  if (state.contactId !== view.contact.id) clearMember();
  else if (fresh) {
    closeConfirm();
    state.order = [];
    state.gone.clear();
    state.shown.clear();
  }
  state.contactId = view.contact.id;
  state.view = view;
  const c = view.contact;
  $("member-name").textContent = `${c.firstName || ""} ${c.lastName || ""}`.trim();
  $("member-number").textContent = c.memberNumber ? `${T.member_no} ${c.memberNumber}` : "";
  $("points-balance").textContent = formatNumber(view.points.balance);
  $("points-pending").textContent = formatNumber(view.points.pending);
  const expiring = (view.points.accounts || []).map((a) => a.balanceExpires).filter(Boolean).sort()[0];
  $("points-expire").textContent = expiring ? T.points_expire(formatDate(expiring)) : "";
  $("points-expire").hidden = !expiring;
  showRestricted(view.points);
  const badge = $("member-source");
  if (view.source === "cache") {
    badge.textContent = T.cached(T.minutes(Math.floor((view.ageSeconds || 0) / 60)));
    badge.hidden = false;
  } else {
    badge.hidden = true;
  }
  const inView = new Set(view.vouchers.map((v) => v.id));
  for (const id of state.shown.keys()) {
    if (!inView.has(id) && !state.ops.has(id)) state.gone.add(id);
  }
  for (const v of view.vouchers) {
    state.shown.set(v.id, v);
    state.gone.delete(v.id);
  }
  for (const [id, entry] of state.ops) if (!state.shown.has(id)) state.shown.set(id, entry.voucher);
  for (const id of state.shown.keys()) if (!state.order.includes(id)) state.order.push(id);
  closeConfirmIfRowChanges();
  $("vouchers").replaceChildren(...state.order.map((id) => voucherRow(state.shown.get(id))));
  $("no-vouchers").hidden = state.order.length > 0;
  renderOffers(view, fresh);
  $("reprint").disabled = !printedFor.has(state.contactId);
  applyFeatures();
  $("member").hidden = false;
}

// What the loyalty backend cannot do is not offered (health `features`); vouchers on screen still show.
function applyFeatures() {
  const has = (name) => state.features.includes(name);
  const vouchers = state.view ? state.view.vouchers.length : 0;
  $("vouchers-box").hidden = !has("redeem") && !vouchers && !state.order.length;
  $("shop-box").hidden = !has("point_shop");
  $("reward-box").hidden = !has("rewards");
  $("open-history").hidden = unsupported.has("history");
}

// Points that count only at another store are not in the balance here: said apart, so nobody promises them.
function showRestricted(points) {
  const lines = (points.restricted || []).filter((r) => !r.usableHere)
    .map((r) => T.restricted(formatNumber(r.points), r.location));
  if (points.restrictedHere) lines.push(T.restricted_here(formatNumber(points.restrictedHere)));
  $("points-restricted").textContent = lines.join(" · ");
  $("points-restricted").hidden = !lines.length;
}

function closeConfirmIfRowChanges() {
  if (confirmRestore && document.querySelector("#vouchers .confirm")) closeConfirm();
}

function makeButton(className, text, onClick) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.textContent = text;
  button.addEventListener("click", onClick);
  return button;
}

function div(className, text) {
  const el = document.createElement("div");
  el.className = className;
  el.textContent = text;
  return el;
}

// The left half of a voucher or shop row: a name, a big value, a line of detail.
function rowInfo(nameText, valueText, metaText, metaClass) {
  const info = document.createElement("div");
  info.className = "row-info";
  info.append(div("voucher-name", nameText), div("voucher-value", valueText), div(metaClass, metaText));
  return info;
}

function voucherRow(v) {
  const li = document.createElement("li");
  li.dataset.voucherId = v.id;
  const locals = (v.localValues || []).filter(Boolean).map(formatMoney).join(" · ");
  const info = rowInfo(v.name, formatMoney(v.value),
    `${T.expires} ${formatDate(v.expiresOn)}` + (locals ? ` · ${locals}` : ""), "voucher-meta");
  // A vanished voucher keeps its row but offers nothing to act on, not even its number to key in.
  if (v.voucherNumber && !state.gone.has(v.id)) info.appendChild(voucherNumber(v.voucherNumber));
  const action = document.createElement("div");
  action.className = "voucher-actions";
  li.append(info, action);
  if (state.gone.has(v.id)) {
    li.classList.add("gone");
    action.appendChild(opLabel("gone", T.gone));
    return li;
  }
  const printButton = makeButton("secondary print", T.print, () => printReceipt("/api/v1/print/voucher",
    { contactId: state.contactId, voucherId: v.id }, printButton));
  printButton.disabled = !state.features.includes("print");
  const known = state.ops.get(v.id);
  if (known) {
    showOpState(action, known, printButton);
    return li;
  }
  const button = makeButton("redeem", T.redeem, () => redeem(v, button));
  const enabled = state.features.includes("redeem");
  button.disabled = !enabled;
  if (!enabled) button.title = T.redeem_unavailable;
  action.append(printButton, button);
  if (state.reactivated.has(v.id)) action.prepend(opLabel("redeemed", T.reactivated));
  return li;
}

// The voucher number in full, selectable and with a copy button, for POS systems where it is keyed in.
function voucherNumber(number, labelText = T.voucher_no) {
  const box = div("voucher-number", "");
  const label = document.createElement("span");
  label.textContent = `${labelText} `;
  const value = document.createElement("span");
  value.className = "number";
  value.textContent = number;
  const copy = makeButton("secondary copy", T.copy, async () => {
    await copyText(number);
    copy.textContent = T.copied;
    setTimeout(() => { copy.textContent = T.copy; }, 1500);
    focusScan();
  });
  box.append(label, value, copy);
  return box;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
  } catch (_) {
    const area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
}

function opLabel(kind, text) {
  const label = document.createElement("span");
  label.className = `op-state ${kind}`;
  label.textContent = text;
  return label;
}

function showOpState(cell, entry, printButton) {
  const { op } = entry;
  const undoing = op.kind === "voucher_reactivate";
  const text = undoing && op.state === "queued" ? T.undo_queued : (T[op.state] || op.state);
  const label = opLabel(undoing && op.state === "queued" ? "queued" : op.state, text);
  label.dataset.opId = op.opId;
  if (op.reasonText) label.textContent += ` — ${op.reasonText}`;
  const children = [printButton, label];
  // Undo only what this panel redeemed for this member (a voided sale), once Engage has confirmed it.
  if (!undoing && op.state === "redeemed" && state.features.includes("reactivate")) {
    const undo = makeButton("secondary undo", T.undo, () => confirmUndo(entry, cell));
    children.push(undo);
  }
  cell.replaceChildren(...children);
}

async function redeem(voucher, button) {
  button.disabled = true;
  // Known before the request leaves: an SSE refresh or op event may arrive before the POST's own answer.
  const opId = crypto.randomUUID();
  const contactId = state.contactId;
  state.ops.set(voucher.id, { voucher, op: { opId, state: "sending", kind: "voucher_redeem" } });
  refreshRow(voucher.id);
  await voucherOp(voucher, contactId, opId, "redeem");
}

async function voucherOp(voucher, contactId, opId, verb) {
  try {
    const op = await api(`/api/v1/vouchers/${encodeURIComponent(voucher.id)}/${verb}`, {
      method: "POST", body: JSON.stringify({ contactId, opId }),
    });
    if (state.contactId !== contactId) return;  // the cashier has moved on to the next customer
    const entry = state.ops.get(voucher.id);
    // An op event may already have brought a later state than this answer's "queued": keep that one.
    const eventWasNewer = entry && entry.op.opId === op.opId && entry.op.state !== "sending" && op.state === "queued";
    if (entry && !eventWasNewer) applyOp(voucher.id, op);
  } catch (err) {
    if (state.contactId !== contactId) return;
    if (verb === "redeem") state.ops.delete(voucher.id);
    else state.ops.get(voucher.id).op = state.ops.get(voucher.id).previous;
    showMessage(err.message);
  }
  refreshRow(voucher.id);
  focusScan();
}

function applyOp(voucherId, op) {
  const entry = state.ops.get(voucherId);
  if (!entry) return;
  if (op.kind === "voucher_reactivate" && op.state === "completed") {
    state.ops.delete(voucherId);  // valid again: the row gets its buttons back
    state.reactivated.add(voucherId);
    return;
  }
  entry.op = op;
}

function confirmUndo(entry, cell) {
  openConfirm(cell, T.undo_text, T.undo_confirm, "confirm-undo", async (ok) => {
    ok.disabled = true;
    confirmRestore = null;
    const opId = crypto.randomUUID();
    entry.previous = entry.op;
    entry.op = { opId, state: "sending", kind: "voucher_reactivate" };
    refreshRow(entry.voucher.id);
    await voucherOp(entry.voucher, state.contactId, opId, "reactivate");
  });
}

// A confirm box in place of a row's buttons. Focus stays on the scan field, so a wedge scanner's Enter can never
// press "Confirm"; a new scan closes the box.
function openConfirm(cell, text, okText, okClass, onOk) {
  closeConfirm();
  const before = [...cell.childNodes];
  const box = document.createElement("div");
  box.className = "confirm";
  const buttons = div("confirm-buttons", "");
  const cancel = makeButton("secondary cancel", T.cancel, () => { closeConfirm(); focusScan(); });
  const ok = makeButton(okClass, okText, () => onOk(ok));
  buttons.append(cancel, ok);
  box.append(div("confirm-text", text), buttons);
  cell.replaceChildren(box);
  confirmRestore = () => { if (box.isConnected) cell.replaceChildren(...before); };
  box.scrollIntoView({ block: "nearest" });
  focusScan();
}

function closeConfirm() {
  const restore = confirmRestore;
  confirmRestore = null;
  if (restore) restore();
}

function refreshRow(voucherId) {
  const row = document.querySelector(`#vouchers li[data-voucher-id="${CSS.escape(voucherId)}"]`);
  const voucher = state.shown.get(voucherId);
  if (row && voucher) row.replaceWith(voucherRow(voucher));
}

async function printReceipt(path, body, button) {
  if (button) button.disabled = true;
  const contactId = state.contactId;
  try {
    await api(path, { method: "POST", body: JSON.stringify(body) });
    showMessage(T.printed, "ok");
    if (contactId) printedFor.add(contactId);
    if (state.contactId === contactId && contactId) $("reprint").disabled = false;
  } catch (err) {
    showMessage(err.message);
  }
  if (button && button.isConnected) button.disabled = button.id === "reprint" ? !printedFor.has(state.contactId) : false;
  focusScan();
}

// ---- point shop and history ----------------------------------------------------------------------------

function offlineText(err, text) {
  return err.code === "loyalty_offline" ? text : err.message;
}

async function loadShop() {
  const list = $("shop");
  const contactId = state.contactId;
  try {
    const { items } = await api(`/api/v1/members/${contactId}/point-shop/items`);
    if (state.contactId !== contactId) return;
    list.replaceChildren(...items.map(shopRow));
    list.hidden = false;
  } catch (err) {
    showMessage(offlineText(err, T.shop_offline));
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
  const button = makeButton("buy", T.buy, () => openConfirm(action,
    T.confirm_text(formatNumber(item.cost), formatNumber(item.balance - item.cost)), T.confirm, "confirm-buy",
    (ok) => purchase(item, action, ok)));
  button.disabled = !item.affordable;
  action.appendChild(button);
  li.append(info, action);
  return li;
}

async function purchase(item, cell, button) {
  button.disabled = true;
  confirmRestore = null;
  const contactId = state.contactId;
  const offersBefore = offerIds();
  try {
    const op = await api(`/api/v1/members/${contactId}/point-shop/purchases`, {
      method: "POST", body: JSON.stringify({ itemId: item.id, opId: crypto.randomUUID() }),
    });
    if (state.contactId !== contactId) return;
    const done = op.state === "completed";
    const label = opLabel(done ? "redeemed" : op.state,
      (done ? T.bought : (T[op.state] || op.state)) + (op.reasonText ? ` — ${op.reasonText}` : ""));
    const children = [label];
    if (done) {
      const print = makeButton("secondary print-purchase", T.print_receipt, () => printReceipt(
        "/api/v1/print/point-shop-purchase", { contactId, opId: op.opId }, print));
      children.unshift(print);
      refreshAfterPurchase(contactId, offersBefore);  // the new balance, and the offer the purchase assigned
    }
    cell.replaceChildren(...children);
  } catch (err) {
    button.disabled = false;
    showMessage(err.message);
  }
  focusScan();
}

async function loadHistory() {
  const contactId = state.contactId;
  try {
    const { items } = await api(`/api/v1/members/${contactId}/point-transactions?count=20`);
    if (state.contactId !== contactId) return;
    const rows = items.map(historyRow);
    if (!rows.length) rows.push(Object.assign(document.createElement("li"), { textContent: T.no_history }));
    $("history").replaceChildren(...rows);
    $("history-box").hidden = false;
    $("history-box").scrollIntoView({ block: "nearest" });
  } catch (err) {
    if (err.code === "not_supported") {
      unsupported.add("history");  // fabric keeps no point history for a till: the button goes
      applyFeatures();
    }
    showMessage(offlineText(err, T.history_offline));
  }
}

function historyRow(tx) {
  const li = document.createElement("li");
  li.className = "history-item" + (tx.pending ? " pending" : "");
  const when = [formatDate(tx.transactionDate)];
  if (tx.pending && tx.validFrom) when.push(T.active_from(formatDate(tx.validFrom)));
  if (tx.validTo && new Date(tx.validTo) > new Date()) when.push(T.expires_on(formatDate(tx.validTo)));
  const info = document.createElement("div");
  info.append(div("history-description", tx.description || ""), div("voucher-meta", when.join(" · ")));
  const amount = div("history-amount", (tx.amount > 0 ? "+" : "") + formatNumber(tx.amount));
  li.append(info, amount);
  return li;
}

// ---- rewards issued from points (fabric) ----------------------------------------------------------------

// The amount as the agent takes it (posplugin/rewards.py): above 0, at most two decimals, at most MAX_REWARD. A
// Swedish decimal comma and grouping spaces are accepted; null when it is not an amount.
function rewardAmount(text) {
  const plain = text.replace(/[\s\u00a0]/g, "").replace(",", ".");
  if (!/^[0-9]{1,6}(\.[0-9]{1,2})?$/.test(plain)) return null;
  const value = Number(plain);
  return value > 0 && value <= MAX_REWARD ? value.toFixed(2) : null;
}

function formatAmount(amount) {
  return grouped(Number(amount) || 0, 2);
}

// Enter in the amount field never redeems: a card scanned into the field by mistake must not issue a reward.
function rewardAmountKey(event) {
  if (event.key !== "Enter") return;
  event.preventDefault();
  const ok = rewardAmount(event.target.value) !== null;
  if (!ok) event.target.setAttribute("aria-invalid", "true");
  showMessage(ok ? T.reward_tap : T.reward_invalid, ok ? "info" : "");
}

async function redeemReward() {
  const button = $("reward-redeem");
  const input = $("reward-amount");
  const amount = rewardAmount(input.value);
  if (amount === null) {
    input.setAttribute("aria-invalid", "true");
    showMessage(T.reward_invalid);
    input.focus();
    return;
  }
  button.disabled = true;  // at once: a double tap sends one request
  const contactId = state.contactId;
  // A repeat of a reward that got no op back (network, agent busy) goes with the same opId: the agent answers
  // the op it may have captured instead of issuing a second reward.
  const attempt = state.rewardAttempt && state.rewardAttempt.amount === amount
    ? state.rewardAttempt : { amount, opId: crypto.randomUUID() };
  state.rewardAttempt = attempt;
  const entry = { opId: attempt.opId, amount, op: { opId: attempt.opId, state: "sending", kind: "reward_redeem" }, undo: null };
  state.rewards.set(entry.opId, entry);  // known before the request leaves: its op event may come first
  showMessage("");
  renderRewards();
  try {
    const op = await api(`/api/v1/members/${encodeURIComponent(contactId)}/rewards`, {
      method: "POST", body: JSON.stringify({ amount, opId: attempt.opId }),
    });
    if (state.contactId !== contactId) return;
    state.rewardAttempt = null;  // answered: the next tap is a new reward
    if (!(entry.op.state !== "sending" && op.state === "queued")) entry.op = op;
    if (op.state !== "rejected") input.value = "";
    rewardSettled(entry);
  } catch (err) {
    if (state.contactId !== contactId) return;
    state.rewards.delete(entry.opId);
    showMessage(err.message);
  } finally {
    if (state.contactId === contactId) button.disabled = false;
  }
  renderRewards();
  focusScan();
}

function applyRewardOp(op) {
  const id = op.kind === "reward_redeem" ? op.opId : op.kind === "reward_reverse" ? op.rewardId : null;
  const entry = id && state.rewards.get(id);
  if (!entry) return;
  if (op.kind === "reward_redeem") entry.op = op;
  else entry.undo = op;
  rewardSettled(entry);
  renderRewards();
}

// Points were spent or given back: the balance on screen follows (the agent's own refresh is rate-limited).
function rewardSettled(entry) {
  const done = [entry.op, entry.undo].filter((op) => op && (op.state === "redeemed" || op.state === "completed"));
  const key = done.map((op) => op.opId).join(" ");
  if (!key || entry.settled === key) return;
  entry.settled = key;
  const contactId = state.contactId;
  api(`/api/v1/members/${encodeURIComponent(contactId)}`).then((view) => {
    if (state.contactId === contactId) renderMember(view, false);
  }, () => {});
}

// After the event stream reopens, ask for the rewards still on their way: their final state may have gone by.
async function refreshRewards() {
  const contactId = state.contactId;
  for (const entry of [...state.rewards.values()]) {
    for (const op of [entry.op, entry.undo]) {
      if (!op || op.state !== "queued" || !op.opId) continue;
      try {
        const now = await api(`/api/v1/ops/${encodeURIComponent(op.opId)}`);
        if (state.contactId === contactId) applyRewardOp(now);
      } catch (_) { /* the next reconnect tries again */ }
    }
  }
}

function renderRewards() {
  closeConfirmIfRewardsChange();
  $("rewards").replaceChildren(...[...state.rewards.values()].reverse().map(rewardRow));  // newest first
}

function closeConfirmIfRewardsChange() {
  if (confirmRestore && document.querySelector("#rewards .confirm")) closeConfirm();
}

function rewardRow(entry) {
  const { op, undo } = entry;
  const li = document.createElement("li");
  li.className = "reward";
  li.dataset.opId = entry.opId;
  const redeemed = op.state === "redeemed";
  const undone = undo && undo.state === "completed";
  const info = rowInfo(T.reward, formatAmount(entry.amount), "", "voucher-meta");
  // An undone reward offers nothing to key in: its code is no longer valid.
  if (redeemed && !undone && op.redemptionCode) info.appendChild(voucherNumber(op.redemptionCode, T.reward_code));
  const action = document.createElement("div");
  action.className = "voucher-actions";
  li.append(info, action);
  if (undone) li.classList.add("gone");
  const label = opLabel(rewardStateClass(op, undo), rewardStateText(op, undo));
  label.dataset.opId = (undo && undo.opId) || op.opId;
  const children = [label];
  if (redeemed && !undone && state.features.includes("print")) {
    const print = makeButton("secondary print-reward", T.print, () => printReceipt("/api/v1/print/reward",
      { contactId: state.contactId, opId: entry.opId }, print));
    children.unshift(print);
  }
  if (redeemed && !undo) children.push(makeButton("secondary undo-reward", T.reward_undo, () => confirmRewardUndo(entry, action)));
  action.replaceChildren(...children);
  return li;
}

function rewardStateText(op, undo) {
  if (undo) {
    if (undo.state === "completed") return T.reward_undone;
    if (undo.state === "queued") return T.reward_undo_queued;
    if (undo.state === "sending") return T.sending;
    return (T[undo.state] || undo.state) + (undo.reasonText ? ` — ${undo.reasonText}` : "");
  }
  if (op.state === "redeemed") return T.reward_redeemed;
  if (op.state === "queued") return T.reward_queued;
  return (T[op.state] || op.state) + (op.reasonText ? ` — ${op.reasonText}` : "");
}

function rewardStateClass(op, undo) {
  const current = undo || op;
  return current.state === "sending" ? "queued" : current.state;
}

function confirmRewardUndo(entry, cell) {
  openConfirm(cell, T.reward_undo_text, T.undo_confirm, "confirm-undo", async (ok) => {
    ok.disabled = true;
    confirmRestore = null;
    const contactId = state.contactId;
    entry.undo = { state: "sending", kind: "reward_reverse" };  // its opId comes with the answer (one per reward)
    renderRewards();
    try {
      const op = await api(`/api/v1/ops/${encodeURIComponent(entry.opId)}/undo`, { method: "POST" });
      if (state.contactId !== contactId) return;
      const eventWasNewer = entry.undo && entry.undo.opId === op.opId && op.state === "queued";
      if (!eventWasNewer) entry.undo = op;
      rewardSettled(entry);
    } catch (err) {
      if (state.contactId !== contactId) return;
      entry.undo = null;
      showMessage(err.message);
    }
    renderRewards();
    focusScan();
  });
}

// ---- scanning -------------------------------------------------------------------------------------------

async function identify(body) {
  closeEnrol();
  showMessage(T.searching, "info");
  try {
    const view = await api("/api/v1/identify", { method: "POST", body: JSON.stringify(body) });
    showMessage("");
    renderMember(view, true);
  } catch (err) {
    clearMember();  // a failed scan never leaves the previous customer (and their buttons) on screen
    showMessage(err.message);
    offerEnrol(err, body);
  }
}

function submitScan() {
  const scan = $("scan");
  const code = scan.value;
  scan.value = "";
  closeConfirm();
  if (code.trim()) identify({ code });
  focusScan();
}

function focusScan() {
  if (document.activeElement && document.activeElement.closest("#enrol-form")) return;  // typing a new member
  const scan = $("scan");
  const typing = [scan, $("search-value"), $("reward-amount")];
  if (!typing.includes(document.activeElement)) scan.focus({ preventScroll: true });
}

// Keyboard-wedge scanners type wherever focus is. Every key that does not land in a text field goes to the scan
// field, and Enter submits the scan there: a scan can neither lose its first characters to a blank-area tap nor
// press a focused button (a confirm) with its Enter.
function captureKeys(event) {
  const active = document.activeElement;
  if (active && active.matches("input, textarea, select")) return;
  if (event.ctrlKey || event.metaKey || event.altKey) return;
  const scan = $("scan");
  if (event.key.length === 1) {
    event.preventDefault();
    scan.focus({ preventScroll: true });
    scan.value += event.key;
  } else if (event.key === "Enter") {
    // An Enter with nothing scanned may press an ordinary focused button, never one in a confirm box.
    if (!scan.value.trim() && active && active.matches("button") && !active.closest(".confirm")) return;
    event.preventDefault();
    if (scan.value.trim()) submitScan();
    else focusScan();
  }
}

function openSearch(open) {
  $("search-form").hidden = !open;
  $("search-value").value = "";
  $(open ? "search-value" : "scan").focus({ preventScroll: true });
}

function submitSearch(event) {
  event.preventDefault();
  const value = $("search-value").value.trim();
  openSearch(false);
  closeConfirm();
  if (value) identify({ code: value, lookupKey: value.includes("@") ? "email" : "mobilePhone" });
}

// ---- status and live events ------------------------------------------------------------------------------

function setStatus(engage, queue) {
  if (engage) {
    $("statusbar").className = "status " + engage;
    $("status-text").textContent = T["status_" + engage] || engage;
  }
  if (queue !== undefined) $("queue-text").textContent = T.queue(queue);
}

async function refreshHealth() {
  try {
    const h = await fetch("/api/v1/health").then((r) => r.json());
    state.features = h.features || [];
    if (state.contactId) applyFeatures();
    setStatus(h.engage || "unknown", (h.queue && h.queue.pending) || 0);
  } catch (_) {
    setStatus("agent");  // the agent itself, not Engage
  }
}

// Server-Sent Events over fetch, so the token travels in a header rather than the URL.
async function listen() {
  for (;;) {
    try {
      const response = await fetch("/api/v1/events", { headers: { "X-POS-Token": token } });
      if (response.status === 401) await renewToken();
      if (!response.ok) throw new Error("events " + response.status);
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
    await refreshHealth();  // tells "agent not answering" apart from "Engage not answering"
    await new Promise((r) => setTimeout(r, 1000));
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
    closeConfirm();
    closeEnrol();
    touch();
    if (payload.status === "ok") { showMessage(""); renderMember(payload.member, true); }
    else { clearMember(); showMessage(payload.error ? payload.error.message : T.scan_error); offerEnrol(payload.error); }
  } else if (name === "status" || name === "hello") {
    setStatus(payload.engage);
    refreshHealth();
    if (name === "hello") refreshRewards();  // the stream was (re)opened: op events may have been missed
  } else if (name === "print" && (!payload.contactId || payload.contactId === state.contactId)) {
    // A receipt the cashier was told is still waiting: say how it ended, so nobody waits for a slip in vain.
    showMessage(payload.state === "printed" ? T.printed_late : T.print_expired, payload.state === "printed" ? "ok" : "");
  } else if (name === "queue") {
    setStatus(undefined, payload.pending || 0);
  } else if (name === "member" && payload.contactId === state.contactId && payload.view) {
    renderMember(payload.view, false);  // a background refresh: render it as it is, never refetch (that would loop)
  } else if (name === "sale" && payload.contactId && payload.contactId === state.contactId) {
    $("sale-note").textContent = T.sale_note;
    $("sale-note").hidden = false;
  } else if (name === "op" && payload.kind === "promotion_redeem") {
    offerOpEvent(payload);
    refreshHealth();
  } else if (name === "op") {
    const entry = payload.voucherId && state.ops.get(payload.voucherId);
    if (entry && entry.op.opId === payload.opId && payload.contactId === state.contactId) {
      applyOp(payload.voucherId, payload);
      refreshRow(payload.voucherId);
    }
    if (payload.contactId === state.contactId) applyRewardOp(payload);
    refreshHealth();
  }
}

// ---- next customer ---------------------------------------------------------------------------------------

function nextCustomer() {
  clearMember();
  closeEnrol();
  openSearch(false);  // a half-typed phone number or e-mail goes too
  showMessage(T.cleared, "info");
  focusScan();
}

// Any action restarts the idle clock; when it runs out the screen empties for the next shopper.
function touch() {
  if (!idleSeconds) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(() => {
    if (state.contactId || !$("search-form").hidden || enrolOpen()) {
      clearMember(); closeEnrol(); openSearch(false); showMessage("");
    }
  }, idleSeconds * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  translateStatic();
  document.addEventListener("keydown", captureKeys, true);
  for (const type of ["keydown", "pointerdown"]) document.addEventListener(type, touch, true);
  $("scan-form").addEventListener("submit", (event) => { event.preventDefault(); submitScan(); });
  $("search-form").addEventListener("submit", submitSearch);
  $("open-search").addEventListener("click", () => openSearch(true));
  $("search-cancel").addEventListener("click", () => openSearch(false));
  $("scan").addEventListener("blur", () => setTimeout(() => {
    if (!document.activeElement || document.activeElement === document.body) focusScan();
  }, 0));
  $("print-balance").addEventListener("click", (e) =>
    printReceipt("/api/v1/print/balance", { contactId: state.contactId }, e.currentTarget));
  $("reprint").addEventListener("click", (e) =>
    printReceipt("/api/v1/print/reprint", { contactId: state.contactId }, e.currentTarget));
  $("open-shop").addEventListener("click", () => { loadShop(); focusScan(); });
  $("open-history").addEventListener("click", () => { loadHistory(); focusScan(); });
  $("next-customer").addEventListener("click", nextCustomer);
  $("reward-redeem").addEventListener("click", redeemReward);
  $("reward-amount").addEventListener("keydown", rewardAmountKey);
  $("reward-amount").addEventListener("input", () => $("reward-amount").removeAttribute("aria-invalid"));
  focusScan();
  refreshHealth();
  setInterval(refreshHealth, 10000);
  listen();
});
