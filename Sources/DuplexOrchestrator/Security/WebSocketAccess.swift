import DuplexCore
import DuplexSecurity
import Hummingbird
import HummingbirdWebSocket
import NIOWebSocket

/// The WebSocket side of ``AccessControl``.
///
/// Every upgrade on a WebSocket path is accepted and then checked (``admit(_:access:)``):
/// a foreign `Origin`, missing, wrong or expired credentials get one `error` message in the
/// endpoint's own protocol (`UNAUTHORIZED` or `FORBIDDEN`; a Realtime `error` event) and a
/// close with code 4401 or 4403 (the HTTP statuses plus 4000), before any session exists.
/// Browsers cannot read the status of a refused handshake but do see the message and the
/// close code, and Hummingbird answers every declined upgrade with a bare 400, which would
/// say less.
enum WebSocketAccess {
    /// Whether to upgrade `request`: always; the check follows the upgrade.
    static func shouldUpgrade(_ request: Request) -> RouterShouldUpgrade {
        .upgrade([:])
    }

    /// The principal of an upgraded connection, or why it is refused.
    static func admit(_ request: Request, access: AccessControl) async -> Result<Principal, AuthFailure> {
        let origin = request.headers[.origin]
        guard access.origins.allows(origin: origin, host: request.head.authority) else {
            return .failure(.forbiddenOrigin(origin ?? ""))
        }
        do {
            return .success(
                try await access.authenticate(
                    authorization: request.headers[.authorization], queryToken: request.uri.queryParameters.get("token")))
        } catch {
            return .failure(error)
        }
    }

    /// The close code for a refusal: 4401 (credentials) or 4403 (origin).
    static func closeCode(_ failure: AuthFailure) -> WebSocketErrorCode {
        WebSocketErrorCode(codeNumber: failure.isForbidden ? 4403 : 4401)
    }
}
