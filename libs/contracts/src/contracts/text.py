"""What text Zephyr accepts from people: plain text only, no markup, no invisible controls.

The HTML rule is *reject*, not strip: text that an HTML parser would read as markup is refused
with a clear error, and everything accepted is stored exactly as typed. Stripping would silently
change what a host typed (and whether "a <b> c" means bold or a comparison is not ours to guess);
rejecting keeps stored text faithful and makes the rule visible. Every page still escapes all it
renders, so this is defence in depth for other consumers (exports, the audit stream).

"Markup" follows the HTML tokenizer: in text, `<` starts a tag or comment only when the next
character is an ASCII letter, `/`, `!` or `?`. So `a < b`, `x<5`, `<3` and `->` are fine;
`<b>`, `</p`, `<!--` and `<?xml` are not. Character references (`&amp;`) are not active content
and are kept as typed.
"""

from __future__ import annotations

import re
import unicodedata

_MARKUP = re.compile(r"<[A-Za-z/!?]")
# Bidirectional overrides and isolates reorder what is displayed (spoofing), zero-width
# characters hide text; C0/C1 controls have no place in a one-line text (a tab is tolerated).
_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u2060\ufeff\u180e\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def contains_markup(text: str) -> bool:
    """True when an HTML parser would see a tag, end tag, comment or declaration in `text`."""
    return _MARKUP.search(text) is not None


def check_plain_text(text: str) -> str:
    """Refuse markup and invisible or control characters; return `text` unchanged."""
    if contains_markup(text):
        raise ValueError("HTML markup is not allowed: use plain text (a '<' must not start a tag)")
    for ch in text:
        if ch in _INVISIBLE or (unicodedata.category(ch) in {"Cc", "Cs"} and ch != "\t"):
            raise ValueError("text contains control or invisible characters")
    return text
