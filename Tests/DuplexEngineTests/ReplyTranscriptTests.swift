import DuplexConfig
import DuplexCore
import DuplexProto
import Foundation
import GRPCCore
import Testing

@testable import DuplexEngine

/// Mapping audio back to text, with the worker's announcements (ABI v1.1) and without.
@Suite struct ReplyTranscriptTests {
    static let text = "Alpha one. Bravo two. Charlie three."

    @Test func announcedSegmentsGiveTheHeardTextAndTheResumePoint() {
        var transcript = ReplyTranscript()
        transcript.appendInput(Self.text, isFinal: true)
        for _ in 0..<40 { transcript.frameSent(segment: 0, announced: .init(text: "Alpha one.", range: 0..<10)) }
        transcript.frameSent(segment: 1, announced: .init(text: "Bravo two.", range: 11..<21))
        #expect(transcript.framesSent == 41)
        #expect(transcript.heardText == "Alpha one.…")
        let resume = transcript.beginResume()
        #expect(resume == .init(text: "Bravo two. Charlie three.", segment: 1, heardFrames: 1))
        #expect(transcript.framesSent == 40)
    }

    @Test func withoutAnnouncementsTheWorkersSegmentationIsRedoneFromThePiecesSent() {
        var transcript = ReplyTranscript()
        for piece in ["Alpha one. Bra", "vo two. Charlie ", "three."] { transcript.appendInput(piece, isFinal: false) }
        transcript.inputEnded()
        for segment in [0, 0, 1, 1, 2] { transcript.frameSent(segment: segment, announced: nil) }
        #expect(transcript.played.map(\.text) == ["Alpha one.", "Bravo two.", "Charlie three."])
        let resume = transcript.beginResume()
        #expect(resume == .init(text: "Charlie three.", segment: 2, heardFrames: 1))
    }

    @Test func afterAResumeTheNextWorkersOffsetsAreRelativeToItsInput() {
        var transcript = ReplyTranscript()
        transcript.appendInput(Self.text, isFinal: true)
        transcript.frameSent(segment: 0, announced: .init(text: "Alpha one.", range: 0..<10))
        transcript.frameSent(segment: 1, announced: .init(text: "Bravo two.", range: 11..<21))
        let first = transcript.beginResume()
        #expect(first.text == "Bravo two. Charlie three.")
        // The next worker's input is the resume text: its segment 1 starts at its offset 11.
        transcript.frameSent(segment: 0, announced: .init(text: "Bravo two.", range: 0..<10))
        transcript.frameSent(segment: 1, announced: .init(text: "Charlie three.", range: 11..<25))
        #expect(transcript.replySegment(1) == 1 + 1)
        let second = transcript.beginResume()
        #expect(second == .init(text: "Charlie three.", segment: 2, heardFrames: 1))
    }

    @Test func offsetsCountUnicodeScalarsSoEmojiAndAccentsDoNotShiftThem() {
        var segmenter = TextSegmenter()
        let input = "Café 👍🏽 is open. Come in."
        let segments = segmenter.appendSegments(input) + segmenter.flushSegments()
        let scalars = Array(input.unicodeScalars)
        for segment in segments {
            let text = String(String.UnicodeScalarView(scalars[segment.range]))
            #expect(text == segment.text)
        }
    }
}
