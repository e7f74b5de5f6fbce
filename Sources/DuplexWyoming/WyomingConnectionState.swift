import DuplexCore
import Foundation

/// What a connection's lane handles, in order: the client's events and the engine's answers.
enum WyomingConnectionInput: Sendable {
    /// An event from the client.
    case client(WyomingEvent)
    /// The voice asked for took effect.
    case voiceReady
    /// The voice asked for could not be used.
    case voiceFailed(DuplexError)
    /// The reply in progress ended after `frames` frames; the lane answers `audio-stop` (so the
    /// connection is idle before the client can see the end and send its next request).
    case replyEnded(frames: Int)
    /// The server is shutting down: finish the request in progress, then close.
    case drain
}

/// The voice a request asks for (`voice: {name, language, speaker}`).
struct WyomingVoiceRequest: Sendable, Hashable {
    var name: String?
    var language: String?

    init(name: String? = nil, language: String? = nil) {
        self.name = name
        self.language = language
    }

    init(data: [String: JSONValue]) {
        let voice = data["voice"]?.object ?? [:]
        name = voice["name"]?.string.flatMap { $0.isEmpty ? nil : $0 }
        language = voice["language"]?.string.flatMap { $0.isEmpty ? nil : $0 }
    }
}

/// One connection's protocol state: at most one request at a time.
///
/// ```
/// idle ──synthesize──▶ synthesizing(awaitingVoice) ──voiceReady──▶ synthesizing(speaking) ──replyEnded──▶ idle
/// idle ──synthesize-start──▶ streaming ──synthesize-stop──▶ synthesizing(streamed) ──replyEnded──▶ idle (synthesize-stopped)
/// idle ──transcribe / audio-start──▶ transcribing ──audio-stop──▶ idle (transcript)
/// ```
///
/// Each transition returns the actions the connection performs; the machine itself does no
/// I/O (it converts received audio, which is pure computation).
struct WyomingConnectionState {
    enum Phase {
        case idle
        /// A `synthesize`, or a stream whose text is complete: waiting for its reply to end.
        case synthesizing(streamed: Bool, SynthesisStep)
        /// Between `synthesize-start` and `synthesize-stop`.
        case streaming(voice: VoiceStep, buffered: String, spoke: Bool)
        /// A transcription receiving audio.
        case transcribing(Transcription)
        case closed
    }

    enum SynthesisStep {
        /// The voice is being selected; `text` is spoken once it is ready.
        case awaitingVoice(text: String)
        /// The engine is speaking.
        case speaking
    }

    enum VoiceStep {
        case awaiting, ready, failed
    }

    /// A transcription in progress.
    struct Transcription {
        var language: String?
        var converter: PCMConverter?
        var samples: [Float] = []
        /// Audio beyond the limit was dropped (reported once).
        var overflowed = false
        /// The audio format was refused: chunks are dropped until `audio-stop`.
        var rejected = false
    }

    /// What the connection does.
    enum Action {
        case send(WyomingEvent)
        case sendError(DuplexError)
        /// Answer `describe` with `info`.
        case describe
        /// Ask the engine for a voice (its answer comes back as `voiceReady` / `voiceFailed`).
        case selectVoice(WyomingVoiceRequest)
        /// Text for the engine's reply.
        case speak(String, isFinal: Bool)
        /// Decode the audio and answer with the transcript events.
        case transcribe([Float], language: String?)
        /// Close the connection.
        case close
    }

    /// Whether speech recognition is available.
    let canTranscribe: Bool
    /// The recognizer's model name (`transcribe.name` must match it when given).
    let recognizerName: String
    /// Most samples (16 kHz) one transcription keeps.
    let maxSamples: Int
    private(set) var phase = Phase.idle
    private var draining = false

    init(canTranscribe: Bool, recognizerName: String, maxAudioSeconds: Int) {
        self.canTranscribe = canTranscribe
        self.recognizerName = recognizerName
        maxSamples = maxAudioSeconds * 16_000
    }

    var isIdle: Bool {
        if case .idle = phase { return true }
        return false
    }

