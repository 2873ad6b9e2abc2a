"""One Chinese term per concept: the glossary's choice is the only rendering in the edition.

Each row names a concept, the rendering the glossary (``notebooks/zh/glossary.md``) chose, and
the renderings a translator might reach for instead. The lessons' Chinese text, the glossary
and the catalogue's translations must use the first and none of the others.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import nbformat
import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
ZH = ROOT / "notebooks" / "zh"
CATALOGUE = ROOT / "ws_lessons" / "locale" / "zh_CN" / "LC_MESSAGES" / "ws_lessons.po"

# concept: (the chosen rendering, renderings that must not appear, as regular expressions)
TERMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "sans-I/O": ("无 I/O", ("沙箱无关",)),
    "wire format": ("传输格式", ("有线格式", "线路格式")),
    "on the wire": ("传输", ("在线路上", "线路上")),
    "opening handshake": ("开启握手", ("打开握手", "起始握手", "开始握手")),
    "closing handshake": ("关闭握手", ("结束握手",)),
    "Sec-WebSocket-Key": ("key", ("键之后", "键（key）", "键和 GUID", "客户端的键")),
    "hub": ("hub", ("中心（hub）", "集线器")),
    "feed": ("推送流", ("事件流（feed）", "订阅源", "数据流（feed）")),
    "release notes": ("发布说明", ("发行说明", "版本说明")),
    "payload": ("载荷", ("有效载荷", "有效负载", "负载（payload）")),
    "masking key": ("掩码键", ("掩码密钥",)),
    "mask": ("掩码", ("遮罩", "掩蔽")),
    "opcode": ("操作码", ("操作代码", "运算码")),
    "fragmentation": ("分片", ("碎片化",)),
    "close code": ("关闭码", ("关闭代码", "关闭状态码")),
    "backpressure": ("背压", ("反压",)),
    "high-water mark": ("高水位线", ("高水位标记", "高水位标志")),
    "subprotocol": ("子协议", ("次协议",)),
    "endpoint": ("端点", ("终结点", "终端点")),
    "middleware": ("中间件", ("中介软件",)),
    "broker": ("消息代理", ("消息中间人", "经纪人", r"(?<!消息)代理（broker）")),
    "dashboard": ("仪表盘", ("看板",)),
    "frame header": ("帧头", ("帧头部", "帧的头部")),
    "wire tap": ("窃听器", ("线路窃听器",)),
    "at most once": ("最多一次", ("至多一次",)),
    "worker": ("工作进程", ("工作者进程", "工人进程")),
    "reconnect": ("重连", ("重新连线",)),
    "backoff": ("退避", ("回退（backoff）",)),
    "token": ("令牌", ("记号（token）", "凭证（token）")),
    "loopback": ("回环地址", ("环回地址", "本地回环")),
    "outbox": ("发件箱", ("发送箱", "出站队列")),
    "contract": ("协议约定", ("契约",)),
    "exercise": ("练习", ("习题",)),
    "cell": ("单元格", ("代码格",)),
    "sequence number": ("序号", ("序列号",)),
    "rate limiting": ("限流", ("速率限制",)),
    "answer (a check's question)": ("回答", ("作答",)),
}


def markdown_of(path: Path) -> str:
    notebook = nbformat.read(path, as_version=4)
    return "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")


@cache
def texts() -> dict[str, str]:
    """Every Chinese text of the edition, by where it comes from."""
    found = {f"zh/{path.name}": markdown_of(path) for path in sorted(ZH.glob("*.ipynb"))}
    found["zh/glossary.md"] = (ZH / "glossary.md").read_text(encoding="utf-8")
    with CATALOGUE.open("rb") as file:
        messages = [message for message in read_po(file) if message.id]
    found["catalogue"] = "\n".join(str(message.string) for message in messages)
    return found


def test_the_glossary_holds_every_chosen_term() -> None:
    glossary = (ZH / "glossary.md").read_text(encoding="utf-8")
    missing = [concept for concept, (chosen, _) in TERMS.items() if chosen not in glossary]
    assert not missing, f"the glossary does not choose a rendering for: {missing}"


@pytest.mark.parametrize("concept", TERMS)
def test_one_rendering_per_concept(concept: str) -> None:
    _, rejected = TERMS[concept]
    pattern = re.compile("|".join(rejected))  # each a regular expression
    found = [
        f"{where}: …{text[max(0, hit.start() - 20) : hit.end() + 20]}…"
        for where, text in texts().items()
        for hit in pattern.finditer(text)
    ]
    assert not found, f"{concept} is written {TERMS[concept][0]!r} in the glossary:\n" + "\n".join(
        found
    )
