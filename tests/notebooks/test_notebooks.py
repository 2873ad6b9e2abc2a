"""Every lesson runs as a learner runs it, and shows what its prose says it shows.

An English lesson runs top to bottom in a fresh kernel, then a second time in the same
kernel; its Chinese twin (``notebooks/zh/``, the same code cells) runs once, fresh, behind a
proxy that answers nothing (many of the edition's readers work behind one): here, or in
JupyterLab when the lesson shows the browser a page of its own (``test_jupyterlab.py``, which
checks its run with :func:`check_twin`). Each kernel starts in its notebook's folder, as
Jupyter starts it, so in ``notebooks/zh`` the package prints its messages in Chinese.

No cell may raise, and every run is read as a learner reads it (:func:`problems`): nothing
on stderr but the lines a lesson prints there on purpose (``EXPECTED_STDERR``), no exercise
check that crashed or printed no verdict, and, in CI, no part of a lesson skipped because a
program is missing. Each lesson's key results (``KEY_RESULTS``) must be among its outputs.

The first run of each English lesson is kept for the whole test run (:func:`first_run`):
``test_lesson_facts.py`` reads it instead of executing the lesson again.

Lessons 09 to 14 write one project, the learner's chat (``ws_lessons/project.py``). The
lessons a test worker runs share one workspace per edition, in order, as a learner runs them,
so lesson 10 extends what lesson 09 wrote; a lesson run alone lays the earlier lessons down
itself.
"""

from __future__ import annotations

import atexit
import copy
import os
import re
import shutil
import tempfile
from pathlib import Path

import nbformat
import pytest
from conftest import missing
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

FOLDER = Path(__file__).resolve().parents[2] / "notebooks"
LESSONS = sorted(FOLDER.glob("[0-9]*.ipynb"))
TWINS = sorted((FOLDER / "zh").glob("[0-9]*.ipynb"))
NOTEBOOKS = LESSONS + TWINS
RUNS = ("in a fresh kernel", "again in the same kernel")

# Proxies that answer nothing: port 9 (discard) listens nowhere here. The Chinese twins run
# behind them; ws_lessons, imported by their first cell, makes loopback bypass them and says so.
DEAD_PROXIES = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "all_proxy": "socks5://127.0.0.1:9",
}
PROXY_NOTICE = re.compile(r"^ws_lessons：这个环境设置了代理；127\.0\.0\.1、localhost 和 ::1", re.M)
SHOWS_A_PAGE = re.compile(r"IFrame|HTML\(|display\(|Markdown\(|page\(|page_url")
ALWAYS_SHOWN = ("00", "06", "07")  # the first lesson, 06's diagrams, 07's screenshot

# What a lesson prints on stderr on purpose, as regexes matched against each stderr line.
# Anything else there (a warning, a traceback from a thread, a library's complaint) fails it.
# Key: the lesson's stem; "*" applies to every lesson. Today no lesson writes to stderr: the
# servers' log lines (uvicorn's INFO lines too) go to their handles, and cells print them.
# Add a line here, with a comment saying why, e.g. "09_realtime_chat": (r"^INFO:  ...",).
EXPECTED_STDERR: dict[str, tuple[str, ...]] = {
    "*": (),
}

