import DuplexCore
import DuplexProto
import Synchronization

/// A synthesis a control command can address.
struct SynthesisTarget: Sendable {
    /// The worker running it.
    var worker: WorkerConnection
    /// The worker session.
    var sessionID: String
    /// The synthesis id (ABI v1.1; a v1.0 worker ignores it and acts on the session's
    /// current synthesis).
    var synthesisID: String
}

/// The worker-side PAUSE / RESUME / STOP of the session's current synthesis, delivered in
/// order by the control lane, never on the receive path.
///
/// The mailbox keeps the state the worker should be in (running, paused, stopped) and the
/// state it was last told; the lane sends one command at a time until the two agree. So a
/// burst of commands (or a worker that is frozen while the client keeps pressing buttons)
/// never queues without bound: only the net change is sent, and commands for a synthesis
/// that was replaced are dropped (the replaced one was cancelled by its player).
final class ControlMailbox: Sendable {
    /// What the worker should be doing with the synthesis.
    enum RunState: Sendable, Equatable {
        case running, paused, stopped
    }

    private struct State {
        var target: SynthesisTarget?
        var desired = RunState.running
        var told = RunState.running
        var waiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())

    /// A new synthesis started (it runs, or must be paused at once if its reply is held).
    func retarget(_ target: SynthesisTarget, paused: Bool) {
        update { s in
            s.target = target
            s.told = .running
            s.desired = paused ? .paused : .running
        }
    }

    /// The client (or a barge-in) wants the synthesis `synthesisID` to pause, resume or stop.
    func request(_ command: PlaybackCommand, for synthesisID: String) {
        update { s in
            guard let target = s.target, target.synthesisID == synthesisID, s.desired != .stopped else { return }
            switch command {
            case .pause: s.desired = .paused
            case .resume: s.desired = .running
            case .stop: s.desired = .stopped
            }
        }
    }

    /// The next command to send, waiting until there is one; nil once closed or cancelled.
    func next() async -> (SynthesisTarget, PlaybackCommand)? {
        while true {
            let due: (SynthesisTarget, PlaybackCommand)?? = state.withLock { s in
                if s.closed || Task.isCancelled { return .some(nil) }
                guard let target = s.target, s.desired != s.told else { return .none }
                let command: PlaybackCommand =
                    switch s.desired {
                    case .running: .resume
                    case .paused: .pause
                    case .stopped: .stop
                    }
                s.told = s.desired
                return .some((target, command))
            }
            if let due { return due }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let wake = state.withLock { s -> Bool in
                        if s.closed || Task.isCancelled || (s.target != nil && s.desired != s.told) { return true }
                        s.waiter = continuation
                        return false
                    }
                    if wake { continuation.resume() }
                }
            } onCancel: {
                close()
            }
        }
    }

    /// Ends the mailbox: ``next()`` returns nil.
    func close() {
        update { $0.closed = true }
    }

    private func update(_ body: (inout State) -> Void) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            body(&s)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }
}
