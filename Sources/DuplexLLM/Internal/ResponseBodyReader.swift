import AsyncHTTPClient
import NIOCore

/// Owns the iterator of a streaming response body so that one read at a time can run in a
/// child task (raced against a deadline).
///
/// `@unchecked Sendable` is safe because reads never overlap: ``next()`` is only called from
/// `race(until:_:)`, whose task group is awaited to completion before the next read starts, so
/// the iterator is touched by one task at a time with happens-before edges between them.
/// Releasing the last reference drops the iterator, which makes AsyncHTTPClient cancel an
/// unfinished request and close its connection.
final class ResponseBodyReader: @unchecked Sendable {
    private var iterator: HTTPClientResponse.Body.AsyncIterator

    init(_ body: HTTPClientResponse.Body) {
        iterator = body.makeAsyncIterator()
    }

    /// The next buffer of the body, or nil at its end.
    func next() async throws -> ByteBuffer? {
        try await iterator.next()
    }
}
