/// The far-end audio the client has been sent but not played yet, as 16-bit samples in a
/// fixed-capacity ring (no unbounded queue on the audio path).
///
/// Audio beyond the capacity is not queued (and counted in ``dropped``): keeping the oldest
/// samples keeps the queue aligned with what the client is playing now.
struct PlaybackQueue {
    private var storage: [Int16]
    private var head = 0
    /// Queued samples.
    private(set) var count = 0
    /// Samples refused because the queue was full.
    private(set) var dropped = 0

    init(capacity: Int) {
        storage = [Int16](repeating: 0, count: max(1, capacity))
    }

    /// Queues float samples (nominal range -1...1) as 16-bit PCM.
    mutating func append(_ samples: [Float]) {
        let capacity = storage.count
        let accepted = min(samples.count, capacity - count)
        dropped += samples.count - accepted
        var tail = (head + count) % capacity
        for index in 0..<accepted {
            storage[tail] = PCM16.sample(samples[index])
            tail += 1
            if tail == capacity { tail = 0 }
        }
        count += accepted
    }

    /// Moves the oldest `frame.count` samples into `frame`, padding with silence when fewer
    /// are queued (nothing is playing then).
    mutating func pop(into frame: UnsafeMutableBufferPointer<Int16>) {
        let capacity = storage.count
        let taken = min(frame.count, count)
        for index in 0..<taken {
            frame[index] = storage[head]
            head += 1
            if head == capacity { head = 0 }
        }
        for index in taken..<frame.count { frame[index] = 0 }
        count -= taken
    }

    /// Forgets everything queued.
    mutating func removeAll() {
        head = 0
        count = 0
    }
}