    mutating func handle(_ input: WyomingConnectionInput) -> [Action] {
        var actions: [Action]
        switch input {
        case .client(let event): actions = client(event)
        case .voiceReady: actions = voiceReady()
        case .voiceFailed(let error): actions = voiceFailed(error)
        case .replyEnded(let frames): actions = replyEnded(frames: frames)
        case .drain:
            draining = true
            actions = []
        }
        if draining, isIdle {
            phase = .closed
            actions.append(.close)
        }
        return actions
    }

    // MARK: Client events

    private mutating func client(_ event: WyomingEvent) -> [Action] {
        switch event.type {
        case "describe":
            return [.describe]
        case "ping":
            return [.send(WyomingEvent("pong", data: ["text": event.data["text"] ?? .null]))]
        case "synthesize":
            return synthesize(event)
        case "synthesize-start", "synthesize-chunk", "synthesize-stop":
            return stream(event)
        case "transcribe", "audio-start", "audio-chunk", "audio-stop":
            return audio(event)
        default:
            // Wyoming peers drop events they do not know (newer clients rely on it).
            return []
        }
    }

    private mutating func synthesize(_ event: WyomingEvent) -> [Action] {
        switch phase {
        case .streaming, .synthesizing(streamed: true, _):
            // Streaming clients also send the whole text as `synthesize` for servers without
            // streaming; this server streams, so that copy is ignored.
            return []
        case .idle:
            guard let text = event.data["text"]?.string else {
                return [.sendError(DuplexError(.invalidMessage, "synthesize needs a string \"text\"."))]
            }
            phase = .synthesizing(streamed: false, .awaitingVoice(text: text))
            return [.selectVoice(WyomingVoiceRequest(data: event.data))]
        default:
            return [.sendError(busy("synthesize"))]
        }
    }

    private mutating func stream(_ event: WyomingEvent) -> [Action] {
        switch (event.type, phase) {
        case ("synthesize-start", .idle):
            phase = .streaming(voice: .awaiting, buffered: "", spoke: false)
            return [.selectVoice(WyomingVoiceRequest(data: event.data))]
        case ("synthesize-chunk", .streaming(let voice, let buffered, let spoke)):
            guard let text = event.data["text"]?.string else {
                return [.sendError(DuplexError(.invalidMessage, "synthesize-chunk needs a string \"text\"."))]
            }
            switch voice {
            case .awaiting:
                phase = .streaming(voice: voice, buffered: buffered + text, spoke: spoke)
                return []
            case .ready:
                phase = .streaming(voice: voice, buffered: "", spoke: true)
                return [.speak(text, isFinal: false)]
            case .failed:
                return []
            }
        case ("synthesize-stop", .streaming(let voice, let buffered, let spoke)):
            switch voice {
            case .failed:
                phase = .idle
                return [.send(WyomingEvent("synthesize-stopped"))]
            case .awaiting:
                phase = .synthesizing(streamed: true, .awaitingVoice(text: buffered))
                return []
            case .ready:
                guard spoke else { return finishWithoutSpeech(streamed: true) }
                phase = .synthesizing(streamed: true, .speaking)
                return [.speak("", isFinal: true)]
            }
        case ("synthesize-start", _):
            return [.sendError(busy("synthesize-start"))]
        default:
            return [.sendError(DuplexError(.invalidState, "\(event.type) without synthesize-start; it was ignored."))]
        }
    }

