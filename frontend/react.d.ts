// Types of @fanvue-embedded/client/react (react.js). React is a peer dependency.

import type { EmbeddedAuth, EmbeddedAuthOptions, SessionSnapshot } from "./fanvue-embedded.js";

export interface FanvueSessionOptions extends EmbeddedAuthOptions {
  /** Exchange the page's ?token= on mount (default true). */
  autoStart?: boolean;
}

export interface FanvueSession extends SessionSnapshot {
  fetch: EmbeddedAuth["fetch"];
  logout: EmbeddedAuth["logout"];
  exchange: EmbeddedAuth["exchange"];
  /** The underlying session object. */
  auth: EmbeddedAuth;
}

/** The embedded session for a component tree; options are read on the first render only. */
export function useFanvueSession(options?: FanvueSessionOptions): FanvueSession;
