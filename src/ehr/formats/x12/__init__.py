"""X12 5010 interchange: tokenizer, envelopes, and the transactions we exchange.

``tokens`` reads delimiters and segments, ``envelope`` checks and writes ISA/GS/ST,
``x279`` holds the 005010X279A1 loops and codes, ``eligibility`` builds and reads 270/271.
"""

from ehr.formats.x12.tokens import Delimiters, Segment, X12Error, tokenize

__all__ = ["Delimiters", "Segment", "X12Error", "tokenize"]
