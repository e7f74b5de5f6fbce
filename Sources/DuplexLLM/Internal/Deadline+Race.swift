/// The outcome of an operation raced against a deadline.
enum RaceOutcome<Value: Sendable>: Sendable {
    case value(Value)
    case timedOut
}

/// Runs `operation` as a child task until `deadline`: its value when it finishes first, or
/// `.timedOut` (after cancelling it and waiting for it to end) when the deadline comes first.
/// Errors of `operation`, and cancellation of the calling task, are rethrown.
func race<Value: Sendable>(
    until deadline: ContinuousClock.Instant,
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> RaceOutcome<Value> {
    try await withThrowingTaskGroup(of: RaceOutcome<Value>.self) { group in
        group.addTask { .value(try await operation()) }
        group.addTask {
            try await Task.sleep(until: deadline, clock: .continuous)
            return .timedOut
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { return .timedOut }
        return first
    }
}
