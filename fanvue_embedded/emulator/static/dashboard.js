// The emulator's creator dashboard: a Fanvue-like page that embeds the app's iframe with a fresh
// single-use session token and the current theme, driven only by the emulator's control API.

const THEME_COOKIE = "fve-dashboard-theme";

const $ = (id) => document.getElementById(id);

const ui = {
  select: $("creator-select"),
  themeToggle: $("theme-toggle"),
  themeLabel: $("theme-label"),
  meAvatar: $("me-avatar"),
  appName: $("app-name"),
  appTitle: $("app-title"),
  appMeta: $("app-meta"),
  consentCreator: $("consent-creator"),
  consentStatus: $("consent-status"),
  approve: $("consent-approve"),
  revoke: $("consent-revoke"),
  reload: $("reload-app"),
  error: $("dashboard-error"),
  frame: $("app-frame"),
  frameUrl: $("frame-url"),
  tokenHint: $("token-hint"),
  missing: $("app-url-missing"),
  webhookUrl: $("webhook-url"),
  webhookHistory: $("webhook-history"),
  agencyStatus: $("agency-status"),
  agencyToggle: $("agency-toggle"),
};

const state = {
  app: null,
  creators: [],
  creator: null, // uuid
  theme: document.documentElement.dataset.theme === "dark" ? "dark" : "light",
  sessionTokenTtl: null,
  generation: 0, // bumps on every (re)open so a slow, stale mint never wins
};

async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (method !== "GET") {
    // The emulator refuses state-changing control calls that are not JSON (guard.py).
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body ?? {});
  }
  const response = await fetch(path, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const detail = data && (data.error_description || data.error);
    throw new Error(`${method} ${path} → ${response.status}${detail ? `: ${detail}` : ""}`);
  }
  return data;
}

function showError(message) {
  ui.error.textContent = message ?? "";
  ui.error.hidden = !message;
}

function initials(name) {
  const parts = String(name ?? "").split(/[\s._-]+/).filter(Boolean);
  return parts.slice(0, 2).map((p) => p[0].toUpperCase()).join("") || "?";
}

function currentCreator() {
  return state.creators.find((c) => c.uuid === state.creator) ?? null;
}

function hasConsent(creator) {
  return Boolean(creator && (creator.consent ?? creator.consented ?? creator.hasConsent));
}

// -- rendering ---------------------------------------------------------------------------

function renderTheme() {
  document.documentElement.dataset.theme = state.theme;
  const dark = state.theme === "dark";
  ui.themeToggle.setAttribute("aria-pressed", String(dark));
  ui.themeToggle.dataset.theme = state.theme;
  ui.themeLabel.textContent = dark ? "Dark" : "Light";
}

function renderCreators() {
  const options = state.creators.map((c) => {
    const option = document.createElement("option");
    option.value = c.uuid;
    option.textContent = c.handle;
    return option;
  });
  ui.select.replaceChildren(...options);
  if (state.creator) ui.select.value = state.creator;
}

function renderCreator() {
  const creator = currentCreator();
  const approved = hasConsent(creator);
  ui.consentCreator.textContent = creator ? `@${creator.handle}` : "—";
  ui.consentStatus.textContent = approved ? "approved" : "not approved";
  ui.consentStatus.dataset.approved = String(approved);
  ui.approve.classList.toggle("button--ghost", approved);
  ui.revoke.classList.toggle("button--ghost", !approved);
  ui.revoke.classList.toggle("button--danger", approved);
  ui.meAvatar.textContent = initials(creator?.displayName ?? creator?.handle);
  ui.meAvatar.title = creator ? creator.displayName ?? creator.handle : "";
}

function renderApp() {
  const app = state.app ?? {};
  const name = app.client_id || "Your app";
  ui.appName.textContent = name;
  ui.appTitle.textContent = name;
  const scopes = Array.isArray(app.scopes) ? app.scopes.join(" ") : "";
  ui.appMeta.textContent = app.app_url ? `${app.app_url}${scopes ? ` · ${scopes}` : ""}` : "No app URL registered";
}

function renderTokenHint(expiresAt) {
  const ttl = state.sessionTokenTtl;
  const lifetime = ttl ? `valid ${Math.round(ttl)} s` : "short-lived";
  const minted = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  ui.tokenHint.textContent = `Session token ${lifetime} · single-use · minted ${minted}`;
  ui.tokenHint.dataset.expiresAt = expiresAt == null ? "" : String(expiresAt);
}

