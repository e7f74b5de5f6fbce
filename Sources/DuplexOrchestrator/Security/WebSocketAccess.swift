import DuplexCore
import DuplexSecurity
import Hummingbird
import HummingbirdWebSocket

/// The WebSocket side of ``AccessControl``.
///
/// Before the upgrade: a foreign `Origin`, a missing credential or a bad
/// `Authorization` header declines it, and the request goes on to the HTTP router, where
/// ``AccessMiddleware`` answers 403 or 401. A `?token=` is checked after the upgrade instead
/// (``admit(_:)``): browsers cannot read the status of a refused handshake, so a bad or
/// expired query token gets an `error` message in the endpoint's own protocol, then a close.
enum WebSocketAccess {
    /// Whether to upgrade `request`.
    static func shouldUpgrade(_ request: Request, access: AccessControl) async -> RouterShouldUpgrade {
        guard access.origins.allows(origin: request.headers[.origin], host: request.head.authority) else {
            return .dontUpgrade
        }
        guard access.isEnabled else { return .upgrade([:]) }
        if let authorization = request.headers[.authorization] {
            let valid = (try? await access.authenticate(authorization: authorization, queryToken: nil)) != nil
            return valid ? .upgrade([:]) : .dontUpgrade
        }
        let token = request.uri.queryParameters.get("token") ?? ""
        return token.isEmpty ? .dontUpgrade : .upgrade([:])
    }

    /// The principal of an upgraded connection, or why its query token was refused.
    static func admit(_ request: Request, access: AccessControl) async -> Result<Principal, AuthFailure> {
        do {
            return .success(
                try await access.authenticate(
                    authorization: request.headers[.authorization], queryToken: request.uri.queryParameters.get("token")))
        } catch {
            return .failure(error)
        }
    }
}
