import DuplexTesting
import DuplexRedis
import Testing

@Suite("RedisSubscriber against a real redis-server", .timeLimit(.minutes(2)))
struct RedisSubscriberTests {
    /// An `onSubscribed` callback plus a stream to await its calls.
    private static func subscribedSignal() -> (AsyncStream<Void>, @Sendable () -> Void) {
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        return (stream, { continuation.yield() })
    }

    private static func subscriberCount(_ client: RedisClient, channel: String) async throws -> Int {
        let reply = try await client.send(["PUBSUB", "NUMSUB", channel])
        return reply.array?[1].int ?? -1
    }

    @Test("messages published by a client reach the subscriber")
    func delivery() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let subscriber = try RedisSubscriber(configuration: server.configuration())
            let client = try RedisClient(configuration: server.configuration())
            let (subscribed, onSubscribed) = Self.subscribedSignal()
            let messages = subscriber.subscribe(channels: ["workers", "other"], onSubscribed: onSubscribed)
            var signals = subscribed.makeAsyncIterator()
            _ = await signals.next()

            #expect(try await client.publish("workers", "up:a") == 1)
            #expect(try await client.publish("other", "x") == 1)
            #expect(try await client.publish("unrelated", "y") == 0)
            #expect(try await client.publish("workers", "down:a") == 1)

            var received: [RedisPubSubMessage] = []
            for try await message in messages {
                received.append(message)
                if received.count == 3 { break }
            }
            #expect(received == [
                RedisPubSubMessage(channel: "workers", message: "up:a"),
                RedisPubSubMessage(channel: "other", message: "x"),
                RedisPubSubMessage(channel: "workers", message: "down:a"),
            ])
            await subscriber.close()
            await client.close()
        }
        try await server.stop()
    }

    @Test("the subscriber re-subscribes after a server restart")
    func restartRecovery() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout(seconds: 60) {
            let subscriber = try RedisSubscriber(configuration: server.configuration())
            let client = try RedisClient(configuration: server.configuration())
            let (subscribed, onSubscribed) = Self.subscribedSignal()
            let messages = subscriber.subscribe(channels: ["workers"], onSubscribed: onSubscribed)
            var signals = subscribed.makeAsyncIterator()
            var iterator = messages.makeAsyncIterator()

            _ = await signals.next()
            try await client.publish("workers", "before")
            #expect(try await iterator.next()?.message == "before")

            try await server.restart()
            _ = await signals.next()  // re-subscribed on the new server
            #expect(try await eventually { try await client.publish("workers", "after") } == 1)
            #expect(try await iterator.next()?.message == "after")

            await subscriber.close()
            #expect(try await iterator.next() == nil)
            await client.close()
        }
        try await server.stop()
    }

    @Test("cancelling the consuming task ends the subscription and closes its connection")
    func cancellation() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let subscriber = try RedisSubscriber(configuration: server.configuration())
            let client = try RedisClient(configuration: server.configuration())
            let (subscribed, onSubscribed) = Self.subscribedSignal()
            let messages = subscriber.subscribe(channels: ["c"], onSubscribed: onSubscribed)
            let consumer = Task {
                var count = 0
                for try await _ in messages { count += 1 }
                return count
            }
            var signals = subscribed.makeAsyncIterator()
            _ = await signals.next()
            #expect(try await Self.subscriberCount(client, channel: "c") == 1)
            consumer.cancel()
            _ = try await consumer.value
            try await eventually {
                guard try await Self.subscriberCount(client, channel: "c") == 0 else {
                    throw ConditionNotMet(description: "subscription still open")
                }
            }
            await subscriber.close()
            await client.close()
        }
        try await server.stop()
    }

    @Test("close() ends every subscription; later subscriptions end at once")
    func close() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let subscriber = try RedisSubscriber(configuration: server.configuration())
            let client = try RedisClient(configuration: server.configuration())
            let (subscribed, onSubscribed) = Self.subscribedSignal()
            let first = subscriber.subscribe(channels: ["a"], onSubscribed: onSubscribed)
            let second = subscriber.subscribe(channels: ["b"], onSubscribed: onSubscribed)
            var signals = subscribed.makeAsyncIterator()
            _ = await signals.next()
            _ = await signals.next()
            await subscriber.close()
            var firstIterator = first.makeAsyncIterator()
            var secondIterator = second.makeAsyncIterator()
            #expect(try await firstIterator.next() == nil)
            #expect(try await secondIterator.next() == nil)
            // The server drops the subscriptions once it has read the FIN.
            try await eventually {
                let open = try await Self.subscriberCount(client, channel: "a") + Self.subscriberCount(client, channel: "b")
                guard open == 0 else { throw ConditionNotMet(description: "\(open) subscriptions still open") }
            }

            var late = subscriber.subscribe(channels: ["c"]).makeAsyncIterator()
            await #expect {
                _ = try await late.next()
            } throws: { error in
                (error as? RedisError)?.code == .closed
            }
            await client.close()
        }
        try await server.stop()
    }

    @Test("a wrong password ends the subscription with a typed error")
    func wrongPassword() async throws {
        let server = try await RedisServerProcess.start(password: "right")
        try await withTimeout {
            let subscriber = try RedisSubscriber(configuration: server.configuration(password: "wrong"))
            var iterator = subscriber.subscribe(channels: ["c"]).makeAsyncIterator()
            await #expect {
                _ = try await iterator.next()
            } throws: { error in
                (error as? RedisError)?.code == .authenticationFailed
            }
            await subscriber.close()
        }
        try await server.stop()
    }
}
