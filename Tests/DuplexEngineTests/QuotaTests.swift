import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexTesting
import Foundation
import Testing

/// The per-key limits (`quotas:`) as pure buckets on an injected time, and as the engine
/// applies them: reply audio, LLM tokens and microphone audio, each refused with
/// RATE_LIMITED and a retry hint while the session goes on.
@Suite(.timeLimit(.minutes(1))) struct QuotaTests {
    /// A settable time for buckets and quotas.
    final class Time: Sendable {
        let value = Observed(Duration.zero)
        func advance(_ by: Duration) { value.update { $0 += by } }
        var now: @Sendable () -> Duration { { self.value.value } }
    }

    @Test func aBucketAllowsItsBurstThenRefillsAtItsRateAndSaysWhenToRetry() {
        var bucket = TokenBucket.perSecond(5, now: .zero)
        for _ in 0..<5 { #expect(bucket.take(1, at: .zero) == nil) }
        #expect(bucket.take(1, at: .zero) == 200)  // one token comes back every 200 ms
        #expect(bucket.take(1, at: .milliseconds(100)) == 100)
        #expect(bucket.take(1, at: .milliseconds(200)) == nil)
        // Never more than the burst, however long it rests.
        #expect(bucket.take(1, at: .seconds(3600)) == nil)
        #expect(bucket.tokens == 4)
    }

    @Test func aPerMinuteBucketAdmitsUntilUsedUpAndAnOverdraftDelaysByWhatWasOverspent() {
        var bucket = TokenBucket.perMinute(60, now: .zero)  // 1 a second
        #expect(bucket.admit(at: .zero) == nil)
        bucket.charge(90, at: .zero)  // a long reply: 30 over
        #expect(bucket.tokens == -30)
        #expect(bucket.admit(at: .zero) == 30_000)
        #expect(bucket.admit(at: .seconds(29)) == 1000)
        #expect(bucket.admit(at: .seconds(30)) == nil)  // the hint is exact
        // An overdraft is bounded: at most one minute's worth below zero.
        bucket.charge(10_000, at: .seconds(30))
        #expect(bucket.tokens == -60)
    }

    @Test func keysHaveTheirOwnBudgetsAndSessionsAreCountedPerKey() throws {
        var limits = QuotasSection()
        limits.sessions = 1
        limits.messagesPerSecond = 2
        let time = Time()
        let book = QuotaBook(limits: limits, now: time.now)
        let a = try book.openSession(for: "key-a")
        #expect(throws: DuplexError.self) { try book.openSession(for: "key-a") }
        do {
            _ = try book.openSession(for: "key-a")
        } catch {
            #expect(error.code == .rateLimited)
            #expect(error.retryAfterMs != nil)
            #expect(error.message.contains("quotas.sessions"))
        }
        let b = try book.openSession(for: "key-b")  // another key is not affected
        a.close()
        a.close()  // idempotent
        let again = try book.openSession(for: "key-a")
        #expect(book.quota(for: "key-a").activeSessions == 1)
        // Messages: key-a's flood does not use key-b's budget.
        #expect(again.quota.takeMessage() == nil)
        #expect(again.quota.takeMessage() == nil)
        let refusal = try #require(again.quota.takeMessage())
        #expect(refusal.code == .rateLimited)
        #expect(refusal.retryAfterMs == 500)
        #expect(b.quota.takeMessage() == nil)
        time.advance(.milliseconds(500))
        #expect(again.quota.takeMessage() == nil)
        b.close()
        again.close()
        #expect(book.quota(for: "key-a").activeSessions == 0)
    }

    @Test func noLimitsConfiguredRefusesNothing() throws {
        let book = QuotaBook(limits: QuotasSection(), now: { .zero })
        let lease = try book.openSession(for: "open")
        for _ in 0..<10_000 { #expect(lease.quota.takeMessage() == nil) }
        #expect(lease.quota.takeAudioIn(seconds: 1e6) == nil)
        lease.quota.chargeAudioOut(seconds: 1e6)
        #expect(lease.quota.admitAudioOut() == nil)
        lease.quota.chargeLLM(tokens: 1 << 30)
        #expect(lease.quota.admitLLM() == nil)
        _ = try book.openSession(for: "open")
    }

    static func quota(_ configure: @escaping @Sendable (inout QuotasSection) -> Void) -> @Sendable (ManualClock) -> KeyQuota {
        { clock in
            var limits = QuotasSection()
            configure(&limits)
            return KeyQuota(key: "key-test", limits: limits, now: { clock.now.offset })
        }
    }

    @Test func aReplyOverTheKeysAudioBudgetIsNotSpokenUntilItRefills() async throws {
        // 1 s a minute: a 2 s reply overdraws it by 1 s, so the next waits a minute.
        try await EngineHarness.run(quota: Self.quota { $0.audioOutSecondsPerMinute = 1 }) { session in
            await session.events.next("session_start")
            session.send(.text("A long first reply.", isFinal: true))
            let first = await session.workers[0].waitForSynthesis(1)
            first.emit(segment: 0, frames: 100, tag: 1, announce: "A long first reply.", range: 0..<19)
            first.end()
            guard case .replyEnded(_, let frames, let reason, _) = await session.events.next("tts_end") else { return }
            #expect(frames == 100)
            #expect(reason == .completed)
            // The synthesis named the key as its tenant.
            #expect(session.workers[0].state.value.tenants == ["key-test"])

            session.send(.text("A second one.", isFinal: true))
            guard case .error(let error) = await session.events.next("error") else { return }
            #expect(error.code == .rateLimited)
            #expect(error.message.contains("quotas.audio_out_s_per_min"))
            let retry = try #require(error.retryAfterMs)
            #expect((59_000...61_000).contains(retry))  // 1 s overdrawn, refilled at 1 s a minute
            guard case .replyEnded(_, let none, let refused, _) = await session.events.next("tts_end") else { return }
            #expect(none == 0)
            #expect(refused == .error)
            #expect(session.workers[0].state.value.syntheses.count == 1)  // nothing was synthesized

            session.clock.advance(by: .milliseconds(retry))
            session.send(.text("Later.", isFinal: true))
            let third = await session.workers[0].waitForSynthesis(2)
            third.emit(segment: 0, frames: 2, tag: 3, announce: "Later.", range: 0..<6)
            third.end()
            guard case .replyEnded(_, let later, let completed, _) = await session.events.next("tts_end") else { return }
            #expect(later == 2)
            #expect(completed == .completed)
        }
    }

    @Test func aTurnOverTheKeysLLMTokensIsNotAnsweredAndTheNextOneIsAfterTheRefill() async throws {
        try await EngineHarness.run(quota: Self.quota { $0.llmTokensPerMinute = 10 }) { session in
            _ = await ManualTurnTests.conversation(session, .manual)
            // 60 characters of prompt and 60 of reply: about 30 tokens, 20 over the budget.
            session.send(.respond(userText: String(repeating: "a", count: 60)))
            let request = await session.responder.waitForRequest(1)
            request.send(String(repeating: "b", count: 60))
            request.finish()
            await session.events.next { if case .replyText(_, true, _) = $0 { true } else { false } }
            let spoken = await session.workers[0].waitForSynthesis(1)
            spoken.emit(segment: 0, frames: 2, tag: 1, announce: "b", range: 0..<1)
            spoken.end()
            await session.events.next("tts_end")

            session.send(.respond(userText: "And now?"))
            guard case .error(let error) = await session.events.next("error") else { return }
            #expect(error.code == .rateLimited)
            #expect(error.message.contains("quotas.llm_tokens_per_min"))
            #expect(session.responder.requests.value.count == 1)  // the LLM was not called
            let retry = try #require(error.retryAfterMs)
            // 20 over, but an overdraft stops one minute's budget below zero: a minute.
            #expect((59_000...61_000).contains(retry))

            session.clock.advance(by: .milliseconds(retry))
            session.send(.respond(userText: "Now?"))
            let next = await session.responder.waitForRequest(2)
            next.send("Yes.")
            next.finish()
        }
    }
}
