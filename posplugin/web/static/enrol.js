// Cashier panel: enrol a shopper who is not a member (after "no member found", or from the Enrol button).
// One identifier (e-mail or mobile phone), an optional first name, and the store's questions, each a yes/no pair
// with nothing pre-selected: the shopper's answer is never assumed. Nothing typed here outlives the form.
"use strict";

const ENROL_TEXT = {
  sv: {
    enrol: "Bli medlem", enrol_offer: "Registrera som ny medlem", enrol_title: "Ny medlem",
    enrol_id_label: "E-postadress eller mobilnummer",
    enrol_id_hint: "Ett av dem räcker. Mobilnummer med landsnummer, t.ex. +46701234567.",
    enrol_name_label: "Förnamn (frivilligt)", enrol_submit: "Registrera", yes: "Ja", no: "Nej",
    enrol_need_id: "Skriv kundens e-postadress eller mobilnummer.",
    enrol_answer_all: "Kunden måste svara ja eller nej på varje fråga.", enrol_sending: "Registrerar…",
    enrol_created: (name) => name ? `Välkommen som medlem, ${name}!` : "Ny medlem registrerad.",
    enrol_existing: "Kunden är redan medlem och visas nu. Samtyckena ändrades inte.",
  },
  en: {
    enrol: "Enrol", enrol_offer: "Enrol as a new member", enrol_title: "New member",
    enrol_id_label: "E-mail address or mobile number",
    enrol_id_hint: "One of them is enough. Mobile number with country code, e.g. +46701234567.",
    enrol_name_label: "First name (optional)", enrol_submit: "Enrol", yes: "Yes", no: "No",
    enrol_need_id: "Enter the shopper's e-mail address or mobile number.",
    enrol_answer_all: "The shopper must answer yes or no to every question.", enrol_sending: "Enrolling…",
    enrol_created: (name) => name ? `Welcome as a member, ${name}!` : "New member enrolled.",
    enrol_existing: "The shopper is already a member and is shown now. Consents were not changed.",
  },
};
Object.assign(T, ENROL_TEXT[lang]);  // before the panel translates its static texts

// form: GET /api/v1/enrolment; generation: bumped whenever the form closes, so a late answer for a shopper who
// has gone is not shown; opId: one per distinct request, so a second tap or a retry is the same enrolment.
const enrol = { form: null, generation: 0, lastKey: null, opId: null };

function identifierKind(value) {
  if (value.includes("@")) return "email";
  return /^[+0-9]/.test(value) ? "mobilePhone" : null;
}

// Spaces, dashes, dots and brackets are how people write numbers; the country code is never guessed.
function phoneValue(value) {
  return value.replace(/[\s\-().]/g, "");
}

function enrolOpen() {
  return !$("enrol-form").hidden;
}

function showEnrolMessage(text, kind) {
  const el = $("enrol-message");
  el.textContent = text || "";
  el.className = "message" + (kind ? " " + kind : "");
  el.hidden = !text;
}

function questionBox(q) {
  const box = document.createElement("fieldset");
  box.className = "question";
  box.dataset.questionId = q.id;
  box.dataset.requires = q.requires || "";
  const legend = document.createElement("legend");
  legend.textContent = q.text;
  const choices = div("choices", "");
  for (const [value, text] of [["yes", T.yes], ["no", T.no]]) {
    const label = document.createElement("label");
    label.className = "choice";
    const input = document.createElement("input");
    input.type = "radio";
    input.name = `q-${q.id}`;
    input.value = value;
    input.addEventListener("change", () => box.classList.remove("unanswered"));
    label.append(input, document.createTextNode(text));
    choices.appendChild(label);
  }
  box.append(legend, choices);
  return box;
}

// Only the questions about the identifier typed (no SMS question for an e-mail); a question that goes away
// loses its answer, so it is asked again if it comes back.
function showQuestions() {
  const kind = identifierKind($("enrol-id").value.trim());
  for (const box of $("enrol-questions").children) {
    const asked = !box.dataset.requires || box.dataset.requires === kind;
    if (!asked) box.querySelectorAll("input").forEach((input) => { input.checked = false; });
    box.hidden = !asked;
  }
}

function openEnrol(prefill) {
  if (!enrol.form || !enrol.form.enabled) return;
  closeConfirm();
  openSearch(false);
  clearMember();
  showMessage("");
  $("enrol-offer").hidden = true;
  $("enrol-questions").replaceChildren(...enrol.form.questions.map(questionBox));
  $("enrol-id").value = prefill || "";
  $("enrol-name").value = "";
  showEnrolMessage("");
  $("enrol-go").disabled = false;
  $("enrol-form").hidden = false;
  showQuestions();
  $(prefill ? "enrol-name" : "enrol-id").focus({ preventScroll: true });
  $("enrol-form").scrollIntoView({ block: "nearest" });
}

