// Types of @fanvue-embedded/client (fanvue-embedded.js). Hand-written: the module is plain JS.

export type Theme = "light" | "dark";

export type SessionStatus = "idle" | "exchanging" | "ready" | "error";

export type SessionError =
  | "consent_required"
  | "invalid_session_token"
  | "upstream_unavailable"
  | "session_ended"
  | "no_token"
  | "network";

export type SessionMode = "bearer" | "cookie";

/** The creator's public profile, as POST /api/fanvue/session returns it. */
export interface CreatorProfile {
  uuid: string;
  handle: string;
  displayName: string | null;
  avatarUrl: string | null;
}

/** An immutable view of the session state (a new object on every change). */
export interface SessionSnapshot {
  readonly status: SessionStatus;
  readonly error: SessionError | null;
  readonly creator: CreatorProfile | null;
  readonly expiresAt: number | null;
  /** Scopes the app asks for that this creator has not granted (they connected before the
   * app's scopes grew); empty when none. */
  readonly missingScopes: readonly string[];
  /** Where the creator grants them (the standard OAuth flow); null when none are missing. */
  readonly reauthorizeUrl: string | null;
}

export interface EmbeddedAuthOptions {
  /** Where fanvue-embedded is served: "" (this origin, at the root), "/fanvue", or another
   * origin such as "https://api.example.com" (needs CORS_ALLOWED_ORIGINS on the server). */
  baseUrl?: string;
  /** "bearer" (default) or "cookie" (the server's SESSION_COOKIE_NAME is set). */
  sessionMode?: SessionMode;
  /** The fetch implementation; the global fetch by default. */
  fetch?: typeof fetch;
  /** A fresh Fanvue session token when the app session has ended (401 invalid_session):
   * one re-exchange and one retry follow. Without it, that 401 ends the session. */
  getSessionToken?: (() => Promise<string | null> | string | null) | null;
}

export interface EmbeddedAuth {
  readonly status: SessionStatus;
  readonly error: SessionError | null;
  readonly creator: CreatorProfile | null;
  readonly expiresAt: number | null;
  /** See SessionSnapshot.missingScopes. */
  readonly missingScopes: readonly string[];
  /** See SessionSnapshot.reauthorizeUrl. */
  readonly reauthorizeUrl: string | null;
  readonly sessionMode: SessionMode;
  readonly baseUrl: string;
  readonly hasSession: boolean;
  /** Exchange the page's ?token= (removed from the address bar); true when ready. */
  start(): Promise<boolean>;
  /** Exchange a Fanvue session token for an app session; true when ready. */
  exchange(token: string | null | undefined): Promise<boolean>;
  /** fetch() with the app session attached (paths are relative to baseUrl). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The same as fetch (the name Fanvue's SDK uses). */
  authFetch(path: string, init?: RequestInit): Promise<Response>;
  /** End the app session on the server and forget it here. */
  logout(): Promise<void>;
  /** Called on every change; returns the unsubscribe function. */
  subscribe(listener: (auth: EmbeddedAuth) => void): () => void;
  /** The current state as an immutable object (stable until the next change). */
  getSnapshot(): SessionSnapshot;
}

export const UPDATED_SESSION_HEADER: "X-Updated-Session";

export function createEmbeddedAuth(options?: EmbeddedAuthOptions): EmbeddedAuth;

/** "light" | "dark" from ?theme= of the URL (the page's by default); null when none. */
export function getThemeFromUrl(url?: string): Theme | null;

/** Set data-theme on root (<html> by default); null keeps the current one. Returns the theme
 * in force, or null when none is set. */
export function applyTheme(theme: Theme | null, root?: HTMLElement): Theme | null;

/** Fanvue's ?token= of the page, removed from the address bar; null when absent. */
export function takeSessionToken(
  location?: { href: string },
  history?: Pick<History, "replaceState" | "state">,
): string | null;
