import DuplexTesting
import DuplexRedis
import DuplexRegistry
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// Registrars and a watcher against a real redis-server.
@Suite("Registry against a real redis-server", .timeLimit(.minutes(3)))
struct RegistryIntegrationTests {
    static let logger: Logger = {
        var logger = Logger(label: "registry-test")
        logger.logLevel = .error
        return logger
    }()

    static func configuration(
        _ server: RedisServerProcess, heartbeat: Duration = .seconds(60), ttl: Duration = .seconds(120),
        rescan: Duration = .seconds(60)
    ) -> RegistryConfiguration {
        RegistryConfiguration(
            redisURL: server.url, keyPrefix: "test", heartbeatInterval: heartbeat, ttl: ttl, rescanInterval: rescan)
    }

    /// Runs `service` in its own group (so the test can shut it down gracefully) as a child of `tasks`.
    static func start(_ service: any Service, in tasks: inout ThrowingTaskGroup<Void, any Error>) -> ServiceGroup {
        let group = ServiceGroup(services: [service], logger: logger)
        tasks.addTask { try await group.run() }
        return group
    }

    static func subscriberCount(_ client: RedisClient, channel: String) async throws -> Int {
        try await client.send(["PUBSUB", "NUMSUB", channel]).array?[1].int ?? 0
    }

    static func names(_ watcher: RegistryWatcher) -> Set<String> {
        Set(watcher.workers.map(\.name))
    }

    @Test("registrars are seen through pub/sub: up, update on resident change, down on graceful stop")
    func discoveryUpdateAndDown() async throws {
        let server = try await RedisServerProcess.start()
        let config = Self.configuration(server)  // long heartbeat and rescan: only events can explain changes
        try await withTimeout {
            let client = try RedisClient(url: server.url)
            // Record every event on the channel to check that metrics-only refreshes stay silent.
            let events = EventLog()
            let subscriber = try RedisSubscriber(configuration: RedisConfiguration(url: server.url))
            let watcher = try RegistryWatcher(configuration: config, logger: Self.logger)
            let boxes = ["w1", "w2", "w3"].map { RecordBox(makeWorker($0)) }
            let registrars = try boxes.map { box in
                try WorkerRegistrar(configuration: config, logger: Self.logger) { box.value }
            }

            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask {
                    for try await message in subscriber.subscribe(channels: [config.channel]) {
                        if let event = try? JSONDecoder().decode(RegistryEvent.self, from: Data(message.message.utf8)) {
                            events.append(event)
                        }
                    }
                }
                let watcherGroup = Self.start(watcher, in: &tasks)
                try await waitUntil("watcher and test subscriber subscribed") {
                    try await Self.subscriberCount(client, channel: config.channel) == 2
                }
                let groups = registrars.map { Self.start($0, in: &tasks) }

                try await waitUntil("watcher sees 3 workers", seconds: 10) { Self.names(watcher) == ["w1", "w2", "w3"] }
                #expect(watcher.workers.first?.address == "grpc://127.0.0.1:7001")
                #expect(try await client.pttl(config.workerKey("w1")) > 60_000)

                // Metrics only: written, not announced.
                boxes[0].update { $0.metrics.queueDepth = 7 }
                registrars[0].refreshNow()
                try await waitUntil("metrics written") {
                    let json = try await client.get(config.workerKey("w1")) ?? ""
                    return json.contains(#""queue_depth":7"#)
                }
                // Resident models changed: announced as update, the watcher re-reads.
                boxes[0].update { $0.residentModels = ["kokoro"] }
                registrars[0].refreshNow()
                try await waitUntil("watcher sees the resident model", seconds: 10) {
                    watcher.workers.first { $0.name == "w1" }?.residentModels == ["kokoro"]
                }
                #expect(watcher.workers.first { $0.name == "w1" }?.metrics.queueDepth == 7)

                // Graceful stop: DEL + down.
                await groups[1].triggerGracefulShutdown()
                try await waitUntil("watcher drops w2", seconds: 10) { Self.names(watcher) == ["w1", "w3"] }
                #expect(try await client.get(config.workerKey("w2")) == nil)

                try await waitUntil("events received") { events.all.count >= 5 }
                let received = events.all
                #expect(received.filter { $0.kind == .up }.map(\.name).sorted() == ["w1", "w2", "w3"])
                #expect(received.filter { $0.kind == .update } == [RegistryEvent(.update, name: "w1")])
                #expect(received.filter { $0.kind == .down } == [RegistryEvent(.down, name: "w2")])

                for group in groups + [watcherGroup] { await group.triggerGracefulShutdown() }
                await subscriber.close()
                try await tasks.waitForAll()
            }
            #expect(try await client.scan(match: config.workerKeyPattern).isEmpty)
            await client.close()
        }
        try await server.stop()
    }

