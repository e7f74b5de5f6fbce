import DuplexCore
import DuplexDSP
import Foundation

/// A microphone for scripted conversations: streams 16 kHz s16le mono PCM to the server at
/// real-time pace in 20 ms chunks. Clips queued with ``play(_:)`` go out in order; silence
/// goes out in between, as a live microphone would send it.
public final class SimulatedMicrophone: Sendable {
    /// The microphone's sample rate.
    public static let sampleRate = 16_000
    private static let chunk = sampleRate / 50

    /// One queued clip, with the time its first sample went out.
    public final class Clip: Sendable {
        /// The clip's samples (16 kHz).
        public let samples: [Int16]
        private let started = Locked<ContinuousClock.Instant?>(nil)
        private let finished = Locked(false)

        init(samples: [Int16]) {
            self.samples = samples
        }

        /// When its first sample was sent (nil until then).
        public var startedAt: ContinuousClock.Instant? { started.value }
        /// Whether all of it was sent.
        public var isFinished: Bool { finished.value }

        /// The send time of sample `index` (valid once started: the stream runs in real time).
        public func time(ofSample index: Int) -> ContinuousClock.Instant? {
            startedAt.map { $0 + .microseconds(Int64(index) * 1_000_000 / Int64(SimulatedMicrophone.sampleRate)) }
        }

        func markStarted(_ at: ContinuousClock.Instant) { started.withLock { if $0 == nil { $0 = at } } }
        func markFinished() { finished.withLock { $0 = true } }
    }

    private struct Queue {
        var clips: [Clip] = []
        var offset = 0
    }

    private let queue = Locked(Queue())

    /// Creates a microphone (silent until clips are queued).
    public init() {}

    /// Queues a clip of 16 kHz samples; it plays after those already queued.
    @discardableResult
    public func play(_ samples: [Int16]) -> Clip {
        let clip = Clip(samples: samples)
        queue.withLock { $0.clips.append(clip) }
        return clip
    }

    /// Whether every queued clip has been sent.
    public var isIdle: Bool { queue.withLock { $0.clips.isEmpty } }

    /// Streams to `connection` until the task is cancelled.
    public func run(on connection: DuplexConnection) async throws {
        let start = ContinuousClock.now
        var sent = 0
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let chunk = nextChunk(at: now)
            try await connection.send(binary: chunk.withUnsafeBytes { Data($0) })
            sent += 1
            try await Task.sleep(until: start + .milliseconds(20 * sent), clock: .continuous)
        }
    }

    private func nextChunk(at now: ContinuousClock.Instant) -> [Int16] {
        queue.withLock { q in
            var out: [Int16] = []
            out.reserveCapacity(Self.chunk)
            while out.count < Self.chunk, let clip = q.clips.first {
                if q.offset == 0 {
                    clip.markStarted(now + .microseconds(Int64(out.count) * 1_000_000 / Int64(Self.sampleRate)))
                }
                let take = min(Self.chunk - out.count, clip.samples.count - q.offset)
                out += clip.samples[q.offset..<q.offset + take]
                q.offset += take
                if q.offset >= clip.samples.count {
                    clip.markFinished()
                    q.clips.removeFirst()
                    q.offset = 0
                }
            }
            if out.count < Self.chunk { out += [Int16](repeating: 0, count: Self.chunk - out.count) }
            return out
        }
    }

    /// Where speech starts and ends in a clip: the first and last 10 ms blocks louder than
    /// -40 dBFS, as sample indices (nil for a silent clip).
    public static func speechBounds(_ samples: [Int16]) -> (start: Int, end: Int)? {
        let block = sampleRate / 100
        var first: Int?
        var last: Int?
        var index = 0
        while index + block <= samples.count {
            var sum = 0.0
            for sample in samples[index..<index + block] { sum += Double(sample) * Double(sample) }
            if (sum / Double(block)).squareRoot() / 32768 > 0.01 {
                if first == nil { first = index }
                last = index + block
            }
            index += block
        }
        guard let first, let last else { return nil }
        return (first, last)
    }

    /// Converts 16-bit mono audio at any rate to the microphone's 16 kHz.
    public static func resample(_ samples: [Int16], from rate: Int) throws(DuplexError) -> [Int16] {
        guard rate != sampleRate else { return samples }
        let resampler = try Resampler(from: rate, to: sampleRate)
        let floats = SampleConversion.float(from: samples)
        return SampleConversion.int16(from: resampler.process(floats) + resampler.flush())
    }
}
