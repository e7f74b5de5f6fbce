import DuplexCore
import DuplexSherpa

/// One piece of a transcribed recording: speech between pauses, with its times.
public struct TranscriptSegment: Sendable, Equatable {
    /// Start of the speech, seconds from the beginning of the recording.
    public var start: Double
    /// End of the speech, seconds.
    public var end: Double
    /// What was said.
    public var text: String

    /// Creates a segment.
    public init(start: Double, end: Double, text: String) {
        self.start = start
        self.end = end
        self.text = text
    }
}

/// Transcribes whole recordings (uploads), as opposed to a live microphone.
public protocol FileTranscriber: Sendable {
    /// Whether the recognizer is English-only (Whisper `*.en`).
    var isEnglishOnly: Bool { get }
    /// Splits 16 kHz mono audio at its pauses and transcribes each piece, in order, as soon
    /// as it is decoded (so a client can stream the text). Pieces are at most ~25 s, so
    /// any length works in Whisper's 30 s window.
    func transcribeSegments(_ samples: [Float]) -> AsyncThrowingStream<TranscriptSegment, any Error>
}

extension SpeechServices: FileTranscriber {
    public var isEnglishOnly: Bool {
        let name = recognizer.modelDirectory.split(separator: "/").last.map(String.init) ?? ""
        return name.hasSuffix(".en") || name.contains(".en-") || name.contains("-en")
    }

    /// Silero over the recording in 10 s pieces (each a short job on the shared VAD executor,
    /// so live sessions' windows are never queued behind a long file), then one Whisper
    /// decode per speech segment on the shared ASR executor (a live turn waits for at most
    /// one segment).
    public func transcribeSegments(_ samples: [Float]) -> AsyncThrowingStream<TranscriptSegment, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: TranscriptSegment.self)
        let services = self
        // Owned by the returned stream, which cancels it when its consumer stops listening
        // (onTermination below); it ends on its own once the last piece is decoded.
        let task = Task {
            do {
                var parameters = services.vadParameters
                parameters.minSilenceMs = 400
                parameters.maxSpeechSeconds = 25
                let vad = try VoiceActivityDetector(model: services.vadModel, parameters: parameters)
                let piece = 10 * VoiceActivityDetector.sampleRate
                var offset = 0
                while offset < samples.count || offset == 0 {
                    try Task.checkCancellation()
                    let end = min(samples.count, offset + piece)
                    let chunk = Array(samples[offset..<end])
                    let last = end >= samples.count
                    let events = try await services.vadExecutor.run { vad.accept(chunk) + (last ? vad.flush() : []) }
                    for case .speechEnded(let start, let stop, let audio) in events where audio.count > VoiceActivityDetector.sampleRate / 10 {
                        let text = try await services.asrExecutor.run { services.recognizer.transcribe(audio).text }
                        guard !text.isEmpty else { continue }
                        continuation.yield(TranscriptSegment(start: start, end: stop, text: text))
                    }
                    offset = end
                    if last { break }
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }
}