// -- the iframe ---------------------------------------------------------------------------

/** Mint a fresh session token for the selected creator and (re)load the app with it. */
async function openApp() {
  const generation = ++state.generation;
  const appUrl = state.app?.app_url;
  if (!appUrl) {
    ui.frame.hidden = true;
    ui.frame.removeAttribute("src");
    ui.missing.hidden = false;
    ui.frameUrl.textContent = "—";
    ui.tokenHint.textContent = "";
    return;
  }
  ui.missing.hidden = true;
  ui.frame.hidden = false;
  if (!state.creator) return;
  let minted;
  try {
    minted = await api("POST", "/_emulator/session-tokens", { creator: state.creator });
  } catch (err) {
    if (generation === state.generation) showError(`Could not mint a session token: ${err.message}`);
    return;
  }
  if (generation !== state.generation) return; // a newer open superseded this one
  let target;
  try {
    target = new URL(appUrl, location.href);
  } catch {
    showError(`The registered app URL is not a valid URL: ${appUrl}`);
    return;
  }
  target.searchParams.set("token", minted.token);
  target.searchParams.set("theme", state.theme);
  showError(null);
  ui.frameUrl.textContent = `${target.origin}${target.pathname}?theme=${state.theme}`;
  renderTokenHint(minted.expiresAt);
  ui.frame.dataset.generation = String(generation);
  ui.frame.src = target.href;
}

// -- data ---------------------------------------------------------------------------------

async function loadCreators() {
  const data = await api("GET", "/_emulator/creators");
  state.creators = Array.isArray(data) ? data : data?.creators ?? data?.data ?? [];
  // ?creator= may name a handle as well as a uuid.
  const byHandle = state.creators.find((c) => c.handle === state.creator);
  if (byHandle) state.creator = byHandle.uuid;
  if (!state.creators.some((c) => c.uuid === state.creator)) {
    state.creator = state.creators[0]?.uuid ?? null;
  }
  renderCreators();
  renderCreator();
}

async function setConsent(granted) {
  if (!state.creator) return;
  try {
    await api(granted ? "PUT" : "DELETE", `/_emulator/creators/${encodeURIComponent(state.creator)}/consent`);
    await loadCreators();
  } catch (err) {
    showError(`Could not change consent: ${err.message}`);
    return;
  }
  await openApp();
}

// -- agency: the selected creator manages every other creator, or nobody ------------------

async function loadAgency() {
  if (!state.creator) return;
  const path = `/_emulator/creators/${encodeURIComponent(state.creator)}/agency`;
  try {
    state.agency = await api("GET", path);
  } catch (err) {
    showError(`Could not read the agency state: ${err.message}`);
    return;
  }
  const managed = state.agency?.manages?.length ?? 0;
  const isAgency = Boolean(state.agency?.agency);
  ui.agencyStatus.textContent = isAgency ? `agency · manages ${managed}` : "not an agency";
  ui.agencyStatus.dataset.approved = String(isAgency);
  ui.agencyToggle.textContent = isAgency ? "Stop being an agency" : "Manage the other creators";
}

async function toggleAgency() {
  if (!state.creator) return;
  const path = `/_emulator/creators/${encodeURIComponent(state.creator)}/agency`;
  const others = state.creators.filter((c) => c.uuid !== state.creator).map((c) => c.uuid);
  try {
    await api(state.agency?.agency ? "DELETE" : "PUT", path, state.agency?.agency ? undefined : { manages: others });
  } catch (err) {
    showError(`Could not change the agency state: ${err.message}`);
    return;
  }
  await loadAgency();
}

function rememberCreatorInUrl() {
  const url = new URL(location.href);
  url.searchParams.set("creator", state.creator ?? "");
  history.replaceState(null, "", url.pathname + url.search);
}

// -- wiring -------------------------------------------------------------------------------

ui.select.addEventListener("change", () => {
  state.creator = ui.select.value;
  rememberCreatorInUrl();
  renderCreator();
  loadAgency();
  openApp();
});

