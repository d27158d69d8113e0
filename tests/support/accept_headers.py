"""Accept headers as clients and attackers write them, for property tests of the variant
rule that nginx.conf and the app must share (not a test module: a strategy library).

The pieces cover what Werkzeug's ``parse_accept_header`` reads: quoted and RFC 2231
parameters (``q="0"``, ``q*=utf-8''0``, ``q*0=0``), ``q`` with odd spacing and case,
invalid ``q`` values (skipped by Werkzeug), wildcards, media-type parameters, repeated
types, empty items, quotes and escapes, bytes outside ASCII, and long headers.
"""

from __future__ import annotations

from hypothesis import strategies as st

# The types that decide the variant, drawn half the time; the rest come from TYPES.
CORE = ["text/html", "application/json", "*/*", "text/*", "application/*"]
TYPES = [
    "text/html", "application/json", "*/*", "text/*", "application/*", "*/html",
    "application/xhtml+xml", "application/xml", "image/webp", "image/*", "text/plain",
    "TEXT/HTML", "Application/JSON", "Text/*", "text /html", "text/ html", " text/html",
    "text", "", "*", "application/signed-exchange", "application/json+x", "json",
    "text/htm", "text/html5", '"text/html"', "te\\xt/html", "text\\/html",
]  # fmt: skip
Q_VALUES = [
    "0", "1", "0.5", "0.000", "1.000", "0.001", ".5", "1.", "2", "-1", "-0", "00",
    "0.9", "1e0", "\xb2", "0x1", "", " 0", "0 ", '"0"', '"0.5"', '"1"', '"',
]  # fmt: skip
Q_SHAPES = [
    ";q={}", "; q={}", ";Q={}", ";q ={}", ";q= {}", ";\tq={}", " ;q={}", ";q*=utf-8''{}",
    ";q*=UTF-8'en'{}", ";q*0={}", ";q*=''{}", ";q*={}", ";q=\"{}\"",
]  # fmt: skip
PARAMS = [
    ";level=1", ";charset=utf-8", ';x="a,b"', ';x="a\\"b"', ";v=b3", ";=", ";q", ";;",
    ";x=", ';x="', ";x*=utf-8''%22", ";x*0=a;x*1=b", ";json", ";html", ";q=1;level=1",
]  # fmt: skip
SEPARATORS = [",", ", ", " ,", ",,", ", ,", "\t,", ",\t", ", , ,", ";,"]
NOISE = ["\xe9", "\x00", "\x7f", "\x1f", '"', "\\", "\xff", "%", "(", "\t"]

q_param = st.builds(
    lambda shape, q: shape.format(q), st.sampled_from(Q_SHAPES), st.sampled_from(Q_VALUES)
)
param = st.one_of(q_param, st.sampled_from(PARAMS))
item = st.builds(
    lambda media, params: media + "".join(params),
    st.one_of(st.sampled_from(CORE), st.sampled_from(TYPES)),
    st.lists(param, max_size=3),
)


@st.composite
def accept_headers(draw: st.DrawFn) -> str:
    """One Accept header: items joined by odd separators, sometimes with noise, sometimes
    repeated far past a browser's length, sometimes led by a browser's ``text/html,``."""
    items = draw(st.lists(item, max_size=8))
    header = ""
    for n, part in enumerate(items):
        header += (draw(st.sampled_from(SEPARATORS)) if n else "") + part
    if draw(st.booleans()):
        at = draw(st.integers(0, len(header)))
        header = header[:at] + draw(st.sampled_from(NOISE)) + header[at:]
    if draw(st.integers(0, 9)) == 0:
        header = ",".join([header] * draw(st.integers(20, 200)))
    if draw(st.booleans()):
        header = "text/html," + header
    return header


arbitrary_headers = st.text(st.characters(max_codepoint=255), max_size=120)

BROWSERS = [
    # Chromium's navigation, Firefox's and Safari's, an XHR, curl, and none at all.
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "application/json",
    "*/*",
    "",
]


CODINGS = ["gzip", "deflate", "br", "zstd", "identity", "compress", "x-gzip", "*", "GZIP", "gzip "]
coding_item = st.builds(
    lambda coding, params: coding + "".join(params),
    st.sampled_from(CODINGS),
    st.lists(st.one_of(q_param, st.sampled_from([";level=1", ';x="a,b"', ";;"])), max_size=2),
)


@st.composite
def accept_encodings(draw: st.DrawFn) -> str:
    """One Accept-Encoding header: codings (some weighted, quoted, RFC 2231, wildcard)
    joined by odd separators, sometimes with noise."""
    items = draw(st.lists(coding_item, max_size=6))
    header = ""
    for n, part in enumerate(items):
        header += (draw(st.sampled_from(SEPARATORS)) if n else "") + part
    if draw(st.booleans()):
        at = draw(st.integers(0, len(header)))
        header = header[:at] + draw(st.sampled_from(NOISE)) + header[at:]
    return header


ENCODING_BROWSERS = [
    "gzip, deflate, br, zstd", "gzip, deflate, br", "gzip, deflate", "deflate, gzip, br, zstd",
    "", "br",
]  # fmt: skip


@st.composite
def if_none_matches(draw: st.DrawFn, tag: str) -> str:
    """If-None-Match lists that name ``tag`` or near misses of it, weak or strong, with odd
    spacing, unquoted, truncated, or the wildcard."""
    near = [tag, tag[:-1], tag.strip('"'), tag.replace("-", "-0"), tag.upper(), '"0-0"',
            '"5f3c2a91-5"', '"ffffffff-5"', tag + '"', "*", ""]  # fmt: skip
    items = draw(
        st.lists(
            st.builds(
                lambda weak, t: weak + t,
                st.sampled_from(["", "W/", "w/", " W/"]),
                st.sampled_from(near),
            ),
            max_size=4,
        )
    )
    header = ""
    for n, part in enumerate(items):
        header += (draw(st.sampled_from([",", ", ", " ,", ",,", ",\t"])) if n else "") + part
    return header
