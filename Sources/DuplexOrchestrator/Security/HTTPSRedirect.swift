import DuplexCore
import Hummingbird
import Logging

/// The plain-HTTP listener of `server.http_redirect_port`: every request is answered with a
/// 308 to the same path on the HTTPS port, so `http://host:8081/` still reaches the page.
enum HTTPSRedirect {
    static func application(host: String, port: Int, httpsPort: Int, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: Redirect(httpsPort: httpsPort))
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "duplex-redirect"), logger: logger)
    }

    struct Redirect<Context: RequestContext>: RouterMiddleware {
        let httpsPort: Int

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            let authority = request.head.authority ?? "localhost"
            let host = Self.hostWithoutPort(authority)
            let location = "https://\(host)\(httpsPort == 443 ? "" : ":\(httpsPort)")\(request.uri.description)"
            return Response(status: .permanentRedirect, headers: [.location: location])
        }

        /// `host:port` → `host` (IPv6 literals keep their brackets).
        static func hostWithoutPort(_ authority: String) -> String {
            if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
                return String(authority[...close])
            }
            return String(authority.split(separator: ":", maxSplits: 1).first ?? Substring(authority))
        }
    }
}
