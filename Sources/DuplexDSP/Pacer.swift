/// Schedules frame emission on a monotonic clock at real-time pace, without drift.
///
/// Frame *n* of a run is due at `anchor + (n − lead) × interval`: the first `lead` frames
/// go out at once (to fill the client's jitter buffer), then one per interval. Deadlines
/// are absolute, so scheduling error never accumulates. When the producer falls behind
/// (an underrun) or playback resumes after a pause, call ``reanchor()``: the schedule then
/// restarts from the next frame with a fresh lead.
///
/// **Late frames**: a listener that started playing at the anchor plays frame *n* at
/// `anchor + n × interval`, i.e. `lead` intervals after its deadline. A frame handed out later
/// than that arrives after the listener's buffer ran dry (an audible gap): the pacer counts it
/// in ``lateFrames`` (and its lateness in ``maxLateness``) and restarts the schedule.
public struct Pacer<C: Clock>: Sendable where C.Duration == Duration {
    /// The clock deadlines are computed on.
    public let clock: C
    /// Time between frames.
    public let interval: Duration
    /// Frames sent ahead of real time at the start of a run.
    public let lead: Int
    private var anchor: C.Instant?
    private var framesSinceAnchor = 0
    /// Frames handed out after the listener's buffer ran dry.
    public private(set) var lateFrames = 0
    /// The worst lateness of a late frame (past the moment it had to play).
    public private(set) var maxLateness: Duration = .zero

    /// Creates a pacer.
    public init(clock: C, interval: Duration, lead: Int) {
        precondition(lead >= 0)
        self.clock = clock
        self.interval = interval
        self.lead = lead
    }

    /// Returns the deadline of the next frame, given the current time, and advances.
    /// If the next frame is already late by more than the lead, the schedule restarts at `now`.
    public mutating func nextDeadline(now: C.Instant) -> C.Instant {
        if anchor == nil {
            anchor = now
            framesSinceAnchor = 0
        }
        var deadline = anchor!.advanced(by: interval * (framesSinceAnchor - lead))
        let playsAt = deadline.advanced(by: interval * max(lead, 1))
        if now > playsAt {
            lateFrames += 1
            maxLateness = max(maxLateness, playsAt.duration(to: now))
            anchor = now
            framesSinceAnchor = 0
            deadline = now.advanced(by: interval * -lead)
        }
        framesSinceAnchor += 1
        return deadline
    }

    /// Sleeps until the next frame is due.
    public mutating func waitForNextFrame() async throws {
        let deadline = nextDeadline(now: clock.now)
        if deadline > clock.now {
            try await clock.sleep(until: deadline, tolerance: nil)
        }
    }

    /// Restarts the schedule at the next frame (after a pause or an underrun).
    public mutating func reanchor() {
        anchor = nil
    }
}
