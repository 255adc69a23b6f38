"""aiosmtpd's SMTP server, with a DATA command that reads the message in whole chunks (the content as bytes,
as with aiosmtpd's default decode_data=False).

aiosmtpd reads DATA one line at a time, through a Python loop: for a message with a 200 KB attachment,
3,500 turns of it, half of what the inbound listener spent on a message. The replies are aiosmtpd's:
552 over the size limit, 500 for a line longer than line_length_limit, 503 before RCPT, 501 with an argument
(a message both too big and with too long a line gets 552, where aiosmtpd answers what it met first).
"""
import asyncio

from aiosmtpd.smtp import SMTP, syntax

END_OF_DATA = b"\r\n.\r\n"


async def read_data(reader: asyncio.StreamReader, size_limit: int | None) -> bytes | None:
    """What the client sends after DATA up to the lone "." line, still dot-stuffed; None when that is more than
    `size_limit` bytes (read to the end all the same, and dropped, so that the reply follows the data)."""
    received = bytearray(b"\r\n")  # the DATA command's line end: a "." line right after it is an empty message
    size = 0
    while not received.endswith(END_OF_DATA):
        try:
            chunk = await reader.readuntil(b".\r\n")
        except asyncio.LimitOverrunError as overrun:  # no ".\r\n" within the reader's limit: take what came so far
            chunk = await reader.readexactly(overrun.consumed)
        received += chunk
        size += len(chunk)
        if size_limit and size - 3 > size_limit:
            del received[:-len(END_OF_DATA)]  # too big whatever follows: keep only what finds the end
    if size_limit and size - 3 > size_limit:
        return None
    return bytes(received[2:-3])


class ChunkedDataSMTP(SMTP):
    @syntax("DATA")
    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        data = await read_data(self._reader, self.data_size_limit)
        if data is None:
            status = "552 Error: Too much mail data"
        elif max(map(len, data.split(b"\r\n"))) + 2 > self.line_length_limit:
            status = "500 Line too long (see RFC5321 4.5.3.1.6)"
        else:
            # RFC 5321 4.5.2: a line that starts with a dot came with one more
            content = (data[1:] if data.startswith(b".") else data).replace(b"\r\n.", b"\r\n")
            self.envelope.content = self.envelope.original_content = content
            status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)