    private mutating func audio(_ event: WyomingEvent) -> [Action] {
        switch (event.type, phase) {
        case ("transcribe", .idle):
            guard canTranscribe else {
                return [.sendError(DuplexError(.invalidState, "This server has no speech recognition loaded (see `duplex doctor`)."))]
            }
            if let name = event.data["name"]?.string, !name.isEmpty, name != recognizerName {
                return [.sendError(DuplexError(.unknownModel, "No speech recognition model '\(name)'; this server has '\(recognizerName)'."))]
            }
            phase = .transcribing(Transcription(language: event.data["language"]?.string))
            return []
        case ("transcribe", _):
            return [.sendError(busy("transcribe"))]
        case ("audio-start", .idle):
            // `transcribe` is optional before the audio, as with other Wyoming ASR servers.
            guard canTranscribe else { return [] }
            phase = .transcribing(Transcription())
            return audio(event)
        case ("audio-start", .transcribing(var transcription)):
            transcription.rejected = false
            do throws(DuplexError) {
                transcription.converter = try PCMConverter(format: WyomingAudioFormat(data: event.data))
                phase = .transcribing(transcription)
                return []
            } catch {
                transcription.rejected = true
                phase = .transcribing(transcription)
                return [.sendError(error)]
            }
        case ("audio-chunk", .transcribing(var transcription)):
            guard !transcription.rejected else { return [] }
            var actions: [Action] = []
            do throws(DuplexError) {
                let format = event.data["rate"] == nil ? transcription.converter?.format : try WyomingAudioFormat(data: event.data)
                guard let format else { throw DuplexError(.invalidAudio, "audio-chunk without a format and no audio-start before it.") }
                if transcription.converter?.format != format {
                    transcription.converter?.finish(into: &transcription.samples)
                    transcription.converter = try PCMConverter(format: format)
                }
                if transcription.samples.count < maxSamples {
                    transcription.converter?.convert(event.payload, into: &transcription.samples)
                }
                if transcription.samples.count > maxSamples {
                    transcription.samples.removeLast(transcription.samples.count - maxSamples)
                    if !transcription.overflowed {
                        transcription.overflowed = true
                        actions.append(.sendError(DuplexError(
                            .invalidAudio,
                            "Audio longer than \(maxSamples / 16_000) s (wyoming.max_audio_seconds); the rest is not transcribed.")))
                    }
                }
            } catch {
                transcription.rejected = true
                actions.append(.sendError(error))
            }
            phase = .transcribing(transcription)
            return actions
        case ("audio-stop", .transcribing(var transcription)):
            phase = .idle
            guard !transcription.rejected else { return [] }
            transcription.converter?.finish(into: &transcription.samples)
            // The resampler's tail may pass the cap by a few samples.
            if transcription.samples.count > maxSamples { transcription.samples.removeLast(transcription.samples.count - maxSamples) }
            return [.transcribe(transcription.samples, language: transcription.language)]
        default:
            // Audio outside a transcription (a satellite's microphone stream, say) is dropped.
            return []
        }
    }

    // MARK: Engine answers

    private mutating func voiceReady() -> [Action] {
        switch phase {
        case .synthesizing(let streamed, .awaitingVoice(let text)):
            guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return finishWithoutSpeech(streamed: streamed) }
            phase = .synthesizing(streamed: streamed, .speaking)
            return [.speak(text, isFinal: true)]
        case .streaming(.awaiting, let buffered, _):
            guard !buffered.isEmpty else {
                phase = .streaming(voice: .ready, buffered: "", spoke: false)
                return []
            }
            phase = .streaming(voice: .ready, buffered: "", spoke: true)
            return [.speak(buffered, isFinal: false)]
        default:
            return []
        }
    }

    private mutating func voiceFailed(_ error: DuplexError) -> [Action] {
        switch phase {
        case .synthesizing(let streamed, .awaitingVoice):
            phase = .idle
            return [.sendError(error)] + (streamed ? [.send(WyomingEvent("synthesize-stopped"))] : [])
        case .streaming(.awaiting, _, _):
            phase = .streaming(voice: .failed, buffered: "", spoke: false)
            return [.sendError(error)]
        default:
            return [.sendError(error)]
        }
    }

    private mutating func replyEnded(frames: Int) -> [Action] {
        let stop = Action.send(WyomingEvent("audio-stop", data: ["timestamp": .int(frames * OutputFormat.frameMilliseconds)]))
        guard case .synthesizing(let streamed, .speaking) = phase else { return [stop] }
        phase = .idle
        return streamed ? [stop, .send(WyomingEvent("synthesize-stopped"))] : [stop]
    }

    /// Nothing to say: the answer a client waits for, without the engine.
    private mutating func finishWithoutSpeech(streamed: Bool) -> [Action] {
        phase = .idle
        if streamed { return [.send(WyomingEvent("synthesize-stopped"))] }
        return [
            .send(WyomingEvent("audio-start", data: WyomingAudioFormat.output.data)),
            .send(WyomingEvent("audio-stop")),
        ]
    }

    private func busy(_ type: String) -> DuplexError {
        DuplexError(.invalidState, "\(type) while another request is in progress on this connection; send one request at a time.")
    }
}
