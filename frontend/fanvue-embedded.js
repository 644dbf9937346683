// @fanvue-embedded/client: the browser side of a Fanvue embedded app served by fanvue-embedded.
//
// Plain ES module, no dependencies, no build step; types in fanvue-embedded.d.ts. The Python
// wheel serves this same file at <embed path>/static/fanvue-embedded.js.
//
// The app session lives in memory only (this module's closures): nothing goes to storage, and
// in bearer mode no cookie is used. Fanvue's own tokens never reach the browser at all.

const THEMES = new Set(["light", "dark"]);
export const UPDATED_SESSION_HEADER = "X-Updated-Session";
const CSRF_HEADER = "X-CSRF-Token";

/**
 * The Fanvue theme from `?theme=` of `url` (the page's address by default): "light", "dark",
 * or null when the address names no theme (or an unknown one).
 */
export function getThemeFromUrl(url = globalThis.location?.href ?? "") {
  let theme;
  try {
    theme = new URL(url, "http://localhost/").searchParams.get("theme");
  } catch {
    return null;
  }
  const normalised = (theme ?? "").trim().toLowerCase();
  return THEMES.has(normalised) ? normalised : null;
}

/**
 * Set `data-theme` on `root` (the <html> element by default) and return the theme in force.
 * `null` leaves the current theme (the server already applied `?theme=`) as it is.
 */
export function applyTheme(theme, root = globalThis.document?.documentElement) {
  if (!root) return THEMES.has(theme) ? theme : null;
  if (THEMES.has(theme)) root.dataset.theme = theme;
  const current = root.dataset.theme;
  return THEMES.has(current) ? current : null;
}

/**
 * Read Fanvue's single-use `?token=` from the address and remove it from the address bar at
 * once (no navigation; the rest of the query stays). Returns null when there is none.
 */
export function takeSessionToken(location = globalThis.location, history = globalThis.history) {
  if (!location) return null;
  const current = new URL(location.href);
  const token = current.searchParams.get("token");
  if (token !== null && history) {
    current.searchParams.delete("token");
    history.replaceState(history.state, "", current.pathname + current.search + current.hash);
  }
  return token || null;
}

/** Map an HTTP failure of the session exchange to one of our error codes. */
function exchangeErrorFor(status, body) {
  const code = body && typeof body.error === "string" ? body.error : null;
  if (code === "consent_required" || status === 403) return "consent_required";
  if (status >= 500 || status === 429 || code === "upstream_unavailable") {
    return "upstream_unavailable";
  }
  // 401 and malformed-input answers (400/413/415) all mean: this token cannot be used.
  return "invalid_session_token";
}

async function readJson(response) {
  try {
    return await response.clone().json();
  } catch {
    return null;
  }
}

/**
 * The session exchange and an authenticated fetch for one page.
 *
 * status: "idle" | "exchanging" | "ready" | "error"
 * error:  null | "consent_required" | "invalid_session_token" | "upstream_unavailable"
 *         | "session_ended" | "no_token" | "network"
 *
 * Options:
 *   baseUrl          where fanvue-embedded is served ("" = this origin at the root; e.g.
 *                    "/fanvue" when mounted under a prefix, "https://api.example.com" from
 *                    another origin, which needs CORS_ALLOWED_ORIGINS on the server)
 *   sessionMode      "bearer" (default: the session travels in Authorization) or "cookie"
 *   fetch            the fetch implementation (default: the global fetch)
 *   getSessionToken  optional async () => a fresh Fanvue session token, or null. When given, a
 *                    401 invalid_session is answered by one re-exchange and one retry.
 */
