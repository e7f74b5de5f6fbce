import DuplexCodecs
import DuplexConfig
import DuplexCore
import DuplexDSP
import DuplexEngine
import DuplexSecurity
import Foundation
import Hummingbird
import Logging
import NIOCore

/// The OpenAI audio API over the engine and the worker pool:
/// `POST /v1/audio/speech`, `GET /v1/audio/voices`, `POST /v1/audio/transcriptions`.
/// Errors answer in OpenAI's shape (``OpenAIError``). See docs/OPENAI_AUDIO.md.
struct OpenAIAudioRoutes: Sendable {
    /// OpenAI's PCM (and every other format's) sample rate.
    static let outputRate = 24_000

    /// The rate a format is encoded from: Opus codes at 48 kHz internally, so the engine's
    /// 48 kHz frames go to it as they are (no resampler delay before the first packet, no
    /// resampling cost); every other format is 24 kHz, as OpenAI's.
    static func encodingRate(_ format: AudioFormat) -> Int {
        format == .opus ? 48_000 : outputRate
    }
    /// Largest `/v1/audio/speech` body (the input limit is in characters; this bounds the JSON).
    static let maxSpeechBodyBytes = 256 << 10

    let settings: OpenAISection
    let catalog: VoiceCatalog
    let synthesis: SpeechSynthesis
    let transcriber: (any FileTranscriber)?
    /// Every protocol's sessions: a speech request is one while it speaks.
    let sessions: SessionCounter
    let maxSessions: Int
    /// Who each request comes from (its key's quota).
    let access: AccessControl
    /// The per-key budgets.
    let quotas: QuotaBook
    /// Decodes and resamples uploads (seconds of CPU for a long file: never on the event loop
    /// or the cooperative pool).
    let decoder = BlockingExecutor(name: "upload-decode", threads: 1, queueCapacity: 16)
    let logger: Logger

    func register(on router: Router<some RequestContext>) {
        router.post("/v1/audio/speech") { request, _ in await speech(request) }
        router.get("/v1/audio/voices") { _, _ in await voices() }
        router.post("/v1/audio/transcriptions") { request, _ in await transcriptions(request) }
    }

    /// The quota of the request's key (the access middleware already admitted it).
    func quota(of request: Request) async -> KeyQuota {
        let principal = try? await access.authenticate(
            authorization: request.headers[.authorization], queryToken: request.uri.queryParameters.get("token"))
        return quotas.quota(for: (principal ?? .open).account)
    }

    // MARK: Speech

