"""The Fanvue API half of the emulator: every operation of the published spec, served generically.

``routes`` checks what every call shares (version, token, rate limit, scope, path, query, body,
agency access) and hands the validated call to the handler ``table`` names for its operationId.
"""
