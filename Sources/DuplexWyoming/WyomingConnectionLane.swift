import DuplexCore
import DuplexEngine
import DuplexProto
import DuplexSherpa
import Foundation
import Logging

/// A connection's lane: runs its ``WyomingConnectionState`` over the client's events and the
/// engine's answers, one at a time, and performs the actions. Owned by one task.
struct WyomingConnectionLane: Sendable {
    let queue: AsyncBoundedQueue<WyomingConnectionInput>
    let context: WyomingServer.Context
    let writer: WyomingEventWriter
    let engine: AsyncStream<SessionInput>.Continuation
    let engineWanted: AsyncSignal
    let output: WyomingSpeechOutput
    let close: @Sendable () -> Void
    let logger: Logger

    func run() async {
        var state = WyomingConnectionState(
            canTranscribe: context.speech != nil, recognizerName: context.recognizer?.name ?? "",
            maxAudioSeconds: context.maxAudioSeconds)
        while let input = try? await queue.next() {
            var pending = state.handle(input)
            while !pending.isEmpty {
                let action = pending.removeFirst()
                // A voice that cannot be resolved here is answered without the engine.
                if let failure = await perform(action) { pending += state.handle(.voiceFailed(failure)) }
            }
            if case .closed = state.phase { return }
        }
    }

    /// Performs one action; returns an error when a voice could not even be asked for.
    private func perform(_ action: WyomingConnectionState.Action) async -> DuplexError? {
        switch action {
        case .send(let event):
            await writer.write(event)
        case .sendError(let error):
            await writer.write(error)
        case .describe:
            await writer.write(await describe())
        case .selectVoice(let request):
            let model: String?
            do throws(DuplexError) {
                model = try await resolve(request)
            } catch {
                return error
            }
            engineWanted.fire()
            output.expectVoice(model)
            engine.yield(.start(SessionOptions(modelID: model, mode: .tts, voiceOptions: ["pacing": "false"])))
        case .speak(let text, let isFinal):
            engine.yield(.text(text, isFinal: isFinal))
        case .transcribe(let samples, let language):
            await transcribe(samples, language: language)
        case .close:
            close()
        }
        return nil
    }

    // MARK: Describe

    private func describe() async -> WyomingEvent {
        var voices: [WyomingInfo.Voice] = []
        do throws(DuplexError) {
            voices = try await catalog().map(WyomingInfo.Voice.init)
        } catch {
            logger.warning("describe: no worker answered; listing no voices", metadata: ["error.message": "\(error.message)"])
        }
        return WyomingInfo.event(voices: voices, recognizer: context.recognizer)
    }

    private func catalog() async throws(DuplexError) -> [Duplex_Tts_V1_ModelInfo] {
        let worker = try context.pool.pick()
        return try await worker.call { client, options in
            try await client.listModels(Duplex_Tts_V1_ListModelsRequest(), options: options)
        }.models
    }

    // MARK: Voices

    /// The model a request's voice names: its `name`; else the first voice of its `language`
    /// (a loaded one first); else the engine's default voice.
    private func resolve(_ request: WyomingVoiceRequest) async throws(DuplexError) -> String? {
        if let name = request.name { return name }
        guard let language = request.language else { return output.defaultModel }
        func normalized(_ tag: String) -> String { tag.lowercased().replacingOccurrences(of: "_", with: "-") }
        let wanted = normalized(language)
        let models = try await catalog()
        let matching = models.filter { model in
            model.languages.contains { have in
                let have = normalized(have)
                return have == wanted || have.hasPrefix(wanted + "-") || wanted.hasPrefix(have + "-")
            }
        }
        guard let best = matching.first(where: \.isLoaded) ?? matching.sorted(by: { $0.modelID < $1.modelID }).first else {
            throw DuplexError(.unknownModel, "No voice speaks '\(language)'; send describe for the installed voices.")
        }
        return best.modelID
    }

    // MARK: Transcription

    /// Transcribes the audio as `/v1/audio/transcriptions` does (``FileTranscriber``: cut at
    /// its pauses, one Whisper decode per piece on the shared ASR executor), answering
    /// `transcript-start`, a `transcript-chunk` per piece with words, `transcript-stop`, then
    /// the whole `transcript`.
    private func transcribe(_ samples: [Float], language: String?) async {
        guard let speech = context.speech else { return }
        let started = ContinuousClock.now
        await writer.write(WyomingEvent("transcript-start", data: language.map { ["language": .string($0)] } ?? [:]))
        var texts: [String] = []
        do {
            for try await segment in speech.transcribeSegments(samples) {
                await writer.write(WyomingEvent("transcript-chunk", data: ["text": .string((texts.isEmpty ? "" : " ") + segment.text)]))
                texts.append(segment.text)
            }
        } catch {
            await writer.write(DuplexError.wrap(error, as: .internal, "Speech recognition failed."))
            return
        }
        await writer.write(WyomingEvent("transcript-stop"))
        var data: [String: JSONValue] = ["text": .string(texts.joined(separator: " "))]
        if let language { data["language"] = .string(language) }
        await writer.write(WyomingEvent("transcript", data: data))
        logger.debug("Wyoming transcription", metadata: [
            "audio.seconds": "\(Double(samples.count) / 16_000)", "asr.ms": "\(started.duration(to: .now).milliseconds)",
        ])
    }
}
