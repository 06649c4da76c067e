"""The Lambda runtime, in this process: a function's handler called with the event and a context
shaped as Lambda's (function name, ARN, memory, log group, remaining time), and what it prints sent
to functions.log, as Lambda sends a function's output to CloudWatch Logs.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

REGION, ACCOUNT, STACK = "us-east-1", "123456789012", "vista"
_invocation = threading.local()


def invoking() -> str | None:
    """The logical id of the function this thread is running, if any (whose role its AWS calls use)."""
    return getattr(_invocation, "function", None)


class FunctionLogs(io.TextIOBase):
    """sys.stdout while the local cloud runs: what a function prints (Powertools' JSON logs, EMF
    metrics) goes to functions.log, as Lambda sends it to CloudWatch Logs; the rest to the terminal."""

    def __init__(self, terminal: Any, path: Path) -> None:
        self.terminal = terminal
        self.log = open(path, "a", buffering=1)  # noqa: SIM115 (closed by close())

    def write(self, text: str) -> int:
        return (self.log if invoking() else self.terminal).write(text)

    def flush(self) -> None:
        self.terminal.flush()
        self.log.flush()

    def isatty(self) -> bool:
        return self.terminal.isatty()

    def close(self) -> None:
        self.log.close()


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

    def invoke(self, event: dict[str, Any]) -> Any:
        module, attribute = self.handler.rsplit(".", 1)
        handler = getattr(import_module(module), attribute)
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
