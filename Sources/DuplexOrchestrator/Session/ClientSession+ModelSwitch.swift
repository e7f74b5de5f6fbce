import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import HummingbirdWebSocket
import Logging
import Metrics
import NIOCore

/// Runtime model switching (`start` with another `model_id`).
extension ClientSession {
    /// Switches the session to another model without holding up the conversation: an unknown
    /// model is refused at once; a resident one is bound at once; otherwise the worker loads
    /// it in the background (`model_status` `loading`, then `ready` or `failed`), the current
    /// reply carries on with the old model and the next reply uses the new one.
    func switchModel(to model: String, on worker: WorkerConnection) async {
        let listing: Duplex_Tts_V1_ListModelsResponse
        do {
            listing = try await worker.call { client, options in
                try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
            }
        } catch {
            await send(.error(error))
            return
        }
        guard let info = listing.models.first(where: { $0.modelID == model }) else {
            // Another registered worker has it: the session moves there.
            if pool.catalogsContain(model) {
                state.withLock { s in
                    s.requestedModel = model
                    s.workerSessionOpen = false
                }
                do {
                    try await openWorkerSession(excluding: [worker.address])
                    await send(.modelStatus(modelID: model, state: "ready", message: "on worker \(state.withLock { $0.worker?.address ?? "" })"))
                } catch {
                    await send(.modelStatus(modelID: model, state: "failed", message: error.message))
                    await send(.error(error))
                }
                await sendSessionStart()
                return
            }
            let known = listing.models.map(\.modelID).sorted().joined(separator: ", ")
            await send(.error(DuplexError(.unknownModel, "No model '\(model)' on this worker; installed: \(known).")))
            return
        }
        if info.isLoaded {
            state.withLock { $0.requestedModel = model }
            do {
                try await openWorkerSession()
                await send(.modelStatus(modelID: model, state: "ready", message: nil))
            } catch {
                await send(.modelStatus(modelID: model, state: "failed", message: error.message))
                await send(.error(error))
            }
            await sendSessionStart()
            return
        }
        await send(.modelStatus(modelID: model, state: "loading", message: "The current reply continues with \(state.withLock { $0.modelID }); the next one uses \(model)."))
        let task = Task { [self] in
            var request = Duplex_Tts_V1_LoadModelRequest()
            request.modelID = model
            request.preloadOnly = true
            do {
                let loaded = try await worker.call(timeout: .seconds(120)) { [request] client, options in
                    try await client.loadModel(request, options: options)
                }
                guard !Task.isCancelled else { return }
                state.withLock { $0.requestedModel = model }
                try await openWorkerSession()
                await send(.modelStatus(modelID: model, state: "ready", message: "loaded in \(loaded.loadDurationMs) ms"))
                await sendSessionStart()
            } catch {
                guard !Task.isCancelled else { return }
                let failure = (error as? DuplexError) ?? DuplexError(.modelLoadFailed, "\(error)")
                await send(.modelStatus(modelID: model, state: "failed", message: failure.message))
                await send(.error(failure))
            }
        }
        let previous = state.withLock { s in
            defer { s.switchTask = task }
            return s.switchTask
        }
        previous?.cancel()
    }
}
