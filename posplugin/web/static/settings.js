// Store manager settings: PIN gate, one form per config section, secrets write-only, queue and log views.
"use strict";

const TEXT = {
  sv: {
    title: "Inställningar", logout: "Logga ut", setup_title: "Välj chefs-PIN", setup_help: "Välj en PIN med 4–12 siffror.",
    pin_new: "Ny PIN", pin_repeat: "Upprepa PIN", setup_button: "Spara PIN", login_title: "Chefs-PIN", pin: "PIN",
    login_button: "Öppna inställningar", security: "Säkerhet", token_title: "Token för kassans API",
    token_help: "Kassaintegrationer skickar denna token. En ny gör den gamla ogiltig direkt.", rotate: "Skapa ny token",
    change_pin: "Byt PIN", pin_current: "Nuvarande PIN", queue: "Kö", q_kind: "Vad", q_state: "Läge", q_reason: "Orsak",
    q_age: "Ålder", refresh: "Uppdatera", logs: "Logg", save: "Spara", saved: "Sparat", nothing_changed: "Inget ändrat",
    restart: (keys) => `Sparat. Gäller efter omstart: ${keys}`, pins_differ: "PIN-koderna är inte lika",
    retry: "Försök igen", park: "Stoppa", queue_empty: "Kön är tom", resolve: "Markera löst",
    resolve_note: "Hur det löstes (krävs)", resolve_save: "Spara som löst",
    queue_counts: (q) => `${q.pending} väntar, ${q.parked} stoppade, ${q.conflict || 0} konflikter`,
    engage: "Engage", base_url: "Adress (https://…voyado.com)", api_key: "API-nyckel", api_key_set: (l) => `Satt (slutar på ${l})`,
    api_key_missing: "Ingen API-nyckel satt", api_key_new: "Ny API-nyckel", save_key: "Spara nyckel",
    test_connection: "Testa anslutning", test_ok: (ms) => `Anslutning OK, nyckeln gäller (${ms} ms)`,
    agent: "Butik och kassa", store_id: "Butiks-id", till_id: "Kass-id", language: "Språk",
    printer: "Skrivare", scanner: "Skanner", offline: "Offline-gränser", api: "Tillåtna kassaappar (origins)",
    test_print: "Testutskrift", printed: (b) => `Testsida utskriven (${b} byte)`,
    test_scan: "Testskanna", test_scan_help: "Skanna ett kort i fältet (eller med skannern) för att se vad agenten läser.",
    last_scan: "Senaste skanning", raw: "Rå", normalised: "Tolkad", token_shown: "Ny token (visas en gång):",
    pin_changed: "PIN bytt", points: "Poäng", points_help: "Goodwill eller rättelser. Skanna medlemmens kort eller skriv kortnumret.",
    adjust_member: "Medlemskort", adjust_amount: "Poäng (minus för att dra av)", adjust_reason: "Orsak",
    adjust_button: "Justera poäng", adjusted: (n, who, state) => `${n} poäng för ${who}: ${state}`, locked: (m) => `Låst i ${m} min efter för många fel`, network: "Agenten svarar inte",
    managed: (file) => `Styrs centralt (${file}); ändras inte här`,
    fabric: "fabric Loyalty", loyalty: "Bonussystem", loyalty_in_use: (title, name) => `${title} ([loyalty] backend = "${name}")`,
    loyalty_help: (origin) => `Väljs av IT i konfigurationsfilen (${origin}) och kräver omstart; ändras inte här.`,
    secret_fabric: "Klienthemlighet (fabric-client-secret)", secret_set: (l) => `Satt (slutar på ${l})`,
    secret_missing: "Ingen klienthemlighet satt", secret_new: "Ny klienthemlighet", save_secret: "Spara hemlighet",
    test_ok_fabric: (ms) => `Anslutning OK, klienthemligheten gäller (${ms} ms)`,
  },
  en: {
    title: "Settings", logout: "Log out", setup_title: "Set the manager PIN", setup_help: "Choose a PIN of 4–12 digits.",
    pin_new: "New PIN", pin_repeat: "Repeat the PIN", setup_button: "Set PIN", login_title: "Manager PIN", pin: "PIN",
    login_button: "Open settings", security: "Security", token_title: "Local API token",
    token_help: "POS integrations send this token. A new one stops the old one at once.", rotate: "Make a new token",
    change_pin: "Change PIN", pin_current: "Current PIN", queue: "Queue", q_kind: "What", q_state: "State",
    q_reason: "Reason", q_age: "Age", refresh: "Refresh", logs: "Log", save: "Save", saved: "Saved",
    nothing_changed: "Nothing changed", restart: (keys) => `Saved. Takes effect after a restart: ${keys}`,
    pins_differ: "The PINs are not the same", retry: "Retry", park: "Park", queue_empty: "The queue is empty",
    resolve: "Mark resolved", resolve_note: "How it was settled (required)", resolve_save: "Save as resolved",
    queue_counts: (q) => `${q.pending} waiting, ${q.parked} parked, ${q.conflict || 0} conflicts`,
    engage: "Engage", base_url: "Address (https://…voyado.com)", api_key: "API key", api_key_set: (l) => `Set (ends ${l})`,
    api_key_missing: "No API key set", api_key_new: "New API key", save_key: "Save key",
    test_connection: "Test connection", test_ok: (ms) => `Connected, the key is valid (${ms} ms)`,
    agent: "Store and till", store_id: "Store id", till_id: "Till id", language: "Language",
    printer: "Printer", scanner: "Scanner", offline: "Offline limits", api: "Allowed POS apps (origins)",
    test_print: "Test print", printed: (b) => `Test page printed (${b} bytes)`,
    test_scan: "Test scan", test_scan_help: "Scan a card into the field (or with the scanner) to see what the agent reads.",
    last_scan: "Last scan", raw: "Raw", normalised: "Read as", token_shown: "New token (shown once):",
    pin_changed: "PIN changed", points: "Points", points_help: "Goodwill or corrections. Scan the member's card or type the card number.",
    adjust_member: "Member card", adjust_amount: "Points (negative to remove)", adjust_reason: "Reason",
    adjust_button: "Adjust points", adjusted: (n, who, state) => `${n} points for ${who}: ${state}`, locked: (m) => `Locked for ${m} min after too many wrong PINs`,
    network: "The agent is not answering", managed: (file) => `Managed centrally (${file}); not changed here`,
    fabric: "fabric Loyalty", loyalty: "Loyalty system", loyalty_in_use: (title, name) => `${title} ([loyalty] backend = "${name}")`,
    loyalty_help: (origin) => `Chosen by IT in the config file (${origin}) and needs a restart; not changed here.`,
    secret_fabric: "Client secret (fabric-client-secret)", secret_set: (l) => `Set (ends ${l})`,
    secret_missing: "No client secret set", secret_new: "New client secret", save_secret: "Save secret",
    test_ok_fabric: (ms) => `Connected, the client secret is valid (${ms} ms)`,
  },
};

