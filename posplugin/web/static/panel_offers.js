// Cashier panel, Offers: the member's multichannel promotions usable at this till, each with the cash-register
// instruction, a Redeem button that follows the op, and a printable slip. Loaded after panel.js, whose helpers
// (api, makeButton, rowInfo, opLabel, formatMoney, formatDate, state, T …) it uses.
"use strict";

Object.assign(TEXT.sv, {
  offers: "Erbjudanden", no_offers: "Inga erbjudanden",
  offers_unavailable: "Erbjudandena kunde inte hämtas just nu. Skanna igen om kunden frågar efter ett.",
  at_the_till: "Kassan", offer_new: "Nytt — från poängshopen", percent: (n) => `${n} %`,
});
Object.assign(TEXT.en, {
  offers: "Offers", no_offers: "No offers",
  offers_unavailable: "The offers could not be fetched just now. Scan again if the customer asks for one.",
  at_the_till: "At the till", offer_new: "New — from the point shop", percent: (n) => `${n}%`,
});

// Like the vouchers: ops by assignment id for offers redeemed from this panel (their rows keep their state),
// row order fixed until the next scan, offers that vanished in a refresh marked in place. `before`: the offers
// on screen when a point-shop purchase completed, so the one it assigned can be pointed out.
const offers = { ops: new Map(), order: [], shown: new Map(), gone: new Set(), added: new Set(), before: null };

function clearOffers() {
  offers.ops.clear();
  offers.shown.clear();
  offers.gone.clear();
  offers.added.clear();
  offers.order = [];
  offers.before = null;
  $("offers").replaceChildren();
  $("no-offers").hidden = true;
}

function renderOffers(view, fresh) {
  if (fresh) {
    offers.order = [];
    offers.shown.clear();
    offers.gone.clear();
    offers.added.clear();
  }
  // Unreadable, or a view cached before offers were listed: that says nothing about what is gone.
  const unknown = Boolean(view.promotionsUnavailable) || !Array.isArray(view.promotions);
  const listed = unknown ? [] : view.promotions;
  const inView = new Set(listed.map((p) => p.id));
  if (!unknown) {
    for (const id of offers.shown.keys()) if (!inView.has(id) && !offers.ops.has(id)) offers.gone.add(id);
  }
  for (const p of listed) {
    if (offers.before && !offers.before.has(p.id)) offers.added.add(p.id);
    offers.shown.set(p.id, p);
    offers.gone.delete(p.id);
  }
  if (offers.added.size) offers.before = null;
  for (const [id, entry] of offers.ops) if (!offers.shown.has(id)) offers.shown.set(id, entry.promotion);
  for (const id of offers.shown.keys()) if (!offers.order.includes(id)) offers.order.push(id);
  $("offers").replaceChildren(...offers.order.map((id) => offerRow(offers.shown.get(id))));
  const none = $("no-offers");
  none.textContent = view.promotionsUnavailable ? T.offers_unavailable : T.no_offers;
  none.hidden = offers.order.length > 0 && !view.promotionsUnavailable;
  if (!view.promotionsUnavailable && !Array.isArray(view.promotions)) none.hidden = true;
}

function offerValue(p) {
  if (p.value) return formatMoney(p.value);
  if (p.percent !== null && p.percent !== undefined) return T.percent(formatNumber(p.percent));
  return p.valueText || "";
}