ui.themeToggle.addEventListener("click", () => {
  state.theme = state.theme === "dark" ? "light" : "dark";
  // A cookie (not storage) so the server renders the next visit in this theme without a flash.
  document.cookie = `${THEME_COOKIE}=${state.theme}; path=/; max-age=31536000; SameSite=Lax`;
  renderTheme();
  openApp();
});

ui.approve.addEventListener("click", () => setConsent(true));
ui.agencyToggle.addEventListener("click", () => toggleAgency());
ui.revoke.addEventListener("click", () => setConsent(false));
ui.reload.addEventListener("click", async () => {
  // Re-read the registration first so a PATCHed app_url takes effect without a page reload.
  try {
    state.app = await api("GET", "/_emulator/app");
    renderApp();
  } catch (err) {
    showError(`The emulator's control API did not answer: ${err.message}`);
    return;
  }
  await openApp();
});

// Webhooks: each button asks the emulator to send one signed event to the app's webhook_url.
async function renderWebhookHistory() {
  const url = state.app?.webhook_url;
  ui.webhookUrl.textContent = url ? `→ ${url}` : "No webhook_url registered (PATCH /_emulator/app)";
  const { deliveries } = await api("GET", "/_emulator/webhooks");
  ui.webhookHistory.replaceChildren(
    ...deliveries.slice(0, 8).map((delivery) => {
      const item = document.createElement("li");
      item.className = "webhooks__item";
      item.dataset.ok = String(delivery.status !== null && delivery.status < 300);
      const when = new Date(delivery.at * 1000).toLocaleTimeString();
      const target = delivery.target && delivery.target !== "app" ? ` → subscription ${delivery.target.slice(0, 8)}` : "";
      item.textContent = `${when} · ${delivery.type} · ${delivery.status ?? delivery.error}${target}`;
      return item;
    }),
  );
}

for (const button of document.querySelectorAll("[data-event]")) {
  button.addEventListener("click", async () => {
    showError(null);
    try {
      await api("POST", "/_emulator/webhooks", { type: button.dataset.event });
    } catch (err) {
      showError(`Webhook not delivered: ${err.message}`);
    }
    await renderWebhookHistory().catch(() => {});
  });
}

// Things that happen in the selected creator's world: the emulator changes the world and sends
// the resulting event to every matching subscription (routes_activity.py).
async function firstChatFan(creator) {
  const { keys } = await api("GET", `${creator}/world/chats`);
  if (!keys.length) throw new Error("the creator has no chat");
  return keys[0];
}

const ACTIONS = {
  message: async (creator) =>
    [`${creator}/fans/${await firstChatFan(creator)}/messages`, { text: "Hi! Just saw your new post." }],
  follow: async (creator) => [`${creator}/fans/new/follow`, {}],
  subscribe: async (creator) => [`${creator}/fans/new/subscribe`, {}],
  tip: async (creator) => [`${creator}/fans/${await firstChatFan(creator)}/tips`, { amount: 500 }],
  payment: async (creator) => [`${creator}/checkout/payments`, { status: "succeeded" }],
};

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", async () => {
    showError(null);
    if (!state.creator) return;
    const creator = `/_emulator/creators/${encodeURIComponent(state.creator)}`;
    try {
      const [path, body] = await ACTIONS[button.dataset.action](creator);
      await api("POST", path, body);
    } catch (err) {
      showError(`Could not simulate it: ${err.message}`);
    }
    await renderWebhookHistory().catch(() => {});
  });
}

for (const link of document.querySelectorAll(".nav__item")) {
  // Only "Apps" exists in the emulator; the rest is scenery.
  link.addEventListener("click", (event) => event.preventDefault());
}

async function start() {
  renderTheme();
  state.creator = new URL(location.href).searchParams.get("creator") || null;
  try {
    const [app, settings] = await Promise.all([
      api("GET", "/_emulator/app"),
      api("GET", "/_emulator/settings").catch(() => null),
    ]);
    state.app = app;
    state.sessionTokenTtl = settings?.session_token_ttl ?? null;
    renderApp();
    await loadCreators();
    await loadAgency();
    await renderWebhookHistory().catch(() => {});
  } catch (err) {
    showError(`The emulator's control API did not answer: ${err.message}`);
    return;
  }
  await openApp();
  document.body.dataset.ready = "true";
}

start();
