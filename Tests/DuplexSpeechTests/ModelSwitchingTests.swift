import DuplexClient
import DuplexConfig
import DuplexCore
import DuplexEngine
import DuplexOrchestrator
import DuplexProto
import DuplexTesting
import Foundation
import Logging
import Testing

/// Two real voices (Piper and espeak) on a real `duplex worker` process over loopback gRPC:
/// load, speak with each, switch mid-session from a WebSocket client, unload, and watch the
/// memory figures move.
@Suite(.serialized) struct ModelSwitchingTests {
    private func models(_ worker: WorkerConnection) async throws -> [String: Duplex_Tts_V1_ModelInfo] {
        let list = try await worker.call { client, options in try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options) }
        return Dictionary(uniqueKeysWithValues: list.models.map { ($0.modelID, $0) })
    }

    private func residentMemory(_ worker: WorkerConnection) async throws -> Double {
        let capabilities = try await worker.call { client, options in
            try await client.getCapabilities(Duplex_Tts_V1_GetCapabilitiesRequest(), options: options)
        }
        return capabilities.metrics["resident_models_memory_bytes"] ?? -1
    }

    @Test func loadSpeakSwitchMidSessionAndUnloadOverRealGRPC() async throws {
        let process = try WorkerProcess(
            adapters: "piper,espeak", defaultModel: "espeak-en-us", voicepacks: TestAssets.voicepacks, cacheDirectory: SpeechModels.cache)
        defer { process.terminate() }
        let control = try WorkerConnection(address: WorkerAddress(parsing: process.address), timeout: .seconds(60))
        let logger = Logger(label: "test")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await control.run() }
            defer { control.shutdown() }
            try await TestServer.with(TestServer.configuration(workers: [process.address])) { server in
                // The worker starts with only its default model resident.
                let initial = try await models(control)
                #expect(initial["espeak-en-us"]?.isLoaded == true)
                #expect(initial["piper-en-us-joe"]?.isLoaded == false)
                let memoryBefore = try await residentMemory(control)

                try await DuplexConnection.connect(url: server.webSocketURL, logger: logger) { connection in
                    let start = try await connection.next(type: "session_start")
                    #expect(start.json?["model_id"] as? String == "espeak-en-us")

                    // A long espeak reply; mid-reply, switch to Piper (not resident yet).
                    let sent = ContinuousClock.now
                    try await connection.send(json: [
                        "type": "text", "is_final": true,
                        "text": "This reply is spoken by espeak while the Piper voice loads in the background, and it goes on for a while.",
                    ])
                    _ = try await connection.next(type: "tts_start")
                    try await connection.send(json: ["type": "start", "model_id": "piper-en-us-joe"])
                    var states: [String] = []
                    var sessionModel: String?
                    var replyEnded = false
                    while sessionModel == nil || !replyEnded {
                        guard let message = try await connection.next() else { break }
                        switch message.type {
                        case "model_status": states.append(message.json?["state"] as? String ?? "?")
                        case "session_start": sessionModel = message.json?["model_id"] as? String
                        case "tts_end":
                            #expect(message.json?["reason"] as? String == "completed")
                            replyEnded = true
                        default: break
                        }
                    }
                    #expect(states == ["loading", "ready"])
                    #expect(sessionModel == "piper-en-us-joe")
                    #expect(sent.duration(to: .now) < .seconds(60))

                    // The next reply is Piper's.
                    let piperReply = try await connection.speak("Now the neural voice is speaking.")
                    #expect(piperReply.reason == "completed")
                    #expect(piperReply.frameSizes.count > 50)

                    // Both resident; Piper's memory is accounted for.
                    let loaded = try await models(control)
                    #expect(loaded["piper-en-us-joe"]?.isLoaded == true)
                    let piperMemory = Double(loaded["piper-en-us-joe"]?.metadata["memory_bytes"] ?? "") ?? 0
                    #expect(piperMemory > 50_000_000)  // the 63 MB model file at least
                    let memoryWithPiper = try await residentMemory(control)
                    #expect(memoryWithPiper >= memoryBefore + piperMemory - 1)

                    // Piper is in use by this session: unloading it is refused with the reason.
                    var unload = Duplex_Tts_V1_UnloadModelRequest()
                    unload.modelID = "piper-en-us-joe"
                    do {
                        _ = try await control.call { [unload] client, options in try await client.unloadModel(unload, options: options) }
                        Issue.record("unloading a model in use must fail")
                    } catch {
                        #expect((error as? DuplexError)?.code == .modelInUse)
                    }

                    // Switch back to espeak (resident: immediate), then Piper can go.
                    try await connection.send(json: ["type": "start", "model_id": "espeak-en-us"])
                    let ready = try await connection.next(type: "model_status")
                    #expect(ready.json?["state"] as? String == "ready")
                    let back = try await connection.next(type: "session_start")
                    #expect(back.json?["model_id"] as? String == "espeak-en-us")
                    _ = try await control.call { [unload] client, options in try await client.unloadModel(unload, options: options) }
                    let unloaded = try await models(control)
                    #expect(unloaded["piper-en-us-joe"]?.isLoaded == false)
                    let memoryAfter = try await residentMemory(control)
                    #expect(memoryAfter < memoryWithPiper - 50_000_000)
                    let espeakReply = try await connection.speak("Back to espeak.")
                    #expect(espeakReply.reason == "completed")

                    // An unknown model is refused at once and the session keeps its model.
                    try await connection.send(json: ["type": "start", "model_id": "no-such-voice"])
                    let error = try await connection.next(type: "error")
                    #expect(error.json?["code"] as? String == "UNKNOWN_MODEL")
                }
            }
        }
    }
}
