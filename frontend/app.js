// The embedded page: trade Fanvue's single-use session token for an app session, keep that
// session in memory only, and show the creator every state they can meet.
//
// The session logic is the browser package (fanvue-embedded.js, published as
// @fanvue-embedded/client); this file is the demo page's UI on top of it. No build step, no
// inline script: the server fills data- attributes on <main id="app"> (api base, session mode)
// and <html data-theme>. Server data is only ever written with textContent.

import { applyTheme, createEmbeddedAuth, getThemeFromUrl, takeSessionToken } from "./fanvue-embedded.js";

async function readJson(response) {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------
// Rendering

/** Small DOM builder: el("p", {class: "muted"}, "text", child). Text goes in as textContent. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function initialsOf(name) {
  const words = String(name ?? "")
    .replace(/^@/, "")
    .split(/[\s._-]+/)
    .filter(Boolean);
  const letters = words.slice(0, 2).map((w) => w[0].toUpperCase());
  return letters.join("") || "?";
}

/** An avatar that falls back to initials when the URL is missing or fails to load. */
function avatar(url, name, size = "lg") {
  const wrap = el("div", { class: `avatar avatar--${size}`, "data-testid": "avatar" });
  const initials = el("span", { class: "avatar__initials", "aria-hidden": "true" }, initialsOf(name));
  if (typeof url === "string" && /^https?:\/\//i.test(url)) {
    const img = el("img", {
      class: "avatar__img",
      src: url,
      alt: "",
      referrerpolicy: "no-referrer",
      decoding: "async",
    });
    img.addEventListener("error", () => img.replaceWith(initials), { once: true });
    wrap.append(img);
  } else {
    wrap.append(initials);
  }
  return wrap;
}

function icon(kind) {
  // Decorative glyphs drawn in CSS (no inline styles, no SVG markup from data).
  return el("div", { class: `state-icon state-icon--${kind}`, "aria-hidden": "true" });
}

function messageCard({ kind, title, lines, actions = [] }) {
  return el(
    "section",
    { class: "card card--center", "data-view": kind },
    icon(kind),
    el("h1", { class: "title", "data-testid": "state-title" }, title),
    lines.map((line) => el("p", { class: "muted" }, line)),
    actions.length ? el("div", { class: "actions" }, actions) : null,
  );
}

function handleText(handle) {
  return handle ? `@${String(handle).replace(/^@/, "")}` : "";
}

function followersList(preview) {
  if (!Array.isArray(preview) || preview.length === 0) return null;
  const items = preview.slice(0, 6).map((fan) => {
    const name = typeof fan === "string" ? fan : fan?.displayName ?? fan?.handle ?? "Fan";
    const handle = typeof fan === "object" && fan ? handleText(fan.handle) : "";
    return el(
      "li",
      { class: "fan" },
      avatar(typeof fan === "object" && fan ? fan.avatarUrl : null, name, "sm"),
      el("span", { class: "fan__text" }, el("span", { class: "fan__name" }, name), handle ? el("span", { class: "fan__handle" }, handle) : null),
    );
  });
  return el(
    "div",
    { class: "section", "data-testid": "followers-preview" },
    el("h2", { class: "section__title" }, "Latest followers"),
    el("ul", { class: "fans" }, items),
  );
}

/** Scope drift: the app now asks for more than this creator granted; offer the re-consent. */
function scopeNotice(missingScopes, reauthorizeUrl) {
  if (!missingScopes.length) return null;
  return el(
    "section",
    { class: "notice", role: "status", "data-testid": "scope-notice" },
    el("p", { class: "notice__title" }, "This app needs more access"),
    el(
      "p",
      { class: "notice__text" },
      "It now asks for permissions you haven't granted yet: ",
      missingScopes.flatMap((scope, index) => [index ? " " : null, el("code", { class: "scope" }, scope)]),
      ". Re-authorize to grant them, then reopen the app here.",
    ),
    reauthorizeUrl
      ? el(
          "a",
          {
            class: "button button--small",
            href: reauthorizeUrl,
            target: "_blank",
            rel: "noopener noreferrer",
            "data-testid": "reauthorize",
          },
          "Re-authorize",
        )
      : null,
  );
}

function profileView({ creator, profile, loading, onLogout, missingScopes, reauthorizeUrl }) {
  const who = profile ?? creator ?? {};
  const name = who.displayName || who.handle || "Creator";
  const header = el(
    "header",
    { class: "topbar" },
    el(
      "div",
      { class: "brand" },
      el("span", { class: "brand__dot", "aria-hidden": "true" }),
      el("span", { class: "brand__text" }, "Connected to Fanvue"),
    ),
    el(
      "button",
      { type: "button", class: "button button--ghost", "data-testid": "logout", onclick: onLogout },
      "Log out",
    ),
  );

  const identity = el(
    "div",
    { class: "identity" },
    avatar(who.avatarUrl, name, "lg"),
    el(
      "div",
      { class: "identity__text" },
      el("h1", { class: "identity__name", "data-testid": "creator-name" }, name),
      el("p", { class: "identity__handle", "data-testid": "creator-handle" }, handleText(who.handle)),
    ),
  );

  let details;
  if (loading) {
    details = el(
      "div",
      { class: "skeleton", "aria-label": "Loading your profile" },
      el("span", { class: "skeleton__line" }),
      el("span", { class: "skeleton__line skeleton__line--short" }),
    );
  } else if (profile) {
    const role = profile.isCreator ? "Creator" : "Fan";
    details = el(
      "dl",
      { class: "facts" },
      el("div", { class: "fact" }, el("dt", {}, "Account"), el("dd", {}, el("span", { class: "pill" }, role))),
      el("div", { class: "fact" }, el("dt", {}, "Handle"), el("dd", {}, handleText(profile.handle))),
      profile.uuid
        ? el("div", { class: "fact" }, el("dt", {}, "Creator ID"), el("dd", { class: "mono" }, String(profile.uuid)))
        : null,
    );
  }

  return el(
    "div",
    { class: "stack", "data-view": "ready" },
    header,
    scopeNotice(missingScopes, reauthorizeUrl),
    el(
      "section",
      { class: "card profile", "data-testid": "profile-card", "aria-busy": loading ? "true" : "false" },
      identity,
      details,
      profile ? followersList(profile.followersPreview) : null,
    ),
    el(
      "p",
      { class: "footnote" },
      "Your Fanvue sign-in stays on this app's server; this page only holds a short-lived session.",
    ),
  );
}

const COPY = {
  no_token: {
    kind: "info",
    title: "Open this app from Fanvue",
    lines: [
      "This page runs inside Fanvue. Go to your Fanvue dashboard, open Apps and launch it from there.",
    ],
  },
  invalid_session_token: {
    kind: "expired",
    title: "This link has expired",
    lines: [
      "Fanvue opens apps with a sign-in link that works once and only for about a minute.",
      "Close the app and open it again from Fanvue to continue.",
    ],
  },
  single_use: {
    kind: "expired",
    title: "Reopen the app to try again",
    lines: [
      "The sign-in link Fanvue opened this app with can only be used once.",
      "Close the app and open it again from Fanvue to get a fresh one.",
    ],
  },
  consent_required: {
    kind: "consent",
    title: "Approve this app in Fanvue",
    lines: [
      "Before this app can see your account, you need to allow it in Fanvue.",
      "Open the app's page in Fanvue, choose Approve access, then reopen the app here.",
    ],
  },
  subscription_required: {
    kind: "subscribe",
    title: "Subscribe to use this app",
    lines: [
      "This app is available to creators with an active subscription to it.",
      "Choose a plan on the app's page in Fanvue, then check again here.",
    ],
  },
  insufficient_scope: {
    kind: "consent",
    title: "Re-authorize this app",
    lines: ["This app now needs permissions you haven't granted yet. Re-authorize it, then reopen it here."],
  },
  upstream_unavailable: {
    kind: "upstream",
    title: "Fanvue isn't responding",
    lines: ["We couldn't reach Fanvue just now. This is usually temporary."],
  },
  session_ended: {
    kind: "ended",
    title: "Your session has ended",
    lines: ["For your security you were signed out. Reopen the app from Fanvue to continue."],
  },
  logged_out: {
    kind: "ended",
    title: "You're logged out",
    lines: ["Reopen the app from Fanvue whenever you want to sign in again."],
  },
};

/** The page: owns the view state, renders into <main id="app">. */
function mountApp(root, auth) {
  const view = { state: "exchanging", profile: null, loading: false, variant: null };

  function setState(state, extra = {}) {
    Object.assign(view, { variant: null }, extra, { state });
    render();
  }

  /** With FANVUE_APP_UUID set: true when the creator has an active plan, else shows why. */
  async function checkEntitlement(fresh = false) {
    if (root.dataset.entitlement !== "required") return true;
    let response;
    try {
      response = await auth.authFetch(fresh ? "/api/entitlement?fresh=1" : "/api/entitlement");
    } catch {
      if (auth.status === "ready") setState("upstream_unavailable");
      return false;
    }
    if (response.ok) return true;
    if (response.status === 401) return false; // the auth subscription shows "session_ended"
    const code = (await readJson(response))?.error;
    if (response.status === 402) setState("subscription_required");
    else if (code === "insufficient_scope") setState("insufficient_scope");
    else setState("upstream_unavailable");
    return false;
  }

  async function open(fresh = false) {
    if (await checkEntitlement(fresh)) await loadProfile();
  }

  async function loadProfile() {
    setState("ready", { loading: true, profile: null });
    let response;
    try {
      response = await auth.authFetch("/api/me");
    } catch {
      if (auth.status === "ready") setState("upstream_unavailable");
      return;
    }
    if (response.status === 401) return; // the auth subscription shows "session_ended"
    const body = await readJson(response);
    if (response.status === 403 && body?.error === "insufficient_scope") {
      setState("insufficient_scope");
      return;
    }
    if (!response.ok || !body || typeof body !== "object") {
      setState("upstream_unavailable");
      return;
    }
    setState("ready", { loading: false, profile: body });
  }

  function retry() {
    if (auth.status === "ready") {
      open();
    } else {
      // The session token was single-use: the only way forward is a fresh one from Fanvue.
      setState("invalid_session_token", { variant: "single_use" });
    }
  }

  async function checkAgain(event) {
    event.currentTarget.disabled = true;
    await open(true);
  }

  async function onLogout(event) {
    event.currentTarget.disabled = true;
    await auth.logout();
    setState("session_ended", { variant: "logged_out" });
  }

  auth.subscribe(() => {
    if (auth.status === "exchanging") setState("exchanging");
    else if (auth.status === "error" && view.variant !== "logged_out") {
      const state = auth.error === "network" ? "upstream_unavailable" : auth.error;
      if (state !== view.state) setState(state);
    }
  });

  function render() {
    root.dataset.state = view.state;
    root.setAttribute("aria-busy", view.state === "exchanging" || view.loading ? "true" : "false");
    let content;
    if (view.state === "exchanging") {
      content = el(
        "section",
        { class: "card card--center", "data-view": "exchanging" },
        el("div", { class: "spinner", role: "progressbar", "aria-label": "Connecting" }),
        el("h1", { class: "title", "data-testid": "state-title" }, "Connecting to Fanvue…"),
        el("p", { class: "muted" }, "Signing you in securely. This only takes a moment."),
      );
    } else if (view.state === "ready") {
      content = profileView({
        creator: auth.creator,
        profile: view.profile,
        loading: view.loading,
        onLogout,
        missingScopes: auth.missingScopes ?? [],
        reauthorizeUrl: auth.reauthorizeUrl,
      });
    } else {
      const copy = COPY[view.variant ?? view.state] ?? COPY.upstream_unavailable;
      const actions = [];
      if (view.state === "upstream_unavailable") {
        actions.push(
          el("button", { type: "button", class: "button", "data-testid": "retry", onclick: retry }, "Retry"),
        );
      }
      if (view.state === "subscription_required") {
        actions.push(
          el(
            "button",
            { type: "button", class: "button", "data-testid": "check-subscription", onclick: checkAgain },
            "I've subscribed — check again",
          ),
        );
      }
      if (view.state === "insufficient_scope" && auth.reauthorizeUrl) {
        actions.push(
          el(
            "a",
            { class: "button", href: auth.reauthorizeUrl, target: "_blank", rel: "noopener noreferrer", "data-testid": "reauthorize" },
            "Re-authorize",
          ),
        );
      }
      content = messageCard({ ...copy, actions });
    }
    root.replaceChildren(content);
  }

  return { checkEntitlement, loadProfile, open, render, view };
}

export async function main(root = document.getElementById("app")) {
  const token = takeSessionToken();
  applyTheme(getThemeFromUrl());

  const auth = createEmbeddedAuth({
    baseUrl: root.dataset.apiBase ?? "",
    sessionMode: root.dataset.sessionMode === "cookie" ? "cookie" : "bearer",
  });
  const page = mountApp(root, auth);
  page.render();
  if (await auth.exchange(token)) await page.open();
  return auth;
}

// Run only on the real page (the template sets data-session-mode), so tests can import this
// module on a blank page for its exports.
if (typeof document !== "undefined") {
  const root = document.getElementById("app");
  if (root && root.hasAttribute("data-session-mode")) main(root);
}
