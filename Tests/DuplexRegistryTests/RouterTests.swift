import DuplexRegistry
import Testing

@Suite("Router")
struct RouterTests {
    let request = RouteRequest()

    @Test("least_loaded orders by queue depth, then active sessions, then name")
    func leastLoaded() {
        let workers = [
            makeWorker("c", queueDepth: 0, activeSessions: 1),
            makeWorker("a", queueDepth: 1, activeSessions: 0),
            makeWorker("b", queueDepth: 0, activeSessions: 1),
            makeWorker("d", queueDepth: 0, activeSessions: 0),
        ]
        let router = Router(strategy: .leastLoaded)
        #expect(router.rank(workers, for: request).map(\.name) == ["d", "b", "c", "a"])
        #expect(router.choose(from: workers, for: request)?.worker.name == "d")
    }

    @Test("least_loaded ranks first on the worker's predicted wait before a new first clause starts")
    func leastLoadedByPredictedWait() {
        func worker(_ name: String, predicted: Double, queueDepth: Int, sessions: Int) -> WorkerRecord {
            var record = makeWorker(name, queueDepth: queueDepth, activeSessions: sessions)
            record.metrics.predictedWaitMs = predicted
            // The call itself differs by noise between identical workers: not compared.
            record.metrics.predictedFirstAudioMs = predicted + Double(name.count * 7)
            return record
        }
        let workers = [
            // Many sessions but an idle queue (they are listening, not speaking).
            worker("chatty", predicted: 0, queueDepth: 0, sessions: 9),
            // Few sessions but a queue that would delay a new reply.
            worker("busy", predicted: 320, queueDepth: 3, sessions: 2),
            worker("light", predicted: 60, queueDepth: 1, sessions: 1),
            // Within the same 10 ms step: the queue depth decides.
            worker("light-deeper", predicted: 63, queueDepth: 2, sessions: 0),
        ]
        let router = Router(strategy: .leastLoaded)
        #expect(router.rank(workers, for: request).map(\.name) == ["chatty", "light", "light-deeper", "busy"])
    }

    @Test("lowest_latency prefers known low first-audio latency, unknown last, ties by load")
    func lowestLatency() {
        let workers = [
            makeWorker("unknown", firstAudioMs: 0),
            makeWorker("slow", firstAudioMs: 400),
            makeWorker("fast-busy", queueDepth: 2, firstAudioMs: 120),
            makeWorker("fast-idle", queueDepth: 0, firstAudioMs: 120),
        ]
        let router = Router(strategy: .lowestLatency)
        #expect(router.rank(workers, for: request).map(\.name) == ["fast-idle", "fast-busy", "slow", "unknown"])
    }

    @Test("round_robin cycles through the candidates by name")
    func roundRobin() {
        let workers = [makeWorker("b"), makeWorker("c"), makeWorker("a")]
        let router = Router(strategy: .roundRobin)
        let picks = (0..<6).compactMap { _ in router.choose(from: workers, for: request)?.worker.name }
        #expect(picks == ["a", "b", "c", "a", "b", "c"])
        // rank is a full rotation, usable as failover order.
        #expect(router.rank(workers, for: request).map(\.name) == ["a", "b", "c"])
        #expect(router.rank(workers, for: request).map(\.name) == ["b", "c", "a"])
    }

    @Test("random picks only eligible workers, reaches all of them, and is reproducible with a seed")
    func random() {
        let workers = [makeWorker("a"), makeWorker("b"), makeWorker("c"), makeWorker("off", ready: false)]
        let router = Router(strategy: .random)
        var seen = Set<String>()
        for _ in 0..<300 {
            if let name = router.choose(from: workers, for: request)?.worker.name { seen.insert(name) }
        }
        #expect(seen == ["a", "b", "c"])

        let first = Router(strategy: .random, randomSeed: 42)
        let second = Router(strategy: .random, randomSeed: 42)
        let firstPicks = (0..<20).map { _ in first.rank(workers, for: request).map(\.name) }
        let secondPicks = (0..<20).map { _ in second.rank(workers.reversed(), for: request).map(\.name) }
        #expect(firstPicks == secondPicks)
        #expect(Set(firstPicks[0]) == ["a", "b", "c"])
    }

    @Test("only ready workers are routed to; none eligible gives nil")
    func readiness() {
        let router = Router()
        #expect(router.choose(from: [makeWorker("a", ready: false)], for: request) == nil)
        #expect(router.choose(from: [], for: request) == nil)
        #expect(router.choose(from: [makeWorker("a", ready: false), makeWorker("b", queueDepth: 9)], for: request)?.worker.name == "b")
    }

