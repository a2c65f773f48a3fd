"""The head of an HTTP/1.1 request (its request line and header fields), read the way http.server reads it, only
without the email parser for the plain header lines every WinRM client sends.

BaseHTTPRequestHandler.parse_request hands the header block to email.parser, whose generality cost about 7% of a
busy sandbox's CPU. A line `Name: value` (a name of the characters email's parser takes for a field name, no line
folding, no stray CR) gives the same (name, value) it would give, and the same HTTPMessage; a block with any other
line is parsed by email.parser as before, and a request line that is not `<method> <target> HTTP/1.1` is left to
http.server entirely.
"""

from __future__ import annotations

import http.client
import io
import re

# http.client's limits on one header line and on the number of lines (its _MAXLINE and _MAXHEADERS)
MAX_LINE = 65536
MAX_HEADERS = 100

# a request line of printable ASCII words, HTTP/1.1; anything else goes http.server's way
REQUEST_LINE = re.compile(rb"([\x21-\x7e]+) ([\x21-\x7e]+) HTTP/1\.1\r?\n")
# email.feedparser's field name (headerRE: [\041-\071\073-\176]*:), then the value as policy compat32 takes it
# (header_source_parse: spaces and tabs before it dropped, the line break after it)
_FIELD = re.compile(r"([\x21-\x39\x3b-\x7e]+):[ \t]*([^\r\n]*)\r?\n")


def read_headers(rfile: io.BufferedIOBase) -> http.client.HTTPMessage:
    """The header fields up to the empty line, as http.client.parse_headers returns them; raises
    http.client.LineTooLong or http.client.HTTPException (too many) as it does."""
    lines: list[bytes] = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    message = http.client.HTTPMessage()
    for line in lines[:-1]:
        field = _FIELD.fullmatch(line.decode("iso-8859-1"))
        if field is None:  # anything unusual: the standard library's own reading of the same bytes
            return http.client.parse_headers(io.BytesIO(b"".join(lines)))
        message.set_raw(field.group(1), field.group(2))
    message.set_payload("")  # what email's parser leaves after the empty line
    return message
