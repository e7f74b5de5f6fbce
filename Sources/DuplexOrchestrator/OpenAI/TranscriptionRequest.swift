import DuplexEngine
import Foundation

/// A validated `POST /v1/audio/transcriptions` form.
struct TranscriptionRequest: Sendable {
    /// How the transcript is returned.
    enum ResponseFormat: String, Sendable, CaseIterable {
        case json, text, srt, vtt
        case verboseJSON = "verbose_json"
    }

    /// The uploaded recording.
    var file: Data
    /// Its file name, when the client gave one.
    var filename: String?
    /// OpenAI's `model` (`whisper-1`, …): accepted, the server's Whisper answers.
    var model: String
    /// ISO-639-1 language, when given.
    var language: String?
    /// How to answer.
    var format: ResponseFormat
    /// Server-sent `transcript.text.delta` / `transcript.text.done` events.
    var stream: Bool

    /// Reads and validates the form.
    /// - Throws: ``OpenAIError`` (400) naming the field.
    init(_ form: MultipartForm) throws(OpenAIError) {
        guard let file = form.part("file"), !file.data.isEmpty else {
            throw .invalid("'file' is required: upload the recording as a multipart file field.", param: "file", code: "missing_required_parameter")
        }
        self.file = file.data
        filename = file.filename
        model = form.text("model") ?? ""
        guard !model.isEmpty else { throw .invalid("'model' is required (e.g. whisper-1).", param: "model", code: "missing_required_parameter") }
        let language = form.text("language")?.trimmingCharacters(in: .whitespaces).lowercased()
        self.language = language?.isEmpty == true ? nil : language
        let formatName = form.text("response_format") ?? "json"
        guard let format = ResponseFormat(rawValue: formatName) else {
            throw .invalid(
                "response_format '\(formatName)' is not one of \(ResponseFormat.allCases.map(\.rawValue).joined(separator: ", ")).",
                param: "response_format")
        }
        self.format = format
        switch form.text("stream")?.lowercased() {
        case nil, "false", "0": stream = false
        case "true", "1": stream = true
        case let other?: throw .invalid("'stream' must be true or false (got '\(other)').", param: "stream")
        }
        if let temperature = form.text("temperature") {
            guard let value = Double(temperature), (0...1).contains(value) else {
                throw .invalid("'temperature' must be a number from 0 to 1.", param: "temperature")
            }
        }
    }
}

/// The transcript in each response format.
enum TranscriptFormatter {
    static func text(_ segments: [TranscriptSegment]) -> String {
        segments.map(\.text).joined(separator: " ")
    }

    static func json(_ segments: [TranscriptSegment]) -> [String: Any] {
        ["text": text(segments)]
    }

    static func verboseJSON(_ segments: [TranscriptSegment], duration: Double, language: String) -> [String: Any] {
        [
            "task": "transcribe", "language": language, "duration": rounded(duration), "text": text(segments),
            "segments": segments.enumerated().map { index, segment -> [String: Any] in
                [
                    "id": index, "seek": 0, "start": rounded(segment.start), "end": rounded(segment.end), "text": " " + segment.text,
                    "tokens": [Int](), "temperature": 0.0, "avg_logprob": 0.0, "compression_ratio": 0.0, "no_speech_prob": 0.0,
                ]
            },
        ]
    }

    static func srt(_ segments: [TranscriptSegment]) -> String {
        segments.enumerated().map { index, segment in
            "\(index + 1)\n\(timestamp(segment.start, separator: ",")) --> \(timestamp(segment.end, separator: ","))\n\(segment.text)\n"
        }.joined(separator: "\n")
    }

    static func vtt(_ segments: [TranscriptSegment]) -> String {
        "WEBVTT\n\n" + segments.map { segment in
            "\(timestamp(segment.start, separator: ".")) --> \(timestamp(segment.end, separator: "."))\n\(segment.text)\n"
        }.joined(separator: "\n")
    }

    /// `HH:MM:SS,mmm` (SRT) or `HH:MM:SS.mmm` (WebVTT).
    static func timestamp(_ seconds: Double, separator: String) -> String {
        let total = Int((max(0, seconds) * 1000).rounded())
        let ms = total % 1000, s = total / 1000 % 60, m = total / 60_000 % 60, h = total / 3_600_000
        func pad(_ value: Int, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(h, 2)):\(pad(m, 2)):\(pad(s, 2))\(separator)\(pad(ms, 3))"
    }

    private static func rounded(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}
