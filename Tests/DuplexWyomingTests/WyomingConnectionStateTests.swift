import DuplexConfig
import DuplexCore
import Testing

@testable import DuplexWyoming

/// The per-connection state machine, driven event by event.
@Suite struct WyomingConnectionStateTests {
    static func machine() -> WyomingConnectionState {
        WyomingConnectionState(canTranscribe: true, recognizerName: "whisper-tiny.en", maxAudioSeconds: 1)
    }

    static func describe(_ actions: [WyomingConnectionState.Action]) -> [String] {
        actions.map { action in
            switch action {
            case .send(let event): "send \(event.type)"
            case .sendError(let error): "error \(error.code)"
            case .describe: "describe"
            case .selectVoice(let voice): "voice \(voice.name ?? voice.language ?? "default")"
            case .speak(let text, let isFinal): "speak \(text)\(isFinal ? " (final)" : "")"
            case .transcribe(let samples, _): "transcribe \(samples.count)"
            case .close: "close"
            }
        }
    }

    @Test func aSynthesisWaitsForItsVoiceThenForItsReply() {
        var state = Self.machine()
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize", data: ["text": "Hi.", "voice": ["name": "joe"]])))) == ["voice joe"])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize", data: ["text": "Again."])))) == ["error INVALID_STATE"])
        #expect(Self.describe(state.handle(.client(WyomingEvent("describe")))) == ["describe"])
        #expect(Self.describe(state.handle(.voiceReady)) == ["speak Hi. (final)"])
        #expect(Self.describe(state.handle(.replyEnded(frames: 3))) == ["send audio-stop"])
        #expect(state.isIdle)
        // An unknown voice: the error, and back to idle.
        _ = state.handle(.client(WyomingEvent("synthesize", data: ["text": "Hi.", "voice": ["name": "nobody"]])))
        #expect(Self.describe(state.handle(.voiceFailed(DuplexError(.unknownModel, "no")))) == ["error UNKNOWN_MODEL"])
        #expect(state.isIdle)
        // Nothing to say: an empty audio stream without the engine.
        _ = state.handle(.client(WyomingEvent("synthesize", data: ["text": "  "])))
        #expect(Self.describe(state.handle(.voiceReady)) == ["send audio-start", "send audio-stop"])
    }

    @Test func streamingBuffersTextUntilTheVoiceIsReadyAndIgnoresTheCompatibilityCopy() {
        var state = Self.machine()
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-start")))) == ["voice default"])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-chunk", data: ["text": "One, "])))) == [])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-chunk", data: ["text": "two. "])))) == [])
        #expect(Self.describe(state.handle(.voiceReady)) == ["speak One, two. "])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-chunk", data: ["text": "Three."])))) == ["speak Three."])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize", data: ["text": "One, two. Three."])))) == [])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-stop")))) == ["speak  (final)"])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize", data: ["text": "One, two. Three."])))) == [])
        #expect(Self.describe(state.handle(.replyEnded(frames: 3))) == ["send audio-stop", "send synthesize-stopped"])
        #expect(state.isIdle)
        // A stream whose voice failed still ends with synthesize-stopped.
        _ = state.handle(.client(WyomingEvent("synthesize-start", data: ["voice": ["name": "nobody"]])))
        #expect(Self.describe(state.handle(.voiceFailed(DuplexError(.unknownModel, "no")))) == ["error UNKNOWN_MODEL"])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-chunk", data: ["text": "lost"])))) == [])
        #expect(Self.describe(state.handle(.client(WyomingEvent("synthesize-stop")))) == ["send synthesize-stopped"])
    }

    @Test func transcriptionConvertsBuffersCapsAndRefusesBadFormats() {
        var state = Self.machine()
        #expect(Self.describe(state.handle(.client(WyomingEvent("transcribe", data: ["name": "whisper-large"])))) == ["error UNKNOWN_MODEL"])
        _ = state.handle(.client(WyomingEvent("transcribe", data: ["language": "en"])))
        // 8 kHz stereo s16: 0.5 s per chunk; the third passes the 1 s cap.
        let start = WyomingEvent("audio-start", data: ["rate": 8000, "width": 2, "channels": 2])
        #expect(Self.describe(state.handle(.client(start))) == [])
        let chunk = WyomingEvent("audio-chunk", data: ["rate": 8000, "width": 2, "channels": 2], payload: [UInt8](repeating: 1, count: 16_000))
        #expect(Self.describe(state.handle(.client(chunk))) == [])
        #expect(Self.describe(state.handle(.client(chunk))) == [])
        #expect(Self.describe(state.handle(.client(chunk))) == ["error INVALID_AUDIO"])
        #expect(Self.describe(state.handle(.client(chunk))) == [])
        let stop = Self.describe(state.handle(.client(WyomingEvent("audio-stop"))))
        #expect(stop == ["transcribe 16000"])
        // A bad format: one error, the audio dropped, no transcript.
        _ = state.handle(.client(WyomingEvent("transcribe")))
        #expect(Self.describe(state.handle(.client(WyomingEvent("audio-start", data: ["rate": 16000, "width": 3, "channels": 1])))) == ["error INVALID_AUDIO"])
        #expect(Self.describe(state.handle(.client(chunk))) == [])
        #expect(Self.describe(state.handle(.client(WyomingEvent("audio-stop")))) == [])
        #expect(state.isIdle)
    }

    @Test func drainingClosesOnceTheRequestInProgressEnds() {
        var state = Self.machine()
        _ = state.handle(.client(WyomingEvent("synthesize", data: ["text": "Hi."])))
        #expect(Self.describe(state.handle(.drain)) == [])
        _ = state.handle(.voiceReady)
        #expect(Self.describe(state.handle(.replyEnded(frames: 3))) == ["send audio-stop", "close"])
        var idle = Self.machine()
        #expect(Self.describe(idle.handle(.drain)) == ["close"])
    }

    @Test func theWyomingSectionLoadsFromTheEnvironment() throws {
        let config = try ConfigurationLoader.load(
            file: nil, environment: ["DUPLEX_WYOMING_ENABLED": "true", "DUPLEX_WYOMING_PORT": "10300", "DUPLEX_WYOMING_HOST": "0.0.0.0"])
        #expect(config.wyoming.enabled && config.wyoming.port == 10300 && config.wyoming.host == "0.0.0.0")
        #expect(DuplexConfiguration().wyoming.port == 10200 && !DuplexConfiguration().wyoming.enabled)
        #expect(throws: DuplexError.self) { _ = try ConfigurationLoader.load(file: nil, environment: ["DUPLEX_WYOMING_PORT": "70000"]) }
    }
}
