import DuplexCore
import DuplexSecurity
import Foundation
import Hummingbird
import Logging
import Metrics
import NIOCore

/// The HTTP edge of ``AccessControl``: origin checks and CORS for every request,
/// credentials for the API (`/v1/…`), WebSocket upgrades and, when configured, `/metrics`.
///
/// `/health` and the page's static files stay open, so a browser can load the page and then
/// present a token. A refused request gets 401 (credentials, with `WWW-Authenticate`) or 403
/// (origin), with a body in the shape of the API it asked for: OpenAI's error object under
/// `/v1/`, Duplex's `{"type":"error","code","message"}` elsewhere. A WebSocket upgrade the
/// upgrade router declined (``WebSocketAccess``) arrives here as a plain request and is
/// answered the same way.
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessControl
    let refusals: Counter
    let logger: Logger

    init(access: AccessControl, logger: Logger) {
        self.access = access
        self.logger = logger
        refusals = Counter(label: "duplex_auth_refusals_total")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let origin = request.headers[.origin]
        guard access.origins.allows(origin: origin, host: request.head.authority) else {
            return refuse(.forbiddenOrigin(origin ?? ""), request: request)
        }
        // A CORS preflight carries no credentials: answer it once the origin is allowed.
        if request.method == .options, origin != nil, request.headers[.accessControlRequestMethod] != nil {
            var headers = Self.corsHeaders(origin: origin)
            headers[.accessControlAllowMethods] = "GET, POST, PATCH, OPTIONS"
            headers[.accessControlAllowHeaders] = "Authorization, Content-Type, OpenAI-Beta"
            headers[.accessControlMaxAge] = "600"
            return Response(status: .noContent, headers: headers)
        }
        if needsCredentials(request) {
            do {
                _ = try await access.authenticate(
                    authorization: request.headers[.authorization], queryToken: request.uri.queryParameters.get("token"))
            } catch {
                return refuse(error, request: request)
            }
        }
        var response = try await next(request, context)
        if let origin {
            // Echo the allowed origin (never `*` once credentials are in play).
            response.headers[.accessControlAllowOrigin] = origin
            response.headers[.vary] = "Origin"
        }
        return response
    }

    private func needsCredentials(_ request: Request) -> Bool {
        guard access.isEnabled else { return false }
        let path = request.uri.path
        if request.headers[.upgrade] != nil { return true }
        if path.hasPrefix("/v1/") { return true }
        if path == "/metrics" { return access.metricsRequireKey }
        return false
    }

    private func refuse(_ failure: AuthFailure, request: Request) -> Response {
        refusals.increment()
        logger.info("request refused", metadata: [
            "http.path": "\(request.uri.path)", "auth.refusal": "\(Self.reason(failure))",
        ])
        let error = failure.error
        let status: HTTPResponse.Status = failure.isForbidden ? .forbidden : .unauthorized
        let body: [String: Any]
        if request.uri.path.hasPrefix("/v1/") {
            body = ["error": [
                "message": error.message, "type": failure.isForbidden ? "permission_error" : "invalid_request_error",
                "param": NSNull(), "code": failure.isForbidden ? "forbidden_origin" : "invalid_api_key",
            ] as [String: Any]]
        } else {
            body = ["type": "error", "code": error.code.rawValue, "message": error.message]
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        if !failure.isForbidden { headers[.wwwAuthenticate] = #"Bearer realm="duplex""# }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func corsHeaders(origin: String?) -> HTTPFields {
        var headers = HTTPFields()
        if let origin {
            headers[.accessControlAllowOrigin] = origin
            headers[.vary] = "Origin"
        }
        return headers
    }

    /// A bounded label for logs: why, never the credential.
    static func reason(_ failure: AuthFailure) -> String {
        switch failure {
        case .missingCredentials: "missing_credentials"
        case .invalidKey: "invalid_key"
        case .invalidToken: "invalid_token"
        case .expiredToken: "expired_token"
        case .forbiddenOrigin: "forbidden_origin"
        }
    }
}
