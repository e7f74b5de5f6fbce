/// One message received on a subscribed channel.
public struct RedisPubSubMessage: Sendable, Hashable {
    /// The channel the message was published on.
    public var channel: String
    /// The message payload, decoded as UTF-8.
    public var message: String

    /// Creates a message.
    public init(channel: String, message: String) {
        self.channel = channel
        self.message = message
    }
}

/// The messages of one subscription, as returned by ``RedisSubscriber/subscribe(channels:onSubscribed:)``.
///
/// Iteration ends (returns `nil`) when the consuming task is cancelled or the subscriber is closed.
/// It throws only for errors that retrying cannot fix: ``RedisError/Code/authenticationFailed``
/// and ``RedisError/Code/serverError`` (e.g. a rejected `SUBSCRIBE`).
///
/// Single consumer: iterate it from one task.
public struct RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = RedisPubSubMessage
    public typealias Failure = RedisError

    let stream: AsyncThrowingStream<RedisPubSubMessage, any Error>

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(base: stream.makeAsyncIterator())
    }

    /// Iterates the messages of a ``RedisSubscription``.
    public struct AsyncIterator: AsyncIteratorProtocol {
        public typealias Element = RedisPubSubMessage
        public typealias Failure = RedisError

        var base: AsyncThrowingStream<RedisPubSubMessage, any Error>.AsyncIterator

        /// The next message, or `nil` once the subscription has ended.
        public mutating func next() async throws(RedisError) -> RedisPubSubMessage? {
            do {
                return try await base.next()
            } catch {
                throw RedisError.wrapping(error, as: .connectionClosed, "The Redis subscription failed.")
            }
        }
    }
}