    @Test("changes() streams the worker set, starting with the current one")
    func changesStream() async throws {
        let server = try await RedisServerProcess.start()
        let config = Self.configuration(server)
        try await withTimeout {
            let watcher = try RegistryWatcher(configuration: config, logger: Self.logger)
            let registrar = try WorkerRegistrar(configuration: config, logger: Self.logger) { makeWorker("solo") }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                var changes = watcher.changes().makeAsyncIterator()
                #expect(await changes.next() == [])
                let watcherGroup = Self.start(watcher, in: &tasks)
                let registrarGroup = Self.start(registrar, in: &tasks)
                while let workers = await changes.next(), workers.map(\.name) != ["solo"] {}
                await registrarGroup.triggerGracefulShutdown()
                while let workers = await changes.next(), !workers.isEmpty {}
                await watcherGroup.triggerGracefulShutdown()
                try await tasks.waitForAll()
                #expect(await changes.next() == nil)  // finished when the watcher stopped
            }
        }
        try await server.stop()
    }

    @Test("a crashed worker (no DEL) disappears after its TTL through the periodic rescan")
    func ttlExpiry() async throws {
        let server = try await RedisServerProcess.start()
        let config = Self.configuration(server, rescan: .milliseconds(300))
        try await withTimeout {
            let client = try RedisClient(url: server.url)
            let watcher = try RegistryWatcher(configuration: config, logger: Self.logger)
            let survivor = try WorkerRegistrar(configuration: config, logger: Self.logger) { makeWorker("alive") }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                let watcherGroup = Self.start(watcher, in: &tasks)
                let survivorGroup = Self.start(survivor, in: &tasks)
                // What a crashed registrar leaves behind: a record that is never refreshed nor deleted.
                let json = String(decoding: try JSONEncoder().encode(makeWorker("crashed")), as: UTF8.self)
                // Seen first (no TTL yet, so a loaded machine cannot miss it), then left to expire.
                try await client.set(config.workerKey("crashed"), json)
                try await waitUntil("watcher sees both workers") { Self.names(watcher) == ["alive", "crashed"] }
                _ = try await client.pexpire(config.workerKey("crashed"), milliseconds: 500)
                try await waitUntil("watcher drops the expired worker", seconds: 15) { Self.names(watcher) == ["alive"] }
                for group in [survivorGroup, watcherGroup] { await group.triggerGracefulShutdown() }
                try await tasks.waitForAll()
            }
            await client.close()
        }
        try await server.stop()
    }

    @Test("after a Redis restart (data lost) registrars re-register and the watcher recovers")
    func redisRestart() async throws {
        let server = try await RedisServerProcess.start()
        // Short heartbeat; long rescan so recovery must come from resubscribe + `up` events.
        let config = Self.configuration(server, heartbeat: .milliseconds(300), ttl: .seconds(3))
        try await withTimeout(seconds: 120) {
            let watcher = try RegistryWatcher(configuration: config, logger: Self.logger)
            let registrars = try ["r1", "r2", "r3"].map { name in
                try WorkerRegistrar(configuration: config, logger: Self.logger) { makeWorker(name) }
            }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                let watcherGroup = Self.start(watcher, in: &tasks)
                let groups = registrars.map { Self.start($0, in: &tasks) }
                try await waitUntil("watcher sees 3 workers") { Self.names(watcher) == ["r1", "r2", "r3"] }

                // Redis down: workers keep running, routing keeps the last known set.
                try await server.stop()
                try await Task.sleep(for: .seconds(1))
                #expect(Self.names(watcher) == ["r1", "r2", "r3"])

                try await server.relaunch()  // same port, empty dataset
                let client = try RedisClient(url: server.url)
                try await waitUntil("registrars re-registered", seconds: 30) {
                    try await client.mget(["r1", "r2", "r3"].map(config.workerKey)).allSatisfy { $0 != nil }
                }
                try await waitUntil("watcher resubscribed") {
                    try await Self.subscriberCount(client, channel: config.channel) == 1
                }
                try await waitUntil("watcher recovers 3 workers", seconds: 30) { Self.names(watcher) == ["r1", "r2", "r3"] }

                // A newcomer is seen via pub/sub on the new server (rescan is 60 s).
                let late = try WorkerRegistrar(configuration: config, logger: Self.logger) { makeWorker("r4") }
                let lateGroup = Self.start(late, in: &tasks)
                try await waitUntil("watcher sees the newcomer", seconds: 10) { Self.names(watcher).contains("r4") }

                for group in groups + [lateGroup, watcherGroup] { await group.triggerGracefulShutdown() }
                try await tasks.waitForAll()
                await client.close()
            }
        }
        try await server.stop()
    }

    @Test("a registrar started while Redis is down registers once Redis is up")
    func startWhileRedisDown() async throws {
        let server = try await RedisServerProcess.start()
        try await server.stop()
        let config = Self.configuration(server, heartbeat: .milliseconds(300), ttl: .seconds(3))
        try await withTimeout(seconds: 120) {
            let registrar = try WorkerRegistrar(configuration: config, logger: Self.logger) { makeWorker("early") }
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                let group = Self.start(registrar, in: &tasks)
                try await Task.sleep(for: .milliseconds(700))
                try await server.relaunch()
                let client = try RedisClient(url: server.url)
                try await waitUntil("registered", seconds: 30) { try await client.get(config.workerKey("early")) != nil }
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                #expect(try await client.get(config.workerKey("early")) == nil)
                await client.close()
            }
        }
        try await server.stop()
    }
}

/// Events seen on the registry channel by the test's own subscriber.
final class EventLog: Sendable {
    private let events = Mutex<[RegistryEvent]>([])

    var all: [RegistryEvent] { events.withLock { $0 } }

    func append(_ event: RegistryEvent) {
        events.withLock { $0.append(event) }
    }
}
