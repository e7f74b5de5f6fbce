import DuplexCore
import DuplexEngine
import DuplexTesting
import Testing

/// A worker that is full or predicts it cannot start replies in time refuses new sessions;
/// the session opens on the next worker the router ranks, and when every worker is busy the
/// first busy one serves it anyway (`admission: force`).
@Suite(.timeLimit(.minutes(1))) struct AdmissionTests {
    /// Each refusing position once, so the refusing worker is the pool's first choice in one
    /// of the cases whatever its rotation.
    @Test(arguments: [DuplexError.Code.overloaded, .sessionLimit], [0, 1])
    func aRefusingWorkerIsPassedOverForTheNext(code: DuplexError.Code, refusing: Int) async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2")]
        let (busy, free) = (workers[refusing], workers[1 - refusing])
        busy.refuseSessions(code)
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            #expect(started.worker == free.name)
            #expect(free.state.value.sessions[session.sessionID] != nil)
            #expect(busy.state.value.sessions.isEmpty)
            #expect(session.events.all("error").isEmpty)
            #expect(free.state.value.admissions.allSatisfy { $0 == "strict" })
        }
    }

    @Test func whenEveryWorkerIsBusyTheFirstBusyOneServesAnyway() async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2")]
        for worker in workers { worker.refuseSessions(.overloaded) }
        try await EngineHarness.run(workers: workers) { session in
            guard case .sessionStarted(let started) = await session.events.next("session_start") else { return }
            let chosen = try #require(session.worker(started.worker))
            // It refused once (strict), then was asked with admission: force.
            #expect(chosen.state.value.admissions == ["strict", "force"])
            #expect(chosen.state.value.sessions[session.sessionID] != nil)
            let other = try #require(workers.first { $0 !== chosen })
            #expect(other.state.value.admissions == ["strict"])
            #expect(session.events.all("error").isEmpty)
        }
    }

    @Test func fullWorkersAreNeverForced() async throws {
        let workers = [ScriptedWorker(name: "w1"), ScriptedWorker(name: "w2")]
        for worker in workers { worker.refuseSessions(.sessionLimit) }
        try await EngineHarness.run(workers: workers) { session in
            guard case .error(let error) = await session.events.next("error") else { return }
            #expect(error.code == .sessionLimit)
            for worker in workers { #expect(worker.state.value.admissions == ["strict"]) }
        }
    }
}
