"""Splits streaming text (e.g. LLM tokens) into speakable segments.

A faithful port of ``Sources/DuplexCore/Text/TextSegmenter.swift``; the orchestrator
segments text the same way for 1.0 workers, so the two must agree. A segment ends as soon as
it is complete: at a sentence end followed by whitespace, at a line break, or — for the
first segment of a reply, to get the first audio out fast — at a comma or after a few words.
Long sentences are split at a comma or a space so no segment grows without bound.
``flush`` returns whatever is left.

Like the Swift version it works on grapheme clusters (Swift ``Character``), and reports each
segment's range in Unicode code points (Python ``str`` indices), whitespace trimmed::

    >>> s = TextSegmenter()
    >>> [x.text for x in s.append("Hello there. How ")]
    ['Hello there.']
    >>> s.append("are you?")
    []
    >>> s.flush()
    [Segment(text='How are you?', start=13, end=25)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from .characters import graphemes, is_letter, is_letter_or_number, is_newline, is_whitespace


@dataclass(frozen=True)
class SegmenterPolicy:
    """Where segments end (the Swift ``TextSegmenter.Policy`` defaults, tuned for Piper)."""

    #: The first segment may end at a comma once it has at least this many words.
    first_segment_min_words_at_comma: int = 2
    #: The first segment is cut after this many words if no punctuation came yet…
    first_segment_words: int = 3
    #: …once this many complete words are buffered without a comma or sentence end.
    first_segment_lookahead_words: int = 5
    #: Later segments longer than this many words are split at a comma or a space.
    max_words: int = 30
    #: The word limits of the second, third, … segment (then ``max_words``): a segment whose
    #: audio is short cannot cover the synthesis of a long next one.
    growing_segment_words: tuple = (5, 10, 20)
    #: No segment is longer than this many characters (grapheme clusters).
    max_characters: int = 300


@dataclass
class Segment:
    """A segment and where it lies in everything appended so far: ``[start, end)`` in code
    points (the unit of the ABI's ``SegmentStart.input_start``/``input_end``)."""

    text: str
    start: int
    end: int


_SENTENCE_MARKS = frozenset([".", "!", "?", "\u2026", ";", "\u3002", "\uff01", "\uff1f"])
_FULL_WIDTH_STOPS = frozenset(["\u3002", "\uff01", "\uff1f"])
_CLAUSE_MARKS = frozenset([",", ":", "\u2014", "\u2013", "\u3001", "\uff0c"])
_CLOSERS = frozenset(['"', "'", "\u201d", "\u2019", ")", "]", "\u00bb"])
_ABBREVIATIONS = frozenset([
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no",
    "approx", "dept", "est", "fig", "inc", "ltd", "co", "mt", "ave", "u.s", "a.m", "p.m",
])


class TextSegmenter:
    """Incremental clause segmenter; see the module docstring."""

    def __init__(self, policy: SegmenterPolicy = SegmenterPolicy()) -> None:
        self.policy = policy
        self._buffer: List[str] = []   # grapheme clusters not yet emitted
        self._consumed = 0             # code points of the input before the buffer
        #: Number of segments emitted so far.
        self.emitted_count = 0

    @property
    def pending(self) -> str:
        """Text appended but not yet emitted."""
        return "".join(self._buffer)

    def append(self, text: str) -> List[Segment]:
        """Appends text and returns the segments it completed."""
        # Like Swift's `buffer.append(contentsOf:)`, clusters never merge across appends.
        self._buffer.extend(graphemes(text))
        out: List[Segment] = []
        while (cut := self._next_cut()) is not None:
            self._emit(cut, out)
        return out

    def flush(self) -> List[Segment]:
        """Returns the remaining text as final segments (if it has speakable content)."""
        out: List[Segment] = []
        while (cut := self._next_cut()) is not None:
            self._emit(cut, out)
        self._emit(len(self._buffer), out)
        return out

    def _emit(self, cut: int, out: List[Segment]) -> None:
        piece = self._buffer[:cut]
        lead = 0
        while lead < len(piece) and is_whitespace(piece[lead]):
            lead += 1
        tail = len(piece)
        while tail > lead and is_whitespace(piece[tail - 1]):
            tail -= 1
        lead_scalars = sum(len(c) for c in piece[:lead])
        trail_scalars = sum(len(c) for c in piece[tail:])
        total = sum(len(c) for c in piece)
        start = self._consumed + lead_scalars
        end = self._consumed + total - trail_scalars
        body = piece[lead:tail]
        text = "".join(body)
        del self._buffer[:cut]
        self._consumed += total
        if any(is_letter_or_number(c) for c in body):
            out.append(Segment(text, start, max(start, end)))
            self.emitted_count += 1
        elif text and out:
            # Trailing punctuation only: attach it to the previous segment.
            previous = out[-1]
            previous.text += text
            previous.end = max(previous.end, end)

    def _next_cut(self) -> Optional[int]:
        """The index just past the end of the next complete segment, if any."""
        policy = self.policy
        buffer = self._buffer
        is_first = self.emitted_count == 0
        growing = policy.growing_segment_words
        if is_first or self.emitted_count > len(growing):
            word_limit = policy.max_words
        else:
            word_limit = min(policy.max_words, growing[self.emitted_count - 1])
        words = 0
        in_word = False
        last_comma: Optional[int] = None
        last_space: Optional[int] = None
        first_cut: Optional[int] = None
        cut_at_max_words: Optional[int] = None
        count = len(buffer)
        for index in range(count):
            c = buffer[index]
            if is_whitespace(c):
                if in_word:
                    words += 1
                    in_word = False
                    last_space = index
                    if is_first and words == policy.first_segment_words:
                        first_cut = index
                    if is_first and words >= policy.first_segment_lookahead_words and first_cut is not None:
                        return first_cut
                    # At the limit the cut is known (the last comma, or here): take it now, even
                    # if the sentence ends further on in text already buffered.
                    if not is_first and words == word_limit:
                        return last_comma if last_comma is not None else index
                    if is_first and words == word_limit:
                        cut_at_max_words = last_comma if last_comma is not None else index
                if is_newline(c) and words > 0:
                    return index + 1
            else:
                in_word = True
                end = self._sentence_end(index)
                if end is not None:
                    return end
                if c in _CLAUSE_MARKS and index + 1 < count and is_whitespace(buffer[index + 1]):
                    last_comma = index + 1
                    if is_first and words + 1 >= policy.first_segment_min_words_at_comma:
                        return index + 1
            if index + 1 >= policy.max_characters:
                if last_comma is not None:
                    return last_comma
                return last_space if last_space is not None else index + 1
        if is_first and first_cut is not None and words >= policy.first_segment_lookahead_words:
            return first_cut
        return cut_at_max_words

    def _sentence_end(self, index: int) -> Optional[int]:
        """If a sentence ends at ``index`` (and whitespace follows), the cut after it."""
        buffer = self._buffer
        c = buffer[index]
        if c not in _SENTENCE_MARKS:
            return None
        end = index + 1
        while end < len(buffer) and buffer[end] in _CLOSERS:
            end += 1
        if end >= len(buffer):
            return None
        if c in _FULL_WIDTH_STOPS:
            return end
        if not is_whitespace(buffer[end]):
            return None
        if c == "." and self._is_abbreviation(index):
            return None
        return end

    def _is_abbreviation(self, dot: int) -> bool:
        buffer = self._buffer
        start = dot
        while start > 0 and not is_whitespace(buffer[start - 1]):
            start -= 1
        word = buffer[start:dot]
        if len(word) == 1 and is_letter(word[0]):
            return True  # initials: "J. Smith"
        return "".join(word).lower() in _ABBREVIATIONS
