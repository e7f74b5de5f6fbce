import ArgumentParser
import DuplexClient
import DuplexCore
import Foundation
import Logging

/// `duplex bench capacity`: ramps concurrent conversation-like sessions against a running
/// server until frames run late or first audio exceeds a target, and prints the curve.
struct BenchCapacity: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capacity",
        abstract: "Ramp concurrent real-time sessions (a simultaneous burst, then staggered replies of mixed lengths) until frames run late.")

    @Option(help: "Server WebSocket URL.")
    var url = "ws://127.0.0.1:8080/ws"

    @Option(help: "Session counts to try, in order (comma-separated).")
    var steps = "1,4,8,12,16,20"

    @Option(help: "Seconds of staggered conversation per step (after the burst).")
    var duration = 20

    @Option(help: "First-audio p95 target in ms: a step over it ends the ramp.")
    var targetMs = 250.0

    @Option(help: "Extra jitter buffer of the modelled player, in ms (0: it plays from the first frame, holding only the server's lead).")
    var bufferMs = 0

    @Option(help: "Model to use (default: the server's default).")
    var model: String?

    @Option(help: "Seed of the think times and reply choices.")
    var seed: UInt64 = 1

    @Flag(help: "Run every step even after one fails.")
    var keepGoing = false

    /// Replies of mixed lengths (about 1.5, 4 and 9 s of audio).
    static let replies = [
        "Sure, I can do that.",
        "The quick brown fox jumps over the lazy dog, and then it runs back home before dark.",
        "Let me check that for you. The next train leaves at a quarter past six from platform four, and it takes about forty minutes to reach the city centre, so you should be there well before seven.",
    ]

    struct Step: Sendable {
        var sessions = 0
        var burstFirstAudio: [Double] = []
        var firstAudio: [Double] = []
        var replies = 0
        var lateFrames = 0
        var underruns = 0
        var burstLateFrames = 0
        var burstUnderruns = 0
        var audioSeconds = 0.0
        var errors = 0
        var refused = 0
        var cpu = 0.0

        mutating func merge(_ other: Step) {
            burstFirstAudio += other.burstFirstAudio
            firstAudio += other.firstAudio
            replies += other.replies
            lateFrames += other.lateFrames
            underruns += other.underruns
            burstLateFrames += other.burstLateFrames
            burstUnderruns += other.burstUnderruns
            audioSeconds += other.audioSeconds
            errors += other.errors
            refused += other.refused
        }
    }

    func run() async throws {
        let counts = steps.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--steps must list session counts from 1 to 256.")
        }
        print("duplex bench capacity  url=\(url) model=\(model ?? "(default)") \(duration) s per step, buffer \(bufferMs) ms, target p95 \(Int(targetMs)) ms")
        print("burst: every session speaks at the same instant; conversation: replies of mixed lengths after 0.3–2 s of thinking")
        print("late: frames the worker sent after a player starting at the first frame ran dry (server count / client count)")
        print(String(repeating: "-", count: 118))
        print("           -------- burst --------   ------------ conversation ------------")
        print("sessions   first-audio p50   p95  late     first-audio p50   p95  replies  late   CPU  refused  errors")
        var capacity = 0
        for count in counts {
            let step = try await runStep(sessions: count)
            let burst = step.burstFirstAudio.sorted()
            let conversation = step.firstAudio.sorted()
            print(String(
                format: "%8d   %15.1f  %5.1f  %4@     %15.1f  %5.1f  %7d  %4@  %3.0f%%  %7d  %6d",
                count, percentile(burst, 0.5), percentile(burst, 0.95), "\(step.burstLateFrames)/\(step.burstUnderruns)" as NSString,
                percentile(conversation, 0.5), percentile(conversation, 0.95), step.replies, "\(step.lateFrames)/\(step.underruns)" as NSString,
                step.cpu * 100, step.refused, step.errors))
            let ok = step.lateFrames == 0 && step.underruns == 0 && step.errors == 0 && step.refused == 0
                && percentile(conversation, 0.95) <= targetMs
            if ok { capacity = max(capacity, count) }
            if !ok && !keepGoing { break }
        }
        print(String(repeating: "-", count: 118))
        print("capacity: \(capacity) concurrent conversation sessions (no late frame, no refusal, first audio p95 ≤ \(Int(targetMs)) ms)")
    }

    private func runStep(sessions: Int) async throws -> Step {
        let logger = Logger(label: "duplex.bench")
        let (url, model, duration, buffer, baseSeed) = (self.url, self.model, self.duration, Duration.milliseconds(bufferMs), seed)
        // Everyone connects first; the burst starts at the same instant for all.
        let burstAt = ContinuousClock.now + .seconds(2) + .milliseconds(20 * sessions)
        let cpuBefore = CPUSample.now()
        var step = try await withThrowingTaskGroup(of: Step.self) { group in
            for index in 0..<sessions {
                group.addTask {
                    do {
                        return try await DuplexConnection.connect(url: url, logger: logger) { connection in
                            var choice = Choices(seed: baseSeed, session: index)
                            var partial = Step()
                            try await connection.startSession(model.map { ["model_id": $0] } ?? [:])
                            try await ContinuousClock().sleep(until: burstAt)
                            let first = try await connection.speak(Self.replies[1])
                            // A refused session (full or busy server) counts once and stops.
                            guard partial.record(first, buffer: buffer, burst: true) else { return partial }
                            let end = ContinuousClock.now + .seconds(duration)
                            while ContinuousClock.now < end {
                                // Think, then reply with one of three lengths.
                                try await Task.sleep(for: .milliseconds(300 + choice.next(below: 1700)))
                                let reply = try await connection.speak(Self.replies[choice.next(below: 3)])
                                guard partial.record(reply, buffer: buffer, burst: false) else { break }
                            }
                            return partial
                        }
                    } catch {
                        var failed = Step()
                        failed.errors = 1
                        return failed
                    }
                }
            }
            var total = Step()
            for try await partial in group { total.merge(partial) }
            return total
        }
        step.sessions = sessions
        step.cpu = CPUSample.now().busy(since: cpuBefore)
        return step
    }
}

