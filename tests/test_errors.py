"""fanvue_embedded.errors: which failures are worth retrying."""

from __future__ import annotations

from fanvue_embedded import errors


def test_retryable_errors_are_transient_and_rejections_are_not() -> None:
    assert issubclass(errors.ConcurrentRefreshError, errors.TransientError)
    assert issubclass(errors.UpstreamServerError, errors.TransientError)
    assert issubclass(errors.UpstreamUnavailable, errors.TransientError)
    assert not issubclass(errors.ReauthorizationRequired, errors.TransientError)
    assert not issubclass(errors.ClientAuthenticationError, errors.TransientError)
