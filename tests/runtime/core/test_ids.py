import uuid

from runtime.core.ids import new_execution_id


def test_ids_are_uuid7_and_strictly_increasing_within_a_millisecond() -> None:
    ids = [new_execution_id() for _ in range(20_000)]  # many share a millisecond
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    parsed = uuid.UUID(ids[-1])
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