# The facts each lesson's prose relies on, as regexes searched in what its code cells
# printed (stdout, stderr and displayed text, every cell joined). Keep them robust to what
# changes from run to run (ports, timings, keys), and update them with the lesson's prose.
# A label the cells print with tr() is Chinese in the twin: match it in both languages.
KEY_RESULTS: dict[str, tuple[str, ...]] = {
    "00_start_here": (  # the first conversation
        r"(?:server → client:|服务器 → 客户端：) you said 'hello'",
        r"(?:the server received:|服务器收到：) \['hello', 'are you there\?'\]",
    ),
    "01_http_limits": (  # a poll answers only what it is asked, and costs headers for nothing
        r"0\.5 s of silence: the server had news but no request to answer"
        r"|0\.5 秒内没有任何数据：服务器有新消息，却没有请求可以回应",
        r"after 0\.5 s, answered yet\? False|0\.5 秒后，收到响应了吗？False",
        r"on the wire: \d+ bytes up, \d+ bytes down, for no news at all"
        r"|实际传输：上行 \d+ 字节，下行 \d+ 字节，却没有任何新消息",
    ),
    "02_why_websockets": (  # SSE's content type; permessage-deflate offered and accepted
        r"200 text/event-stream",
        r"(?:the server accepted:|服务器接受：) permessage-deflate",
    ),
    "03_fastapi_primer": (  # validation before the function runs; a dependency's 401
        r"GET /items/forty-two\s+-> 422",
        r"the server kept: 1 order\(s\): the function never ran"
        r"|服务器保存了 1 个订单：函数根本没有运行",
        r"401 \{'detail': 'missing or wrong X-Token'\}",
    ),
    "04_handshake": (  # the Accept key computed by hand is the one the server sent
        r"3\. base64\s+(\S+)\n\s+(?:server sent|服务器发来)\s+\1\n",
        r"s3pPLMBiTxaQ9kYGzzhZRbK\+xOo= (?:matches the RFC:|与 RFC 一致：) True",
        r"101 Switching Protocols: (?:the client accepts|客户端接受)",
    ),
    "05_frames": (  # unmasking by hand; a TEXT frame inside a fragmented message is a 1002
        r"(?:unmasked|去掩码后)\s+b'hello'",
        r"expected CONTINUATION -> (?:close with|用关闭码) 1002",
        r"(?:RSV1 on any frame:|是否有帧设置了 RSV1：) False",
    ),
    "06_own_server": (  # the from-scratch server passes its own tests; too big is 1009
        r"(?:your server:|你的服务器：)\n(?:  OK .*\n)+(?:  8 of 8 passed|  8 个用例通过了 8 个)",
        r"MESSAGE_TOO_BIG: 1009",
    ),
    "07_fastapi_endpoint": (  # validation refuses the handshake with 403; 1006 on send
        r"/rooms/7\s+-> (?:refused with HTTP|握手被拒绝：HTTP) 403",
        r"(?:wrong password -> handshake refused with HTTP|密码错误 -> 握手被拒绝：HTTP) 403",
        r"sending tick 2 raised code 1006",
    ),
    "08_integration_config": (  # ws_max_size's 1009; shutdown's 1012; the keepalive's 1011
        r"(?:client closed with:|客户端收到的关闭帧：) 1009",
        r"(?:the client was closed with|客户端收到的关闭帧：) 1012 \(service restart\)",
        r"CLOSE 1011 'keepalive ping timeout'",
    ),
    "09_realtime_chat": (  # one stalled client stops the naive room; the hub lets it go
        r"alice (?:received fewer than 300 messages:|收到的消息少于 300 条：) True",
        # the hub drops the stalled client only: Alice paces herself (ahead=20), so a busy
        # machine cannot make her and Bob fall an outbox behind
        r"alice (?:received 300 of 300 messages|收到 300 条消息中的 300 条)\n"
        r"bob   (?:received 300 of 300 messages|收到 300 条消息中的 300 条)\n"
        r"(?:the hub's members now:|hub 现在的成员：) \['alice', 'bob'\]",
        r"(?:closed with|关闭码) 1013",
        # the page (the learner's handlers.js) comes back after a restart with ?since= and
        # shows the message said meanwhile, and the replayed hello only once
        r"(?:it came back with|它重新连接时带上了) since=1\n"
        r"(?:after the restart the page shows:|重启之后页面显示：) \['ada joined', "
        r"'ada hello, page', 'ada left', 'announcer while you were away'\]",
        # the learner's project, imported as lessons 10-14 import it, passes the contract
        r"(?:both pass:|两者都通过：) True",
        r"grace <- \{'type': 'welcome', 'room': 'lobby', 'user': 'grace', 'seq': 0, "
        r"'members': \['ada', 'grace'\]\}",
    ),
    "10_security": (  # a forged token and a third connection get 403; a foreign page 1006;
        # a denial response is logged as INFO, HTTPException after accept() as an ERROR;
        # the reference chat accepts its own page and closes a third tab with 1008
        r"forged\s+-> refused: HTTP 403",
        r"(?:a third one|第三个连接) -> refused: HTTP 403",
        r"attacker: the page saw close 1006: refused",
        r"INFO\s+uvicorn\.error: connection rejected \(401 Unauthorized\)",
        r"ERROR\s+uvicorn\.error: Exception in ASGI application\n\s+fastapi\.exceptions\.HTTPExc",
        r"yours\s+(?:its own page:|它自己的页面：) refused: HTTP 403",
        r"reference (?:its own page:|它自己的页面：) welcome as dora\n"
        r"\s+(?:a third tab: |第三个标签页：) accepted, then closed 1008",
    ),
    "11_reliability": (  # pings; the drain's 1001, refusal and spread; a mid-stream kill of
        # the learner's server, resumed with no repeat and no gap; check_chat on the project
        r"(?:the quiet client was told:|不回应 ping 的客户端收到：) close 1011 "
        r"'keepalive ping timeout'",
        r"(?:uvicorn alone:|只用 uvicorn：) 1012 .*\n"
        r"(?:with drain\(\):|加上 drain\(\)：)\s+1001 'the server is shutting down'",
        r"(?:a newcomer during the drain: refused, |排空期间新来的连接：被拒绝，)HTTP 403\n"
        r"(?:close codes heard:|收到的关闭码：) \[1001\]",
        r"(?:mid-stream: |发生在中途：)True",
        r"(?:no repeat, no gap:|不重不漏：) True  (?:gaps:|缺口：) \[\]\n"
        r"(?:the same as in the file:|与文件中的一致：) True",
        r"(?:terminate\(\): the listener heard|terminate\(\)：监听的客户端收到) 1001 "
        r"'the server is shutting down'",
        r"(?:both pass:|两者都通过：) True",
    ),
    "12_testing": (  # the project's own tests pass; TestClient has no ws_max_size
        r"(?m)^8 passed$",  # tests/test_contract.py
        r"TestClient:\s+got 2,000,000 characters",
        r"(?:real server:\s+closed with|真实服务器：\s+用关闭码) 1009",
        r"(?:test 2:|测试 2：) RuntimeError: .* is bound to a different event loop",
        r"Failed: Timeout \(>2\.0s\) from pytest-timeout",
        # short, far below 1,000
        r"st\.text\(max_size=LIMIT\):\s+(?:longest of 60:|60 个样例中最长的：)\s+\d\d?\n",
        r"(?:a length, then a text of it: longest of 60:|先取长度，再生成该长度的文本："
        r" 60 个样例中最长的：)\s+(9\d\d|1000)\n",
        r"Highest target score: 1000 ",  # the property test tried a text at the limit
        r"(?m)^(1[2-9]|[2-9]\d) passed(, [1-9] skipped)?$",  # python -m pytest -q tests
        r"(?:both pass:|两者都通过：) True",  # check_chat: the learner's chat and the reference
    ),
    "13_scaling_deployment": (  # the learner's chat: two processes are two chats until
        # their Redis broker makes one; it lives through Redis stopping; nginx balances
        r"(?:ada got:|ada 收到：) \('ada', 'hello, anyone\?', 1\)\n(?:bob got:|bob 收到：) None",
        r"(?:ada got:|ada 收到：) (\('ada', 'hello, anyone\?', 1\) \('bob', .+, 2\))\n"
        r"(?:bob got:|bob 收到：) \1\n",
        r"(?:Redis stopped\. B available:|Redis 已停止。B 可用：) False - "
        r"Redis is unreachable \(ConnectionError\)",
        r"(?:B heard:|B 收到：) \[\(4, 'heard by both'\), \(5, 'after the outage'\)\]",
        r"needs --redis: each process has its own rooms\nStarted parent process: 1x\n"
        r"Started server process: 2x",
        r"process A handled 1 of the 2 connections\nprocess B handled 1 of the 2"
        r"|进程 A 处理了 2 个连接中的 1 个\n进程 B 处理了 2 个连接中的 1 个",
        r"(?:yours:|你的：) True  (?:the reference:|参考实现：) True",
    ),
    "14_production": (  # the learner's project: probes, Redis outage, drain, nginx, wss only
        r"HEALTHCHECK python -m mychat\.probe /livez -> exit 0",
        r"(?:Redis stopped:|Redis 已停止：) /readyz 503 \{'status': 'not ready', 'reason': '.+'\}",
        r"(?:replayed seq|重放的 seq) \[1, 2, 3, 4, 5\]\n"
        r"(?:the same process serves again: seq|同一个进程恢复服务：seq) 6",
        r"(?:tracebacks in its log:|日志中的回溯数：) 0",
        r"(?:every client closed|每个客户端都被关闭) \(1001, '.*'\) (?:at|时间点) \[",
        r"exited 0 after [0-2]\.[0-9] s \(grace 3 s\)"
        r"|[0-2]\.[0-9] 秒后退出，退出码 0（宽限期 3 秒）",
        r"(?:served by|由这些进程服务：) \['A', 'B', 'A', 'B'\]",
        r"30 of 30 clients got seq \d+ to \d+ exactly once, in order\nprocess A exited 0"
        r"|30 个客户端中有 30 个按顺序、不重不漏地收到了 seq \d+ 到 \d+\n进程 A 已退出，退出码 0",
        r"new WebSocket\('ws://chat\.test:PORT/ws/lobby'\) -> SecurityError",
        r"11 of 11 clauses|11 条条款中有 11 条",  # check_chat on the learner's final app
    ),
    "15_beyond_http1": (  # Hypercorn allows the extended CONNECT and answers 200; Granian not
        r"(?:setting |设置项  ) 00 08 00 00 00 01",
        r"\(':status', '200'\)",
        r"(?:the server allows the extended CONNECT:|服务器是否允许扩展 CONNECT：) 0\n"
        r"\[.*<StreamReset stream_id:1",
    ),
}

