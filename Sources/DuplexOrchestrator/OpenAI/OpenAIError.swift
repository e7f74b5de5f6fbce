import DuplexCore
import Foundation
import Hummingbird
import NIOCore

/// An error in the OpenAI API's own shape:
/// `{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
struct OpenAIError: Error, Sendable {
    /// The HTTP status.
    var status: HTTPResponse.Status
    /// OpenAI's error type (`invalid_request_error`, `server_error`, …).
    var type: String
    /// The request field at fault, when one is.
    var param: String?
    /// A stable code (Duplex's codes in lower case, e.g. `unknown_model`).
    var code: String
    /// What was wrong and what to do.
    var message: String
    /// When to retry, in ms (`Retry-After`, rounded up to seconds).
    var retryAfterMs: Int?

    /// A client mistake (400) naming the field.
    static func invalid(_ message: String, param: String?, code: String = "invalid_value") -> OpenAIError {
        OpenAIError(status: .badRequest, type: "invalid_request_error", param: param, code: code, message: message)
    }

    /// Converts a ``DuplexError`` (the edge where the engine's errors meet this protocol).
    init(_ error: DuplexError, param: String? = nil) {
        self.param = param
        code = error.code.rawValue.lowercased()
        message = error.message
        retryAfterMs = error.retryAfterMs
        switch error.code {
        case .invalidMessage, .invalidAudio, .textTooLong, .unknownModel, .invalidState:
            status = .badRequest
            type = "invalid_request_error"
        case .messageTooLarge:
            status = .contentTooLarge
            type = "invalid_request_error"
        case .sessionLimit, .overloaded:
            status = .tooManyRequests
            type = "rate_limit_error"
        case .rateLimited:
            status = .tooManyRequests
            type = "rate_limit_error"
            code = "rate_limit_exceeded"
        case .workerUnavailable, .modelLoadFailed:
            status = .serviceUnavailable
            type = "server_error"
        default:
            status = .internalServerError
            type = "server_error"
        }
    }

    init(status: HTTPResponse.Status, type: String, param: String?, code: String, message: String) {
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.message = message
    }

    /// The error object (also the payload of an SSE `error` event).
    var body: [String: Any] {
        ["error": ["message": message, "type": type, "param": param ?? NSNull(), "code": code] as [String: Any]]
    }

    /// The HTTP response.
    var response: Response {
        var response = OpenAIJSON.response(body, status: status)
        if let retryAfterMs { response.headers[.retryAfter] = String((retryAfterMs + 999) / 1000) }
        return response
    }
}

/// JSON helpers for the OpenAI routes (CORS open: browser tools call these APIs directly).
enum OpenAIJSON {
    static func data(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
    }

    static func response(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .accessControlAllowOrigin: "*"],
            body: .init(byteBuffer: ByteBuffer(bytes: data(object))))
    }

    /// One server-sent event: `data: {json}\n\n`.
    static func sse(_ object: [String: Any]) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes(data(object))
        buffer.writeString("\n\n")
        return buffer
    }
}