// Fields per config section: [key, kind, choices?]. Labels are the key names an IT admin also sees in the file.
const SECTIONS = [
  ["engage", [["base_url", "text"]]],
  ["fabric", [["base_url", "text"], ["authorization_url", "text"], ["client_id", "text"], ["location", "text"]]],
  ["agent", [["store_id", "text"], ["till_id", "text"], ["language", "select", ["sv", "en"]]]],
  ["printer", [
    ["backend", "select", ["file", "usb", "serial", "network", "win32raw", "none"]], ["file_path", "text"],
    ["serial_port", "text"], ["baudrate", "int"], ["flow_control", "select", ["none", "rtscts", "xonxoff"]],
    ["host", "text"], ["tcp_port", "int"], ["usb_vendor_id", "int"], ["usb_product_id", "int"],
    ["windows_name", "text"], ["profile", "text"], ["paper_mm", "select-int", [80, 58]], ["columns", "int"],
    ["codepage", "text"], ["drawer_kick", "bool"]]],
  ["scanner", [
    ["backend", "select", ["none", "serial", "evdev"]], ["serial_port", "port"], ["baudrate", "int"],
    ["framing", "select", ["CR", "LF", "CRLF", "gap"]], ["gap_ms", "int"], ["evdev_device", "text"],
    ["strip_prefix", "text"], ["strip_suffix", "text"]]],
  ["offline", [["max_queued_per_till", "int"], ["max_offline_hours", "number"], ["cashier_wait", "number"],
    ["member_cache_hours", "number"]]],
  ["api", [["allowed_origins", "lines"]]],
];

