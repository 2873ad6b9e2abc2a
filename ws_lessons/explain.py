"""A WebSocket frame described field by field, for people: :func:`explain` and the
short previews of payloads that it and the wire tap (:mod:`ws_lessons.tap`) show.

The codec itself, :mod:`ws_lessons.frames`, has no I/O and imports only the standard
library; this module adds the words (in the learner's language) and the tables.
"""

from __future__ import annotations

from ws_lessons.frames import (
    CloseCode,
    IncompleteFrame,
    Opcode,
    ProtocolError,
    Role,
    apply_mask,
    decode,
    parse_close,
    read_header,
)
from ws_lessons.i18n import N_, _
from ws_lessons.table import Table

__all__ = ["Explanation", "close_name", "explain", "hex_preview"]


class Explanation(Table):
    """A field-by-field description of one frame, as a text or HTML table, and a verdict."""

    @property
    def verdict(self) -> str:
        return self.note


_OPCODE_MEANINGS = {
    Opcode.CONTINUATION: N_("continuation of a fragmented message"),
    Opcode.TEXT: N_("text frame"),
    Opcode.BINARY: N_("binary frame"),
    Opcode.CLOSE: N_("close (control frame)"),
    Opcode.PING: N_("ping (control frame)"),
    Opcode.PONG: N_("pong (control frame)"),
}

_PREVIEW = 16  # bytes or characters of a payload to show


def explain(data: bytes, role: Role | None = None) -> Explanation:
    """Describe, field by field, the frame at the start of ``data``.

    Invalid frames are described too; the verdict says which rule they break.
    ``role`` is the side receiving the frame, as in :func:`decode`. Raise
    :exc:`IncompleteFrame` if ``data`` ends before the frame does.
    """
    header = read_header(data)
    length, mask, size = header.length, header.mask, header.size
    if len(data) < header.frame_size:
        raise IncompleteFrame
    wire_payload = data[size : header.frame_size]
    payload = wire_payload if mask is None else apply_mask(wire_payload, mask)

    rows = [("FIN", *_flag(header.fin, _("last frame of the message"), _("more frames follow")))]
    for name, bit in [("RSV1", header.rsv1), ("RSV2", header.rsv2), ("RSV3", header.rsv3)]:
        rows.append((name, *_flag(bit, _("defined by an extension"), _("no extension"))))
    raw_opcode = header.opcode
    opcode: Opcode | None
    try:
        opcode = Opcode(raw_opcode)
    except ValueError:
        opcode, meaning = None, _("reserved opcode")
    else:
        meaning = _(_OPCODE_MEANINGS[opcode])
    rows.append(
        (
            "opcode",
            f"{raw_opcode:04b}",
            opcode.name if opcode is not None else "?",
            f"{raw_opcode:#x} = {meaning}",
        )
    )
    rows.append(
        ("MASK", *_flag(mask, _("masked (client to server)"), _("unmasked (server to client)")))
    )

    length_field = data[1] & 0x7F
    if length_field < 126:
        rows.append(
            ("payload length", f"{length_field:07b}", str(length), _("{n} bytes").format(n=length))
        )
    else:
        extended = data[2 : 2 + (2 if length_field == 126 else 8)]
        rows.append(
            (
                "payload length",
                f"{length_field:07b}",
                str(length_field),
                _("{field} = the next {bits} bits hold the length").format(
                    field=length_field, bits=len(extended) * 8
                ),
            )
        )
        rows.append(
            (
                "extended payload length",
                _bits(extended),
                str(length),
                _("{n} bytes").format(n=length),
            )
        )
    if mask is not None:
        rows.append(("masking key", _bits(mask), mask.hex(" "), _("XORed over the payload")))
        rows.append(
            (
                "payload (masked)",
                _bits(wire_payload, 4),
                hex_preview(wire_payload),
                _("as sent on the wire"),
            )
        )
    rows.append(("payload", _bits(payload, 4), *_describe_payload(opcode, payload)))

    try:
        decode(data, role=role)
    except ProtocolError as exc:
        verdict = _("invalid: {error} (close code {code} {name})").format(
            error=exc, code=int(exc.code), name=exc.code.name
        )
    else:
        verdict = _("valid frame, {n} bytes").format(n=header.frame_size)
    columns = (N_("field"), N_("bits"), N_("value"), N_("meaning"))
    return Explanation(columns, rows, verdict, code=("bits", "value"), rule=True)


def _flag(bit: object, if_set: str, if_clear: str) -> tuple[str, str, str]:
    """Return the bits, value and meaning cells for a one-bit field."""
    return ("1", "True", f"1 = {if_set}") if bit else ("0", "False", f"0 = {if_clear}")


def _bits(data: bytes, limit: int = 8) -> str:
    """Show bytes as bits, ``01001000 01100101``, up to ``limit`` bytes."""
    bits = " ".join(f"{byte:08b}" for byte in data[:limit])
    return f"{bits} …" if len(data) > limit else bits


def hex_preview(data: bytes | bytearray, limit: int = _PREVIEW) -> str:
    """Show bytes as hex, ``68 65 6c …``, up to ``limit`` bytes."""
    shown = bytes(data[:limit]).hex(" ")
    return f"{shown} …" if len(data) > limit else shown


def close_name(code: CloseCode | int) -> str:
    """A close code with its name when RFC 6455 §7.4.1 gives it one: ``1000 NORMAL_CLOSURE``."""
    return f"{int(code)} {code.name}" if isinstance(code, CloseCode) else str(int(code))


def _describe_payload(opcode: Opcode | None, payload: bytes) -> tuple[str, str]:
    """Return the value and meaning cells for an unmasked payload."""
    if opcode is Opcode.TEXT:
        try:
            text = payload.decode()
        except UnicodeDecodeError:
            return hex_preview(payload), _("not valid UTF-8")
        shown = repr(text[:_PREVIEW]) + (" …" if len(text) > _PREVIEW else "")
        return shown, _("{n} bytes of UTF-8 text").format(n=len(payload))
    if opcode is Opcode.CLOSE:
        try:
            code, reason = parse_close(payload)
        except ProtocolError:
            return hex_preview(payload), _("malformed close payload")
        return hex_preview(payload), _("close code {code}, reason {reason!r}").format(
            code=close_name(code), reason=reason
        )
    return hex_preview(payload), _("{n} bytes").format(n=len(payload))