extension BenchCapacity.Step {
    /// Adds a reply's figures; false if the server refused the session.
    @discardableResult
    mutating func record(_ reply: SpokenReply, buffer: Duration, burst: Bool) -> Bool {
        if let latency = reply.firstAudioLatency {
            if burst { burstFirstAudio.append(latency.millisecondsDouble) } else { firstAudio.append(latency.millisecondsDouble) }
        }
        replies += 1
        if burst {
            burstLateFrames += reply.reportedLateFrames
            burstUnderruns += reply.playoutUnderruns(buffer: buffer)
        } else {
            lateFrames += reply.reportedLateFrames
            underruns += reply.playoutUnderruns(buffer: buffer)
        }
        audioSeconds += Double(reply.pcm.count / 2) / 48_000
        if reply.errors.contains(where: { $0.contains("OVERLOADED") || $0.contains("SESSION_LIMIT") }) {
            refused += 1
            return false
        }
        errors += reply.reason == "completed" ? 0 : 1
        return true
    }
}

/// The think times and reply lengths of one session: a fixed pseudo-random sequence per seed
/// and session (a linear congruential step), so two runs make the same choices.
struct Choices {
    private var state: UInt64
    init(seed: UInt64, session: Int) { state = seed &* 6_364_136_223_846_793_005 &+ UInt64(session) &* 1_442_695_040_888_963_407 }
    mutating func next(below bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }
}

/// Host CPU time from /proc/stat (the benchmark and the server share the machine).
struct CPUSample {
    var busy: UInt64
    var total: UInt64

    static func now() -> CPUSample {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return CPUSample(busy: 0, total: 0) }
        let fields = line.split(separator: " ").dropFirst().compactMap { UInt64($0) }
        guard fields.count >= 5 else { return CPUSample(busy: 0, total: 0) }
        let total = fields.reduce(0, +)
        let idle = fields[3] + fields[4]  // idle + iowait
        return CPUSample(busy: total - idle, total: total)
    }

    /// Busy share of all cores between `earlier` and this sample.
    func busy(since earlier: CPUSample) -> Double {
        guard total > earlier.total else { return 0 }
        return Double(busy - earlier.busy) / Double(total - earlier.total)
    }
}
