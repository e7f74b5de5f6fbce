import DuplexCore
import DuplexSecurity
import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat

/// `POST /v1/auth/token`: trades an API key for a short-lived access token, so a page can be
/// handed a credential that expires. Body (optional): `{"ttl_s": seconds}` (at most
/// `security.token_ttl_s`). Answer: `{"token", "token_type": "Bearer", "expires_in",
/// "expires_at"}`. Only a key mints: a token cannot extend itself.
struct AuthRoutes: Sendable {
    let access: AccessControl

    func register(on router: Router<BasicRequestContext>) {
        router.post("/v1/auth/token") { request, context -> Response in
            await mint(request, context: context)
        }
    }

    private func mint(_ request: Request, context: BasicRequestContext) async -> Response {
        guard access.isEnabled else {
            return OpenAIError.invalid("This server has no API keys (security.api_keys), so it needs no tokens.", param: nil, code: "auth_disabled").response
        }
        let principal: Principal
        do {
            principal = try await access.authenticate(authorization: request.headers[.authorization], queryToken: nil)
        } catch {
            return OpenAIError(status: .unauthorized, type: "invalid_request_error", param: nil, code: "invalid_api_key", message: error.error.message).response
        }
        guard case .key(let identity) = principal else {
            return OpenAIError(
                status: .forbidden, type: "permission_error", param: nil, code: "key_required",
                message: "Only an API key can mint an access token (send `Authorization: Bearer <key>`), not another token.").response
        }
        var lifetime: Int?
        if let body = try? await request.body.collect(upTo: 4096), body.readableBytes > 0 {
            guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] else {
                return OpenAIError.invalid("The body must be a JSON object such as {\"ttl_s\": 300}.", param: nil, code: "invalid_json").response
            }
            if let value = object["ttl_s"] {
                guard let seconds = value as? Int, seconds > 0 else {
                    return OpenAIError.invalid("ttl_s must be a positive whole number of seconds.", param: "ttl_s").response
                }
                lifetime = seconds
            }
        }
        do {
            let minted = try await access.tokens.mint(for: identity.id, lifetimeSeconds: lifetime)
            return OpenAIJSON.response([
                "token": minted.token, "token_type": "Bearer",
                "expires_in": Int(minted.expiresAt.timeIntervalSinceNow.rounded()),
                "expires_at": Int(minted.expiresAt.timeIntervalSince1970),
            ])
        } catch {
            return OpenAIError(error).response
        }
    }
}