function offerRow(p) {
  const li = document.createElement("li");
  li.className = "offer";
  li.dataset.assignmentId = p.id;
  const locals = (p.localValues || []).filter(Boolean).map(formatMoney).join(" · ");
  const meta = [p.expiresOn ? `${T.expires} ${formatDate(p.expiresOn)}` : "", locals, p.description || ""];
  const info = rowInfo(p.name || p.heading || "", offerValue(p), meta.filter(Boolean).join(" · "), "voucher-meta");
  if (p.heading && p.name) info.insertBefore(div("offer-heading", p.heading), info.children[1]);
  if (offers.added.has(p.id)) info.prepend(div("offer-new", T.offer_new));
  const action = document.createElement("div");
  action.className = "voucher-actions";
  li.append(info, action);
  if (offers.gone.has(p.id)) {
    li.classList.add("gone");
    action.appendChild(opLabel("gone", T.gone));
    return li;
  }
  // The cash-register instruction is for the cashier: what to do at the till when the offer is used.
  if (p.instruction) {
    const box = div("offer-instruction", "");
    const label = document.createElement("strong");
    label.textContent = `${T.at_the_till}: `;
    box.append(label, document.createTextNode(p.instruction));
    info.appendChild(box);
  }
  const printButton = makeButton("secondary print-offer", T.print, () => printReceipt("/api/v1/print/promotion",
    { contactId: state.contactId, assignmentId: p.id }, printButton));
  printButton.disabled = !state.features.includes("print");
  const known = offers.ops.get(p.id);
  if (known) {
    const { op } = known;
    const label = opLabel(op.state, (T[op.state] || op.state) + (op.reasonText ? ` — ${op.reasonText}` : ""));
    label.dataset.opId = op.opId;
    action.append(printButton, label);
    return li;
  }
  const button = makeButton("redeem-offer", T.redeem, () => redeemOffer(p, button));
  button.disabled = !state.features.includes("promotions");
  if (button.disabled) button.title = T.redeem_unavailable;
  action.append(printButton, button);
  return li;
}

function refreshOffer(assignmentId) {
  const row = document.querySelector(`#offers li[data-assignment-id="${CSS.escape(assignmentId)}"]`);
  const promotion = offers.shown.get(assignmentId);
  if (row && promotion) row.replaceWith(offerRow(promotion));
}

async function redeemOffer(promotion, button) {
  button.disabled = true;
  // Known before the request leaves: an op event may arrive before the POST's own answer.
  const opId = crypto.randomUUID();
  const contactId = state.contactId;
  offers.ops.set(promotion.id, { promotion, op: { opId, state: "sending", kind: "promotion_redeem" } });
  refreshOffer(promotion.id);
  try {
    const op = await api(`/api/v1/promotions/${encodeURIComponent(promotion.id)}/redeem`, {
      method: "POST", body: JSON.stringify({ contactId, opId }),
    });
    if (state.contactId !== contactId) return;  // the cashier has moved on to the next customer
    const entry = offers.ops.get(promotion.id);
    // An op event may already have brought a later state than this answer's "queued": keep that one.
    const eventWasNewer = entry && entry.op.opId === op.opId && entry.op.state !== "sending" && op.state === "queued";
    if (entry && !eventWasNewer) entry.op = op;
  } catch (err) {
    if (state.contactId !== contactId) return;
    offers.ops.delete(promotion.id);
    showMessage(err.message);
  }
  refreshOffer(promotion.id);
  focusScan();
}

// An `op` event of kind promotion_redeem: the queue confirmed (or refused) a redemption made here.
function offerOpEvent(op) {
  const entry = op.assignmentId && offers.ops.get(op.assignmentId);
  if (entry && entry.op.opId === op.opId && op.contactId === state.contactId) {
    entry.op = op;
    refreshOffer(op.assignmentId);
  }
}

// The offers on screen, taken when a point-shop purchase starts: the one it assigns is the one not among them.
function offerIds() {
  return new Set(offers.shown.keys());
}

// After a completed point-shop purchase: the member's new view, whose new offer is the one the purchase
// assigned (it may already be on screen, brought by the agent's own refresh). Engage may take a moment to
// assign it, so the view is fetched again a few times until it shows.
async function refreshAfterPurchase(contactId, before) {
  offers.before = before;
  for (const id of offers.shown.keys()) if (!before.has(id)) offers.added.add(id);
  if (offers.added.size) {
    offers.before = null;
    $("offers").replaceChildren(...offers.order.map((id) => offerRow(offers.shown.get(id))));
  }
  for (const wait of [0, 1500, 3000, 6000]) {
    await new Promise((resolve) => setTimeout(resolve, wait));
    if (state.contactId !== contactId) return;
    try {
      renderMember(await api(`/api/v1/members/${contactId}`), false);  // the new balance, and the offer
    } catch (_) { /* the next try, or the next scan */ }
    if (!offers.before) return;
  }
  offers.before = null;
}
