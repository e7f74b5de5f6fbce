import DuplexCodecs
import DuplexConfig
import DuplexEngine
import Foundation
import Testing

@testable import DuplexOrchestrator

/// The OpenAI audio API's request parsing and transcript formats, without a server.
@Suite struct OpenAIRequestParsingTests {
    @Test func multipartFieldsAndFilesAreParsedAndMalformedBodiesRefused() throws {
        let body = Data(
            ("--xyz\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper-1\r\n"
                + "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n").utf8)
            + Data([0, 1, 2, 13, 10, 45, 45, 255]) + Data("\r\n--xyz--\r\n".utf8)
        #expect(MultipartForm.boundary(contentType: "multipart/form-data; boundary=\"xyz\"") == "xyz")
        #expect(MultipartForm.boundary(contentType: "application/json") == nil)
        let form = try MultipartForm.parse(body, boundary: "xyz")
        #expect(form.text("model") == "whisper-1")
        let file = try #require(form.part("file"))
        #expect(file.filename == "a.wav" && file.contentType == "audio/wav")
        #expect(file.data == Data([0, 1, 2, 13, 10, 45, 45, 255]))  // CRLF and dashes inside the file survive
        for bad in ["", "--xyz\r\nno blank line", "--xyz\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated",
                    "--xyz\r\nContent-Type: text/plain\r\n\r\nx\r\n--xyz--"] {
            #expect(throws: MultipartForm.Malformed.self, "\(bad)") { try MultipartForm.parse(Data(bad.utf8), boundary: "xyz") }
        }
    }

    @Test func speechRequestsAreValidatedFieldByField() throws {
        let limits = OpenAISection()
        func parse(_ json: String) -> Result<SpeechRequest, OpenAIError> {
            Result { () throws(OpenAIError) in try SpeechRequest.parse(Data(json.utf8), limits: limits) }
        }
        let ok = try parse(#"{"model":"tts-1","input":"Hi.","voice":"alloy","speed":1,"stream_format":"sse"}"#).get()
        #expect(ok.format == .mp3 && ok.speed == 1 && ok.sse)  // speed 1 is a number, not a boolean
        #expect(try parse(#"{"model":"tts-1","input":"Hi.","voice":"alloy","speed":4}"#).get().workerSpeed == 2)
        func code(_ json: String) -> String? {
            if case .failure(let error) = parse(json) { return "\(error.code)/\(error.param ?? "-")" }
            return nil
        }
        #expect(code(#"{"model":"tts-1","input":"Hi.","voice":"alloy","speed":true}"#) == "invalid_type/speed")
        #expect(code(#"{"model":"tts-1","input":"Hi.","voice":"alloy","speed":0.1}"#) == "invalid_value/speed")
        #expect(code(#"{"model":"tts-1","input":"Hi.","voice":"alloy","response_format":"aac"}"#) == "unsupported_format/response_format")
        #expect(code(#"{"model":"tts-1","voice":"alloy"}"#) == "missing_required_parameter/input")
        #expect(code(#"{"model":"tts-1","input":7,"voice":"alloy"}"#) == "invalid_type/input")
        #expect(code(#"[1,2]"#) == "invalid_json/-")
        #expect(code(#"{"model":"tts-1","input":"Hi.","voice":"alloy","stream_format":"chunks"}"#) == "invalid_value/stream_format")
    }

    @Test func transcriptFormatsCarryTheSegmentsTimes() {
        let segments = [
            TranscriptSegment(start: 0.25, end: 2.5, text: "Hello there."),
            TranscriptSegment(start: 3661.0, end: 3662.125, text: "An hour later."),
        ]
        #expect(TranscriptFormatter.text(segments) == "Hello there. An hour later.")
        #expect(TranscriptFormatter.srt(segments) == "1\n00:00:00,250 --> 00:00:02,500\nHello there.\n\n2\n01:01:01,000 --> 01:01:02,125\nAn hour later.\n")
        #expect(TranscriptFormatter.vtt(segments).hasPrefix("WEBVTT\n\n00:00:00.250 --> 00:00:02.500\nHello there.\n"))
        let verbose = TranscriptFormatter.verboseJSON(segments, duration: 3663, language: "english")
        #expect((verbose["segments"] as? [[String: Any]])?.count == 2)
        #expect(verbose["duration"] as? Double == 3663)
    }
}