// Readable names for the config keys; the key itself is shown beside it, as IT sees it in the config file.
const FIELD_LABELS = {
  sv: {
    "engage.base_url": "Adress till Engage", "fabric.base_url": "Adress till fabric Loyalty (…/api)",
    "fabric.authorization_url": "Adress för inloggning (OAuth, …/oauth2/…)", "fabric.client_id": "Klient-id",
    "fabric.location": "Butikens referens i fabric (location)", "agent.store_id": "Butiks-id", "agent.till_id": "Kass-id",
    "agent.language": "Språk", "printer.backend": "Anslutning", "printer.file_path": "Fil (testskrivare)",
    "printer.serial_port": "Serieport", "printer.baudrate": "Hastighet (baud)", "printer.flow_control": "Flödeskontroll",
    "printer.host": "Nätverksadress", "printer.tcp_port": "TCP-port", "printer.usb_vendor_id": "USB-tillverkar-id",
    "printer.usb_product_id": "USB-produkt-id", "printer.windows_name": "Windows-skrivarens namn",
    "printer.profile": "Skrivarprofil", "printer.paper_mm": "Pappersbredd (mm)", "printer.columns": "Tecken per rad (0 = auto)",
    "printer.codepage": "Teckentabell", "printer.drawer_kick": "Öppna kassalådan", "scanner.backend": "Anslutning",
    "scanner.serial_port": "Serieport", "scanner.baudrate": "Hastighet (baud)", "scanner.framing": "Avslutning av skanning",
    "scanner.gap_ms": "Paus som avslutar (ms)", "scanner.evdev_device": "Inmatningsenhet",
    "scanner.strip_prefix": "Ta bort prefix", "scanner.strip_suffix": "Ta bort suffix",
    "offline.max_queued_per_till": "Inlösen i kö offline (högst)", "offline.max_offline_hours": "Offline högst (timmar)",
    "offline.cashier_wait": "Kassörens väntetid (s)", "offline.member_cache_hours": "Sparade medlemmar gäller (timmar)",
    "api.allowed_origins": "Tillåtna kassaappar, en per rad",
  },
  en: {
    "engage.base_url": "Engage address", "fabric.base_url": "fabric Loyalty address (…/api)",
    "fabric.authorization_url": "Sign-in address (OAuth, …/oauth2/…)", "fabric.client_id": "Client id",
    "fabric.location": "The store's reference in fabric (location)", "agent.store_id": "Store id", "agent.till_id": "Till id",
    "agent.language": "Language", "printer.backend": "Connection", "printer.file_path": "File (test printer)",
    "printer.serial_port": "Serial port", "printer.baudrate": "Speed (baud)", "printer.flow_control": "Flow control",
    "printer.host": "Network address", "printer.tcp_port": "TCP port", "printer.usb_vendor_id": "USB vendor id",
    "printer.usb_product_id": "USB product id", "printer.windows_name": "Windows printer name",
    "printer.profile": "Printer profile", "printer.paper_mm": "Paper width (mm)", "printer.columns": "Characters per line (0 = auto)",
    "printer.codepage": "Code page", "printer.drawer_kick": "Open the cash drawer", "scanner.backend": "Connection",
    "scanner.serial_port": "Serial port", "scanner.baudrate": "Speed (baud)", "scanner.framing": "End of a scan",
    "scanner.gap_ms": "Pause that ends a scan (ms)", "scanner.evdev_device": "Input device",
    "scanner.strip_prefix": "Remove prefix", "scanner.strip_suffix": "Remove suffix",
    "offline.max_queued_per_till": "Redemptions queued offline (at most)", "offline.max_offline_hours": "Offline for at most (hours)",
    "offline.cashier_wait": "Cashier waits (s)", "offline.member_cache_hours": "Saved members valid for (hours)",
    "api.allowed_origins": "Allowed POS apps, one per line",
  },
};

