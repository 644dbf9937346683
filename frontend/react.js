// @fanvue-embedded/client/react: the session as a React hook. React is a peer dependency of
// this entry point only; the core module (fanvue-embedded.js) does not import it.

import { useEffect, useMemo, useState, useSyncExternalStore } from "react";

import { createEmbeddedAuth } from "./fanvue-embedded.js";

/**
 * The embedded session for a component tree: exchanges the page's `?token=` once on mount
 * (unless `autoStart` is false) and re-renders on every change.
 *
 * Returns { status, error, creator, expiresAt, fetch, logout, exchange, auth }.
 * `options` are createEmbeddedAuth's; they are read on the first render only.
 */
export function useFanvueSession(options = {}) {
  const [auth] = useState(() => createEmbeddedAuth(options));
  const snapshot = useSyncExternalStore(auth.subscribe, auth.getSnapshot, auth.getSnapshot);
  const autoStart = options.autoStart !== false;

  useEffect(() => {
    // StrictMode runs effects twice: only the first call finds the session idle.
    if (autoStart && auth.status === "idle") auth.start();
  }, [auth, autoStart]);

  return useMemo(
    () => ({
      ...snapshot,
      fetch: auth.fetch,
      logout: auth.logout,
      exchange: auth.exchange,
      auth,
    }),
    [snapshot, auth],
  );
}
