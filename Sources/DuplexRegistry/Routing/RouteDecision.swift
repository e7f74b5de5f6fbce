/// The worker a session goes to, and whether its model must be loaded first.
public struct RouteDecision: Sendable, Hashable {
    /// The chosen worker.
    public var worker: WorkerRecord
    /// Whether the requested model is already loaded on ``worker``; `true` when the request named
    /// no model (the worker's default serves it).
    public var modelResident: Bool
    /// Whether the requested model is resident on no eligible worker, so ``worker`` (the best one
    /// by the strategy) should load it.
    public var loadSuggested: Bool

    /// Creates a decision.
    public init(worker: WorkerRecord, modelResident: Bool, loadSuggested: Bool) {
        self.worker = worker
        self.modelResident = modelResident
        self.loadSuggested = loadSuggested
    }
}
