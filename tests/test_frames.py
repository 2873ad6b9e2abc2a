"""Tests for ws_lessons.frames, cross-checked against websockets and wsproto."""

import dataclasses
import itertools
import struct
import subprocess
import sys

import pytest
import websockets.exceptions
import websockets.frames
import websockets.utils
from hypothesis import given, settings
from hypothesis import strategies as st
from websockets.protocol import Protocol, Side
from websockets.streams import StreamReader
from wsproto.frame_protocol import FrameProtocol, ParseFailed

from ws_lessons.explain import explain
from ws_lessons.frames import (
    CloseCode,
    Frame,
    FrameReader,
    IncompleteFrame,
    Opcode,
    ProtocolError,
    Received,
    apply_mask,
    close_payload,
    decode,
    encode,
    parse_close,
    read_header,
)

# The masking key used by the examples of RFC 6455 §5.7.
RFC_MASK = bytes.fromhex("37 fa 21 3d")
MASKED_HELLO = bytes.fromhex("81 85 37 fa 21 3d 7f 9f 4d 51 58")

VALID_CLOSE_CODES = [*range(1000, 1004), *range(1007, 1015), 3000, 3999, 4000, 4999]
INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]


# Oracles: the frame parsers of websockets and wsproto.


def websockets_parse(data, *, mask, max_size=None):
    """Parse one frame with websockets: ``mask`` is True on the server side."""
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = websockets.frames.Frame.parse(
        reader.read_exact, mask=mask, max_size=max_size, extensions=[]
    )
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the parser wants more data after EOF")


def wsproto_receive(data, *, client):
    """Parse frames with wsproto: ``client`` is True on the client side."""
    protocol = FrameProtocol(client=client, extensions=[])
    protocol.receive_bytes(data)
    return list(protocol.received_frames())


# Strategies.

