"""Errors in the ABI's own shape: a Duplex code carried as a gRPC status.

A handler raises :class:`DuplexError`; the service turns it into a gRPC status whose code is
the closest standard one, whose details are the Duplex message, and whose trailing metadata
carries the exact Duplex code under ``duplex-error-code`` (docs/ABI.md, "Errors";
``Sources/DuplexProto/WireErrors.swift``).
"""

from __future__ import annotations

import grpc

#: Trailing-metadata key carrying the Duplex error code.
CODE_KEY = "duplex-error-code"

# The Duplex codes (``Sources/DuplexCore/Errors/DuplexError.swift``).
INVALID_MESSAGE = "INVALID_MESSAGE"
INVALID_AUDIO = "INVALID_AUDIO"
UNKNOWN_MODEL = "UNKNOWN_MODEL"
TEXT_TOO_LONG = "TEXT_TOO_LONG"
MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
WORKER_UNAVAILABLE = "WORKER_UNAVAILABLE"
SYNTHESIS_FAILED = "SYNTHESIS_FAILED"
SESSION_LIMIT = "SESSION_LIMIT"
SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
MODEL_LOAD_FAILED = "MODEL_LOAD_FAILED"
MODEL_IN_USE = "MODEL_IN_USE"
INVALID_VOICE_PACK = "INVALID_VOICE_PACK"
INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
INVALID_STATE = "INVALID_STATE"
OVERLOADED = "OVERLOADED"
INTERNAL = "INTERNAL"
CANCELLED = "CANCELLED"

_STATUS = {
    UNKNOWN_MODEL: grpc.StatusCode.NOT_FOUND,
    SESSION_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    INVALID_MESSAGE: grpc.StatusCode.INVALID_ARGUMENT,
    TEXT_TOO_LONG: grpc.StatusCode.INVALID_ARGUMENT,
    INVALID_AUDIO: grpc.StatusCode.INVALID_ARGUMENT,
    MESSAGE_TOO_LARGE: grpc.StatusCode.INVALID_ARGUMENT,
    INVALID_CONFIGURATION: grpc.StatusCode.INVALID_ARGUMENT,
    MODEL_IN_USE: grpc.StatusCode.FAILED_PRECONDITION,
    INVALID_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    OVERLOADED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    SESSION_LIMIT: grpc.StatusCode.RESOURCE_EXHAUSTED,
    WORKER_UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    CANCELLED: grpc.StatusCode.CANCELLED,
}


class DuplexError(Exception):
    """A failure with a stable Duplex code (``UNKNOWN_MODEL``, ``SESSION_LIMIT``, …).

    Raise it from a handler (or from a :class:`~duplex_worker.Model`) to fail the RPC with
    the matching gRPC status; any other exception raised while synthesizing becomes
    ``SYNTHESIS_FAILED``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def status_code(self) -> grpc.StatusCode:
        """The gRPC status closest to the Duplex code (``INTERNAL`` for the rest)."""
        return _STATUS.get(self.code, grpc.StatusCode.INTERNAL)

    @property
    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        """``(("duplex-error-code", code),)``."""
        return ((CODE_KEY, self.code),)

    def __repr__(self) -> str:
        return f"DuplexError({self.code!r}, {self.message!r})"


def status_code_for(code: str) -> grpc.StatusCode:
    """The gRPC status code a Duplex code travels as."""
    return _STATUS.get(code, grpc.StatusCode.INTERNAL)


def duplex_code_of(error: grpc.RpcError) -> str:
    """Client side: the Duplex code of a failed call (like ``WireErrors.duplexError``).

    The trailing metadata wins; without it the code is derived from the gRPC status.
    """
    try:
        for key, value in error.trailing_metadata() or ():
            if key == CODE_KEY:
                return value
        status = error.code()
    except Exception:  # not a call error
        return INTERNAL
    if status in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ABORTED):
        return WORKER_UNAVAILABLE
    return {
        grpc.StatusCode.CANCELLED: CANCELLED,
        grpc.StatusCode.NOT_FOUND: UNKNOWN_MODEL,
        grpc.StatusCode.INVALID_ARGUMENT: INVALID_MESSAGE,
        grpc.StatusCode.RESOURCE_EXHAUSTED: OVERLOADED,
    }.get(status, SYNTHESIS_FAILED)
