import DuplexCore

/// Repacketizes s16 audio of any chunk size into fixed frames (by default 20 ms at 48 kHz,
/// 960 samples). Samples are carried across calls, so concatenating the frames gives back
/// exactly the input; only the frame returned by ``flush()`` may be shorter.
public struct FrameAssembler: Sendable {
    /// Samples per full frame.
    public let samplesPerFrame: Int
    private var pending: [Int16] = []

    /// Creates an assembler for frames of `samplesPerFrame` samples.
    public init(samplesPerFrame: Int = OutputFormat.samplesPerFrame) {
        precondition(samplesPerFrame > 0)
        self.samplesPerFrame = samplesPerFrame
        pending.reserveCapacity(samplesPerFrame)
    }

    /// Samples waiting for a full frame.
    public var pendingCount: Int { pending.count }

    /// Appends samples and calls `emit` with every completed frame.
    public mutating func append(_ samples: [Int16], emit: (ArraySlice<Int16>) throws -> Void) rethrows {
        var index = 0
        if !pending.isEmpty {
            let take = min(samplesPerFrame - pending.count, samples.count)
            pending.append(contentsOf: samples[0..<take])
            index = take
            if pending.count == samplesPerFrame {
                try emit(pending[...])
                pending.removeAll(keepingCapacity: true)
            }
        }
        while samples.count - index >= samplesPerFrame {
            try emit(samples[index..<index + samplesPerFrame])
            index += samplesPerFrame
        }
        if index < samples.count {
            pending.append(contentsOf: samples[index...])
        }
    }

    /// Returns the remaining samples as a last (short) frame, or nil if none are left.
    public mutating func flush() -> [Int16]? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }
}