    func speech(_ request: Request) async -> Response {
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: Self.maxSpeechBodyBytes)
        } catch {
            return OpenAIError(
                status: .contentTooLarge, type: "invalid_request_error", param: nil, code: "request_too_large",
                message: "The request body exceeds \(Self.maxSpeechBodyBytes) bytes.").response
        }
        let speech: SpeechRequest
        let modelID: String?
        do throws(OpenAIError) {
            speech = try SpeechRequest.parse(Data(body.readableBytesView), limits: settings)
            modelID = try await catalog.resolve(voice: speech.voice, model: speech.model)
        } catch {
            return error.response
        }
        let synthesis = self.synthesis
        let logger = self.logger
        let sessions = self.sessions
        // Checked here, counted while the body streams (a body Hummingbird never starts, for a
        // client gone before the head was written, must not leave a count behind).
        guard sessions.current < maxSessions else {
            return OpenAIError(DuplexError(.sessionLimit, "The server already has \(maxSessions) sessions (limits.max_sessions); try again later.")).response
        }
        // The key's budget: a session while it speaks, and reply audio left.
        let lease: QuotaLease
        do throws(DuplexError) {
            lease = try quotas.openSession(for: await quota(of: request).key)
        } catch {
            return OpenAIError(error).response
        }
        if let refusal = lease.quota.admitAudioOut() {
            lease.close()
            return OpenAIError(refusal).response
        }
        let contentType = speech.sse ? "text/event-stream" : speech.format.contentType
        return Response(
            status: .ok,
            headers: [.contentType: contentType, .accessControlAllowOrigin: "*", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                _ = sessions.enter()
                defer {
                    sessions.leave()
                    lease.close()
                }
                try await Self.stream(speech, modelID: modelID, synthesis: synthesis, quota: lease.quota, to: &writer, logger: logger)
            })
    }

    /// Synthesizes and writes the response body as the audio is made: each burst of frames
    /// is resampled to 24 kHz, encoded and written as soon as nothing else is waiting.
    static func stream(
        _ speech: SpeechRequest, modelID: String?, synthesis: SpeechSynthesis, quota: KeyQuota? = nil, to writer: inout any ResponseBodyWriter,
        logger: Logger
    ) async throws {
        let chunks = AsyncBoundedQueue<SpeechSynthesis.Chunk>(capacity: 16)
        let rate = encodingRate(speech.format)
        var encoder = try AudioEncoders.make(speech.format, sampleRate: rate)
        let resampler = try Resampler(from: 48_000, to: rate)
        var pending: [UInt8] = []
        var samples: [Float] = []
        var resampled: [Float] = []
        var pcm: [Int16] = []

        func emit(_ bytes: [UInt8], to writer: inout any ResponseBodyWriter) async throws {
            guard !bytes.isEmpty else { return }
            do {
                if speech.sse {
                    try await writer.write(OpenAIJSON.sse(["type": "speech.audio.delta", "audio": Data(bytes).base64EncodedString()]))
                } else {
                    try await writer.write(ByteBuffer(bytes: bytes))
                }
            } catch {
                throw ClientGone(cause: error)
            }
        }
        func encode(_ floats: [Float], into pending: inout [UInt8]) throws(DuplexError) {
            pcm.removeAll(keepingCapacity: true)
            for sample in floats { pcm.append(Int16(max(-32768, min(32767, (sample * 32768).rounded())))) }
            pending += try pcm.withUnsafeBufferPointer { buffer throws(DuplexError) in try encoder.encode(buffer) }
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await synthesis.run(text: speech.input, modelID: modelID, speed: speech.workerSpeed, quota: quota, into: chunks) }
            do {
                while let chunk = try await chunks.next() {
                    switch chunk {
                    case .frame(let frame):
                        samples.removeAll(keepingCapacity: true)
                        frame.withUnsafeBytes { raw in
                            for sample in raw.bindMemory(to: Int16.self) { samples.append(Float(Int16(littleEndian: sample)) / 32768) }
                        }
                        resampled.removeAll(keepingCapacity: true)
                        resampler.process(samples, into: &resampled)
                        try encode(resampled, into: &pending)
                        // Write when nothing else is queued (the first bytes leave at once) or a lot piled up.
                        if chunks.count == 0 || pending.count >= 32 << 10 {
                            try await emit(pending, to: &writer)
                            pending.removeAll(keepingCapacity: true)
                        }
                    case .failed(let error):
                        throw error
                    }
                }
                try encode(resampler.flush(), into: &pending)
                pending += try encoder.finish()
                try await emit(pending, to: &writer)
                if speech.sse {
                    let inputTokens = max(1, speech.input.utf8.count / 4)
                    try await writer.write(OpenAIJSON.sse([
                        "type": "speech.audio.done",
                        "usage": ["input_tokens": inputTokens, "output_tokens": 0, "total_tokens": inputTokens],
                    ]))
                }
            } catch let gone as ClientGone {
                chunks.finish()  // ends the session
                logger.debug("speech client gone", metadata: ["error.message": "\(gone.cause)"])
                throw gone
            } catch {
                chunks.finish()  // ends the session if it is still speaking
                let failure = DuplexError.wrap(error, as: .synthesisFailed, "Speech failed.")
                logger.warning("speech failed", metadata: ["error.code": "\(failure.code)", "error.message": "\(failure.message)"])
                if speech.sse { try? await writer.write(OpenAIJSON.sse(["type": "error"].merging(OpenAIError(failure).body) { a, _ in a })) }
                // Raw audio: the connection closes without the final chunk, so the client sees a truncated body.
                if !speech.sse { throw failure }
            }
            try await group.waitForAll()
        }
        try await writer.finish(nil)
    }

    /// The client stopped reading (closed the connection): not a synthesis failure.
    struct ClientGone: Error {
        var cause: any Error
    }

    // MARK: Voices

    func voices() async -> Response {
        do {
            let listing = try await catalog.listing()
            var openAIVoices: [String: String] = [:]
            for name in OpenAISection.openAIVoices { openAIVoices[name] = settings.voiceMap[name] ?? listing.defaultModelID }
            return OpenAIJSON.response([
                "object": "list",
                "voices": listing.voices.map { voice -> [String: Any] in
                    [
                        "id": voice.id, "name": voice.displayName, "languages": voice.languages, "family": voice.family,
                        "is_loaded": voice.isLoaded,
                    ]
                },
                "default_voice": listing.defaultModelID,
                "openai_voices": openAIVoices,
            ])
        } catch {
            return OpenAIError(error).response
        }
    }

    // MARK: Transcriptions

    func transcriptions(_ request: Request) async -> Response {
        guard let transcriber else {
            return OpenAIError(
                status: .serviceUnavailable, type: "server_error", param: nil, code: "asr_unavailable",
                message: "Speech recognition is not available on this server: install the models (scripts/install-models.sh) and restart."
            ).response
        }
        let tooLarge = OpenAIError(
            status: .contentTooLarge, type: "invalid_request_error", param: "file", code: "file_too_large",
            message: "The upload exceeds \(settings.maxUploadBytes) bytes (openai.max_upload_bytes).")
        // Refused before the body is read when the client announced its size.
        if let length = request.headers[.contentLength].flatMap({ Int($0) }), length > settings.maxUploadBytes {
            return tooLarge.response
        }
        guard let boundary = request.headers[.contentType].flatMap({ MultipartForm.boundary(contentType: $0) }) else {
            return OpenAIError.invalid("The body must be multipart/form-data with a boundary.", param: nil, code: "invalid_content_type").response
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: settings.maxUploadBytes + 64 << 10)
        } catch {
            return tooLarge.response
        }
        let form: TranscriptionRequest
        do {
            form = try TranscriptionRequest(try MultipartForm.parse(Data(body.readableBytesView), boundary: boundary))
        } catch let error as OpenAIError {
            return error.response
        } catch {
            return OpenAIError.invalid("The multipart body is malformed: \((error as? MultipartForm.Malformed)?.reason ?? "\(error)").", param: nil, code: "invalid_multipart").response
        }
        if let language = form.language, language != "en", transcriber.isEnglishOnly {
            return OpenAIError.invalid(
                "The server's Whisper model is English-only; language '\(language)' cannot be transcribed (omit it or use 'en').",
                param: "language", code: "unsupported_language").response
        }
        // The key's budget: a session while it transcribes, audio input left (the upload's
        // length is charged once decoded).
        let lease: QuotaLease
        do throws(DuplexError) {
            lease = try quotas.openSession(for: await quota(of: request).key)
            if let refusal = lease.quota.admitAudioIn() {
                lease.close()
                throw refusal
            }
        } catch {
            return OpenAIError(error).response
        }
        defer { if !form.stream { lease.close() } }
        let audio: (samples: [Float], duration: Double)
        do {
            let maxSeconds = Double(settings.maxAudioSeconds)
            audio = try await decoder.run { () throws -> ([Float], Double) in
                let decoded = try AudioFileDecoder.decode(form.file, maxSeconds: maxSeconds)
                return (try decoded.whisperSamples(), decoded.duration)
            }
        } catch {
            let failure = DuplexError.wrap(error, as: .invalidAudio, "The file could not be decoded.")
            return OpenAIError(failure, param: "file").response
        }
        lease.quota.chargeAudioIn(seconds: audio.duration)
        let segments = transcriber.transcribeSegments(audio.samples)
        let language = form.language ?? "english"
        if form.stream {
            return Response(
                status: .ok, headers: [.contentType: "text/event-stream", .accessControlAllowOrigin: "*", .cacheControl: "no-cache"],
                body: ResponseBody { writer in
                    defer { lease.close() }
                    var texts: [String] = []
                    do {
                        for try await segment in segments {
                            texts.append(segment.text)
                            let delta = (texts.count > 1 ? " " : "") + segment.text
                            try await writer.write(OpenAIJSON.sse(["type": "transcript.text.delta", "delta": delta]))
                        }
                        try await writer.write(OpenAIJSON.sse(["type": "transcript.text.done", "text": texts.joined(separator: " ")]))
                    } catch {
                        let failure = DuplexError.wrap(error, as: .internal, "Transcription failed.")
                        try? await writer.write(OpenAIJSON.sse(["type": "error"].merging(OpenAIError(failure).body) { a, _ in a }))
                    }
                    try await writer.finish(nil)
                })
        }
        var collected: [TranscriptSegment] = []
        do {
            for try await segment in segments { collected.append(segment) }
        } catch {
            return OpenAIError(DuplexError.wrap(error, as: .internal, "Transcription failed.")).response
        }
        switch form.format {
        case .json: return OpenAIJSON.response(TranscriptFormatter.json(collected))
        case .verboseJSON: return OpenAIJSON.response(TranscriptFormatter.verboseJSON(collected, duration: audio.duration, language: language))
        case .text: return Self.plain(TranscriptFormatter.text(collected) + "\n", type: "text/plain; charset=utf-8")
        case .srt: return Self.plain(TranscriptFormatter.srt(collected), type: "application/x-subrip; charset=utf-8")
        case .vtt: return Self.plain(TranscriptFormatter.vtt(collected), type: "text/vtt; charset=utf-8")
        }
    }

    static func plain(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .accessControlAllowOrigin: "*"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