    @Test("all required capabilities must be present")
    func capabilities() {
        let workers = [
            makeWorker("plain", capabilities: ["cpu_ok", "streaming"]),
            makeWorker("clone", capabilities: ["streaming", "zero_shot"], queueDepth: 5),
            makeWorker("full", capabilities: ["streaming", "zero_shot", "lora"], queueDepth: 9),
        ]
        let router = Router()
        #expect(router.rank(workers, for: RouteRequest(requiredCapabilities: ["zero_shot"])).map(\.name) == ["clone", "full"])
        #expect(router.rank(workers, for: RouteRequest(requiredCapabilities: ["zero_shot", "lora"])).map(\.name) == ["full"])
        #expect(router.rank(workers, for: RouteRequest(requiredCapabilities: ["expressive"])).isEmpty)
    }

    @Test(
        "language matches case-insensitively by primary subtag",
        arguments: [
            ("en", ["en-us"], true), ("en-us", ["en"], true), ("EN-US", ["en-us"], true), ("en_US", ["en-us"], true),
            ("en-gb", ["en-us"], true), ("de", ["en-us"], false), ("de-de", ["fr", "de"], true), ("en", [], false),
        ] as [(String, [String], Bool)])
    func language(requested: String, offered: [String], matches: Bool) {
        let router = Router()
        let decision = router.choose(from: [makeWorker("w", languages: offered)], for: RouteRequest(language: requested))
        #expect((decision != nil) == matches)
    }

    @Test("no language in the request accepts any worker")
    func anyLanguage() {
        #expect(Router().choose(from: [makeWorker("w", languages: [])], for: RouteRequest(language: nil)) != nil)
    }

    @Test("the model must be in the catalog; workers with it resident come first")
    func residentPreference() {
        let workers = [
            makeWorker("idle-cold", models: ["kokoro", "piper"], resident: ["piper"], queueDepth: 0),
            makeWorker("busy-warm", models: ["kokoro"], resident: ["kokoro"], queueDepth: 3),
            makeWorker("no-kokoro", models: ["piper"], resident: ["piper"]),
        ]
        let router = Router(strategy: .leastLoaded)
        let request = RouteRequest(modelID: "kokoro")
        #expect(router.rank(workers, for: request).map(\.name) == ["busy-warm", "idle-cold"])
        let decision = router.choose(from: workers, for: request)
        #expect(decision == RouteDecision(worker: workers[1], modelResident: true, loadSuggested: false))
    }

    @Test("a model resident nowhere suggests loading it on the best worker")
    func loadSuggestion() {
        let workers = [
            makeWorker("a", models: ["kokoro", "xtts"], queueDepth: 2),
            makeWorker("b", models: ["kokoro", "xtts"], queueDepth: 1),
            makeWorker("c", models: ["kokoro"], resident: ["kokoro"]),
        ]
        let decision = Router().choose(from: workers, for: RouteRequest(modelID: "xtts"))
        #expect(decision?.worker.name == "b")
        #expect(decision?.modelResident == false)
        #expect(decision?.loadSuggested == true)
        #expect(Router().choose(from: workers, for: RouteRequest(modelID: "unknown")) == nil)
        // Without a model, the worker's default serves the session: nothing to load.
        let noModel = Router().choose(from: workers, for: RouteRequest())
        #expect(noModel?.modelResident == true)
        #expect(noModel?.loadSuggested == false)
    }

    @Test("excluding skips workers for failover, down to the next resident or a load suggestion")
    func excluding() {
        let workers = [
            makeWorker("warm1", resident: ["kokoro"], queueDepth: 0),
            makeWorker("warm2", resident: ["kokoro"], queueDepth: 1),
            makeWorker("cold", resident: [], queueDepth: 0),
        ]
        let router = Router()
        let request = RouteRequest(modelID: "kokoro")
        #expect(router.rank(workers, for: request).map(\.name) == ["warm1", "warm2", "cold"])
        #expect(router.choose(from: workers, for: request, excluding: ["warm1"])?.worker.name == "warm2")
        let last = router.choose(from: workers, for: request, excluding: ["warm1", "warm2"])
        #expect(last?.worker.name == "cold")
        #expect(last?.loadSuggested == true)
        #expect(router.choose(from: workers, for: request, excluding: ["warm1", "warm2", "cold"]) == nil)
    }

    @Test("strategies parse from their configuration names")
    func strategyNames() {
        #expect(RoutingStrategy(rawValue: "least_loaded") == .leastLoaded)
        #expect(RoutingStrategy(rawValue: "lowest_latency") == .lowestLatency)
        #expect(RoutingStrategy(rawValue: "round_robin") == .roundRobin)
        #expect(RoutingStrategy(rawValue: "random") == .random)
    }
}
