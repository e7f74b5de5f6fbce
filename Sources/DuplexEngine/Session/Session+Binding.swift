import DuplexConfig
import DuplexCore
import DuplexProto
import GRPCCore
import Logging
import Metrics
import Synchronization

/// Work for the binding lane.
enum BindingJob: Sendable {
    /// Open the first worker session and announce the session.
    case open
    /// Apply a `start` (re-bind with the new options, or switch models).
    case apply(model: String?)
    /// The player needs an open worker session.
    case ensure(AsyncPromise<Result<WorkerBinding, DuplexError>>)
    /// The player's worker failed mid-reply: move to another one (one pick, one reservation).
    case failover(from: WorkerBinding, excluding: Set<String>, AsyncPromise<Result<WorkerBinding, DuplexError>>)
    /// The player's worker failed and there is nowhere to move: forget it.
    case unbind(WorkerBinding)
    /// A background model load finished.
    case modelLoaded(model: String, loadMs: Int64, ticket: Int)
    /// A background model load failed.
    case modelLoadFailed(model: String, error: DuplexError, ticket: Int)
}

/// The binding lane: the only code that opens, re-binds, moves and closes the session's
/// worker session. Jobs run one at a time, in order; a model load runs as a child of the
/// lane (so replies and other `start`s go on meanwhile) and reports back as a job.
extension Session {
    func runBindingLane() async {
        await probe.tracking {
            await withDiscardingTaskGroup { group in
                var load: (ticket: Int, cancel: AsyncSignal)?
                var tickets = 0
                while let job = try? await bindingJobs.next() {
                    switch job {
                    case .open:
                        await rebind(to: nil)

                    case .apply(let model):
                        if let model, let bound = machine.withLock({ $0.binding.bound }), model != bound.modelID {
                            // A newer switch wins over a load still running.
                            load?.cancel.fire()
                            load = nil
                            if let started = await switchModel(to: model, from: bound, group: &group) {
                                tickets += 1
                                load = (tickets, started)
                                let ticket = tickets
                                group.addTask { await self.loadModel(model, on: bound.worker, ticket: ticket, cancel: started) }
                            }
                            continue
                        }
                        await rebind(to: model)

                    case .ensure(let promise):
                        if let bound = machine.withLock({ $0.binding.bound }) {
                            promise.fulfill(.success(bound))
                            continue
                        }
                        do throws(DuplexError) {
                            promise.fulfill(.success(try await open()))
                        } catch {
                            promise.fulfill(.failure(error))
                        }

                    case .failover(let from, let excluding, let promise):
                        promise.fulfill(await failover(from: from, excluding: excluding, group: &group))

                    case .unbind(let failed):
                        let forget = machine.withLock { m -> Bool in
                            guard let bound = m.binding.bound, bound.reservation === failed.reservation else { return false }
                            m.binding = .unbound
                            return true
                        }
                        if forget { failed.reservation.release() }

                    case .modelLoaded(let model, let loadMs, let ticket):
                        guard load?.ticket == ticket else { continue }
                        load = nil
                        await rebind(to: model, reportingSwitch: true, readyMessage: "loaded in \(loadMs) ms")

                    case .modelLoadFailed(let model, let error, let ticket):
                        guard load?.ticket == ticket else { continue }
                        load = nil
                        await output.write(.modelStatus(modelID: model, state: .failed, message: error.message))
                        await output.write(.error(error))
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// Opens or re-binds the worker session (with `model` when given) and answers with
    /// `session_start`. A model switch (`reportingSwitch`) also says `model_status` `ready`
    /// (with `readyMessage`) or `failed`.
    private func rebind(to model: String?, reportingSwitch: Bool = false, readyMessage: String? = nil) async {
        if let model { machine.withLock { $0.requestedModel = model } }
        do throws(DuplexError) {
            try await open()
            if let model, reportingSwitch { await output.write(.modelStatus(modelID: model, state: .ready, message: readyMessage)) }
        } catch {
            if let model, reportingSwitch { await output.write(.modelStatus(modelID: model, state: .failed, message: error.message)) }
            await output.write(.error(error))
        }
        await announceSession()
    }

    /// Sends `session_start` with the session's current settings.
    func announceSession() async {
        let description = machine.withLock { m in
            SessionDescription(
                sessionID: id, modelID: m.binding.bound?.modelID ?? m.lastModelID, mode: m.mode,
                worker: m.binding.bound?.worker.address ?? "")
        }
        await output.write(.sessionStarted(description))
    }

    // MARK: Opening

    /// Opens the worker session, or re-binds the open one with the current model and voice
    /// options (session affinity: it stays on its worker). A worker that refuses a new session
    /// because it is full or could not serve it in time (`SESSION_LIMIT`, `OVERLOADED`) is
    /// passed over for the next one the router ranks.
    /// When every worker refused with `OVERLOADED`, the first of them is asked again with
    /// `admission: force` (a late reply beats none).
    @discardableResult
    func open(excluding: Set<String> = []) async throws(DuplexError) -> WorkerBinding {
        var excluded = excluding
        var refusal: DuplexError?
        var overloaded: [String] = []
        var forcing: String?
        for _ in 0..<8 {
            var (bound, model, options) = machine.withLock { ($0.binding.bound, $0.requestedModel, $0.voiceOptions) }
            let reservation: WorkerReservation
            if let bound {
                reservation = bound.reservation
            } else {
                do throws(DuplexError) {
                    if let forcing {
                        reservation = try pool.reserve(modelID: model, language: options["language"], excluding: excluding, only: forcing)
                        options["admission"] = "force"
                    } else {
                        reservation = try pool.reserve(modelID: model, language: options["language"], excluding: excluded)
                    }
                } catch {
                    // Every worker left refused because it is busy: the first one serves anyway.
                    if forcing == nil, let first = overloaded.first {
                        forcing = first
                        continue
                    }
                    throw refusal ?? error
                }
                machine.withLock { $0.binding = .opening(reservation) }
            }
            do throws(DuplexError) {
                let binding = try await startWorkerSession(on: reservation, model: model, options: options)
                machine.withLock { m in
                    m.binding = .bound(binding)
                    m.lastModelID = binding.modelID
                }
                return binding
            } catch where error.code == .cancelled {
                // Teardown: the binding (opening or bound) is closed by `releaseWorker`.
                throw error
            } catch {
                if bound == nil {
                    reservation.release()
                    machine.withLock { $0.binding = .unbound }
                    if forcing == nil, error.code == .overloaded || error.code == .sessionLimit {
                        refusal = error
                        excluded.insert(reservation.worker.address)
                        if error.code == .overloaded { overloaded.append(reservation.worker.address) }
                        continue
                    }
                }
                if error.code == .unknownModel { machine.withLock { $0.requestedModel = $0.binding.bound?.modelID ?? "" } }
                throw error
            }
        }
        throw refusal ?? DuplexError(.workerUnavailable, "No worker accepted the session.")
    }

    /// `StartSession` on the reserved worker.
    private func startWorkerSession(on reservation: WorkerReservation, model: String, options: [String: String]) async throws(DuplexError) -> WorkerBinding {
        var request = Duplex_Tts_V1_StartSessionRequest()
        request.sessionID = id
        request.modelID = model
        request.options = options
        let worker = reservation.worker
        do throws(DuplexError) {
            let response = try await worker.call { [request] client, callOptions in try await client.startSession(request, options: callOptions) }
            pool.markHealthy(worker)
            return WorkerBinding(reservation: reservation, modelID: response.modelID)
        } catch {
            if error.code == .workerUnavailable { pool.markFailed(worker) }
            throw error
        }
    }

    // MARK: Failover

    /// Moves the session off a failed worker: one pick (a reservation) per candidate, and
    /// the worker announced to the client is the one whose session opened. Workers with the
    /// session's model come first; when none is left, another worker's default model takes
    /// over. The failed worker's session is ended off this path.
    private func failover(
        from: WorkerBinding, excluding: Set<String>, group: inout DiscardingTaskGroup
    ) async -> Result<WorkerBinding, DuplexError> {
        var excluded = excluding
        var lastError = DuplexError(.workerUnavailable, "No other worker is available.")
        let (model, options) = machine.withLock { ($0.requestedModel, $0.voiceOptions) }
        for _ in 0..<max(1, configuration.maxFailovers) {
            let reservation: WorkerReservation
            do throws(DuplexError) {
                reservation = try pool.reserve(modelID: model, language: options["language"], excluding: excluded)
            } catch {
                lastError = error
                break
            }
            machine.withLock { $0.binding = .failingOver(from: from, to: reservation) }
            do throws(DuplexError) {
                let binding: WorkerBinding
                do throws(DuplexError) {
                    binding = try await startWorkerSession(on: reservation, model: model, options: options)
                } catch where error.code == .unknownModel && !model.isEmpty {
                    // No live worker has the voice: the reply goes on in this worker's default
                    // voice rather than stopping (`worker_changed.model_id` says which).
                    binding = try await startWorkerSession(on: reservation, model: "", options: options)
                }
                machine.withLock { m in
                    m.binding = .bound(binding)
                    m.lastModelID = binding.modelID
                }
                from.reservation.release()
                endWorkerSessionLater(on: from.worker, group: &group)
                return .success(binding)
            } catch where error.code == .cancelled {
                return .failure(error)
            } catch {
                reservation.release()
                excluded.insert(reservation.worker.address)
                lastError = error
            }
        }
        machine.withLock { $0.binding = .unbound }
        from.reservation.release()
        endWorkerSessionLater(on: from.worker, group: &group)
        return .failure(lastError)
    }

    /// Ends a worker session in the background (a worker that just failed may never answer).
    private func endWorkerSessionLater(on worker: WorkerConnection, group: inout DiscardingTaskGroup) {
        let id = self.id
        let probe = self.probe
        group.addTask {
            await probe.tracking {
                await Self.endWorkerSession(id: id, on: worker)
            }
        }
    }

    /// Ends a worker session, even when the calling task was cancelled: this is teardown, and
    /// an adapter cancels the task running the session when its connection ends (the Wyoming
    /// server does). A call made from a cancelled task fails at once without reaching the
    /// worker, which would then keep the session, counted against its `max_sessions`, for
    /// good, so the next sessions are refused with `SESSION_LIMIT`. The call is bounded by the
    /// worker's unary timeout.
    static func endWorkerSession(id: String, on worker: WorkerConnection) async {
        var request = Duplex_Tts_V1_EndSessionRequest()
        request.sessionID = id
        // Unstructured so that it does not inherit the caller's cancellation; owned by this
        // function, which awaits it; never cancelled (the worker's unary timeout bounds it).
        let call = Task { [request] in
            _ = try? await worker.call { client, options in try await client.endSession(request, options: options) }
        }
        await call.value
    }

    // MARK: Model switching

    /// Switches to another model without holding up the conversation: an unknown model is
    /// refused at once; a resident one is bound at once; one that another worker has moves
    /// the session there; otherwise the worker loads it in the background (`model_status`
    /// `loading`, then `ready` or `failed`), the current reply carries on with the old model
    /// and the next reply uses the new one. Returns the load's cancel signal when a load
    /// must start.
    private func switchModel(to model: String, from bound: WorkerBinding, group: inout DiscardingTaskGroup) async -> AsyncSignal? {
        let listing: Duplex_Tts_V1_ListModelsResponse
        do throws(DuplexError) {
            listing = try await bound.worker.call { client, options in
                try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
            }
        } catch {
            await output.write(.error(error))
            return nil
        }
        guard let info = listing.models.first(where: { $0.modelID == model }) else {
            if pool.catalogsContain(model) {
                await move(to: model, from: bound, group: &group)
                return nil
            }
            let known = listing.models.map(\.modelID).sorted().joined(separator: ", ")
            await output.write(.error(DuplexError(.unknownModel, "No model '\(model)' on this worker; installed: \(known).")))
            return nil
        }
        if info.isLoaded {
            await rebind(to: model, reportingSwitch: true)
            return nil
        }
        await output.write(.modelStatus(
            modelID: model, state: .loading, message: "The current reply continues with \(bound.modelID); the next one uses \(model)."))
        return AsyncSignal()
    }

    /// Moves the session to another registered worker that has `model`; the old worker
    /// session ends once the new one is open (or stays if the move fails).
    private func move(to model: String, from bound: WorkerBinding, group: inout DiscardingTaskGroup) async {
        let options = machine.withLock { $0.voiceOptions }
        do throws(DuplexError) {
            let reservation = try pool.reserve(modelID: model, language: options["language"], excluding: [bound.worker.address])
            let binding: WorkerBinding
            do throws(DuplexError) {
                binding = try await startWorkerSession(on: reservation, model: model, options: options)
            } catch {
                reservation.release()
                throw error
            }
            machine.withLock { m in
                m.binding = .bound(binding)
                m.requestedModel = model
                m.lastModelID = binding.modelID
            }
            bound.reservation.release()
            endWorkerSessionLater(on: bound.worker, group: &group)
            await output.write(.modelStatus(modelID: model, state: .ready, message: "on worker \(binding.worker.address)"))
        } catch {
            await output.write(.modelStatus(modelID: model, state: .failed, message: error.message))
            await output.write(.error(error))
        }
        await announceSession()
    }

    /// Loads a model on the worker (a child of the binding lane), then reports to the lane.
    private func loadModel(_ model: String, on worker: WorkerConnection, ticket: Int, cancel: AsyncSignal) async {
        await probe.tracking {
            let outcome = await withCancellation(on: cancel) { () async -> Result<Int64, DuplexError> in
                var request = Duplex_Tts_V1_LoadModelRequest()
                request.modelID = model
                request.preloadOnly = true
                do throws(DuplexError) {
                    let loaded = try await worker.call(timeout: .seconds(120)) { [request] client, options in
                        try await client.loadModel(request, options: options)
                    }
                    return .success(loaded.loadDurationMs)
                } catch {
                    return .failure(error)
                }
            }
            guard !Task.isCancelled, let outcome else { return }
            switch outcome {
            case .success(let ms): try? await bindingJobs.send(.modelLoaded(model: model, loadMs: ms, ticket: ticket))
            case .failure(let error): try? await bindingJobs.send(.modelLoadFailed(model: model, error: error, ticket: ticket))
            }
        }
    }

    // MARK: Requests from the player

    /// Asks the binding lane for a binding; nil when the session is ending.
    func requestBinding(
        _ make: (AsyncPromise<Result<WorkerBinding, DuplexError>>) -> BindingJob
    ) async -> Result<WorkerBinding, DuplexError>? {
        let promise = AsyncPromise<Result<WorkerBinding, DuplexError>>()
        do {
            try await bindingJobs.send(make(promise))
        } catch {
            return nil
        }
        return await promise.value()
    }

    // MARK: Teardown

    /// Ends the worker session(s) the session holds and releases their reservations.
    func releaseWorker() async {
        let held: [WorkerReservation] = machine.withLock { m in
            defer { m.binding = .unbound }
            switch m.binding {
            case .unbound: return []
            case .opening(let reservation): return [reservation]
            case .bound(let binding): return [binding.reservation]
            case .failingOver(let from, let to): return [from.reservation, to]
            }
        }
        for reservation in held {
            reservation.release()
            await Self.endWorkerSession(id: id, on: reservation.worker)
        }
    }
}
