import DuplexCore
import Testing

@Suite struct TextSegmenterTests {
    @Test func firstClauseIsCutAtACommaForFastFirstAudio() {
        var s = TextSegmenter()
        #expect(s.append("Well then, I think that is right. And then") == ["Well then,", "I think that is right."])
        #expect(s.flush() == ["And then"])
    }

    @Test func sentencesNeedTrailingWhitespaceSoStreamingTokensAreNotCutEarly() {
        var s = TextSegmenter()
        var out: [String] = []
        for token in ["Hello", " there", ".", " How", " are", " you", "?"] { out += s.append(token) }
        #expect(out == ["Hello there."])
        #expect(s.flush() == ["How are you?"])
    }

    @Test func abbreviationsAndInitialsDoNotEndSentences() {
        var s = TextSegmenter(policy: .init(growingSegmentWords: []))
        #expect(s.append("Hi. Dr. Smith met J. Doe at 3.5 p.m. today. Next ") == ["Hi.", "Dr. Smith met J. Doe at 3.5 p.m. today."])
    }

    @Test func longFirstSentenceWithoutPunctuationIsCutAfterAFewWords() {
        var s = TextSegmenter()
        let out = s.append("one two three four five six seven eight nine ten eleven ")
        // The second segment is bounded too (5 words), so it is synthesized while the first plays.
        #expect(out == ["one two three", "four five six seven eight"])
        #expect(s.flush() == ["nine ten eleven"])
        // Punctuation within the look-ahead is the better cut.
        var t = TextSegmenter()
        #expect(t.append("one two three four, five six seven eight ") == ["one two three four,"])
    }

    @Test func laterSegmentsAreWholeSentencesAndLongOnesAreBounded() {
        var s = TextSegmenter(policy: .init(maxWords: 10, maxCharacters: 300))
        _ = s.append("Hi. ")
        let long = (1...25).map { "w\($0)" }.joined(separator: " ") + " "
        let out = s.append(long)
        #expect(!out.isEmpty)
        #expect(out.allSatisfy { $0.split(separator: " ").count <= 10 })
    }

    @Test func segmentsAfterTheFirstGrowStepByStep() {
        var s = TextSegmenter()
        let words = (1...60).map { "w\($0)" }
        let out = s.append(words.joined(separator: " ") + " ") + s.flush()
        #expect(out.map { $0.split(separator: " ").count } == [3, 5, 10, 20, 22])
        // A comma inside the limit is the better cut.
        var t = TextSegmenter()
        let text = "Well, then we go out to the park, and after that we eat some cake at home tonight. "
        #expect(t.append(text) == ["Well, then we", "go out to the park,", "and after that we eat some cake at home tonight."])
    }

    @Test func punctuationOnlyAndEmptyInputProduceNothing() {
        var s = TextSegmenter()
        #expect(s.append("   ") == [])
        #expect(s.flush() == [])
        var t = TextSegmenter()
        #expect(t.append("... ") == [])
        #expect(t.flush() == [])
    }

    @Test func newlinesEndSegments() {
        var s = TextSegmenter()
        #expect(s.append("First line\nSecond") == ["First line"])
    }
}
