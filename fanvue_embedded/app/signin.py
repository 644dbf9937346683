"""The embedded sign-in's steps around the exchange: the failed-attempts check, and the last
step (store the creator's tokens and open their app session).

``authorize_checked``: an address this process saw fail or refused lately is checked before
its authorize-on-behalf call; any other address is checked while that call is on its way, and
the code is redeemed only if the check passed (``attempts.py``): a refused address costs at
most that one call, never a token exchange. The check is a Redis round trip that nearly every
open passes, and the call waits for Fanvue anyway.

``commit_sign_in``:

The token commit (``SessionExchange.commit``: the store's write, then ``on_tokens``) and the app
session's record are independent writes (different keys; on a Cluster, different slots), so they
go out together: one round trip on the request's path instead of two in a row.

What the sequential order guaranteed still holds:

- no app session unless the tokens were stored and the hook returned: when the commit fails, a
  session record written meanwhile is deleted again. Its token never left this process, so the
  record could not be used even while it existed; if the delete fails too, it expires with its
  TTL (``SESSION_TTL``);
- when only the session write fails, the tokens stay stored (as when the session was written
  second) and the caller answers with the session store's error; the next open signs in again.
"""

from __future__ import annotations

import asyncio
import logging

from ..attempts import FailureLimiter
from ..errors import FanvueError, InvalidSessionToken
from ..exchange import AuthorizationCode, Authorized, ExchangeResult, SessionExchange
from ..sessions import AppSessionManager, IssuedSession

__all__ = ["authorize_checked", "commit_sign_in"]

logger = logging.getLogger("fanvue_embedded.app")


async def authorize_checked(
    exchange: SessionExchange, failures: FailureLimiter, session_token: str, address: str
) -> Authorized:
    """``exchange.authorize(session_token)`` for a client at ``address``, refused with
    ``TooManyFailedAttempts`` once the address failed too often; an invalid token counts
    against it. The check's error (the limit, or the store down) wins over the call's."""
    if failures.suspect(address):
        await failures.check(address)  # before it costs an upstream call
        code = await _request_code(exchange, failures, session_token, address)
    else:
        checked, requested = await asyncio.gather(
            failures.check(address),
            _request_code(exchange, failures, session_token, address),
            return_exceptions=True,
        )
        if isinstance(checked, BaseException):
            raise checked  # the code (if any) is never redeemed
        if isinstance(requested, BaseException):
            raise requested
        code = requested
    return await exchange.redeem(code.code, code.verifier)


async def _request_code(
    exchange: SessionExchange, failures: FailureLimiter, session_token: str, address: str
) -> AuthorizationCode:
    try:
        return await exchange.request_code(session_token)
    except InvalidSessionToken:  # a junk or stale token: count it against the address
        await failures.record_failure(address)
        raise


async def commit_sign_in(
    exchange: SessionExchange, sessions: AppSessionManager, authorized: Authorized
) -> tuple[ExchangeResult, IssuedSession]:
    """Store ``authorized`` and issue the creator's app session concurrently.

    Raises the commit's error when the commit failed (whatever the session write did), else the
    session write's error; both writes have finished either way.
    """
    committed, issued = await asyncio.gather(
        exchange.commit(authorized),
        sessions.issue(authorized.user.uuid),
        return_exceptions=True,
    )
    if isinstance(committed, BaseException):
        if not isinstance(issued, BaseException):
            await _end_unused(sessions, issued)
        raise committed
    if isinstance(issued, BaseException):
        raise issued
    return committed, issued


async def _end_unused(sessions: AppSessionManager, issued: IssuedSession) -> None:
    try:
        await sessions.end(issued.session_id)
    except FanvueError as exc:  # the commit's error is the answer; this one is for the log
        logger.warning(
            "could not delete the session record of a failed sign-in (%s); it expires with "
            "its TTL and its token was never sent",
            exc.code,
        )
