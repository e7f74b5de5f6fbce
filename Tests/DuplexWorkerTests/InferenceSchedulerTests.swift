import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexTesting
import DuplexWorker
import Foundation
import GRPCCore
import Synchronization
import Testing

/// The inference scheduler on real threads, and the worker's admission built on its load.
@Suite(.timeLimit(.minutes(1))) struct InferenceSchedulerTests {
    /// A job that holds a scheduler thread until released.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        private let entered = DispatchSemaphore(value: 0)
        func hold() {
            entered.signal()
            semaphore.wait()
        }
        func waitUntilHeld() async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().async {
                    self.entered.wait()
                    c.resume()
                }
            }
        }
        func release() { semaphore.signal() }
    }

    /// Waits until the scheduler has `count` jobs waiting.
    func waitForQueue(_ scheduler: InferenceScheduler, _ count: Int) async throws {
        while scheduler.load.waiting < count { try await Task.sleep(for: .milliseconds(1)) }
    }

    @Test func jobsRunInDeadlineOrderOnRealThreads() async throws {
        let scheduler = InferenceScheduler(name: "test", threadBudget: 1, aheadWindow: .seconds(60))
        defer { scheduler.shutdown() }
        let gate = Gate()
        let order = Locked<[Int]>([])
        // Slacks are relative to each job's arrival; they are seconds apart so the order
        // does not depend on how long each task takes to arrive (the policy's exact order is
        // proven with a scripted clock in DeadlineQueueTests).
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await scheduler.run(.now) { _ in gate.hold() } }
            await gate.waitUntilHeld()
            // Queued while the only thread is busy, in an order unlike their deadlines.
            for (index, slack) in [(1, 27_000), (2, 9000), (3, 18_000), (4, 0)] {
                group.addTask {
                    try await scheduler.run(.paced(slack: .milliseconds(slack))) { _ in order.withLock { $0.append(index) } }
                }
                try await waitForQueue(scheduler, index)
            }
            group.addTask { try await scheduler.run(.unpaced) { _ in order.withLock { $0.append(5) } } }
            try await waitForQueue(scheduler, 5)
            gate.release()
            try await group.waitForAll()
        }
        #expect(order.withLock { $0 } == [4, 2, 3, 1, 5])
    }

    @Test func aCancelledWaitingJobLeavesTheQueueAtOnce() async throws {
        let scheduler = InferenceScheduler(name: "test", threadBudget: 1, aheadWindow: .seconds(10))
        defer { scheduler.shutdown() }
        let gate = Gate()
        let ran = Locked(false)
        async let holder: Void = scheduler.run(.now) { _ in gate.hold() }
        await gate.waitUntilHeld()
        // Unstructured on purpose: the test owns it and cancels it while its job waits (awaited below).
        let waiting = Task { try await scheduler.run(.now) { _ in ran.withLock { $0 = true } } }
        try await waitForQueue(scheduler, 1)
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(scheduler.load.waiting == 0)
        gate.release()
        try await holder
        let didRun = ran.withLock { $0 }
        #expect(!didRun)
    }

    @Test func aFullQueueFailsFastWithOverloaded() async throws {
        let scheduler = InferenceScheduler(name: "test", threadBudget: 1, aheadWindow: .seconds(10), queueCapacity: 1)
        defer { scheduler.shutdown() }
        let gate = Gate()
        async let holder: Void = scheduler.run(.now) { _ in gate.hold() }
        await gate.waitUntilHeld()
        async let queued: Void = scheduler.run(.now) { _ in }
        try await waitForQueue(scheduler, 1)
        await #expect { try await scheduler.run(.now) { _ in } } throws: { ($0 as? DuplexError)?.code == .overloaded }
        gate.release()
        try await holder
        try await queued
    }

    /// A worker whose queue predicts a first audio beyond `worker.first_audio_target_ms`
    /// refuses a new session with OVERLOADED, unless the router forces it.
    @Test func aWorkerThatCannotServeInTimeRefusesNewSessions() async throws {
        var config = InProcessWorker.configuration(adapters: ["sine"], defaultModel: "sine-440")
        config.worker.inferenceThreads = 1
        config.worker.firstAudioTargetMs = 100
        try await InProcessWorker.withRuntime(config) { connection, runtime in
            let scheduler = runtime.scheduler
            func start(_ id: String, admission: String? = nil) async throws(DuplexError) {
                var request = Duplex_Tts_V1_StartSessionRequest()
                request.sessionID = id
                if let admission { request.options["admission"] = admission }
                _ = try await connection.call { [request] client, options in try await client.startSession(request, options: options) }
            }
            try await start("first")  // an idle worker admits
            // A call that costs 150 ms, then one that holds the only thread: a new reply
            // would wait at least a call.
            try await scheduler.run(.now) { _ in Thread.sleep(forTimeInterval: 0.15) }
            let gate = Gate()
            async let holder: Void = scheduler.run(.now) { _ in gate.hold() }
            await gate.waitUntilHeld()
            #expect(scheduler.load.predictedFirstAudioMs > 100)
            await #expect { try await start("second") } throws: { ($0 as? DuplexError)?.code == .overloaded }
            try await start("forced", admission: "force")
            gate.release()
            try await holder
            try await start("third")  // idle again
        }
    }
}
