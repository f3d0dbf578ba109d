"""The written protocol description and the code must agree."""

from pathlib import Path

from protocol import envelope, models
from protocol.errors import ErrorCode
from webapp.errors import STATUS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def test_every_operation_and_model_is_documented():
    for op, (request, reply) in models.OPERATIONS.items():
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{op}` |")), None)
        assert row is not None, f"operation {op} missing from docs/protocol.md"
        assert request.__name__ in row and reply.__name__ in row, row


def test_every_error_code_is_documented_with_its_status():
    for code in ErrorCode:
        assert f"| `{code.value}` | {STATUS[code]} |" in DOC, code


def test_the_documented_version_is_the_code_version():
    assert f'"v": "{envelope.VERSION}"' in DOC
