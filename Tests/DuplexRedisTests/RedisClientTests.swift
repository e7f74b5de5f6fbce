import DuplexTesting
import DuplexRedis
import Synchronization
import Testing

@Suite("RedisClient against a real redis-server", .timeLimit(.minutes(2)))
struct RedisClientTests {
    @Test("basic commands")
    func basicCommands() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                #expect(try await client.ping() == "PONG")
                #expect(try await client.get("missing") == nil)
                #expect(try await client.set("a", "1"))
                #expect(try await client.set("b", "två ✓"))
                #expect(try await client.get("b") == "två ✓")
                #expect(try await client.mget(["a", "missing", "b"]) == ["1", nil, "två ✓"])
                #expect(try await client.set("a", "2", condition: .ifNotExists) == false)
                #expect(try await client.set("c", "3", condition: .ifNotExists) == true)
                #expect(try await client.del(["a", "c", "missing"]) == 2)
                #expect(try await client.hset("h", fields: ["x": "1", "y": "2"]) == 2)
                #expect(try await client.hgetall("h") == ["x": "1", "y": "2"])
                #expect(try await client.hgetall("nope") == [:])
                #expect(try await client.expire("b", seconds: 100))
                #expect(try await client.pexpire("missing", milliseconds: 100) == false)
                let ttl = try await client.pttl("b")
                #expect(ttl > 0 && ttl <= 100_000)
                for index in 0..<250 { try await client.set("scan:\(index)", "v") }
                let scanned = try await client.scan(match: "scan:*", count: 50)
                #expect(Set(scanned) == Set((0..<250).map { "scan:\($0)" }))
                #expect(scanned.count == 250)
                #expect(Set(try await client.keys("h*")) == ["h"])
                #expect(try await client.publish("nobody-listens", "hi") == 0)
                #expect(try await client.send(["INCRBY", "n", "5"]) == .integer(5))
            }
        }
        try await server.stop()
    }

    @Test("error replies are typed server errors and leave the connection usable")
    func serverErrors() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                try await client.hset("h", fields: ["f": "v"])
                await #expect {
                    _ = try await client.send(["INCR", "h"])
                } throws: { error in
                    let error = error as? RedisError
                    return error?.code == .serverError && error?.message.hasPrefix("WRONGTYPE") == true
                }
                await #expect(throws: RedisError.self) { _ = try await client.send(["NOSUCHCOMMAND"]) }
                let replies = try await client.sendPipelined([["SET", "k", "v"], ["INCR", "h"], ["GET", "k"]])
                #expect(replies[0] == .simpleString("OK"))
                #expect(replies[1].errorMessage?.hasPrefix("WRONGTYPE") == true)
                #expect(replies[2] == .bulkString("v"))
                #expect(try await client.ping() == "PONG")
            }
        }
        try await server.stop()
    }

    @Test("1000 pipelined commands are answered in order")
    func pipelining() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                let echoes = try await client.sendPipelined((0..<1000).map { ["ECHO", "value-\($0)"] })
                #expect(echoes == (0..<1000).map { .bulkString("value-\($0)") })
                let increments = try await client.sendPipelined(Array(repeating: ["INCR", "counter"], count: 1000))
                #expect(increments == (1...1000).map { .integer($0) })
            }
            // The same through a single connection, with 1000 commands in flight at once.
            var configuration = server.configuration()
            configuration.poolSize = 1
            try await withClient(configuration) { client throws in
                try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                    for index in 0..<1000 {
                        group.addTask { (index, try await client.send(["ECHO", "e\(index)"]).string) }
                    }
                    for try await (index, echoed) in group {
                        #expect(echoed == "e\(index)")
                    }
                }
            }
        }
        try await server.stop()
    }

    @Test("keys set with PX expire")
    func ttlExpiry() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                try await client.set("short", "lived", expireMilliseconds: 150)
                try await client.set("long", "lived", expireMilliseconds: 600_000)
                let ttl = try await client.pttl("short")
                #expect(ttl <= 150)
                try await eventually {
                    guard try await client.get("short") == nil else { throw ConditionNotMet(description: "key still there") }
                }
                #expect(try await client.pttl("short") == -2)
                #expect(try await client.get("long") == "lived")
            }
        }
        try await server.stop()
    }

    @Test("AUTH with the right password; a wrong or missing password is a typed error")
    func authentication() async throws {
        let server = try await RedisServerProcess.start(password: "hunter2")
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                #expect(try await client.ping() == "PONG")
            }
            try await withClient(server.configuration(password: "wrong")) { client throws in
                await #expect {
                    _ = try await client.ping()
                } throws: { error in
                    let error = error as? RedisError
                    return error?.code == .authenticationFailed && error?.message.contains("wrong") == false
                }
            }
            try await withClient(server.configuration(password: .some(nil))) { client throws in
                await #expect {
                    _ = try await client.ping()
                } throws: { error in
                    let error = error as? RedisError
                    return error?.code == .serverError && error?.message.hasPrefix("NOAUTH") == true
                }
            }
            // The URL form.
            let client = try RedisClient(url: "redis://:hunter2@127.0.0.1:\(server.port)/0")
            #expect(try await client.ping() == "PONG")
            await client.close()
        }
        try await server.stop()
    }

    @Test("SELECT isolates databases")
    func selectDatabase() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let db3 = try RedisClient(configuration: server.configuration(database: 3))
            let db0 = try RedisClient(configuration: server.configuration(database: 0))
            try await db3.set("only-in-3", "yes")
            #expect(try await db3.get("only-in-3") == "yes")
            #expect(try await db0.get("only-in-3") == nil)
            await db3.close()
            await db0.close()
        }
        try await server.stop()
    }

    @Test("50 concurrent tasks share the pool")
    func concurrentUse() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for task in 0..<50 {
                        group.addTask {
                            for step in 0..<20 {
                                try await client.set("task:\(task)", "\(step)")
                                #expect(try await client.get("task:\(task)") == "\(step)")
                                _ = try await client.send(["INCR", "total"])
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(try await client.get("total") == "1000")
                let clients = try await client.send(["CLIENT", "LIST"]).string ?? ""
                let count = clients.split(separator: "\n").count
                #expect(count >= 1 && count <= client.configuration.poolSize)
            }
        }
        try await server.stop()
    }

    @Test("sequential use opens a single connection")
    func lazyPool() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            try await withClient(server.configuration()) { client throws in
                for index in 0..<20 { try await client.set("k\(index)", "v") }
                let clients = try await client.send(["CLIENT", "LIST"]).string ?? ""
                #expect(clients.split(separator: "\n").count == 1)
            }
        }
        try await server.stop()
    }

    @Test("after a server restart, commands succeed again on the same client")
    func restartRecovery() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout(seconds: 60) {
            try await withClient(server.configuration()) { client throws in
                try await client.set("before", "restart")
                try await server.restart()
                // The old connection is gone; the client notices and reconnects by itself.
                // The dataset is empty after the restart (no persistence).
                let value = try await eventually { try await client.get("before") }
                #expect(value == nil)
                try await client.set("after", "restart")
                #expect(try await client.get("after") == "restart")

                // Down for longer than the connect window: commands fail fast with a typed error…
                try await server.stop()
                await #expect {
                    _ = try await client.ping()
                } throws: { error in
                    let code = (error as? RedisError)?.code
                    return code == .connectionFailed || code == .connectionClosed
                }
                // …and succeed again once it is back.
                try await server.restart()
                #expect(try await eventually { try await client.ping() } == "PONG")
            }
        }
        try await server.stop()
    }

    @Test("a stopped (SIGSTOP) server makes commands time out with a typed error")
    func timeoutWhenPaused() async throws {
        let server = try await RedisServerProcess.start()
        defer { server.resume() }
        try await withTimeout {
            var configuration = server.configuration()
            configuration.commandTimeout = .milliseconds(300)
            try await withClient(configuration) { client throws in
                #expect(try await client.ping() == "PONG")
                server.pause()
                let started = ContinuousClock.now
                await #expect {
                    _ = try await client.ping()
                } throws: { error in
                    (error as? RedisError)?.code == .timeout
                }
                #expect(ContinuousClock.now - started < .seconds(10))
                server.resume()
                #expect(try await eventually { try await client.ping() } == "PONG")
            }
        }
        try await server.stop()
    }

    @Test("no server: connectionFailed within the connect window")
    func connectionRefused() async throws {
        // A port held (bound, not listening) for the test: nothing else can take it meanwhile.
        try await RedisServerProcess.withRefusingPort { port in
            var settings = RedisConfiguration(host: "127.0.0.1", port: port)
            settings.connectTimeout = .milliseconds(500)
            let configuration = settings
            try await withTimeout {
                try await withClient(configuration) { client throws in
                    await #expect {
                        _ = try await client.ping()
                    } throws: { error in
                        (error as? RedisError)?.code == .connectionFailed
                    }
                }
            }
        }
    }

    @Test("a closed client fails commands with .closed")
    func closedClient() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let client = try RedisClient(configuration: server.configuration())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { _ = try await client.ping() } }
                try await group.waitForAll()
            }
            await client.close()
            await client.close()
            // No connection is left behind: only the observer's own remains.
            try await withClient(server.configuration()) { observer throws in
                try await eventually {
                    let clients = try await observer.send(["CLIENT", "LIST"]).string ?? ""
                    let count = clients.split(separator: "\n").count
                    guard count == 1 else { throw ConditionNotMet(description: "\(count) connections open") }
                }
            }
            await #expect {
                _ = try await client.ping()
            } throws: { error in
                (error as? RedisError)?.code == .closed
            }
        }
        try await server.stop()
    }

    @Test("closing a connection fails its in-flight commands")
    func connectionCloseFailsPending() async throws {
        let server = try await RedisServerProcess.start()
        try await withTimeout {
            let connection = try await RedisConnection.connect(configuration: server.configuration())
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    // Blocks on the server for 5 s unless the connection closes first.
                    await #expect {
                        _ = try await connection.send(["BLPOP", "never", "5"])
                    } throws: { error in
                        (error as? RedisError)?.code == .connectionClosed
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
                await connection.close()
                try await group.waitForAll()
            }
            #expect(!connection.isActive)
            await #expect {
                _ = try await connection.send(["PING"])
            } throws: { error in
                (error as? RedisError)?.code == .connectionClosed
            }
        }
        try await server.stop()
    }
}
