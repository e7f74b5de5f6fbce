"""The clause segmenter: the Swift TextSegmenterTests, plus ranges, graphemes and streaming."""

import unittest

from . import support  # noqa: F401  (puts the package on sys.path)
from duplex_worker.text.characters import graphemes
from duplex_worker.text.segmenter import SegmenterPolicy, TextSegmenter


def texts(segments):
    return [s.text for s in segments]


class SwiftParityTests(unittest.TestCase):
    """Tests/DuplexCoreTests/TextSegmenterTests.swift, case by case."""

    def test_first_clause_is_cut_at_a_comma(self):
        s = TextSegmenter()
        self.assertEqual(texts(s.append("Well then, I think that is right. And then")), ["Well then,", "I think that is right."])
        self.assertEqual(texts(s.flush()), ["And then"])

    def test_sentences_need_trailing_whitespace(self):
        s = TextSegmenter()
        out = []
        for token in ["Hello", " there", ".", " How", " are", " you", "?"]:
            out += texts(s.append(token))
        self.assertEqual(out, ["Hello there."])
        self.assertEqual(texts(s.flush()), ["How are you?"])

    def test_abbreviations_and_initials(self):
        s = TextSegmenter(SegmenterPolicy(growing_segment_words=()))
        self.assertEqual(texts(s.append("Hi. Dr. Smith met J. Doe at 3.5 p.m. today. Next ")),
                         ["Hi.", "Dr. Smith met J. Doe at 3.5 p.m. today."])

    def test_long_first_sentence_is_cut_after_a_few_words(self):
        s = TextSegmenter()
        self.assertEqual(
            texts(s.append("one two three four five six seven eight nine ten eleven ")),
            ["one two three", "four five six seven eight"])
        self.assertEqual(texts(s.flush()), ["nine ten eleven"])
        t = TextSegmenter()
        self.assertEqual(texts(t.append("one two three four, five six seven eight ")), ["one two three four,"])

    def test_segments_after_the_first_grow_step_by_step(self):
        s = TextSegmenter()
        words = " ".join(f"w{i}" for i in range(1, 61)) + " "
        out = texts(s.append(words)) + texts(s.flush())
        self.assertEqual([len(x.split()) for x in out], [3, 5, 10, 20, 22])
        t = TextSegmenter()
        text = "Well, then we go out to the park, and after that we eat some cake at home tonight. "
        self.assertEqual(texts(t.append(text)),
                         ["Well, then we", "go out to the park,", "and after that we eat some cake at home tonight."])

    def test_later_segments_are_bounded(self):
        s = TextSegmenter(SegmenterPolicy(max_words=10, max_characters=300))
        s.append("Hi. ")
        out = texts(s.append(" ".join(f"w{i}" for i in range(1, 26)) + " "))
        self.assertTrue(out)
        self.assertTrue(all(len(x.split(" ")) <= 10 for x in out))

    def test_punctuation_only_and_empty_input(self):
        s = TextSegmenter()
        self.assertEqual(s.append("   "), [])
        self.assertEqual(s.flush(), [])
        t = TextSegmenter()
        self.assertEqual(t.append("... "), [])
        self.assertEqual(t.flush(), [])

    def test_newlines_end_segments(self):
        self.assertEqual(texts(TextSegmenter().append("First line\nSecond")), ["First line"])


class MoreRulesTests(unittest.TestCase):
    def test_full_width_stops_need_no_space(self):
        s = TextSegmenter()
        self.assertEqual(texts(s.append("你好。今天很好！再见")), ["你好。", "今天很好！"])
        self.assertEqual(texts(s.flush()), ["再见"])

    def test_closers_stay_with_their_sentence(self):
        s = TextSegmenter()
        out = texts(s.append('He said "Stop." Then he left. ')) + texts(s.flush())
        self.assertEqual(out, ['He said "Stop."', "Then he left."])

    def test_trailing_punctuation_joins_the_previous_segment(self):
        s = TextSegmenter()
        segments = s.append("Hi there! ! Next one. ")
        self.assertEqual(texts(segments), ["Hi there!!", "Next one."])
        self.assertEqual((segments[0].start, segments[0].end), (0, 11))

    def test_max_characters_bounds_a_segment_without_spaces(self):
        s = TextSegmenter(SegmenterPolicy(max_characters=20))
        out = texts(s.append("x" * 50)) + texts(s.flush())
        self.assertEqual(out, ["x" * 20, "x" * 20, "x" * 10])

    def test_max_words_cuts_at_the_last_comma(self):
        s = TextSegmenter(SegmenterPolicy(max_words=6))
        s.append("Hi. ")
        out = texts(s.append("a b c, d e f g h i ")) + texts(s.flush())
        self.assertEqual(out, ["a b c,", "d e f g h i"])

    def test_first_segment_comma_needs_two_words(self):
        s = TextSegmenter()
        self.assertEqual(texts(s.append("Yes, I do. ")), ["Yes, I do."])

    def test_graphemes(self):
        self.assertEqual(graphemes("e\u0301a"), ["e\u0301", "a"])
        self.assertEqual(graphemes("a\r\nb"), ["a", "\r\n", "b"])
        self.assertEqual(len(graphemes("👍🏽👨‍👩‍👧🇫🇷🇩🇪")), 4)
        self.assertEqual(len(graphemes("한국어")), 3)
        self.assertEqual(len(graphemes("\u1100\u1161\u11a8")), 1)   # conjoining jamo


class RangeTests(unittest.TestCase):
    """SegmentStart ranges are code points (Python str indices), whitespace trimmed."""

    def check(self, text, pieces=None):
        s = TextSegmenter()
        segments = []
        for piece in pieces or [text]:
            segments += s.append(piece)
        segments += s.flush()
        self.assertTrue(segments)
        previous_end = 0
        for segment in segments:
            self.assertEqual(text[segment.start:segment.end], segment.text)
            self.assertGreaterEqual(segment.start, previous_end)
            previous_end = segment.end
        return segments

    def test_emoji_and_accents(self):
        segments = self.check("Café 👍🏽 is open. Come in.")
        self.assertEqual([(s.text, s.start, s.end) for s in segments], [("Café 👍🏽 is open.", 0, 16), ("Come in.", 17, 25)])

    def test_decomposed_accents_and_zwj(self):
        self.check("Cafe\u0301 au lait, s'il vous plaît. 👨‍👩‍👧 family time! Done.")

    def test_ranges_are_stable_across_chunk_boundaries(self):
        text = "Café 👍🏽 is open.  Come in, sit down; the naïve señor waits. 日本語です。終わり"
        whole = self.check(text)
        for size in (1, 2, 3, 7):
            pieces = [text[i:i + size] for i in range(0, len(text), size)]
            self.assertEqual([(s.start, s.end) for s in self.check(text, pieces)], [(s.start, s.end) for s in whole])


if __name__ == "__main__":
    unittest.main()