// Everything the shopper told the cashier goes with the form: a new scan, Next customer, the idle timer.
function closeEnrol() {
  enrol.generation += 1;
  enrol.lastKey = null;
  enrol.opId = null;
  $("enrol-offer").hidden = true;
  if (!enrolOpen()) return;
  $("enrol-form").hidden = true;
  $("enrol-id").value = "";
  $("enrol-name").value = "";
  $("enrol-questions").replaceChildren();
  showEnrolMessage("");
}

// "No member found": offer to enrol, with the e-mail or phone number the cashier searched for.
function offerEnrol(err, request) {
  const offer = $("enrol-offer");
  const notFound = err && (err.code === "member_not_found" || err.code === "member_not_found_search");
  offer.hidden = !(notFound && enrol.form && enrol.form.enabled);
  offer.onclick = () => openEnrol(request && request.lookupKey ? request.code : "");
}

function enrolBody() {
  const raw = $("enrol-id").value.trim();
  const kind = identifierKind(raw);
  if (!kind) {
    showEnrolMessage(T.enrol_need_id);
    $("enrol-id").focus({ preventScroll: true });
    return null;
  }
  const body = kind === "email" ? { email: raw } : { mobilePhone: phoneValue(raw) };
  const name = $("enrol-name").value.trim();
  if (name) body.firstName = name;
  body.consents = {};
  let missing = null;
  for (const box of $("enrol-questions").children) {
    if (box.hidden) continue;
    const chosen = box.querySelector("input:checked");
    box.classList.toggle("unanswered", !chosen);
    if (chosen) body.consents[box.dataset.questionId] = chosen.value === "yes";
    else missing = missing || box;
  }
  if (missing) {
    showEnrolMessage(T.enrol_answer_all);
    missing.scrollIntoView({ block: "nearest" });
    return null;
  }
  return body;
}

async function submitEnrol(event) {
  event.preventDefault();
  const body = enrolBody();
  if (!body) return;
  const key = JSON.stringify(body);
  if (key !== enrol.lastKey) {
    enrol.lastKey = key;
    enrol.opId = crypto.randomUUID();
  }
  const generation = enrol.generation;
  const go = $("enrol-go");
  go.disabled = true;
  showEnrolMessage(T.enrol_sending, "info");
  try {
    const view = await api("/api/v1/members", { method: "POST", body: JSON.stringify({ ...body, opId: enrol.opId }) });
    if (generation !== enrol.generation) return;  // the cashier has moved on
    closeEnrol();
    renderMember(view, true);
    const created = view.enrolment.result === "created";
    showMessage(created ? T.enrol_created(view.contact.firstName || "") : T.enrol_existing, created ? "ok" : "info");
    if (!view.enrolment.viewComplete) loadNewMember(view.contact.id);
    focusScan();
  } catch (err) {
    if (generation !== enrol.generation) return;
    go.disabled = false;
    showEnrolMessage(err.message);
  }
}

// The answer came before Engage gave the new member's points: show them as unknown and fetch them once more.
function loadNewMember(contactId) {
  for (const id of ["points-balance", "points-pending"]) $(id).textContent = "–";
  setTimeout(() => {
    if (state.contactId !== contactId) return;
    api(`/api/v1/members/${encodeURIComponent(contactId)}`).then((v) => {
      if (state.contactId === contactId) renderMember(v, false);
    }, () => {});
  }, 1000);
}

async function loadEnrolForm() {
  try {
    enrol.form = await api("/api/v1/enrolment");
  } catch (_) {
    enrol.form = null;
  }
  $("open-enrol").hidden = !(enrol.form && enrol.form.enabled);
}

document.addEventListener("DOMContentLoaded", () => {
  $("open-enrol").addEventListener("click", () => openEnrol(""));
  $("enrol-cancel").addEventListener("click", () => { closeEnrol(); focusScan(); });
  $("enrol-form").addEventListener("submit", submitEnrol);
  $("enrol-id").addEventListener("input", showQuestions);
  // Enter moves on instead of submitting: a wedge scanner's Enter in a text field must not enrol anyone.
  $("enrol-form").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target.matches("button")) return;
    event.preventDefault();
    if (event.target === $("enrol-id")) $("enrol-name").focus({ preventScroll: true });
  });
  loadEnrolForm();
});