# An exercise check's call, and the verdict line it prints (English or Chinese).
CHECK_CALL = re.compile(r"^[^#\n]*\bcheck_(?:\d\d_\d+|chat)\(", re.MULTILINE)
VERDICT = re.compile(r"^(?:Exercise|练习) [\w.]+ (?:✅|❌|⏭️)", re.MULTILINE)
CHECK_CRASHED = re.compile(r"checking raised|检查时出现|the check could not run|检查无法运行")
# A part of a lesson skipped because a program is missing (the package's notices, and the
# "(needs nginx) ..." lines lessons print instead of a result).
SKIPPED = re.compile(r"is not installed|^\(needs |⏭️|未安装|已跳过", re.MULTILINE)

# The twins whose output is read for English labels (english_labels), and the lines of
# theirs that are data, not labels: what a learner's chat sent, a program's own words.
LABELS_IN_CHINESE: dict[str, tuple[str, ...]] = {
    "00_start_here": (
        r"^with nest_asyncio, uvicorn\.run\(\) still failed",  # a separate Python's output
        r"^async with httpx\.AsyncClient\(\)",  # a line of code the lesson shows
    ),
    # the transports' names in the package's measurement tables (its plots' legends too,
    # which stay English: no CJK font)
    "01_http_limits": (r"^(?:short polling every \d+ ms|long polling) ",),
    "02_why_websockets": (r"^(?:short polling every \d+ ms|long polling) ",),
    "03_fastapi_primer": (),
    "04_handshake": (),
    "05_frames": (
        r"^(?:[0-9a-f]{2} )+[0-9a-f]{2}$",  # a frame's bytes in hex
        r"^key\s+(?:[0-9a-f]{2} ){3}[0-9a-f]{2}$",  # the masking key ("key" is the term)
        r"^[A-F]  +\d+ bytes  (?:[0-9a-f]{2} )",  # the exercise's frames, in hex
    ),
    "06_own_server": (
        r"^  (?:OK    |FAILED) ",  # the lesson's own test cases, named in its OWN_CASES
        r"^\s*\d+(?:\.\d+)+: ",  # an Autobahn case and its description
        r"^\d+ [a-z][a-z ]+ +\d+ (?:OK|NON-STRICT|FAILED)",  # Autobahn's sections, its results
        r"^[A-Z]+ (?:fin|not fin) b",  # the exercise's frames: opcode, FIN bit, payload
    ),
    "07_fastapi_endpoint": (
        r"^Ada joined room \d+$",  # what the lesson's endpoint sends
        r"^from a blocking client$",  # what the blocking client sent, echoed
        # the exercise's code, as inspect shows it
        r"^ {4,}(?:async def \w+\(websocket|await websocket\.|return app$|# )",
    ),
    "08_integration_config": (r"^  \d\. (?:startup|websocket|shutdown)\b",),  # the app's events
    "10_security": (  # what the lesson's own functions return, and what programs print
        r"the page (?:saw close \d+: refused|read \[)",  # hijack()
        r"^(?:\S.* +-> )?(?:refused: HTTP \d+|welcome as \w+|accepted, then closed \d+.*)$",
        r"^after [\d.]+ s: .* \(x\d+\)$",  # slowloris()
        r"bytes wait in the server for a client$",  # ping_flood()
        r"^parse\(\): ",  # the project's parse(): its error detail
        r"^ {4,}(?:async def __call__|if scope\[|await self\.app\()",  # source, as inspect shows it
        r"^\s+fastapi\.exceptions\.HTTPException: ",  # a traceback's last line
        r"^uvicorn [\d.]+ · h11 [\d.]+ · ",  # software versions
    ),
    "11_reliability": (  # the log the learner's client keeps (its code: mychat/client.py)
        r"^\s*(?:welcome with since=|closed by the server: |no connection: |attempt failed: "
        r"|lost: no close frame|waited \d)",
    ),
    "12_testing": (
        r"^starlette [\d.]+: \(self, ",  # a signature, as inspect shows it
        r"^- Highest target score: ",  # Hypothesis's statistics
    ),
    "15_beyond_http1": (r"^\s+\d+\s+[→←]\s+\d+\s+[A-Z_]+ ",),  # the tap's HTTP/2 frames
    "13_scaling_deployment": (
        r"^Started (?:parent|server) process: \d+x$",  # uvicorn's log lines, counted
        r"^\s*[a-z_]+ [^#]*[;{](?:\s+#.*)?$",  # an nginx configuration's directives
    ),
    "14_production": (r"^\s+The `uvicorn\.workers` module is deprecated",),  # uvicorn's warning
    "09_realtime_chat": (
        r"^(lobby|garden) \d+ ",  # a room's history: room, seq, what was said
        r"^added a background task$",  # what the lesson's endpoint sends
        r"^said\s+\w+: ",  # the chat's messages, as the page's handlers see them
    ),
}
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
NOT_A_LABEL = re.compile(
    r"^\s*(?:(?:INFO|WARNING|ERROR|DEBUG|CRITICAL)\b"  # a log record
    r"|[\[{(<]"  # JSON, a list, a Python repr
    r"|[\w-]+: "  # an HTTP header, a program's "Name: message"
    r"|(?:GET|POST|HTTP/\d)\b"  # an HTTP request or status line
    r"|Traceback|File \""  # a traceback
    r"|\$ "  # a command
    r"|(?:[\w.-]+ v?\d[\w.+-]*(?:, |$))+$)"  # software versions: "uvicorn 0.55.0, h11 0.16"
)
DATA = re.compile(
    r"\S+://\S+|'[^']*'|\"[^\"]*\"|\{[^}]*\}|\[[^\]]*\]"
    r"|\b(?:[0-9a-f]{2} )+[0-9a-f]{2}\b"  # bytes in hex: "dd 56 bf c1" holds no words
)
PLAIN_WORD = re.compile(r"^[a-z]{2,}[,.:;!?]?$")


