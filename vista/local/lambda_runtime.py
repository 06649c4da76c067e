"""The Lambda runtime, in this process: a function's handler called with the event and a context
shaped as Lambda's (function name, ARN, memory, log group, remaining time), and what it prints sent
to functions.log, as Lambda sends a function's output to CloudWatch Logs.
"""

from __future__ import annotations

import functools
import io
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from typing import Any

REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "vista"
_invocation = threading.local()
_importing = threading.Lock()


@functools.cache  # the first invocation of a function prepares it; the others take it as it is
def handler_of(handler: str) -> Callable[..., Any]:
    """A function's handler (`module.attribute`), its module imported with every module it imports
    lazily (vista_app.lazy) loaded at once, one import at a time. Lambda runs one invocation at a time
    in an environment; local mode runs them in threads, and before CPython 3.12.3 a thread could find a
    lazily loaded module half-loaded while another loaded it (python/cpython#114763: "module
    'vista_app.figures' has no attribute 'leaderboard'")."""
    name, attribute = handler.rsplit(".", 1)
    with _importing:
        module = import_module(name)
        for lazy in [m for m in list(sys.modules.values()) if type(m).__name__ == "_LazyModule"]:
            getattr(lazy, "__name__")  # the first attribute read executes a lazy module  # noqa: B009
    return getattr(module, attribute)


def invoking() -> str | None:
    """The logical id of the function this thread is running, if any (whose role its AWS calls use)."""
    return getattr(_invocation, "function", None)


class FunctionOutput:
    """Where functions' output goes while a local cloud runs: functions.log, as Lambda sends it to
    CloudWatch Logs, and each whole line to `on_line` (CloudWatch's metric extraction)."""

    def __init__(self, path: Path) -> None:
        self.log = open(path, "a", buffering=1)  # noqa: SIM115 (closed by close())
        self.on_line: Callable[[str], None] | None = None
        self._partial = threading.local()

    def write(self, text: str) -> int:
        if self.on_line:
            lines = (getattr(self._partial, "text", "") + text).split("\n")
            self._partial.text = lines.pop()
            for line in lines:
                self.on_line(line)
        return self.log.write(text)

    def close(self) -> None:
        self.log.close()


class FunctionLogs(io.TextIOBase):
    """sys.stdout while functions run: what a function prints (Powertools' JSON logs, EMF metrics)
    goes to the cloud's FunctionOutput; anything else to the stream it wraps."""

    def __init__(self, terminal: Any, output: FunctionOutput) -> None:
        self.terminal, self.output = terminal, output

    def write(self, text: str) -> int:
        return (self.output if invoking() else self.terminal).write(text)

    def flush(self) -> None:
        self.terminal.flush()
        self.output.log.flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()


_output: FunctionOutput | None = None
_stdout = threading.Lock()


def capture_output(output: FunctionOutput | None) -> None:
    """Send functions' output to `output` (None: stop), sys.stdout wrapped once per stream."""
    global _output
    with _stdout:
        _output = output
        if output is None and isinstance(sys.stdout, FunctionLogs):
            sys.stdout = sys.stdout.terminal
    route_function_output()


def route_function_output() -> None:
    """Wrap whatever sys.stdout is now before a function prints into it: at each invocation, and by
    whoever swaps in a stream of its own while functions may be running (a test's capture), so that a
    function already running does not print into that stream."""
    with _stdout:
        current = sys.stdout
        if _output and not (isinstance(current, FunctionLogs) and current.output is _output):
            sys.stdout = FunctionLogs(current, _output)


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str
    invoked_function_arn: str
    log_group_name: str
    log_stream_name: str
    started: float

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.started + self.timeout_s - time.monotonic()) * 1000))


@dataclass
class Function:
    """One AWS::Serverless::Function: its handler, resolved against Globals."""

    name: str
    handler: str
    timeout: int
    memory: int
    # One execution environment: Lambda gives each invocation an environment of its own and an
    # environment runs one invocation at a time (the Lambda developer guide, "Lambda execution
    # environment"), so a handler's module state (Powertools' BatchProcessor, warm clients) is never
    # shared by two at once. Here the functions' modules live in one process: their invocations
    # take turns, where Lambda would start more environments.
    environment: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_template(cls, template: dict[str, Any], logical: str) -> Function:
        """The function as the template declares it, Globals filling what it leaves out, and
        Lambda's defaults (3 s, 128 MB) what neither sets."""
        globals_ = template.get("Globals", {}).get("Function", {})
        props = template["Resources"][logical]["Properties"]
        return cls(
            logical,
            props["Handler"],
            int(props.get("Timeout", globals_.get("Timeout", 3))),
            int(props.get("MemorySize", globals_.get("MemorySize", 128))),
        )

    def invoke(self, event: dict[str, Any]) -> Any:
        route_function_output()
        with self.environment:
            return self._invoke(event)

    def _invoke(self, event: dict[str, Any]) -> Any:
        handler = handler_of(self.handler)
        context = LambdaContext(
            function_name=f"{STACK}-{self.name}",
            memory_limit_in_mb=self.memory,
            timeout_s=self.timeout,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{STACK}-{self.name}",
            log_group_name=f"/aws/lambda/{STACK}-{self.name}",
            log_stream_name="local",
            started=time.monotonic(),
        )
        _invocation.function = self.name
        try:
            return handler(event, context)
        finally:
            _invocation.function = None
