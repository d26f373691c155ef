"""The per-platform tables of host/ that need no AstrBot: how a send's outcome is judged
(host/platform_truth.py) and how a target becomes a session (host/targets.py).

``host`` imports ``core`` relatively (as AstrBot loads the plugin: a package), so the repo
is mounted here as the package ``ft_plugin``; neither module imports AstrBot at run time.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def _plugin_module(name: str) -> types.ModuleType:
    if "ft_plugin" not in sys.modules:
        package = types.ModuleType("ft_plugin")
        package.__path__ = [str(REPO_ROOT)]
        sys.modules["ft_plugin"] = package
    return importlib.import_module(f"ft_plugin.{name}")


truth = _plugin_module("host.platform_truth")
witness = _plugin_module("host.http_witness")
targets = _plugin_module("host.targets")
Answer, HttpWitness = witness.Answer, witness.HttpWitness


def _seen(*answers: object, watched: bool = True) -> object:
    return HttpWitness(answers=list(answers), watched=watched)


def _verdict(adapter: str, seen: object | None) -> str:
    return truth.truth_for(adapter).verdict(seen).value


@pytest.mark.parametrize("adapter", ["aiocqhttp", "telegram", "slack", "lark"])
def test_an_adapter_that_raises_on_refusal_counts_a_quiet_send_as_delivered(adapter) -> None:
    assert _verdict(adapter, None) == "delivered"


@pytest.mark.parametrize("adapter", ["kook", "dingtalk", "mattermost", "webchat", "anything"])
def test_an_adapter_that_can_not_tell_is_recorded_unknown_never_delivered(adapter) -> None:
    assert _verdict(adapter, None) == "unknown"


@pytest.mark.parametrize(
    ("adapter", "path"),
    [
        ("satori", "/satori/v1/message.create"),
        ("misskey", "/api/chat/messages/create-to-user"),
        ("misskey", "/api/notes/create"),
        ("discord", "/api/v10/channels/42/messages"),
    ],
)
def test_a_watched_adapter_is_delivered_only_on_the_services_yes(adapter, path) -> None:
    assert _verdict(adapter, _seen(Answer("POST", path, 200))) == "delivered"
    with pytest.raises(truth.SendRefused) as server_error:
        _verdict(adapter, _seen(Answer("POST", path, 502)))
    assert server_error.value.transient
    with pytest.raises(truth.SendRefused) as refused:
        _verdict(adapter, _seen(Answer("POST", path, 403)))
    assert not refused.value.transient and "HTTP 403" in str(refused.value)
    with pytest.raises(truth.SendRefused) as network:
        _verdict(adapter, _seen(Answer("POST", path, error="ClientConnectorError: refused")))
    assert network.value.transient


def test_the_last_answer_counts_after_the_adapters_own_retries() -> None:
    path = "/api/chat/messages/create-to-user"
    seen = _seen(Answer("POST", path, 502), Answer("POST", path, 502), Answer("POST", path, 200))
    assert _verdict("misskey", seen) == "delivered"


def test_a_watched_adapter_that_sent_nothing_failed_as_its_last_request_did() -> None:
    lookup = "/api/v10/channels/42"  # Discord's channel lookup; no send followed
    with pytest.raises(truth.SendRefused) as missing:
        _verdict("discord", _seen(Answer("GET", lookup, 404)))
    assert not missing.value.transient and "GET /api/v10/channels/42 with HTTP 404" in str(
        missing.value
    )
    with pytest.raises(truth.SendRefused) as overloaded:
        _verdict("discord", _seen(Answer("GET", lookup, 503)))
    assert overloaded.value.transient
    with pytest.raises(truth.SendRefused) as silent:
        _verdict("misskey", _seen())  # e.g. an empty message the adapter skipped
    assert not silent.value.transient


def test_an_adapter_whose_session_could_not_be_watched_is_unknown() -> None:
    assert _verdict("satori", _seen(watched=False)) == "unknown"


@pytest.mark.parametrize(
    ("adapter", "to", "session"),
    [
        ("aiocqhttp", "group:123", "GroupMessage:123"),
        ("aiocqhttp", "user:123", "FriendMessage:123"),
        ("telegram", "-100123:topic:45", "GroupMessage:-100123#45"),
        ("telegram", "telegram:777", "FriendMessage:777"),
        ("lark", "oc_abc", "GroupMessage:oc_abc"),
        ("lark", "ou_abc", "FriendMessage:ou_abc"),
        ("discord", "user:42", "FriendMessage:user:42"),
        ("discord", "channel:42", "GroupMessage:42"),
        ("satori", "user:42", "FriendMessage:user:42"),
        ("satori", "private:42", "FriendMessage:private:42"),
        ("slack", "user:U42", "FriendMessage:U42"),
        ("slack", "C42", "GroupMessage:C42"),
        ("misskey", "42", "FriendMessage:chat%42"),
        ("misskey", "room:r1", "GroupMessage:room%r1"),
        ("misskey", "note:42", "OtherMessage:note%42"),
        ("kook", "FriendMessage:9", "FriendMessage:9"),
    ],
)
def test_each_platforms_target_forms_become_its_session(adapter, to, session) -> None:
    assert targets.session_of(adapter, to) == session


def test_a_bare_qq_number_is_refused_rather_than_guessed() -> None:
    with pytest.raises(Exception, match="group:123 or to=user:123"):
        targets.session_of("aiocqhttp", "123")


def test_a_misskey_note_thread_becomes_a_chat_message_to_its_author() -> None:
    assert targets.private_origin("mk:OtherMessage:note%42") == "mk:FriendMessage:chat%42"
    for session in ("mk:FriendMessage:chat%42", "mk:GroupMessage:room%1", "qq:GroupMessage:5"):
        assert targets.private_origin(session) == session