def english_labels(text: str, data: tuple[str, ...] = ()) -> list[str]:
    """The lines of ``text`` that are labels left in English.

    A label is what a cell prints to say what a value is ("the server saw:", "follows the
    rule"). A line is left alone when it holds Chinese, or is not a label at all: a log
    record, JSON or a Python repr, an HTTP header or a program's ``Name: message``, a
    request or status line, a traceback, a ``$ command``, software versions, or one of the
    lesson's ``data`` lines. Of a line showing an input and an answer (``input -> answer``,
    ``name <- message``) only the input is read: the answer is a program's. Addresses,
    quoted strings, bracketed data and bytes in hex aside, a line with two plain lowercase
    English words or more is an English label.
    """
    found = []
    for line in text.splitlines():
        if HAN.search(line) or NOT_A_LABEL.match(line):
            continue
        if any(re.search(pattern, line) for pattern in data):
            continue
        shown = DATA.sub(" ", re.split(r" -> | <- ", line)[0])
        if sum(bool(PLAIN_WORD.match(word)) for word in shown.split()) >= 2:
            found.append(line)
    return found


def test_the_label_rule_tells_labels_from_data() -> None:
    printed = (
        "a key of 12 bytes, not 16      400       101\n"
        "    default  answered 400      does NOT follow the rule\n"
        "server saw  : ['hello']\n"
        "缺少 Sec-WebSocket-Key          400       400\n"
        "    default  响应 400           符合规定\n"
        "ada   <- {'type': 'said', 'text': 'hello, grace'}\n"
        "hi          -> json_invalid: Invalid JSON: expected value\n"
        "Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\n"
        "INFO    uvicorn.error: connection open\n"
        "uvicorn 0.55.0, websockets 17.4, wsproto 1.3.2\n"
        "lobby 2 anyone there?\n"
        "PING dd 56 bf c1\n"
    )
    assert english_labels(printed, (r"^lobby \d",)) == [
        "a key of 12 bytes, not 16      400       101",
        "    default  answered 400      does NOT follow the rule",
        "server saw  : ['hello']",
    ]


