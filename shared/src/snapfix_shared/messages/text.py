"""Free text typed by people (titles, descriptions, notes, comments): the characters it may hold.

XML 1.0 cannot carry C0 control characters other than tab, line feed and carriage return
(nor lone surrogates, U+FFFE and U+FFFF): one such character in a report makes every
Open311 XML document that lists it ill-formed. Requests that bring free text refuse them
(``PlainText``); the Open311 writer replaces what older records still hold (``xml_safe``).

The Kafka contracts keep accepting them: within a version a change is additive only, so
commands and events already on the topics stay valid.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# Everything outside XML 1.0's Char production (https://www.w3.org/TR/xml/#charsets).
NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT = "\ufffd"


def refuse_control_characters(value: str) -> str:
    """``value`` unchanged, or ValueError when it holds a character that is not text."""
    found = NOT_XML_CHAR.search(value)
    if found is not None:
        raise ValueError(
            f"must not contain control characters (found U+{ord(found.group()):04X} at position {found.start()}); "
            "tab, line feed and carriage return are allowed"
        )
    return value


def xml_safe(value: str) -> str:
    """``value`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return NOT_XML_CHAR.sub(REPLACEMENT, value)


# Apply to a ``str`` field of a request: ``title: Annotated[Title, PlainText]``.
PlainText = AfterValidator(refuse_control_characters)
PlainStr = Annotated[str, PlainText]