const lang = document.documentElement.lang in TEXT ? document.documentElement.lang : "en";
const T = TEXT[lang];
const $ = (id) => document.getElementById(id);
let csrf = null;
let vendor = "engage";  // the loyalty backend in use, from the state: its section holds the credential box

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text) node.textContent = text;
  return node;
}

async function call(path, body) {
  const options = { credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    if (csrf) options.headers["X-CSRF-Token"] = csrf;
    options.body = JSON.stringify(body);
  }
  let response;
  try { response = await fetch(path, options); } catch (_) { throw { code: "network", message: T.network }; }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (response.status === 401 && data && data.error && data.error.code === "login_required") { showLock(); }
  if (!response.ok) throw (data && data.error) || { code: "http_" + response.status, message: T.network };
  return data;
}

function say(id, text, ok) {
  const box = $(id);
  box.textContent = text;
  box.className = ok ? "message ok" : "message";
  box.hidden = !text;
}

// ---- PIN gate ---------------------------------------------------------------------------------------------

async function start() {
  document.querySelectorAll("[data-i18n]").forEach((node) => {
    const value = T[node.dataset.i18n];
    if (typeof value === "string") node.textContent = value;
  });
  buildSections();
  const session = await call("/settings/api/session");
  if (session.loggedIn) { csrf = session.csrf; return openSettings(); }
  showLock(session);
}

function showLock(session) {
  $("settings").hidden = true;
  $("logout").hidden = true;
  $("lock").hidden = false;
  const setUp = session ? session.pinSet : true;
  $("pin-setup").hidden = setUp;
  $("pin-login").hidden = !setUp;
  if (session && session.lockedForSeconds > 0) say("lock-message", T.locked(Math.ceil(session.lockedForSeconds / 60)));
  (setUp ? $("pin") : $("pin-new")).focus();
}

$("pin-setup").addEventListener("submit", async (event) => {
  event.preventDefault();
  if ($("pin-new").value !== $("pin-repeat").value) return say("lock-message", T.pins_differ);
  try {
    const result = await call("/settings/api/pin/setup", { pin: $("pin-new").value });
    csrf = result.csrf;
    openSettings();
  } catch (err) { say("lock-message", err.message); }
});

$("pin-login").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const result = await call("/settings/api/login", { pin: $("pin").value });
    csrf = result.csrf;
    openSettings();
  } catch (err) { say("lock-message", err.message); }
  $("pin").value = "";
});

$("logout").addEventListener("click", async () => {
  await call("/settings/api/logout", {}).catch(() => null);
  csrf = null;
  showLock({ pinSet: true });
});

async function openSettings() {
  $("lock").hidden = true;
  say("lock-message", "");
  $("settings").hidden = false;
  $("logout").hidden = false;
  $("pin-new").value = $("pin-repeat").value = "";
  render(await call("/settings/api/state"));
  refreshQueue();
  refreshLogs();
}

// ---- sections ---------------------------------------------------------------------------------------------

function buildSections() {
  const host = $("sections");
  for (const [name, fields] of SECTIONS) {
    const card = el("section", { class: "card", id: `section-${name}`, "data-section": name });
    card.append(el("h2", {}, T[name] || name));
    const form = el("form", { id: `form-${name}`, autocomplete: "off" });
    for (const [key, kind, choices] of fields) form.append(...field(name, key, kind, choices));
    form.append(el("button", { type: "submit", id: `save-${name}` }, T.save));
    form.addEventListener("submit", (event) => { event.preventDefault(); saveSection(name, fields); });
    card.append(form);
    card.append(el("p", { id: `${name}-message`, class: "message", role: "status", hidden: "" }));
    host.append(card);
  }
  extraCredential($("section-engage"));
  extraPrinter($("section-printer"));
  extraScanner($("section-scanner"));
}