_first_runs: dict[Path, NotebookNode] = {}
_workspaces: dict[Path, Path] = {}


def workspace_for(path: Path) -> Path:
    """The learner's workspace for ``path``'s edition: one per edition, for the whole run."""
    folder = path.parent
    if folder not in _workspaces:
        _workspaces[folder] = Path(tempfile.mkdtemp(prefix="ws-lessons-workspace-"))
        atexit.register(shutil.rmtree, _workspaces[folder], ignore_errors=True)
    return _workspaces[folder]


def text_of(
    cell: NotebookNode, *, streams: tuple[str, ...] = ("stdout", "stderr"), shown: bool = True
) -> str:
    """What a code cell printed on ``streams``, and, if ``shown``, its displayed ``text/plain``."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream" and output.name in streams:
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data") and shown:
            parts.append(output.get("data", {}).get("text/plain", "") + "\n")
    return "".join(parts)


def printed(notebook: NotebookNode) -> str:
    """Everything the code cells of an executed notebook showed as text, in order."""
    return "".join(text_of(cell) for cell in notebook.cells if cell.cell_type == "code")


def problems(notebook: NotebookNode, stem: str) -> list[str]:
    """What a learner would see go wrong in an executed notebook, one line each."""
    expected = [re.compile(line) for line in EXPECTED_STDERR["*"] + EXPECTED_STDERR.get(stem, ())]
    found = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        where = f"cell {index}"
        for output in cell.outputs:
            if output.output_type == "error":
                found.append(f"{where}: error output {output.ename}: {output.evalue}")
        for line in text_of(cell, streams=("stderr",), shown=False).splitlines():
            if line.strip() and not any(pattern.search(line) for pattern in expected):
                found.append(f"{where}: unexpected on stderr: {line}")
        shown = text_of(cell)
        if crashed := CHECK_CRASHED.search(shown):
            found.append(f"{where}: a check crashed: {shown[crashed.start() :][:300]}")
        if CHECK_CALL.search(cell.source) and not VERDICT.search(shown):
            found.append(f"{where}: calls a check that printed no verdict line")
        if os.environ.get("CI"):
            found += [
                f"{where}: skipped in CI: {line}"
                for line in shown.splitlines()
                if SKIPPED.search(line)
            ]
    return found


def shown_in_a_browser(path: Path) -> bool:
    """Whether the lesson's code shows the browser a page, a frame or HTML of its own."""
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    return path.name.startswith(ALWAYS_SHOWN) or bool(SHOWS_A_PAGE.search(code))


