import DuplexCore
import DuplexTesting
import Foundation
import Testing

/// The Python worker SDK against the Swift reference: the same segmentation.
@Suite struct PythonSDKTests {
    /// Texts and how they arrive (pieces), as LLM tokens or whole messages would.
    static let cases: [[String]] = [
        ["Hello there. How are you today? I am fine, thanks."],
        ["The quick brown fox jumps over the lazy dog, and then it runs back home before dark."],
        ["Dr. Smith met J. Doe at 5 p.m. near St. Mary's", " church. They talked."],
        ["Well", ", ", "I", " think", " so", ". But", " maybe", " not", "!"],
        ["First line\nsecond line\n\nthird line without a stop"],
        ["A very long sentence that just keeps going and going without any punctuation at all because the writer forgot ",
         "where the full stops are and kept adding words like these ones until it is far longer than thirty words in total"],
        ["Café au lait, crème brûlée… and naïve résumés. Ça va?"],
        ["Emoji 👍🏽 here, and a flag 🇺🇸 there. Done."],
        ["«Quoted», she said. (Parenthetical.) \"Closing.\" Next"],
        ["日本語の文です。次の文。", "最後"],
        ["   ", "...", " Leading spaces and trailing punctuation ", "!!!"],
    ]

    @Test func thePythonSegmenterCutsExactlyAsTheSwiftOne() async throws {
        var swift: [[[String: Any]]] = []
        for pieces in Self.cases {
            var segmenter = TextSegmenter()
            var segments: [TextSegmenter.Segment] = []
            for piece in pieces { segments += segmenter.appendSegments(piece) }
            segments += segmenter.flushSegments()
            swift.append(segments.map { ["text": $0.text, "start": $0.range.lowerBound, "end": $0.range.upperBound] })
        }
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("segmenter-cases-\(UUID().uuidString).json")
        try JSONSerialization.data(withJSONObject: Self.cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        let script = """
            import json, sys
            sys.path.insert(0, sys.argv[2])
            from duplex_worker.text.segmenter import TextSegmenter
            out = []
            for pieces in json.load(open(sys.argv[1])):
                s = TextSegmenter()
                segs = []
                for p in pieces:
                    segs += s.append(p)
                segs += s.flush()
                out.append([{"text": g.text, "start": g.start, "end": g.end} for g in segs])
            print(json.dumps(out))
            """
        let run = try await ProgramRun.run(PythonWorkerProcess.python, ["-c", script, input.path, PythonWorkerProcess.sdk])
        try #require(run.status == 0, "\(run.errors)")
        let python = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [[[String: Any]]])
        #expect(python.count == swift.count)
        for (index, (ours, theirs)) in zip(swift, python).enumerated() {
            let a = ours.map { "\($0["text"] ?? "")@\($0["start"] ?? "")-\($0["end"] ?? "")" }
            let b = theirs.map { "\($0["text"] ?? "")@\($0["start"] ?? "")-\($0["end"] ?? "")" }
            #expect(a == b, "case \(index) \(Self.cases[index])")
        }
    }
}
