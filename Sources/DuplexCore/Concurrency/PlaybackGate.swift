import Synchronization

/// The PAUSE / RESUME / STOP state of one synthesis, shared by the emitter (which waits
/// on it before every frame) and the `Control` RPC (which flips it).
///
/// A state machine guarded by a `Mutex`: `running ⇄ paused → stopped`; `stopped` is final.
public final class PlaybackGate: Sendable {
    /// What the emitter should do next.
    public enum Passage: Sendable, Equatable {
        /// Emit the frame.
        case proceed
        /// Emit the frame; playback was paused in between (re-anchor pacing).
        case resumed
        /// Stop: end the synthesis.
        case stopped
    }

    private enum State {
        case running
        case paused([CheckedContinuation<Passage, Never>])
        case stopped
    }

    private let state = Mutex<State>(.running)
    /// Tasks waiting in ``waitForStop()``, by id (nil once stopped).
    private let stopWaiters = Mutex<[UInt64: CheckedContinuation<Void, Never>]?>([:])
    private let nextWaiter = Atomic<UInt64>(0)

    /// Creates a running gate.
    public init() {}

    /// Whether playback is paused.
    public var isPaused: Bool {
        state.withLock { if case .paused = $0 { return true } else { return false } }
    }

    /// Whether the synthesis was stopped.
    public var isStopped: Bool {
        state.withLock { if case .stopped = $0 { return true } else { return false } }
    }

    /// Pauses playback. Returns false if already stopped.
    @discardableResult
    public func pause() -> Bool {
        state.withLock { s in
            switch s {
            case .running: s = .paused([]); return true
            case .paused: return true
            case .stopped: return false
            }
        }
    }

    /// Resumes playback. Returns false if already stopped.
    @discardableResult
    public func resume() -> Bool {
        let waiters: [CheckedContinuation<Passage, Never>]? = state.withLock { s in
            switch s {
            case .running: return []
            case .paused(let waiters): s = .running; return waiters
            case .stopped: return nil
            }
        }
        waiters?.forEach { $0.resume(returning: .resumed) }
        return waiters != nil
    }

    /// Stops the synthesis for good.
    public func stop() {
        let waiters: [CheckedContinuation<Passage, Never>] = state.withLock { s in
            defer { s = .stopped }
            if case .paused(let waiters) = s { return waiters }
            return []
        }
        waiters.forEach { $0.resume(returning: .stopped) }
        let stopped = stopWaiters.withLock { all in
            defer { all = nil }
            return all.map { Array($0.values) } ?? []
        }
        stopped.forEach { $0.resume() }
    }

    /// Returns once the gate is stopped, or when the calling task is cancelled.
    public func waitForStop() async {
        let id = nextWaiter.add(1, ordering: .relaxed).newValue
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let registered = stopWaiters.withLock { all -> Bool in
                    guard all != nil, !Task.isCancelled else { return false }
                    all![id] = continuation
                    return true
                }
                if !registered { continuation.resume() }
            }
        } onCancel: {
            let waiter = stopWaiters.withLock { all in all?.removeValue(forKey: id) }
            waiter?.resume()
        }
    }

    /// Returns at once while running; waits while paused. Task cancellation counts as stop.
    public func pass() async -> Passage {
        if let immediate = state.withLock({ s -> Passage? in
            switch s {
            case .running: return .proceed
            case .stopped: return .stopped
            case .paused: return nil
            }
        }) {
            return immediate
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Passage, Never>) in
                let immediate: Passage? = state.withLock { s in
                    switch s {
                    case .running: return .resumed
                    case .stopped: return .stopped
                    case .paused(var waiters):
                        if Task.isCancelled { return .stopped }
                        waiters.append(continuation)
                        s = .paused(waiters)
                        return nil
                    }
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            self.stop()
        }
    }
}