function field(section, key, kind, choices) {
  const id = `${section}-${key}`;
  const label = el("label", { for: id }, FIELD_LABELS[lang][`${section}.${key}`] || key);
  label.append(" ", el("span", { class: "key" }, key));
  let input;
  if (kind === "select" || kind === "select-int") {
    input = el("select", { id, name: key });
    for (const choice of choices) input.append(el("option", { value: String(choice) }, String(choice)));
  } else if (kind === "bool") {
    input = el("input", { id, name: key, type: "checkbox" });
  } else if (kind === "lines") {
    input = el("textarea", { id, name: key, placeholder: "http://pos.local:3000" });
  } else {
    input = el("input", { id, name: key, type: kind === "int" || kind === "number" ? "number" : "text" });
    if (kind === "number") input.step = "any";
    if (kind === "port") input.setAttribute("list", "serial-ports");
  }
  input.dataset.kind = kind;
  // Shown when a conf.d drop-in sets this key (see render).
  const note = el("p", { id: `${id}-managed`, class: "managed-note", hidden: "" });
  return [label, input, note];
}

// A key a drop-in sets is read-only here: the note names the file, saving leaves the key out.
function showManaged(input, file) {
  const note = $(`${input.id}-managed`);
  const managed = Boolean(file);
  if (input.tagName === "SELECT" || input.dataset.kind === "bool") input.disabled = managed;
  else input.readOnly = managed;
  if (managed) {
    input.dataset.managed = file;
    input.setAttribute("aria-describedby", note.id);
    note.textContent = T.managed(file.split(/[\\/]/).pop());
    note.title = file;
  } else {
    delete input.dataset.managed;
    input.removeAttribute("aria-describedby");
  }
  note.hidden = !managed;
}

function readField(input) {
  const kind = input.dataset.kind;
  if (kind === "bool") return input.checked;
  if (kind === "int" || kind === "select-int") return input.value === "" ? null : Number.parseInt(input.value, 10);
  if (kind === "number") return input.value === "" ? null : Number(input.value);
  if (kind === "lines") return input.value.split("\n").map((s) => s.trim()).filter(Boolean);
  return input.value;
}

function render(state) {
  renderLoyalty(state);
  for (const [name, fields] of SECTIONS) {
    // A section the page does not offer (the other vendor's) is hidden, and its fields are left alone.
    $(`section-${name}`).hidden = !(name in state.sections);
    if (!(name in state.sections)) continue;
    const managed = (state.managed || {})[name] || {};
    for (const [key] of fields) {
      const input = $(`${name}-${key}`);
      const value = state.sections[name][key];
      if (input.dataset.kind === "bool") input.checked = Boolean(value);
      else if (input.dataset.kind === "lines") input.value = (value || []).join("\n");
      else input.value = value === null || value === undefined ? "" : String(value);
      showManaged(input, managed[key]);
    }
    $(`save-${name}`).disabled = fields.every(([key]) => key in managed);
  }
  $("api-key-last4").textContent = state.apiKey.set ? secretText("set")(state.apiKey.last4) : secretText("missing");
  $("config-file").textContent = state.configFile;
  const list = $("serial-ports");
  list.replaceChildren(...state.serialPorts.map((p) => el("option", { value: p.device }, p.description)));
}

async function saveSection(name, fields) {
  const values = {};
  for (const [key] of fields) {
    const input = $(`${name}-${key}`);
    if (!input.dataset.managed) values[key] = readField(input);
  }
  const body = { values };
  // A new address is only accepted together with the vendor's credential (typed in the field below it).
  if (name === vendor && $("api-key").value) body.apiKey = $("api-key").value;
  try {
    const result = await call(`/settings/api/sections/${name}`, body);
    if (body.apiKey) $("api-key").value = "";
    render(result.state);
    const text = !result.saved ? T.nothing_changed
      : result.restartNeeded.length ? T.restart(result.restartNeeded.join(", ")) : T.saved;
    say(`${name}-message`, text, true);
  } catch (err) { say(`${name}-message`, err.message); }
}