def behind_dead_proxies(environ: dict[str, str]) -> dict[str, str]:
    """``environ`` with :data:`DEAD_PROXIES` set and nothing exempted from them."""
    cleared = {"no_proxy", "NO_PROXY", *(name.upper() for name in DEAD_PROXIES)}
    return {k: v for k, v in environ.items() if k not in cleared} | DEAD_PROXIES


def execute(path: Path, runs: int, env: dict[str, str] | None = None) -> list[NotebookNode]:
    """Run a notebook ``runs`` times in one kernel (``env``: its environment, by default
    this process's); return a copy of it after each run."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    executed = []
    env = (env or dict(os.environ)) | {"WS_LESSONS_WORKSPACE": str(workspace_for(path))}
    with client.setup_kernel(env=env):
        for run in RUNS[:runs]:
            for index, cell in enumerate(notebook.cells):
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    pytest.fail(
                        f"{path.relative_to(FOLDER)}, run {run}, cell {index} failed:\n{error}"
                    )
            executed.append(copy.deepcopy(notebook))
    return executed


def first_run(stem: str) -> NotebookNode:
    """An English lesson after its first run in a fresh kernel: the notebook test's, if it
    ran in this process, or a run of its own (kept too)."""
    path = FOLDER / f"{stem}.ipynb"
    if path not in _first_runs:
        _first_runs[path] = execute(path, 1)[0]
    return _first_runs[path]


def test_there_are_lessons_and_twins() -> None:
    assert len(LESSONS) >= 2, "the course has no lessons to execute"
    assert [path.name for path in TWINS] == [path.name for path in LESSONS]


def test_every_key_result_and_expected_line_belongs_to_a_lesson() -> None:
    stems = {path.stem for path in LESSONS}
    assert set(KEY_RESULTS) <= stems, set(KEY_RESULTS) - stems
    assert set(EXPECTED_STDERR) - {"*"} <= stems, set(EXPECTED_STDERR) - stems


def executed_cell(source: str, *outputs: NotebookNode) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.outputs = list(outputs)
    return cell


def test_what_a_learner_would_see_go_wrong_is_found(monkeypatch: pytest.MonkeyPatch) -> None:
    out = nbformat.v4.new_output
    crashed = "Exercise 05.3 ❌ not yet: checking raised E: x\n"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        executed_cell("check_05_1(answer)", out("stream", text="no verdict line\n")),
        executed_cell("check_05_2(answer)", out("stream", text="练习 05.2 ✅ 通过：好\n")),
        executed_cell("1 / 0", out("error", ename="ZeroDivisionError", evalue="x", traceback=[])),
        executed_cell("", out("stream", name="stderr", text="DeprecationWarning: old\n")),
        executed_cell("check_05_3(answer)", out("stream", text=crashed)),
        executed_cell("", out("stream", text="(needs nginx) it would alternate\n")),
    ]
    monkeypatch.delenv("CI", raising=False)
    found = problems(notebook, "05_frames")
    assert [line.split(":")[0] for line in found] == [f"cell {n}" for n in (0, 2, 3, 4)], found
    monkeypatch.setenv("CI", "true")
    assert problems(notebook, "05_frames")[-1].startswith("cell 5: skipped in CI: (needs nginx)")
    monkeypatch.setitem(EXPECTED_STDERR, "05_frames", (r"^DeprecationWarning: old$",))
    assert not [line for line in problems(notebook, "05_frames") if "stderr" in line]


@pytest.mark.parametrize(
    "path",
    [pytest.param(path, marks=pytest.mark.xdist_group(path.stem)) for path in LESSONS],
    ids=[path.stem for path in LESSONS],
)
@pytest.mark.notebook
def test_notebook_runs_twice(path: Path) -> None:
    runs = execute(path, 2)
    _first_runs[path] = runs[0]
    for run, notebook in zip(RUNS, runs, strict=True):
        found = problems(notebook, path.stem)
        assert not found, f"{path.name}, run {run}:\n" + "\n".join(found)
        text = printed(notebook)
        if SKIPPED.search(text) and not os.environ.get("CI"):
            continue  # a program is missing here: the parts that need it showed no result
        missing = [fact for fact in KEY_RESULTS.get(path.stem, ()) if not re.search(fact, text)]
        assert not missing, f"{path.name}, run {run}: key results not shown: {missing}"


def check_twin(path: Path, notebook: NotebookNode) -> None:
    """A Chinese twin's run, behind :data:`DEAD_PROXIES`, read as a learner reads it: what
    :func:`problems` finds, the lesson's key results, checks and labels in Chinese."""
    where = f"zh/{path.name}"
    found = problems(notebook, path.stem)
    assert not found, f"{where}:\n" + "\n".join(found)
    text = printed(notebook)
    assert len(PROXY_NOTICE.findall(text)) == 1, f"{where}: no word of the proxy, or twice"
    if not SKIPPED.search(text) or os.environ.get("CI"):  # the same code: the same results
        missing = [fact for fact in KEY_RESULTS.get(path.stem, ()) if not re.search(fact, text)]
        assert not missing, f"{where}: key results not shown: {missing}"
    assert "练习 " in text, f"{where}: no check printed in Chinese"
    english = [line for line in text.splitlines() if line.startswith("Exercise ")]
    assert not english, f"{where}: checks printed in English: {english}"
    if path.stem in LABELS_IN_CHINESE:
        labels = english_labels(text, LABELS_IN_CHINESE[path.stem])
        assert not labels, f"{where}: labels printed in English:\n" + "\n".join(labels)


IN_JUPYTERLAB = [] if missing("Chromium") else [path for path in TWINS if shown_in_a_browser(path)]
"""The twins that run in JupyterLab instead of here (where Chromium is, as in CI)."""


@pytest.mark.parametrize(
    "path",
    [path for path in TWINS if path not in IN_JUPYTERLAB],
    ids=lambda path: f"zh/{path.stem}",
)
@pytest.mark.notebook
def test_chinese_twin_runs_and_speaks_chinese(path: Path) -> None:
    """The twin's code is the English lesson's, checked twice there: here it runs once."""
    (notebook,) = execute(path, 1, behind_dead_proxies(dict(os.environ)))
    check_twin(path, notebook)
