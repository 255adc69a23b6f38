"""ChunkedDataSMTP answers DATA as aiosmtpd's own server does and hands the handler the same content: the
same conversations, byte for byte, with both servers."""
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from clientdesk.services.smtp_server import ChunkedDataSMTP
from tests.servers import free_port

SIZE_LIMIT = 50_000


class Collect:
    def __init__(self):
        self.contents = []

    async def handle_DATA(self, server, session, envelope):
        self.contents.append(envelope.content)
        return "250 OK"


class ChunkedDataController(Controller):
    def factory(self):
        return ChunkedDataSMTP(self.handler, **self.SMTP_kwargs)


@pytest.fixture(scope="module")
def servers():
    """aiosmtpd's server and ours, each with the handler that keeps what it is given."""
    started = [controller_class(Collect(), hostname="127.0.0.1", port=free_port(), data_size_limit=SIZE_LIMIT)
               for controller_class in (Controller, ChunkedDataController)]
    for controller in started:
        controller.start()
    yield started
    for controller in started:
        controller.stop()


def converse(port: int, pieces: list[bytes]) -> list[bytes]:
    """A mail transaction whose data goes out in `pieces` (with a pause after each, so they arrive apart), then
    NOOP and QUIT; every reply, as received."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        replies = connection.makefile("rb")

        def reply() -> bytes:
            lines = [replies.readline()]
            while lines[-1][3:4] == b"-":
                lines.append(replies.readline())
            return b"".join(lines)

        def command(line: bytes) -> bytes:
            connection.sendall(line)
            return reply()

        transcript = [reply(), command(b"EHLO client.example.com\r\n"), command(b"MAIL FROM:<factuur@leverancier.example.com>\r\n"),
                      command(b"RCPT TO:<acme@in.clientdesk.example>\r\n"), command(b"DATA\r\n")]
        for piece in pieces:
            connection.sendall(piece)
            time.sleep(0.002)
        transcript.append(reply())
        transcript += [command(b"NOOP\r\n"), command(b"QUIT\r\n")]
    return transcript


MESSAGE = b"From: factuur@leverancier.example.com\r\nSubject: Factuur\r\n\r\nIn bijlage.\r\n"
DOTS = b"..leading dot\r\n...\r\n..\r\n.x\r\nends with a dot.\r\n. \r\n.\r\n"
CONVERSATIONS = {
    "a message": [MESSAGE + b".\r\n"],
    "dot-stuffed lines": [MESSAGE + DOTS],
    "dot-stuffed lines, a byte at a time": [bytes([byte]) for byte in MESSAGE + DOTS],
    "an empty message": [b".\r\n"],
    "a dot-stuffed first line": [b"..first\r\n.\r\n"],
    "a message of one line": [b"x\r\n.\r\n"],
    "bare CR and LF": [b"a\nb\rc\r\n.\n\r\n.\r.\r\n\r\n.\r\n"],
    "the end split over three packets": [MESSAGE + b"\r", b"\n.", b"\r\n"],
    "the longest line allowed": [b"a" * 999 + b"\r\n.\r\n"],
    "a line one byte too long": [b"a" * 1000 + b"\r\n.\r\n"],
    "a line far too long": [MESSAGE + b"b" * 5000 + b"\r\nmore\r\n.\r\n"],
    "exactly the size limit": [b"x" * 98 + b"\r\n" for _ in range(SIZE_LIMIT // 100)] + [b".\r\n"],
    "one byte over the size limit": [b"x" * 98 + b"\r\n" for _ in range(SIZE_LIMIT // 100)] + [b"\r\n.\r\n"],
    "far over the size limit": [(b"x" * 98 + b"\r\n") * 3_000 + b".\r\n"],
    "the next command sent with the end of data": [MESSAGE + b".\r\nNOOP\r\n"],
}


@pytest.mark.parametrize("pieces", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_the_same_replies_and_content_as_aiosmtpd(servers, pieces):
    aiosmtpd, chunked = servers
    for controller in servers:
        controller.handler.contents.clear()
    assert converse(chunked.port, pieces) == converse(aiosmtpd.port, pieces)
    assert chunked.handler.contents == aiosmtpd.handler.contents