// The loyalty system in use: shown, never changed here (IT sets it; a change needs a restart). The credential
// box and the points section follow it.
function renderLoyalty(state) {
  const loyalty = state.loyalty || { backend: "engage", title: "Engage", features: [], origin: "" };
  vendor = loyalty.backend;
  $("loyalty-backend").textContent = T.loyalty_in_use(loyalty.title, loyalty.backend);
  $("loyalty-help").textContent = T.loyalty_help(loyalty.origin || "—");
  const card = $(`section-${vendor}`);
  if (card && $("credential").parentNode !== card) card.insertBefore($("credential"), $(`${vendor}-message`));
  $("credential-title").textContent = vendor === "fabric" ? T.secret_fabric : T.api_key;
  $("api-key-label").textContent = vendor === "fabric" ? T.secret_new : T.api_key_new;
  $("save-api-key").textContent = vendor === "fabric" ? T.save_secret : T.save_key;
  $("points-section").hidden = !loyalty.features.includes("point_adjustments");
}

function secretText(which) {
  if (vendor === "fabric") return which === "set" ? T.secret_set : T.secret_missing;
  return which === "set" ? T.api_key_set : T.api_key_missing;
}

// The credential of the backend in use (Engage API key or fabric client secret): write-only, only its last four
// characters are ever shown.
function extraCredential(card) {
  const box = el("div", { id: "credential" });
  box.append(el("h3", { id: "credential-title" }, T.api_key), el("p", { id: "api-key-last4" }));
  box.append(el("label", { for: "api-key", id: "api-key-label" }, T.api_key_new));
  box.append(el("input", { id: "api-key", type: "password", autocomplete: "off", spellcheck: "false" }));
  const save = el("button", { type: "button", id: "save-api-key" }, T.save_key);
  const test = el("button", { type: "button", id: "test-connection", class: "secondary" }, T.test_connection);
  box.append(save, test);
  card.insertBefore(box, $("engage-message"));
  save.addEventListener("click", async () => {
    try {
      const result = await call("/settings/api/api-key", { apiKey: $("api-key").value });
      $("api-key").value = "";
      $("api-key-last4").textContent = secretText("set")(result.last4);
      say(`${vendor}-message`, result.note ? `${T.saved} — ${result.note}` : T.saved, true);
    } catch (err) { say(`${vendor}-message`, err.message); }
  });
  test.addEventListener("click", async () => {
    try {
      const r = await call("/settings/api/test-connection", {});
      const ok = vendor === "fabric" ? T.test_ok_fabric : T.test_ok;
      say(`${vendor}-message`, r.keyValid ? ok(r.latencyMs) : r.message, Boolean(r.keyValid));
    } catch (err) { say(`${vendor}-message`, err.message); }
  });
}

function extraPrinter(card) {
  const button = el("button", { type: "button", id: "test-print", class: "secondary" }, T.test_print);
  card.insertBefore(button, $("printer-message"));
  button.addEventListener("click", async () => {
    try {
      const r = await call("/settings/api/test-print", {});
      say("printer-message", T.printed(r.bytes), true);
    } catch (err) { say("printer-message", err.message); }
  });
}

function extraScanner(card) {
  const box = el("div");
  box.append(el("datalist", { id: "serial-ports" }));
  box.append(el("h3", {}, T.test_scan), el("p", { class: "muted" }, T.test_scan_help));
  const input = el("input", { id: "test-scan", autocomplete: "off", spellcheck: "false" });
  box.append(input, el("p", { id: "scan-result", class: "scan-result" }));
  card.insertBefore(box, $("scanner-message"));
  input.addEventListener("keydown", async (event) => {
    if (event.key !== "Enter") return;
    event.preventDefault();
    const r = await call("/settings/api/scan/normalise", { code: input.value }).catch((e) => ({ error: e.message }));
    showScan(r);
    input.value = "";
  });
  let last = null;
  setInterval(async () => {
    if ($("settings").hidden) return;
    const r = await call("/settings/api/scan/last").catch(() => null);
    if (r && r.scan && JSON.stringify(r.scan) !== last) { last = JSON.stringify(r.scan); showScan(r.scan, true); }
  }, 2000);
}

