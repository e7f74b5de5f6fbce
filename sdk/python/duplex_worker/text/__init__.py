"""Text handling: the clause segmenter (a port of the Swift ``TextSegmenter``)."""

from .segmenter import Segment, SegmenterPolicy, TextSegmenter

__all__ = ["Segment", "SegmenterPolicy", "TextSegmenter"]