payloads = st.binary(max_size=200) | st.sampled_from([125, 126, 127, 65535, 65536]).map(
    lambda size: bytes(range(256)) * (size // 256) + bytes(range(size % 256))
)
masks = st.binary(min_size=4, max_size=4)
close_reasons = st.text(max_size=30)


@st.composite
def frames(draw, opcodes=tuple(Opcode), close_codes=tuple(VALID_CLOSE_CODES)):
    """Any single frame that decode() accepts."""
    opcode = draw(st.sampled_from(opcodes))
    if opcode is Opcode.CLOSE:
        if draw(st.booleans()):
            return Frame(Opcode.CLOSE)
        return Frame.close(draw(st.sampled_from(close_codes)), draw(close_reasons))
    if opcode.is_control:
        return Frame(opcode, draw(st.binary(max_size=125)))
    payload = draw(st.text(max_size=100)).encode() if opcode is Opcode.TEXT else draw(payloads)
    return Frame(opcode, payload, fin=draw(st.booleans()))


@st.composite
def frame_streams(draw):
    """Valid sequences of frames: messages in fragments, with pings in between."""
    stream = []
    for _ in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            opcode, payload = Opcode.TEXT, draw(st.text(max_size=40)).encode()
        else:
            opcode, payload = Opcode.BINARY, draw(st.binary(max_size=300))
        # Cut anywhere, even inside a UTF-8 character.
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        for index, piece in enumerate(pieces):
            first, last = index == 0, index == len(pieces) - 1
            stream.append(Frame(opcode if first else Opcode.CONTINUATION, piece, fin=last))
            if draw(st.booleans()):
                stream.append(Frame(Opcode.PING, draw(st.binary(max_size=125))))
    if draw(st.booleans()):
        stream.append(Frame.close(draw(st.sampled_from(VALID_CLOSE_CODES)), draw(close_reasons)))
    return stream


# RFC 6455 §5.7 examples.


@pytest.mark.parametrize(
    ("frame", "mask", "wire"),
    [
        pytest.param(Frame.text("Hello"), None, "81 05 48 65 6c 6c 6f", id="unmasked text"),
        pytest.param(Frame.text("Hello"), RFC_MASK, MASKED_HELLO.hex(), id="masked text"),
        pytest.param(Frame.text("Hel", fin=False), None, "01 03 48 65 6c", id="first fragment"),
        pytest.param(Frame(Opcode.CONTINUATION, b"lo"), None, "80 02 6c 6f", id="last fragment"),
        pytest.param(
            Frame(Opcode.PING, b"Hello"), None, "89 05 48 65 6c 6c 6f", id="unmasked ping"
        ),
        pytest.param(
            Frame(Opcode.PONG, b"Hello"),
            RFC_MASK,
            "8a 85 37 fa 21 3d 7f 9f 4d 51 58",
            id="masked pong",
        ),
    ],
)
def test_rfc_examples(frame, mask, wire):
    data = bytes.fromhex(wire)
    assert encode(frame, mask) == data
    assert decode(data) == (frame, len(data))


@pytest.mark.parametrize(
    ("size", "header"),
    [
        pytest.param(256, "82 7e 01 00", id="256 bytes"),
        pytest.param(65536, "82 7f 00 00 00 00 00 01 00 00", id="64 KiB"),
    ],
)
def test_rfc_examples_binary(size, header):
    payload = bytes(range(256)) * (size // 256)
    data = encode(Frame.binary(payload))
    assert data == bytes.fromhex(header) + payload
    assert decode(data) == (Frame.binary(payload), len(data))


def test_rfc_example_fragmented_message():
    reader = FrameReader("client")
    assert reader.feed(bytes.fromhex("01 03 48 65 6c 80 02 6c 6f")) == [
        Frame.text("Hel", fin=False),
        Frame(Opcode.CONTINUATION, b"lo"),
    ]


def test_apply_mask_rfc_example():
    assert apply_mask(b"Hello", RFC_MASK) == bytes.fromhex("7f 9f 4d 51 58")
    assert apply_mask(b"", RFC_MASK) == b""


def test_apply_mask_needs_4_bytes():
    with pytest.raises(ValueError, match="4 bytes, got 3"):
        apply_mask(b"Hello", b"abc")


@settings(max_examples=50, deadline=None)
@given(data=payloads, mask=masks)
def test_apply_mask_agrees_with_websockets(data, mask):
    masked = apply_mask(data, mask)
    assert masked == websockets.utils.apply_mask(data, mask)
    assert apply_mask(masked, mask) == data


def test_opcode_is_control():
    assert {opcode for opcode in Opcode if opcode.is_control} == {
        Opcode.CLOSE,
        Opcode.PING,
        Opcode.PONG,
    }


# Payload length encodings (RFC 6455 §5.2).


@pytest.mark.parametrize(
    ("length", "header_size"),
    [(0, 2), (125, 2), (126, 4), (127, 4), (65535, 4), (65536, 10)],
    ids=lambda value: str(value),
)
@pytest.mark.parametrize("mask", [None, RFC_MASK], ids=["unmasked", "masked"])
def test_length_boundaries(length, header_size, mask):
    frame = Frame.binary(bytes(length))
    data = encode(frame, mask)
    header_size += 0 if mask is None else 4
    assert len(data) == header_size + length
    assert decode(data) == (frame, len(data))
    for cut in {0, 1, header_size - 1, header_size, len(data) - 1} - {len(data)}:
        with pytest.raises(IncompleteFrame):
            decode(data[:cut])


# Rules a receiver must enforce. Each case: bytes, decode() arguments, close code, message.

FRAME_ERRORS = [
    pytest.param(b"\xc1\x00", {}, 1002, "RSV1", id="RSV1 without extension"),
    pytest.param(b"\xa1\x00", {}, 1002, "RSV2", id="RSV2"),
    pytest.param(b"\x91\x00", {}, 1002, "RSV3", id="RSV3"),
    pytest.param(b"\xe1\x00", {"allow_rsv1": True}, 1002, "RSV2", id="RSV2 with RSV1 allowed"),
    *[
        pytest.param(
            bytes([0x80 | op, 0]), {}, 1002, f"reserved opcode {op:#x}", id=f"opcode {op:#x}"
        )
        for op in [*range(0x3, 0x8), *range(0xB, 0x10)]
    ],
    pytest.param(b"\x09\x00", {}, 1002, "PING frame is fragmented", id="fragmented ping"),
    pytest.param(b"\x08\x00", {}, 1002, "CLOSE frame is fragmented", id="fragmented close"),
    pytest.param(
        b"\x89\x7e\x00\x7e" + bytes(126), {}, 1002, "126 bytes, more than 125", id="ping of 126"
    ),
    pytest.param(
        b"\x8a\x7e\x00\x7e" + bytes(126), {}, 1002, "126 bytes, more than 125", id="pong of 126"
    ),
    pytest.param(b"\x81\x05Hello", {"role": "server"}, 1002, "unmasked", id="server gets unmasked"),
    pytest.param(MASKED_HELLO, {"role": "client"}, 1002, "masked", id="client gets masked"),
    pytest.param(b"\x88\x01\x03", {}, 1002, "close payload is 1 byte", id="close of 1 byte"),
    *[
        pytest.param(
            b"\x88\x02" + struct.pack("!H", code),
            {},
            1002,
            f"close code {code} is not allowed",
            id=f"close code {code}",
        )
        for code in INVALID_CLOSE_CODES
    ],
    pytest.param(b"\x88\x04\x03\xe8\xff\xfe", {}, 1007, "not valid UTF-8", id="close reason"),
    pytest.param(b"\x82\x05Hello", {"max_size": 4}, 1009, "max_size=4", id="over max_size"),
    pytest.param(
        # Rejected as soon as the length is known, before the payload arrives.
        b"\x82\x7f" + struct.pack("!Q", 2**32),
        {"max_size": 2**20},
        1009,
        "4294967296 bytes, more than max_size=1048576",
        id="over max_size, header only",
    ),
]

# websockets' Frame.parse doesn't check these; see test_oracles_disagree_on_length_encoding.
LENGTH_ERRORS = [
    pytest.param(b"\x82\x7e\x00\x7d" + bytes(125), {}, 1002, "fewest bytes", id="16 bits for 125"),
    pytest.param(
        b"\x82\x7f" + struct.pack("!Q", 65535) + bytes(65535),
        {},
        1002,
        "fewest bytes",
        id="64 bits for 65535",
    ),
    pytest.param(
        b"\x82\x7f" + struct.pack("!Q", 2**63), {}, 1002, "most significant bit", id="64-bit MSB"
    ),
]


@pytest.mark.parametrize(("data", "kwargs", "code", "message"), FRAME_ERRORS + LENGTH_ERRORS)
def test_decode_errors(data, kwargs, code, message):
    with pytest.raises(ProtocolError, match=message) as error:
        decode(data, **kwargs)
    assert error.value.code == code


@pytest.mark.parametrize(("data", "kwargs", "code", "message"), FRAME_ERRORS + LENGTH_ERRORS)
def test_reader_errors_one_byte_at_a_time(data, kwargs, code, message):
    reader = FrameReader(**kwargs)
    with pytest.raises(ProtocolError, match=message) as error:
        for index in range(len(data)):
            reader.feed(data[index : index + 1])
    assert error.value.code == code


@pytest.mark.parametrize(
    ("data", "kwargs", "code", "message"),
    [case for case in FRAME_ERRORS + LENGTH_ERRORS if "max_size" not in case.values[1]],
)
def test_wsproto_agrees_on_errors(data, kwargs, code, message):
    with pytest.raises(ParseFailed) as error:
        wsproto_receive(data, client=kwargs.get("role") != "server")
    assert error.value.code == code


@pytest.mark.parametrize(("data", "kwargs", "code", "message"), FRAME_ERRORS)
def test_websockets_agrees_on_errors(data, kwargs, code, message):
    """websockets' own protocol, open, receives the bytes: it fails with the same code."""
    side = Side.SERVER if kwargs.get("role") == "server" else Side.CLIENT
    protocol = Protocol(side, max_size=kwargs.get("max_size"))
    protocol.receive_data(data)
    assert protocol.close_sent is not None, "websockets accepted it"
    assert protocol.close_sent.code == code


def test_oracles_disagree_on_length_encoding():
    # RFC 6455 §5.2: "the minimal number of bytes MUST be used to encode the
    # length" and a 64-bit length's "most significant bit MUST be 0". wsproto
    # (and this module) reject frames that break these rules; websockets' parser
    # accepts a non-minimal length, and takes a length with the MSB set at face
    # value (2**63 bytes), waiting for data that will never come.
    non_minimal = b"\x82\x7e\x00\x05Hello"
    with pytest.raises(ParseFailed, match="1 would have sufficed"):
        wsproto_receive(non_minimal, client=True)
    assert bytes(websockets_parse(non_minimal, mask=False).data) == b"Hello"

    msb_set = b"\x82\x7f" + struct.pack("!Q", 2**63)
    with pytest.raises(ParseFailed, match="non-zero MSB"):
        wsproto_receive(msb_set, client=True)
    with pytest.raises(EOFError, match="expected 9223372036854775808 bytes"):
        websockets_parse(msb_set, mask=False)


def test_oracles_disagree_on_close_code_1014():
    # 1014 (Bad Gateway) was added to the IANA registry that RFC 6455 §11.7
    # created, after the RFC itself. §7.4.2 reserves 1000-2999 for codes defined
    # by the protocol and its extensions, and the registry defines 1014, so it is
    # valid on the wire: websockets (and this module) accept it, wsproto doesn't.
    data = b"\x88\x02" + struct.pack("!H", 1014)
    with pytest.raises(ParseFailed, match="unknown reserved code"):
        wsproto_receive(data, client=True)
    frame = websockets_parse(data, mask=False)
    assert websockets.frames.Close.parse(frame.data).code == 1014
    assert parse_close(decode(data)[0].payload) == (CloseCode.BAD_GATEWAY, "")


def test_allow_rsv1():
    assert decode(b"\xc1\x00", allow_rsv1=True) == (Frame(Opcode.TEXT, rsv1=True), 2)
    assert FrameReader(allow_rsv1=True).feed(b"\xc1\x00") == [Frame(Opcode.TEXT, rsv1=True)]


def test_role_none_accepts_masked_and_unmasked():
    assert decode(MASKED_HELLO)[0] == decode(b"\x81\x05Hello")[0] == Frame.text("Hello")


def test_max_size_is_inclusive():
    assert decode(b"\x82\x05Hello", max_size=5) == (Frame.binary(b"Hello"), 7)


# Rules that span frames, enforced by FrameReader.

MESSAGE_ERRORS = [
    pytest.param(
        [Frame(Opcode.CONTINUATION, b"lo")], 1002, "without a message", id="continuation first"
    ),
    pytest.param(
        [Frame.text("Hel", fin=False), Frame.text("lo")],
        1002,
        "TEXT frame in the middle of a fragmented TEXT message",
        id="text inside text",
    ),
    pytest.param(
        [Frame.binary(b"a", fin=False), Frame(Opcode.PING), Frame.binary(b"b")],
        1002,
        "expected CONTINUATION",
        id="binary inside binary",
    ),
    pytest.param([Frame(Opcode.TEXT, b"\xff")], 1007, "invalid start byte", id="invalid byte"),
    pytest.param([Frame(Opcode.TEXT, b"\xed\xa0\x80")], 1007, "UTF-8", id="surrogate"),
    pytest.param([Frame(Opcode.TEXT, b"\xc0\xaf")], 1007, "UTF-8", id="overlong"),
    pytest.param([Frame(Opcode.TEXT, b"\xf4\x90\x80\x80")], 1007, "UTF-8", id="above U+10FFFF"),
    pytest.param(
        [Frame(Opcode.TEXT, b"caf\xc3")], 1007, "unexpected end of data", id="truncated at the end"
    ),
    pytest.param(
        [Frame.text("a", fin=False), Frame(Opcode.CONTINUATION, b"\x80")],
        1007,
        "UTF-8",
        id="invalid continuation fragment",
    ),
    pytest.param(
        # Invalid bytes fail at once, without waiting for the end of the message.
        [Frame(Opcode.TEXT, b"\xff", fin=False)],
        1007,
        "invalid start byte",
        id="invalid first fragment",
    ),
]


@pytest.mark.parametrize(("stream", "code", "message"), MESSAGE_ERRORS)
def test_reader_message_errors(stream, code, message):
    reader = FrameReader()
    with pytest.raises(ProtocolError, match=message) as error:
        reader.feed(b"".join(encode(frame) for frame in stream))
    assert error.value.code == code


@pytest.mark.parametrize(
    "stream",
    [
        pytest.param(
            [Frame(Opcode.TEXT, b"caf\xc3", fin=False), Frame(Opcode.CONTINUATION, b"\xa9")],
            id="character split across fragments",
        ),
        pytest.param(
            [Frame.text("Hel", fin=False), Frame(Opcode.PING), Frame(Opcode.CONTINUATION, b"lo")],
            id="ping inside a message",
        ),
        pytest.param([Frame.binary(b"\xff\xfe")], id="binary is not UTF-8"),
    ],
)
def test_reader_accepts(stream):
    assert FrameReader().feed(b"".join(encode(frame) for frame in stream)) == stream


@settings(max_examples=50, deadline=None)
@given(stream=frame_streams(), mask=masks)
def test_reader_one_byte_at_a_time(stream, mask):
    data = b"".join(encode(frame, mask) for frame in stream)
    reader = FrameReader("server")
    received = [
        frame for index in range(len(data)) for frame in reader.feed(data[index : index + 1])
    ]
    assert received == stream


@settings(deadline=None)
@given(stream=frame_streams(), cuts=st.lists(st.integers(0, 2000)))
def test_reader_random_chunks(stream, cuts):
    data = b"".join(encode(frame) for frame in stream)
    bounds = [0, *sorted(min(cut, len(data)) for cut in cuts), len(data)]
    reader = FrameReader("client")
    received = [
        frame for start, end in itertools.pairwise(bounds) for frame in reader.feed(data[start:end])
    ]
    assert received == stream


# What receive() tells about each frame: its header on the wire and its message.

# "café!" in two fragments, the "é" split between them, a ping in between; then a
# binary message and a close. Hand-built, as they would arrive from a client and a server.
SESSION = [
    (b"\x01\x04caf\xc3", "caf"),  # TEXT, FIN 0, 4 bytes; the é waits for its second byte
    (b"\x89\x02hi", None),  # PING between the fragments
    (b"\x80\x02\xa9!", "é!"),  # CONTINUATION, FIN 1
    (b"\x82\x03\x00\x01\x02", None),  # BINARY
    (b"\x88\x02\x03\xe8", None),  # CLOSE 1000
]
MESSAGES = [Opcode.TEXT, None, Opcode.TEXT, Opcode.BINARY, None]
KEY = b"\x37\xfa\x21\x3d"


def masked(wire: bytes, key: bytes = KEY) -> bytes:
    """The same frame as a client sends it: MASK set, the payload XORed with ``key``."""
    header = read_header(wire)
    payload = wire[header.size :]
    return bytes([wire[0], wire[1] | 0x80]) + wire[2 : header.size] + key + apply_mask(payload, key)


@pytest.mark.parametrize("role", ["client", "server"])
def test_receive_at_every_byte_boundary(role):
    wires = [masked(wire) if role == "server" else wire for wire, _ in SESSION]
    data = b"".join(wires)
    for cut in range(len(data) + 1):
        reader = FrameReader(role)
        received = [*reader.receive(data[:cut]), *reader.receive(data[cut:])]
        assert [item.frame for item in received] == [decode(wire)[0] for wire in wires]
        assert [item.header.frame_size for item in received] == [len(wire) for wire in wires]
        assert [item.header.mask for item in received] == [KEY if role == "server" else None] * 5
        assert [item.message for item in received] == MESSAGES
        assert [item.text for item in received] == [text for _, text in SESSION]


def test_receive_one_byte_at_a_time_gives_each_frame_once():
    data = b"".join(wire for wire, _ in SESSION)
    reader = FrameReader("client")
    received = [item for byte in data for item in reader.receive(bytes([byte]))]
    assert [item.frame.opcode for item in received] == [
        Opcode.TEXT, Opcode.PING, Opcode.CONTINUATION, Opcode.BINARY, Opcode.CLOSE
    ]  # fmt: skip


def test_receive_marks_a_compressed_message():
    # RSV1 on the first frame only (RFC 7692 §6); the payload is not UTF-8 until inflated.
    data = b"\x41\x02\xff\xfe" + b"\x80\x01\xfd"
    first, second = FrameReader("client", allow_rsv1=True).receive(data)
    assert (first.compressed, second.compressed) == (True, True)
    assert (first.text, second.text) == (None, None)
    assert second.message is Opcode.TEXT and not second.frame.rsv1


def test_receive_yields_the_frames_before_an_error():
    reader = FrameReader("client")
    frames = reader.receive(b"\x81\x02ok" + b"\x80\x01x")  # a CONTINUATION with no message
    assert next(frames) == Received(
        Frame.text("ok"), read_header(b"\x81\x02"), Opcode.TEXT, text="ok"
    )
    with pytest.raises(ProtocolError, match="CONTINUATION frame without a message"):
        next(frames)


def test_read_header_reads_without_checking():
    header = read_header(b"\xf3\xfe\x01\x00" + KEY)  # every bit set, opcode 3 is reserved
    assert (header.fin, header.rsv1, header.rsv2, header.rsv3) == (True, True, True, True)
    assert (header.opcode, header.mask, header.length, header.size) == (3, KEY, 256, 8)
    assert header.frame_size == 264
    with pytest.raises(IncompleteFrame):
        read_header(b"\x81\xfe\x01\x00")  # the masking key has not arrived


# Round trips.


@settings(deadline=None)
@given(frame=frames(), mask=st.none() | masks, rsv1=st.booleans(), data=st.data())
def test_round_trip(frame, mask, rsv1, data):
    frame = dataclasses.replace(frame, rsv1=rsv1)
    wire = encode(frame, mask)
    role = "client" if mask is None else "server"
    assert decode(wire + b"\x81\x00", role=role, allow_rsv1=True) == (frame, len(wire))
    cut = data.draw(st.integers(0, len(wire) - 1))
    with pytest.raises(IncompleteFrame):
        decode(wire[:cut], role=role, allow_rsv1=True)


@settings(deadline=None)
@given(frame=frames(), mask=st.none() | masks)
def test_websockets_reads_our_frames(frame, mask):
    parsed = websockets_parse(encode(frame, mask), mask=mask is not None)
    assert (parsed.opcode, bytes(parsed.data), parsed.fin) == (
        frame.opcode,
        frame.payload,
        frame.fin,
    )


@settings(deadline=None)
@given(frame=frames(), masked=st.booleans())
def test_we_read_websockets_frames(frame, masked):
    theirs = websockets.frames.Frame(
        websockets.frames.Opcode(frame.opcode), frame.payload, frame.fin
    )
    data = theirs.serialize(mask=masked, extensions=[])
    assert decode(data, role="server" if masked else "client") == (frame, len(data))


@settings(deadline=None)
@given(
    # A lone CONTINUATION frame breaks a message-level rule, and wsproto refuses
    # close code 1014 (see test_oracles_disagree_on_close_code_1014).
    frame=frames(
        opcodes=[opcode for opcode in Opcode if opcode is not Opcode.CONTINUATION],
        close_codes=[code for code in VALID_CLOSE_CODES if code != 1014],
    ),
    mask=st.none() | masks,
)
def test_wsproto_reads_our_frames(frame, mask):
    (parsed,) = wsproto_receive(encode(frame, mask), client=mask is None)
    assert (parsed.opcode, parsed.frame_finished, parsed.message_finished) == (
        frame.opcode,
        True,
        frame.fin,
    )
    # wsproto hands over text already decoded, and close payloads already parsed.
    if frame.opcode is Opcode.TEXT:
        assert parsed.payload == frame.payload.decode()
    elif frame.opcode is Opcode.CLOSE:
        assert parsed.payload == parse_close(frame.payload)
    else:
        assert parsed.payload == frame.payload


def test_wsproto_reads_our_fragmented_message():
    data = bytes.fromhex("01 03 48 65 6c 80 02 6c 6f")
    parsed = wsproto_receive(data, client=True)
    # wsproto reports the message's opcode on every fragment.
    assert [(frame.opcode, frame.payload, frame.message_finished) for frame in parsed] == [
        (Opcode.TEXT, "Hel", False),
        (Opcode.TEXT, "lo", True),
    ]


@settings(deadline=None)
@given(
    pieces=st.lists(st.text(max_size=30), min_size=1, max_size=4)
    | st.lists(st.binary(max_size=300), min_size=1, max_size=4),
    ping=st.binary(max_size=125),
    client=st.booleans(),
)
def test_we_read_wsproto_frames(pieces, ping, client):
    sender = FrameProtocol(client=client, extensions=[])
    data = b""
    for index, piece in enumerate(pieces):
        data += sender.send_data(piece, fin=index == len(pieces) - 1) + sender.ping(ping)
    data += sender.close(CloseCode.GOING_AWAY, "bye")

    received = FrameReader("server" if client else "client").feed(data)

    messages = [frame for frame in received if not frame.opcode.is_control]
    opcode = Opcode.TEXT if isinstance(pieces[0], str) else Opcode.BINARY
    assert [frame.opcode for frame in messages] == [opcode] + [Opcode.CONTINUATION] * (
        len(pieces) - 1
    )
    assert [frame.fin for frame in messages] == [False] * (len(pieces) - 1) + [True]
    joined = "".join(pieces).encode() if opcode is Opcode.TEXT else b"".join(pieces)
    assert b"".join(frame.payload for frame in messages) == joined
    assert [frame.payload for frame in received if frame.opcode is Opcode.PING] == [ping] * len(
        pieces
    )
    assert parse_close(received[-1].payload) == (CloseCode.GOING_AWAY, "bye")


# Close payloads (RFC 6455 §5.5.1, §7.4).


def test_parse_close_empty_payload():
    assert parse_close(b"") == (CloseCode.NO_STATUS_RCVD, "")


@pytest.mark.parametrize("code", VALID_CLOSE_CODES)
def test_close_payload_round_trip(code):
    payload = close_payload(code, "bye ✓")
    assert payload == struct.pack("!H", code) + "bye ✓".encode()
    assert parse_close(payload) == (code, "bye ✓")


def test_parse_close_returns_known_codes_as_close_codes():
    assert parse_close(b"\x03\xe8") == (CloseCode.NORMAL_CLOSURE, "")
    assert isinstance(parse_close(b"\x03\xe8")[0], CloseCode)
    assert type(parse_close(b"\x0f\xa0")[0]) is int  # 4000, an application's code


@pytest.mark.parametrize("code", INVALID_CLOSE_CODES[:-1])
def test_close_payload_refuses_codes_not_allowed_on_the_wire(code):
    with pytest.raises(ValueError, match=f"close code {code} must not be sent"):
        close_payload(code)


def test_close_payload_refuses_long_reasons():
    assert len(close_payload(1000, "x" * 123)) == 125
    with pytest.raises(ValueError, match="124 bytes in UTF-8, more than 123"):
        close_payload(1000, "x" * 124)


def test_frame_constructors():
    assert Frame.text("é") == Frame(Opcode.TEXT, b"\xc3\xa9")
    assert Frame.binary(b"\x00", fin=False) == Frame(Opcode.BINARY, b"\x00", fin=False)
    assert Frame.close() == Frame(Opcode.CLOSE, b"\x03\xe8")
    assert Frame.close(CloseCode.GOING_AWAY, "bye") == Frame(Opcode.CLOSE, b"\x03\xe9bye")


# explain().


def test_explain_masked_hello():
    explanation = explain(MASKED_HELLO, role="server")
    rows = {row[0]: row[1:] for row in explanation.rows}
    assert list(rows) == [
        "FIN",
        "RSV1",
        "RSV2",
        "RSV3",
        "opcode",
        "MASK",
        "payload length",
        "masking key",
        "payload (masked)",
        "payload",
    ]
    assert rows["FIN"] == ("1", "True", "1 = last frame of the message")
    assert rows["RSV1"] == ("0", "False", "0 = no extension")
    assert rows["opcode"] == ("0001", "TEXT", "0x1 = text frame")
    assert rows["MASK"] == ("1", "True", "1 = masked (client to server)")
    assert rows["payload length"] == ("0000101", "5", "5 bytes")
    assert rows["masking key"][:2] == ("00110111 11111010 00100001 00111101", "37 fa 21 3d")
    assert rows["payload (masked)"][1] == "7f 9f 4d 51 58"
    assert rows["payload"][0] == "01001000 01100101 01101100 01101100 …"
    assert rows["payload"][1:] == ("'Hello'", "5 bytes of UTF-8 text")
    assert explanation.verdict == "valid frame, 11 bytes"


def test_explain_text_table():
    text = str(explain(MASKED_HELLO))
    lines = text.splitlines()
    assert lines[0].split() == ["field", "bits", "value", "meaning"]
    assert set(lines[1]) == {"-", " "}
    opcode_line = next(line for line in lines if line.startswith("opcode"))
    assert opcode_line.index("0001") == lines[0].index("bits")
    assert opcode_line.index("TEXT") == lines[0].index("value")
    assert lines[-1] == "valid frame, 11 bytes"
    assert repr(explain(MASKED_HELLO)) == text


def test_explain_html_is_escaped():
    page = explain(encode(Frame.text("<b>&")))._repr_html_()
    assert page.startswith("<table>")
    assert "<th>meaning</th>" in page
    assert "&#x27;&lt;b&gt;&amp;&#x27;" in page
    assert "<b>" not in page


def test_explain_extended_length_and_long_payload():
    explanation = explain(encode(Frame.binary(bytes(256))))
    rows = {row[0]: row[1:] for row in explanation.rows}
    assert rows["payload length"] == ("1111110", "126", "126 = the next 16 bits hold the length")
    assert rows["extended payload length"] == ("00000001 00000000", "256", "256 bytes")
    assert rows["payload"][1] == "00 " * 15 + "00 …"


def test_explain_continuation_frame():
    rows = {row[0]: row[1:] for row in explain(bytes.fromhex("80 02 6c 6f")).rows}
    assert rows["opcode"] == ("0000", "CONTINUATION", "0x0 = continuation of a fragmented message")
    assert rows["payload"][1:] == ("6c 6f", "2 bytes")


def test_explain_close_frame():
    rows = {row[0]: row[1:] for row in explain(encode(Frame.close(1000, "bye"))).rows}
    assert rows["payload"][2] == "close code 1000 NORMAL_CLOSURE, reason 'bye'"


@pytest.mark.parametrize(
    ("data", "role", "verdict"),
    [
        pytest.param(
            b"\x83\x00", None, "invalid: reserved opcode 0x3 (close code 1002", id="opcode"
        ),
        pytest.param(
            b"\x81\x05Hello", "server", "invalid: a server must not receive an unmasked", id="mask"
        ),
        pytest.param(b"\x81\x01\xff", None, "valid frame, 3 bytes", id="UTF-8 is a message rule"),
        pytest.param(b"\x88\x01\x03", None, "invalid: close payload is 1 byte", id="close"),
    ],
)
def test_explain_verdict(data, role, verdict):
    assert explain(data, role=role).verdict.startswith(verdict)


def test_explain_incomplete_frame():
    with pytest.raises(IncompleteFrame):
        explain(MASKED_HELLO[:-1])


def test_reader_leaves_compressed_text_to_the_extension() -> None:
    # RFC 7692 §6: with RSV1 set, a text message's payload is deflated, so it is UTF-8 only
    # after inflating; the reader must not reject it as invalid UTF-8 (1007).
    deflated = b"\xf2\x48\xcd\xc9\xc9\x07\x00"  # "Hello" deflated (RFC 7692 §7.2.3.1)
    reader = FrameReader("client", allow_rsv1=True)
    frames = reader.feed(encode(Frame(Opcode.TEXT, deflated, rsv1=True)))
    assert [frame.payload for frame in frames] == [deflated]
    with pytest.raises(ProtocolError) as error:
        FrameReader("client").feed(encode(Frame(Opcode.TEXT, b"\xff")))
    assert error.value.code == CloseCode.INVALID_DATA


def test_the_codec_imports_only_the_standard_library() -> None:
    """frames.py and handshake.py are sans-I/O: beyond the package's top level, importing
    them loads the standard library and ``ws_lessons.exceptions`` (which imports nothing)."""
    code = (
        "import sys, ws_lessons; before = set(sys.modules)\n"
        "import ws_lessons.frames, ws_lessons.handshake\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ours = {"ws_lessons.frames", "ws_lessons.handshake", "ws_lessons.exceptions"}
    loaded = set(run.stdout.split())
    assert "ws_lessons.frames" in loaded
    outside = {
        name for name in loaded - ours if name.partition(".")[0] not in sys.stdlib_module_names
    }
    assert not outside, f"the codec imports {sorted(outside)}"