function showScan(r, fromScanner) {
  const read = r.normalised || r.error || "—";
  $("scan-result").textContent = `${fromScanner ? T.last_scan + ": " : ""}${T.raw}: ${JSON.stringify(r.raw)} → ${T.normalised}: ${read}`;
}

// ---- security, queue, logs --------------------------------------------------------------------------------

$("rotate-token").addEventListener("click", async () => {
  try {
    const r = await call("/settings/api/token/rotate", {});
    $("new-token").textContent = `${T.token_shown} ${r.token}`;
    $("new-token").hidden = false;
  } catch (err) { say("security-message", err.message); }
});

$("pin-change").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await call("/settings/api/pin/change", { current: $("pin-current").value, new: $("pin-next").value });
    say("security-message", T.pin_changed, true);
  } catch (err) { say("security-message", err.message); }
  $("pin-current").value = $("pin-next").value = "";
});

$("adjust-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const amount = Number.parseInt($("adjust-amount").value, 10);
  try {
    const r = await call("/settings/api/point-adjustments",
      { member: $("adjust-member").value, amount, description: $("adjust-reason").value });
    say("points-message", T.adjusted(amount, r.memberName, r.reasonText || r.state), r.state !== "rejected");
    $("adjust-member").value = $("adjust-amount").value = $("adjust-reason").value = "";
  } catch (err) { say("points-message", err.message); }
  refreshQueue();
});

function age(iso) {
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 60000));
  return minutes < 120 ? `${minutes} min` : `${Math.round(minutes / 60)} h`;
}

async function refreshQueue() {
  let q;
  try { q = await call("/settings/api/queue"); } catch (err) { return say("queue-message", err.message); }
  $("queue-summary").textContent = q.ops.length ? T.queue_counts(q) : T.queue_empty;
  const rows = q.ops.map((op) => {
    const tr = el("tr", { "data-op": op.opId });
    tr.append(el("td", {}, op.kind), el("td", { class: "op-state" }, op.state),
      el("td", {}, op.reasonText || op.reason || ""), el("td", {}, age(op.createdAt)));
    const actions = el("td");
    // A parked op can be retried; a waiting one retried now or parked; a parked op or a conflict can be marked
    // resolved by a person, with a note saying how (it then leaves the queue, and health stops counting it).
    const possible = op.state === "parked" ? ["retry", "resolve"] : op.state === "queued" ? ["retry", "park"]
      : op.state === "conflict" ? ["resolve"] : [];
    for (const action of possible) {
      const b = el("button", { type: "button", class: "secondary", "data-action": action }, T[action]);
      b.addEventListener("click", async () => {
        if (action === "resolve") return askNote(actions, op);
        try { await call(`/settings/api/ops/${encodeURIComponent(op.opId)}/${action}`, {}); }
        catch (err) { say("queue-message", err.message); }
        refreshQueue();
      });
      actions.append(b);
    }
    tr.append(actions);
    return tr;
  });
  $("queue-table").tBodies[0].replaceChildren(...rows);
}

function askNote(cell, op) {
  const note = el("input", { type: "text", maxlength: "500", "data-field": "resolve-note", placeholder: T.resolve_note,
    "aria-label": T.resolve_note });
  const save = el("button", { type: "button", "data-action": "resolve-save" }, T.resolve_save);
  save.addEventListener("click", async () => {
    if (!note.value.trim()) { note.focus(); return say("queue-message", T.resolve_note); }
    try { await call(`/settings/api/ops/${encodeURIComponent(op.opId)}/resolve`, { note: note.value }); }
    catch (err) { say("queue-message", err.message); }
    refreshQueue();
  });
  cell.replaceChildren(note, save);
  note.focus();
}

async function refreshLogs() {
  try {
    const r = await call("/settings/api/logs");
    $("log-file").textContent = r.file;
    $("log-lines").textContent = r.lines.join("\n");
  } catch (_) { /* the queue message already tells about a dead agent */ }
}

$("queue-refresh").addEventListener("click", refreshQueue);
$("logs-refresh").addEventListener("click", refreshLogs);
start().catch((err) => say("lock-message", err.message || T.network));
