"""Conversation files: the three shapes detected from their fields, problems reported by line,
a file with nothing usable refused in one line."""

from __future__ import annotations

import json

import pytest

from lmstudio_app.core.data.conversations import detect_shape, load_conversations
from lmstudio_app.core.errors import UserError


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def _m(*turns):
    return {"messages": [{"role": r, "content": c} for r, c in turns]}


def test_messages_with_problems_reported_by_line(tmp_path):
    path = _jsonl(tmp_path / "chat.jsonl", [
        _m(("system", "Be brief."), ("user", "Hi"), ("assistant", "Hello.")),
        _m(("user", "Hi"), ("user", "Anyone?")),
        _m(("user", "Only a question")),
        "{not json",
        _m(("assistant", "I speak first"), ("user", "ok")),
        _m(("user", "Hi"), ("wizard", "Hello")),
        _m(("user", "Q"), ("assistant", "A"), ("user", "Q2"), ("assistant", "A2")),
    ])
    convs, report = load_conversations(path)
    assert [c.line for c in convs] == [1, 7]
    assert convs[1].messages[-1] == ("assistant", "A2")
    reasons = dict(report.skipped)
    assert reasons[2].startswith("roles out of order: turn 2 is user")
    assert reasons[3] == "no assistant turn"
    assert "not valid JSON" in reasons[4]
    assert reasons[5].startswith("roles out of order: turn 1 is assistant")
    assert "unknown role 'wizard'" in reasons[6]
    summary = report.summary()
    assert "2 of 7 rows used, 5 skipped" in summary and "7 turns" in summary


def test_sharegpt_and_alpaca_shapes(tmp_path):
    share = _jsonl(tmp_path / "share.jsonl", [{"conversations": [
        {"from": "system", "value": "S"}, {"from": "human", "value": "Q"},
        {"from": "gpt", "value": "A"}]}])
    [conv], _ = load_conversations(share)
    assert conv.messages == (("system", "S"), ("user", "Q"), ("assistant", "A"))
    alpaca = tmp_path / "alpaca.csv"
    alpaca.write_text("instruction,input,output\nTranslate,bonjour,hello\nSay hi,,hi\n",
                      encoding="utf-8")
    convs, report = load_conversations(alpaca)
    assert convs[0].messages == (("user", "Translate\n\nbonjour"), ("assistant", "hello"))
    assert convs[1].messages == (("user", "Say hi"), ("assistant", "hi"))
    assert report.read_as


def test_a_csv_messages_column_holds_json(tmp_path):
    path = tmp_path / "m.csv"
    cell = json.dumps([{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}])
    path.write_text("messages\n" + json.dumps(cell) .replace('\\"', '""') + "\n", encoding="utf-8")
    [conv], _ = load_conversations(path)
    assert conv.messages == (("user", "Q"), ("assistant", "A"))


def test_nothing_usable_is_one_line(tmp_path):
    path = _jsonl(tmp_path / "bad.jsonl", [_m(("user", "Q"))] * 3)
    with pytest.raises(UserError, match=r"no usable conversations \(3 read.*line 1, no "
                                        "assistant turn"):
        load_conversations(path)
    other = _jsonl(tmp_path / "other.jsonl", [{"text": "x", "label": "y"}])
    with pytest.raises(UserError, match="no conversation fields"):
        load_conversations(other)


def test_detect_shape():
    assert detect_shape(["messages", "id"]) == "messages"
    assert detect_shape(["conversations"]) == "conversations"
    assert detect_shape(["instruction", "input", "output"]) == "alpaca"
    assert detect_shape(["text", "label"]) is None