export function createEmbeddedAuth({
  baseUrl = "",
  sessionMode = "bearer",
  fetch: fetchImpl = (...args) => globalThis.fetch(...args),
  getSessionToken = null,
} = {}) {
  const cookieMode = sessionMode === "cookie";
  const crossOrigin = /^https?:\/\//i.test(baseUrl);
  const base = baseUrl.replace(/\/+$/, "");
  const listeners = new Set();
  let session = null;
  let csrfToken = null;
  let snapshot = null;

  const auth = {
    status: "idle",
    error: null,
    creator: null,
    expiresAt: null,
    missingScopes: [],
    reauthorizeUrl: null,
    sessionMode: cookieMode ? "cookie" : "bearer",
    baseUrl: base,
    get hasSession() {
      return auth.status === "ready";
    },
    start,
    exchange,
    fetch: authFetch,
    authFetch,
    logout,
    subscribe,
    getSnapshot,
  };

  function getSnapshot() {
    if (snapshot === null) {
      snapshot = Object.freeze({
        status: auth.status,
        error: auth.error,
        creator: auth.creator,
        expiresAt: auth.expiresAt,
        missingScopes: auth.missingScopes,
        reauthorizeUrl: auth.reauthorizeUrl,
      });
    }
    return snapshot;
  }

  function notify() {
    snapshot = null;
    for (const fn of listeners) {
      try {
        fn(auth);
      } catch (err) {
        console.error("fanvue-embedded: a listener failed", err);
      }
    }
  }

  function set(status, error = null) {
    auth.status = status;
    auth.error = error;
    notify();
  }

  function forgetSession() {
    session = null;
    csrfToken = null;
    auth.expiresAt = null;
  }

  function url(path) {
    return /^https?:\/\//i.test(path) ? path : `${base}${path}`;
  }

  // The server's re-consent link is a path on its own origin (mount prefix included); from
  // another origin it is resolved against baseUrl. Anything but such a path is ignored.
  function reauthorizeLink(value) {
    if (typeof value !== "string" || !/^\/(?!\/)/.test(value)) return null;
    return crossOrigin ? new URL(value, base).href : value;
  }

  // Cookies only travel cross-origin when asked to; a bearer session needs none.
  function credentials() {
    if (cookieMode) return "include";
    return crossOrigin ? "omit" : "same-origin";
  }

  /** Exchange the page's `?token=` (removing it from the address bar) for an app session. */
  function start() {
    return exchange(takeSessionToken());
  }

  /** POST Fanvue's session token to the backend; resolves true when the app session is ready. */
  async function exchange(token) {
    forgetSession();
    auth.creator = null;
    auth.missingScopes = [];
    auth.reauthorizeUrl = null;
    if (!token) {
      set("error", "no_token");
      return false;
    }
    set("exchanging");
    let response;
    try {
      response = await fetchImpl(url("/api/fanvue/session"), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token }),
        credentials: credentials(),
        cache: "no-store",
      });
    } catch {
      set("error", "network");
      return false;
    }
    const body = await readJson(response);
    if (!response.ok) {
      set("error", exchangeErrorFor(response.status, body));
      return false;
    }
    if (!body || typeof body !== "object" || (!cookieMode && typeof body.session !== "string")) {
      // The backend broke its contract: treat like an upstream failure.
      set("error", "upstream_unavailable");
      return false;
    }
    session = typeof body.session === "string" ? body.session : null;
    csrfToken = typeof body.csrfToken === "string" ? body.csrfToken : null;
    auth.expiresAt = body.expiresAt ?? null;
    auth.creator = body.creator && typeof body.creator === "object" ? body.creator : null;
    // Scope drift: scopes the app now asks for that this creator has not granted yet.
    auth.missingScopes = Array.isArray(body.missingScopes)
      ? Object.freeze(body.missingScopes.filter((scope) => typeof scope === "string"))
      : [];
    auth.reauthorizeUrl = auth.missingScopes.length ? reauthorizeLink(body.reauthorizeUrl) : null;
    set("ready");
    return true;
  }

  async function send(path, init) {
    const headers = new Headers(init.headers ?? {});
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    const options = { ...init, headers, cache: init.cache ?? "no-store" };
    options.credentials = cookieMode ? "include" : (init.credentials ?? credentials());
    if (cookieMode) {
      if (csrfToken) headers.set(CSRF_HEADER, csrfToken);
    } else {
      headers.set("Authorization", `Bearer ${session}`);
    }
    const response = await fetchImpl(url(path), options);
    const updated = response.headers.get(UPDATED_SESSION_HEADER);
    if (updated) session = updated;
    return response;
  }

  /**
   * fetch() with the app session attached. A renewed session in `X-Updated-Session` replaces
   * the one in memory. A 401 `invalid_session` re-exchanges once through `getSessionToken`
   * (when given) and retries once; otherwise it ends the session ("error", "session_ended").
   */
  async function authFetch(path, init = {}) {
    if (auth.status !== "ready") {
      throw new Error(`fanvue-embedded: no app session (status ${auth.status})`);
    }
    const response = await send(path, init);
    if (response.status !== 401) return response;
    if (getSessionToken && (await readJson(response))?.error === "invalid_session") {
      let token = null;
      try {
        token = await getSessionToken();
      } catch {
        token = null;
      }
      if (token) {
        // A failed re-exchange shows its own error (e.g. consent_required).
        if (!(await exchange(token))) return response;
        const retried = await send(path, init);
        if (retried.status !== 401) return retried;
      }
    }
    forgetSession();
    set("error", "session_ended");
    return response;
  }

  /** End the app session on the server (best effort) and forget it here. */
  async function logout() {
    if (auth.status === "ready") {
      try {
        await send("/api/fanvue/logout", { method: "POST" });
      } catch {
        // The session is dropped locally either way.
      }
    }
    forgetSession();
    set("error", "session_ended");
  }

  /** Call `fn(auth)` on every change; returns an unsubscribe function. */
  function subscribe(fn) {
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  }

  return auth;
}
