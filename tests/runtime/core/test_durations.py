"""runtime.core.durations: `500ms`, `2s`, `1.5m`, `1h`, `1d` or a number of seconds."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from runtime.core.durations import DURATION_PATTERN, Duration, parse_duration

MESSAGE = "a duration is a number of seconds or a string like '500ms', '2s', '1m'"


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0.0),
        (5, 5.0),
        (2.5, 2.5),
        ("500ms", 0.5),
        ("2s", 2.0),
        ("2", 2.0),
        ("1.5m", 90.0),
        ("1h", 3600.0),
        ("7d", 604800.0),
        (" 250 ms ", 0.25),
        ("0ms", 0.0),
    ],
)
def test_parse_duration(value: object, seconds: float) -> None:
    result = parse_duration(value)
    assert result == pytest.approx(seconds)
    assert isinstance(result, float)


@pytest.mark.parametrize(
    "value", ["", "fast", "5 minutes", "1w", "-1s", "1.s", "ms", True, False, None, [1], "1e3"]
)
def test_invalid_durations(value: object) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == MESSAGE


@pytest.mark.parametrize("value", [-1, -0.5])
def test_negative_numbers_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match=r"^a duration cannot be negative$"):
        parse_duration(value)


class Model(BaseModel):
    wait: Duration = 1.0


def test_duration_field() -> None:
    assert Model.model_validate({"wait": "250ms"}).wait == 0.25
    assert Model.model_validate({}).wait == 1.0
    with pytest.raises(ValidationError, match="a duration cannot be negative"):
        Model.model_validate({"wait": -3})
    schema = Model.model_json_schema()["properties"]["wait"]
    assert "type" not in schema  # a `type: number` beside the anyOf would refuse "250ms"
    assert schema["anyOf"] == [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": DURATION_PATTERN},
    ]
    assert schema["default"] == 1.0
